/*
 * check_rules.c: unit tests of the rule table (classifier/decide/rules.c).
 *
 * Every row of the table is tested through the sample it carries: the
 * sample must reach exactly that row (so no row is dead or shadowed by an
 * earlier one) and give that row's reason.  Also: the status code table,
 * the temporary/permanent phrase lists, and text normalization.
 *
 * rules.c is compiled into this test (#include below) so the test can
 * walk the static table; it is the real code, not a copy.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide/rules.c"

/* The row a text reaches, as rules_reason_for_text() would find it. */
static long row_for(const char *text)
{
    char buf[2048];
    bool owned;
    char *norm = normalize(text, buf, sizeof(buf), &owned);

    ck_assert_ptr_nonnull(norm);
    long row = first_matching_row(norm);
    if (owned)
        free(norm);
    return row;
}

START_TEST(test_every_row_is_well_formed)
{
    for (size_t i = 0; i < rule_count; i++) {
        const RULE *r = &rule_table[i];

        ck_assert_msg(rules_is_reason(r->reason), "row %zu: unknown reason %s", i, r->reason);
        ck_assert_msg(r->pattern != NULL && *r->pattern != '\0', "row %zu: empty pattern", i);
        ck_assert_msg(r->sample != NULL && *r->sample != '\0', "row %zu (%s): no sample", i, r->pattern);
        /* Patterns are matched against normalized text: they must be
         * normalized themselves (lowercase, single spaces, no trim). */
        for (const char *p = r->pattern; *p; p++) {
            ck_assert_msg(!(*p >= 'A' && *p <= 'Z'), "row %zu: pattern %s not lowercase", i, r->pattern);
            ck_assert_msg(*p != '\t' && *p != '\n' && !(p[0] == ' ' && p[1] == ' '),
                          "row %zu: pattern %s has odd white space", i, r->pattern);
        }
        if (r->kind == MATCH_REGEX) {
            regex_t re;

            ck_assert_msg(r->hint != NULL && strlen(r->hint) >= 2,
                          "row %zu: a regex row needs a hint literal", i);
            int rc = regcomp(&re, r->pattern, REG_EXTENDED | REG_NOSUB);
            ck_assert_msg(rc == 0, "row %zu: regex %s does not compile", i, r->pattern);
            regfree(&re);
        }
    }
}
END_TEST

START_TEST(test_every_sample_reaches_its_row)
{
    int failures = 0;

    for (size_t i = 0; i < rule_count; i++) {
        const RULE *r = &rule_table[i];
        long row = row_for(r->sample);

        const char *reason = rules_reason_for_text(r->sample);

        /* the row itself, and through the public function its reason */
        if (row != (long) i || reason == NULL || strcmp(reason, r->reason) != 0) {
            failures++;
            fprintf(stderr, "row %zu (%s \"%s\"): sample \"%s\" reaches %s\n", i, r->reason,
                    r->pattern, r->sample,
                    row < 0 ? "no row" : rule_table[row].pattern);
        }
    }
    ck_assert_msg(failures == 0, "%d samples do not reach their own row (see above)", failures);
}
END_TEST

START_TEST(test_no_match)
{
    ck_assert_ptr_null(rules_reason_for_text(NULL));
    ck_assert_ptr_null(rules_reason_for_text(""));
    ck_assert_ptr_null(rules_reason_for_text("250 2.0.0 Ok: queued as 4F1A2B"));
    ck_assert_ptr_null(rules_reason_for_text("421 4.7.0 Try again later"));
}
END_TEST

START_TEST(test_normalization)
{
    /* case, line breaks and runs of blanks do not matter */
    ck_assert_str_eq(rules_reason_for_text("550 5.1.1 USER\r\n   UNKNOWN"), "userunknown");
    ck_assert_str_eq(rules_reason_for_text("MAILBOX\tFULL"), "mailboxfull");
    /* typographic apostrophe (U+2019) as in provider texts */
    ck_assert_str_eq(rules_reason_for_text("This user doesn\xe2\x80\x99t have a example.com account"),
                     "userunknown");
    /* a sequence pattern does not match its pieces out of order */
    ck_assert_ptr_null(rules_reason_for_text("full of mail: the mailbox"));
}
END_TEST

