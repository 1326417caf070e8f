/*
 * check_detectors_b.c: unit tests of the detectors of group b (Sendmail,
 * the Japanese carriers, mail filters and gateways); the toolkit they
 * share is tested in check_toolkit.c.
 *
 * Each detector reads small hand-made samples in data/detectors/b/,
 * modelled on its format and parsed by the real message.c.  A table row
 * names the sample, the detector, and what it must report for one
 * recipient; every sample must also be claimed by that detector through
 * detect_report(), so no detector tried earlier steals it.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "bounce.h"
#include "detectors/detector.h"
#include "parse/message.h"
#include "toolkit.h"
#include "sample.h"

#define DETECTOR_ENTRY(name) extern const DETECTOR detector_##name;
#include "detectors/list-b.def"
#undef DETECTOR_ENTRY

#define DATA_DIR "detectors/b"

/* ---- loading samples ------------------------------------------------ */

static void load(const char *name, BOUNCE_MSG *msg)
{
    sample_parse(DATA_DIR, name, NULL, msg);
}

/* Run one detector over a sample: it must match and report. */
static void run(const DETECTOR *d, const char *name, BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    load(name, msg);
    memset(report, 0, sizeof(*report));
    ck_assert_msg(d->match(msg), "%s: %s does not match", name, d->name);
    ck_assert_msg(d->parse(msg, report) > 0, "%s: %s reports nothing", name, d->name);
    ck_assert_int_eq(report->kind, REPORT_BOUNCE);
}

/* Free the strings of a recipient that is in no report. */
static void done(BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    report_clear(report);
    message_free(msg);
}

#define ck_assert_opt_str(got, want, what)                                   \
    ck_assert_msg(((got) == NULL && (want) == NULL)                          \
                  || ((got) != NULL && (want) != NULL && strcmp((got), (want)) == 0), \
                  "%s: got \"%s\", want \"%s\"", (what),                     \
                  (got) ? (got) : "(null)", (want) ? (want) : "(null)")

/* ---- one row per reported recipient -------------------------------- */

typedef struct expect {
    const char *file;
    const DETECTOR *detector;
    size_t count;               /* recipients the sample reports */
    size_t index;               /* 0-based, in message order */
    const char *recipient;
    const char *action;
    const char *status;
    const char *replycode;
    const char *diagnostic;
    const char *reason;         /* set by the detector itself, or NULL */
    const char *remote_mta;
} EXPECT;

