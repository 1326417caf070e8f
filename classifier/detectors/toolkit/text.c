/*
 * toolkit/text.c: lines, one-line texts, strings and header tests for the
 * detectors (toolkit.h, sections "lines" to "headers of the bounce").
 *
 * The small jobs every detector does on a bounce's text before it finds
 * anything: split it into lines, join wrapped pieces into one line,
 * compare prefixes and phrases without regard to case, and ask the
 * bounce's headers.  Tolerant like the rest of the toolkit: a helper that
 * does not find what it looks for says so and never fails on junk.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detectors/toolkit.h"

/* ---- lines ---- */

int lines_split(const char *text, TEXT_LINES *out)
{
    size_t count = 1;
    size_t n = 0;
    char *p;

    memset(out, 0, sizeof(*out));
    if (text == NULL)
        text = "";
    for (const char *q = text; *q; q++)
        if (*q == '\n')
            count++;
    out->storage = strdup(text);
    out->line = calloc(count, sizeof(*out->line));
    if (out->storage == NULL || out->line == NULL) {
        lines_free(out);
        return -1;
    }
    for (p = out->storage; p != NULL && *p != '\0';) {
        char *eol = strchr(p, '\n');
        size_t len;

        if (eol != NULL)
            *eol = '\0';
        len = strlen(p);
        if (len > 0 && p[len - 1] == '\r')
            p[len - 1] = '\0';
        out->line[n++] = p;
        p = eol ? eol + 1 : NULL;
    }
    out->count = n;
    return 0;
}

void lines_free(TEXT_LINES *lines)
{
    free(lines->line);
    free(lines->storage);
    memset(lines, 0, sizeof(*lines));
}

const char *find_line(const char *text, const char *prefix)
{
    for (const char *line = text; line != NULL && *line != '\0';) {
        const char *p = skip_blank(line);
        const char *eol = strchr(line, '\n');

        if (after_prefix(p, prefix) != NULL)
            return p;
        line = eol != NULL ? eol + 1 : NULL;
    }
    return NULL;
}

size_t lines_after(const TEXT_LINES *lines, size_t from, const char *prefix)
{
    for (size_t i = from; i < lines->count; i++)
        if (after_prefix(skip_blank(lines->line[i]), prefix) != NULL)
            return i + 1;
    return lines->count;
}

/* ---- a one-line text built from pieces ---- */

static bool buf_reserve(TEXT_BUF *buf, size_t more)
{
    size_t alloc;
    char *data;

    if (buf->failed)
        return false;
    if (buf->len + more + 1 <= buf->alloc)
        return true;
    alloc = buf->alloc ? buf->alloc : 128;
    while (alloc < buf->len + more + 1)
        alloc *= 2;
    if ((data = realloc(buf->data, alloc)) == NULL) {
        buf->failed = true;
        return false;
    }
    buf->data = data;
    buf->alloc = alloc;
    return true;
}

void buf_join(TEXT_BUF *buf, const char *text, size_t len)
{
    size_t i = 0;

    while (i < len && isspace((unsigned char) text[i]))
        i++;
    /* At most len + 1 bytes more: the words and the spaces between them. */
    if (i == len || !buf_reserve(buf, len + 1))
        return;
    while (i < len) {
        size_t start;

        while (i < len && isspace((unsigned char) text[i]))
            i++;
        if (i >= len)
            break;
        start = i;
        while (i < len && !isspace((unsigned char) text[i]))
            i++;
        if (buf->len > 0)
            buf->data[buf->len++] = ' ';
        memcpy(buf->data + buf->len, text + start, i - start);
        buf->len += i - start;
    }
    buf->data[buf->len] = '\0';
}

void buf_join_str(TEXT_BUF *buf, const char *text)
{
    if (text != NULL)
        buf_join(buf, text, strlen(text));
}

const char *buf_str(const TEXT_BUF *buf)
{
    return buf->data != NULL && !buf->failed ? buf->data : "";
}

char *buf_take(TEXT_BUF *buf)
{
    char *data = buf->len > 0 && !buf->failed ? buf->data : NULL;

    if (data == NULL)
        free(buf->data);
    memset(buf, 0, sizeof(*buf));
    return data;
}

void buf_free(TEXT_BUF *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

/* ---- strings ---- */

const char *after_prefix(const char *text, const char *prefix)
{
    size_t len = strlen(prefix);

    if (text == NULL || strncmp(text, prefix, len) != 0)
        return NULL;
    return text + len;
}

const char *after_prefix_nocase(const char *text, const char *prefix)
{
    size_t len = strlen(prefix);

    if (text == NULL || strncasecmp(text, prefix, len) != 0)
        return NULL;
    return text + len;
}

const char *find_nocase(const char *text, const char *needle)
{
    return text != NULL ? strcasestr(text, needle) : NULL;
}

bool contains_any(const char *text, const char *const *list)
{
    if (text == NULL)
        return false;
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcasestr(text, list[i]) != NULL)
            return true;
    return false;
}

const char *skip_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

bool is_blank(const char *line)
{
    if (line == NULL)
        return true;
    for (; *line; line++)
        if (!isspace((unsigned char) *line))
            return false;
    return true;
}

bool is_indented(const char *line)
{
    return (line[0] == ' ' || line[0] == '\t') && !is_blank(line);
}

char *squeeze_space(char *s)
{
    char *w = s;
    bool space = false;

    if (s == NULL)
        return NULL;
    for (const char *r = s; *r; r++) {
        if (isspace((unsigned char) *r)) {
            space = w != s;
            continue;
        }
        if (space)
            *w++ = ' ';
        space = false;
        *w++ = *r;
    }
    *w = '\0';
    return s;
}

const char *phrase_reason(const PHRASE_REASON *table, const char *text)
{
    if (text == NULL)
        return NULL;
    for (size_t i = 0; table[i].phrase != NULL; i++)
        if (strcasestr(text, table[i].phrase) != NULL)
            return table[i].reason;
    return NULL;
}

char *host_after(const char *line, const char *marker)
{
    const char *p = line ? strstr(line, marker) : NULL;
    size_t len;

    if (p == NULL)
        return NULL;
    p += strlen(marker);
    len = strcspn(p, " \t");
    while (len > 0 && p[len - 1] == '.')
        len--;
    return len > 0 && memchr(p, '.', len) != NULL ? strndup(p, len) : NULL;
}

/* ---- headers of the bounce ---- */

bool header_contains(const BOUNCE_MSG *msg, const char *name, const char *needle)
{
    for (size_t i = 0; i < msg->headers.count; i++)
        if (strcasecmp(msg->headers.items[i].name, name) == 0
            && find_nocase(msg->headers.items[i].value, needle) != NULL)
            return true;
    return false;
}

bool header_starts(const BOUNCE_MSG *msg, const char *name, const char *prefix)
{
    const char *value = bmsg_header(msg, name);

    return value != NULL && after_prefix_nocase(skip_blank(value), prefix) != NULL;
}

bool header_is(const BOUNCE_MSG *msg, const char *name, const char *value)
{
    const char *have = bmsg_header(msg, name);
    size_t len;

    if (have == NULL)
        return false;
    have = skip_blank(have);
    len = strlen(have);
    while (len > 0 && isspace((unsigned char) have[len - 1]))
        len--;
    return len == strlen(value) && strncasecmp(have, value, len) == 0;
}
