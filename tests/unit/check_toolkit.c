/*
 * check_toolkit.c: unit tests of the detector toolkit
 * (classifier/detectors/toolkit/): status and reply codes in text,
 * multi-line replies, the SMTP command phrases, lines, DSN groups read from
 * text, addresses.  The detectors' own tests are check_detectors_{a,b,c}.c.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "detectors/toolkit.h"

static void expect_str(const char *what, const char *got, const char *want)
{
    if (want == NULL)
        ck_assert_msg(got == NULL, "%s: got \"%s\", expected none", what, got);
    else
        ck_assert_msg(got != NULL && strcmp(got, want) == 0, "%s: got \"%s\", expected \"%s\"",
                      what, got ? got : "(null)", want);
}

static void free_rcpt(BOUNCE_RCPT *rcpt)
{
    BOUNCE_REPORT alone;

    memset(&alone, 0, sizeof(alone));
    alone.rcpts = rcpt;
    alone.count = alone.alloc = 1;
    report_truncate(&alone, 0);
}

/* text_find_status() copied into code, as the tests read it. */
static bool find_status(const char *text, char code[16])
{
    const char *found;
    size_t len = text_find_status(text, &found);

    if (len == 0 || len >= 16)
        return false;
    memcpy(code, found, len);
    code[len] = '\0';
    return true;
}

START_TEST(test_response_clean_folds_multiline_reply)
{
    char *s = response_clean("550-5.1.1 The account does not\n    exist. 550-5.1.1 Please "
                               "check\n 550 5.1.1 the address - gsmtp");

    expect_str("folded", s, "550 5.1.1 The account does not exist. Please check the address - gsmtp");
    free(s);
    s = response_clean("554-mx.example.org Service not available 554-No SMTP service 554 "
                         "See http://example.org/");
    expect_str("without status", s,
               "554 mx.example.org Service not available No SMTP service See http://example.org/");
    free(s);
}
END_TEST

START_TEST(test_response_clean_leaves_single_line)
{
    char *s = response_clean("  552 message of\t550 lines is\n too big  ");

    expect_str("single line", s, "552 message of 550 lines is too big");
    free(s);
}
END_TEST

START_TEST(test_find_status)
{
    char code[16];

    ck_assert(find_status("550 5.1.1 <a@example.org>... User unknown", code));
    expect_str("status", code, "5.1.1");
    ck_assert(find_status("550-5.7.26 Unauthenticated email", code));
    expect_str("three digits", code, "5.7.26");
    ck_assert(find_status("Sorry, I couldn't find any host named x. (#5.1.2)", code));
    expect_str("qmail", code, "5.1.2");
    ck_assert(!find_status("connect to mx[192.0.2.153]:25: Connection timed out", code));
    ck_assert(!find_status("host 10.5.1.1 said: no", code));
    ck_assert(!find_status(NULL, code));
}
END_TEST

START_TEST(test_leading_replycode)
{
    char code[4];

    ck_assert(text_leading_replycode("550 - Requested action not taken", code));
    expect_str("code", code, "550");
    ck_assert(text_leading_replycode("  421-busy", code));
    expect_str("code", code, "421");
    ck_assert(!text_leading_replycode("5501 nonsense", code));
    ck_assert(!text_leading_replycode("Host not found", code));
    ck_assert(!text_leading_replycode("650 no such class", code));
}
END_TEST

/* The phrases MTAs use to say which command a response answered: the one
 * place the stage is read from text (classify.c only reads rcpt->command). */
