/*
 * message.c: one raw message -> BOUNCE_MSG (message.h).
 *
 * Offers ingest.c (and the tests) the decoded view every detector reads:
 * headers, the human-readable text, the flattened body, the DSN groups,
 * the ARF report and the returned message's headers.  GMime does all MIME
 * work (structure, transfer encodings, charsets, RFC 2047); this file only
 * walks the tree GMime builds and picks the parts out.  Nothing here may
 * crash on a broken message: what GMime cannot structure is read as text.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "addr.h"
#include "bounce.h"
#include "message.h"

/* What the walk over the MIME tree collects before it is stored in msg. */
struct walk {
    BOUNCE_MSG *msg;
    GString *flat;
    /* The leaf whose text is the human-readable part of the first
     * multipart/report: taken when the walk decodes it (never twice). */
    GMimeObject *report_leaf;
    char *report_text;
    char *first_plain;          /* first text/plain part */
    char *first_html;           /* first text/html part, reduced to text */
    bool saw_report;            /* a multipart/report, DSN or ARF part of its own */
    /* The first attached message that holds a multipart/report (a bounce
     * forwarded by a filter under a notice of its own), and whether the
     * walk is inside it now. */
    GMimeObject *attached_report;
    bool nested;
};

static int fields_move(BOUNCE_FIELDS *to, BOUNCE_FIELD *item);

/* ---- decoded text ---- */

/*
 * Clean decoded text in place: CR before LF dropped (lines end in LF
 * only), and every other C0 control but TAB and LF (a lone CR, BEL, ESC,
 * form feed...) made a space, so detectors and the JSON output see plain
 * lines.
 */
static void text_clean(char *text)
{
    char *out = text;

    for (const char *in = text; *in; in++) {
        unsigned char c = (unsigned char) *in;

        if (c == '\r') {
            const char *after = in;

            while (*after == '\r')
                after++;
            if (*after == '\n') {
                in = after - 1;         /* the LF is copied next round */
                continue;
            }
            c = ' ';
        } else if (c < 0x20 && c != '\t' && c != '\n') {
            c = ' ';
        }
        *out++ = (char) c;
    }
    *out = '\0';
}

/* NUL bytes (a quoted-printable "=00", binary junk) become spaces, so the
 * text is one C string and nothing after them is lost. */
static void nul_to_space(char *bytes, size_t len)
{
    char *p = bytes;
    char *end = bytes + len;

    while (p < end && (p = memchr(p, '\0', (size_t) (end - p))) != NULL)
        *p++ = ' ';
}

/*
 * Take buf[0..len) (g_malloc'd, buf[len] == '\0'; ownership passes) and
 * return it as clean, valid UTF-8 (g_malloc'd): as is when it already is
 * valid, else GMime's best guess among its fallback charsets.
 */
static char *utf8_take(char *buf, size_t len)
{
    nul_to_space(buf, len);
    if (!g_utf8_validate_len(buf, len, NULL)) {
        char *decoded = g_mime_utils_decode_8bit(NULL, buf, len);

        if (decoded == NULL || !g_utf8_validate(decoded, -1, NULL)) {
            g_free(decoded);
            decoded = g_utf8_make_valid(buf, (gssize) len);
        }
        g_free(buf);
        buf = decoded;
    }
    text_clean(buf);
    return buf;
}

/* bytes[0..len) as clean, valid UTF-8 (g_malloc'd); never NULL. */
static char *utf8_text(const char *bytes, size_t len)
{
    if (bytes == NULL || len == 0)
        return g_strdup("");
    return utf8_take(g_strndup(bytes, len), len);
}

/* The bytes written to a memory stream, taken over with a NUL after them
 * (no copy).  The stream must not be used afterwards but to unref it. */
static char *stream_mem_take(GMimeStream *mem, size_t *len)
{
    GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));

    *len = bytes->len;
    g_byte_array_append(bytes, (const guint8 *) "", 1);
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    return (char *) g_byte_array_free(bytes, FALSE);
}

static bool charset_is_utf8(const char *charset)
{
    return g_ascii_strcasecmp(charset, "utf-8") == 0
        || g_ascii_strcasecmp(charset, "utf8") == 0
        || g_ascii_strcasecmp(charset, "us-ascii") == 0;
}

