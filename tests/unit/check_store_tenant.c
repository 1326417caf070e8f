/*
 * check_store_tenant.c: unit tests of the tenants' scopes of the store
 * (libsuppress/store_scope.c, store_entries.c, store_index.c) on a real
 * Berkeley DB environment: the key encoding (the global scope's keys are
 * the plain addresses, a tenant's can be no address), tenant names, one
 * tenant's suppression refusing for it alone and a global one for all,
 * the lookup index answering both scopes from one bucket, iteration and
 * purge of scoped entries, tenant counters and the tenant of an event.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "store.h"
#include "store_bdb.h"
#include "store_record.h"
#include "store_fixture.h"

#define KEEP_ALL (&(struct store_retention) { -1, -1, -1 })

static const char ADDR[] = "jane@example.net";

static int lookup_t(STORE *st, const char *tenant, const char *addr, time_t now,
                    STORE_ENTRY *out)
{
    SUP_ERR err;
    int rc = store_lookup_tenant(st, NULL, tenant, addr, now, out, &err);

    ck_assert_msg(rc >= 0, "lookup %s/%s: %s", tenant ? tenant : "-", addr, err.text);
    return rc;
}

static void put_in(STORE *st, const char *tenant, const char *addr, enum store_reason reason,
                   time_t now, time_t expires)
{
    STORE_ENTRY e;
    SUP_ERR err;

    fill_entry(&e, addr, reason, now, expires);
    ck_assert_msg(store_put_in(st, NULL, tenant, &e, &err) == 0, "put %s: %s", addr, err.text);
}

START_TEST(test_global_key_is_the_address)
{
    char key[SCOPE_KEY_MAX];

    ck_assert_uint_eq(store_scope_key(key, NULL, ADDR), strlen(ADDR));
    ck_assert_str_eq(key, ADDR);
    ck_assert_uint_eq(store_scope_key(key, "", ADDR), strlen(ADDR));
    ck_assert_str_eq(key, ADDR);
}
END_TEST

START_TEST(test_tenant_key_is_no_address)
{
    char key[SCOPE_KEY_MAX], norm[ADDR_MAX + 1];
    const unsigned char *addr, *tenant;
    size_t alen, tlen, len;
    SUP_ERR err;

    len = store_scope_key(key, "acme", ADDR);
    ck_assert_uint_eq(len, strlen(ADDR) + 6);
    ck_assert_int_eq(key[0], SCOPE_MARK);
    ck_assert_int_eq(memcmp(key + 1, "acme\001", 5), 0);
    ck_assert_int_eq(store_scope_split((unsigned char *) key, len, &addr, &alen, &tenant,
                                       &tlen), 0);
    ck_assert_uint_eq(tlen, 4);
    ck_assert_int_eq(memcmp(tenant, "acme", 4), 0);
    ck_assert_uint_eq(alen, strlen(ADDR));
    ck_assert_int_eq(memcmp(addr, ADDR, alen), 0);
    /* No address normalizes to a scoped key. */
    ck_assert_int_eq(addr_normalize(key, norm, sizeof(norm), &err), -1);
    /* Malformed scoped keys are refused. */
    ck_assert_int_eq(store_scope_split((const unsigned char *) "\001acme", 5, &addr, &alen,
                                       &tenant, &tlen), -1);
    ck_assert_int_eq(store_scope_split((const unsigned char *) "\001\001x@y", 5, &addr, &alen,
                                       &tenant, &tlen), -1);
    ck_assert_int_eq(store_scope_split((const unsigned char *) "\001acme\001", 6, &addr, &alen,
                                       &tenant, &tlen), -1);
}
END_TEST