static const EXPECT cases[] = {
    /* Sendmail: a multi-line reply is joined; the DSN only had its first line. */
    { "sendmail-multiline.eml", &detector_sendmail, 2, 0, "alice@example.org", "failed", "5.7.1", "550",
      "550 5.7.1 Your message looks like bulk mail and was not accepted. Read the policy at "
      "https://postmaster.example.org/bulk before you retry.", NULL, "mx1.example.org" },
    { "sendmail-multiline.eml", &detector_sendmail, 2, 1, "bob@example.com", "failed", "5.1.1", "550",
      "550 5.1.1 <bob@example.com>... User unknown", NULL, "mx.example.com" },
    /* A local mailer failed: its output and sendmail's line, reason stated by X-Unix. */
    { "sendmail-mailer.eml", &detector_sendmail, 1, 0, "tickets@example.jp", "failed", "5.3.0", "554",
      "ticket-import: cannot connect to the ticket database 554 5.3.0 unknown mailer error 75",
      "mailererror", NULL },
    /* Forwarded inline, quoted with "> ". */
    { "sendmail-quoted.eml", &detector_sendmail, 1, 0, "carol@example.org", "failed", "5.1.1", "550",
      "550 5.1.1 <carol@example.org>... User unknown", NULL, "mx.example.org" },
    /* A warning: delayed, sendmail's own words when the DSN has none. */
    { "sendmail-warning.eml", &detector_sendmail, 1, 0, "dave@example.org", "delayed", "4.4.1", NULL,
      "Deferred: Connection timed out with mx.example.org. Warning: message still undelivered after 4 hours",
      NULL, "mx.example.org" },
    { "v5sendmail.eml", &detector_v5sendmail, 2, 0, "erin@example.org", "failed", NULL, "550",
      "550 No such mailbox here: erin", NULL, "mail.example.org" },
    { "v5sendmail.eml", &detector_v5sendmail, 2, 1, "frank@lost.example.com", "failed", NULL, "550",
      "550 Host unknown (Authoritative answer from name server)", NULL, NULL },
    /* No address line: the To: of the unsent message; the subject says it expired. */
    { "v5sendmail-timeout.eml", &detector_v5sendmail, 1, 0, "grace@slow.example.org", "failed", NULL, "421",
      "Deferred: Connection timed out during user open with slow.example.org", "expired", NULL },
    { "returnedmail.eml", &detector_returnedmail, 2, 0, "henry@example.co.jp", "failed", NULL, NULL,
      "User unknown", NULL, NULL },
    { "returnedmail.eml", &detector_returnedmail, 2, 1, "iris@example.co.jp", "failed", NULL, NULL,
      "Mailbox disk quota exceeded", NULL, NULL },
    { "deliveryfailure.eml", &detector_deliveryfailure, 2, 0, "jack@example.co.jp", "failed", NULL, NULL,
      "This user doesn't have a example.co.jp account (jack@example.co.jp) [0]", NULL, NULL },
    { "deliveryfailure.eml", &detector_deliveryfailure, 2, 1, "kate@example.co.jp", "failed", "4.3.2", NULL,
      "Resources temporarily unavailable, please try again later [#4.3.2]. "
      "I'm not going to try again; this message has been in the queue too long.", "expired", NULL },
    { "technicaldetails.eml", &detector_technicaldetails, 1, 0, "liam@example.com", "failed", "5.1.1", "550",
      "550 5.1.1 <liam@example.com>... Mailbox unavailable", NULL, "192.0.2.30" },
    { "qmailclone.eml", &detector_qmailclone, 1, 0, "mia@example.com", "failed", NULL, NULL,
      "child status 100...The e-mail message could not be delivered because the user's mailfolder is full.",
      NULL, NULL },
    { "errorsending.eml", &detector_errorsending, 1, 0, "paul@example.org", "failed", "5.1.1", "550",
      "550 5.1.1 No such user", NULL, "mx.example.org" },
    { "activehunter.eml", &detector_activehunter, 1, 0, "quinn@example.jp", "failed", "5.1.1", "550",
      "550 5.1.1 <quinn@example.jp>: Recipient address rejected: User unknown", NULL, NULL },
    { "amavis.eml", &detector_amavis, 1, 0, "rose@example.com", "failed", "5.7.0", "554",
      "554 5.7.0 Reject, id=12345-01 - SPAM", "spamdetected", NULL },
    { "barracuda.eml", &detector_barracuda, 1, 0, "sam@example.org", "failed", "5.7.1", "550",
      "550 5.7.1 Message content rejected, UBE, id=00001-01-001", "spamdetected", NULL },
    { "bigfoot.eml", &detector_bigfoot, 1, 0, "tina@example.org", "failed", "5.7.1", "553",
      "553 Invalid recipient tina@example.org (Mode: normal)", NULL, "mx.example.org" },
    { "biglobe.eml", &detector_biglobe, 1, 0, "uma@example.biglobe.ne.jp", "failed", NULL, NULL,
      "The number of messages in recipient's mailbox exceeded the local limit.", "mailboxfull", NULL },
    { "einsundeins.eml", &detector_einsundeins, 2, 0, "vera@example.fr", "failed", "5.1.1", "550",
      "550 5.1.1 Mailbox does not exist", NULL, "mx.example.fr" },
    { "einsundeins.eml", &detector_einsundeins, 2, 1, "walt@example.eu", "failed", NULL, NULL,
      "Mail size limit exceeded. For explanation visit http://postmaster.example.de/error-messages",
      "mesgtoobig", NULL },
    { "ezweb.eml", &detector_ezweb, 1, 0, "xavier@ezweb.ne.jp", "failed", NULL, "550",
      "550 <xavier@ezweb.ne.jp>: User unknown", NULL, NULL },
    { "ezweb-disabled.eml", &detector_ezweb, 1, 0, "yuki@ezweb.ne.jp", "failed", NULL, "550",
      "550 user unknown (in reply to RCPT TO command)", "suspend", NULL },
    { "fml.eml", &detector_fml, 1, 0, "staff@lists.example.org", "failed", NULL, NULL,
      "You are not a member of this mailing list <staff@lists.example.org>.", "rejected", NULL },
    { "imailserver.eml", &detector_imailserver, 1, 0, "zoe@example.com", "failed", NULL, NULL,
      "User mailbox exceeds allowed size", "mailboxfull", NULL },
    { "imailserver-reply.eml", &detector_imailserver, 1, 0, "adam@example.jp", "failed", NULL, "550",
      "550 REJECTED - message contains a listed URL see http://lookup.example.org/ for details", NULL, NULL },
    { "interscanmss.eml", &detector_interscanmss, 2, 0, "beth@example.jp", "failed", "5.1.1", "550",
      "550 5.1.1 <beth@example.jp>... User unknown", NULL, NULL },
    { "interscanmss.eml", &detector_interscanmss, 2, 1, "carl@example.jp", "failed", NULL, NULL,
      "Unable to deliver message to <carl@example.jp> (and other recipients in the same domain).",
      "userunknown", NULL },
    { "kddi.eml", &detector_kddi, 1, 0, "dora@sample.dion.ne.jp", "failed", NULL, NULL,
      "As their mailbox is full.", "mailboxfull", NULL },
    { "mailfoundry.eml", &detector_mailfoundry, 1, 0, "eve@example.org", "failed", NULL, "550",
      "550 <eve@example.org> No such user here", NULL, "mx.example.org" },
    { "mailmarshalsmtp.eml", &detector_mailmarshalsmtp, 2, 0, "fred@example.com", "failed", "5.1.1", "550",
      "550 5.1.1 User unknown", NULL, "192.0.2.60" },
    { "mailmarshalsmtp.eml", &detector_mailmarshalsmtp, 2, 1, "gina@example.com", "failed", "5.1.1", "550",
      "550 5.1.1 User unknown", NULL, "192.0.2.60" },
    { "mcafee.eml", &detector_mcafee, 1, 0, "hugo@example.jp", "failed", "5.1.1", "550",
      "550 5.1.1 <hugo@example.jp>... User unknown", NULL, "192.0.2.70" },
    { "mfilter.eml", &detector_mfilter, 1, 0, "ivan@example.com", "failed", "5.1.1", "550",
      "550 5.1.1 unknown user <ivan@example.com>", NULL, NULL },
    { "mxlogic.eml", &detector_mxlogic, 2, 0, "judy@example.co.jp", "failed", "5.1.1", "550",
      "550 5.1.1 <judy@example.co.jp>: Recipient address rejected: User unknown in local recipient table",
      NULL, NULL },
    { "mxlogic.eml", &detector_mxlogic, 2, 1, "kyle@example.org", "failed", "5.2.1", "550",
      "550 5.2.1 Mailbox disabled", NULL, "mx.example.org" },
    { "surfcontrol.eml", &detector_surfcontrol, 1, 0, "lena@example.org", "failed", NULL, "550",
      "550 lena@example.org... No such user", NULL, "192.0.2.90" },
    /* Refused at the greeting; a pipelined RCPT TO refused after ">>> DATA". */
    { "sendmail-pipelined.eml", &detector_sendmail, 2, 0, "oscar@example.net", "failed", "5.7.1", "554",
      "554 5.7.1 mx1.example.net Service unavailable; client host blocked", NULL, "mx1.example.net" },
    { "sendmail-pipelined.eml", &detector_sendmail, 2, 1, "nora@example.org", "failed", "5.1.1", "550",
      "550 5.1.1 <nora@example.org>... User unknown", NULL, "mx.example.org" },
};