/* Charsets whose text is full of NUL bytes by nature. */
static bool charset_is_wide(const char *charset)
{
    static const char *const prefixes[] = { "utf-16", "utf16", "utf-32", "utf32", "ucs-", "ucs2", "ucs4", NULL };

    for (int i = 0; prefixes[i] != NULL; i++)
        if (g_ascii_strncasecmp(charset, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

/*
 * in[0..len) converted from charset to UTF-8 by GMime's charset filter
 * (g_malloc'd, NUL-terminated, *out_len set), or NULL when GMime has no
 * converter for the charset.
 */
static char *charset_convert(char *in, size_t len, const char *charset, size_t *out_len)
{
    GMimeFilter *filter = g_mime_filter_charset_new(charset, "UTF-8");
    GString *out;
    char *chunk;
    size_t chunk_len, prespace;

    if (filter == NULL)
        return NULL;
    out = g_string_sized_new(len + len / 2 + 1);
    g_mime_filter_filter(filter, in, len, 0, &chunk, &chunk_len, &prespace);
    g_string_append_len(out, chunk, (gssize) chunk_len);
    g_mime_filter_complete(filter, in + len, 0, 0, &chunk, &chunk_len, &prespace);
    g_string_append_len(out, chunk, (gssize) chunk_len);
    g_object_unref(filter);
    *out_len = out->len;
    return g_string_free(out, FALSE);
}

/*
 * A leaf part's content: transfer encoding undone, converted from its
 * charset to UTF-8, cleaned (see utf8_take).  g_malloc'd.  NUL bytes are
 * replaced before the charset conversion: GMime's converter loses the
 * rest of a text after one.
 */
static char *part_text(GMimePart *part)
{
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    const char *charset;
    GMimeStream *mem;
    char *bytes;
    size_t len;

    if (content == NULL)
        return g_strdup("");
    mem = g_mime_stream_mem_new();
    g_mime_data_wrapper_write_to_stream(content, mem);
    bytes = stream_mem_take(mem, &len);
    g_object_unref(mem);
    charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
    if (charset != NULL && !charset_is_utf8(charset)) {
        char *converted;
        size_t converted_len;

        if (!charset_is_wide(charset))
            nul_to_space(bytes, len);
        if ((converted = charset_convert(bytes, len, charset, &converted_len)) != NULL) {
            g_free(bytes);
            bytes = converted;
            len = converted_len;
        }
    }
    return utf8_take(bytes, len);
}

/* A whole (embedded) object written back as text: headers and body. */
static char *object_text(GMimeObject *object)
{
    GMimeStream *mem = g_mime_stream_mem_new();
    char *bytes;
    size_t len;

    g_mime_object_write_to_stream(object, NULL, mem);
    bytes = stream_mem_take(mem, &len);
    g_object_unref(mem);
    return utf8_take(bytes, len);
}

/* ---- HTML reduced to text (for bounces that come as HTML only) ---- */

static const struct {
    const char *name;
    const char *text;
} html_entities[] = {
    { "amp", "&" }, { "lt", "<" }, { "gt", ">" }, { "quot", "\"" },
    { "apos", "'" }, { "nbsp", " " }, { "#39", "'" },
};

/* Decode the entity at *p (just after '&'); advances *p past it. */
static void html_entity(const char **p, GString *out)
{
    const char *semi = strchr(*p, ';');
    size_t len;

    if (semi == NULL || semi - *p > 10) {
        g_string_append_c(out, '&');
        return;
    }
    len = (size_t) (semi - *p);
    if (**p == '#') {
        gunichar c = (gunichar) ((*p)[1] == 'x' || (*p)[1] == 'X'
                                 ? strtoul(*p + 2, NULL, 16) : strtoul(*p + 1, NULL, 10));
        if (c != 0 && g_unichar_validate(c)) {
            g_string_append_unichar(out, c);
            *p = semi + 1;
            return;
        }
    }
    for (size_t i = 0; i < G_N_ELEMENTS(html_entities); i++) {
        if (strlen(html_entities[i].name) == len
            && strncasecmp(*p, html_entities[i].name, len) == 0) {
            g_string_append(out, html_entities[i].text);
            *p = semi + 1;
            return;
        }
    }
    g_string_append_c(out, '&');
}

/* True if the tag at p (after '<', maybe '/') is one that ends a line. */
static bool html_tag_breaks_line(const char *p)
{
    static const char *const tags[] = { "br", "p", "div", "tr", "li", "h1", "h2", "h3",
                                        "table", "pre", "blockquote", NULL };
    if (*p == '/')
        p++;
    for (int i = 0; tags[i]; i++) {
        size_t n = strlen(tags[i]);

        if (strncasecmp(p, tags[i], n) == 0 && !isalnum((unsigned char) p[n]))
            return true;
    }
    return false;
}

/* Skip a <script> or <style> element entirely. */
static const char *html_skip_element(const char *p, const char *name)
{
    char close[16];
    const char *end;

    snprintf(close, sizeof(close), "</%s", name);
    end = strcasestr(p, close);
    if (end == NULL)
        return p + strlen(p);
    end = strchr(end, '>');
    return end ? end + 1 : p + strlen(p);
}

static char *html_to_text(const char *html)
{
    GString *out = g_string_sized_new(strlen(html) / 2 + 1);
    const char *p = html;

    while (*p) {
        if (*p == '<') {
            const char *end;

            if (strncasecmp(p, "<script", 7) == 0)
                p = html_skip_element(p, "script");
            else if (strncasecmp(p, "<style", 6) == 0)
                p = html_skip_element(p, "style");
            else if (strncmp(p, "<!--", 4) == 0) {
                end = strstr(p, "-->");
                p = end ? end + 3 : p + strlen(p);
            } else {
                if (html_tag_breaks_line(p + 1))
                    g_string_append_c(out, '\n');
                end = strchr(p, '>');
                p = end ? end + 1 : p + strlen(p);
            }
        } else if (*p == '&') {
            p++;
            html_entity(&p, out);
        } else if (*p == '\n' || *p == '\r') {
            /* HTML line breaks are spaces; tags decide the lines. */
            g_string_append_c(out, ' ');
            p++;
        } else {
            g_string_append_c(out, *p++);
        }
    }
    return g_string_free(out, FALSE);
}

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
static void object_headers(GMimeObject *object, BOUNCE_FIELDS *out)
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
static void add_content_headers(GMimeObject *body, BOUNCE_FIELDS *headers)
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

static void flat_add_fields(GString *flat, const BOUNCE_FIELDS *fields)
{
    for (size_t i = 0; i < fields->count; i++) {
        g_string_append(flat, fields->items[i].name);
        g_string_append(flat, ": ");
        g_string_append(flat, fields->items[i].value);
        g_string_append_c(flat, '\n');
    }
}

static void flat_add_part(GString *flat, const char *type, const char *text)
{
    g_string_append(flat, "Content-Type: ");
    g_string_append(flat, type);
    g_string_append_c(flat, '\n');
    g_string_append(flat, text);
    if (flat->len > 0 && flat->str[flat->len - 1] != '\n')
        g_string_append_c(flat, '\n');
}

/* ---- the DSN part (RFC 3464 / RFC 6533) ---- */

static int fields_move(BOUNCE_FIELDS *to, BOUNCE_FIELD *item)
{
    BOUNCE_FIELD *items = realloc(to->items, (to->count + 1) * sizeof(*items));

    if (items == NULL) {
        free(item->name);
        free(item->value);
        return -1;
    }
    to->items = items;
    to->items[to->count++] = *item;
    return 0;
}

static BOUNCE_FIELDS *dsn_new_rcpt_group(BOUNCE_MSG *msg)
{
    BOUNCE_FIELDS *groups = realloc(msg->dsn_rcpts, (msg->dsn_rcpt_count + 1) * sizeof(*groups));

    if (groups == NULL)
        return NULL;
    msg->dsn_rcpts = groups;
    memset(&groups[msg->dsn_rcpt_count], 0, sizeof(*groups));
    return &groups[msg->dsn_rcpt_count++];
}

/* Skip to the first line after the block of non-blank lines at p. */
static const char *next_block(const char *p)
{
    bool in_block = false;

    while (*p) {
        const char *eol = strchr(p, '\n');
        const char *next = eol ? eol + 1 : p + strlen(p);
        bool blank = true;

        for (const char *c = p; c < next; c++)
            if (!isspace((unsigned char) *c))
                blank = false;
        if (blank && in_block)
            return next;
        if (!blank)
            in_block = true;
        p = next;
    }
    return p;
}

static bool is_rcpt_key(const char *name)
{
    return strcasecmp(name, "Final-Recipient") == 0 || strcasecmp(name, "Original-Recipient") == 0;
}

/* Fields that describe one recipient's delivery (RFC 3464 2.3). */
static bool is_rcpt_field(const char *name)
{
    static const char *const names[] = {
        "Original-Recipient", "Final-Recipient", "Action", "Status", "Remote-MTA",
        "Diagnostic-Code", "Last-Attempt-Date", "Final-Log-ID", "Will-Retry-Until",
        "X-Actual-Recipient", NULL,
    };

    for (int i = 0; names[i] != NULL; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

static size_t count_named(const BOUNCE_FIELD *items, size_t n, const char *name)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++)
        if (strcasecmp(items[i].name, name) == 0)
            count++;
    return count;
}

static bool fields_overlap(const BOUNCE_FIELDS *a, const BOUNCE_FIELD *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fields_get(a, items[i].name) != NULL)
            return true;
    return false;
}

/* Move items[0..n) into *to (ownership passes; the array is the caller's). */
static void fields_take(BOUNCE_FIELDS *to, BOUNCE_FIELD *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fields_move(to, &items[i]);
}

/*
 * One run of per-recipient fields (a block, or the part of the first block
 * after the per-message fields).  Normally one recipient; a sender that
 * forgot the blank lines between recipients repeats Final-Recipient: the
 * run is then cut before each repetition, keeping with it as many fields as
 * came before the first one (its Original-Recipient, say).  A run without
 * any recipient field completes the previous recipient when it adds only
 * fields that one lacks (a stray blank line inside a group).
 */
static void dsn_add_rcpt_run(BOUNCE_MSG *msg, BOUNCE_FIELD *items, size_t n, bool part_has_rcpt)
{
    const char *key = count_named(items, n, "Final-Recipient") > 0 ? "Final-Recipient" : "Original-Recipient";
    size_t keys = count_named(items, n, key);
    size_t start = 0;
    size_t prefix = 0;
    size_t prev_key = 0;
    bool first_key = true;

    if (keys == 0 && part_has_rcpt && msg->dsn_rcpt_count > 0
        && !fields_overlap(&msg->dsn_rcpts[msg->dsn_rcpt_count - 1], items, n)) {
        fields_take(&msg->dsn_rcpts[msg->dsn_rcpt_count - 1], items, n);
        return;
    }
    for (size_t i = 0; i < n && keys > 1; i++) {
        size_t cut;
        BOUNCE_FIELDS *group;

        if (strcasecmp(items[i].name, key) != 0)
            continue;
        if (first_key) {
            prefix = i;
            prev_key = i;
            first_key = false;
            continue;
        }
        cut = i >= prefix && i - prefix > prev_key ? i - prefix : prev_key + 1;
        if ((group = dsn_new_rcpt_group(msg)) == NULL)
            break;
        fields_take(group, items + start, cut - start);
        start = cut;
        prev_key = i;
    }
    if (start < n) {
        BOUNCE_FIELDS *group = dsn_new_rcpt_group(msg);

        if (group != NULL)
            fields_take(group, items + start, n - start);
        else
            for (size_t i = start; i < n; i++) {
                free(items[i].name);
                free(items[i].value);
            }
    }
}

/*
 * Split a delivery-status body into the per-message group and one group
 * per recipient, appending to msg (a bounce may hold several DSN parts:
 * the first one's per-message group is kept).  Blank lines separate the
 * groups; dsn_add_rcpt_run copes with senders that forget them.
 */
static void parse_dsn(BOUNCE_MSG *msg, const char *text)
{
    const char *p = text;
    bool first_block = true;
    bool part_has_rcpt = false;

    while (*p) {
        BOUNCE_FIELDS block = { NULL, 0 };
        size_t split = 0;

        fields_parse_raw(p, &block);
        p = next_block(p);
        if (block.count == 0) {
            fields_free(&block);
            continue;
        }
        if (first_block) {
            /* The per-message fields, up to the first per-recipient one. */
            bool has_rcpt = false;

            for (size_t i = 0; i < block.count; i++)
                has_rcpt = has_rcpt || is_rcpt_key(block.items[i].name);
            while (split < block.count && !(has_rcpt && is_rcpt_field(block.items[split].name)))
                split++;
            if (msg->dsn_message.count == 0) {
                fields_take(&msg->dsn_message, block.items, split);
            } else {
                for (size_t i = 0; i < split; i++) {
                    free(block.items[i].name);
                    free(block.items[i].value);
                }
            }
            first_block = false;
        }
        if (split < block.count) {
            dsn_add_rcpt_run(msg, block.items + split, block.count - split, part_has_rcpt);
            part_has_rcpt = true;
        }
        free(block.items);
    }
}

/* ---- walking the MIME tree ---- */

/* Deepest nesting of containers under object, stopping once over max. */
static int mime_depth(GMimeObject *object, int depth, int max)
{
    int deepest = depth;

    if (max > 0 && depth > max)
        return depth;
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *multipart = GMIME_MULTIPART(object);
        int count = g_mime_multipart_get_count(multipart);

        for (int i = 0; i < count && !(max > 0 && deepest > max); i++) {
            int d = mime_depth(g_mime_multipart_get_part(multipart, i), depth + 1, max);

            if (d > deepest)
                deepest = d;
        }
    } else if (GMIME_IS_MESSAGE_PART(object)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
        GMimeObject *body = inner ? g_mime_message_get_mime_part(inner) : NULL;

        if (body != NULL) {
            int d = mime_depth(body, depth + 1, max);

            if (d > deepest)
                deepest = d;
        }
    }
    return deepest;
}

static void set_returned(BOUNCE_MSG *msg, BOUNCE_FIELDS *fields)
{
    if (msg->returned != NULL || fields->count == 0) {
        fields_free(fields);
        return;
    }
    msg->returned = malloc(sizeof(*msg->returned));
    if (msg->returned == NULL) {
        fields_free(fields);
        return;
    }
    *msg->returned = *fields;
}

static bool is_dsn_type(const char *type)
{
    return strcmp(type, "message/delivery-status") == 0
        || strcmp(type, "message/global-delivery-status") == 0;
}

static bool is_headers_type(const char *type)
{
    return strcmp(type, "text/rfc822-headers") == 0
        || strcmp(type, "text/rfc822-header") == 0      /* a common misspelling */
        || strcmp(type, "message/global-headers") == 0
        || strcmp(type, "message/rfc822-headers") == 0;
}

/*
 * A status or report part (whatever GMime made of it: leaf or message).
 * DSN and ARF fields are machine-readable: their values are taken as they
 * are (an address like "=?utf-8?B?...?=@example.org" is what was sent to,
 * never an encoded word); returned headers are message headers.
 */
static void take_report_part(struct walk *w, const char *type, const char *text)
{
    if (is_dsn_type(type)) {
        parse_dsn(w->msg, text);
        w->saw_report = w->saw_report || !w->nested;
    } else if (strcmp(type, "message/feedback-report") == 0) {
        if (w->msg->feedback == NULL && (w->msg->feedback = calloc(1, sizeof(BOUNCE_FIELDS))))
            fields_parse_raw(text, w->msg->feedback);
        w->saw_report = w->saw_report || !w->nested;
    } else if (is_headers_type(type)) {
        BOUNCE_FIELDS fields = { NULL, 0 };

        fields_parse(text, &fields);
        set_returned(w->msg, &fields);
    }
    flat_add_part(w->flat, type, text);
}

static void walk_leaf(struct walk *w, GMimePart *part, const char *type)
{
    char *text;

    if (strncmp(type, "text/", 5) != 0 && strncmp(type, "message/", 8) != 0)
        return;                 /* attachments: images, archives... */
    text = part_text(part);
    if (strcmp(type, "text/html") == 0) {
        char *reduced = html_to_text(text);

        g_free(text);
        text = reduced;
        if (w->first_html == NULL && !w->nested)
            w->first_html = g_strdup(text);
        flat_add_part(w->flat, type, text);
    } else if (strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0) {
        /* A returned message GMime did not parse (e.g. base64-encoded). */
        BOUNCE_FIELDS fields = { NULL, 0 };

        fields_parse(text, &fields);
        g_string_append(w->flat, "Content-Type: message/rfc822\n");
        flat_add_fields(w->flat, &fields);
        set_returned(w->msg, &fields);
    } else if (strncmp(type, "message/", 8) == 0 || is_headers_type(type)) {
        take_report_part(w, type, text);
    } else {
        if (strcmp(type, "text/plain") == 0 && w->first_plain == NULL && !w->nested)
            w->first_plain = g_strdup(text);
        flat_add_part(w->flat, type, text);
    }
    if (GMIME_OBJECT(part) == w->report_leaf) {
        w->report_text = text;
        w->report_leaf = NULL;
        return;
    }
    g_free(text);
}

static char *lower_mime_type(GMimeObject *object)
{
    GMimeContentType *ct = g_mime_object_get_content_type(object);
    char *type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;

    if (type == NULL)
        return g_strdup("text/plain");
    for (char *p = type; *p; p++)
        *p = (char) g_ascii_tolower(*p);
    return type;
}

static bool object_is_type(GMimeObject *object, const char *type)
{
    char *lower = lower_mime_type(object);
    bool is = strcmp(lower, type) == 0;

    g_free(lower);
    return is;
}

/* The first multipart/report in object's tree (not inside attached messages). */
static GMimeObject *find_report(GMimeObject *object)
{
    GMimeMultipart *multipart;

    if (object == NULL || !GMIME_IS_MULTIPART(object))
        return NULL;
    if (object_is_type(object, "multipart/report"))
        return object;
    multipart = GMIME_MULTIPART(object);
    for (int i = 0; i < g_mime_multipart_get_count(multipart); i++) {
        GMimeObject *found = find_report(g_mime_multipart_get_part(multipart, i));

        if (found != NULL)
            return found;
    }
    return NULL;
}

static void walk_object(struct walk *w, GMimeObject *object);

static void walk_message_part(struct walk *w, GMimeMessagePart *part, const char *type)
{
    GMimeMessage *inner = g_mime_message_part_get_message(part);
    GMimeObject *body;

    if (inner == NULL)
        return;
    if (is_dsn_type(type) || strcmp(type, "message/feedback-report") == 0 || is_headers_type(type)) {
        /* GMime parsed a status part as a message: write it back as text. */
        char *text = object_text(GMIME_OBJECT(inner));

        take_report_part(w, type, text);
        g_free(text);
        return;
    }
    /* The returned message: its headers only, never its body's text. */
    BOUNCE_FIELDS fields = { NULL, 0 };

    body = g_mime_message_get_mime_part(inner);
    object_headers(GMIME_OBJECT(inner), &fields);
    if (body != NULL)
        add_content_headers(body, &fields);
    g_string_append(w->flat, "Content-Type: message/rfc822\n");
    flat_add_fields(w->flat, &fields);
    set_returned(w->msg, &fields);
    if (!w->nested && w->attached_report == NULL)
        w->attached_report = find_report(body);
}

/*
 * The leaf whose text is the human-readable part of a multipart/report's
 * first part: the first text/plain (or other non-HTML branch) in order,
 * else the first HTML one; NULL if there is none.
 */
static GMimeObject *report_text_leaf(GMimeObject *object)
{
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *multipart = GMIME_MULTIPART(object);
        GMimeObject *html = NULL;

        for (int i = 0; i < g_mime_multipart_get_count(multipart); i++) {
            GMimeObject *sub = g_mime_multipart_get_part(multipart, i);
            GMimeObject *found = report_text_leaf(sub);

            if (found == NULL)
                continue;
            if (!object_is_type(sub, "text/html"))
                return found;
            if (html == NULL)
                html = found;
        }
        return html;
    }
    if (GMIME_IS_PART(object)
        && (object_is_type(object, "text/plain") || object_is_type(object, "text/html")))
        return object;
    return NULL;
}

