/*
 * check_detectors_c.c: unit tests of the group c detectors (providers:
 * Amazon SES/WorkMail, Google, Microsoft, Yahoo, Yandex, Zoho, Mail.ru,
 * GMX, SendGrid, Verizon) and their shared helpers (c_util.c).
 *
 * Each sample in data/detectors/c/ is a small hand-made message in the
 * provider's format; it goes through the real parser (message_parse) and
 * the real detector chain (detect_report), and every field the detector
 * is responsible for is checked.
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
#include "detectors/formats.h"
#include "detectors/toolkit.h"
#include "sample.h"

#define DATA_DIR "detectors/c"

/* What one reported recipient must look like; NULL = must be NULL, "*" =
 * not checked.  diag is a substring the diagnostic must contain. */
struct want_rcpt {
    const char *recipient;
    const char *action;
    const char *status;
    const char *replycode;
    const char *reason;
    const char *diag;
    const char *remote;
    const char *reporting;
};

struct sample {
    const char *file;
    const char *detector;
    enum report_kind kind;
    size_t count;
    struct want_rcpt rcpts[3];
};

static const struct sample samples[] = {
    { "amazonses-dsn.eml", "amazonses", REPORT_BOUNCE, 2, {
        /* SES's wrapper is taken off; the quoted status beats 5.0.0 */
        { "alice@example.com", "failed", "5.2.2", "550", NULL,
          "550 5.2.2 <alice@example.com>... Mailbox Full", "[192.0.2.25]",
          "a1-2.smtp-out.amazonses.com" },
        /* "Message expired" is SES's verdict; the code is the remote's */
        { "bob@example.net", "failed", "4.4.7", "421", "expired",
          "<421 4.4.2 Connection timed out>", NULL, "a1-2.smtp-out.amazonses.com" } } },
    { "amazonses-sns-bounce.eml", "amazonses", REPORT_BOUNCE, 2, {
        /* JSON inside the SNS envelope, folded with "!", escapes decoded,
         * a two-line response joined, bounceSubType NoEmail stated */
        { "carol@example.com", "failed", "5.1.1", "550", "userunknown",
          "550 5.1.1 The email account that you tried to reach does not exist. "
          "Please try double-checking the recipient\xe2\x80\x99s address", NULL,
          "a1-3.smtp-out.amazonses.com" },
        { "dave@example.net", "failed", "5.0.0", NULL, "userunknown",
          "Permanent bounce, NoEmail", NULL, "a1-3.smtp-out.amazonses.com" } } },
    { "amazonses-complaint.eml", "amazonses", REPORT_COMPLAINT, 1, {
        { "erin@example.com", NULL, NULL, NULL, "feedback", NULL, NULL, NULL } } },
    { "amazonses-delivery.eml", "amazonses", REPORT_BOUNCE, 1, {
        { "frank@example.com", "delivered", "2.6.0", "250", "delivered",
          "250 2.6.0 Message received", NULL, "a1-4.smtp-out.amazonses.com" } } },
    { "receivingses.eml", "receivingses", REPORT_BOUNCE, 1, {
        { "heidi@example.com", "failed", "5.2.2", "552", NULL, "552 5.2.2 Mailbox full",
          NULL, "inbound-smtp.eu-west-1.amazonaws.com" } } },
    { "amazonworkmail.eml", "amazonworkmail", REPORT_BOUNCE, 1, {
        /* DSN fields in quoted-printable text after "Technical report:" */
        { "ivan@example.com", "failed", "5.1.1", "550", NULL,
          "550 5.1.1 <ivan@example.com>... User Unknown", NULL,
          "a1-5.smtp-out.us-west-2.amazonses.com" } } },
    { "gmail-failure.eml", "gmail", REPORT_BOUNCE, 1, {
        /* "554 554 5.7.0 ... (state 18)." -> the server's words; the DATA
         * stage is the command (test_gmail_state), classify.c's to read */
        { "judy@example.com", NULL, "5.7.0", "554", NULL, "554 5.7.0 Header error",
          NULL, NULL } } },
    { "gmail-delay.eml", "gmail", REPORT_BOUNCE, 1, {
        { "niaj@example.org", "delayed", "4.3.0", "451", "*",
          "451 4.3.0 Mail server temporarily rejected message", "mx.example.org", NULL } } },
    { "googlegroups.eml", "googlegroups", REPORT_BOUNCE, 1, {
        { "announce@googlegroups.com", NULL, NULL, NULL, "rejected", "Google Groups",
          NULL, NULL } } },
    { "googleworkspace.eml", "googleworkspace", REPORT_BOUNCE, 1, {
        /* the text's three-line response is longer than the DSN's; a
         * server answered, so the rule table decides the reason */
        { "olivia@example.com", "failed", "5.1.1", "550", NULL,
          "550 5.1.1 The email account that you tried to reach does not exist. Please try "
          "double-checking the recipient's email address for typos or unnecessary spaces. "
          "https://support.google.com/mail/?p=NoSuchUser", "mx.example.com", "googlemail.com" } } },
    { "googleworkspace-dns.eml", "googleworkspace", REPORT_BOUNCE, 1, {
        /* empty DSN part: the recipient from X-Failed-Recipients; no
         * server answered, Google's DNS verdict states the reason */
        { "quinn@example.invalid", NULL, NULL, NULL, "networkerror",
          "DNS Error: 12345 DNS type 'mx' lookup of example.invalid responded with code "
          "NXDOMAIN Domain name not found: example.invalid", NULL, NULL } } },
    { "office365.eml", "office365", REPORT_BOUNCE, 2, {
        { "peggy@example.com", "failed", "5.1.10", "550", "userunknown",
          "RESOLVER.ADR.RecipientNotFound", NULL, "AB1PR01MB0001.eurprd01.prod.outlook.com" },
        /* the text adds "(Socket error code 10061)"; the remote is the
         * host that refused, not Office 365's own server */
        { "rupert@example.net", "failed", "5.4.316", "550", "expired",
          "connection refused(Socket error code 10061)", "mx.example.net",
          "AB1PR01MB0001.eurprd01.prod.outlook.com" } } },
    { "exchange2007.eml", "exchange2007", REPORT_BOUNCE, 1, {
        { "sybil@corp.example.com", "failed", "5.1.1", "550", "userunknown",
          "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", NULL, "mail.corp.example.com" } } },
    { "exchange2003.eml", "exchange2003", REPORT_BOUNCE, 2, {
        { "trent@corp.example.com", NULL, NULL, NULL, "userunknown",
          "The recipient name is not recognized MSEXCH:IMS:CORP:SITE:EXCHANGE 0 (000C05A6)",
          NULL, NULL },
        { "walter@corp.example.com", NULL, NULL, NULL, "networkerror", "Too many hops",
          NULL, NULL } } },
    /* screen names are aol.com addresses; an address stays as written */
    { "aol.eml", "aol", REPORT_BOUNCE, 2, {
        { "zelda@aol.com", "failed", NULL, NULL, "*",
          "not accepting mail from list@example.org:", NULL, NULL },
        { "amy@aol.com", "failed", NULL, NULL, "*", "Your mail to the following recipients",
          NULL, NULL } } },
    /* "<a@x>:" lines of the notice, not the returned message's To */
    { "sina.eml", "sina", REPORT_BOUNCE, 2, {
        { "bea@sina.com", "failed", NULL, NULL, NULL, NULL, NULL, NULL },
        { "cid@sina.com", "failed", NULL, NULL, NULL, NULL, NULL, NULL } } },
    /* the X.400 form of the address: "...;dda:SMTP=yvonne@example.com; on" */
    { "exchange2003-x400.eml", "exchange2003", REPORT_BOUNCE, 1, {
        { "yvonne@example.com", NULL, NULL, NULL, "userunknown",
          "The recipient name is not recognized",
          NULL, NULL } } },
    { "outlook.eml", "outlook", REPORT_BOUNCE, 1, {
        /* no Diagnostic-Code: the text's sentence explains */
        { "victor@example.com", "failed", "4.4.7", NULL, NULL,
          "unable to connect successfully to the destination mail server", NULL,
          "BAY004-OMC1S18.hotmail.com" } } },
    { "yahoo.eml", "yahoo", REPORT_BOUNCE, 2, {
        { "uma@example.com", NULL, "5.1.1", "550", NULL,
          "550 5.1.1 <uma@example.com>... User Unknown", NULL, NULL },
        { "xavier@example.net", NULL, "4.4.2", "421", NULL, "421 4.4.2 Connection timed out",
          NULL, NULL } } },
    { "yandex.eml", "yandex", REPORT_BOUNCE, 2, {
        { "yvonne@example.com", "failed", "5.2.2", "550", NULL,
          "550 5.2.2 <yvonne@example.com>... Mailbox Full", "mx.example.com",
          "forward1.mail.yandex.net" },
        /* no Diagnostic-Code in the DSN: the text's Postfix line */
        { "zed@example.net", "failed", "4.4.1", NULL, NULL,
          "connect to example.net[192.0.2.61]:25: Connection timed out", NULL,
          "forward1.mail.yandex.net" } } },
    { "zoho.eml", "zoho", REPORT_BOUNCE, 2, {
        { "amy@example.com", NULL, "5.1.1", "550", NULL,
          "550 5.1.1 <amy@example.com>... User Unknown", NULL, NULL },
        { "ben@example.net", NULL, NULL, "421", "expired", "421 Host not reachable.", NULL, NULL } } },
    { "mailru.eml", "mailru", REPORT_BOUNCE, 2, {
        /* the English section; a two-line reply joined */
        { "cleo@example.com", NULL, "5.1.1", "550", NULL,
          "550 5.1.1 <cleo@example.com>... User Unknown Check the address", "mx.example.com",
          NULL },
        { "dan@example.net", NULL, NULL, NULL, "expired", "retry timeout exceeded", NULL, NULL } } },
    { "gmx.eml", "gmx", REPORT_BOUNCE, 2, {
        { "eve@example.com", NULL, "5.2.2", NULL, NULL,
          "5.2.2 <eve@example.com>... Mailbox Full", "mx.example.com", NULL },
        { "fay@example.net", NULL, NULL, NULL, "expired", "delivery retry timeout exceeded",
          NULL, NULL } } },
    { "sendgrid.eml", "sendgrid", REPORT_BOUNCE, 2, {
        { "gus@example.com", "failed", "5.1.1", "550", NULL,
          "550 5.1.1 <gus@example.com>... User Unknown", "mx.example.com", NULL },
        /* "Action: expired" */
        { "hal@example.net", "failed", NULL, NULL, "expired", "Connection timed out", NULL,
          NULL } } },
    { "verizon-sms.eml", "verizon", REPORT_BOUNCE, 1, {
        { "5555550100@vtext.com", NULL, NULL, "550", "userunknown",
          "550 - Requested action not taken: no such user here", NULL, NULL } } },
    { "verizon-mms.eml", "verizon", REPORT_BOUNCE, 1, {
        { "5555550101@vzwpix.com", NULL, NULL, NULL, "userunknown",
          "No valid recipients for this MM", NULL, NULL } } },
};