START_TEST(test_smtp_command_in)
{
    static const struct {
        const char *text;
        const char *command;
    } cases[] = {
        { "said: 550 Unknown user (in reply to end of DATA command)", "DATA" },
        { "said: 550 Unknown user (in reply to RCPT TO command)", "RCPT" },
        { "said: 550 User unknown (IN REPLY TO RCPT TO COMMAND)", "RCPT" },
        /* the same wording without "command" or "TO" */
        { "550 Unknown user (in reply to rcpt)", "RCPT" },
        { "550 Rejected (in reply to end of data)", "DATA" },
        { "553 Sender unknown (in reply to mail from)", "MAIL" },
        { "501 Syntax (in reply to ehlo)", "HELO" },
        { "SMTP error from remote mail server after RCPT TO:<a@example.org>: 550 no", "RCPT" },
        { "SMTP error from remote mail server after MAIL FROM:<a@example.net>: 553 no", "MAIL" },
        { "host mx.example.org[192.0.2.1] refused to talk to me: 554 go away", "CONN" },
        { "Connected to 192.0.2.1 but my name was rejected.", "HELO" },
        { "Connected to 192.0.2.1 but sender was rejected.", "MAIL" },
        { "550 Unknown user [RCPT_TO]", "RCPT" },
        { "SMTP Server <192.0.2.1> refused to accept your message (DATA), with ...", "DATA" },
        { "550 5.1.351 Remote server returned unknown recipient or mailbox unavailable -> "
          "550 <a@example.org>: User unknown", "RCPT" },
        { "SMTP error from remote server for TEXT command, host: mx.example.fr", "DATA" },
        /* the earliest phrase wins: the text may quote a later step */
        { "after RCPT TO:<a@example.org>: 550 no (in reply to end of DATA command)", "RCPT" },
        { "550 5.1.1 User unknown", NULL },
        { NULL, NULL },
    };
    static const struct {
        const char *verb;
        const char *command;
    } verbs[] = {
        { "DATA", "DATA" }, { " RCPT To:<a@example.org>", "RCPT" }, { "ehlo", "HELO" },
        { "MAIL FROM:<>", "MAIL" }, { "QUIT", NULL }, { "DATAX", NULL }, { "", NULL },
        { NULL, NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = smtp_command_in(cases[i].text);

        ck_assert_msg(cases[i].command == NULL ? got == NULL
                      : got != NULL && strcmp(got, cases[i].command) == 0,
                      "\"%s\": %s, expected %s", cases[i].text ? cases[i].text : "(null)",
                      got ? got : "(null)", cases[i].command ? cases[i].command : "(null)");
    }
    /* a verb a format names as such (m-FILTER's "-------SMTP command") */
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        const char *got = smtp_command_named(verbs[i].verb);

        ck_assert_msg(verbs[i].command == NULL ? got == NULL
                      : got != NULL && strcmp(got, verbs[i].command) == 0,
                      "verb \"%s\": %s", verbs[i].verb ? verbs[i].verb : "(null)",
                      got ? got : "(null)");
    }
}
END_TEST

START_TEST(test_lines_split)
{
    TEXT_LINES lines;

    ck_assert_int_eq(lines_split("one\r\ntwo\n\nfour\n", &lines), 0);
    ck_assert_uint_eq(lines.count, 4);
    expect_str("line 1", lines.line[0], "one");
    expect_str("line 3", lines.line[2], "");
    expect_str("line 4", lines.line[3], "four");
    lines_free(&lines);
}
END_TEST

START_TEST(test_join_reply)
{
    char *lines[] = {
        "<<< 552-5.7.0 This message was blocked because its content",
        "<<< 552-5.7.0  presents a potential security issue.",
        "<<< 552 5.7.0 Please visit https://example.com/help",
        "<<< 503 5.0.0 Need RCPT (recipient)",
    };
    size_t used;
    char *joined = reply_join_lines(lines, 4, 0, "<<< ", &used);

    ck_assert_str_eq(joined, "552 5.7.0 This message was blocked because its content "
                     "presents a potential security issue. Please visit https://example.com/help");
    ck_assert_uint_eq(used, 3);
    free(joined);
    /* Another code starts another reply. */
    joined = reply_join_lines(lines, 4, 3, "<<< ", &used);
    ck_assert_str_eq(joined, "503 5.0.0 Need RCPT (recipient)");
    ck_assert_uint_eq(used, 1);
    free(joined);
    ck_assert_ptr_null(reply_join_lines(lines, 4, 0, ">>> ", &used));
}
END_TEST

START_TEST(test_find_status_not_numbers)
{
    char status[16];

    ck_assert(find_status("550 5.1.1 <a@example.org>... User unknown", status));
    ck_assert_str_eq(status, "5.1.1");
    ck_assert(find_status("over quota (#5.2.2)", status));
    ck_assert_str_eq(status, "5.2.2");
    ck_assert(find_status("550 5.7.509 Access denied", status));
    ck_assert_str_eq(status, "5.7.509");
    /* Not the tail of an IP address or a version number. */
    ck_assert(!find_status("host 10.5.1.1 said no", status));
    ck_assert(!find_status("Exim 4.5.100.2", status));
    ck_assert(!find_status("nothing here", status));
}
END_TEST

START_TEST(test_fill_codes)
{
    BOUNCE_RCPT r;

    memset(&r, 0, sizeof(r));
    rcpt_set(&r.diagnostic, "550-5.1.1 The email account does not exist");
    rcpt_set(&r.status, "5.0.0");
    rcpt_complete_codes(&r);
    ck_assert_str_eq(r.replycode, "550");
    /* A vague status gives way to the text's code of the same class. */
    ck_assert_str_eq(r.status, "5.1.1");
    free_rcpt(&r);
}
END_TEST

