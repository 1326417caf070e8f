/*
 * check_policy_proto.c: unit tests of the policy delegation protocol of the
 * policy service (milter/policy_proto.c): parsing requests out of a
 * buffer (good, several, partial, and every kind of malformed input), the
 * action text made safe for the protocol, the answer outside RCPT, and
 * the via of a rejection event through the store's record encoding.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_proto.h"
#include "policy_service.h"
#include "store_record.h"

static struct policy_request req;
static SUP_ERR err;

static const char GOOD[] =
    "request=smtpd_access_policy\n"
    "protocol_state=RCPT\n"
    "protocol_name=ESMTP\n"
    "client_address=192.0.2.7\n"
    "client_name=mail.example.net\n"
    "helo_name=mail.example.net\n"
    "sender=alice@example.org\n"
    "recipient=Bob@Example.COM\n"
    "queue_id=\n"
    "sasl_username=newsletter-a\n"
    "size=0\n"
    "\n";

static enum policy_parse_result parse(const char *buf, size_t len, size_t *used)
{
    sup_err_clear(&err);
    return policy_parse(buf, len, &req, used, &err);
}

START_TEST(test_good_request)
{
    size_t used;

    ck_assert_int_eq(parse(GOOD, strlen(GOOD), &used), POLICY_PARSE_DONE);
    ck_assert_uint_eq(used, strlen(GOOD));
    ck_assert_str_eq(req.request, "smtpd_access_policy");
    ck_assert_str_eq(req.protocol_state, "RCPT");
    ck_assert_str_eq(req.recipient, "Bob@Example.COM");
    ck_assert_str_eq(req.sender, "alice@example.org");
    ck_assert_str_eq(req.client_address, "192.0.2.7");
    ck_assert_str_eq(req.sasl_username, "newsletter-a");
    ck_assert_uint_eq(req.attrs, 11);
}
END_TEST

START_TEST(test_several_in_one_buffer)
{
    char buf[2048];
    size_t used, pos;

    snprintf(buf, sizeof(buf), "%s%s", GOOD,
             "request=smtpd_access_policy\nprotocol_state=DATA\nrecipient=x@y.example\n\n");
    ck_assert_int_eq(parse(buf, strlen(buf), &used), POLICY_PARSE_DONE);
    ck_assert_str_eq(req.protocol_state, "RCPT");
    pos = used;
    ck_assert_int_eq(parse(buf + pos, strlen(buf) - pos, &used), POLICY_PARSE_DONE);
    ck_assert_str_eq(req.protocol_state, "DATA");
    ck_assert_str_eq(req.recipient, "x@y.example");
    ck_assert_str_eq(req.sender, "");       /* not in the second request: empty */
    ck_assert_uint_eq(pos + used, strlen(buf));
}
END_TEST

START_TEST(test_partial_waits)
{
    size_t used = 99, len = strlen(GOOD), cut;

    /* Every prefix short of the final empty line: more, nothing used. */
    for (cut = 0; cut < len; cut++) {
        ck_assert_int_eq(parse(GOOD, cut, &used), POLICY_PARSE_MORE);
        ck_assert_uint_eq(used, 0);
    }
    ck_assert_int_eq(parse(GOOD, len, &used), POLICY_PARSE_DONE);
}
END_TEST

START_TEST(test_crlf_tolerated)
{
    static const char crlf[] = "protocol_state=RCPT\r\nrecipient=a@b.example\r\n\r\n";
    size_t used;

    ck_assert_int_eq(parse(crlf, strlen(crlf), &used), POLICY_PARSE_DONE);
    ck_assert_str_eq(req.recipient, "a@b.example");
}
END_TEST

START_TEST(test_line_too_long)
{
    char *buf = malloc(POLICY_LINE_MAX + 64);
    size_t used;

    ck_assert_ptr_nonnull(buf);
    memcpy(buf, "recipient=", 10);
    memset(buf + 10, 'a', POLICY_LINE_MAX + 10);
    /* Refused before its LF ever comes. */
    ck_assert_int_eq(parse(buf, POLICY_LINE_MAX + 1, &used), POLICY_PARSE_ERROR);
    ck_assert_ptr_nonnull(strstr(err.text, "longer than 4096 bytes"));
    /* The longest line allowed is fine. */
    buf[POLICY_LINE_MAX - 1] = '\n';
    buf[POLICY_LINE_MAX] = '\n';
    ck_assert_int_eq(parse(buf, POLICY_LINE_MAX + 1, &used), POLICY_PARSE_DONE);
    ck_assert_uint_eq(strlen(req.recipient), POLICY_LINE_MAX - 11);
    free(buf);
}
END_TEST