/* Parse a sample and run the detector chain over it. */
static void detect_sample(const char *name, BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t len;
    char *raw = sample_read(DATA_DIR, name, &len);
    SUP_ERR err;

    ck_assert_msg(message_parse(raw, len, name, NULL, NULL, msg, &err) == 0,
                  "%s: %s", name, err.text);
    free(raw);
    memset(report, 0, sizeof(*report));
    detect_report(msg, report);
}

static void check_field(const char *file, size_t i, const char *what, const char *got,
                        const char *want)
{
    if (want != NULL && strcmp(want, "*") == 0)
        return;
    if (want == NULL) {
        ck_assert_msg(got == NULL, "%s #%zu %s: want null, got \"%s\"", file, i, what, got);
        return;
    }
    ck_assert_msg(got != NULL && strcmp(got, want) == 0, "%s #%zu %s: want \"%s\", got \"%s\"",
                  file, i, what, want, got ? got : "(null)");
}

START_TEST(test_gmail_state)
{
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;

    /* "(state 18)": Gmail's client was past DATA. */
    detect_sample("gmail-failure.eml", &msg, &report);
    ck_assert_uint_eq(report.count, 1);
    check_field("gmail-failure.eml", 0, "command", report.rcpts[0].command, "DATA");
    report_clear(&report);
    message_free(&msg);
}
END_TEST

