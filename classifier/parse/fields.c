/*
 * fields.c: header-style field blocks (bounce.h fields_*, bmsg_header).
 *
 * Offers every part of suppress-ingest one tolerant parser for "Name: value"
 * blocks: message headers, DSN groups (RFC 3464), ARF reports (RFC 5965)
 * and the header blocks detectors find inlined in plain-text bounces.
 * Real bounces are full of junk, so the parser never fails: CRLF or LF,
 * folded lines are unfolded, lines that are no field are skipped.  Header
 * values with RFC 2047 words or raw 8-bit bytes are decoded to valid UTF-8
 * (fields_parse); DSN and ARF values are machine-readable and only get
 * invalid UTF-8 repaired (fields_parse_raw).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "bounce.h"

/*
 * Detectors ask for a header by name dozens of times per message: compare
 * the first letter inline and call strcasecmp() only for the few names
 * that start alike.
 */
const char *fields_get(const BOUNCE_FIELDS *fields, const char *name)
{
    int first;

    if (fields == NULL || name == NULL)
        return NULL;
    first = g_ascii_tolower(*name);
    for (size_t i = 0; i < fields->count; i++) {
        const char *candidate = fields->items[i].name;

        if (g_ascii_tolower(*candidate) == first && strcasecmp(candidate, name) == 0)
            return fields->items[i].value;
    }
    return NULL;
}

const char *bmsg_header(const BOUNCE_MSG *msg, const char *name)
{
    return msg == NULL ? NULL : fields_get(&msg->headers, name);
}

const char *bmsg_returned_header(const BOUNCE_MSG *msg, const char *name)
{
    return msg == NULL ? NULL : fields_get(msg->returned, name);
}

void fields_free(BOUNCE_FIELDS *fields)
{
    if (fields == NULL)
        return;
    for (size_t i = 0; i < fields->count; i++) {
        free(fields->items[i].name);
        free(fields->items[i].value);
    }
    free(fields->items);
    fields->items = NULL;
    fields->count = 0;
}

/* A field name is printable ASCII without colon or space (RFC 5322 ftext). */
static bool is_field_name_char(unsigned char c)
{
    return c > 32 && c < 127 && c != ':';
}

static bool is_blank_line(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
            return false;
    return true;
}

static bool needs_decoding(const char *value)
{
    if (strstr(value, "=?") != NULL)
        return true;
    for (const unsigned char *p = (const unsigned char *) value; *p; p++)
        if (*p >= 0x80)
            return true;
    return false;
}

/* RFC 2047 words and raw 8-bit (in whatever charset GMime guesses best)
 * become UTF-8, so no caller ever sees invalid UTF-8 from a header. */
static char *decode_value(char *value)
{
    char *decoded;

    if (!needs_decoding(value))
        return value;
    decoded = g_mime_utils_header_decode_text(NULL, value);
    if (decoded == NULL)
        return value;
    free(value);
    value = strdup(decoded);
    g_free(decoded);
    return value;
}

/* A machine-readable value stays as it is; only bytes that are not UTF-8
 * are read in the charset GMime guesses best. */
static char *repair_value(char *value)
{
    char *decoded;

    if (g_utf8_validate(value, -1, NULL))
        return value;
    decoded = g_mime_utils_decode_8bit(NULL, value, strlen(value));
    if (decoded == NULL || !g_utf8_validate(decoded, -1, NULL)) {
        g_free(decoded);
        decoded = g_utf8_make_valid(value, -1);
    }
    free(value);
    value = strdup(decoded);
    g_free(decoded);
    return value;
}

/* Growable text buffer for one unfolded value. */
struct value_buf {
    char *data;
    size_t len;
    size_t alloc;
};

static int value_append(struct value_buf *buf, const char *text, size_t len)
{
    if (buf->len + len + 1 > buf->alloc) {
        size_t alloc = buf->alloc ? buf->alloc : 64;
        char *data;

        while (alloc < buf->len + len + 1)
            alloc *= 2;
        if ((data = realloc(buf->data, alloc)) == NULL)
            return -1;
        buf->data = data;
        buf->alloc = alloc;
    }
    memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return 0;
}

