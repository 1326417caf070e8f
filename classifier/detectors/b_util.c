/*
 * b_util.c: text helpers shared by the detectors of group b (see b_util.h).
 *
 * Everything here is tolerant: bounces are written by programs of every
 * age, so a helper that does not find what it looks for says so and never
 * fails on junk.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "b_util.h"

/* ---- lines ---------------------------------------------------------- */

int b_lines_split(const char *text, B_LINES *lines)
{
    const char *p = text ? text : "";
    size_t alloc = 0;

    lines->v = NULL;
    lines->n = 0;
    while (*p != '\0') {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        char *line;

        if (lines->n == alloc) {
            size_t grow = alloc ? alloc * 2 : 64;
            char **v = realloc(lines->v, grow * sizeof(*v));

            if (v == NULL)
                goto fail;
            lines->v = v;
            alloc = grow;
        }
        if ((line = strndup(p, len)) == NULL)
            goto fail;
        /* CR of CRLF, and stray CRs inside the line, mean nothing here. */
        for (char *r = line; (r = strchr(r, '\r')) != NULL;)
            memmove(r, r + 1, strlen(r));
        lines->v[lines->n++] = line;
        p = eol ? eol + 1 : p + len;
    }
    return 0;

fail:
    b_lines_free(lines);
    return -1;
}

void b_lines_free(B_LINES *lines)
{
    for (size_t i = 0; i < lines->n; i++)
        free(lines->v[i]);
    free(lines->v);
    lines->v = NULL;
    lines->n = 0;
}

/* ---- growable text -------------------------------------------------- */

int b_text_addn(B_TEXT *text, const char *piece, size_t len)
{
    size_t need;

    while (len > 0 && isspace((unsigned char) *piece)) {
        piece++;
        len--;
    }
    while (len > 0 && isspace((unsigned char) piece[len - 1]))
        len--;
    if (len == 0)
        return 0;
    need = text->len + len + 2;
    if (need > text->alloc) {
        size_t alloc = text->alloc ? text->alloc : 128;
        char *s;

        while (alloc < need)
            alloc *= 2;
        if ((s = realloc(text->s, alloc)) == NULL)
            return -1;
        text->s = s;
        text->alloc = alloc;
    }
    if (text->len > 0)
        text->s[text->len++] = ' ';
    memcpy(text->s + text->len, piece, len);
    text->len += len;
    text->s[text->len] = '\0';
    return 0;
}

int b_text_add(B_TEXT *text, const char *piece)
{
    return piece ? b_text_addn(text, piece, strlen(piece)) : 0;
}

void b_text_free(B_TEXT *text)
{
    free(text->s);
    text->s = NULL;
    text->len = text->alloc = 0;
}

/* ---- strings -------------------------------------------------------- */

