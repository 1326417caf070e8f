/*
 * check_generic_detectors.c: unit tests of the detectors that read no
 * single MTA's format: RFC 3464 delivery-status reports (rfc3464), ARF
 * complaint reports (arf), RFC 3834 auto-replies (autoreply), plain-text
 * lists of failed recipients (recipientlist) and the plain-text fallback,
 * through the whole registry and classify, as
 * suppress-ingest runs them.
 *
 * Samples live in data/ingest/; they are written for these tests, not
 * taken from the corpus.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "addr.h"
#include "bounce.h"
#include "decide/classify.h"
#include "detectors/detector.h"
#include "detectors/toolkit.h"
#include "ingest.h"
#include "parse/message.h"
#include "sample.h"

extern const DETECTOR detector_rfc3464;
extern const DETECTOR detector_arf;
extern const DETECTOR detector_autoreply;
extern const DETECTOR detector_recipientlist;
extern const DETECTOR detector_fallback;

#define DATA_DIR "ingest"

/* Parse a sample of data/ingest/; the caller message_free()s. */
static void load(const char *name, BOUNCE_MSG *msg)
{
    sample_parse(DATA_DIR, name, NULL, msg);
}

/* Run every detector, classify, like suppress-ingest does. */
static void detect(const char *name, const char *envelope, BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    memset(report, 0, sizeof(*report));
    sample_parse(DATA_DIR, name, envelope, msg);
    detect_report(msg, report);
    classify_report(report);
}

