/*
 * json.c: writing JSON strings and key/value pairs (see json.h).
 *
 * Text from bounces is often not valid UTF-8: invalid bytes are written as
 * \u00XX (their Latin-1 reading) so the output always parses.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "json.h"

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_sequence_length(const unsigned char *s)
{
    size_t len;
    size_t i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    /* Overlong forms, surrogates and out-of-range code points are invalid. */
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
        || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

void json_string(FILE *fp, const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    const unsigned char *run;   /* bytes to write as they are, not written yet */

    if (s == NULL) {
        fputs("null", fp);
        return;
    }
    putc('"', fp);
    run = p;
    while (*p != '\0') {
        size_t len;

        /* Plain text is written in runs: one fwrite, not one call per byte. */
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\') {
            p++;
            continue;
        }
        if (*p >= 0x80 && (len = utf8_sequence_length(p)) > 0) {
            p += len;
            continue;
        }
        fwrite(run, 1, (size_t) (p - run), fp);
        switch (*p) {
        case '"':
            fputs("\\\"", fp);
            break;
        case '\\':
            fputs("\\\\", fp);
            break;
        case '\n':
            fputs("\\n", fp);
            break;
        case '\r':
            fputs("\\r", fp);
            break;
        case '\t':
            fputs("\\t", fp);
            break;
        default:
            /* Control characters, and bytes that are not valid UTF-8. */
            fprintf(fp, "\\u%04x", *p);
        }
        run = ++p;
    }
    fwrite(run, 1, (size_t) (p - run), fp);
    putc('"', fp);
}

static void json_key(FILE *fp, bool *first, const char *key)
{
    if (!*first)
        fputs(", ", fp);
    *first = false;
    json_string(fp, key);
    fputs(": ", fp);
}

void json_kv_str(FILE *fp, bool *first, const char *key, const char *value)
{
    json_key(fp, first, key);
    json_string(fp, value);
}

void json_kv_int(FILE *fp, bool *first, const char *key, long long value)
{
    json_key(fp, first, key);
    fprintf(fp, "%lld", value);
}

void json_kv_bool(FILE *fp, bool *first, const char *key, bool value)
{
    json_key(fp, first, key);
    fputs(value ? "true" : "false", fp);
}