/* ---- the SMTP command the format states ------------------------------ */

typedef struct expect_command {
    const char *file;
    const DETECTOR *detector;
    size_t index;
    const char *command;        /* bounce.h's name, or NULL: the format says none */
} EXPECT_COMMAND;

static const EXPECT_COMMAND commands[] = {
    /* the ">>>" line before the reply */
    { "sendmail-multiline.eml", &detector_sendmail, 0, "DATA" },
    { "sendmail-multiline.eml", &detector_sendmail, 1, "RCPT" },
    /* no ">>>" line: the greeting; ">>> DATA" and two replies: the first
     * answered the pipelined RCPT TO, the "503 Need RCPT" DATA */
    { "sendmail-pipelined.eml", &detector_sendmail, 0, "CONN" },
    { "sendmail-pipelined.eml", &detector_sendmail, 1, "RCPT" },
    { "v5sendmail.eml", &detector_v5sendmail, 0, "RCPT" },
    /* sendmail's own line, no server reply */
    { "v5sendmail.eml", &detector_v5sendmail, 1, NULL },
    { "mfilter.eml", &detector_mfilter, 0, "DATA" },          /* "-------SMTP command" */
    /* "SMTP:RCPT host ..." */
    { "technicaldetails.eml", &detector_technicaldetails, 0, "RCPT" },
    /* "(Error following RCPT command)" */
    { "errorsending.eml", &detector_errorsending, 0, "RCPT" },
    { "einsundeins.eml", &detector_einsundeins, 0, "RCPT" },  /* "for RCPT command" */
    { "einsundeins.eml", &detector_einsundeins, 1, NULL },
};