static void walk_multipart(struct walk *w, GMimeMultipart *multipart, const char *type)
{
    int count = g_mime_multipart_get_count(multipart);

    if (count == 0) {
        /* A broken boundary: GMime found no parts, the text is all prologue. */
        const char *prologue = g_mime_multipart_get_prologue(multipart);

        if (prologue != NULL && w->first_plain == NULL && !w->nested) {
            w->first_plain = utf8_text(prologue, strlen(prologue));
            flat_add_part(w->flat, "text/plain", w->first_plain);
        }
        return;
    }
    if (strcmp(type, "multipart/report") == 0 && !w->nested) {
        w->saw_report = true;
        if (w->report_text == NULL && w->report_leaf == NULL)
            w->report_leaf = report_text_leaf(g_mime_multipart_get_part(multipart, 0));
    }
    for (int i = 0; i < count; i++)
        walk_object(w, g_mime_multipart_get_part(multipart, i));
}

/*
 * A bounce forwarded as an attachment under a filter's own notice: when
 * the message has no report of its own, the attached message's
 * multipart/report gives the DSN groups and the returned message's
 * headers (those of the original, not of the attached bounce).  The
 * notice stays the human-readable text.
 */
static void walk_attached_report(struct walk *w)
{
    BOUNCE_MSG *msg = w->msg;
    BOUNCE_FIELDS *attached_headers = msg->returned;

    msg->returned = NULL;
    w->nested = true;
    walk_object(w, w->attached_report);
    w->nested = false;
    if (msg->returned == NULL) {
        msg->returned = attached_headers;
    } else {
        fields_free(attached_headers);
        free(attached_headers);
    }
}