bool b_prefix(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

bool b_prefix_ci(const char *s, const char *prefix)
{
    return s != NULL && strncasecmp(s, prefix, strlen(prefix)) == 0;
}

const char *b_strcasestr(const char *haystack, const char *needle)
{
    size_t n;

    if (haystack == NULL || needle == NULL)
        return NULL;
    n = strlen(needle);
    for (const char *p = haystack; *p; p++)
        if (strncasecmp(p, needle, n) == 0)
            return p;
    return n == 0 ? haystack : NULL;
}

const char *b_skip_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

bool b_blank(const char *s)
{
    return s == NULL || *b_skip_blank(s) == '\0';
}

char *b_squeeze(char *s)
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

/* ---- headers -------------------------------------------------------- */

bool b_header_has(const BOUNCE_MSG *msg, const char *name, const char *needle)
{
    for (size_t i = 0; i < msg->headers.count; i++)
        if (strcasecmp(msg->headers.items[i].name, name) == 0
            && b_strcasestr(msg->headers.items[i].value, needle) != NULL)
            return true;
    return false;
}

bool b_header_prefix(const BOUNCE_MSG *msg, const char *name, const char *prefix)
{
    const char *value = bmsg_header(msg, name);

    return value != NULL && b_prefix_ci(b_skip_blank(value), prefix);
}

bool b_header_is(const BOUNCE_MSG *msg, const char *name, const char *value)
{
    const char *have = bmsg_header(msg, name);
    size_t len;

    if (have == NULL)
        return false;
    have = b_skip_blank(have);
    len = strlen(have);
    while (len > 0 && isspace((unsigned char) have[len - 1]))
        len--;
    return len == strlen(value) && strncasecmp(have, value, len) == 0;
}

/* ---- addresses ------------------------------------------------------ */

/* Characters that end a bare address in prose. */
static bool ends_address(char c)
{
    return c == '\0' || isspace((unsigned char) c) || strchr("<>()[]\",;", c) != NULL;
}

bool b_angle_address(const char *s, const char **start, size_t *len)
{
    for (const char *lt = strchr(s, '<'); lt != NULL; lt = strchr(lt + 1, '<')) {
        const char *gt = strchr(lt + 1, '>');
        const char *at = strchr(lt + 1, '@');

        if (gt == NULL)
            return false;
        if (at != NULL && at < gt && at > lt + 1 && at + 1 < gt
            && memchr(lt + 1, ' ', (size_t) (gt - lt - 1)) == NULL) {
            *start = lt + 1;
            *len = (size_t) (gt - lt - 1);
            return true;
        }
    }
    return false;
}

bool b_bare_address(const char *s, const char **start, size_t *len)
{
    for (const char *at = strchr(s, '@'); at != NULL; at = strchr(at + 1, '@')) {
        const char *b = at;
        const char *e = at + 1;

        while (b > s && !ends_address(b[-1]))
            b--;
        while (!ends_address(*e))
            e++;
        /* "user@example.com." or "user@example.com:" in prose. */
        while (e > at + 1 && strchr(".:", e[-1]) != NULL)
            e--;
        if (b < at && e > at + 1 && memchr(at + 1, '.', (size_t) (e - at - 1)) != NULL) {
            *start = b;
            *len = (size_t) (e - b);
            return true;
        }
    }
    return false;
}

bool b_is_address_line(const char *s)
{
    const char *p = b_skip_blank(s);
    const char *start;
    size_t len;
    size_t total = strlen(p);

    while (total > 0 && isspace((unsigned char) p[total - 1]))
        total--;
    if (total == 0)
        return false;
    if (*p == '<')
        return p[total - 1] == '>' && b_angle_address(p, &start, &len)
               && len + 2 == total;
    return b_bare_address(p, &start, &len) && start == p && len == total;
}

/* ---- SMTP codes ----------------------------------------------------- */

bool b_find_status(const char *text, char out[16])
{
    if (text == NULL)
        return false;
    for (const char *p = text; *p; p++) {
        const char *q = p;
        size_t n1 = 0;
        size_t n2 = 0;

        if ((*p != '2' && *p != '4' && *p != '5')
            || (p > text && (isalnum((unsigned char) p[-1]) || p[-1] == '.')))
            continue;
        if (q[1] != '.')
            continue;
        q += 2;
        while (isdigit((unsigned char) q[n1]) && n1 < 4)
            n1++;
        if (n1 == 0 || n1 > 3 || q[n1] != '.')
            continue;
        q += n1 + 1;
        while (isdigit((unsigned char) q[n2]) && n2 < 4)
            n2++;
        if (n2 == 0 || n2 > 3 || isalnum((unsigned char) q[n2])
            || (q[n2] == '.' && isdigit((unsigned char) q[n2 + 1])))
            continue;
        size_t len = (size_t) (q + n2 - p);
        memcpy(out, p, len);
        out[len] = '\0';
        return true;
    }
    return false;
}

bool b_leading_replycode(const char *text, char out[4])
{
    const char *p;

    if (text == NULL)
        return false;
    p = b_skip_blank(text);
    if ((p[0] == '2' || p[0] == '4' || p[0] == '5')
        && isdigit((unsigned char) p[1]) && isdigit((unsigned char) p[2])
        && (p[3] == '\0' || p[3] == ' ' || p[3] == '-' || p[3] == '\t')) {
        memcpy(out, p, 3);
        out[3] = '\0';
        return true;
    }
    return false;
}

void b_fill_codes(BOUNCE_RCPT *rcpt)
{
    char code[4];
    char status[16];

    if (rcpt->diagnostic == NULL)
        return;
    if (rcpt->replycode == NULL && b_leading_replycode(rcpt->diagnostic, code))
        rcpt_set(&rcpt->replycode, code);
    if (!b_find_status(rcpt->diagnostic, status))
        return;
    if (rcpt->status == NULL)
        rcpt_set(&rcpt->status, status);
    else if (strcmp(rcpt->status + 1, ".0.0") == 0 && status[0] == rcpt->status[0]
             && strcmp(status + 1, ".0.0") != 0)
        rcpt_set(&rcpt->status, status);
}

/* ---- multi-line SMTP replies --------------------------------------- */

/* "550-5.7.1 text": the code, the separator, the text after the code. */
static bool reply_line(const char *line, char code[4], char *sep, const char **rest)
{
    if (!b_leading_replycode(line, code))
        return false;
    line = b_skip_blank(line);
    *sep = line[3];
    *rest = line[3] ? line + 4 : line + 3;
    return true;
}

char *b_join_reply(char *const *lines, size_t count, size_t first,
                   const char *strip, size_t *used)
{
    B_TEXT text = { NULL, 0, 0 };
    char code[4];
    char status[16] = "";
    size_t i = first;

    *used = 0;
    while (i < count) {
        const char *line = lines[i];
        char this_code[4];
        char sep;
        const char *rest;

        if (!b_prefix(line, strip))
            break;
        line += strlen(strip);
        if (!reply_line(line, this_code, &sep, &rest)
            || (i > first && strcmp(this_code, code) != 0))
            break;
        rest = b_skip_blank(rest);
        if (i == first) {
            memcpy(code, this_code, sizeof(code));
            b_text_add(&text, code);
            /* Keep the enhanced code once, drop it from the next lines. */
            if (b_find_status(rest, status) && b_prefix(rest, status))
                b_text_add(&text, status);
            else
                status[0] = '\0';
        }
        if (status[0] != '\0' && b_prefix(rest, status))
            rest = b_skip_blank(rest + strlen(status));
        b_text_add(&text, rest);
        i++;
        if (sep != '-')
            break;
    }
    if (i == first) {
        b_text_free(&text);
        return NULL;
    }
    *used = i - first;
    return text.s ? text.s : strdup(code);
}

/* ---- RFC 3464 fields ------------------------------------------------ */

const char *b_dsn_value(const char *value)
{
    const char *p;
    const char *semi;

    if (value == NULL)
        return NULL;
    p = b_skip_blank(value);
    semi = strchr(p, ';');
    if (semi != NULL) {
        /* Only a type token ("smtp", "dns", "rfc822", "x-unix") before ';'. */
        for (const char *t = p; t < semi; t++)
            if (!isalnum((unsigned char) *t) && *t != '-' && *t != '_')
                return p;
        return b_skip_blank(semi + 1);
    }
    return p;
}

/* Copy a field's value (without its type) into *field if it has one. */
static void set_from_field(char **field, const BOUNCE_FIELDS *group, const char *name)
{
    const char *value = b_dsn_value(fields_get(group, name));

    if (value != NULL && *value != '\0') {
        rcpt_set(field, value);
        b_squeeze(*field);
    }
}

void b_dsn_apply(BOUNCE_RCPT *rcpt, const BOUNCE_FIELDS *group,
                 const BOUNCE_FIELDS *per_message)
{
    const char *final = fields_get(group, "Final-Recipient");
    const char *original = fields_get(group, "Original-Recipient");

    if (final != NULL && *b_dsn_value(final) != '\0')
        rcpt_set_address(&rcpt->recipient, final);
    else if (original != NULL && *b_dsn_value(original) != '\0')
        rcpt_set_address(&rcpt->recipient, original);
    if (original != NULL && *b_dsn_value(original) != '\0' && rcpt->recipient != NULL) {
        char *addr = NULL;

        rcpt_set_address(&addr, original);
        /* We sent to Original-Recipient; the failure is at a forward. */
        if (addr != NULL && strcmp(addr, rcpt->recipient) != 0) {
            free(rcpt->original_recipient);
            rcpt->original_recipient = addr;
            rcpt->forwarded = true;
        } else {
            free(addr);
        }
    }
    set_from_field(&rcpt->action, group, "Action");
    if (rcpt->action != NULL)
        for (char *p = rcpt->action; *p; p++)
            *p = (char) tolower((unsigned char) *p);
    set_from_field(&rcpt->status, group, "Status");
    set_from_field(&rcpt->remote_mta, group, "Remote-MTA");
    if (b_dsn_type_is_other(fields_get(group, "Diagnostic-Code"))) {
        /* "X-Unix; 255" keeps its type: without it the number means nothing. */
        rcpt_set(&rcpt->diagnostic, fields_get(group, "Diagnostic-Code"));
        b_squeeze(rcpt->diagnostic);
    } else {
        set_from_field(&rcpt->diagnostic, group, "Diagnostic-Code");
    }
    if (rcpt->status != NULL) {
        char status[16];
        const char *comment = strchr(rcpt->status, '(');

        /* "4.0.0 (example.org: host name lookup failure)": old MTAs put
         * the explanation there when they have no Diagnostic-Code. */
        if (comment != NULL && rcpt->diagnostic == NULL) {
            size_t len = strlen(comment + 1);

            while (len > 0 && (comment[len] == ')' || comment[len] == ' '))
                len--;
            rcpt_setn(&rcpt->diagnostic, comment + 1, len);
        }
        if (b_find_status(rcpt->status, status))
            rcpt_set(&rcpt->status, status);
        else
            rcpt_set(&rcpt->status, NULL);
    }
    if (per_message != NULL)
        set_from_field(&rcpt->reporting_mta, per_message, "Reporting-MTA");
    set_from_field(&rcpt->reporting_mta, group, "Reporting-MTA");
    /* "X-Unix; 255" is a program's exit code, not an SMTP reply. */
    if (!b_dsn_type_is_other(fields_get(group, "Diagnostic-Code")))
        b_fill_codes(rcpt);
}

bool b_dsn_type_is_other(const char *value)
{
    const char *p;

    if (value == NULL)
        return false;
    p = b_skip_blank(value);
    return b_dsn_value(p) != p && !b_prefix_ci(p, "smtp");
}

static const char *const dsn_field_names[] = {
    "Reporting-MTA", "Received-From-MTA", "Arrival-Date", "Original-Envelope-Id",
    "DSN-Gateway", "Final-Recipient", "Original-Recipient", "X-Actual-Recipient",
    "Action", "Status", "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date",
    "Will-Retry-Until", "Final-Log-ID", NULL
};

/* The DSN field name that line starts with ("Status:"), or NULL. */
static const char *dsn_field_of(const char *line, const char **value)
{
    for (size_t i = 0; dsn_field_names[i] != NULL; i++) {
        size_t n = strlen(dsn_field_names[i]);

        if (strncasecmp(line, dsn_field_names[i], n) == 0) {
            const char *p = b_skip_blank(line + n);

            if (*p == ':') {
                *value = b_skip_blank(p + 1);
                return dsn_field_names[i];
            }
        }
    }
    return NULL;
}

static int fields_add(BOUNCE_FIELDS *fields, const char *name, const char *value)
{
    BOUNCE_FIELD *items = realloc(fields->items, (fields->count + 1) * sizeof(*items));
    char *n;
    char *v;

    if (items == NULL)
        return -1;
    fields->items = items;
    n = strdup(name);
    v = strdup(value);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return -1;
    }
    items[fields->count].name = n;
    items[fields->count].value = v;
    fields->count++;
    return 0;
}

