/*
 * check_store_ledger.c: unit tests of the ledger of sent mail
 * (store_ledger_add, store_ledger_check; libsuppress/store_ledger.c) on a
 * real Berkeley DB environment in a fresh temporary directory per test:
 * the round trip, merging a resent Message-ID, the recipient cap, bad
 * input, transactions, purge, read-only handles (also on a store older
 * than ledger.db), concurrent adders, and damaged records (the decoder on
 * its own, and garbage written into ledger.db through the store's own
 * Berkeley DB handle).
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_bdb.h"
#include "store_ledger.h"
#include "store_fixture.h"

/* Only the ledger ages; events and seen messages are kept. */
#define KEEP_LEDGER(secs) (&(struct store_retention) { -1, -1, (secs) })

static void add_msg(STORE *st, STORE_TXN *txn, const char *id, time_t when, const char *sender,
                    const char *const *rcpts, size_t n)
{
    STORE_LEDGER_MSG m = { id, when, sender, rcpts, n, NULL };
    SUP_ERR err;

    ck_assert_msg(store_ledger_add(st, txn, &m, &err) == 0, "add %s: %s", id, err.text);
    ck_assert_int_eq(err.cls, SUP_OK);
    ck_assert_str_eq(err.text, "");
}

/* The answer for (id, rcpt); *sent gets -1 when the message is unknown. */
static enum store_ledger_answer check(STORE *st, STORE_TXN *txn, const char *id,
                                      const char *rcpt, time_t *sent)
{
    enum store_ledger_answer a;
    SUP_ERR err;

    *sent = -1;
    ck_assert_msg(store_ledger_check(st, txn, id, rcpt, &a, sent, &err) == 0, "check %s %s: %s",
                  id, rcpt, err.text);
    return a;
}

/* The stored record of id, decoded (the test's own copy of the bytes). */
struct raw {
    unsigned char buf[400 * 1024];
    struct ledger_record rec;
};

static void read_raw(STORE *st, const char *id, struct raw *r)
{
    DB *db = st->db[DBI_LEDGER];
    unsigned char kbuf[KEY_MAX];
    DBT key, data;
    SUP_ERR err;

    dbt_key(&key, kbuf, id);        /* DB->get writes the key back */
    dbt_out(&data, r->buf, sizeof(r->buf));
    ck_assert_int_eq(db->get(db, NULL, &key, &data, 0), 0);
    ck_assert_msg(store_ledger_decode(r->buf, data.size, &r->rec, &err) == 0, "%s", err.text);
}

/* Write value under id as it is: what a damaged file would hold. */
static void write_raw(STORE *st, const char *id, const void *value, size_t len)
{
    DB *db = st->db[DBI_LEDGER];
    DBT key, data;

    dbt_in(&key, id, strlen(id));
    dbt_in(&data, value, len);
    ck_assert_int_eq(db->put(db, NULL, &key, &data, 0), 0);   /* DB_AUTO_COMMIT handle */
}

/* ---- add and check -------------------------------------------------- */