START_TEST(test_request_too_long)
{
    size_t cap = POLICY_REQUEST_MAX + 4096, len = 0, used;
    char *buf = malloc(cap);
    unsigned i;

    ck_assert_ptr_nonnull(buf);
    /* 50 attributes of 2000 bytes: each line fine, the request not. */
    for (i = 0; i < 50 && len + 2100 < cap; i++) {
        len += (size_t) sprintf(buf + len, "x%u=", i);
        memset(buf + len, 'v', 2000);
        len += 2000;
        buf[len++] = '\n';
    }
    ck_assert_int_eq(parse(buf, len, &used), POLICY_PARSE_ERROR);
    ck_assert_ptr_nonnull(strstr(err.text, "request longer than"));
    free(buf);
}
END_TEST

START_TEST(test_binary_bytes)
{
    static const char nul[] = "protocol_state=RCPT\nrecipient=a\0b@example.com\n\n";
    static const char esc[] = "protocol_state=RCPT\x1b\n\n";
    static const char lone_cr[] = "sender=a\rb\n\n";
    static const char utf8[] = "recipient=j\xc3\xb6rg@example.com\n\n";
    size_t used;

    ck_assert_int_eq(parse(nul, sizeof(nul) - 1, &used), POLICY_PARSE_ERROR);
    ck_assert_ptr_nonnull(strstr(err.text, "binary byte 0x00 in line 2"));
    ck_assert_int_eq(parse(esc, sizeof(esc) - 1, &used), POLICY_PARSE_ERROR);
    ck_assert_ptr_nonnull(strstr(err.text, "0x1b"));
    ck_assert_int_eq(parse(lone_cr, sizeof(lone_cr) - 1, &used), POLICY_PARSE_ERROR);
    /* Even in a line that has not ended yet. */
    ck_assert_int_eq(parse("recipient=a\0", 12, &used), POLICY_PARSE_ERROR);
    /* UTF-8 (SMTPUTF8 addresses) is not binary. */
    ck_assert_int_eq(parse(utf8, strlen(utf8), &used), POLICY_PARSE_DONE);
}
END_TEST

START_TEST(test_missing_equals)
{
    static const char bad[] = "protocol_state=RCPT\njust some words\n\n";
    static const char noname[] = "=value\n\n";
    size_t used;

    ck_assert_int_eq(parse(bad, strlen(bad), &used), POLICY_PARSE_ERROR);
    ck_assert_ptr_nonnull(strstr(err.text, "line 2 has no '='"));
    ck_assert_int_eq(parse(noname, strlen(noname), &used), POLICY_PARSE_ERROR);
    ck_assert_ptr_nonnull(strstr(err.text, "empty name"));
}
END_TEST

START_TEST(test_too_many_attributes)
{
    char buf[4096];
    size_t len = 0, used;
    unsigned i;

    for (i = 0; i < POLICY_ATTRS_MAX; i++)
        len += (size_t) sprintf(buf + len, "a%u=1\n", i);
    buf[len] = '\n';
    ck_assert_int_eq(parse(buf, len + 1, &used), POLICY_PARSE_DONE);
    len += (size_t) sprintf(buf + len, "one=more\n\n");
    ck_assert_int_eq(parse(buf, len, &used), POLICY_PARSE_ERROR);
    ck_assert_ptr_nonnull(strstr(err.text, "more than 100 attributes"));
}
END_TEST

START_TEST(test_unknown_attributes_ignored)
{
    static const char buf[] = "protocol_state=RCPT\nsome_future_attribute=whatever=x\n"
                              "ccert_fingerprint=\nrecipient=a@b.example\n\n";
    size_t used;

    ck_assert_int_eq(parse(buf, strlen(buf), &used), POLICY_PARSE_DONE);
    ck_assert_str_eq(req.recipient, "a@b.example");
    ck_assert_uint_eq(req.attrs, 4);
}
END_TEST

START_TEST(test_empty_request)
{
    size_t used;

    ck_assert_int_eq(parse("\n", 1, &used), POLICY_PARSE_ERROR);
    ck_assert_ptr_nonnull(strstr(err.text, "empty request"));
}
END_TEST

