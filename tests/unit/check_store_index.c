/*
 * check_store_index.c: unit tests of the lookup index in front of
 * suppressions.db (libsuppress/store_index.c, siphash.c) on a real
 * Berkeley DB environment: SipHash against its reference vector, the
 * index kept exact by every write (put, update, delete, purge), and the
 * upgrade of a store written before the index existed, the slots
 * (lookup-slots.db) filled from an index of the release before them and
 * a bucket too full for its slot, and purge's compaction.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "siphash.h"
#include "store.h"
#include "store_bdb.h"
#include "store_record.h"
#include "store_fixture.h"

#define KEEP_ALL (&(struct store_retention) { -1, -1, -1 })

static void address_of(int i, char *buf, size_t len)
{
    snprintf(buf, len, "user%d@d%d.example.com", i, i % 97);
}

static void put_entry(STORE *st, STORE_TXN *txn, const char *addr, time_t now, time_t expires)
{
    STORE_ENTRY e;
    SUP_ERR err;

    fill_entry(&e, addr, STORE_REASON_HARD_BOUNCE, now, expires);
    ck_assert_msg(store_put(st, txn, &e, &err) == 0, "put %s: %s", addr, err.text);
}

static void put_many(STORE *st, int n, time_t now)
{
    STORE_TXN *txn;
    SUP_ERR err;
    char addr[ADDR_MAX + 1];

    ck_assert(store_begin(st, &txn, &err) == 0);
    for (int i = 0; i < n; i++) {
        address_of(i, addr, sizeof(addr));
        put_entry(st, txn, addr, now, 0);
    }
    ck_assert_msg(store_commit(txn, &err) == 0, "%s", err.text);
}

/* What the index alone says of addr: 0 absent, 1 maybe. */
static int probe(STORE *st, const char *addr)
{
    SUP_ERR err;
    int rc = store_index_probe(st, NULL, addr, &err);

    ck_assert_msg(rc >= 0, "probe %s: %s", addr, rc == -1 ? err.text : "panic");
    return rc;
}

static int lookup(STORE *st, const char *addr, time_t now)
{
    SUP_ERR err;
    int rc = store_lookup(st, NULL, addr, now, NULL, &err);

    ck_assert_msg(rc >= 0, "lookup %s: %s", addr, err.text);
    return rc;
}

/* Every one of the n addresses is suppressed and found by the index; none
 * of n others is, and the index answers them alone. */
static void assert_index_exact(STORE *st, int n, time_t now)
{
    char addr[ADDR_MAX + 1];

    ck_assert(st->index.ready);
    ck_assert(st->index.slots);
    for (int i = 0; i < n; i++) {
        address_of(i, addr, sizeof(addr));
        ck_assert_msg(probe(st, addr) == 1, "%s not in the index", addr);
        ck_assert_int_eq(lookup(st, addr, now), 1);
        /* A 16-bit slot fingerprint matching by chance is about n / 2^36
         * per address here: any "maybe" for an address never added means
         * a wrong index. */
        address_of(i + n, addr, sizeof(addr));
        ck_assert_msg(probe(st, addr) == 0, "%s, never added, is in the index", addr);
        ck_assert_int_eq(lookup(st, addr, now), 0);
    }
}

START_TEST(test_siphash_reference_vector)
{
    unsigned char key[SIPHASH_KEY_BYTES], msg[64];

    for (int i = 0; i < SIPHASH_KEY_BYTES; i++)
        key[i] = (unsigned char) i;
    for (int i = 0; i < 64; i++)
        msg[i] = (unsigned char) i;
    /* The paper's appendix A: 15 bytes 00..0e under key 00..0f. */
    ck_assert_uint_eq(siphash24(key, msg, 15), UINT64_C(0xa129ca6149be45e5));
    /* and the first and a full-block entry of the reference vectors.h */
    ck_assert_uint_eq(siphash24(key, msg, 0), UINT64_C(0x726fdb47dd0e0e31));
    ck_assert_uint_eq(siphash24(key, msg, 8), UINT64_C(0x93f5f5799a932462));
}
END_TEST