static void walk_object(struct walk *w, GMimeObject *object)
{
    char *type = lower_mime_type(object);

    if (GMIME_IS_MULTIPART(object))
        walk_multipart(w, GMIME_MULTIPART(object), type);
    else if (GMIME_IS_MESSAGE_PART(object))
        walk_message_part(w, GMIME_MESSAGE_PART(object), type);
    else if (GMIME_IS_PART(object))
        walk_leaf(w, GMIME_PART(object), type);
    g_free(type);
}

/* ---- putting it together ---- */

/* Skip an mbox "From " envelope line at the start of a single message. */
static size_t skip_from_line(const char *raw, size_t len)
{
    const char *eol;

    if (len < 5 || strncmp(raw, "From ", 5) != 0)
        return 0;
    eol = memchr(raw, '\n', len);
    return eol ? (size_t) (eol - raw) + 1 : len;
}

/* The body after the header block of raw text (for degraded parsing). */
static const char *raw_body(const char *raw, size_t len, size_t *body_len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (raw[i] == '\n' && (raw[i + 1] == '\n'
                               || (raw[i + 1] == '\r' && i + 2 < len && raw[i + 2] == '\n'))) {
            size_t start = i + (raw[i + 1] == '\n' ? 2 : 3);

            *body_len = len - start;
            return raw + start;
        }
    }
    *body_len = 0;
    return raw + len;
}

