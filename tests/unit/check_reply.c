/*
 * check_reply.c: unit tests of the reject-text template (milter/reply.c):
 * every placeholder, and text that must not break the SMTP reply: '%',
 * CR/LF, control characters, over-long input.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

static char out[REPLY_BUF_SIZE];

static size_t expand(const char *tmpl, const char *rcpt, const char *reason, time_t expires)
{
    struct reply_vars vars = { rcpt, reason, expires, NULL };

    memset(out, 'Z', sizeof(out));
    return reply_expand(tmpl, &vars, out, sizeof(out));
}

/* What smfi_setreply needs: printable ASCII, no CR/LF, '%' only in pairs. */
static bool safe_for_setreply(const char *text)
{
    const char *p;

    for (p = text; *p != '\0'; p++) {
        if ((unsigned char) *p < 0x20 || (unsigned char) *p > 0x7e)
            return false;
        if (*p == '%') {
            if (p[1] != '%')
                return false;
            p++;
        }
    }
    return true;
}

START_TEST(test_recipient)
{
    ck_assert_uint_eq(expand("Sorry %{recipient}!", "john@example.com", "manual", 0), 23);
    ck_assert_str_eq(out, "Sorry john@example.com!");
}
END_TEST

START_TEST(test_reason)
{
    expand("blocked (%{reason})", "a@b.example", "hard-bounce", 0);
    ck_assert_str_eq(out, "blocked (hard-bounce)");
}
END_TEST

START_TEST(test_expiry_date)
{
    /* 2026-11-29T16:20:00Z */
    expand("until %{expiry}", "a@b.example", "hard-bounce", (time_t) 1795969200);
    ck_assert_str_eq(out, "until 2026-11-29T16:20:00Z");
}
END_TEST

START_TEST(test_expiry_never)
{
    expand("until %{expiry}", "a@b.example", "complaint", 0);
    ck_assert_str_eq(out, "until never");
}
END_TEST

START_TEST(test_all_placeholders_twice)
{
    expand("%{recipient}/%{reason}/%{expiry}/%{recipient}", "x@y.example", "unsubscribe", 0);
    ck_assert_str_eq(out, "x@y.example/unsubscribe/never/x@y.example");
}
END_TEST

START_TEST(test_percent_escape)
{
    /* One visible '%', sent doubled: libmilter and Sendmail format the text. */
    ck_assert_uint_eq(expand("100%% sure", "a@b.example", "manual", 0), 9);
    ck_assert_str_eq(out, "100%% sure");
}
END_TEST

START_TEST(test_lone_and_unknown_percent)
{
    expand("50% off %d %s %{nope} %{recipient", "a@b.example", "manual", 0);
    ck_assert_str_eq(out, "50%% off %%d %%s %%{nope} %%{recipient");
    ck_assert(safe_for_setreply(out));
    expand("trailing %", "a@b.example", "manual", 0);
    ck_assert_str_eq(out, "trailing %%");
}
END_TEST

START_TEST(test_percent_in_recipient)
{
    /* "a%b" is a legal local part; it must not become a format directive. */
    expand("no mail for %{recipient}", "a%b@example.com", "manual", 0);
    ck_assert_str_eq(out, "no mail for a%%b@example.com");
}
END_TEST

START_TEST(test_crlf_removed)
{
    expand("line one\r\n250 fake\r\n", "a@b.example", "manual", 0);
    ck_assert_str_eq(out, "line one250 fake");
    expand("to %{recipient}", "evil\r\n@b.example", "manual", 0);
    ck_assert_str_eq(out, "to evil@b.example");
}
END_TEST

START_TEST(test_control_chars_replaced)
{
    expand("a\tb\x01" "c\x7f" "d\x1b[31m", "x@y.example", "manual", 0);
    ck_assert_str_eq(out, "a?b?c?d?[31m");
    expand("caf\xc3\xa9", "x@y.example", "manual", 0);
    ck_assert_str_eq(out, "caf??");
    ck_assert(safe_for_setreply(out));
}
END_TEST

START_TEST(test_overlong_template)
{
    char tmpl[2000];

    memset(tmpl, 'x', sizeof(tmpl) - 1);
    tmpl[sizeof(tmpl) - 1] = '\0';
    ck_assert_uint_eq(expand(tmpl, "a@b.example", "manual", 0), REPLY_TEXT_MAX);
    ck_assert_uint_eq(strlen(out), REPLY_TEXT_MAX);
}
END_TEST