START_TEST(test_index_follows_every_write)
{
    STORE *st = open_store(STORE_CREATE);
    time_t now = time(NULL);
    struct store_purge_result pr;
    SUP_ERR err;
    char addr[ADDR_MAX + 1];

    put_many(st, 500, now);
    assert_index_exact(st, 500, now);

    /* An update is no second copy: one delete takes the address out. */
    address_of(7, addr, sizeof(addr));
    put_entry(st, NULL, addr, now, 0);
    ck_assert_int_eq(store_delete(st, NULL, addr, &err), 1);
    ck_assert_int_eq(probe(st, addr), 0);
    ck_assert_int_eq(lookup(st, addr, now), 0);
    ck_assert_int_eq(store_delete(st, NULL, addr, &err), 0);

    /* Expired: not suppressed at once (the index only says "maybe"), and
     * purge takes it out of the index with the entry. */
    address_of(8, addr, sizeof(addr));
    put_entry(st, NULL, addr, now - 100, now - 1);
    ck_assert_int_eq(probe(st, addr), 1);
    ck_assert_int_eq(lookup(st, addr, now), 0);
    ck_assert_msg(store_purge(st, now, KEEP_ALL, &pr, &err) == 0, "%s", err.text);
    ck_assert_uint_eq(pr.expired_entries, 1);
    ck_assert_int_eq(probe(st, addr), 0);

    /* An aborted add leaves nothing in the index. */
    {
        STORE_TXN *txn;

        address_of(9999, addr, sizeof(addr));
        ck_assert(store_begin(st, &txn, &err) == 0);
        put_entry(st, txn, addr, now, 0);
        store_abort(txn);
        ck_assert_int_eq(probe(st, addr), 0);
    }

    /* Put back what was taken out: exact again over all 500. */
    address_of(7, addr, sizeof(addr));
    put_entry(st, NULL, addr, now, 0);
    address_of(8, addr, sizeof(addr));
    put_entry(st, NULL, addr, now, 0);
    assert_index_exact(st, 500, now);
    close_store(st);

    /* Another handle (another process's view) reads the same index. */
    st = open_store(STORE_RDONLY);
    assert_index_exact(st, 500, now);
    close_store(st);
}
END_TEST

/* The entry that address i of an old store holds. */
static void old_entry(int i, time_t now, STORE_ENTRY *e)
{
    char addr[ADDR_MAX + 1];

    address_of(i, addr, sizeof(addr));
    fill_entry(e, addr, STORE_REASON_HARD_BOUNCE, now, 0);
    snprintf(e->response, sizeof(e->response), "550 5.1.1 <%s>: Recipient address rejected", addr);
}

/*
 * A store from before the index: suppressions.db with version 1 records,
 * the other databases, no lookup.db.  Made here the way the previous
 * release left it: records written raw in version 1, and lookup.db taken
 * out with Berkeley DB's own dbremove (so the log stays consistent).
 */
static void make_store_without_index(int n, time_t now)
{
    STORE *st = open_store(STORE_CREATE);
    DB_ENV *dbenv = st->env->dbenv;
    DB *db = st->db[DBI_ENTRIES];
    unsigned char buf[STORE_RECORD_MAX];
    char path[4096];
    STORE_ENTRY e;
    SUP_ERR err;
    size_t len;
    DBT key, data;
    int ret;

    for (int i = 0; i < n; i++) {
        old_entry(i, now, &e);
        ck_assert_int_eq(store_record_encode_entry_v1(&e, buf, sizeof(buf), &len, &err), 0);
        memset(&key, 0, sizeof(key));
        memset(&data, 0, sizeof(data));
        key.data = e.address;
        key.size = (u_int32_t) strlen(e.address);
        data.data = buf;
        data.size = (u_int32_t) len;
        ret = db->put(db, NULL, &key, &data, DB_AUTO_COMMIT);
        ck_assert_msg(ret == 0, "put: %s", db_strerror(ret));
    }
    /* a store of the release before had neither lookup.db nor its slots */
    for (int dbi = DBI_INDEX; dbi <= DBI_SLOTS; dbi++) {
        ck_assert_int_eq(st->db[dbi]->close(st->db[dbi], 0), 0);
        st->db[dbi] = NULL;
        ret = dbenv->dbremove(dbenv, NULL, store_db_files[dbi], NULL, DB_AUTO_COMMIT);
        ck_assert_msg(ret == 0, "dbremove: %s", db_strerror(ret));
    }
    close_store(st);
    snprintf(path, sizeof(path), "%s/lookup.db", store_dir);
    ck_assert_int_eq(access(path, F_OK), -1);
}

