/*
 * a_util.c: text helpers shared by the detectors of group a (see a_util.h).
 *
 * Nothing here knows a particular MTA: lines, joining wrapped responses,
 * finding codes, reading RFC 3464 groups.  Each detector keeps its own
 * markers and layouts.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "rules.h"
#include "a_util.h"

int a_lines_split(const char *text, A_LINES *out)
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
        a_lines_free(out);
        return -1;
    }
    p = out->storage;
    while (p != NULL) {
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
    /* A final newline leaves an empty last line that is no line. */
    if (n > 1 && out->line[n - 1][0] == '\0' && text[strlen(text) - 1] == '\n')
        n--;
    out->count = n;
    return 0;
}

void a_lines_free(A_LINES *lines)
{
    free(lines->line);
    free(lines->storage);
    memset(lines, 0, sizeof(*lines));
}

static void buf_reserve(A_BUF *buf, size_t more)
{
    size_t alloc;
    char *data;

    if (buf->failed || buf->len + more + 1 <= buf->alloc)
        return;
    alloc = buf->alloc ? buf->alloc : 128;
    while (alloc < buf->len + more + 1)
        alloc *= 2;
    if ((data = realloc(buf->data, alloc)) == NULL) {
        buf->failed = true;
        return;
    }
    buf->data = data;
    buf->alloc = alloc;
}