START_TEST(test_overlong_percent_never_split)
{
    char tmpl[2001];
    size_t i;

    for (i = 0; i + 1 < sizeof(tmpl); i += 2)
        memcpy(tmpl + i, "%%", 2);
    tmpl[sizeof(tmpl) - 1] = '\0';
    ck_assert_uint_eq(expand(tmpl, "a@b.example", "manual", 0), REPLY_TEXT_MAX);
    ck_assert_uint_eq(strlen(out), 2 * REPLY_TEXT_MAX);
    ck_assert(safe_for_setreply(out));
}
END_TEST

START_TEST(test_overlong_recipient)
{
    char rcpt[400];

    memset(rcpt, 'r', sizeof(rcpt) - 1);
    rcpt[sizeof(rcpt) - 1] = '\0';
    ck_assert_uint_eq(expand("%{recipient} %{recipient}", rcpt, "manual", 0), REPLY_TEXT_MAX);
    ck_assert(safe_for_setreply(out));
}
END_TEST

START_TEST(test_small_buffer)
{
    struct reply_vars vars = { "a@b.example", "manual", 0, NULL };
    char small[4];

    ck_assert_uint_eq(reply_expand("abcdef", &vars, small, sizeof(small)), 3);
    ck_assert_str_eq(small, "abc");
    /* Room for one doubled '%' and the NUL, not for half of a second. */
    ck_assert_uint_eq(reply_expand("%%%%", &vars, small, sizeof(small)), 1);
    ck_assert_str_eq(small, "%%");
}
END_TEST

START_TEST(test_empty_and_null)
{
    ck_assert_uint_eq(expand("", "a@b.example", "manual", 0), 0);
    ck_assert_str_eq(out, "");
    ck_assert_uint_eq(expand(NULL, "a@b.example", "manual", 0), 0);
    ck_assert_str_eq(out, "");
    expand("[%{recipient}][%{reason}]", NULL, NULL, 0);
    ck_assert_str_eq(out, "[][]");
}
END_TEST

START_TEST(test_scope)
{
    struct reply_vars vars = { "a@b.example", "complaint", 0, "customer-a" };
    char buf[REPLY_BUF_SIZE];
    SUP_ERR err;

    reply_expand("suppressed for %{scope}", &vars, buf, sizeof(buf));
    ck_assert_str_eq(buf, "suppressed for customer-a");
    vars.scope = "";
    reply_expand("suppressed for %{scope}", &vars, buf, sizeof(buf));
    ck_assert_str_eq(buf, "suppressed for global");
    vars.scope = NULL;
    reply_expand("(%{scope})", &vars, buf, sizeof(buf));
    ck_assert_str_eq(buf, "(global)");
    ck_assert_int_eq(reply_check_template("%{reason} in %{scope}", &err), 0);
}
END_TEST

START_TEST(test_check_template)
{
    SUP_ERR err;

    ck_assert_int_eq(reply_check_template("%{recipient} %{reason} %{expiry} 100%%", &err), 0);
    ck_assert_int_eq(reply_check_template("literal %%{foo} and a lone %", &err), 0);
    ck_assert_int_eq(reply_check_template("until %{expires}", &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_CONFIG);
    ck_assert_ptr_nonnull(strstr(err.text, "%{expires}"));
    ck_assert_int_eq(reply_check_template("to %{recipient", &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "unterminated"));
}
END_TEST

static Suite *reply_suite(void)
{
    Suite *s = suite_create("reply");
    TCase *tc = tcase_create("template");

    tcase_add_test(tc, test_recipient);
    tcase_add_test(tc, test_scope);
    tcase_add_test(tc, test_reason);
    tcase_add_test(tc, test_expiry_date);
    tcase_add_test(tc, test_expiry_never);
    tcase_add_test(tc, test_all_placeholders_twice);
    tcase_add_test(tc, test_percent_escape);
    tcase_add_test(tc, test_lone_and_unknown_percent);
    tcase_add_test(tc, test_percent_in_recipient);
    tcase_add_test(tc, test_crlf_removed);
    tcase_add_test(tc, test_control_chars_replaced);
    tcase_add_test(tc, test_overlong_template);
    tcase_add_test(tc, test_overlong_percent_never_split);
    tcase_add_test(tc, test_overlong_recipient);
    tcase_add_test(tc, test_small_buffer);
    tcase_add_test(tc, test_empty_and_null);
    tcase_add_test(tc, test_check_template);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(reply_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