START_TEST(test_upgrade_builds_the_index)
{
    /* More than one build batch (2000 entries a transaction). */
    const int n = 4500;
    time_t now = time(NULL);
    char path[4096];
    STORE *st;

    make_store_without_index(n, now);

    /* A read-only handle on the old store: no index, lookups still right. */
    st = open_store(STORE_RDONLY);
    ck_assert(!st->index.ready);
    ck_assert_int_eq(lookup(st, "user1@d1.example.com", now), 1);
    ck_assert_int_eq(lookup(st, "user1@d1.example.net", now), 0);
    close_store(st);

    /* The first writer builds it; everything is found, nothing else; the
     * records are version 2 now, and say what they said. */
    st = open_store(0);
    assert_index_exact(st, n, now);
    for (int i = 0; i < n; i += 97) {
        STORE_ENTRY want, got;
        unsigned char kbuf[KEY_MAX], buf[STORE_RECORD_MAX];
        DBT key, data;
        SUP_ERR err;

        old_entry(i, now, &want);
        ck_assert_int_eq(store_get(st, NULL, want.address, &got, &err), 1);
        assert_entries_equal(&want, &got);
        dbt_key(&key, kbuf, want.address);
        dbt_out(&data, buf, sizeof(buf));
        ck_assert_int_eq(st->db[DBI_ENTRIES]->get(st->db[DBI_ENTRIES], NULL, &key, &data, 0), 0);
        ck_assert_int_eq(buf[0], STORE_ENTRY_VERSION);
    }
    close_store(st);
    snprintf(path, sizeof(path), "%s/lookup.db", store_dir);
    ck_assert_int_eq(access(path, F_OK), 0);

    /* And from then on every handle uses it. */
    st = open_store(STORE_RDONLY);
    assert_index_exact(st, n, now);
    close_store(st);
}
END_TEST

/* Two writers opening an old store at once share the build: the index
 * ends exact, no address indexed twice (a second copy would survive its
 * delete). */
START_TEST(test_upgrade_by_two_writers_at_once)
{
    const int n = 9000;
    time_t now = time(NULL);
    char addr[ADDR_MAX + 1];
    pid_t pids[2];
    STORE *st;
    SUP_ERR err;

    make_store_without_index(n, now);
    for (int k = 0; k < 2; k++) {
        if ((pids[k] = fork()) == 0) {
            STORE *child;

            if (store_open(store_dir, 0, &child, &err) < 0) {
                fprintf(stderr, "child %d: %s\n", k, err.text);
                _exit(1);
            }
            _exit(child->index.ready && store_close(child, &err) == 0 ? 0 : 2);
        }
        ck_assert_int_gt(pids[k], 0);
    }
    for (int k = 0; k < 2; k++) {
        int status;

        ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", k);
    }
    st = open_store(0);
    assert_index_exact(st, n, now);
    for (int i = 0; i < n; i += 3) {
        address_of(i, addr, sizeof(addr));
        ck_assert_int_eq(store_delete(st, NULL, addr, &err), 1);
        ck_assert_msg(probe(st, addr) == 0, "%s indexed twice", addr);
    }
    close_store(st);
}
END_TEST

START_TEST(test_upgrade_of_an_empty_store)
{
    time_t now = time(NULL);
    STORE *st;

    make_store_without_index(0, now);
    st = open_store(0);
    ck_assert(st->index.ready);
    put_entry(st, NULL, "a@b.example", now, 0);
    ck_assert_int_eq(probe(st, "a@b.example"), 1);
    ck_assert_int_eq(probe(st, "c@b.example"), 0);
    close_store(st);
}
END_TEST

