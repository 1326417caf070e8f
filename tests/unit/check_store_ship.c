/*
 * check_store_ship.c: unit tests of what a replica ships to the master
 * (store_outbox.h): the batch format (store_batch.c: round trip, every
 * truncation, garbage, a flipped byte, the wrong version, a lying record
 * count, fields too long), the outbox spool (store_outbox.c: order,
 * sequence numbers never reused across a reopen, the site id kept, the
 * size bound, setting aside) and applying a batch once
 * (store_ship_apply on a real store: applied, then a duplicate that
 * changes nothing, a refused batch, the marks).
 */
#include "config.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "store.h"
#include "store_outbox.h"
#include "store_fixture.h"

static const unsigned char SITE[STORE_SITE_ID_BYTES] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16
};
static const char *const RCPTS[] = { "a@example.com", "b@example.com", "c@example.net" };

static void fill_rejection(STORE_EVENT *ev, const char *addr, time_t when)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = STORE_EV_REJECTED;
    ev->when = when;
    snprintf(ev->address, sizeof(ev->address), "%s", addr);
    snprintf(ev->reason, sizeof(ev->reason), "hard-bounce");
    snprintf(ev->status, sizeof(ev->status), "5.1.1");
    snprintf(ev->actor, sizeof(ev->actor), "sender@example.org");
    snprintf(ev->detail, sizeof(ev->detail), "[192.0.2.9]");
    snprintf(ev->response, sizeof(ev->response), "550 5.1.1 <%s>: suppressed", addr);
    snprintf(ev->via, sizeof(ev->via), STORE_VIA_POLICY);
    snprintf(ev->tenant, sizeof(ev->tenant), "acme");
}

/* A batch of 2 counters, 2 events and 1 ledger message, encoded. */
static unsigned char *sample(uint64_t seq, size_t *len)
{
    STORE_BATCH *b = store_batch_new();
    STORE_LEDGER_MSG msg = { "id-1@example.org", 1700000000, "sender@example.org", RCPTS, 3,
                             "acme" };
    STORE_EVENT ev;
    unsigned char *buf;
    SUP_ERR err;

    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(store_batch_add_counter(b, "2026-12-07", "rejected", 2, &err), 0);
    ck_assert_int_eq(store_batch_add_counter(b, "2026-12-07", "tenant/acme/accepted", 5, &err), 0);
    fill_rejection(&ev, "gone@example.com", 1700000001);
    ck_assert_int_eq(store_batch_add_event(b, &ev, &err), 0);
    fill_rejection(&ev, "left@example.com", 1700000002);
    ck_assert_int_eq(store_batch_add_event(b, &ev, &err), 0);
    ck_assert_int_eq(store_batch_add_ledger(b, &msg, &err), 0);
    ck_assert_uint_eq(store_batch_records(b), 5);
    ck_assert_int_eq(store_batch_encode(b, SITE, seq, 1700000003, &buf, len, &err), 0);
    store_batch_free(b);
    return buf;
}

/* What a parse saw, flattened into one string to compare. */
struct seen {
    char text[8192];
};

static int see_counter(const char *day, const char *name, uint64_t delta, void *ctx, SUP_ERR *err)
{
    struct seen *s = ctx;

    (void) err;
    snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text), "C %s %s %llu\n",
             day, name, (unsigned long long) delta);
    return 0;
}

static int see_event(const STORE_EVENT *ev, void *ctx, SUP_ERR *err)
{
    struct seen *s = ctx;

    (void) err;
    snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text),
             "E %d %lld %s|%s|%s|%s|%s|%s|%s|%s\n", (int) ev->type, (long long) ev->when,
             ev->address, ev->reason, ev->status, ev->actor, ev->detail, ev->response, ev->via,
             ev->tenant);
    return 0;
}

static int see_ledger(const STORE_LEDGER_MSG *m, void *ctx, SUP_ERR *err)
{
    struct seen *s = ctx;

    (void) err;
    snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text), "L %s %lld %s %s",
             m->message_id, (long long) m->when, m->sender, m->tenant);
    for (size_t i = 0; i < m->rcpt_count; i++)
        snprintf(s->text + strlen(s->text), sizeof(s->text) - strlen(s->text), " %s",
                 m->rcpts[i]);
    strcat(s->text, "\n");
    return 0;
}

static const struct store_batch_visitor SEE = { see_counter, see_event, see_ledger };