START_TEST(test_rfc3464_detector)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    load("dsn-basic.eml", &m);
    memset(&r, 0, sizeof(r));
    ck_assert(detector_rfc3464.match(&m));
    ck_assert_int_eq(detector_rfc3464.parse(&m, &r), 2);
    ck_assert_int_eq(r.kind, REPORT_BOUNCE);
    ck_assert_str_eq(r.rcpts[0].recipient, "alice@dest.example");
    ck_assert_str_eq(r.rcpts[0].original_recipient, "alice@dest.example");
    ck_assert(!r.rcpts[0].forwarded);
    ck_assert_str_eq(r.rcpts[0].action, "failed");
    ck_assert_str_eq(r.rcpts[0].status, "5.1.1");
    ck_assert_str_eq(r.rcpts[0].diagnostic, "550 5.1.1 <alice@dest.example>: Recipient address rejected: User unknown");
    ck_assert_str_eq(r.rcpts[0].reporting_mta, "mx.sender.example");
    ck_assert_str_eq(r.rcpts[0].remote_mta, "mx.dest.example");
    ck_assert_str_eq(r.rcpts[1].recipient, "bob@dest.example");
    ck_assert_str_eq(r.rcpts[1].action, "delayed");
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_rfc3464_vague_status)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    detect("dsn-base64.eml", NULL, &m, &r);
    ck_assert_uint_eq(r.count, 1);
    ck_assert_str_eq(r.detector, "rfc3464");
    ck_assert_str_eq(r.rcpts[0].status, "5.1.1");     /* Status 5.0.0, text 5.1.1 */
    ck_assert_str_eq(r.rcpts[0].replycode, "550");
    ck_assert_int_eq(r.rcpts[0].cls, CLASS_HARD);
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_rfc3464_forwarded)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    detect("expanded-from.eml", NULL, &m, &r);
    ck_assert_uint_eq(r.count, 1);
    ck_assert_str_eq(r.rcpts[0].recipient, "peggy@elsewhere.example");
    ck_assert_str_eq(r.rcpts[0].original_recipient, "peggy@dest.example");
    ck_assert(r.rcpts[0].forwarded);
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_rfc3464_recipient_from_returned)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    memset(&r, 0, sizeof(r));
    sample_parse_string("From: MAILER-DAEMON@x.example\n"
                 "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
                 "--b\nContent-Type: text/plain\n\nfailed\n"
                 "--b\nContent-Type: message/delivery-status\n\n"
                 "Reporting-MTA: dns; x.example\n\nAction: failed\nStatus: 5.1.1\n"
                 "--b\nContent-Type: text/rfc822-headers\n\nTo: Someone <Someone@Y.example>\nSubject: s\n"
                 "--b--\n", &m);
    ck_assert_int_eq(detector_rfc3464.parse(&m, &r), 1);
    ck_assert_str_eq(r.rcpts[0].recipient, "someone@y.example");
    ck_assert_str_eq(r.rcpts[0].status, "5.1.1");
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_arf_standard)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    detect("arf-standard.eml", NULL, &m, &r);
    ck_assert_int_eq(r.kind, REPORT_COMPLAINT);
    ck_assert_str_eq(r.detector, "arf");
    ck_assert_uint_eq(r.count, 1);
    ck_assert_str_eq(r.rcpts[0].recipient, "ivan@isp.example");
    ck_assert_str_eq(r.rcpts[0].feedback_type, "abuse");
    ck_assert_str_eq(r.rcpts[0].reason, "feedback");
    ck_assert_str_eq(r.rcpts[0].reporting_mta, "fbl.isp.example");
    ck_assert_int_eq(r.rcpts[0].cls, CLASS_COMPLAINT);
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_arf_redacted_verp)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    /* Without a VERP pattern the redacted address cannot be recovered. */
    message_set_verp_pattern(NULL);
    detect("arf-redacted.eml", "bounces+judy=isp.example@sender.example", &m, &r);
    ck_assert_uint_eq(r.count, 1);
    ck_assert_ptr_null(r.rcpts[0].recipient);
    report_clear(&r);
    message_free(&m);

    message_set_verp_pattern("bounces+%{local}=%{domain}@sender.example");
    detect("arf-redacted.eml", "bounces+judy=isp.example@sender.example", &m, &r);
    message_set_verp_pattern(NULL);
    ck_assert_uint_eq(r.count, 1);
    ck_assert_str_eq(r.rcpts[0].recipient, "judy@isp.example");
    ck_assert_str_eq(r.rcpts[0].feedback_type, "opt-out");
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_arf_nonstandard)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    detect("complaint-microsoft.eml", NULL, &m, &r);
    ck_assert_int_eq(r.kind, REPORT_COMPLAINT);
    ck_assert_str_eq(r.rcpts[0].recipient, "kate@outlook.example");
    ck_assert_str_eq(r.rcpts[0].feedback_type, "abuse");
    report_clear(&r);
    message_free(&m);

    detect("unsubscribe.eml", NULL, &m, &r);
    ck_assert_int_eq(r.kind, REPORT_COMPLAINT);
    ck_assert_str_eq(r.rcpts[0].recipient, "leo@mail.example");
    ck_assert_str_eq(r.rcpts[0].feedback_type, "opt-out");
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_autoreply)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    detect("vacation.eml", NULL, &m, &r);
    ck_assert_int_eq(r.kind, REPORT_AUTOREPLY);
    ck_assert_str_eq(r.detector, "autoreply");
    ck_assert_str_eq(r.rcpts[0].recipient, "mallory@dest.example");
    ck_assert_str_eq(r.rcpts[0].reason, "vacation");
    ck_assert_int_eq(r.rcpts[0].cls, CLASS_AUTOREPLY);
    ck_assert_str_eq(r.rcpts[0].diagnostic,
                     "I am out of the office until Monday. I will read your message when I am back.");
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_autoreply_not_for_bounces)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    /* A bounce with "Auto-Submitted: auto-replied" (as Postfix sends) is a bounce. */
    load("autosubmitted-bounce.eml", &m);
    ck_assert(!detector_autoreply.match(&m));
    message_free(&m);
    detect("autosubmitted-bounce.eml", NULL, &m, &r);
    ck_assert_int_eq(r.kind, REPORT_BOUNCE);
    ck_assert_str_eq(r.rcpts[0].recipient, "niaj@dest.example");
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_fallback)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    load("latin1-8bit.eml", &m);
    memset(&r, 0, sizeof(r));
    ck_assert(detector_fallback.match(&m));
    ck_assert_int_eq(detector_fallback.parse(&m, &r), 1);
    ck_assert_str_eq(r.rcpts[0].recipient, "quentin@dest.example");
    ck_assert_str_eq(r.rcpts[0].diagnostic, "550 5.1.1 Empfänger unbekannt");
    report_clear(&r);
    message_free(&m);

    /* Only the bounce's own words count: not the returned message's. */
    load("nested-rfc822.eml", &m);
    ck_assert_int_eq(detector_fallback.parse(&m, &r), 1);
    ck_assert_str_eq(r.rcpts[0].recipient, "frank@dest.example");
    ck_assert_str_eq(r.rcpts[0].diagnostic, "550 5.1.1 No such user here");
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_recipientlist)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    /* A list under its phrase, each diagnostic beside or under its address;
     * the postmaster and the returned message's To are not in it. */
    load("recipientlist-block.eml", &m);
    memset(&r, 0, sizeof(r));
    ck_assert(detector_recipientlist.match(&m));
    ck_assert_int_eq(detector_recipientlist.parse(&m, &r), 2);
    ck_assert_int_eq(r.kind, REPORT_BOUNCE);
    ck_assert_str_eq(r.rcpts[0].recipient, "gina@dest.example");
    ck_assert_str_eq(r.rcpts[0].diagnostic, "550 5.1.1 Mailbox unavailable");
    ck_assert_str_eq(r.rcpts[0].action, "failed");
    ck_assert_str_eq(r.rcpts[1].recipient, "harry@dest.example");
    ck_assert_str_eq(r.rcpts[1].diagnostic, "552 5.2.2 quota exceeded");
    report_clear(&r);
    message_free(&m);

    /* The address right after its phrase. */
    load("recipientlist-inline.eml", &m);
    ck_assert_int_eq(detector_recipientlist.parse(&m, &r), 1);
    ck_assert_str_eq(r.rcpts[0].recipient, "jane@dest.example");
    ck_assert_ptr_null(r.rcpts[0].diagnostic);
    report_clear(&r);
    message_free(&m);

    /* Only the bounce's own addresses listed: no report. */
    load("recipientlist-own.eml", &m);
    ck_assert(detector_recipientlist.match(&m));
    ck_assert_int_eq(detector_recipientlist.parse(&m, &r), 0);
    ck_assert_uint_eq(r.count, 0);
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_recipientlist_warning)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    /* "will continue to attempt delivery": delayed, never hard. */
    detect("recipientlist-warning.eml", NULL, &m, &r);
    ck_assert_uint_eq(r.count, 1);
    ck_assert_str_eq(r.detector, "recipientlist");
    ck_assert_str_eq(r.rcpts[0].recipient, "karl@dest.example");
    ck_assert_str_eq(r.rcpts[0].action, "delayed");
    ck_assert_int_eq(r.rcpts[0].cls, CLASS_DELAYED);
    report_clear(&r);
    message_free(&m);
}
END_TEST