static void set_envelope_recipient(BOUNCE_MSG *msg, const char *given)
{
    const char *value = given;

    if (value == NULL || *value == '\0')
        value = bmsg_header(msg, "Delivered-To");
    if (value == NULL || *value == '\0')
        value = bmsg_header(msg, "X-Original-To");
    if (value != NULL && *value != '\0')
        msg->envelope_recipient = g_strstrip(g_strdup(value));
}

/* Store the collected text and flat body, choosing `text` as bounce.h says. */
static void finish_walk(struct walk *w, const char *raw, size_t len)
{
    BOUNCE_MSG *msg = w->msg;

    if (w->report_text != NULL && *w->report_text != '\0') {
        msg->text = w->report_text;
        w->report_text = NULL;
    } else if (w->first_plain != NULL) {
        msg->text = w->first_plain;
        w->first_plain = NULL;
    } else if (w->first_html != NULL) {
        msg->text = w->first_html;
        w->first_html = NULL;
    } else {
        size_t body_len;
        const char *body = raw_body(raw, len, &body_len);

        msg->text = utf8_text(body, body_len);
        if (w->flat->len == 0)
            flat_add_part(w->flat, "text/plain", msg->text);
    }
    msg->flat = g_string_free(w->flat, FALSE);
    w->flat = NULL;
    g_free(w->report_text);
    g_free(w->first_plain);
    g_free(w->first_html);
}