/* Commands the formats state in their text: GMX "SMTP error from remote
 * server after RCPT command:", SendGrid "... User Unknown  in RCPT TO". */
START_TEST(test_stated_command)
{
    static const struct {
        const char *file;
        size_t index;
        const char *command;
    } cases[] = {
        { "gmx.eml", 0, "RCPT" },
        { "gmx.eml", 1, NULL },
        { "sendgrid.eml", 0, "RCPT" },
        { "sendgrid.eml", 1, NULL },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        BOUNCE_MSG msg;
        BOUNCE_REPORT report;

        detect_sample(cases[i].file, &msg, &report);
        ck_assert_msg(cases[i].index < report.count, "%s: no recipient #%zu", cases[i].file,
                      cases[i].index + 1);
        check_field(cases[i].file, cases[i].index, "command",
                    report.rcpts[cases[i].index].command, cases[i].command);
        report_clear(&report);
        message_free(&msg);
    }
}
END_TEST

START_TEST(test_sample)
{
    const struct sample *s = &samples[_i];
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;

    detect_sample(s->file, &msg, &report);
    ck_assert_msg(report.detector != NULL && strcmp(report.detector, s->detector) == 0,
                  "%s: detector %s, want %s", s->file,
                  report.detector ? report.detector : "(none)", s->detector);
    ck_assert_msg(report.kind == s->kind, "%s: kind %d, want %d", s->file, report.kind, s->kind);
    ck_assert_msg(report.count == s->count, "%s: %zu recipients, want %zu", s->file,
                  report.count, s->count);
    for (size_t i = 0; i < s->count; i++) {
        const struct want_rcpt *w = &s->rcpts[i];
        const BOUNCE_RCPT *r = &report.rcpts[i];

        check_field(s->file, i, "recipient", r->recipient, w->recipient);
        /* NULL action means failed (bounce.h) */
        check_field(s->file, i, "action", r->action && strcmp(r->action, "failed") ? r->action : NULL,
                    w->action && strcmp(w->action, "failed") ? w->action : NULL);
        check_field(s->file, i, "status", r->status, w->status);
        check_field(s->file, i, "replycode", r->replycode, w->replycode);
        check_field(s->file, i, "reason", r->reason, w->reason);
        check_field(s->file, i, "remote_mta", r->remote_mta, w->remote);
        check_field(s->file, i, "reporting_mta", r->reporting_mta, w->reporting);
        if (w->diag == NULL)
            ck_assert_msg(r->diagnostic == NULL, "%s #%zu: diagnostic \"%s\", want none",
                          s->file, i, r->diagnostic);
        else
            ck_assert_msg(r->diagnostic != NULL && strstr(r->diagnostic, w->diag) != NULL,
                          "%s #%zu: diagnostic \"%s\" lacks \"%s\"", s->file, i,
                          r->diagnostic ? r->diagnostic : "(null)", w->diag);
        ck_assert_msg(r->diagnostic == NULL || strchr(r->diagnostic, '\n') == NULL,
                      "%s #%zu: diagnostic is not one line", s->file, i);
    }
    report_clear(&report);
    message_free(&msg);
}
END_TEST

