/*
 * parse/headers.c: header blocks of GMime objects as BOUNCE_FIELDS, and
 * the flattened body (message_int.h).
 *
 * Offers the walk in message.c the headers of the message and of returned
 * messages, in their order, values unfolded and decoded (RFC 2047 words,
 * 8-bit bytes) to UTF-8 with a fast path for plain ASCII, and the pieces
 * msg->flat is built of ("Content-Type: <type>" and the part's text).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "message_int.h"

/* ---- header blocks ---- */

/* Unfold in place: a line break and the white space around it become one
 * space; surrounding space is trimmed. */
static void unfold(char *value)
{
    char *out = value;

    for (char *in = value; *in; in++) {
        if (*in == '\r' || *in == '\n') {
            while (out > value && (out[-1] == ' ' || out[-1] == '\t'))
                out--;
            while (in[1] == '\r' || in[1] == '\n' || in[1] == ' ' || in[1] == '\t')
                in++;
            *out++ = ' ';
            continue;
        }
        *out++ = *in;
    }
    *out = '\0';
    g_strstrip(value);
}

/* C0 controls but TAB, CR and LF (the folding unfold() handles) become spaces. */
static void controls_to_space(char *value)
{
    for (unsigned char *p = (unsigned char *) value; *p; p++)
        if (*p < 0x20 && *p != '\t' && *p != '\r' && *p != '\n')
            *p = ' ';
}

/*
 * A plain ASCII value (no RFC 2047 word, no 8-bit byte), the common case,
 * in one pass: what unfold() and controls_to_space() make of it, without
 * GMime's decoder, which returns such a value as it is, at a price (it was
 * a tenth of the whole run).  NULL when the value is not plain.
 */
static char *plain_value(const char *raw)
{
    char *value = malloc(strlen(raw) + 1);
    char *out = value;
    const unsigned char *in = (const unsigned char *) raw;

    if (value == NULL)
        return NULL;
    while (*in == ' ' || *in == '\t')
        in++;
    for (; *in; in++) {
        if (*in >= 0x80 || (*in == '=' && in[1] == '?')) {
            free(value);
            return NULL;
        }
        if (*in == '\r' || *in == '\n') {
            while (out > value && (out[-1] == ' ' || out[-1] == '\t'))
                out--;
            while (in[1] == '\r' || in[1] == '\n' || in[1] == ' ' || in[1] == '\t')
                in++;
            *out++ = ' ';
            continue;
        }
        *out++ = *in < 0x20 && *in != '\t' ? ' ' : (char) *in;
    }
    *out = '\0';
    return g_strstrip(value);
}

/* A raw header value decoded (RFC 2047 words, 8-bit bytes made UTF-8
 * whatever GMime thinks of the header), cleaned and unfolded; malloc'd. */
static char *header_value(const char *raw)
{
    char *value = plain_value(raw);
    char *decoded;

    if (value != NULL)
        return value;
    decoded = g_mime_utils_header_decode_text(NULL, raw);
    value = strdup(decoded ? decoded : "");
    g_free(decoded);
    if (value != NULL) {
        controls_to_space(value);
        unfold(value);
    }
    return value;
}

/* An object's headers as BOUNCE_FIELDS, in their order, values decoded. */
void object_headers(GMimeObject *object, BOUNCE_FIELDS *out)
{
    GMimeHeaderList *list = g_mime_object_get_header_list(object);
    int count = list ? g_mime_header_list_get_count(list) : 0;

    if (count <= 0)
        return;
    out->items = calloc((size_t) count, sizeof(*out->items));
    if (out->items == NULL)
        return;
    for (int i = 0; i < count; i++) {
        GMimeHeader *header = g_mime_header_list_get_header_at(list, i);
        const char *name = g_mime_header_get_name(header);
        const char *raw = g_mime_header_get_raw_value(header);
        BOUNCE_FIELD *field = &out->items[out->count];

        if (name == NULL)
            continue;
        field->name = strdup(name);
        field->value = header_value(raw ? raw : "");
        if (field->name == NULL || field->value == NULL) {
            free(field->name);
            free(field->value);
            continue;
        }
        out->count++;
    }
}

/* GMime keeps the Content-* headers with the body part: put them back
 * among the message's headers, where bounce.h promises all of them. */
void add_content_headers(GMimeObject *body, BOUNCE_FIELDS *headers)
{
    BOUNCE_FIELDS content = { NULL, 0 };

    object_headers(body, &content);
    for (size_t i = 0; i < content.count; i++) {
        if (fields_get(headers, content.items[i].name) == NULL) {
            fields_move(headers, &content.items[i]);
        } else {
            free(content.items[i].name);
            free(content.items[i].value);
        }
    }
    free(content.items);
}

void flat_add_fields(GString *flat, const BOUNCE_FIELDS *fields)
{
    for (size_t i = 0; i < fields->count; i++) {
        g_string_append(flat, fields->items[i].name);
        g_string_append(flat, ": ");
        g_string_append(flat, fields->items[i].value);
        g_string_append_c(flat, '\n');
    }
}

void flat_add_part(GString *flat, const char *type, const char *text)
{
    g_string_append(flat, "Content-Type: ");
    g_string_append(flat, type);
    g_string_append_c(flat, '\n');
    g_string_append(flat, text);
    if (flat->len > 0 && flat->str[flat->len - 1] != '\n')
        g_string_append_c(flat, '\n');
}
