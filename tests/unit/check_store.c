/*
 * check_store.c: unit tests of the suppression store (store.h) on a real
 * Berkeley DB environment in a fresh temporary directory per test: the
 * record encoding, suppressions and expiry, the timeline, counters, seen
 * messages, purge, transactions and read-only handles.  The environment
 * itself (concurrent writers, recovery, lock timeouts, checkpoints, fork)
 * is check_store_env.c's.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "store_record.h"
#include "store_squeeze.h"
#include <zlib.h>
#include "store_fixture.h"

/* Retention of events and seen messages for store_purge; the ledger's for ever. */
#define KEEP(events, seen) (&(struct store_retention) { (events), (seen), -1 })

/* ---- names and text ------------------------------------------------- */

START_TEST(test_reason_names)
{
    static const char *const names[] = { "hard-bounce", "soft-bounce-escalated", "complaint",
        "unsubscribe", "manual" };
    enum store_reason r;

    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(store_reason_name((enum store_reason) (i + 1)), names[i]);
        ck_assert_int_eq(store_reason_parse(names[i], &r), 0);
        ck_assert_int_eq(r, i + 1);
    }
    ck_assert_int_eq(store_reason_parse("hard", &r), -1);
    ck_assert_int_eq(store_reason_parse("", &r), -1);
    ck_assert_int_eq(store_reason_parse(NULL, &r), -1);
    ck_assert_str_eq(store_reason_name((enum store_reason) 0), "unknown");
    ck_assert_str_eq(store_reason_name((enum store_reason) 99), "unknown");
}
END_TEST

START_TEST(test_event_names)
{
    static const char *const names[] = { "hard-bounce", "soft-bounce", "escalated", "complaint",
        "unsubscribe", "delayed", "autoreply", "delivered", "forwarded", "rejected", "add",
        "unblock", "expired", "ignored", "unverified" };
    enum store_event_type t;

    ck_assert_int_eq(STORE_EV_IGNORED, 14);     /* stored numbers never change */
    ck_assert_int_eq(STORE_EV_UNVERIFIED, 15);
    for (int i = 0; i < 15; i++) {
        ck_assert_str_eq(store_event_name((enum store_event_type) (i + 1)), names[i]);
        ck_assert_int_eq(store_event_parse(names[i], &t), 0);
        ck_assert_int_eq(t, i + 1);
    }
    ck_assert_int_eq(store_event_parse("bounce", &t), -1);
    ck_assert_str_eq(store_event_name((enum store_event_type) 0), "unknown");
    ck_assert_str_eq(store_event_name((enum store_event_type) 16), "unknown");
}
END_TEST

START_TEST(test_copy_text)
{
    char buf[8];
    char small[4];

    store_copy_text(buf, sizeof(buf), "abc");
    ck_assert_str_eq(buf, "abc");
    store_copy_text(buf, sizeof(buf), "abcdefghij");
    ck_assert_str_eq(buf, "abcdefg");
    /* "é" is 2 bytes: "abcdef" + "é" needs 8 + NUL, so the é goes whole. */
    store_copy_text(buf, sizeof(buf), "abcdef\xc3\xa9xyz");
    ck_assert_str_eq(buf, "abcdef");
    store_copy_text(buf, sizeof(buf), "abcde\xc3\xa9xyz");
    ck_assert_str_eq(buf, "abcde\xc3\xa9");
    /* a 4-byte character cut anywhere is left out entirely */
    store_copy_text(small, sizeof(small), "\xf0\x9f\x98\x80");
    ck_assert_str_eq(small, "");
    store_copy_text(buf, sizeof(buf), "ab\xf0\x9f\x98\x80zz");
    ck_assert_str_eq(buf, "ab\xf0\x9f\x98\x80z");
    store_copy_text(buf, 6, "ab\xf0\x9f\x98\x80zz");
    ck_assert_str_eq(buf, "ab");
    /* not UTF-8: a run of continuation bytes is cut at the bound */
    store_copy_text(small, sizeof(small), "\x80\x80\x80\x80\x80");
    ck_assert_uint_eq(strlen(small), 3);
    store_copy_text(buf, 1, "abc");
    ck_assert_str_eq(buf, "");
    store_copy_text(buf, sizeof(buf), NULL);
    ck_assert_str_eq(buf, "");
}
END_TEST

/* ---- record encoding ------------------------------------------------ */

/* Dictionary 1 of store_squeeze.c, as records on disk need it. */
#define DICT1_LENGTH 3114
#define DICT1_CRC32 0xabd152a1u