START_TEST(test_add_check_roundtrip)
{
    STORE *st = open_store(STORE_CREATE);
    static const char *const rcpts[] = { "a@example.com", "b@example.org" };
    enum store_ledger_answer a;
    time_t sent;
    SUP_ERR err;

    add_msg(st, NULL, "1234.5678@mx.example", 1000, "news@example.net", rcpts, 2);
    ck_assert_int_eq(check(st, NULL, "1234.5678@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    ck_assert_int_eq(sent, 1000);
    ck_assert_int_eq(check(st, NULL, "1234.5678@mx.example", "b@example.org", &sent),
                     STORE_LEDGER_RECIPIENT);
    /* sent may be NULL */
    ck_assert_int_eq(store_ledger_check(st, NULL, "1234.5678@mx.example", "a@example.com", &a,
                                        NULL, &err), 0);
    ck_assert_int_eq(a, STORE_LEDGER_RECIPIENT);
    /* the null sender */
    add_msg(st, NULL, "dsn@mx.example", 5, "", rcpts, 1);
    add_msg(st, NULL, "dsn2@mx.example", 5, NULL, rcpts, 1);
    ck_assert_int_eq(check(st, NULL, "dsn2@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    /* and it is on disk */
    close_store(st);
    st = open_store(0);
    ck_assert_int_eq(check(st, NULL, "1234.5678@mx.example", "b@example.org", &sent),
                     STORE_LEDGER_RECIPIENT);
    close_store(st);
}
END_TEST

START_TEST(test_unknown_message)
{
    STORE *st = open_store(STORE_CREATE);
    static const char *const rcpts[] = { "a@example.com" };
    time_t sent;

    ck_assert_int_eq(check(st, NULL, "never@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    add_msg(st, NULL, "known@mx.example", 1000, "s@example.net", rcpts, 1);
    ck_assert_int_eq(check(st, NULL, "never@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    ck_assert_int_eq(sent, -1);         /* left alone */
    /* exact: a prefix, a longer id or other case is another message */
    ck_assert_int_eq(check(st, NULL, "known@mx.exampl", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    ck_assert_int_eq(check(st, NULL, "known@mx.example.", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    ck_assert_int_eq(check(st, NULL, "Known@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    close_store(st);
}
END_TEST

START_TEST(test_not_recipient)
{
    STORE *st = open_store(STORE_CREATE);
    static const char *const rcpts[] = { "ab@example.com", "c@example.org" };
    time_t sent;

    add_msg(st, NULL, "m@mx.example", 1000, "s@example.net", rcpts, 2);
    ck_assert_int_eq(check(st, NULL, "m@mx.example", "x@example.com", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    ck_assert_int_eq(sent, 1000);       /* the message is known */
    /* exact comparison: no prefix, suffix or case match */
    ck_assert_int_eq(check(st, NULL, "m@mx.example", "b@example.com", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    ck_assert_int_eq(check(st, NULL, "m@mx.example", "ab@example.co", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    ck_assert_int_eq(check(st, NULL, "m@mx.example", "c@example.org.", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    ck_assert_int_eq(check(st, NULL, "m@mx.example", "AB@example.com", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    /* the sender is no recipient */
    ck_assert_int_eq(check(st, NULL, "m@mx.example", "s@example.net", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    close_store(st);
}
END_TEST

START_TEST(test_resend_merges)
{
    STORE *st = open_store(STORE_CREATE);
    static const char *const first[] = { "a@example.com", "b@example.com" };
    static const char *const second[] = { "b@example.com", "c@example.com", "c@example.com" };
    static const char *const third[] = { "d@example.com" };
    struct raw *r = malloc(sizeof(*r));
    time_t sent;

    add_msg(st, NULL, "same@mx.example", 2000, "first@example.net", first, 2);
    /* an earlier time (a queue replayed out of order) moves the time back */
    add_msg(st, NULL, "same@mx.example", 1000, "second@example.net", second, 3);
    ck_assert_int_eq(check(st, NULL, "same@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    ck_assert_int_eq(sent, 1000);
    ck_assert_int_eq(check(st, NULL, "same@mx.example", "c@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    /* a later one keeps the earliest */
    add_msg(st, NULL, "same@mx.example", 3000, "third@example.net", third, 1);
    ck_assert_int_eq(check(st, NULL, "same@mx.example", "d@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    ck_assert_int_eq(sent, 1000);
    /* a resend to the same recipients changes nothing */
    add_msg(st, NULL, "same@mx.example", 4000, "x@example.net", first, 2);

    /* each recipient once, in the order first recorded; the first sender */
    read_raw(st, "same@mx.example", r);
    ck_assert_int_eq(r->rec.when, 1000);
    ck_assert_str_eq(r->rec.sender, "first@example.net");
    ck_assert_uint_eq(r->rec.rcpt_count, 4);
    ck_assert_uint_eq(r->rec.rcpts_len, 4 * sizeof("a@example.com"));
    ck_assert(memcmp(r->rec.rcpts, "a@example.com\0b@example.com\0c@example.com\0d@example.com",
                     r->rec.rcpts_len) == 0);
    free(r);
    close_store(st);
}
END_TEST

/* n recipients "r<base+i>@example.com" in storage the caller frees. */
static const char **make_rcpts(int base, int n)
{
    const char **v = calloc((size_t) n, sizeof(*v));

    for (int i = 0; i < n; i++) {
        char *s;

        ck_assert(asprintf(&s, "r%d@example.com", base + i) > 0);
        v[i] = s;
    }
    return v;
}

static void free_rcpts(const char **v, int n)
{
    for (int i = 0; i < n; i++)
        free((char *) v[i]);
    free(v);
}

START_TEST(test_recipient_cap)
{
    STORE *st = open_store(STORE_CREATE);
    const char **many = make_rcpts(0, STORE_LEDGER_RCPTS_MAX + 5);
    const char *more[] = { "r0@example.com", "late1@example.com", "late2@example.com" };
    STORE_LEDGER_MSG m = { "big@mx.example", 1000, "s@example.net", many,
                           STORE_LEDGER_RCPTS_MAX, NULL };
    struct raw *r = malloc(sizeof(*r));
    time_t sent;
    SUP_ERR err;

    /* exactly the cap: nothing dropped, nothing said */
    ck_assert_msg(store_ledger_add(st, NULL, &m, &err) == 0, "%s", err.text);
    ck_assert_int_eq(err.cls, SUP_OK);
    ck_assert_str_eq(err.text, "");
    /* one more Message-ID's worth: a duplicate is no drop, new ones are */
    m.rcpts = more;
    m.rcpt_count = 3;
    ck_assert_msg(store_ledger_add(st, NULL, &m, &err) == 0, "%s", err.text);
    ck_assert_int_eq(err.cls, SUP_OK);
    ck_assert_msg(strstr(err.text, "big@mx.example: 2 recipients not recorded") != NULL, "%s",
                  err.text);
    ck_assert_int_eq(check(st, NULL, "big@mx.example", "r999@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    ck_assert_int_eq(check(st, NULL, "big@mx.example", "late1@example.com", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    read_raw(st, "big@mx.example", r);
    ck_assert_uint_eq(r->rec.rcpt_count, STORE_LEDGER_RCPTS_MAX);

    /* over the cap in one add: the first ones are kept */
    m.message_id = "bigger@mx.example";
    m.rcpts = many;
    m.rcpt_count = STORE_LEDGER_RCPTS_MAX + 5;
    ck_assert_msg(store_ledger_add(st, NULL, &m, &err) == 0, "%s", err.text);
    ck_assert_msg(strstr(err.text, "5 recipients not recorded") != NULL, "%s", err.text);
    ck_assert_int_eq(check(st, NULL, "bigger@mx.example", "r999@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    ck_assert_int_eq(check(st, NULL, "bigger@mx.example", "r1000@example.com", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    /* and err is cleared by the next add that drops nothing */
    add_msg(st, NULL, "small@mx.example", 1, "", more, 1);
    free(r);
    free_rcpts(many, STORE_LEDGER_RCPTS_MAX + 5);
    close_store(st);
}
END_TEST

START_TEST(test_bad_input)
{
    STORE *st = open_store(STORE_CREATE);
    static const char *const rcpts[] = { "a@example.com" };
    const char *bad_rcpts[] = { "a@example.com", "" };
    char id[STORE_MESSAGE_ID_MAX + 2], addr[ADDR_MAX + 2];
    STORE_LEDGER_MSG m = { "", 1, "s@example.net", rcpts, 1, NULL };
    enum store_ledger_answer a;
    time_t sent;
    SUP_ERR err;

    /* Message-ID: empty, absent, longest, one too long */
    ck_assert_int_eq(store_ledger_add(st, NULL, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "empty Message-ID"));
    m.message_id = NULL;
    ck_assert_int_eq(store_ledger_add(st, NULL, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    memset(id, 'i', sizeof(id));
    id[STORE_MESSAGE_ID_MAX] = '\0';
    m.message_id = id;
    add_msg(st, NULL, id, 1, "s@example.net", rcpts, 1);
    ck_assert_int_eq(check(st, NULL, id, "a@example.com", &sent), STORE_LEDGER_RECIPIENT);
    id[STORE_MESSAGE_ID_MAX] = 'i';
    id[STORE_MESSAGE_ID_MAX + 1] = '\0';
    ck_assert_int_eq(store_ledger_add(st, NULL, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "longer than 250"));
    ck_assert_int_eq(store_ledger_check(st, NULL, id, "a@example.com", &a, &sent, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_int_eq(store_ledger_check(st, NULL, "", "a@example.com", &a, &sent, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_int_eq(store_ledger_check(st, NULL, NULL, "a@example.com", &a, &sent, &err), -1);

    /* recipients: none, an empty one, one too long; the sender too long */
    m.message_id = "m@mx.example";
    m.rcpt_count = 0;
    ck_assert_int_eq(store_ledger_add(st, NULL, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "no recipients"));
    m.rcpts = bad_rcpts;
    m.rcpt_count = 2;
    ck_assert_int_eq(store_ledger_add(st, NULL, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "m@mx.example: recipient 2"));
    memset(addr, 'a', sizeof(addr));
    addr[ADDR_MAX + 1] = '\0';
    bad_rcpts[1] = addr;
    ck_assert_int_eq(store_ledger_add(st, NULL, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    m.rcpts = rcpts;
    m.rcpt_count = 1;
    m.sender = addr;
    ck_assert_int_eq(store_ledger_add(st, NULL, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "sender longer"));
    /* nothing of it was stored */
    ck_assert_int_eq(check(st, NULL, "m@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    /* the longest address is fine, as sender and recipient */
    addr[ADDR_MAX] = '\0';
    bad_rcpts[1] = addr;
    add_msg(st, NULL, "m@mx.example", 1, addr, bad_rcpts, 2);
    ck_assert_int_eq(check(st, NULL, "m@mx.example", addr, &sent), STORE_LEDGER_RECIPIENT);
    /* check: an empty or too long recipient */
    ck_assert_int_eq(store_ledger_check(st, NULL, "m@mx.example", "", &a, &sent, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_int_eq(store_ledger_check(st, NULL, "m@mx.example", NULL, &a, &sent, &err), -1);
    ck_assert_int_eq(store_ledger_add(st, NULL, NULL, &err), -1);
    close_store(st);
}
END_TEST

/* ---- transactions, purge, handles ----------------------------------- */

START_TEST(test_txn_abort_commit)
{
    STORE *st = open_store(STORE_CREATE | STORE_NOSYNC);
    static const char *const rcpts[] = { "a@example.com", "b@example.com" };
    STORE_LEDGER_MSG bad = { "", 1, "", rcpts, 1, NULL };
    STORE_TXN *txn;
    char id[64];
    time_t sent;
    SUP_ERR err;

    /* a batch, as the milter's writer does; aborted: nothing stays */
    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    for (int i = 0; i < 64; i++) {
        snprintf(id, sizeof(id), "%d.1700000000@mx.example", i);
        add_msg(st, txn, id, 1700000000, "s@example.net", rcpts, 1 + (size_t) (i % 2));
    }
    /* visible inside the transaction, also to a merge in it */
    add_msg(st, txn, "0.1700000000@mx.example", 1, "s@example.net", rcpts + 1, 1);
    ck_assert_int_eq(check(st, txn, "0.1700000000@mx.example", "b@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    ck_assert_int_eq(sent, 1);
    /* bad input inside the transaction leaves it usable */
    ck_assert_int_eq(store_ledger_add(st, txn, &bad, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    add_msg(st, txn, "after-bad@mx.example", 1, "", rcpts, 1);
    store_abort(txn);
    for (int i = 0; i < 64; i++) {
        snprintf(id, sizeof(id), "%d.1700000000@mx.example", i);
        ck_assert_int_eq(check(st, NULL, id, "a@example.com", &sent),
                         STORE_LEDGER_UNKNOWN_MESSAGE);
    }
    ck_assert_int_eq(check(st, NULL, "after-bad@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);

    /* committed: all there */
    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    for (int i = 0; i < 64; i++) {
        snprintf(id, sizeof(id), "%d.1700000000@mx.example", i);
        add_msg(st, txn, id, 1700000000, "s@example.net", rcpts, 1 + (size_t) (i % 2));
    }
    ck_assert_int_eq(store_commit(txn, &err), 0);
    ck_assert_int_eq(check(st, NULL, "7.1700000000@mx.example", "b@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    ck_assert_int_eq(check(st, NULL, "8.1700000000@mx.example", "b@example.com", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    ck_assert_int_eq(sent, 1700000000);
    close_store(st);
}
END_TEST

START_TEST(test_purge)
{
    STORE *st = open_store(STORE_CREATE);
    static const char *const rcpts[] = { "a@example.com" };
    struct store_purge_result res;
    STORE_TXN *txn;
    char id[64];
    time_t sent;
    SUP_ERR err;
    const time_t now = 100000;

    /* more than one purge transaction holds; old and fresh interleaved in key order */
    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    for (int i = 0; i < 2500; i++) {
        snprintf(id, sizeof(id), "%d@mx.example", i);
        add_msg(st, txn, id, now - 10000 + i * 4, "s@example.net", rcpts, 1);
    }
    ck_assert_int_eq(store_commit(txn, &err), 0);
    /* a message first sent long ago and resent lately ages from the first time */
    add_msg(st, NULL, "resent@mx.example", now - 20000, "", rcpts, 1);
    add_msg(st, NULL, "resent@mx.example", now, "", rcpts, 1);
    /* never (negative retention) keeps everything */
    ck_assert_msg(store_purge(st, now, KEEP_LEDGER(-1), &res, &err) == 0, "%s", err.text);
    ck_assert_uint_eq(res.old_ledger, 0);
    /* older than now - 9000: i * 4 < 1000, i < 250, and the resent one */
    ck_assert_msg(store_purge(st, now, KEEP_LEDGER(9000), &res, &err) == 0, "%s", err.text);
    ck_assert_uint_eq(res.old_ledger, 251);
    ck_assert_uint_eq(res.old_events, 0);
    ck_assert_uint_eq(res.old_seen, 0);
    ck_assert_uint_eq(res.expired_entries, 0);
    ck_assert_int_eq(check(st, NULL, "249@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    ck_assert_int_eq(check(st, NULL, "0@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    ck_assert_int_eq(check(st, NULL, "resent@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    ck_assert_int_eq(check(st, NULL, "250@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    ck_assert_int_eq(sent, now - 9000);
    ck_assert_int_eq(check(st, NULL, "2499@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    /* a second purge finds nothing more */
    ck_assert_msg(store_purge(st, now, KEEP_LEDGER(9000), &res, &err) == 0, "%s", err.text);
    ck_assert_uint_eq(res.old_ledger, 0);
    close_store(st);
}
END_TEST

START_TEST(test_rdonly)
{
    STORE *w = open_store(STORE_CREATE), *r;
    static const char *const rcpts[] = { "a@example.com" };
    STORE_LEDGER_MSG m = { "ro@mx.example", 10, "", rcpts, 1, NULL };
    char path[4096];
    struct stat sb;
    time_t sent;
    SUP_ERR err;

    /* ledger.db is made with the others, group-writable */
    snprintf(path, sizeof(path), "%s/ledger.db", store_dir);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0660, 0660);
    add_msg(w, NULL, "ro@mx.example", 10, "", rcpts, 1);
    r = open_store(STORE_RDONLY);
    ck_assert_int_eq(check(r, NULL, "ro@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    ck_assert_int_eq(sent, 10);
    ck_assert_int_eq(check(r, NULL, "ro@mx.example", "b@example.com", &sent),
                     STORE_LEDGER_NOT_RECIPIENT);
    ck_assert_int_eq(store_ledger_add(r, NULL, &m, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "read-only"));
    ck_assert_int_eq(store_purge(r, 100, KEEP_LEDGER(1), NULL, &err), -1);
    close_store(r);
    close_store(w);

    /* a store written before the ledger existed: read-only handles work
     * (the ledger is empty) until a writer creates ledger.db */
    ck_assert_int_eq(unlink(path), 0);
    r = open_store(STORE_RDONLY);
    ck_assert_int_eq(access(path, F_OK), -1);
    ck_assert_int_eq(check(r, NULL, "ro@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    close_store(r);
    w = open_store(0);
    ck_assert_int_eq(access(path, F_OK), 0);
    add_msg(w, NULL, "new@mx.example", 10, "", rcpts, 1);
    r = open_store(STORE_RDONLY);
    ck_assert_int_eq(check(r, NULL, "new@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);
    close_store(r);
    close_store(w);
}
END_TEST

struct adder {
    STORE *st;
    int base;
    int failed;
};

/* 200 adds of one recipient each to one Message-ID, auto-commit. */
static void *adder_main(void *p)
{
    struct adder *a = p;
    char rcpt[64];
    const char *rcpts[] = { rcpt };
    STORE_LEDGER_MSG m = { "shared@mx.example", 0, "", rcpts, 1, NULL };
    SUP_ERR err;

    for (int i = 0; i < 200; i++) {
        snprintf(rcpt, sizeof(rcpt), "t%d@example.com", a->base + i);
        m.when = 1000 + a->base + i;
        if (store_ledger_add(a->st, NULL, &m, &err) < 0)
            a->failed++;
    }
    return NULL;
}

START_TEST(test_concurrent_adds)
{
    STORE *st = open_store(STORE_CREATE | STORE_NOSYNC);
    struct adder a[2] = { { st, 0, 0 }, { st, 10000, 0 } };
    pthread_t t[2];
    struct raw *r = malloc(sizeof(*r));

    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, adder_main, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
    ck_assert_int_eq(a[0].failed + a[1].failed, 0);
    /* DB_RMW: no add lost another's recipients */
    read_raw(st, "shared@mx.example", r);
    ck_assert_uint_eq(r->rec.rcpt_count, 400);
    ck_assert_int_eq(r->rec.when, 1000);
    free(r);
    close_store(st);
}
END_TEST

/* ---- damaged records ------------------------------------------------ */

/* A record built by hand: version, time, then the bytes given. */
static size_t make_record(unsigned char *buf, int version, uint64_t when, const void *rest,
                          size_t len)
{
    buf[0] = (unsigned char) version;
    put_be64(buf + 1, when);
    memcpy(buf + STORE_LEDGER_HEADER, rest, len);
    return STORE_LEDGER_HEADER + len;
}

static void assert_damaged(const unsigned char *buf, size_t len, const char *why)
{
    struct ledger_record rec;
    SUP_ERR err;

    ck_assert_int_eq(store_ledger_decode(buf, len, &rec, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_IO);
    ck_assert_msg(strstr(err.text, "damaged record") != NULL && strstr(err.text, why) != NULL,
                  "want \"%s\": %s", why, err.text);
}

START_TEST(test_decode)
{
    static unsigned char buf[STORE_LEDGER_HEADER + 400 * 1024], big[400 * 1024];
    struct ledger_record rec;
    size_t len, n;
    SUP_ERR err;

    len = make_record(buf, 1, (uint64_t) -5, "s@x\0a@x\0bb@y", 13);
    ck_assert_int_eq(store_ledger_decode(buf, len, &rec, &err), 0);
    ck_assert_int_eq(rec.when, -5);
    ck_assert_str_eq(rec.sender, "s@x");
    ck_assert_uint_eq(rec.rcpt_count, 2);
    ck_assert_uint_eq(rec.rcpts_len, 9);
    ck_assert_str_eq(rec.rcpts, "a@x");
    len = make_record(buf, 1, 7, "\0a@x", 5);           /* the null sender */
    ck_assert_int_eq(store_ledger_decode(buf, len, &rec, &err), 0);
    ck_assert_str_eq(rec.sender, "");

    assert_damaged(buf, 0, "0 bytes");
    assert_damaged(buf, STORE_LEDGER_HEADER, "9 bytes");
    len = make_record(buf, 2, 7, "s\0a\0", 4);
    assert_damaged(buf, len, "no recipient");      /* version 2: "a" is the tenant */
    len = make_record(buf, 3, 7, "s\0a\0", 4);
    assert_damaged(buf, len, "version 3");
    len = make_record(buf, 0, 7, "s\0a\0", 4);
    assert_damaged(buf, len, "version 0");
    len = make_record(buf, 1, 7, "s\0a", 3);
    assert_damaged(buf, len, "without its NUL");
    len = make_record(buf, 1, 7, "sender", 6);
    assert_damaged(buf, len, "sender without its NUL");
    len = make_record(buf, 1, 7, "s\0", 2);
    assert_damaged(buf, len, "no recipient");
    len = make_record(buf, 1, 7, "s\0a\0\0b\0", 7);
    assert_damaged(buf, len, "empty recipient");
    memset(big, 'x', ADDR_MAX + 1);
    big[ADDR_MAX + 1] = '\0';
    big[ADDR_MAX + 2] = 'a';
    big[ADDR_MAX + 3] = '\0';
    len = make_record(buf, 1, 7, big, ADDR_MAX + 4);
    assert_damaged(buf, len, "sender longer");
    big[0] = '\0';                                      /* "", then ADDR_MAX + 1 x's */
    memset(big + 1, 'x', ADDR_MAX + 1);
    big[ADDR_MAX + 2] = '\0';
    len = make_record(buf, 1, 7, big, ADDR_MAX + 3);
    assert_damaged(buf, len, "recipient longer");
    for (n = 0; n <= STORE_LEDGER_RCPTS_MAX; n++) {     /* one recipient too many */
        big[1 + 2 * n] = 'r';
        big[2 + 2 * n] = '\0';
    }
    len = make_record(buf, 1, 7, big, 1 + 2 * n);
    assert_damaged(buf, len, "more recipients");
    len = make_record(buf, 1, 7, big, 1 + 2 * (n - 1)); /* exactly the cap */
    ck_assert_int_eq(store_ledger_decode(buf, len, &rec, &err), 0);
    ck_assert_uint_eq(rec.rcpt_count, STORE_LEDGER_RCPTS_MAX);
}
END_TEST

START_TEST(test_damaged_in_store)
{
    STORE *st = open_store(STORE_CREATE);
    static const char *const rcpts[] = { "a@example.com" };
    unsigned char buf[64];
    STORE_LEDGER_MSG m = { "bad@mx.example", 1, "", rcpts, 1, NULL };
    struct store_purge_result res;
    enum store_ledger_answer a;
    time_t sent;
    SUP_ERR err;
    size_t len;

    write_raw(st, "bad@mx.example", "\x01garbage", 8);
    ck_assert_int_eq(store_ledger_check(st, NULL, "bad@mx.example", "a@example.com", &a, &sent,
                                        &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_IO);
    ck_assert_msg(strstr(err.text, "ledger.db: Message-ID bad@mx.example: damaged record")
                  != NULL, "%s", err.text);
    ck_assert_ptr_nonnull(strstr(err.text, store_dir));
    /* an add does not build on it */
    ck_assert_int_eq(store_ledger_add(st, NULL, &m, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.text, "ledger.db: Message-ID bad@mx.example: damaged"));
    /* other messages are fine */
    add_msg(st, NULL, "good@mx.example", 1, "", rcpts, 1);
    ck_assert_int_eq(check(st, NULL, "good@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_RECIPIENT);

    /* purge: an old record with a readable header goes even with a damaged
     * body; one of another version, or too short for a time, stays; purge
     * does not fail on either */
    len = make_record(buf, 1, 1, "s\0\0", 3);
    write_raw(st, "old-damaged@mx.example", buf, len);
    len = make_record(buf, 7, 1, "?", 1);
    write_raw(st, "other-version@mx.example", buf, len);
    ck_assert_msg(store_purge(st, 100000, KEEP_LEDGER(10), &res, &err) == 0, "%s", err.text);
    ck_assert_uint_eq(res.old_ledger, 2);           /* good@ and old-damaged@ */
    ck_assert_int_eq(check(st, NULL, "old-damaged@mx.example", "a@example.com", &sent),
                     STORE_LEDGER_UNKNOWN_MESSAGE);
    ck_assert_int_eq(store_ledger_check(st, NULL, "other-version@mx.example", "a@example.com",
                                        &a, &sent, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "version 7"));
    ck_assert_int_eq(store_ledger_check(st, NULL, "bad@mx.example", "a@example.com", &a, &sent,
                                        &err), -1);
    close_store(st);
}
END_TEST

static Suite *ledger_suite(void)
{
    Suite *s = suite_create("store_ledger");
    TCase *tc;

    tc = tcase_create("record");
    tcase_add_test(tc, test_decode);
    suite_add_tcase(s, tc);

    tc = tcase_create("ledger");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_add_check_roundtrip);
    tcase_add_test(tc, test_unknown_message);
    tcase_add_test(tc, test_not_recipient);
    tcase_add_test(tc, test_resend_merges);
    tcase_add_test(tc, test_recipient_cap);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_txn_abort_commit);
    tcase_add_test(tc, test_purge);
    tcase_add_test(tc, test_rdonly);
    tcase_add_test(tc, test_concurrent_adds);
    tcase_add_test(tc, test_damaged_in_store);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ledger_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