/* Append a continuation line to the last field's value. */
static void fields_continue(BOUNCE_FIELDS *fields, const char *more)
{
    BOUNCE_FIELD *last;
    char *value;
    size_t len;

    if (fields == NULL || fields->count == 0)
        return;
    last = &fields->items[fields->count - 1];
    len = strlen(last->value) + strlen(more) + 2;
    if ((value = malloc(len)) == NULL)
        return;
    snprintf(value, len, "%s %s", last->value, more);
    free(last->value);
    last->value = value;
}

size_t b_dsn_from_lines(const B_LINES *lines, size_t from,
                        BOUNCE_FIELDS *per_message, BOUNCE_FIELDS **groups)
{
    BOUNCE_FIELDS *v = NULL;
    size_t n = 0;
    BOUNCE_FIELDS *current = NULL;   /* where a continuation line goes */

    *groups = NULL;
    for (size_t i = from; i < lines->n; i++) {
        const char *line = lines->v[i];
        const char *value;
        const char *name;

        if (b_prefix_ci(line, "Content-Type:")
            && (b_strcasestr(line, "message/rfc822") || b_strcasestr(line, "rfc822-headers")))
            break;
        if ((line[0] == ' ' || line[0] == '\t') && !b_blank(line)) {
            if (current != NULL)
                fields_continue(current, b_skip_blank(line));
            continue;
        }
        current = NULL;
        if ((name = dsn_field_of(line, &value)) == NULL)
            continue;
        bool is_final = strcmp(name, "Final-Recipient") == 0;
        bool is_original = strcmp(name, "Original-Recipient") == 0;

        if (is_final || is_original) {
            BOUNCE_FIELDS *g = n ? &v[n - 1] : NULL;
            /* Senders write the two in either order; a group that already
             * has its Action or Status is finished. */
            bool complete = g != NULL
                && (fields_get(g, "Action") != NULL || fields_get(g, "Status") != NULL);
            bool start = g == NULL
                || (is_final && (fields_get(g, "Final-Recipient") != NULL
                                 || (complete && fields_get(g, "Original-Recipient") != NULL)))
                || (is_original && (fields_get(g, "Original-Recipient") != NULL
                                    || (complete && fields_get(g, "Final-Recipient") != NULL)));

            if (start) {
                BOUNCE_FIELDS *grown = realloc(v, (n + 1) * sizeof(*v));

                if (grown == NULL)
                    break;
                v = grown;
                v[n].items = NULL;
                v[n].count = 0;
                n++;
            }
        }
        current = n ? &v[n - 1] : per_message;
        if (current != NULL && fields_add(current, name, value) < 0)
            break;
    }
    *groups = v;
    return n;
}