START_TEST(test_stated_command)
{
    const EXPECT_COMMAND *e = &commands[_i];
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;
    char what[256];

    run(e->detector, e->file, &msg, &report);
    ck_assert_msg(e->index < report.count, "%s: no recipient #%zu", e->file, e->index + 1);
    snprintf(what, sizeof(what), "%s #%zu command", e->file, e->index + 1);
    ck_assert_opt_str(report.rcpts[e->index].command, e->command, what);
    done(&msg, &report);
}
END_TEST

START_TEST(test_detector_case)
{
    const EXPECT *e = &cases[_i];
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;
    const BOUNCE_RCPT *r;
    char what[256];

    run(e->detector, e->file, &msg, &report);
    ck_assert_msg(report.count == e->count, "%s: %zu recipients, want %zu",
                  e->file, report.count, e->count);
    r = &report.rcpts[e->index];
    snprintf(what, sizeof(what), "%s #%zu recipient", e->file, e->index + 1);
    ck_assert_opt_str(r->recipient, e->recipient, what);
    snprintf(what, sizeof(what), "%s #%zu action", e->file, e->index + 1);
    ck_assert_opt_str(r->action, e->action, what);
    snprintf(what, sizeof(what), "%s #%zu status", e->file, e->index + 1);
    ck_assert_opt_str(r->status, e->status, what);
    snprintf(what, sizeof(what), "%s #%zu replycode", e->file, e->index + 1);
    ck_assert_opt_str(r->replycode, e->replycode, what);
    snprintf(what, sizeof(what), "%s #%zu diagnostic", e->file, e->index + 1);
    ck_assert_opt_str(r->diagnostic, e->diagnostic, what);
    snprintf(what, sizeof(what), "%s #%zu reason", e->file, e->index + 1);
    ck_assert_opt_str(r->reason, e->reason, what);
    snprintf(what, sizeof(what), "%s #%zu remote_mta", e->file, e->index + 1);
    ck_assert_opt_str(r->remote_mta, e->remote_mta, what);
    done(&msg, &report);
}
END_TEST