/* The kind byte of the slot of addr's bucket (0: never written). */
static int slot_kind_of(STORE *st, const char *addr)
{
    unsigned char slot[SLOT_BYTES];
    db_recno_t recno = (db_recno_t) (siphash24(st->index.key, addr, strlen(addr))
                                     >> (64 - st->index.bits)) + 1;
    DBT key, data;
    int ret;

    memset(&key, 0, sizeof(key));
    key.data = &recno;
    key.size = key.ulen = sizeof(recno);
    key.flags = DB_DBT_USERMEM;
    dbt_out(&data, slot, sizeof(slot));
    ret = st->db[DBI_SLOTS]->get(st->db[DBI_SLOTS], NULL, &key, &data, 0);
    if (ret == DB_NOTFOUND || ret == DB_KEYEMPTY)
        return 0;
    ck_assert_msg(ret == 0, "slot get: %s", db_strerror(ret));
    return slot[0];
}

/* Set the index's state byte, the way the release before slots left it. */
static void set_index_state(STORE *st, unsigned char state)
{
    unsigned char kbuf[KEY_MAX], buf[64 + KEY_MAX];
    DB *db = st->db[DBI_INDEX];
    DBT key, data;

    dbt_key(&key, kbuf, "index-meta");
    dbt_out(&data, buf, sizeof(buf));
    ck_assert_int_eq(db->get(db, NULL, &key, &data, 0), 0);
    buf[2] = state;
    dbt_key(&key, kbuf, "index-meta");
    dbt_in(&data, buf, data.size);
    ck_assert_int_eq(db->put(db, NULL, &key, &data, DB_AUTO_COMMIT), 0);
}

START_TEST(test_slots_filled_from_an_older_index)
{
    /* More than two fill batches (2000 buckets a transaction). */
    const int n = 4500;
    time_t now = time(NULL);
    DB_ENV *dbenv;
    char path[4096];
    STORE *st = open_store(STORE_CREATE);
    int ret;

    put_many(st, n, now);
    /* What the release before left: lookup.db built (state 1), no slots. */
    set_index_state(st, 1);
    dbenv = st->env->dbenv;
    ck_assert_int_eq(st->db[DBI_SLOTS]->close(st->db[DBI_SLOTS], 0), 0);
    st->db[DBI_SLOTS] = NULL;
    ret = dbenv->dbremove(dbenv, NULL, store_db_files[DBI_SLOTS], NULL, DB_AUTO_COMMIT);
    ck_assert_msg(ret == 0, "dbremove: %s", db_strerror(ret));
    close_store(st);
    snprintf(path, sizeof(path), "%s/lookup-slots.db", store_dir);
    ck_assert_int_eq(access(path, F_OK), -1);

    /* Read-only: lookup.db answers, as in the release before. */
    st = open_store(STORE_RDONLY);
    ck_assert(st->index.ready);
    ck_assert(!st->index.slots);
    ck_assert_int_eq(lookup(st, "user1@d1.example.com", now), 1);
    ck_assert_int_eq(lookup(st, "user1@d1.example.net", now), 0);
    close_store(st);

    /* The first writer fills the slots from lookup.db. */
    st = open_store(0);
    assert_index_exact(st, n, now);
    close_store(st);
    ck_assert_int_eq(access(path, F_OK), 0);
    st = open_store(STORE_RDONLY);
    assert_index_exact(st, n, now);
    close_store(st);
}
END_TEST