void b_dsn_groups_free(BOUNCE_FIELDS *groups, size_t count)
{
    for (size_t i = 0; i < count; i++)
        fields_free(&groups[i]);
    free(groups);
}

/* ---- reports -------------------------------------------------------- */

void b_report_drop(BOUNCE_REPORT *report, size_t keep)
{
    while (report->count > keep) {
        BOUNCE_RCPT *r = &report->rcpts[--report->count];

        free(r->recipient);
        free(r->original_recipient);
        free(r->action);
        free(r->status);
        free(r->replycode);
        free(r->diagnostic);
        free(r->reporting_mta);
        free(r->remote_mta);
        free(r->feedback_type);
        memset(r, 0, sizeof(*r));
    }
}

BOUNCE_RCPT *b_report_find(BOUNCE_REPORT *report, size_t from, const char *addr)
{
    char *want = NULL;
    BOUNCE_RCPT *found = NULL;

    if (addr == NULL)
        return NULL;
    rcpt_set_address(&want, addr);
    if (want == NULL)
        return NULL;
    for (size_t i = from; i < report->count && found == NULL; i++)
        if (report->rcpts[i].recipient != NULL
            && strcmp(report->rcpts[i].recipient, want) == 0)
            found = &report->rcpts[i];
    free(want);
    return found;
}