START_TEST(test_tenant_names)
{
    char longname[STORE_TENANT_MAX + 1];
    SUP_ERR err;

    ck_assert_int_eq(store_tenant_check("acme", &err), 0);
    ck_assert_int_eq(store_tenant_check("news@customer-a.example", &err), 0);
    ck_assert_int_eq(store_tenant_check("", &err), -1);
    ck_assert_int_eq(store_tenant_check("a b", &err), -1);
    ck_assert_int_eq(store_tenant_check("a\001b", &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    memset(longname, 'x', STORE_TENANT_MAX);
    longname[STORE_TENANT_MAX] = '\0';
    ck_assert_int_eq(store_tenant_check(longname, &err), -1);
    longname[STORE_TENANT_MAX - 1] = '\0';
    ck_assert_int_eq(store_tenant_check(longname, &err), 0);
}
END_TEST

START_TEST(test_tenant_scope_refuses_for_its_tenant_only)
{
    time_t now = time(NULL);
    STORE *st = open_store(STORE_CREATE);
    STORE_ENTRY e;
    SUP_ERR err;

    put_in(st, "acme", ADDR, STORE_REASON_COMPLAINT, now, 0);
    ck_assert_int_eq(lookup_t(st, "acme", ADDR, now, &e), 1);
    ck_assert_str_eq(e.tenant, "acme");
    ck_assert_str_eq(e.address, ADDR);
    ck_assert_int_eq(e.reason, STORE_REASON_COMPLAINT);
    ck_assert_int_eq(lookup_t(st, "globex", ADDR, now, &e), 0);
    ck_assert_int_eq(lookup_t(st, NULL, ADDR, now, &e), 0);
    ck_assert_int_eq(store_lookup(st, NULL, ADDR, now, &e, &err), 0);
    ck_assert_int_eq(store_get(st, NULL, ADDR, &e, &err), 0);
    ck_assert_int_eq(store_get_in(st, NULL, "acme", ADDR, &e, &err), 1);

    /* A hard bounce, global, refuses every tenant, and answers first. */
    put_in(st, NULL, ADDR, STORE_REASON_HARD_BOUNCE, now, now + 3600);
    ck_assert_int_eq(lookup_t(st, "globex", ADDR, now, &e), 1);
    ck_assert_str_eq(e.tenant, "");
    ck_assert_int_eq(lookup_t(st, "acme", ADDR, now, &e), 1);
    ck_assert_int_eq(e.reason, STORE_REASON_HARD_BOUNCE);
    /* Once it expired, the tenant's own suppression still refuses. */
    ck_assert_int_eq(lookup_t(st, "acme", ADDR, now + 7200, &e), 1);
    ck_assert_str_eq(e.tenant, "acme");
    ck_assert_int_eq(lookup_t(st, "globex", ADDR, now + 7200, &e), 0);

    ck_assert_int_eq(store_delete_in(st, NULL, "acme", ADDR, &err), 1);
    ck_assert_int_eq(store_delete_in(st, NULL, "acme", ADDR, &err), 0);
    ck_assert_int_eq(lookup_t(st, "acme", ADDR, now + 7200, &e), 0);
    ck_assert_int_eq(lookup_t(st, "acme", ADDR, now, &e), 1);
    ck_assert_str_eq(e.tenant, "");
    ck_assert_int_eq(store_put_in(st, NULL, "a b", &e, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    close_store(st);
}
END_TEST

/* One bucket answers both scopes: the probe says which may be there. */
START_TEST(test_index_answers_both_scopes)
{
    time_t now = time(NULL);
    STORE *st = open_store(STORE_CREATE);
    char key[SCOPE_KEY_MAX], addr[64];
    SUP_ERR err;

    ck_assert(st->index.ready);
    store_scope_key(key, "acme", ADDR);
    ck_assert_int_eq(store_index_probe2(st, NULL, ADDR, key, &err), 0);
    put_in(st, "acme", ADDR, STORE_REASON_COMPLAINT, now, 0);
    ck_assert_int_eq(store_index_probe2(st, NULL, ADDR, key, &err), 2);
    ck_assert_int_eq(store_index_probe(st, NULL, ADDR, &err), 0);
    put_in(st, NULL, ADDR, STORE_REASON_HARD_BOUNCE, now, 0);
    ck_assert_int_eq(store_index_probe2(st, NULL, ADDR, key, &err), 3);
    store_scope_key(key, "globex", ADDR);
    ck_assert_int_eq(store_index_probe2(st, NULL, ADDR, key, &err), 1);
    /* Many other tenants' and addresses' misses are answered by the index
     * alone (a chance fingerprint match is 1 in 2^32). */
    for (int i = 0; i < 200; i++) {
        snprintf(addr, sizeof(addr), "u%d@example.org", i);
        put_in(st, "acme", addr, STORE_REASON_UNSUBSCRIBE, now, 0);
    }
    for (int i = 0; i < 200; i++) {
        snprintf(addr, sizeof(addr), "u%d@example.org", i);
        store_scope_key(key, "globex", addr);
        ck_assert_int_eq(store_index_probe2(st, NULL, addr, key, &err), 0);
        store_scope_key(key, "acme", addr);
        ck_assert_int_eq(store_index_probe2(st, NULL, addr, key, &err), 2);
    }
    ck_assert_int_eq(store_delete_in(st, NULL, "acme", ADDR, &err), 1);
    store_scope_key(key, "acme", ADDR);
    ck_assert_int_eq(store_index_probe2(st, NULL, ADDR, key, &err), 1);
    close_store(st);
}
END_TEST

struct seen {
    int global, acme;
};

static int note_entry(const STORE_ENTRY *e, void *ctx)
{
    struct seen *s = ctx;

    ck_assert_str_eq(e->address, ADDR);
    if (e->tenant[0] == '\0')
        s->global++;
    else if (strcmp(e->tenant, "acme") == 0)
        s->acme++;
    else
        ck_abort_msg("unexpected tenant %s", e->tenant);
    return 0;
}

START_TEST(test_iterate_and_purge_scoped_entries)
{
    time_t now = time(NULL);
    STORE *st = open_store(STORE_CREATE);
    struct store_purge_result res;
    struct event_list events = { .n = 0 };
    struct seen seen = { 0, 0 };
    SUP_ERR err;

    put_in(st, NULL, ADDR, STORE_REASON_HARD_BOUNCE, now - 100, 0);
    put_in(st, "acme", ADDR, STORE_REASON_UNSUBSCRIBE, now - 100, now - 10);
    ck_assert_int_eq(store_iterate(st, note_entry, &seen, &err), 0);
    ck_assert_int_eq(seen.global, 1);
    ck_assert_int_eq(seen.acme, 1);
    ck_assert_int_eq(store_purge(st, now, KEEP_ALL, &res, &err), 0);
    ck_assert_uint_eq(res.expired_entries, 1);
    ck_assert_int_eq(store_get_in(st, NULL, "acme", ADDR, NULL, &err), 0);
    ck_assert_int_eq(store_get(st, NULL, ADDR, NULL, &err), 1);
    ck_assert_int_eq(store_events(st, NULL, ADDR, collect_event, &events, &err), 0);
    ck_assert_int_eq(events.n, 1);
    ck_assert_int_eq(events.ev[0].type, STORE_EV_EXPIRED);
    ck_assert_str_eq(events.ev[0].tenant, "acme");
    close_store(st);
}
END_TEST

/* A lookup.db built again (removed, as suppressctl verify allows) files
 * the tenants' keys in their addresses' buckets too. */
START_TEST(test_index_rebuilt_over_scoped_keys)
{
    time_t now = time(NULL);
    STORE *st = open_store(STORE_CREATE);
    DB_ENV *dbenv = st->env->dbenv;
    char key[SCOPE_KEY_MAX];
    SUP_ERR err;
    int ret;

    put_in(st, "acme", ADDR, STORE_REASON_COMPLAINT, now, 0);
    put_in(st, NULL, "other@example.net", STORE_REASON_HARD_BOUNCE, now, 0);
    /* a store of the release before had neither lookup.db nor its slots */
    for (int dbi = DBI_INDEX; dbi <= DBI_SLOTS; dbi++) {
        ck_assert_int_eq(st->db[dbi]->close(st->db[dbi], 0), 0);
        st->db[dbi] = NULL;
        ret = dbenv->dbremove(dbenv, NULL, store_db_files[dbi], NULL, DB_AUTO_COMMIT);
        ck_assert_msg(ret == 0, "dbremove: %s", db_strerror(ret));
    }
    close_store(st);

    st = open_store(0);
    ck_assert(st->index.ready);
    store_scope_key(key, "acme", ADDR);
    ck_assert_int_eq(store_index_probe2(st, NULL, ADDR, key, &err), 2);
    ck_assert_int_eq(store_index_probe(st, NULL, "other@example.net", &err), 1);
    ck_assert_int_eq(lookup_t(st, "acme", ADDR, now + 1, NULL), 1);
    ck_assert_int_eq(lookup_t(st, "globex", ADDR, now + 1, NULL), 0);
    close_store(st);
}
END_TEST

START_TEST(test_event_tenant_round_trip)
{
    STORE_EVENT in, out;
    unsigned char buf[STORE_RECORD_MAX];
    size_t len;
    SUP_ERR err;

    fill_event(&in, ADDR, STORE_EV_COMPLAINT, 1000, "report");
    store_copy_text(in.tenant, sizeof(in.tenant), "acme");
    ck_assert_int_eq(store_record_encode_event(&in, buf, sizeof(buf), &len, &err), 0);
    memset(&out, 0x55, sizeof(out));
    strcpy(out.address, ADDR);
    out.when = 1000;
    ck_assert_int_eq(store_record_decode_event(buf, len, &out, &err), 0);
    assert_events_equal(&in, &out);
    /* An event without one (every event before tenants) reads as none. */
    in.tenant[0] = '\0';
    ck_assert_int_eq(store_record_encode_event(&in, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_eq(store_record_decode_event(buf, len, &out, &err), 0);
    ck_assert_str_eq(out.tenant, "");
}
END_TEST

struct ctr_seen {
    uint64_t global_rejected, acme_rejected;
};

static int note_counter(const char *day, const char *name, uint64_t value, void *ctx)
{
    struct ctr_seen *s = ctx;
    char tenant[STORE_TENANT_MAX];
    const char *base;

    (void) day;
    store_counter_split(name, tenant, sizeof(tenant), &base);
    if (strcmp(base, STORE_CTR_REJECTED) == 0 && tenant[0] == '\0')
        s->global_rejected += value;
    else if (strcmp(base, STORE_CTR_REJECTED) == 0 && strcmp(tenant, "acme/x") == 0)
        s->acme_rejected += value;
    return 0;
}

START_TEST(test_tenant_counters)
{
    STORE *st = open_store(STORE_CREATE);
    struct ctr_seen seen = { 0, 0 };
    char name[STORE_COUNTER_NAME_MAX + 1], tenant[STORE_TENANT_MAX];
    const char *base;
    SUP_ERR err;

    ck_assert_int_eq(store_counter_name(name, sizeof(name), NULL, "rejected", &err), 0);
    ck_assert_str_eq(name, "rejected");
    ck_assert_int_eq(store_counter_name(name, sizeof(name), "acme/x", "rejected", &err), 0);
    ck_assert_str_eq(name, "tenant/acme/x/rejected");
    store_counter_split("bounce.hard", tenant, sizeof(tenant), &base);
    ck_assert_str_eq(tenant, "");
    ck_assert_str_eq(base, "bounce.hard");
    ck_assert_int_eq(store_counter_add(st, NULL, "2026-12-07", name, 4, &err), 0);
    ck_assert_int_eq(store_counter_add(st, NULL, "2026-12-07", "rejected", 9, &err), 0);
    ck_assert_int_eq(store_counters(st, note_counter, &seen, &err), 0);
    ck_assert_uint_eq(seen.global_rejected, 9);
    ck_assert_uint_eq(seen.acme_rejected, 4);
    close_store(st);
}
END_TEST

static Suite *tenant_suite(void)
{
    Suite *s = suite_create("store_tenant");
    TCase *tc = tcase_create("scopes");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_global_key_is_the_address);
    tcase_add_test(tc, test_tenant_key_is_no_address);
    tcase_add_test(tc, test_tenant_names);
    tcase_add_test(tc, test_tenant_scope_refuses_for_its_tenant_only);
    tcase_add_test(tc, test_index_answers_both_scopes);
    tcase_add_test(tc, test_iterate_and_purge_scoped_entries);
    tcase_add_test(tc, test_index_rebuilt_over_scoped_keys);
    tcase_add_test(tc, test_event_tenant_round_trip);
    tcase_add_test(tc, test_tenant_counters);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tenant_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
