/*
 * parse/decode.c: a MIME part's content as clean UTF-8 text (message_int.h).
 *
 * Offers the walk in message.c the text of every part it keeps: transfer
 * encoding undone (GMime), converted from the part's charset, invalid
 * UTF-8 repaired, NUL bytes and control characters made spaces, CRLF made
 * LF; and HTML reduced to text for bounces that come as HTML only.  The
 * detectors then see plain lines and never a byte they must guard against.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gmime/gmime.h>

#include "message_int.h"

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
char *utf8_text(const char *bytes, size_t len)
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
char *part_text(GMimePart *part)
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
char *object_text(GMimeObject *object)
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

char *html_to_text(const char *html)
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