/* au (KDDI): the filter names no address, the directory does. */
START_TEST(test_filter_and_directory_words)
{
    ck_assert_str_eq(rules_reason_for_text("550 : User unknown"), "filtered");
    ck_assert_str_eq(rules_reason_for_text("550 5.1.351 Remote server returned unknown recipient or mailbox unavailable -> 550 : User unknown"),
                     "filtered");
    ck_assert_str_eq(rules_reason_for_text("550 <bob@example.org>: User unknown"), "userunknown");
    ck_assert_str_eq(rules_reason_for_text("550 bob@example.org: User unknown"), "userunknown");
    ck_assert_str_eq(rules_reason_for_text("550 5.1.1 User unknown"), "userunknown");
}
END_TEST

START_TEST(test_long_text)
{
    /* longer than the stack buffer: the allocated path */
    size_t n = 10000;
    char *text = malloc(n + 64);

    ck_assert_ptr_nonnull(text);
    memset(text, 'x', n);
    strcpy(text + n, " 550 5.2.2 Mailbox full");
    ck_assert_str_eq(rules_reason_for_text(text), "mailboxfull");
    memset(text, ' ', n);
    strcpy(text + n, "try again later");
    ck_assert(rules_text_says_temporary(text));
    free(text);
}
END_TEST

START_TEST(test_status_table)
{
    ck_assert_str_eq(rules_reason_for_status("5.1.1"), "userunknown");
    ck_assert_str_eq(rules_reason_for_status("5.1.2"), "hostunknown");
    ck_assert_str_eq(rules_reason_for_status("5.2.2"), "mailboxfull");
    ck_assert_str_eq(rules_reason_for_status("4.2.2"), "mailboxfull");
    ck_assert_str_eq(rules_reason_for_status("5.3.4"), "mesgtoobig");
    ck_assert_str_eq(rules_reason_for_status("5.1.6"), "hasmoved");
    ck_assert_str_eq(rules_reason_for_status("5.1.10"), "notaccept");
    ck_assert_str_eq(rules_reason_for_status("5.7.26"), "authfailure");
    ck_assert_str_eq(rules_reason_for_status("5.7.25"), "requireptr");
    ck_assert_str_eq(rules_reason_for_status("2.1.5"), "delivered");
    ck_assert_str_eq(rules_reason_for_status("2.0.0"), "delivered");
    /* fallbacks by subject */
    ck_assert_str_eq(rules_reason_for_status("5.6.3"), "contenterror");
    ck_assert_str_eq(rules_reason_for_status("4.6.0"), "contenterror");
    ck_assert_str_eq(rules_reason_for_status("5.7.1"), "securityerror");
    ck_assert_str_eq(rules_reason_for_status("5.7.509"), "securityerror");
    /* too vague, or not a status code at all */
    ck_assert_ptr_null(rules_reason_for_status("5.0.0"));
    ck_assert_ptr_null(rules_reason_for_status("4.0.0"));
    ck_assert_ptr_null(rules_reason_for_status("4.7.0"));
    ck_assert_ptr_null(rules_reason_for_status("5.7.0"));
    ck_assert_ptr_null(rules_reason_for_status(NULL));
    ck_assert_ptr_null(rules_reason_for_status(""));
    ck_assert_ptr_null(rules_reason_for_status("550"));
    ck_assert_ptr_null(rules_reason_for_status("5.1"));
    ck_assert_ptr_null(rules_reason_for_status("5.1.1 "));
    ck_assert_ptr_null(rules_reason_for_status("6.1.1"));
    ck_assert_ptr_null(rules_reason_for_status("5.1.1234"));
    ck_assert_ptr_null(rules_reason_for_status("5..1"));
    /* every row of the status table is well formed and named */
    for (size_t i = 0; i < sizeof(status_table) / sizeof(status_table[0]); i++) {
        ck_assert_msg(status_well_formed(status_table[i].code), "bad code %s", status_table[i].code);
        ck_assert_msg(rules_is_reason(status_table[i].reason), "bad reason %s", status_table[i].reason);
        ck_assert_str_eq(rules_reason_for_status(status_table[i].code), status_table[i].reason);
    }
}
END_TEST