START_TEST(test_record_entry_roundtrip)
{
    STORE_ENTRY in, out;
    unsigned char buf[STORE_RECORD_MAX];
    size_t len;
    SUP_ERR err;

    fill_entry(&in, "a@example.com", STORE_REASON_COMPLAINT, 1700000000, 0);
    in.expires = -5;            /* negative times survive */
    ck_assert_int_eq(store_record_encode_entry(&in, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_eq(buf[0], STORE_ENTRY_VERSION);
    memset(&out, 0x5a, sizeof(out));
    strcpy(out.address, in.address);
    ck_assert_msg(store_record_decode_entry(buf, len, &out, &err) == 0, "%s", err.text);
    assert_entries_equal(&in, &out);

    /* the largest entry fits */
    memset(in.response, 'r', sizeof(in.response) - 1);
    memset(in.source, 's', sizeof(in.source) - 1);
    memset(in.detail, 'd', sizeof(in.detail) - 1);
    memset(in.status, 't', sizeof(in.status) - 1);
    ck_assert_int_eq(store_record_encode_entry(&in, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_eq(store_record_decode_entry(buf, len, &out, &err), 0);
    assert_entries_equal(&in, &out);

    /* an unterminated field is refused, naming it */
    in.status[sizeof(in.status) - 1] = 'x';
    ck_assert_int_eq(store_record_encode_entry(&in, buf, sizeof(buf), &len, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "status"));
}
END_TEST

/* Version 2's texts: the address marked and restored, raw and deflated. */
START_TEST(test_record_entry_v2_texts)
{
    STORE_ENTRY in, out;
    unsigned char buf[STORE_RECORD_MAX];
    size_t len, dlen;
    SUP_ERR err;
    unsigned seed = 7;
    const unsigned char *dict = store_squeeze_dictionary(1, &dlen);

    /* Dictionary 1 is part of the format: it never changes. */
    ck_assert_ptr_nonnull(dict);
    ck_assert_uint_eq(dlen, DICT1_LENGTH);
    ck_assert_uint_eq(crc32(0, dict, (uInt) dlen), DICT1_CRC32);
    ck_assert_ptr_null(store_squeeze_dictionary(2, &dlen));

    /* A typical hard bounce: the response names the address twice. */
    fill_entry(&in, "john.smith@example.org", STORE_REASON_HARD_BOUNCE, 1700000000, 1700604800);
    strcpy(in.source, "suppress-ingest");
    strcpy(in.detail, "userunknown");
    strcpy(in.status, "5.1.1");
    snprintf(in.response, sizeof(in.response), "550 5.1.1 <%s>: Recipient address rejected:"
             " User unknown in virtual mailbox table (for %s)", in.address, in.address);
    ck_assert_int_eq(store_record_encode_entry(&in, buf, sizeof(buf), &len, &err), 0);
    ck_assert_msg(len <= 40, "a Postfix user-unknown entry takes %zu bytes", len);
    memset(&out, 0x5a, sizeof(out));
    strcpy(out.address, in.address);
    ck_assert_msg(store_record_decode_entry(buf, len, &out, &err) == 0, "%s", err.text);
    assert_entries_equal(&in, &out);

    /* A response with a byte 1 of its own is kept as it is. */
    snprintf(in.response, sizeof(in.response), "550 \001 %s", in.address);
    ck_assert_int_eq(store_record_encode_entry(&in, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_eq(store_record_decode_entry(buf, len, &out, &err), 0);
    assert_entries_equal(&in, &out);

    /* Texts that do not deflate are stored raw, and a cut is still seen. */
    for (size_t i = 0; i < 300; i++)
        in.response[i] = (char) (33 + rand_r(&seed) % 90);
    in.response[300] = '\0';
    ck_assert_int_eq(store_record_encode_entry(&in, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_eq(store_record_decode_entry(buf, len, &out, &err), 0);
    assert_entries_equal(&in, &out);
    for (size_t cut = 1; cut < len; cut++)
        ck_assert_msg(store_record_decode_entry(buf, cut, &out, &err) == -1,
                      "raw cut at %zu of %zu accepted", cut, len);

    /* Version 1 entries are still read. */
    ck_assert_int_eq(store_record_encode_entry_v1(&in, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_eq(buf[0], 1);
    ck_assert_int_eq(store_record_decode_entry(buf, len, &out, &err), 0);
    assert_entries_equal(&in, &out);
}
END_TEST

START_TEST(test_record_event_roundtrip)
{
    STORE_EVENT in, out;
    unsigned char buf[STORE_RECORD_MAX];
    size_t len;
    SUP_ERR err;

    fill_event(&in, "b@example.com", STORE_EV_REJECTED, 1700000001, "client 192.0.2.7");
    ck_assert_int_eq(store_record_encode_event(&in, buf, sizeof(buf), &len, &err), 0);
    memset(&out, 0x5a, sizeof(out));
    strcpy(out.address, in.address);
    out.when = in.when;
    ck_assert_msg(store_record_decode_event(buf, len, &out, &err) == 0, "%s", err.text);
    assert_events_equal(&in, &out);

    /* empty strings stay empty */
    in.reason[0] = in.actor[0] = in.response[0] = '\0';
    ck_assert_int_eq(store_record_encode_event(&in, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_eq(store_record_decode_event(buf, len, &out, &err), 0);
    assert_events_equal(&in, &out);
}
END_TEST

START_TEST(test_record_unknown_tag_skipped)
{
    STORE_ENTRY in, out;
    STORE_EVENT evin, evout;
    unsigned char buf[STORE_RECORD_MAX];
    size_t len;
    SUP_ERR err;
    static const unsigned char future[] = { 200, 0, 3, 'x', 'y', 'z', 251, 0, 0 };

    fill_entry(&in, "c@example.com", STORE_REASON_HARD_BOUNCE, 1000, 2000);
    ck_assert_int_eq(store_record_encode_entry_v1(&in, buf, sizeof(buf), &len, &err), 0);
    /* a field from a newer release, at the end and in the middle */
    memcpy(buf + len, future, sizeof(future));
    memmove(buf + 1 + sizeof(future), buf + 1, len + sizeof(future) - 1);
    memcpy(buf + 1, future, sizeof(future));
    len += 2 * sizeof(future);
    strcpy(out.address, in.address);
    ck_assert_msg(store_record_decode_entry(buf, len, &out, &err) == 0, "%s", err.text);
    assert_entries_equal(&in, &out);

    fill_event(&evin, "c@example.com", STORE_EV_ADD, 5, "note");
    ck_assert_int_eq(store_record_encode_event(&evin, buf, sizeof(buf), &len, &err), 0);
    memcpy(buf + len, future, sizeof(future));
    len += sizeof(future);
    strcpy(evout.address, evin.address);
    evout.when = evin.when;
    ck_assert_int_eq(store_record_decode_event(buf, len, &evout, &err), 0);
    assert_events_equal(&evin, &evout);
}
END_TEST

START_TEST(test_record_truncated_rejected)
{
    STORE_ENTRY in, out;
    unsigned char buf[STORE_RECORD_MAX];
    size_t len, pos, fields = 0;
    SUP_ERR err;

    fill_entry(&in, "d@example.com", STORE_REASON_MANUAL, 1000, 0);
    ck_assert_int_eq(store_record_encode_entry_v1(&in, buf, sizeof(buf), &len, &err), 0);
    /* Cut inside every field: always an error naming the truncation. */
    for (pos = 1; pos < len; pos += 3 + (((size_t) buf[pos + 1] << 8) | buf[pos + 2])) {
        size_t flen = 3 + (((size_t) buf[pos + 1] << 8) | buf[pos + 2]);

        fields++;
        for (size_t cut = pos + 1; cut < pos + flen; cut++) {
            sup_err_clear(&err);
            ck_assert_msg(store_record_decode_entry(buf, cut, &out, &err) == -1,
                          "cut at %zu accepted", cut);
            ck_assert_int_eq(err.cls, SUP_ERR_IO);
            ck_assert_msg(strstr(err.text, "truncated") != NULL, "%s", err.text);
        }
    }
    ck_assert_uint_eq(pos, len);
    ck_assert_uint_ge(fields, 6);
    ck_assert_int_eq(store_record_decode_entry(buf, 0, &out, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "empty"));

    /* Version 2: any cut is an error too, never a shorter entry. */
    ck_assert_int_eq(store_record_encode_entry(&in, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_eq(buf[0], STORE_ENTRY_VERSION);
    for (size_t cut = 1; cut < len; cut++) {
        sup_err_clear(&err);
        ck_assert_msg(store_record_decode_entry(buf, cut, &out, &err) == -1,
                      "version 2 cut at %zu of %zu accepted", cut, len);
        ck_assert_int_eq(err.cls, SUP_ERR_IO);
    }
}
END_TEST

START_TEST(test_record_garbage_rejected)
{
    STORE_ENTRY out;
    STORE_EVENT evout;
    unsigned char buf[64];
    SUP_ERR err;
    unsigned seed = 12345;
    int accepted = 0;

    /* unknown version */
    buf[0] = 3;
    ck_assert_int_eq(store_record_decode_entry(buf, 1, &out, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "version 3"));
    buf[0] = 0;
    ck_assert_int_eq(store_record_decode_event(buf, 1, &evout, &err), -1);
    /* no reason / no type */
    buf[0] = STORE_RECORD_VERSION;
    ck_assert_int_eq(store_record_decode_entry(buf, 1, &out, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "no reason"));
    ck_assert_int_eq(store_record_decode_event(buf, 1, &evout, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "no type"));
    /* an integer of the wrong width */
    memcpy(buf, (const unsigned char[]) { 1, STORE_ENTRY_TAG_REASON, 0, 2, 0, 1 }, 6);
    ck_assert_int_eq(store_record_decode_entry(buf, 6, &out, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "expected 4"));
    /* a NUL inside a string */
    memcpy(buf, (const unsigned char[]) { 1, STORE_ENTRY_TAG_REASON, 0, 4, 0, 0, 0, 1,
           STORE_ENTRY_TAG_SOURCE, 0, 3, 'a', 0, 'b' }, 14);
    ck_assert_int_eq(store_record_decode_entry(buf, 14, &out, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "NUL"));
    /* random bytes behind a valid version: never a crash, never an overrun
     * (run under the sanitizers build to catch one) */
    for (int i = 0; i < 20000; i++) {
        size_t len = 1 + (size_t) (rand_r(&seed) % (int) sizeof(buf));

        for (size_t j = 0; j < len; j++)
            buf[j] = (unsigned char) rand_r(&seed);
        buf[0] = STORE_RECORD_VERSION;
        if (store_record_decode_entry(buf, len, &out, &err) == 0)
            accepted++;
        else
            ck_assert(err.text[0] != '\0');
        (void) store_record_decode_event(buf, len, &evout, &err);
        buf[0] = STORE_ENTRY_VERSION;       /* and as a version 2 entry */
        if (store_record_decode_entry(buf, len, &out, &err) != 0)
            ck_assert(err.text[0] != '\0');
    }
    ck_assert_int_lt(accepted, 20000);
}
END_TEST

/* ---- suppressions --------------------------------------------------- */

START_TEST(test_put_get_lookup_delete)
{
    STORE *st = open_store(STORE_CREATE);
    STORE_ENTRY in, out;
    SUP_ERR err;

    fill_entry(&in, "user@example.com", STORE_REASON_HARD_BOUNCE, 1000, 0);
    ck_assert_int_eq(store_lookup(st, NULL, in.address, 5000, &out, &err), 0);
    ck_assert_int_eq(store_put(st, NULL, &in, &err), 0);
    memset(&out, 0, sizeof(out));
    ck_assert_int_eq(store_get(st, NULL, in.address, &out, &err), 1);
    assert_entries_equal(&in, &out);
    memset(&out, 0, sizeof(out));
    ck_assert_int_eq(store_lookup(st, NULL, in.address, 5000, &out, &err), 1);
    assert_entries_equal(&in, &out);
    ck_assert_int_eq(store_lookup(st, NULL, in.address, 5000, NULL, &err), 1);
    ck_assert_int_eq(store_lookup(st, NULL, "other@example.com", 5000, &out, &err), 0);

    /* put overwrites */
    in.reason = STORE_REASON_COMPLAINT;
    in.count = 4;
    ck_assert_int_eq(store_put(st, NULL, &in, &err), 0);
    ck_assert_int_eq(store_get(st, NULL, in.address, &out, &err), 1);
    assert_entries_equal(&in, &out);

    ck_assert_int_eq(store_delete(st, NULL, in.address, &err), 1);
    ck_assert_int_eq(store_delete(st, NULL, in.address, &err), 0);
    ck_assert_int_eq(store_lookup(st, NULL, in.address, 5000, &out, &err), 0);
    ck_assert_int_eq(store_get(st, NULL, in.address, &out, &err), 0);
    close_store(st);
}
END_TEST

START_TEST(test_bad_input)
{
    STORE *st = open_store(STORE_CREATE);
    STORE_ENTRY e;
    STORE_EVENT ev;
    char longaddr[ADDR_MAX + 10];
    SUP_ERR err;

    fill_entry(&e, "", STORE_REASON_MANUAL, 1, 0);
    ck_assert_int_eq(store_put(st, NULL, &e, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    memset(longaddr, 'a', sizeof(longaddr) - 1);
    longaddr[sizeof(longaddr) - 1] = '\0';
    ck_assert_int_eq(store_lookup(st, NULL, longaddr, 1, NULL, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.text, "longer than"));
    fill_entry(&e, "x@example.com", (enum store_reason) 42, 1, 0);
    ck_assert_int_eq(store_put(st, NULL, &e, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "x@example.com"));
    fill_event(&ev, "x@example.com", (enum store_event_type) 0, 1, "");
    ck_assert_int_eq(store_event_add(st, NULL, &ev, 10, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_int_eq(store_counter_add(st, NULL, "2026-1-01", "accepted", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "YYYY-MM-DD"));
    ck_assert_int_eq(store_counter_add(st, NULL, "2026-01-01", "", 1, &err), -1);
    ck_assert_int_eq(store_seen(st, NULL, "", &err), -1);
    close_store(st);
}
END_TEST

START_TEST(test_expiry)
{
    STORE *st = open_store(STORE_CREATE);
    STORE_ENTRY in, out;
    struct store_purge_result res;
    struct event_list *events = calloc(1, sizeof(*events));
    const time_t now = 1800000000;
    SUP_ERR err;

    fill_entry(&in, "expiring@example.com", STORE_REASON_HARD_BOUNCE, now - 100, now + 600);
    ck_assert_int_eq(store_put(st, NULL, &in, &err), 0);
    fill_entry(&in, "forever@example.com", STORE_REASON_COMPLAINT, now - 100, 0);
    ck_assert_int_eq(store_put(st, NULL, &in, &err), 0);

    ck_assert_int_eq(store_lookup(st, NULL, "expiring@example.com", now, &out, &err), 1);
    ck_assert_int_eq(store_lookup(st, NULL, "expiring@example.com", now + 599, &out, &err), 1);
    ck_assert_int_eq(store_lookup(st, NULL, "expiring@example.com", now + 600, &out, &err), 0);
    ck_assert_int_eq(store_lookup(st, NULL, "forever@example.com", now + 999999999, &out, &err),
                     1);
    /* store_get still returns it */
    ck_assert_int_eq(store_get(st, NULL, "expiring@example.com", &out, &err), 1);
    ck_assert_int_eq(out.expires, now + 600);

    /* purge before the expiry removes nothing */
    ck_assert_int_eq(store_purge(st, now, KEEP(86400, 86400), &res, &err), 0);
    ck_assert_uint_eq(res.expired_entries, 0);
    ck_assert_msg(store_purge(st, now + 700, KEEP(86400 * 90, 86400), &res, &err) == 0, "%s",
                  err.text);
    ck_assert_uint_eq(res.expired_entries, 1);
    ck_assert_int_eq(store_get(st, NULL, "expiring@example.com", &out, &err), 0);
    ck_assert_int_eq(store_get(st, NULL, "forever@example.com", &out, &err), 1);

    ck_assert_int_eq(store_events(st, NULL, "expiring@example.com", collect_event, events, &err),
                     0);
    ck_assert_int_eq(events->n, 1);
    ck_assert_int_eq(events->ev[0].type, STORE_EV_EXPIRED);
    ck_assert_int_eq(events->ev[0].when, now + 600);
    ck_assert_str_eq(events->ev[0].reason, "hard-bounce");
    ck_assert_str_eq(events->ev[0].address, "expiring@example.com");
    free(events);
    close_store(st);
}
END_TEST

START_TEST(test_long_strings_cut)
{
    STORE *st = open_store(STORE_CREATE);
    STORE_ENTRY in, out;
    char *longtext = malloc(5000);
    SUP_ERR err;

    /* 2 KB of "é": the cut must fall between two characters */
    for (int i = 0; i < 4998; i += 2)
        memcpy(longtext + i, "\xc3\xa9", 2);
    longtext[4998] = '\0';
    fill_entry(&in, "long@example.com", STORE_REASON_HARD_BOUNCE, 1, 0);
    store_copy_text(in.response, sizeof(in.response), longtext);
    store_copy_text(in.detail, sizeof(in.detail), longtext);
    ck_assert_uint_eq(strlen(in.response), STORE_RESPONSE_MAX - 2);
    ck_assert_uint_eq(strlen(in.detail), STORE_DETAIL_MAX - 2);
    ck_assert_int_eq(store_put(st, NULL, &in, &err), 0);
    ck_assert_int_eq(store_get(st, NULL, "long@example.com", &out, &err), 1);
    assert_entries_equal(&in, &out);
    ck_assert_int_eq(memcmp(out.response, longtext, strlen(out.response)), 0);
    free(longtext);
    close_store(st);
}
END_TEST

struct stop_ctx {
    long n;
    char first[ADDR_MAX + 1];
    char last[ADDR_MAX + 1];
    bool ordered;
};

static int check_order(const STORE_ENTRY *e, void *ctx)
{
    struct stop_ctx *c = ctx;

    if (c->n == 0)
        strcpy(c->first, e->address);
    else if (strcmp(c->last, e->address) >= 0)
        c->ordered = false;
    strcpy(c->last, e->address);
    c->n++;
    return c->n == 1500 ? 9 : 0;
}

START_TEST(test_iterate)
{
    STORE *st = open_store(STORE_CREATE);
    STORE_TXN *txn;
    STORE_ENTRY e;
    struct stop_ctx c = { .ordered = true };
    long n = 0;
    SUP_ERR err;

    /* more than one batch of the iterator */
    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    for (int i = 2000; i > 0; i--) {
        char addr[64];

        snprintf(addr, sizeof(addr), "u%05d@example.com", i);
        fill_entry(&e, addr, STORE_REASON_MANUAL, i, i % 2 ? 0 : 5);
        ck_assert_int_eq(store_put(st, txn, &e, &err), 0);
    }
    ck_assert_int_eq(store_commit(txn, &err), 0);
    ck_assert_int_eq(store_iterate(st, count_entry, &n, &err), 0);
    ck_assert_int_eq(n, 2000);     /* expired ones included */
    ck_assert_int_eq(store_iterate(st, check_order, &c, &err), 9);
    ck_assert_int_eq(c.n, 1500);
    ck_assert(c.ordered);
    ck_assert_str_eq(c.first, "u00001@example.com");
    ck_assert_str_eq(c.last, "u01500@example.com");
    close_store(st);
}
END_TEST

/* ---- timeline ------------------------------------------------------- */

START_TEST(test_timeline_order_and_bound)
{
    STORE *st = open_store(STORE_CREATE);
    struct event_list *l = calloc(1, sizeof(*l));
    STORE_EVENT ev;
    SUP_ERR err;
    static const time_t times[] = { 500, 100, 300, 300, 200, 300, 50 };
    char detail[32];

    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        snprintf(detail, sizeof(detail), "n%zu", i);
        fill_event(&ev, "t@example.com", STORE_EV_SOFT_BOUNCE, times[i], detail);
        ck_assert_msg(store_event_add(st, NULL, &ev, 0, &err) == 0, "%s", err.text);
    }
    /* a neighbour's events stay apart, including a prefix of the address */
    fill_event(&ev, "t@example.co", STORE_EV_HARD_BOUNCE, 250, "other");
    ck_assert_int_eq(store_event_add(st, NULL, &ev, 0, &err), 0);
    fill_event(&ev, "t@example.com.au", STORE_EV_HARD_BOUNCE, 250, "other");
    ck_assert_int_eq(store_event_add(st, NULL, &ev, 0, &err), 0);

    ck_assert_int_eq(store_events(st, NULL, "t@example.com", collect_event, l, &err), 0);
    ck_assert_int_eq(l->n, 7);
    /* oldest first; same second in insertion order */
    static const char *const order[] = { "n6", "n1", "n4", "n2", "n3", "n5", "n0" };
    for (int i = 0; i < 7; i++) {
        ck_assert_str_eq(l->ev[i].detail, order[i]);
        ck_assert_str_eq(l->ev[i].address, "t@example.com");
        ck_assert_int_eq(l->ev[i].type, STORE_EV_SOFT_BOUNCE);
    }
    ck_assert_int_eq(l->ev[0].when, 50);
    ck_assert_int_eq(l->ev[6].when, 500);

    /* the callback stops the walk with its value */
    memset(l, 0, sizeof(*l));
    l->stop_at = 2;
    ck_assert_int_eq(store_events(st, NULL, "t@example.com", collect_event, l, &err), 7);
    ck_assert_int_eq(l->n, 2);

    /* bound: adding with max 4 keeps the newest 4 */
    fill_event(&ev, "t@example.com", STORE_EV_DELAYED, 400, "n7");
    ck_assert_int_eq(store_event_add(st, NULL, &ev, 4, &err), 0);
    memset(l, 0, sizeof(*l));
    ck_assert_int_eq(store_events(st, NULL, "t@example.com", collect_event, l, &err), 0);
    ck_assert_int_eq(l->n, 4);
    ck_assert_str_eq(l->ev[0].detail, "n3");
    ck_assert_str_eq(l->ev[1].detail, "n5");
    ck_assert_str_eq(l->ev[2].detail, "n7");
    ck_assert_str_eq(l->ev[3].detail, "n0");
    for (int i = 0; i < 30; i++) {
        fill_event(&ev, "t@example.com", STORE_EV_REJECTED, 1000 + i, "r");
        ck_assert_int_eq(store_event_add(st, NULL, &ev, 4, &err), 0);
    }
    memset(l, 0, sizeof(*l));
    ck_assert_int_eq(store_events(st, NULL, "t@example.com", collect_event, l, &err), 0);
    ck_assert_int_eq(l->n, 4);
    ck_assert_int_eq(l->ev[0].when, 1026);
    ck_assert_int_eq(l->ev[3].when, 1029);

    /* the neighbours were not touched */
    memset(l, 0, sizeof(*l));
    ck_assert_int_eq(store_events(st, NULL, "t@example.co", collect_event, l, &err), 0);
    ck_assert_int_eq(l->n, 1);
    memset(l, 0, sizeof(*l));
    ck_assert_int_eq(store_events(st, NULL, "nobody@example.com", collect_event, l, &err), 0);
    ck_assert_int_eq(l->n, 0);
    free(l);
    close_store(st);
}
END_TEST

START_TEST(test_event_count_since)
{
    STORE *st = open_store(STORE_CREATE);
    STORE_EVENT ev;
    SUP_ERR err;

    for (int i = 0; i < 10; i++) {
        fill_event(&ev, "s@example.com", i % 2 ? STORE_EV_SOFT_BOUNCE : STORE_EV_DELAYED,
                   1000 + 100 * i, "");
        ck_assert_int_eq(store_event_add(st, NULL, &ev, 0, &err), 0);
    }
    fill_event(&ev, "s@example.comx", STORE_EV_SOFT_BOUNCE, 5000, "");
    ck_assert_int_eq(store_event_add(st, NULL, &ev, 0, &err), 0);
    /* soft bounces at 1100, 1300, 1500, 1700, 1900 */
    ck_assert_int_eq(store_event_count(st, NULL, "s@example.com", STORE_EV_SOFT_BOUNCE, 0, &err),
                     5);
    ck_assert_int_eq(store_event_count(st, NULL, "s@example.com", STORE_EV_SOFT_BOUNCE, 1300,
                                       &err), 4);
    ck_assert_int_eq(store_event_count(st, NULL, "s@example.com", STORE_EV_SOFT_BOUNCE, 1301,
                                       &err), 3);
    ck_assert_int_eq(store_event_count(st, NULL, "s@example.com", STORE_EV_SOFT_BOUNCE, 2000,
                                       &err), 0);
    ck_assert_int_eq(store_event_count(st, NULL, "s@example.com", STORE_EV_DELAYED, 0, &err), 5);
    ck_assert_int_eq(store_event_count(st, NULL, "s@example.com", STORE_EV_HARD_BOUNCE, 0, &err),
                     0);
    ck_assert_int_eq(store_event_count(st, NULL, "none@example.com", STORE_EV_SOFT_BOUNCE, 0,
                                       &err), 0);
    close_store(st);
}
END_TEST

/* ---- counters and seen ---------------------------------------------- */

struct counter_list {
    char text[1024];
    int n;
};

static int collect_counter(const char *day, const char *name, uint64_t value, void *ctx)
{
    struct counter_list *l = ctx;
    size_t len = strlen(l->text);

    snprintf(l->text + len, sizeof(l->text) - len, "%s %s %llu;", day, name,
             (unsigned long long) value);
    l->n++;
    return 0;
}

START_TEST(test_counters)
{
    STORE *st = open_store(STORE_CREATE);
    struct counter_list l = { "", 0 };
    STORE_TXN *txn;
    SUP_ERR err;

    ck_assert_int_eq(store_counter_add(st, NULL, "2026-03-02", "rejected", 2, &err), 0);
    ck_assert_int_eq(store_counter_add(st, NULL, "2026-03-01", "rejected", 1, &err), 0);
    ck_assert_int_eq(store_counter_add(st, NULL, "2026-03-01", "accepted", 10, &err), 0);
    ck_assert_int_eq(store_counter_add(st, NULL, "2026-03-01", "bounce.hard", 3, &err), 0);
    ck_assert_int_eq(store_counter_add(st, NULL, "2026-03-01", "accepted", 5, &err), 0);
    ck_assert_int_eq(store_counter_add(st, NULL, "2026-03-02", "rejected", UINT64_C(5000000000),
                                       &err), 0);
    /* an aborted add leaves nothing */
    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    ck_assert_int_eq(store_counter_add(st, txn, "2026-03-01", "accepted", 100, &err), 0);
    store_abort(txn);
    ck_assert_int_eq(store_counters(st, collect_counter, &l, &err), 0);
    ck_assert_int_eq(l.n, 4);
    ck_assert_str_eq(l.text, "2026-03-01 accepted 15;2026-03-01 bounce.hard 3;"
                     "2026-03-01 rejected 1;2026-03-02 rejected 5000000002;");
    close_store(st);
}
END_TEST

START_TEST(test_seen)
{
    STORE *st = open_store(STORE_CREATE);
    SUP_ERR err;

    ck_assert_int_eq(store_seen(st, NULL, "<abc@mx.example>", &err), 0);
    ck_assert_int_eq(store_mark_seen(st, NULL, "<abc@mx.example>", 1000, &err), 0);
    ck_assert_int_eq(store_seen(st, NULL, "<abc@mx.example>", &err), 1);
    ck_assert_int_eq(store_seen(st, NULL, "<abd@mx.example>", &err), 0);
    close_store(st);
}
END_TEST

START_TEST(test_purge_old_events_and_seen)
{
    STORE *st = open_store(STORE_CREATE);
    struct store_purge_result res;
    struct event_list *l = calloc(1, sizeof(*l));
    STORE_EVENT ev;
    STORE_TXN *txn;
    char addr[64], key[64];
    SUP_ERR err;
    const time_t now = 100000;

    /* enough to take several purge transactions */
    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    for (int i = 0; i < 1500; i++) {
        snprintf(addr, sizeof(addr), "p%d@example.com", i % 300);
        fill_event(&ev, addr, STORE_EV_HARD_BOUNCE, now - 10000 + i, "");
        ck_assert_int_eq(store_event_add(st, txn, &ev, 0, &err), 0);
        snprintf(key, sizeof(key), "<m%d@example>", i);
        ck_assert_int_eq(store_mark_seen(st, txn, key, now - 10000 + i, &err), 0);
    }
    ck_assert_int_eq(store_commit(txn, &err), 0);
    /* events older than now-9000 (i < 1000) go; seen older than now-9500 (i < 500) */
    ck_assert_msg(store_purge(st, now, KEEP(9000, 9500), &res, &err) == 0, "%s", err.text);
    ck_assert_uint_eq(res.expired_entries, 0);
    ck_assert_uint_eq(res.old_events, 1000);
    ck_assert_uint_eq(res.old_seen, 500);
    ck_assert_int_eq(store_seen(st, NULL, "<m499@example>", &err), 0);
    ck_assert_int_eq(store_seen(st, NULL, "<m500@example>", &err), 1);
    ck_assert_int_eq(store_events(st, NULL, "p0@example.com", collect_event, l, &err), 0);
    ck_assert_int_eq(l->n, 1);     /* of i = 0, 300, ... 1200 only 1200 is recent */
    ck_assert_int_eq(l->ev[0].when, now - 10000 + 1200);
    /* never (negative retention) keeps everything */
    ck_assert_int_eq(store_purge(st, now + 1000000, KEEP(-1, -1), &res, &err), 0);
    ck_assert_uint_eq(res.old_events, 0);
    ck_assert_uint_eq(res.old_seen, 0);
    ck_assert_int_eq(store_seen(st, NULL, "<m500@example>", &err), 1);
    free(l);
    close_store(st);
}
END_TEST

/* ---- transactions and handles --------------------------------------- */

START_TEST(test_txn_commit_abort)
{
    STORE *st = open_store(STORE_CREATE);
    STORE_TXN *txn;
    STORE_ENTRY e, out;
    STORE_EVENT ev;
    SUP_ERR err;

    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    fill_entry(&e, "aborted@example.com", STORE_REASON_MANUAL, 1, 0);
    ck_assert_int_eq(store_put(st, txn, &e, &err), 0);
    fill_event(&ev, "aborted@example.com", STORE_EV_ADD, 1, "");
    ck_assert_int_eq(store_event_add(st, txn, &ev, 100, &err), 0);
    ck_assert_int_eq(store_mark_seen(st, txn, "k-aborted", 1, &err), 0);
    /* visible inside its transaction */
    ck_assert_int_eq(store_get(st, txn, "aborted@example.com", &out, &err), 1);
    ck_assert_int_eq(store_event_count(st, txn, "aborted@example.com", STORE_EV_ADD, 0, &err), 1);
    store_abort(txn);
    ck_assert_int_eq(store_get(st, NULL, "aborted@example.com", &out, &err), 0);
    ck_assert_int_eq(store_event_count(st, NULL, "aborted@example.com", STORE_EV_ADD, 0, &err), 0);
    ck_assert_int_eq(store_seen(st, NULL, "k-aborted", &err), 0);

    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    fill_entry(&e, "committed@example.com", STORE_REASON_MANUAL, 1, 0);
    ck_assert_int_eq(store_put(st, txn, &e, &err), 0);
    ck_assert_int_eq(store_mark_seen(st, txn, "k-committed", 1, &err), 0);
    ck_assert_int_eq(store_commit(txn, &err), 0);
    ck_assert_int_eq(store_get(st, NULL, "committed@example.com", &out, &err), 1);
    ck_assert_int_eq(store_seen(st, NULL, "k-committed", &err), 1);
    store_abort(NULL);
    close_store(st);
    /* and it is on disk */
    st = open_store(0);
    ck_assert_int_eq(store_get(st, NULL, "committed@example.com", &out, &err), 1);
    close_store(st);
}
END_TEST

START_TEST(test_missing_directory)
{
    STORE *st = NULL;
    struct stat sb;
    SUP_ERR err;
    char path[4096];
    static const char *const files[] = { "suppressions.db", "events.db", "counters.db",
        "seen.db", "__db.register", "__db.001" };

    ck_assert_int_eq(store_open(store_dir, 0, &st, &err), -1);
    ck_assert_ptr_null(st);
    ck_assert_int_eq(err.cls, SUP_ERR_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.text, store_dir));
    ck_assert_ptr_nonnull(strstr(err.text, "does not exist"));
    ck_assert_ptr_nonnull(strstr(err.text, "`store`"));
    ck_assert_int_eq(store_open(store_dir, STORE_RDONLY, &st, &err), -1);

    umask(022);                 /* the files are group-writable anyway */
    st = open_store(STORE_CREATE);
    ck_assert_int_eq(stat(store_dir, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 07777, 0750);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", store_dir, files[i]);
        ck_assert_msg(stat(path, &sb) == 0, "%s missing", path);
        ck_assert_msg((sb.st_mode & 0660) == 0660, "%s mode %o", path, sb.st_mode & 07777);
    }
    close_store(st);

    /* a file where the directory should be */
    snprintf(path, sizeof(path), "%s/file", tmp_root);
    fclose(fopen(path, "w"));
    ck_assert_int_eq(store_open(path, STORE_CREATE, &st, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "not a directory"));
}
END_TEST

START_TEST(test_rdonly)
{
    STORE *w, *r;
    STORE_ENTRY e, out;
    STORE_TXN *txn;
    SUP_ERR err;
    pid_t pid;
    int status;

    /* read-only on an existing directory where nothing was written */
    ck_assert_int_eq(mkdir(store_dir, 0750), 0);
    ck_assert_int_eq(store_open(store_dir, STORE_RDONLY, &r, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(err.text, "nothing was ever written"));

    w = open_store(STORE_CREATE);
    fill_entry(&e, "ro@example.com", STORE_REASON_MANUAL, 1, 0);
    ck_assert_int_eq(store_put(w, NULL, &e, &err), 0);

    /* a second handle in the same process shares the environment */
    r = open_store(STORE_RDONLY);
    ck_assert_int_eq(store_get(r, NULL, "ro@example.com", &out, &err), 1);
    ck_assert_int_eq(store_put(r, NULL, &e, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "read-only"));
    ck_assert_int_eq(store_begin(r, &txn, &err), -1);
    ck_assert_int_eq(store_purge(r, 1, KEEP(1, 1), NULL, &err), -1);

    /* what the writer commits later is seen */
    ck_assert_int_eq(store_begin(w, &txn, &err), 0);
    fill_entry(&e, "ro2@example.com", STORE_REASON_MANUAL, 1, 0);
    ck_assert_int_eq(store_put(w, txn, &e, &err), 0);
    ck_assert_int_eq(store_commit(txn, &err), 0);
    ck_assert_int_eq(store_lookup(r, NULL, "ro2@example.com", 10, &out, &err), 1);

    /* and by another process, while the writer has the store open */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        STORE *c;

        if (store_open(store_dir, STORE_RDONLY, &c, &err) < 0
            || store_get(c, NULL, "ro2@example.com", &out, &err) != 1
            || store_close(c, &err) < 0)
            _exit(1);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the writer still works after the reader left */
    ck_assert_int_eq(store_delete(w, NULL, "ro@example.com", &err), 1);
    close_store(r);
    close_store(w);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc;

    tc = tcase_create("names");
    tcase_add_test(tc, test_reason_names);
    tcase_add_test(tc, test_event_names);
    tcase_add_test(tc, test_copy_text);
    suite_add_tcase(s, tc);

    tc = tcase_create("record");
    tcase_add_test(tc, test_record_entry_roundtrip);
    tcase_add_test(tc, test_record_entry_v2_texts);
    tcase_add_test(tc, test_record_event_roundtrip);
    tcase_add_test(tc, test_record_unknown_tag_skipped);
    tcase_add_test(tc, test_record_truncated_rejected);
    tcase_add_test(tc, test_record_garbage_rejected);
    suite_add_tcase(s, tc);

    tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_put_get_lookup_delete);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_expiry);
    tcase_add_test(tc, test_long_strings_cut);
    tcase_add_test(tc, test_iterate);
    tcase_add_test(tc, test_timeline_order_and_bound);
    tcase_add_test(tc, test_event_count_since);
    tcase_add_test(tc, test_counters);
    tcase_add_test(tc, test_seen);
    tcase_add_test(tc, test_purge_old_events_and_seen);
    tcase_add_test(tc, test_txn_commit_abort);
    tcase_add_test(tc, test_missing_directory);
    tcase_add_test(tc, test_rdonly);
    suite_add_tcase(s, tc);

    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