START_TEST(test_round_trip)
{
    struct store_batch_head head;
    struct seen s = { "" };
    size_t len;
    unsigned char *buf = sample(42, &len);
    SUP_ERR err;

    ck_assert_msg(store_batch_parse(buf, len, &head, &SEE, &s, &err) == 0, "%s", err.text);
    ck_assert_mem_eq(head.site, SITE, sizeof(SITE));
    ck_assert_uint_eq(head.seq, 42);
    ck_assert_int_eq(head.created, 1700000003);
    ck_assert_uint_eq(head.records, 5);
    ck_assert_str_eq(s.text,
        "C 2026-12-07 rejected 2\n"
        "C 2026-12-07 tenant/acme/accepted 5\n"
        "E 10 1700000001 gone@example.com|hard-bounce|5.1.1|sender@example.org|[192.0.2.9]|"
        "550 5.1.1 <gone@example.com>: suppressed|policy|acme\n"
        "E 10 1700000002 left@example.com|hard-bounce|5.1.1|sender@example.org|[192.0.2.9]|"
        "550 5.1.1 <left@example.com>: suppressed|policy|acme\n"
        "L id-1@example.org 1700000000 sender@example.org acme a@example.com b@example.com"
        " c@example.net\n");
    free(buf);
}
END_TEST

START_TEST(test_empty_batch)
{
    STORE_BATCH *b = store_batch_new();
    struct store_batch_head head;
    unsigned char *buf;
    size_t len;
    SUP_ERR err;

    ck_assert_int_eq(store_batch_encode(b, SITE, 1, 0, &buf, &len, &err), 0);
    ck_assert_int_eq(store_batch_parse(buf, len, &head, &SEE, NULL, &err), 0);
    ck_assert_uint_eq(head.records, 0);
    free(buf);
    store_batch_free(b);
}
END_TEST

/* Every cut of a good batch is refused, and nothing of it is visited. */
START_TEST(test_truncated)
{
    struct store_batch_head head;
    size_t len;
    unsigned char *buf = sample(1, &len);
    SUP_ERR err;

    for (size_t cut = 0; cut < len; cut++) {
        struct seen s = { "" };

        ck_assert_msg(store_batch_parse(buf, cut, &head, &SEE, &s, &err) == -1, "cut %zu", cut);
        ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
        ck_assert_str_eq(s.text, "");
    }
    free(buf);
}
END_TEST

START_TEST(test_garbage)
{
    struct store_batch_head head;
    unsigned char junk[4096];
    size_t len;
    unsigned char *buf = sample(1, &len);
    SUP_ERR err;

    srand(7);
    for (int round = 0; round < 200; round++) {
        size_t n = (size_t) rand() % sizeof(junk);

        for (size_t i = 0; i < n; i++)
            junk[i] = (unsigned char) rand();
        if (n >= 4 && round % 2 == 0)
            memcpy(junk, "MSOB", 4);        /* past the magic, into the rest */
        ck_assert_int_eq(store_batch_parse(junk, n, &head, NULL, NULL, &err), -1);
        ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    }
    /* One flipped bit anywhere: the CRC says so. */
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x10;
        ck_assert_msg(store_batch_parse(buf, len, &head, NULL, NULL, &err) == -1, "byte %zu", i);
        buf[i] ^= 0x10;
    }
    ck_assert_int_eq(store_batch_parse(buf, len, &head, NULL, NULL, &err), 0);
    free(buf);
}
END_TEST

/* Rewrite the CRC after changing a batch, so the check behind it runs. */
static void reseal(unsigned char *buf, size_t len)
{
    uint32_t c = (uint32_t) crc32(0L, buf, (uInt) (len - 4));

    buf[len - 4] = (unsigned char) (c >> 24);
    buf[len - 3] = (unsigned char) (c >> 16);
    buf[len - 2] = (unsigned char) (c >> 8);
    buf[len - 1] = (unsigned char) c;
}

START_TEST(test_wrong_version)
{
    struct store_batch_head head;
    size_t len;
    unsigned char *buf = sample(1, &len);
    SUP_ERR err;

    buf[4] = STORE_BATCH_VERSION + 1;
    reseal(buf, len);
    ck_assert_int_eq(store_batch_parse(buf, len, &head, NULL, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "version 2"));
    free(buf);
}
END_TEST

