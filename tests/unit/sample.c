/*
 * sample.c: reading and parsing the classifier tests' sample messages
 * (sample.h), so that each test file does not carry its own loader.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse/message.h"
#include "sample.h"

char *sample_read(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    FILE *fp;
    char *buf;
    long size;

    snprintf(path, sizeof(path), "%s/unit/data/%s/%s", TESTS_SRCDIR, dir, name);
    fp = fopen(path, "rb");
    ck_assert_msg(fp != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    size = ftell(fp);
    ck_assert_int_ge(size, 0);
    rewind(fp);
    buf = malloc((size_t) size + 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(fread(buf, 1, (size_t) size, fp), (size_t) size);
    buf[size] = '\0';
    fclose(fp);
    *len = (size_t) size;
    return buf;
}

void sample_parse(const char *dir, const char *name, const char *envelope_recipient,
                  BOUNCE_MSG *msg)
{
    SUP_ERR err;
    size_t len;
    char *raw = sample_read(dir, name, &len);

    ck_assert_msg(message_parse(raw, len, name, envelope_recipient, NULL, msg, &err) == 0,
                  "%s: %s", name, err.text);
    free(raw);
}

void sample_parse_string(const char *raw, BOUNCE_MSG *msg)
{
    SUP_ERR err;

    ck_assert_msg(message_parse(raw, strlen(raw), "inline", NULL, NULL, msg, &err) == 0, "%s",
                  err.text);
}