/* When GMime cannot make a message of it: headers by hand, body as text. */
static void degrade_to_text(BOUNCE_MSG *msg, const char *raw, size_t len)
{
    char *text = utf8_text(raw, len);
    size_t body_len;
    const char *body = raw_body(raw, len, &body_len);

    fields_parse(text, &msg->headers);
    g_free(text);
    msg->content_type = g_strdup("text/plain");
    msg->text = utf8_text(body, body_len);
    msg->flat = g_strdup_printf("Content-Type: text/plain\n%s", msg->text);
}

/*
 * The top-level entity is parsed as a MIME part, not a GMimeMessage: it
 * has the same structure, and its header list holds every header in
 * order, but GMime skips what a GMimeMessage adds on top (address lists,
 * dates and references parsed into objects nobody here reads), about a
 * fifth of the parse.  Attached messages are still GMimeMessages.
 */
int message_parse(const char *raw, size_t len, const char *path,
                  const char *envelope_recipient, const MESSAGE_LIMITS *limits,
                  BOUNCE_MSG *msg, SUP_ERR *err)
{
    GMimeStream *stream;
    GMimeParser *parser;
    GMimeObject *body;
    size_t skip;
    int rc = 0;

    memset(msg, 0, sizeof(*msg));
    msg->path = path;
    msg->raw_size = len;
    if (limits != NULL && limits->max_size > 0 && len > limits->max_size)
        return sup_err_set(err, SUP_ERR_INPUT, "%s: message too large (%zu bytes, ingest.max-message-size is %zu)",
                           path, len, limits->max_size);
    skip = skip_from_line(raw, len);
    raw += skip;
    len -= skip;

    stream = g_mime_stream_mem_new_with_buffer(raw, len);
    parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    body = g_mime_parser_construct_part(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);

    if (body == NULL) {
        degrade_to_text(msg, raw, len);
    } else if (limits != NULL && limits->max_depth > 0
               && mime_depth(body, 1, limits->max_depth) > limits->max_depth) {
        rc = sup_err_set(err, SUP_ERR_INPUT, "%s: MIME structure nested deeper than ingest.max-mime-depth (%d)",
                         path, limits->max_depth);
    } else {
        struct walk w = { .msg = msg, .flat = g_string_sized_new(len / 2 + 64) };
        GMimeContentType *ct = g_mime_object_get_content_type(body);
        const char *report_type = ct ? g_mime_content_type_get_parameter(ct, "report-type") : NULL;

        object_headers(body, &msg->headers);
        msg->content_type = lower_mime_type(body);
        if (report_type != NULL)
            msg->report_type = g_ascii_strdown(report_type, -1);
        walk_object(&w, body);
        if (w.attached_report != NULL && !w.saw_report)
            walk_attached_report(&w);
        finish_walk(&w, raw, len);
    }
    if (body != NULL)
        g_object_unref(body);
    if (rc == 0)
        set_envelope_recipient(msg, envelope_recipient);
    if (msg->text == NULL)
        msg->text = g_strdup("");
    if (msg->flat == NULL)
        msg->flat = g_strdup("");
    return rc;
}

