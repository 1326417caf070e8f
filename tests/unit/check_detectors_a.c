/*
 * check_detectors_a.c: unit tests of the detectors of group a (Postfix,
 * Exim, qmail, Courier, OpenSMTPD, DragonFly Mail Agent, Messaging Server,
 * Domino, Lotus Notes, PowerMTA, Apache James) and of their helpers
 * (detectors/toolkit/).
 *
 * Each sample in data/detectors/a/ is a small bounce written after the real
 * format.  It goes through the real message parser and the real detector
 * registry, so a test also fails when another detector takes the message
 * first; a last test checks that no other detector of the group claims a
 * sample that is not its own.
 *
 * Reasons: a detector sets the reason its format states outright; where
 * the format's phrase is only a fallback (a_reason_unless_rules), the test
 * accepts either that reason or a reason found by the rule table.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "bounce.h"
#include "detectors/detector.h"
#include "parse/message.h"
#include "decide/rules.h"
#include "detectors/toolkit.h"
#include "sample.h"

extern const DETECTOR detector_postfix;
extern const DETECTOR detector_exim;
extern const DETECTOR detector_qmail;
extern const DETECTOR detector_courier;
extern const DETECTOR detector_opensmtpd;
extern const DETECTOR detector_dragonfly;
extern const DETECTOR detector_messagingserver;
extern const DETECTOR detector_domino;
extern const DETECTOR detector_notes;
extern const DETECTOR detector_powermta;
extern const DETECTOR detector_apachejames;

#define DATA_DIR "detectors/a"

/* ---- helpers ---- */

static void load(const char *name, BOUNCE_MSG *msg)
{
    sample_parse(DATA_DIR, name, NULL, msg);
}

/* Run the whole registry over a sample; the report owns its strings. */
static void detect(const char *name, BOUNCE_REPORT *report)
{
    BOUNCE_MSG msg;

    memset(report, 0, sizeof(*report));
    load(name, &msg);
    detect_report(&msg, report);
    message_free(&msg);
}

static void expect_str(const char *what, const char *got, const char *want)
{
    if (want == NULL)
        ck_assert_msg(got == NULL, "%s: got \"%s\", expected none", what, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, want) == 0, "%s: got \"%s\", expected \"%s\"",
                      what, got ? got : "(null)", want);
}

static void expect_report(const BOUNCE_REPORT *report, const char *detector, size_t count)
{
    ck_assert_msg(report->detector != NULL && strcmp(report->detector, detector) == 0,
                  "detector %s, expected %s", report->detector ? report->detector : "(none)",
                  detector);
    ck_assert_int_eq(report->kind, REPORT_BOUNCE);
    ck_assert_uint_eq(report->count, count);
}

/* recipient, action, status, reply code and diagnostic of one recipient */
static void expect_rcpt(const BOUNCE_RCPT *r, const char *recipient, const char *action,
                        const char *status, const char *replycode, const char *diagnostic)
{
    expect_str("recipient", r->recipient, recipient);
    expect_str("action", r->action, action);
    expect_str("status", r->status, status);
    expect_str("replycode", r->replycode, replycode);
    expect_str("diagnostic", r->diagnostic, diagnostic);
}

/* The format states the reason: the detector must set it. */
static void expect_reason(const BOUNCE_RCPT *r, const char *reason)
{
    expect_str("reason", r->reason, reason);
}

/* The format's phrase is a fallback: its reason, or the rule table's. */
static void expect_reason_or_rules(const BOUNCE_RCPT *r, const char *reason)
{
    if (r->reason == NULL)
        ck_assert_msg(r->diagnostic != NULL && rules_reason_for_text(r->diagnostic) != NULL,
                      "no reason for \"%s\", expected %s or a rule's",
                      r->diagnostic ? r->diagnostic : "(null)", reason);
    else
        expect_str("reason", r->reason, reason);
}

/* ---- Postfix ---- */

START_TEST(test_postfix_report)
{
    BOUNCE_REPORT report;

    detect("postfix-report.eml", &report);
    expect_report(&report, "postfix", 2);
    expect_rcpt(&report.rcpts[0], "alice@example.net", "failed", "5.1.1", "550",
                "550 5.1.1 The email account that you tried to reach does not exist. Please try "
                "double-checking the recipient's email address for typos. Learn more at "
                "https://support.example.net/nosuchuser - gsmtp");
    expect_str("reporting", report.rcpts[0].reporting_mta, "relay.example.org");
    expect_str("remote", report.rcpts[0].remote_mta, "mx1.example.net");
    ck_assert(!report.rcpts[0].forwarded);
    /* delivered to an alias's target: the final address failed */
    expect_rcpt(&report.rcpts[1], "bob.smith@example.com", "failed", "5.2.2", "552",
                "552 5.2.2 <bob.smith@example.com>: Mailbox full");
    expect_str("original", report.rcpts[1].original_recipient, "bob@example.org");
    ck_assert(report.rcpts[1].forwarded);
    report_clear(&report);
}
END_TEST

