/*
 * check_ctl_formats.c: unit tests of the input formats suppressctl import
 * reads: the RFC 4180 CSV reader and field writer (suppressctl/csv.c), the
 * JSON lines object parser (suppressctl/jsonl.c) and the time parser
 * (suppressctl/timeparse.c).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "ctl.h"
#include "jsonl.h"

/* ----- CSV ----- */

static CSV_READER *reader_on(const char *text, FILE **fp)
{
    *fp = fmemopen((void *) text, strlen(text), "r");
    ck_assert_ptr_nonnull(*fp);
    return csv_reader_new(*fp, 1);
}

START_TEST(csv_plain_and_quoted)
{
    FILE *fp;
    CSV_READER *r = reader_on("address,note\r\n"
                              "a@x,\"hello, world\"\r\n"
                              "\"b@x\",\"say \"\"hi\"\"\"\n", &fp);
    SUP_ERR err;

    ck_assert_int_eq(csv_read(r, &err), 1);
    ck_assert_uint_eq(csv_field_count(r), 2);
    ck_assert_str_eq(csv_field(r, 0), "address");
    ck_assert_str_eq(csv_field(r, 1), "note");
    ck_assert_int_eq(csv_read(r, &err), 1);
    ck_assert_int_eq(csv_record_line(r), 2);
    ck_assert_str_eq(csv_field(r, 0), "a@x");
    ck_assert_str_eq(csv_field(r, 1), "hello, world");
    ck_assert_int_eq(csv_read(r, &err), 1);
    ck_assert_int_eq(csv_record_line(r), 3);
    ck_assert_str_eq(csv_field(r, 0), "b@x");
    ck_assert_str_eq(csv_field(r, 1), "say \"hi\"");
    ck_assert_int_eq(csv_read(r, &err), 0);
    csv_reader_free(r);
    fclose(fp);
}
END_TEST

START_TEST(csv_multiline_field_keeps_line_numbers)
{
    FILE *fp;
    CSV_READER *r = reader_on("a,\"two\nlines\"\n\n\nb,c", &fp);
    SUP_ERR err;

    ck_assert_int_eq(csv_read(r, &err), 1);
    ck_assert_int_eq(csv_record_line(r), 1);
    ck_assert_str_eq(csv_field(r, 1), "two\nlines");
    /* Blank lines are skipped; the last record has no newline. */
    ck_assert_int_eq(csv_read(r, &err), 1);
    ck_assert_int_eq(csv_record_line(r), 5);
    ck_assert_str_eq(csv_field(r, 0), "b");
    ck_assert_str_eq(csv_field(r, 1), "c");
    ck_assert_int_eq(csv_read(r, &err), 0);
    csv_reader_free(r);
    fclose(fp);
}
END_TEST

START_TEST(csv_empty_fields)
{
    FILE *fp;
    CSV_READER *r = reader_on("a,,\n,\n", &fp);
    SUP_ERR err;

    ck_assert_int_eq(csv_read(r, &err), 1);
    ck_assert_uint_eq(csv_field_count(r), 3);
    ck_assert_str_eq(csv_field(r, 1), "");
    ck_assert_str_eq(csv_field(r, 2), "");
    ck_assert_int_eq(csv_read(r, &err), 1);
    ck_assert_uint_eq(csv_field_count(r), 2);
    ck_assert_int_eq(csv_read(r, &err), 0);
    csv_reader_free(r);
    fclose(fp);
}
END_TEST