/* detect_report() hands every sample to its own detector. */
START_TEST(test_detect_report_picks_detector)
{
    const EXPECT *e = &cases[_i];
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;

    load(e->file, &msg);
    memset(&report, 0, sizeof(report));
    ck_assert_int_gt(detect_report(&msg, &report), 0);
    ck_assert_msg(report.detector != NULL && strcmp(report.detector, e->detector->name) == 0,
                  "%s: claimed by %s, want %s", e->file,
                  report.detector ? report.detector : "(none)", e->detector->name);
    done(&msg, &report);
}
END_TEST

/* ---- what a detector must not take ---------------------------------- */

/* A genuine qmail bounce has qmailclone's (X4's) subject but is qmail-send's own. */
START_TEST(test_qmailclone_leaves_qmail_alone)
{
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;

    load("qmailclone-qmail.eml", &msg);
    memset(&report, 0, sizeof(report));
    ck_assert(detector_qmailclone.match(&msg));
    ck_assert_int_eq(detector_qmailclone.parse(&msg, &report), 0);
    ck_assert_uint_eq(report.count, 0);
    done(&msg, &report);
}
END_TEST

/* Sendmail 5's transcript under a "Returned mail: User unknown" subject
 * is v5sendmail's, though the sendmail detector looks at that subject. */
START_TEST(test_sendmail_leaves_v5_alone)
{
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;

    load("v5sendmail.eml", &msg);
    memset(&report, 0, sizeof(report));
    ck_assert_int_eq(detector_sendmail.parse(&msg, &report), 0);
    done(&msg, &report);
}
END_TEST

/* Every group-b detector declines a message that is no bounce. */
START_TEST(test_no_detector_takes_plain_mail)
{
    static const char plain[] =
        "From: Alice <alice@example.org>\n"
        "To: Bob <bob@example.com>\n"
        "Subject: Returned mail: the book you lent me\n"
        "Date: Mon, 2 Mar 2020 10:00:00 +0000\n"
        "\n"
        "Hi Bob, I have the book. <carol@example.org>: she wants it next.\n"
        "550 copies were printed.\n";
    static const DETECTOR *const all[] = {
#define DETECTOR_ENTRY(name) &detector_##name,
#include "detectors/list-b.def"
#undef DETECTOR_ENTRY
        NULL
    };
    BOUNCE_MSG msg;
    SUP_ERR err;
    MESSAGE_LIMITS limits = { 0, 0, 0, 0, 0 };

    ck_assert_int_eq(message_parse(plain, sizeof(plain) - 1, "plain", NULL, &limits, &msg, &err), 0);
    for (size_t i = 0; all[i] != NULL; i++) {
        BOUNCE_REPORT report;

        memset(&report, 0, sizeof(report));
        if (all[i]->match(&msg))
            ck_assert_msg(all[i]->parse(&msg, &report) == 0, "%s took a plain message", all[i]->name);
        report_clear(&report);
    }
    message_free(&msg);
}
END_TEST

static Suite *detectors_b_suite(void)
{
    Suite *s = suite_create("detectors-b");
    TCase *tc = tcase_create("formats");
    int ncases = (int) (sizeof(cases) / sizeof(cases[0]));

    tcase_add_loop_test(tc, test_detector_case, 0, ncases);
    tcase_add_loop_test(tc, test_detect_report_picks_detector, 0, ncases);
    tcase_add_loop_test(tc, test_stated_command, 0,
                        (int) (sizeof(commands) / sizeof(commands[0])));
    tcase_add_test(tc, test_qmailclone_leaves_qmail_alone);
    tcase_add_test(tc, test_sendmail_leaves_v5_alone);
    tcase_add_test(tc, test_no_detector_takes_plain_mail);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    g_mime_init();
    sr = srunner_create(detectors_b_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    g_mime_shutdown();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