START_TEST(test_postfix_plain_refused_greeting)
{
    BOUNCE_REPORT report;

    detect("postfix-plain.eml", &report);
    expect_report(&report, "postfix", 1);
    expect_rcpt(&report.rcpts[0], "carol@example.com", "failed", "5.7.1", "554",
                "554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using "
                "dnsbl.example.net");
    expect_str("remote", report.rcpts[0].remote_mta, "mx.example.com");
    expect_reason_or_rules(&report.rcpts[0], "blocked");
    report_clear(&report);
}
END_TEST

/* $mail_name lengthened by a distribution: "The Postfix on ... program". */
START_TEST(test_postfix_long_mail_name)
{
    BOUNCE_REPORT report;

    detect("postfix-mailname.eml", &report);
    expect_report(&report, "postfix", 1);
    expect_rcpt(&report.rcpts[0], "dave@example.com", "failed", "5.1.1", "550",
                "550 5.1.1 <dave@example.com>: Recipient address rejected: User unknown");
    report_clear(&report);
}
END_TEST

START_TEST(test_postfix_transcript)
{
    BOUNCE_REPORT report;

    detect("postfix-transcript.eml", &report);
    expect_report(&report, "postfix", 2);
    /* accepted at RCPT, refused after DATA */
    expect_rcpt(&report.rcpts[0], "dave@example.org", "failed", "4.3.1", "452",
                "452 4.3.1 Insufficient system storage");
    expect_rcpt(&report.rcpts[1], "erin@example.org", "failed", "5.1.1", "550",
                "550 5.1.1 <erin@example.org>: Recipient address rejected: User unknown");
    report_clear(&report);
}
END_TEST

START_TEST(test_postfix_inlined_in_text)
{
    BOUNCE_REPORT report;

    /* A bounce forwarded as plain text: the DSN fields are in the text. */
    detect("postfix-inline.eml", &report);
    expect_report(&report, "postfix", 1);
    expect_rcpt(&report.rcpts[0], "xavier.final@example.com", "failed", "4.0.0", "421",
                "421 Service not available, closing transmission channel");
    expect_str("original", report.rcpts[0].original_recipient, "xavier@example.org");
    ck_assert(report.rcpts[0].forwarded);
    expect_str("reporting", report.rcpts[0].reporting_mta, "relay.example.org");
    expect_str("remote", report.rcpts[0].remote_mta, "mx.example.com");
    expect_reason_or_rules(&report.rcpts[0], "blocked");
    report_clear(&report);
}
END_TEST

/* ---- Exim ---- */

START_TEST(test_exim_failed)
{
    BOUNCE_REPORT report;

    detect("exim-failed.eml", &report);
    expect_report(&report, "exim", 2);
    expect_rcpt(&report.rcpts[0], "frank@example.net", "failed", "5.1.1", "550",
                "550 5.1.1 <frank@example.net> recipient rejected: no mailbox by that name");
    expect_str("remote", report.rcpts[0].remote_mta, "mx.example.net");
    expect_rcpt(&report.rcpts[1], "grace@example.com", "failed", NULL, NULL,
                "retry timeout exceeded");
    expect_reason_or_rules(&report.rcpts[1], "expired");
    report_clear(&report);
}
END_TEST

START_TEST(test_exim_pipe)
{
    BOUNCE_REPORT report;

    detect("exim-pipe.eml", &report);
    expect_report(&report, "exim", 1);
    expect_rcpt(&report.rcpts[0], "helpdesk@example.org", "failed", NULL, NULL,
                "pipe to |/usr/local/bin/ticket-import --queue support ticket-import: "
                "cannot connect to database: connection refused");
    expect_reason_or_rules(&report.rcpts[0], "mailererror");
    report_clear(&report);
}
END_TEST