START_TEST(csv_bad_records_are_skipped)
{
    FILE *fp;
    CSV_READER *r = reader_on("a,b\"c\nd,\"e\"f\ng,h\n\"never closed\n", &fp);
    SUP_ERR err;

    ck_assert_int_eq(csv_read(r, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_int_eq(csv_record_line(r), 1);
    ck_assert_ptr_nonnull(strstr(err.text, "quote inside an unquoted field"));
    ck_assert_int_eq(csv_read(r, &err), -1);
    ck_assert_int_eq(csv_record_line(r), 2);
    ck_assert_ptr_nonnull(strstr(err.text, "after the closing quote"));
    ck_assert_int_eq(csv_read(r, &err), 1);
    ck_assert_int_eq(csv_record_line(r), 3);
    ck_assert_str_eq(csv_field(r, 0), "g");
    ck_assert_int_eq(csv_read(r, &err), -1);
    ck_assert_int_eq(csv_record_line(r), 4);
    ck_assert_ptr_nonnull(strstr(err.text, "never closed"));
    ck_assert_int_eq(csv_read(r, &err), 0);
    csv_reader_free(r);
    fclose(fp);
}
END_TEST

START_TEST(csv_write_round_trip)
{
    static const char *const fields[] = {"plain", "with,comma", "say \"hi\"", "two\r\nlines", ""};
    char *buf = NULL;
    size_t len = 0, i;
    FILE *out = open_memstream(&buf, &len);
    CSV_READER *r;
    FILE *in;
    SUP_ERR err;

    for (i = 0; i < 5; i++) {
        if (i)
            fputc(',', out);
        csv_write_field(out, fields[i]);
    }
    fputs("\n", out);
    fclose(out);
    ck_assert_str_eq(buf, "plain,\"with,comma\",\"say \"\"hi\"\"\",\"two\r\nlines\",\n");
    r = reader_on(buf, &in);
    ck_assert_int_eq(csv_read(r, &err), 1);
    ck_assert_uint_eq(csv_field_count(r), 5);
    for (i = 0; i < 5; i++)
        ck_assert_str_eq(csv_field(r, i), fields[i]);
    csv_reader_free(r);
    fclose(in);
    free(buf);
}
END_TEST

/* ----- JSON lines ----- */

START_TEST(jsonl_object)
{
    JSONL_OBJECT obj = {0};
    SUP_ERR err;

    ck_assert_int_eq(jsonl_parse("{\"address\": \"a@x\", \"count\": 3, \"expires\": null, "
                                 "\"note\": \"tab\\there \\\"q\\\" \\u00e9 \\ud83d\\ude00\"}\n",
                                 &obj, &err), 0);
    ck_assert_uint_eq(obj.count, 4);
    ck_assert_str_eq(jsonl_get(&obj, "address")->value, "a@x");
    ck_assert_int_eq(jsonl_get(&obj, "count")->type, JSONL_NUMBER);
    ck_assert_str_eq(jsonl_get(&obj, "count")->value, "3");
    ck_assert_int_eq(jsonl_get(&obj, "expires")->type, JSONL_NULL);
    ck_assert_ptr_null(jsonl_get(&obj, "expires")->value);
    ck_assert_str_eq(jsonl_get(&obj, "note")->value, "tab\there \"q\" \xc3\xa9 \xf0\x9f\x98\x80");
    ck_assert_ptr_null(jsonl_get(&obj, "reason"));
    ck_assert_int_eq(jsonl_parse("  {}  ", &obj, &err), 0);
    ck_assert_uint_eq(obj.count, 0);
    jsonl_free(&obj);
}
END_TEST

START_TEST(jsonl_errors)
{
    static const char *const bad[][2] = {
        {"[1]", "expected an object"},
        {"{\"a\": {\"b\": 1}}", "nested"},
        {"{\"a\": 1, \"a\": 2}", "given twice"},
        {"{\"a\": 1} x", "text after the object"},
        {"{\"a\": \"open", "not closed"},
        {"{\"a\": \"\\ud800\"}", "surrogate"},
        {"{\"a\": \"\\u0000\"}", "NUL"},
        {"{\"a\": 01}", "expected ',' or '}'"},
        {"{\"a\" 1}", "expected ':'"},
        {"{a: 1}", "expected a key"},
        {"{\"a\": tru}", "expected a string"},
    };
    JSONL_OBJECT obj = {0};
    SUP_ERR err;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sup_err_clear(&err);
        ck_assert_msg(jsonl_parse(bad[i][0], &obj, &err) == -1, "accepted %s", bad[i][0]);
        ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
        ck_assert_msg(strstr(err.text, bad[i][1]) != NULL, "%s: got \"%s\"", bad[i][0], err.text);
        ck_assert_msg(strstr(err.text, "column ") != NULL, "%s: no column in \"%s\"",
                      bad[i][0], err.text);
    }
    jsonl_free(&obj);
}
END_TEST

/* ----- times ----- */

START_TEST(time_formats)
{
    SUP_ERR err;
    time_t t;

    ck_assert_int_eq(ctl_time_parse("2026-11-22T16:20:00Z", &t, &err), 0);
    ck_assert_int_eq(t, 1795364400);
    ck_assert_int_eq(ctl_time_parse("2026-11-22 18:20:00.75+02:00", &t, &err), 0);
    ck_assert_int_eq(t, 1795364400);
    ck_assert_int_eq(ctl_time_parse("2026-11-22T11:20-0500", &t, &err), 0);
    ck_assert_int_eq(t, 1795364400);
    ck_assert_int_eq(ctl_time_parse("2026-11-22", &t, &err), 0);
    ck_assert_int_eq(t, 1795305600);
    ck_assert_int_eq(ctl_time_parse("1795364400", &t, &err), 0);
    ck_assert_int_eq(t, 1795364400);
    ck_assert_int_eq(ctl_time_parse("2024-02-29", &t, &err), 0);
}
END_TEST

START_TEST(time_errors)
{
    static const char *const bad[] = {
        "2026-02-29", "2026-13-01", "2026-11-22T25:00:00Z", "2026-11-22T16:20:00X",
        "22/11/2026", "tomorrow", "", "-5", "2026-11-22T", "1969-12-31",
    };
    SUP_ERR err;
    size_t i;
    time_t t;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sup_err_clear(&err);
        ck_assert_msg(ctl_time_parse(bad[i], &t, &err) == -1, "accepted \"%s\"", bad[i]);
        ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
        ck_assert_msg(strstr(err.text, bad[i]) != NULL, "\"%s\" not named in \"%s\"",
                      bad[i], err.text);
    }
}
END_TEST

static Suite *formats_suite(void)
{
    Suite *s = suite_create("ctl_formats");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, csv_plain_and_quoted);
    tcase_add_test(tc, csv_multiline_field_keeps_line_numbers);
    tcase_add_test(tc, csv_empty_fields);
    tcase_add_test(tc, csv_bad_records_are_skipped);
    tcase_add_test(tc, csv_write_round_trip);
    tcase_add_test(tc, jsonl_object);
    tcase_add_test(tc, jsonl_errors);
    tcase_add_test(tc, time_formats);
    tcase_add_test(tc, time_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(formats_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