/* Trim space (and a stray CR) on both ends of [*start, *start+*len). */
static void trim_span(const char **start, size_t *len)
{
    while (*len > 0 && isspace((unsigned char) **start)) {
        (*start)++;
        (*len)--;
    }
    while (*len > 0 && isspace((unsigned char) (*start)[*len - 1]))
        (*len)--;
}

static int fields_append(BOUNCE_FIELDS *out, const char *name, size_t name_len,
                         struct value_buf *value, bool decode)
{
    BOUNCE_FIELD *items;
    char *name_copy;
    char *value_copy;

    items = realloc(out->items, (out->count + 1) * sizeof(*items));
    if (items == NULL)
        return -1;
    out->items = items;
    name_copy = strndup(name, name_len);
    value_copy = value->data ? value->data : strdup("");
    value->data = NULL;
    value->len = value->alloc = 0;
    if (name_copy == NULL || value_copy == NULL) {
        free(name_copy);
        free(value_copy);
        return -1;
    }
    items[out->count].name = name_copy;
    items[out->count].value = decode ? decode_value(value_copy) : repair_value(value_copy);
    if (items[out->count].value == NULL) {
        free(name_copy);
        return -1;
    }
    out->count++;
    return 0;
}

/*
 * Split a line into a field name and value.  The name may be followed by
 * space before the colon ("Reporting-MTA : dns; x", seen in the wild).
 * Returns false for lines that are no field (prose, junk).
 */
static bool split_field_line(const char *line, size_t len, size_t *name_len,
                             const char **value, size_t *value_len)
{
    size_t i = 0;
    size_t end;

    while (i < len && is_field_name_char((unsigned char) line[i]))
        i++;
    if (i == 0)
        return false;
    end = i;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    if (i >= len || line[i] != ':')
        return false;
    *name_len = end;
    *value = line + i + 1;
    *value_len = len - i - 1;
    trim_span(value, value_len);
    return true;
}

static size_t parse_block(const char *text, BOUNCE_FIELDS *out, bool decode)
{
    const char *line = text;
    const char *name = NULL;
    size_t name_len = 0;
    struct value_buf value = { NULL, 0, 0 };
    size_t added = 0;
    bool started = false;

    if (text == NULL || out == NULL)
        return 0;
    while (*line != '\0') {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t) (eol - line) : strlen(line);
        const char *next = eol ? eol + 1 : line + len;
        const char *val;
        size_t val_len;

        if (is_blank_line(line, len)) {
            /* Leading blank lines are skipped; a later one ends the block. */
            if (started)
                break;
            line = next;
            continue;
        }
        started = true;
        if ((line[0] == ' ' || line[0] == '\t')) {
            /* Continuation: unfold into one space-separated value. */
            val = line;
            val_len = len;
            trim_span(&val, &val_len);
            if (name != NULL && val_len > 0
                && ((value.len > 0 && value_append(&value, " ", 1) < 0)
                    || value_append(&value, val, val_len) < 0))
                goto out_of_memory;
        } else {
            if (name != NULL) {
                if (fields_append(out, name, name_len, &value, decode) < 0)
                    goto out_of_memory;
                added++;
                name = NULL;
            }
            if (split_field_line(line, len, &name_len, &val, &val_len)) {
                name = line;
                if (value_append(&value, "", 0) < 0
                    || value_append(&value, val, val_len) < 0)
                    goto out_of_memory;
            }
        }
        line = next;
    }
    if (name != NULL && fields_append(out, name, name_len, &value, decode) == 0)
        added++;
    free(value.data);
    return added;

out_of_memory:
    /* Keep what was parsed; the caller sees fewer fields, never a crash. */
    free(value.data);
    return added;
}

size_t fields_parse(const char *text, BOUNCE_FIELDS *out)
{
    return parse_block(text, out, true);
}

size_t fields_parse_raw(const char *text, BOUNCE_FIELDS *out)
{
    return parse_block(text, out, false);
}