START_TEST(test_exim_delayed_helo)
{
    BOUNCE_REPORT report;

    detect("exim-delayed.eml", &report);
    expect_report(&report, "exim", 1);
    expect_rcpt(&report.rcpts[0], "heidi@example.com", "delayed", "4.7.0", "421",
                "421 4.7.0 out.example.org is not welcome here");
    expect_str("remote", report.rcpts[0].remote_mta, "mail.example.com");
    /* refused at EHLO: the detector states the stage, classify.c reads
     * it as a refusal of our host, not of the address */
    expect_str("command", report.rcpts[0].command, "HELO");
    report_clear(&report);
}
END_TEST

/* ---- qmail ---- */

START_TEST(test_qmail)
{
    BOUNCE_REPORT report;

    detect("qmail.eml", &report);
    expect_report(&report, "qmail", 2);
    expect_rcpt(&report.rcpts[0], "ivan@example.net", "failed", "5.1.1", "550",
                "550 5.1.1 <ivan@example.net>: the mailbox does not exist on this server");
    expect_str("remote", report.rcpts[0].remote_mta, "192.0.2.61");
    expect_str("reporting", report.rcpts[0].reporting_mta, "mail.example.org");
    expect_rcpt(&report.rcpts[1], "judy@nonexistent.example", "failed", "5.1.2", NULL,
                "Sorry, I couldn't find any host named nonexistent.example. (#5.1.2)");
    expect_reason_or_rules(&report.rcpts[1], "hostunknown");
    report_clear(&report);
}
END_TEST

START_TEST(test_qmail_helo_rejected)
{
    BOUNCE_REPORT report;

    detect("qmail-helo.eml", &report);
    expect_report(&report, "qmail", 1);
    expect_rcpt(&report.rcpts[0], "kim@example.com", "failed", "5.5.4", "501",
                "501 5.5.4 Invalid HELO name");
    expect_str("remote", report.rcpts[0].remote_mta, "198.51.100.3");
    expect_str("command", report.rcpts[0].command, "HELO");
    report_clear(&report);
}
END_TEST

/* ---- Courier ---- */

START_TEST(test_courier)
{
    BOUNCE_REPORT report;

    detect("courier.eml", &report);
    expect_report(&report, "courier", 2);
    /* the "<<<" lines are the whole response; the DSN kept only the last */
    expect_rcpt(&report.rcpts[0], "leo@example.net", "failed", "5.1.1", "550",
                "550 5.1.1 <leo@example.net>... no such user see https://help.example.net/550");
    expect_str("remote", report.rcpts[0].remote_mta, "mx.example.net");
    expect_str("reporting", report.rcpts[0].reporting_mta, "mx.example.org");
    expect_rcpt(&report.rcpts[1], "mia@example.invalid", "failed", "5.0.0", NULL,
                "No such domain.");
    expect_reason_or_rules(&report.rcpts[1], "hostunknown");
    report_clear(&report);
}
END_TEST

/* ---- OpenSMTPD ---- */

START_TEST(test_opensmtpd)
{
    BOUNCE_REPORT report;

    detect("opensmtpd.eml", &report);
    expect_report(&report, "opensmtpd", 2);
    expect_rcpt(&report.rcpts[0], "nina@example.net", "failed", "5.1.1", "550",
                "550 5.1.1 <nina@example.net>: Recipient address rejected: User unknown");
    expect_rcpt(&report.rcpts[1], "oscar@nowhere.example", "failed", NULL, NULL,
                "Domain does not exist");
    expect_reason(&report.rcpts[1], "hostunknown");
    report_clear(&report);
}
END_TEST

START_TEST(test_opensmtpd_delayed)
{
    BOUNCE_REPORT report;

    detect("opensmtpd-delayed.eml", &report);
    expect_report(&report, "opensmtpd", 1);
    expect_rcpt(&report.rcpts[0], "paul@example.com", "delayed", NULL, NULL,
                "Network error on destination MXs");
    expect_reason(&report.rcpts[0], "networkerror");
    report_clear(&report);
}
END_TEST

/* ---- DragonFly Mail Agent ---- */

START_TEST(test_dragonfly)
{
    BOUNCE_REPORT report;

    detect("dragonfly.eml", &report);
    expect_report(&report, "dragonfly", 1);
    expect_rcpt(&report.rcpts[0], "quinn@example.net", "failed", "5.1.1", "550",
                "550 5.1.1 <quinn@example.net>: Recipient address rejected: User unknown");
    expect_str("remote", report.rcpts[0].remote_mta, "mx.example.net");
    expect_str("reporting", report.rcpts[0].reporting_mta, "box.example.org");
    report_clear(&report);
}
END_TEST