START_TEST(test_lying_count)
{
    struct store_batch_head head;
    size_t len;
    unsigned char *buf = sample(1, &len);
    SUP_ERR err;

    buf[40] = 6;                /* the low byte of the record count: 5 -> 6 */
    reseal(buf, len);
    ck_assert_int_eq(store_batch_parse(buf, len, &head, NULL, NULL, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "says 6 records and holds 5"));
    buf[40] = 5;
    buf[41 + 4] += 1;           /* the first record's body one byte longer */
    reseal(buf, len);
    ck_assert_int_eq(store_batch_parse(buf, len, &head, NULL, NULL, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    free(buf);
}
END_TEST

START_TEST(test_too_long)
{
    STORE_BATCH *b = store_batch_new();
    char name[STORE_COUNTER_NAME_MAX + 2];
    STORE_LEDGER_MSG msg = { "", 1, "s@example.org", RCPTS, 1, NULL };
    char id[STORE_MESSAGE_ID_MAX + 2];
    SUP_ERR err;

    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ck_assert_int_eq(store_batch_add_counter(b, "2026-12-07", name, 1, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    memset(id, 'i', sizeof(id) - 1);
    id[sizeof(id) - 1] = '\0';
    msg.message_id = id;
    ck_assert_int_eq(store_batch_add_ledger(b, &msg, &err), -1);
    /* A refused record adds nothing. */
    ck_assert_uint_eq(store_batch_records(b), 0);
    ck_assert_uint_eq(store_batch_bytes(b), 0);
    store_batch_free(b);
}
END_TEST

/* ---- the outbox -------------------------------------------------------- */

static STORE_BATCH *one_event_batch(const char *addr)
{
    STORE_BATCH *b = store_batch_new();
    STORE_EVENT ev;
    SUP_ERR err;

    fill_rejection(&ev, addr, 1700000000);
    ck_assert_int_eq(store_batch_add_event(b, &ev, &err), 0);
    return b;
}

static void put_one(STORE_OUTBOX *ob, const char *addr)
{
    STORE_BATCH *b = one_event_batch(addr);
    SUP_ERR err;

    ck_assert_msg(store_outbox_put(ob, b, &err) == 0, "%s", err.text);
    store_batch_free(b);
}

START_TEST(test_outbox_order_and_seq)
{
    STORE_OUTBOX *ob;
    struct store_batch_head head;
    struct store_outbox_status status;
    unsigned char site[STORE_SITE_ID_BYTES], *buf;
    uint64_t seq, last;
    size_t len;
    SUP_ERR err;

    mkdir(store_dir, 0700);
    ck_assert_msg(store_outbox_open(store_dir, 1 << 20, &ob, &err) == 0, "%s", err.text);
    memcpy(site, store_outbox_site(ob), sizeof(site));
    put_one(ob, "one@example.com");
    put_one(ob, "two@example.com");
    put_one(ob, "three@example.com");
    ck_assert_int_eq(store_outbox_oldest(ob, &buf, &len, &seq, &err), 1);
    ck_assert_uint_eq(seq, 1);
    ck_assert_int_eq(store_batch_parse(buf, len, &head, NULL, NULL, &err), 0);
    ck_assert_mem_eq(head.site, site, sizeof(site));
    free(buf);
    ck_assert_int_eq(store_outbox_done(ob, 1, &err), 0);
    ck_assert_int_eq(store_outbox_oldest(ob, &buf, &len, &seq, &err), 1);
    ck_assert_uint_eq(seq, 2);
    free(buf);
    ck_assert_int_eq(store_outbox_set_aside(ob, 2, &err), 0);
    ck_assert_int_eq(store_outbox_done(ob, 3, &err), 0);
    ck_assert_int_eq(store_outbox_oldest(ob, &buf, &len, &seq, &err), 0);
    store_outbox_close(ob);

    /* Reopened (a restart): the same site, never a number used before. */
    ck_assert_int_eq(store_outbox_open(store_dir, 1 << 20, &ob, &err), 0);
    ck_assert_mem_eq(store_outbox_site(ob), site, sizeof(site));
    put_one(ob, "four@example.com");
    ck_assert_int_eq(store_outbox_oldest(ob, &buf, &len, &last, &err), 1);
    ck_assert_uint_gt(last, 3);
    free(buf);
    store_outbox_close(ob);

    ck_assert_int_eq(store_outbox_status(store_dir, &status, &err), 0);
    ck_assert(status.exists);
    ck_assert_uint_eq(status.batches, 1);
    ck_assert_uint_eq(status.set_aside, 1);
    ck_assert_uint_eq(status.dropped, 0);
    ck_assert_uint_eq(strlen(status.site), 32);
}
END_TEST

START_TEST(test_outbox_bound)
{
    STORE_OUTBOX *ob;
    struct store_outbox_status status;
    STORE_BATCH *b = one_event_batch("one@example.com");
    SUP_ERR err;
    int stored = 0, dropped = 0;

    mkdir(store_dir, 0700);
    ck_assert_int_eq(store_outbox_open(store_dir, 2000, &ob, &err), 0);
    for (int i = 0; i < 30; i++) {
        int rc = store_outbox_put(ob, b, &err);

        ck_assert_int_ge(rc, 0);
        rc == 0 ? stored++ : dropped++;
    }
    ck_assert_int_gt(stored, 0);
    ck_assert_int_gt(dropped, 0);
    store_outbox_close(ob);
    store_batch_free(b);
    ck_assert_int_eq(store_outbox_status(store_dir, &status, &err), 0);
    ck_assert_uint_eq(status.batches, (unsigned long) stored);
    ck_assert_uint_eq(status.dropped, (unsigned long) dropped);
    ck_assert_uint_le(status.bytes, 2000);
}
END_TEST

START_TEST(test_no_outbox)
{
    struct store_outbox_status status;
    SUP_ERR err;

    ck_assert_int_eq(store_outbox_status(store_dir, &status, &err), 0);
    ck_assert(!status.exists);
}
END_TEST

/* ---- applying once ----------------------------------------------------- */

static int sum_counter(const char *day, const char *name, uint64_t value, void *ctx)
{
    (void) day;
    if (strcmp(name, "rejected") == 0)
        *(uint64_t *) ctx += value;
    return 0;
}

static uint64_t rejected_count(STORE *st)
{
    uint64_t n = 0;
    SUP_ERR err;

    ck_assert_int_eq(store_counters(st, sum_counter, &n, &err), 0);
    return n;
}

static int count_mark(const char *site_hex, uint64_t seq, time_t when, void *ctx)
{
    (void) site_hex;
    (void) when;
    *(uint64_t *) ctx = seq;
    return 0;
}

START_TEST(test_apply_once)
{
    STORE *st = open_store(STORE_CREATE);
    struct event_list events = { .n = 0 };
    enum store_ledger_answer answer;
    size_t len, len2;
    unsigned char *buf = sample(5, &len), *older = sample(4, &len2);
    uint64_t mark = 0;
    SUP_ERR err;

    ck_assert_msg(store_ship_apply(st, buf, len, 100, &err) == STORE_SHIP_APPLIED, "%s",
                  err.text);
    ck_assert_uint_eq(rejected_count(st), 2);
    ck_assert_int_eq(store_events(st, NULL, "gone@example.com", collect_event, &events, &err), 0);
    ck_assert_int_eq(events.n, 1);
    ck_assert_str_eq(events.ev[0].via, STORE_VIA_POLICY);
    ck_assert_str_eq(events.ev[0].tenant, "acme");
    ck_assert_int_eq(events.ev[0].when, 1700000001);
    ck_assert_int_eq(store_ledger_check(st, NULL, "id-1@example.org", "b@example.com", &answer,
                                        NULL, &err), 0);
    ck_assert_int_eq(answer, STORE_LEDGER_RECIPIENT);

    /* Sent again (its answer was lost), or an older one: nothing twice. */
    ck_assert_int_eq(store_ship_apply(st, buf, len, 100, &err), STORE_SHIP_DUPLICATE);
    ck_assert_int_eq(store_ship_apply(st, older, len2, 100, &err), STORE_SHIP_DUPLICATE);
    ck_assert_uint_eq(rejected_count(st), 2);
    events.n = 0;
    ck_assert_int_eq(store_events(st, NULL, "gone@example.com", collect_event, &events, &err), 0);
    ck_assert_int_eq(events.n, 1);
    ck_assert_int_eq(store_ship_marks(st, count_mark, &mark, &err), 0);
    ck_assert_uint_eq(mark, 5);

    /* A damaged batch is refused whole. */
    buf[50] ^= 1;
    ck_assert_int_eq(store_ship_apply(st, buf, len, 100, &err), STORE_SHIP_REFUSED);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    free(buf);
    free(older);
    close_store(st);
}
END_TEST

static Suite *ship_suite(void)
{
    Suite *s = suite_create("store_ship");
    TCase *tc;

    tc = tcase_create("batch");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_empty_batch);
    tcase_add_test(tc, test_truncated);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_wrong_version);
    tcase_add_test(tc, test_lying_count);
    tcase_add_test(tc, test_too_long);
    suite_add_tcase(s, tc);

    tc = tcase_create("outbox");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_outbox_order_and_seq);
    tcase_add_test(tc, test_outbox_bound);
    tcase_add_test(tc, test_no_outbox);
    suite_add_tcase(s, tc);

    tc = tcase_create("apply");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_apply_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ship_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