START_TEST(test_a_full_bucket_overflows_its_slot)
{
    enum { IN_BUCKET = SLOT_FPS + 6 };
    STORE *st = open_store(STORE_CREATE);
    time_t now = time(NULL);
    char addrs[IN_BUCKET + 1][64];
    uint64_t target = 0;
    SUP_ERR err;
    int found = 0;

    ck_assert(st->index.slots);
    /* Addresses that share one bucket, found by trying (the key is the
     * store's own): about 2^20 tries each. */
    for (unsigned long i = 0; found < IN_BUCKET + 1; i++) {
        char a[64];
        uint64_t b;

        snprintf(a, sizeof(a), "o%lu@full.example", i);
        b = siphash24(st->index.key, a, strlen(a)) >> (64 - st->index.bits);
        if (found == 0)
            target = b;
        if (b == target)
            snprintf(addrs[found++], sizeof(addrs[0]), "%s", a);
    }
    for (int i = 0; i < SLOT_FPS; i++)
        put_entry(st, NULL, addrs[i], now, 0);
    ck_assert_int_eq(slot_kind_of(st, addrs[0]), SLOT_LIST);     /* still fits */
    for (int i = SLOT_FPS; i < IN_BUCKET; i++)
        put_entry(st, NULL, addrs[i], now, 0);
    ck_assert_int_eq(slot_kind_of(st, addrs[0]), SLOT_MORE);     /* lookup.db answers */
    for (int i = 0; i < IN_BUCKET; i++) {
        ck_assert_int_eq(probe(st, addrs[i]), 1);
        ck_assert_int_eq(lookup(st, addrs[i], now), 1);
    }
    /* the one never added, in the same bucket */
    ck_assert_int_eq(probe(st, addrs[IN_BUCKET]), 0);
    ck_assert_int_eq(lookup(st, addrs[IN_BUCKET], now), 0);
    /* Back under the slot's size: the slot holds the list again. */
    for (int i = 0; i < IN_BUCKET - SLOT_FPS; i++)
        ck_assert_int_eq(store_delete(st, NULL, addrs[i], &err), 1);
    ck_assert_int_eq(slot_kind_of(st, addrs[0]), SLOT_LIST);
    for (int i = 0; i < IN_BUCKET; i++)
        ck_assert_int_eq(lookup(st, addrs[i], now), i >= IN_BUCKET - SLOT_FPS);
    close_store(st);
}
END_TEST

/* Purge gives the pages of what went back to the file system. */
START_TEST(test_purge_compacts)
{
    STORE *st = open_store(STORE_CREATE);
    time_t now = time(NULL);
    struct store_purge_result pr;
    struct stat before, after;
    char addr[ADDR_MAX + 1], path[4096];
    SUP_ERR err;
    STORE_TXN *txn;

    put_many(st, 20000, now);
    ck_assert(store_checkpoint(st, &err) == 0);
    snprintf(path, sizeof(path), "%s/suppressions.db", store_dir);
    ck_assert_int_eq(stat(path, &before), 0);
    ck_assert(store_begin(st, &txn, &err) == 0);
    for (int i = 0; i < 20000; i++) {
        if (i % 10 == 0)
            continue;           /* one in ten stays, spread over every page */
        address_of(i, addr, sizeof(addr));
        ck_assert_int_eq(store_delete(st, txn, addr, &err), 1);
    }
    ck_assert(store_commit(txn, &err) == 0);
    ck_assert_msg(store_purge(st, now, KEEP_ALL, &pr, &err) == 0, "%s", err.text);
    ck_assert_uint_gt(pr.pages_freed, 0);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_msg(after.st_size * 3 < before.st_size, "suppressions.db %lld bytes, was %lld",
                  (long long) after.st_size, (long long) before.st_size);
    /* and what stayed is all there */
    for (int i = 0; i < 20000; i++) {
        address_of(i, addr, sizeof(addr));
        ck_assert_int_eq(lookup(st, addr, now), i % 10 == 0);
    }
    close_store(st);
}
END_TEST

static Suite *index_suite(void)
{
    Suite *s = suite_create("store_index");
    TCase *tc = tcase_create("index");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_siphash_reference_vector);
    tcase_add_test(tc, test_index_follows_every_write);
    tcase_add_test(tc, test_upgrade_builds_the_index);
    tcase_add_test(tc, test_upgrade_of_an_empty_store);
    tcase_add_test(tc, test_upgrade_by_two_writers_at_once);
    tcase_add_test(tc, test_slots_filled_from_an_older_index);
    tcase_add_test(tc, test_a_full_bucket_overflows_its_slot);
    tcase_add_test(tc, test_purge_compacts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(index_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