START_TEST(test_dragonfly_expired)
{
    BOUNCE_REPORT report;

    detect("dragonfly-expired.eml", &report);
    expect_report(&report, "dragonfly", 1);
    expect_rcpt(&report.rcpts[0], "rita@example.com", "failed", NULL, NULL,
                "Could not deliver for the last 432000 seconds. Giving up.");
    expect_reason(&report.rcpts[0], "expired");
    report_clear(&report);
}
END_TEST

/* ---- Messaging Server ---- */

START_TEST(test_messagingserver)
{
    BOUNCE_REPORT report;

    detect("messagingserver.eml", &report);
    expect_report(&report, "messagingserver", 1);
    expect_rcpt(&report.rcpts[0], "sam@example.net", "failed", "5.1.1", "550",
                "550 5.1.1 <sam@example.net>... User unknown");
    expect_str("remote", report.rcpts[0].remote_mta, "mx.example.net");
    expect_str("reporting", report.rcpts[0].reporting_mta, "ms.example.org");
    report_clear(&report);
}
END_TEST

/* ---- Domino, Notes ---- */

START_TEST(test_domino)
{
    BOUNCE_REPORT report;

    detect("domino.eml", &report);
    expect_report(&report, "domino", 1);
    expect_rcpt(&report.rcpts[0], "tina@notes.example.org", "failed", NULL, NULL,
                "User Tina Example (tina@notes.example.org) not listed in Domino Directory");
    expect_reason(&report.rcpts[0], "userunknown");
    report_clear(&report);
}
END_TEST

START_TEST(test_notes)
{
    BOUNCE_REPORT report;

    detect("notes.eml", &report);
    expect_report(&report, "notes", 1);
    expect_rcpt(&report.rcpts[0], "uma@gw.example.org", "failed", NULL, NULL,
                "User not listed in public Name & Address Book");
    expect_reason(&report.rcpts[0], "userunknown");
    report_clear(&report);
}
END_TEST

/* ---- PowerMTA, Apache James ---- */

START_TEST(test_powermta_category)
{
    BOUNCE_REPORT report;

    detect("powermta.eml", &report);
    expect_report(&report, "powermta", 1);
    expect_rcpt(&report.rcpts[0], "victor@example.net", "failed", "5.0.0", "550",
                "550 Requested action not taken: mailbox unavailable");
    expect_str("remote", report.rcpts[0].remote_mta, "mx.example.net");
    /* X-PowerMTA-BounceCategory: bad-mailbox */
    expect_reason(&report.rcpts[0], "userunknown");
    report_clear(&report);
}
END_TEST

START_TEST(test_apachejames)
{
    BOUNCE_REPORT report;

    detect("apachejames.eml", &report);
    expect_report(&report, "apachejames", 1);
    expect_rcpt(&report.rcpts[0], "wendy@example.net", "failed", "5.7.1", "550",
                "550 5.7.1 Message rejected as spam by Content Filtering");
    report_clear(&report);
}
END_TEST

/* ---- no detector claims another format's bounce ---- */

static const struct {
    const char *sample;
    const DETECTOR *owner;
} samples[] = {
    { "postfix-report.eml", &detector_postfix },
    { "postfix-plain.eml", &detector_postfix },
    { "postfix-transcript.eml", &detector_postfix },
    { "postfix-inline.eml", &detector_postfix },
    { "exim-failed.eml", &detector_exim },
    { "exim-pipe.eml", &detector_exim },
    { "exim-delayed.eml", &detector_exim },
    { "qmail.eml", &detector_qmail },
    { "qmail-helo.eml", &detector_qmail },
    { "courier.eml", &detector_courier },
    { "opensmtpd.eml", &detector_opensmtpd },
    { "opensmtpd-delayed.eml", &detector_opensmtpd },
    { "dragonfly.eml", &detector_dragonfly },
    { "dragonfly-expired.eml", &detector_dragonfly },
    { "messagingserver.eml", &detector_messagingserver },
    { "domino.eml", &detector_domino },
    { "notes.eml", &detector_notes },
    { "powermta.eml", &detector_powermta },
    { "apachejames.eml", &detector_apachejames },
};

static const DETECTOR *const group_a[] = {
    &detector_postfix, &detector_exim, &detector_qmail, &detector_courier,
    &detector_opensmtpd, &detector_dragonfly, &detector_messagingserver,
    &detector_domino, &detector_notes, &detector_powermta, &detector_apachejames,
};