START_TEST(test_complaint_feedback_type)
{
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;

    detect_sample("amazonses-complaint.eml", &msg, &report);
    ck_assert_uint_eq(report.count, 1);
    ck_assert_str_eq(report.rcpts[0].feedback_type, "abuse");
    report_clear(&report);
    message_free(&msg);
}
END_TEST

/* A truncated JSON notification is no SES report (and does not crash). */
START_TEST(test_ses_bad_json)
{
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;

    detect_sample("amazonses-badjson.eml", &msg, &report);
    ck_assert(report.detector == NULL || strcmp(report.detector, "amazonses") != 0);
    report_clear(&report);
    message_free(&msg);
}
END_TEST

/* Each detector turns down a message of another provider: it never claims
 * what is not its format, whatever its match() said. */
START_TEST(test_parse_refuses_others)
{
    static const char *const names[] = {
        "amazonses", "receivingses", "amazonworkmail", "gmail", "googlegroups",
        "googleworkspace", "office365", "outlook", "exchange2007", "exchange2003",
        "yahoo", "yandex", "zoho", "mailru", "gmx", "sendgrid", "verizon", "aol", "sina", NULL
    };
    const struct sample *s = &samples[_i];
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;

    detect_sample(s->file, &msg, &report);
    report_clear(&report);
    for (size_t d = 0; detectors[d] != NULL; d++) {
        const DETECTOR *det = detectors[d];
        bool ours = false;
        BOUNCE_REPORT other = { REPORT_NONE, NULL, NULL, 0, 0 };

        for (size_t n = 0; names[n] != NULL; n++)
            ours = ours || strcmp(det->name, names[n]) == 0;
        /* Only group c, and not the sample's own detector (nor the one
         * its format is a dialect of: Office 365 writes Exchange NDRs). */
        if (!ours || strcmp(det->name, s->detector) == 0
            || (strcmp(s->detector, "office365") == 0 && strcmp(det->name, "exchange2007") == 0))
            continue;
        ck_assert_msg(det->parse(&msg, &other) == 0, "%s claims %s", det->name, s->file);
        report_clear(&other);
    }
    message_free(&msg);
}
END_TEST