START_TEST(test_temporary_phrases)
{
    ck_assert(rules_text_says_temporary("421 4.7.0 Try again later"));
    ck_assert(rules_text_says_temporary("550 5.7.1 Please try again later!"));
    ck_assert(rules_text_says_temporary("451 4.7.1 Greylisted, please come back"));
    ck_assert(rules_text_says_temporary("Technical details of temporary failure: timed out"));
    ck_assert(rules_text_says_temporary("Service refuse. Veuillez essayer plus tard."));
    /* qmail's "I'm not going to try again" is the opposite */
    ck_assert(!rules_text_says_temporary("I'm not going to try again; this message has been in the queue too long."));
    ck_assert(!rules_text_says_temporary("550 5.1.1 User unknown"));
    ck_assert(!rules_text_says_temporary(NULL));
    ck_assert(!rules_text_says_temporary(""));
    for (size_t i = 0; i < sizeof(temporary_phrases) / sizeof(temporary_phrases[0]); i++)
        ck_assert_msg(rules_text_says_temporary(temporary_phrases[i]), "%s", temporary_phrases[i]);
}
END_TEST

START_TEST(test_permanent_phrases)
{
    ck_assert(rules_text_says_permanent("Delivery to the following recipient failed permanently"));
    ck_assert(rules_text_says_permanent("This is a permanent error; I've given up."));
    ck_assert(rules_text_says_permanent("I'm not going to try again; this message has been in the queue too long."));
    ck_assert(!rules_text_says_permanent("421 4.7.0 Try again later"));
    ck_assert(!rules_text_says_permanent(NULL));
    for (size_t i = 0; i < sizeof(permanent_phrases) / sizeof(permanent_phrases[0]); i++)
        ck_assert_msg(rules_text_says_permanent(permanent_phrases[i]), "%s", permanent_phrases[i]);
}
END_TEST

START_TEST(test_is_reason)
{
    ck_assert(rules_is_reason("userunknown"));
    ck_assert(rules_is_reason("feedback"));
    ck_assert(rules_is_reason("failedstarttls"));
    ck_assert(!rules_is_reason("UserUnknown"));
    ck_assert(!rules_is_reason("hard"));
    ck_assert(!rules_is_reason(""));
    ck_assert(!rules_is_reason(NULL));
}
END_TEST

/* The same texts always give the same answer, also after the regexes are
 * compiled (first call) and reused (later calls). */
START_TEST(test_repeatable)
{
    const char *text = "554 IP=192.0.2.1 - A problem occurred. (BL)";
    const char *first = rules_reason_for_text(text);

    ck_assert_ptr_nonnull(first);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(rules_reason_for_text(text), first);
}
END_TEST

static Suite *rules_suite(void)
{
    Suite *s = suite_create("rules");
    TCase *tc = tcase_create("table");

    tcase_add_test(tc, test_every_row_is_well_formed);
    tcase_add_test(tc, test_every_sample_reaches_its_row);
    tcase_add_test(tc, test_no_match);
    tcase_add_test(tc, test_normalization);
    tcase_add_test(tc, test_filter_and_directory_words);
    tcase_add_test(tc, test_long_text);
    tcase_add_test(tc, test_repeatable);
    suite_add_tcase(s, tc);

    tc = tcase_create("status");
    tcase_add_test(tc, test_status_table);
    suite_add_tcase(s, tc);

    tc = tcase_create("phrases");
    tcase_add_test(tc, test_temporary_phrases);
    tcase_add_test(tc, test_permanent_phrases);
    tcase_add_test(tc, test_is_reason);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rules_suite());

    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