void a_buf_join(A_BUF *buf, const char *text, size_t len)
{
    while (len > 0 && isspace((unsigned char) *text)) {
        text++;
        len--;
    }
    while (len > 0 && isspace((unsigned char) text[len - 1]))
        len--;
    if (len == 0)
        return;
    buf_reserve(buf, len + 1);
    if (buf->failed)
        return;
    if (buf->len > 0)
        buf->data[buf->len++] = ' ';
    memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void a_buf_join_str(A_BUF *buf, const char *text)
{
    if (text != NULL)
        a_buf_join(buf, text, strlen(text));
}

const char *a_buf_str(const A_BUF *buf)
{
    return buf->data && !buf->failed ? buf->data : "";
}

void a_buf_free(A_BUF *buf)
{
    free(buf->data);
    memset(buf, 0, sizeof(*buf));
}

const char *a_after_prefix(const char *text, const char *prefix)
{
    size_t len = strlen(prefix);

    if (text == NULL || strncasecmp(text, prefix, len) != 0)
        return NULL;
    return text + len;
}

const char *a_find_nocase(const char *text, const char *needle)
{
    size_t len = strlen(needle);

    if (text == NULL)
        return NULL;
    for (; *text; text++)
        if (strncasecmp(text, needle, len) == 0)
            return text;
    return NULL;
}

bool a_is_blank(const char *line)
{
    for (; *line; line++)
        if (!isspace((unsigned char) *line))
            return false;
    return true;
}

bool a_is_indented(const char *line)
{
    return (line[0] == ' ' || line[0] == '\t') && !a_is_blank(line);
}

/* Length of a reply code prefix at p: "550-" or "550 " (4), else 0. */
static size_t reply_prefix_len(const char *p, char *sep)
{
    if (p[0] >= '2' && p[0] <= '5' && isdigit((unsigned char) p[1])
        && isdigit((unsigned char) p[2]) && (p[3] == '-' || p[3] == ' ')) {
        *sep = p[3];
        return 4;
    }
    return 0;
}

/* Length of an enhanced status code at p ("5.1.1" -> 5), else 0. */
static size_t status_len(const char *p)
{
    const char *q = p;
    int dots = 0;

    if (*q < '2' || *q > '5' || q[1] != '.')
        return 0;
    q++;
    while (dots < 2) {
        size_t digits = 0;

        if (*q != '.')
            return 0;
        q++;
        dots++;
        while (isdigit((unsigned char) q[digits]))
            digits++;
        if (digits == 0 || digits > 3)
            return 0;
        q += digits;
    }
    /* "5.1.1.1" is an address, not a code. */
    if (isdigit((unsigned char) *q) || (*q == '.' && isdigit((unsigned char) q[1])))
        return 0;
    return (size_t) (q - p);
}

/* Collapse white space runs into one space, trim both ends, in place. */
static void squeeze_space(char *s)
{
    char *w = s;
    bool space = false;

    for (char *r = s; *r; r++) {
        if (isspace((unsigned char) *r)) {
            space = w > s;
            continue;
        }
        if (space)
            *w++ = ' ';
        space = false;
        *w++ = *r;
    }
    *w = '\0';
}

char *a_response_clean(const char *text)
{
    char *out;
    char code[4];
    char status[16] = "";
    char sep;
    size_t skip;
    char *r;
    char *w;

    if (text == NULL || (out = strdup(text)) == NULL)
        return NULL;
    squeeze_space(out);
    /* Only a multi-line reply ("550-...") has prefixes to fold. */
    if (reply_prefix_len(out, &sep) == 0 || sep != '-')
        return out;
    memcpy(code, out, 3);
    code[3] = '\0';
    out[3] = ' ';
    skip = status_len(out + 4);
    if (skip > 0 && skip < sizeof(status)) {
        memcpy(status, out + 4, skip);
        status[skip] = '\0';
    }
    /* Drop " 550-5.1.1" and " 550 5.1.1" after the first line's prefix. */
    r = w = out + 4 + (skip ? skip : 0);
    while (*r) {
        if (r[0] == ' ' && strncmp(r + 1, code, 3) == 0 && (r[4] == '-' || r[4] == ' ')) {
            const char *after = r + 5;
            size_t st = status_len(after);

            if (status[0] == '\0' && st == 0) {
                *w++ = ' ';
                r = (char *) after;
                continue;
            }
            if (status[0] != '\0' && st == strlen(status) && strncmp(after, status, st) == 0
                && (after[st] == ' ' || after[st] == '\0')) {
                r = (char *) after + st;    /* at the following space */
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
    squeeze_space(out);
    return out;
}

bool a_find_status(const char *text, char *out)
{
    if (text == NULL)
        return false;
    for (const char *p = text; *p; p++) {
        size_t len;

        if (p > text && (isdigit((unsigned char) p[-1]) || p[-1] == '.'))
            continue;
        if ((len = status_len(p)) > 0 && len < 16) {
            memcpy(out, p, len);
            out[len] = '\0';
            return true;
        }
    }
    return false;
}

bool a_leading_replycode(const char *text, char *out)
{
    if (text == NULL)
        return false;
    while (isspace((unsigned char) *text))
        text++;
    if (text[0] >= '2' && text[0] <= '5' && isdigit((unsigned char) text[1])
        && isdigit((unsigned char) text[2])
        && (text[3] == '\0' || text[3] == ' ' || text[3] == '-')) {
        memcpy(out, text, 3);
        out[3] = '\0';
        return true;
    }
    return false;
}

/* "5.0.0", "4.0.0": a status that only says permanent or temporary. */
static bool status_is_generic(const char *status)
{
    size_t len = status ? strlen(status) : 0;

    return len == 0 || (len >= 4 && strcmp(status + len - 4, ".0.0") == 0);
}

void a_rcpt_codes_from_diagnostic(BOUNCE_RCPT *rcpt)
{
    char code[16];

    if (rcpt->diagnostic == NULL)
        return;
    if (status_is_generic(rcpt->status) && a_find_status(rcpt->diagnostic, code)
        && !(rcpt->status != NULL && status_is_generic(code)))
        rcpt_set(&rcpt->status, code);
    if (rcpt->replycode == NULL && a_leading_replycode(rcpt->diagnostic, code))
        rcpt_set(&rcpt->replycode, code);
}

void a_rcpt_set_diagnostic(BOUNCE_RCPT *rcpt, const char *raw)
{
    char *clean = a_response_clean(raw);

    if (clean != NULL && clean[0] != '\0')
        rcpt_set(&rcpt->diagnostic, clean);
    free(clean);
}

char *a_host_after(const char *line, const char *marker)
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

void a_rcpt_set_mta(char **field, const char *value)
{
    const char *semi;
    size_t len;

    if (value == NULL)
        return;
    /* "dns; host (comment)": drop the type, keep the first word. */
    if ((semi = strchr(value, ';')) != NULL)
        value = semi + 1;
    while (isspace((unsigned char) *value))
        value++;
    len = strcspn(value, " \t([");
    if (len > 0)
        rcpt_setn(field, value, len);
}

void a_reason_unless_rules(BOUNCE_RCPT *rcpt, const char *reason)
{
    if (rcpt->reason != NULL)
        return;
    if (rcpt->diagnostic != NULL && rules_reason_for_text(rcpt->diagnostic) != NULL)
        return;
    rcpt->reason = reason;
}

void a_reason_for_sender_refusal(BOUNCE_RCPT *rcpt)
{
    static const char *const about_address[] = {
        "userunknown", "hostunknown", "hasmoved", "suspend", "mailboxfull",
        "filtered", NULL
    };
    const char *reason;

    if (rcpt->reason != NULL)
        return;
    reason = rcpt->diagnostic ? rules_reason_for_text(rcpt->diagnostic) : NULL;
    for (int i = 0; reason != NULL && about_address[i] != NULL; i++)
        if (strcmp(reason, about_address[i]) == 0)
            reason = NULL;
    rcpt->reason = reason ? reason : "rejected";
}

void a_reason_after_data(BOUNCE_RCPT *rcpt)
{
    const char *reason;

    if (rcpt->reason != NULL || rcpt->diagnostic == NULL)
        return;
    reason = rules_reason_for_text(rcpt->diagnostic);
    if (reason != NULL && strcmp(reason, "userunknown") == 0)
        rcpt->reason = "filtered";
}

/* Does this line start an RFC 3464 field group? */
static bool starts_dsn_group(const char *line)
{
    static const char *const names[] = {
        "Reporting-MTA:", "Final-Recipient:", "Original-Recipient:",
        "Original-Envelope-Id:", NULL
    };

    for (int i = 0; names[i] != NULL; i++)
        if (a_after_prefix(line, names[i]) != NULL)
            return true;
    return false;
}

/* Is the line at p (up to its newline) empty or white space? */
static bool line_is_blank(const char *p)
{
    for (; *p && *p != '\n'; p++)
        if (!isspace((unsigned char) *p))
            return false;
    return true;
}

/* Read the groups an MTA wrote as text (inlined or forwarded bounces). */
static void dsn_from_text(const char *text, A_DSN *dsn)
{
    const char *line = text;

    while (line != NULL && *line) {
        const char *eol = strchr(line, '\n');

        if (starts_dsn_group(line)) {
            BOUNCE_FIELDS group = { NULL, 0 };

            fields_parse(line, &group);
            if (fields_get(&group, "Final-Recipient") != NULL
                || fields_get(&group, "Original-Recipient") != NULL) {
                BOUNCE_FIELDS *more = realloc(dsn->own_rcpt,
                                              (dsn->count + 1) * sizeof(*more));
                if (more == NULL) {
                    fields_free(&group);
                    return;
                }
                dsn->own_rcpt = more;
                dsn->own_rcpt[dsn->count++] = group;
            } else if (dsn->own_message.count == 0) {
                dsn->own_message = group;
            } else {
                fields_free(&group);
            }
            /* The block ends at the next empty line. */
            while (eol != NULL && !line_is_blank(eol + 1))
                eol = strchr(eol + 1, '\n');
        }
        line = eol ? eol + 1 : NULL;
    }
}

/* Does the group name a recipient? */
static bool names_recipient(const BOUNCE_FIELDS *group)
{
    return fields_get(group, "Final-Recipient") != NULL
        || fields_get(group, "Original-Recipient") != NULL
        || fields_get(group, "X-Actual-Recipient") != NULL;
}

size_t a_dsn_get(const BOUNCE_MSG *msg, A_DSN *dsn)
{
    size_t named = 0;

    memset(dsn, 0, sizeof(*dsn));
    if (msg->dsn_rcpt_count == 0) {
        dsn_from_text(msg->text, dsn);
        dsn->per_message = &dsn->own_message;
        dsn->rcpt = dsn->own_rcpt;
        dsn->own_fields = true;
        return dsn->count;
    }
    dsn->per_message = &msg->dsn_message;
    for (size_t i = 0; i < msg->dsn_rcpt_count; i++)
        if (names_recipient(&msg->dsn_rcpts[i]))
            named++;
    if (named == msg->dsn_rcpt_count) {
        dsn->rcpt = msg->dsn_rcpts;
        dsn->count = named;
        return named;
    }
    /* Shallow copies of the groups that count; the fields stay msg's. */
    if (named > 0 && (dsn->own_rcpt = calloc(named, sizeof(*dsn->own_rcpt))) != NULL)
        for (size_t i = 0; i < msg->dsn_rcpt_count; i++)
            if (names_recipient(&msg->dsn_rcpts[i]))
                dsn->own_rcpt[dsn->count++] = msg->dsn_rcpts[i];
    dsn->rcpt = dsn->own_rcpt;
    return dsn->count;
}

void a_dsn_free(A_DSN *dsn)
{
    if (dsn->own_rcpt != NULL && dsn->own_fields)
        for (size_t i = 0; i < dsn->count; i++)
            fields_free(&dsn->own_rcpt[i]);
    free(dsn->own_rcpt);
    fields_free(&dsn->own_message);
    memset(dsn, 0, sizeof(*dsn));
}

/* The value of a "type; value" field without its type. */
static const char *skip_type(const char *value)
{
    const char *semi;

    if (value == NULL)
        return NULL;
    semi = strchr(value, ';');
    if (semi != NULL && (size_t) (semi - value) < 32) {
        value = semi + 1;
        while (isspace((unsigned char) *value))
            value++;
    }
    return value;
}

void a_rcpt_from_dsn(BOUNCE_RCPT *rcpt, const BOUNCE_FIELDS *group,
                     const BOUNCE_FIELDS *per_message)
{
    const char *final = fields_get(group, "Final-Recipient");
    const char *original = fields_get(group, "Original-Recipient");
    const char *action = fields_get(group, "Action");
    const char *status = fields_get(group, "Status");
    const char *diagnostic = fields_get(group, "Diagnostic-Code");
    const char *remote = fields_get(group, "Remote-MTA");
    const char *reporting = fields_get(per_message, "Reporting-MTA");
    char code[16];

    if (final == NULL)
        final = fields_get(group, "X-Actual-Recipient");
    rcpt_set_address(&rcpt->recipient, final ? final : original);
    if (original != NULL)
        rcpt_set_address(&rcpt->original_recipient, original);
    a_rcpt_mark_forwarded(rcpt);
    if (action != NULL && *action) {
        size_t len = strcspn(action, " \t(;");
        char *lower = strndup(action, len);

        if (lower != NULL) {
            for (char *p = lower; *p; p++)
                *p = (char) tolower((unsigned char) *p);
            rcpt_set(&rcpt->action, lower);
            free(lower);
        }
    }
    if (status != NULL && a_find_status(status, code))
        rcpt_set(&rcpt->status, code);
    a_rcpt_set_mta(&rcpt->remote_mta, remote);
    a_rcpt_set_mta(&rcpt->reporting_mta, reporting);
    if (diagnostic != NULL && *diagnostic)
        a_rcpt_set_diagnostic(rcpt, skip_type(diagnostic));
    a_rcpt_codes_from_diagnostic(rcpt);
    /* "X-Unix;" is a local delivery program's failure: a mailer error
     * unless what it printed says more (a full disk, an unknown user). */
    if (a_after_prefix(diagnostic, "x-unix;") != NULL)
        a_reason_unless_rules(rcpt, "mailererror");
}

bool a_same_address(const char *a, const char *b)
{
    char *na = NULL;
    char *nb = NULL;
    bool same;

    if (a == NULL || b == NULL)
        return false;
    rcpt_set_address(&na, a);
    rcpt_set_address(&nb, b);
    same = na != NULL && nb != NULL && strcmp(na, nb) == 0;
    free(na);
    free(nb);
    return same;
}

bool a_header_contains(const BOUNCE_MSG *msg, const char *name, const char *needle)
{
    for (size_t i = 0; i < msg->headers.count; i++)
        if (strcasecmp(msg->headers.items[i].name, name) == 0
            && a_find_nocase(msg->headers.items[i].value, needle) != NULL)
            return true;
    return false;
}

void a_rcpt_mark_forwarded(BOUNCE_RCPT *rcpt)
{
    rcpt->forwarded = rcpt->recipient != NULL && rcpt->original_recipient != NULL
        && strcmp(rcpt->recipient, rcpt->original_recipient) != 0;
}