/* ---- c_util helpers ---- */

START_TEST(test_response_joining)
{
    BOUNCE_RCPT r;
    static const char multi[] =
        "550-5.1.1 The email account that you tried to reach does not exist.\n"
        "550-5.1.1 Please try double-checking\n"
        "550 5.1.1 the address.";
    static const char unfolded[] =
        "521-5.7.1 Service unavailable; client blocked 521 5.7.1 Please see http://x.test/";

    memset(&r, 0, sizeof(r));
    rcpt_set_response(&r, multi);
    ck_assert_str_eq(r.diagnostic, "550 5.1.1 The email account that you tried to reach does "
                     "not exist. Please try double-checking the address.");
    ck_assert_str_eq(r.replycode, "550");
    ck_assert_str_eq(r.status, "5.1.1");
    free(r.diagnostic);
    free(r.replycode);
    free(r.status);

    memset(&r, 0, sizeof(r));
    rcpt_set_response(&r, unfolded);
    ck_assert_str_eq(r.diagnostic, "521 5.7.1 Service unavailable; client blocked Please see "
                     "http://x.test/");
    free(r.diagnostic);
    free(r.replycode);
    free(r.status);

    /* a code in the middle of the text is no continuation */
    memset(&r, 0, sizeof(r));
    rcpt_set_response(&r, "550 5.1.351 Remote returned -> 550 : User unknown");
    ck_assert_str_eq(r.diagnostic, "550 5.1.351 Remote returned -> 550 : User unknown");
    free(r.diagnostic);
    free(r.replycode);
    free(r.status);
}
END_TEST

START_TEST(test_reply_code_and_address)
{
    char code[4];
    char addr[64];

    ck_assert(text_leading_replycode("550 5.1.1 x", code));
    ck_assert_str_eq(code, "550");
    ck_assert(text_leading_replycode("421-busy", code));
    ck_assert(!text_leading_replycode("5501 x", code));
    ck_assert(!text_leading_replycode("650 x", code));
    ck_assert(!text_leading_replycode("55", code));

    ck_assert(find_address("Name<mailto:a.b@example.com>.", 29, addr, sizeof(addr)));
    ck_assert_str_eq(addr, "a.b@example.com");
    ck_assert(find_address("  user@example.org on Mon", 25, addr, sizeof(addr)));
    ck_assert_str_eq(addr, "user@example.org");
    ck_assert(!find_address("no address @ here", 17, addr, sizeof(addr)));
    /* too long for the buffer: refused, not cut */
    ck_assert(!find_address("averyveryverylonglocalpart@example.com", 38, addr, 10));
}
END_TEST