START_TEST(test_format_dunno)
{
    char out[POLICY_REPLY_MAX];

    ck_assert_uint_eq(policy_format_action(NULL, NULL, NULL, out, sizeof(out)), 14);
    ck_assert_str_eq(out, "action=DUNNO\n\n");
}
END_TEST

START_TEST(test_format_reject)
{
    char out[POLICY_REPLY_MAX];

    policy_format_action("550", "5.1.1", "Recipient a@b suppressed - 100% sure", out,
                         sizeof(out));
    ck_assert_str_eq(out, "action=550 5.1.1 Recipient a@b suppressed - 100% sure\n\n");
    policy_format_action("451", "4.3.0", "", out, sizeof(out));
    ck_assert_str_eq(out, "action=451 4.3.0\n\n");
}
END_TEST

START_TEST(test_format_sanitizes)
{
    char out[POLICY_REPLY_MAX], text[2000];
    size_t n;

    /* A line break would end the action or inject a second attribute. */
    policy_format_action("550", "5.1.1", "bad\r\naction=OK\n\nx\001", out, sizeof(out));
    ck_assert_str_eq(out, "action=550 5.1.1 bad??action=OK??x?\n\n");
    /* Bounded, and still ending in exactly one empty line. */
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    n = policy_format_action("550", "5.1.1", text, out, sizeof(out));
    ck_assert_uint_eq(n, sizeof(out) - 1);
    ck_assert_uint_eq(strlen(out), n);
    ck_assert_str_eq(out + n - 3, "x\n\n");
    ck_assert_ptr_null(memchr(out, '\n', n - 2));
}
END_TEST

START_TEST(test_answer_outside_rcpt)
{
    char out[POLICY_REPLY_MAX];
    size_t used;
    static const char data[] = "protocol_state=DATA\nrecipient=a@b.example\n\n";

    /* No store, no configuration needed: not RCPT is DUNNO at once. */
    ck_assert_int_eq(parse(data, strlen(data), &used), POLICY_PARSE_DONE);
    policy_service_answer(&req, out, sizeof(out));
    ck_assert_str_eq(out, "action=DUNNO\n\n");
}
END_TEST

START_TEST(test_event_via_roundtrip)
{
    STORE_EVENT ev, back;
    unsigned char buf[STORE_RECORD_MAX];
    size_t len;

    memset(&ev, 0, sizeof(ev));
    strcpy(ev.address, "a@b.example");
    ev.type = STORE_EV_REJECTED;
    strcpy(ev.via, STORE_VIA_POLICY);
    ck_assert_int_eq(store_record_encode_event(&ev, buf, sizeof(buf), &len, &err), 0);
    memset(&back, 'Z', sizeof(back));
    ck_assert_int_eq(store_record_decode_event(buf, len, &back, &err), 0);
    ck_assert_str_eq(back.via, "policy");
    ck_assert_str_eq(store_event_via(&back), "policy");
    /* A rejection written before via existed came through the milter. */
    ev.via[0] = '\0';
    ck_assert_int_eq(store_record_encode_event(&ev, buf, sizeof(buf), &len, &err), 0);
    ck_assert_int_eq(store_record_decode_event(buf, len, &back, &err), 0);
    ck_assert_str_eq(back.via, "");
    ck_assert_str_eq(store_event_via(&back), "milter");
    back.type = STORE_EV_ADD;
    ck_assert_str_eq(store_event_via(&back), "");
}
END_TEST

static Suite *policy_proto_suite(void)
{
    Suite *s = suite_create("policy_proto");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_good_request);
    tcase_add_test(tc, test_several_in_one_buffer);
    tcase_add_test(tc, test_partial_waits);
    tcase_add_test(tc, test_crlf_tolerated);
    tcase_add_test(tc, test_line_too_long);
    tcase_add_test(tc, test_request_too_long);
    tcase_add_test(tc, test_binary_bytes);
    tcase_add_test(tc, test_missing_equals);
    tcase_add_test(tc, test_too_many_attributes);
    tcase_add_test(tc, test_unknown_attributes_ignored);
    tcase_add_test(tc, test_empty_request);
    tcase_add_test(tc, test_format_dunno);
    tcase_add_test(tc, test_format_reject);
    tcase_add_test(tc, test_format_sanitizes);
    tcase_add_test(tc, test_answer_outside_rcpt);
    tcase_add_test(tc, test_event_via_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(policy_proto_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