START_TEST(test_no_foreign_claims)
{
    BOUNCE_MSG msg;

    load(samples[_i].sample, &msg);
    for (size_t d = 0; d < sizeof(group_a) / sizeof(group_a[0]); d++) {
        BOUNCE_REPORT report;
        int added;

        if (group_a[d] == samples[_i].owner || !group_a[d]->match(&msg))
            continue;
        memset(&report, 0, sizeof(report));
        added = group_a[d]->parse(&msg, &report);
        ck_assert_msg(added == 0, "%s claims %s (%d recipients)", group_a[d]->name,
                      samples[_i].sample, added);
        report_clear(&report);
    }
    message_free(&msg);
}
END_TEST

/* X-Failed-Recipients alone (Gmail and others copied it) is not Exim's. */
START_TEST(test_exim_needs_more_than_the_header)
{
    static const char raw[] =
        "From: Mail Delivery Subsystem <mailer-daemon@mail.example.net>\n"
        "To: sender@example.org\n"
        "Subject: Delivery Status Notification (Failure)\n"
        "X-Failed-Recipients: yvonne@example.com\n"
        "Message-ID: <0123456789abcdef@mail.example.net>\n"
        "\n"
        "Your message wasn't delivered to yvonne@example.com.\n";
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;
    SUP_ERR err;

    ck_assert_int_eq(message_parse(raw, sizeof(raw) - 1, "-", NULL, NULL, &msg, &err), 0);
    memset(&report, 0, sizeof(report));
    ck_assert(detector_exim.match(&msg));
    ck_assert_int_eq(detector_exim.parse(&msg, &report), 0);
    report_clear(&report);
    message_free(&msg);
}
END_TEST

/* A message that is no bounce at all. */
START_TEST(test_plain_message_is_nobodys)
{
    static const char raw[] =
        "From: Alice <alice@example.org>\n"
        "To: bob@example.net\n"
        "Subject: failure notice\n"
        "\n"
        "Hi Bob, <carol@example.com>: see the failure notice below.\n"
        "  dave@example.com\n";
    BOUNCE_MSG msg;
    SUP_ERR err;

    ck_assert_int_eq(message_parse(raw, sizeof(raw) - 1, "-", NULL, NULL, &msg, &err), 0);
    for (size_t d = 0; d < sizeof(group_a) / sizeof(group_a[0]); d++) {
        BOUNCE_REPORT report;

        memset(&report, 0, sizeof(report));
        ck_assert_msg(group_a[d]->parse(&msg, &report) == 0, "%s claims a plain message",
                      group_a[d]->name);
        report_clear(&report);
    }
    message_free(&msg);
}
END_TEST

static Suite *detectors_a_suite(void)
{
    Suite *s = suite_create("detectors-a");
    TCase *formats = tcase_create("formats");
    TCase *claims = tcase_create("claims");

    tcase_add_test(formats, test_postfix_report);
    tcase_add_test(formats, test_postfix_plain_refused_greeting);
    tcase_add_test(formats, test_postfix_long_mail_name);
    tcase_add_test(formats, test_postfix_transcript);
    tcase_add_test(formats, test_postfix_inlined_in_text);
    tcase_add_test(formats, test_exim_failed);
    tcase_add_test(formats, test_exim_pipe);
    tcase_add_test(formats, test_exim_delayed_helo);
    tcase_add_test(formats, test_qmail);
    tcase_add_test(formats, test_qmail_helo_rejected);
    tcase_add_test(formats, test_courier);
    tcase_add_test(formats, test_opensmtpd);
    tcase_add_test(formats, test_opensmtpd_delayed);
    tcase_add_test(formats, test_dragonfly);
    tcase_add_test(formats, test_dragonfly_expired);
    tcase_add_test(formats, test_messagingserver);
    tcase_add_test(formats, test_domino);
    tcase_add_test(formats, test_notes);
    tcase_add_test(formats, test_powermta_category);
    tcase_add_test(formats, test_apachejames);
    suite_add_tcase(s, formats);

    tcase_add_loop_test(claims, test_no_foreign_claims, 0,
                        (int) (sizeof(samples) / sizeof(samples[0])));
    tcase_add_test(claims, test_exim_needs_more_than_the_header);
    tcase_add_test(claims, test_plain_message_is_nobodys);
    suite_add_tcase(s, claims);
    return s;
}

int main(void)
{
    SRunner *runner;
    int failed;

    g_mime_init();
    runner = srunner_create(detectors_a_suite());
    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    g_mime_shutdown();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