START_TEST(test_not_a_report)
{
    BOUNCE_MSG m;
    BOUNCE_REPORT r;

    /* A person writing to the bounce address, mentioning an error code. */
    detect("plain-noreport.eml", NULL, &m, &r);
    ck_assert_int_eq(r.kind, REPORT_NONE);
    ck_assert_uint_eq(r.count, 0);
    ck_assert_ptr_null(r.detector);
    report_clear(&r);
    message_free(&m);
}
END_TEST

static Suite *generic_detectors_suite(void)
{
    Suite *s = suite_create("generic detectors");
    TCase *tc;

    tc = tcase_create("detectors");
    tcase_add_test(tc, test_rfc3464_detector);
    tcase_add_test(tc, test_rfc3464_vague_status);
    tcase_add_test(tc, test_rfc3464_forwarded);
    tcase_add_test(tc, test_rfc3464_recipient_from_returned);
    tcase_add_test(tc, test_arf_standard);
    tcase_add_test(tc, test_arf_redacted_verp);
    tcase_add_test(tc, test_arf_nonstandard);
    tcase_add_test(tc, test_autoreply);
    tcase_add_test(tc, test_autoreply_not_for_bounces);
    tcase_add_test(tc, test_recipientlist);
    tcase_add_test(tc, test_recipientlist_warning);
    tcase_add_test(tc, test_fallback);
    tcase_add_test(tc, test_not_a_report);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    g_mime_init();
    sr = srunner_create(generic_detectors_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    g_mime_shutdown();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