void message_free(BOUNCE_MSG *msg)
{
    if (msg == NULL)
        return;
    fields_free(&msg->headers);
    g_free(msg->content_type);
    g_free(msg->report_type);
    g_free(msg->text);
    g_free(msg->flat);
    fields_free(&msg->dsn_message);
    for (size_t i = 0; i < msg->dsn_rcpt_count; i++)
        fields_free(&msg->dsn_rcpts[i]);
    free(msg->dsn_rcpts);
    fields_free(msg->feedback);
    free(msg->feedback);
    fields_free(msg->returned);
    free(msg->returned);
    g_free(msg->envelope_recipient);
    memset(msg, 0, sizeof(*msg));
}

/* ---- VERP ---- */

static const char *verp_pattern;

void message_set_verp_pattern(const char *pattern)
{
    verp_pattern = pattern != NULL && *pattern != '\0' ? pattern : NULL;
}

/*
 * The pattern is literal text around %{local} and %{domain}, in either
 * order: prefix P0, first placeholder, separator P1, second, suffix P2.
 * Local parts may contain the separator ('='), domains do not: when the
 * local part comes first the split is at the separator's last occurrence.
 */
int verp_decode(const char *pattern, const char *envelope, char *out, size_t outlen)
{
    const char *local_at = pattern ? strstr(pattern, "%{local}") : NULL;
    const char *domain_at = pattern ? strstr(pattern, "%{domain}") : NULL;
    const char *first, *second;
    size_t first_len, second_len;
    size_t p0, p1, p2, elen;
    const char *sep;
    const char *middle_end;
    char addr[ADDR_MAX * 2];
    const char *local, *domain;
    size_t local_len, domain_len;
    SUP_ERR err;

    if (local_at == NULL || domain_at == NULL || envelope == NULL)
        return -1;
    first = local_at < domain_at ? local_at : domain_at;
    second = local_at < domain_at ? domain_at : local_at;
    first_len = first == local_at ? 8 : 9;
    second_len = second == local_at ? 8 : 9;
    p0 = (size_t) (first - pattern);
    p1 = (size_t) (second - first - (ptrdiff_t) first_len);
    p2 = strlen(second + second_len);
    elen = strlen(envelope);
    if (elen < p0 + p1 + p2 + 2 || strncasecmp(envelope, pattern, p0) != 0
        || strcasecmp(envelope + elen - p2, second + second_len) != 0)
        return -1;
    middle_end = envelope + elen - p2;
    /* Find the separator inside envelope[p0 .. middle_end). */
    sep = NULL;
    for (const char *p = envelope + p0 + 1; p + p1 < middle_end; p++) {
        if (strncasecmp(p, first + first_len, p1) == 0) {
            sep = p;
            if (first != local_at)
                break;          /* domain first: the first separator */
        }
    }
    if (sep == NULL || p1 == 0)
        return -1;
    if (first == local_at) {
        local = envelope + p0;
        local_len = (size_t) (sep - local);
        domain = sep + p1;
        domain_len = (size_t) (middle_end - domain);
    } else {
        domain = envelope + p0;
        domain_len = (size_t) (sep - domain);
        local = sep + p1;
        local_len = (size_t) (middle_end - local);
    }
    if (local_len == 0 || domain_len == 0 || local_len + domain_len + 2 > sizeof(addr))
        return -1;
    snprintf(addr, sizeof(addr), "%.*s@%.*s", (int) local_len, local, (int) domain_len, domain);
    return addr_normalize(addr, out, outlen, &err);
}

int message_verp_recipient(const BOUNCE_MSG *msg, char *out, size_t outlen)
{
    char envelope[ADDR_MAX + 1];
    SUP_ERR err;

    if (verp_pattern == NULL || msg->envelope_recipient == NULL)
        return -1;
    if (addr_normalize(msg->envelope_recipient, envelope, sizeof(envelope), &err) != 0)
        return -1;
    return verp_decode(verp_pattern, envelope, out, outlen);
}