START_TEST(test_dsn_from_lines)
{
    static const char text[] =
        "Reporting-MTA: dns; mx.example.net\n"
        "\n"
        "Final-Recipient: RFC822; one@example.org\n"
        "Action: failed\n"
        "Status: 5.1.1\n"
        "Diagnostic-Code: SMTP; 550 5.1.1 <one@example.org>... User\n"
        "    unknown\n"
        "Final-Recipient: RFC822; two@example.org\n"
        "Original-Recipient: rfc822; alias@example.net\n"
        "Action: delayed\n"
        "Status: 4.4.1\n"
        "Content-Type: message/rfc822\n"
        "Final-Recipient: RFC822; never@example.org\n";
    TEXT_LINES lines;
    DSN_GROUPS dsn;
    BOUNCE_RCPT r;
    size_t n;

    ck_assert_int_eq(lines_split(text, &lines), 0);
    n = dsn_groups_in_lines(&lines, 0, &dsn);
    ck_assert_uint_eq(n, 2);
    memset(&r, 0, sizeof(r));
    rcpt_from_dsn(&r, &dsn.rcpt[0], dsn.per_message);
    ck_assert_str_eq(r.recipient, "one@example.org");
    ck_assert_str_eq(r.diagnostic, "550 5.1.1 <one@example.org>... User unknown");
    ck_assert_str_eq(r.reporting_mta, "mx.example.net");
    ck_assert_str_eq(r.replycode, "550");
    ck_assert(!r.forwarded);
    free_rcpt(&r);
    memset(&r, 0, sizeof(r));
    rcpt_from_dsn(&r, &dsn.rcpt[1], dsn.per_message);
    ck_assert_str_eq(r.recipient, "two@example.org");
    ck_assert_str_eq(r.original_recipient, "alias@example.net");
    ck_assert(r.forwarded);
    ck_assert_str_eq(r.action, "delayed");
    free_rcpt(&r);
    dsn_groups_free(&dsn);
    lines_free(&lines);
}
END_TEST

START_TEST(test_addresses)
{
    const char *start;
    size_t len;

    ck_assert(find_angle_address("550 <a.b@example.org>... no", &start, &len));
    ck_assert_int_eq(strncmp(start, "a.b@example.org", len), 0);
    ck_assert(!find_angle_address("host <192.0.2.1> said", &start, &len));
    ck_assert(find_bare_address("errors: neko@example.jp. Reason", &start, &len));
    ck_assert_int_eq((int) len, (int) strlen("neko@example.jp"));
    ck_assert(is_address_line("  user@example.org  "));
    ck_assert(is_address_line("<user@example.org>"));
    ck_assert(!is_address_line("user@example.org [User unknown]"));
    ck_assert(!is_address_line("To: user@example.org"));
}
END_TEST

START_TEST(test_status_in_text)
{
    const char *found;
    char code[4];

    ck_assert_uint_eq(text_find_status("host 10.5.1.1 said: 550 5.1.1 <a@b>... unknown", &found), 5);
    ck_assert(strncmp(found, "5.1.1", 5) == 0);
    ck_assert_uint_eq(text_find_status("#5.7.133 RESOLVER.RST", &found), 7);
    ck_assert_uint_eq(text_find_status("released 2.10.2013 and 1.2.3", &found), 0);
    ck_assert_uint_eq(text_find_status(NULL, &found), 0);
    ck_assert(text_leading_replycode(" 552 too big", code));
    ck_assert_str_eq(code, "552");
    ck_assert(!text_leading_replycode("5521 no", code));
    ck_assert(!text_leading_replycode("5.1.1 no", code));
}
END_TEST

START_TEST(test_complete_codes)
{
    BOUNCE_RCPT r;

    memset(&r, 0, sizeof(r));
    rcpt_set(&r.status, "5.0.0");
    rcpt_set(&r.diagnostic, "550 5.1.1 The email account that you tried to reach does not exist");
    rcpt_complete_codes(&r);
    ck_assert_str_eq(r.status, "5.1.1");
    ck_assert_str_eq(r.replycode, "550");
    /* A specific status is not replaced by what the text says. */
    rcpt_set(&r.status, "5.2.2");
    rcpt_complete_codes(&r);
    ck_assert_str_eq(r.status, "5.2.2");
    /* Nor by a code of another class. */
    rcpt_set(&r.status, "4.0.0");
    rcpt_complete_codes(&r);
    ck_assert_str_eq(r.status, "4.0.0");
    free(r.status);
    free(r.replycode);
    free(r.diagnostic);
}
END_TEST

static Suite *toolkit_suite(void)
{
    Suite *s = suite_create("toolkit");
    TCase *tc = tcase_create("toolkit");

    tcase_add_test(tc, test_response_clean_folds_multiline_reply);
    tcase_add_test(tc, test_response_clean_leaves_single_line);
    tcase_add_test(tc, test_find_status);
    tcase_add_test(tc, test_find_status_not_numbers);
    tcase_add_test(tc, test_status_in_text);
    tcase_add_test(tc, test_leading_replycode);
    tcase_add_test(tc, test_smtp_command_in);
    tcase_add_test(tc, test_lines_split);
    tcase_add_test(tc, test_join_reply);
    tcase_add_test(tc, test_fill_codes);
    tcase_add_test(tc, test_complete_codes);
    tcase_add_test(tc, test_dsn_from_lines);
    tcase_add_test(tc, test_addresses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(toolkit_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