START_TEST(test_exchange_reason)
{
    ck_assert_str_eq(exchange_ndr_reason("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"),
                     "userunknown");
    ck_assert_str_eq(exchange_ndr_reason("550 4.4.7 QUEUE.Expired; message expired"), "expired");
    ck_assert_ptr_null(exchange_ndr_reason("550 5.1.1 RESOLVER.ADR.RecipNotFoundX"));
    ck_assert_ptr_null(exchange_ndr_reason("550 5.1.1 user unknown"));
    ck_assert_ptr_null(exchange_ndr_reason(NULL));
}
END_TEST

START_TEST(test_ses_refine)
{
    BOUNCE_RCPT r;

    memset(&r, 0, sizeof(r));
    r.diagnostic = strdup("5.1.0 - Unknown address error 550-'5.7.1 <x@example.com>... "
                          "Access denied' (delivery attempts: 0)");
    r.status = strdup("5.0.0");
    ses_refine_response(&r);
    ck_assert_str_eq(r.diagnostic, "550 5.7.1 <x@example.com>... Access denied");
    ck_assert_str_eq(r.status, "5.7.1");
    ck_assert_str_eq(r.replycode, "550");
    ck_assert_ptr_null(r.reason);
    free(r.diagnostic);
    free(r.status);
    free(r.replycode);
}
END_TEST

/* The recipients of DSN fields written as text. */
static int rcpts_from_text_dsn(const char *text, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    DSN_GROUPS dsn;
    int added;

    ck_assert_int_eq(lines_split(text, &lines), 0);
    dsn_groups_in_lines(&lines, 0, &dsn);
    added = rcpts_from_dsn(&dsn, report);
    dsn_groups_free(&dsn);
    lines_free(&lines);
    return added;
}

START_TEST(test_text_dsn)
{
    BOUNCE_REPORT report = { REPORT_NONE, NULL, NULL, 0, 0 };
    static const char text[] =
        "\nReporting-MTA: dns; mta.example.org\n\n"
        "Final-Recipient: rfc822; one@example.com\nAction: failed\nStatus: 5.0.0\n"
        "Diagnostic-Code: smtp; 550 5.1.1 no such user\n\n"
        "Final-Recipient: rfc822; two@example.com\nAction: delayed\nStatus: 4.4.1\n\n"
        "Some prose that ends the report.\n";

    ck_assert_int_eq(rcpts_from_text_dsn(text, &report), 2);
    ck_assert_str_eq(report.rcpts[0].recipient, "one@example.com");
    ck_assert_str_eq(report.rcpts[0].status, "5.1.1");
    ck_assert_str_eq(report.rcpts[0].reporting_mta, "mta.example.org");
    ck_assert_str_eq(report.rcpts[1].action, "delayed");
    ck_assert_ptr_null(report.rcpts[1].diagnostic);
    ck_assert_int_eq(rcpts_from_list("one@example.com, Three <three@example.net>", &report), 1);
    ck_assert_uint_eq(report.count, 3);
    ck_assert_str_eq(report.rcpts[2].recipient, "three@example.net");
    report_clear(&report);
}
END_TEST

static Suite *detectors_c_suite(void)
{
    Suite *s = suite_create("detectors-c");
    TCase *tc = tcase_create("samples");
    TCase *tu = tcase_create("c_util");
    int n = (int) (sizeof(samples) / sizeof(samples[0]));

    tcase_add_loop_test(tc, test_sample, 0, n);
    tcase_add_loop_test(tc, test_parse_refuses_others, 0, n);
    tcase_add_test(tc, test_gmail_state);
    tcase_add_test(tc, test_stated_command);
    tcase_add_test(tc, test_complaint_feedback_type);
    tcase_add_test(tc, test_ses_bad_json);
    suite_add_tcase(s, tc);
    tcase_add_test(tu, test_response_joining);
    tcase_add_test(tu, test_reply_code_and_address);
    tcase_add_test(tu, test_exchange_reason);
    tcase_add_test(tu, test_ses_refine);
    tcase_add_test(tu, test_text_dsn);
    suite_add_tcase(s, tu);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    g_mime_init();
    sr = srunner_create(detectors_c_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    g_mime_shutdown();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
