/*
 * toolkit.c: what the bounce-format detectors share (see toolkit.h).
 *
 * Everything here is tolerant: bounces are written by programs of every
 * age, so a helper that does not find what it looks for says so and never
 * fails on junk.  Nothing here knows a particular MTA.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "decide/rules.h"
#include "toolkit.h"

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

/* ---- addresses ---- */

bool find_angle_address(const char *s, const char **start, size_t *len)
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

static bool is_local_char(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL)
        || c >= 0x80;
}

static bool is_domain_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '-' || c >= 0x80;
}

/* The span of the first address in text[0..len), or false. */
static bool address_span_in(const char *text, size_t len, size_t *from, size_t *to)
{
    for (size_t at = 0; at < len; at++) {
        size_t start = at;
        size_t end = at + 1;

        if (text[at] != '@')
            continue;
        while (start > 0 && is_local_char((unsigned char) text[start - 1]))
            start--;
        while (end < len && is_domain_char((unsigned char) text[end]))
            end++;
        /* Sentence punctuation is no part of the address. */
        while (end > at + 1 && (text[end - 1] == '.' || text[end - 1] == '-'))
            end--;
        while (start < at && text[start] == '.')
            start++;
        if (start == at || end == at + 1)
            continue;
        *from = start;
        *to = end;
        return true;
    }
    return false;
}

bool find_bare_address(const char *s, const char **start, size_t *len)
{
    size_t from;
    size_t to;

    if (!address_span_in(s, strlen(s), &from, &to))
        return false;
    *start = s + from;
    *len = to - from;
    return true;
}

bool find_address(const char *text, size_t len, char *out, size_t outlen)
{
    size_t from;
    size_t to;

    if (text == NULL || !address_span_in(text, len, &from, &to) || to - from >= outlen)
        return false;
    memcpy(out, text + from, to - from);
    out[to - from] = '\0';
    return true;
}

bool is_address_line(const char *s)
{
    const char *p = skip_blank(s);
    size_t total = strlen(p);
    size_t from;
    size_t to;

    while (total > 0 && isspace((unsigned char) p[total - 1]))
        total--;
    if (total > 2 && p[0] == '<' && p[total - 1] == '>') {
        p++;
        total -= 2;
    }
    /* A domain without a dot is a local name, not a mail address. */
    return address_span_in(p, total, &from, &to) && from == 0 && to == total
        && memchr(strchr(p, '@'), '.', total - (size_t) (strchr(p, '@') - p)) != NULL;
}

void rcpt_mark_forwarded(BOUNCE_RCPT *rcpt)
{
    rcpt->forwarded = rcpt->recipient != NULL && rcpt->original_recipient != NULL
        && strcmp(rcpt->recipient, rcpt->original_recipient) != 0;
}

bool same_address(const char *a, const char *b)
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

BOUNCE_RCPT *report_find(BOUNCE_REPORT *report, size_t from, const char *addr)
{
    char *want = NULL;
    BOUNCE_RCPT *found = NULL;

    if (addr == NULL)
        return NULL;
    rcpt_set_address(&want, addr);
    for (size_t i = from; want != NULL && i < report->count && found == NULL; i++)
        if (report->rcpts[i].recipient != NULL && strcmp(report->rcpts[i].recipient, want) == 0)
            found = &report->rcpts[i];
    free(want);
    return found;
}

int report_finish(BOUNCE_REPORT *report, size_t first)
{
    if (report->count <= first)
        return 0;
    for (size_t i = first; i < report->count; i++)
        rcpt_complete_codes(&report->rcpts[i]);
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

void report_default_action(BOUNCE_REPORT *report, size_t from, const char *action)
{
    for (size_t i = from; i < report->count; i++)
        if (report->rcpts[i].action == NULL)
            rcpt_set(&report->rcpts[i].action, action);
}

size_t entry_for_rcpt(const void *entries, size_t count, const BOUNCE_RCPT *rcpt,
                      size_t index, size_t total,
                      bool (*is_about)(const void *entries, size_t i, const BOUNCE_RCPT *rcpt))
{
    if (index < count && is_about(entries, index, rcpt))
        return index;
    for (size_t i = 0; i < count; i++)
        if (is_about(entries, i, rcpt))
            return i;
    return count == total && index < count ? index : count;
}

/* ---- the remote server's reply ---- */

/* Length of an enhanced status code at p (RFC 3463: class "." subject
 * (1-3 digits) "." detail (1-3 digits)), else 0.  "5.1.1.1" is no code. */
static size_t status_len(const char *p)
{
    size_t i = 2;
    int digits;

    if ((p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return 0;
    for (digits = 0; isdigit((unsigned char) p[i]) && digits < 3; digits++)
        i++;
    if (digits == 0 || p[i] != '.')
        return 0;
    i++;
    for (digits = 0; isdigit((unsigned char) p[i]) && digits < 3; digits++)
        i++;
    if (digits == 0 || isdigit((unsigned char) p[i])
        || (p[i] == '.' && isdigit((unsigned char) p[i + 1])))
        return 0;
    return i;
}

size_t text_find_status(const char *text, const char **found)
{
    if (text == NULL)
        return 0;
    for (const char *p = text; *p; p++) {
        size_t len;

        /* Not the tail of a number or an IP address ("10.5.1.1"). */
        if (p != text && (isalnum((unsigned char) p[-1]) || p[-1] == '.'))
            continue;
        if ((len = status_len(p)) > 0) {
            *found = p;
            return len;
        }
    }
    return 0;
}

bool text_leading_replycode(const char *text, char code[4])
{
    const char *p = text;

    if (p == NULL)
        return false;
    while (isspace((unsigned char) *p) || *p == '<' || *p == '"' || *p == '(')
        p++;
    /* Callers strip a "smtp;" diagnostic type first. */
    if (p[0] >= '2' && p[0] <= '5'
        && isdigit((unsigned char) p[1]) && isdigit((unsigned char) p[2])
        && !isalnum((unsigned char) p[3]) && p[3] != '.') {
        memcpy(code, p, 3);
        code[3] = '\0';
        return true;
    }
    return false;
}

/* "5.0.0", "4.0.0" and the like say less than a code found in the text. */
static bool status_is_vague(const char *status)
{
    size_t len = strlen(status);

    return len >= 5 && strcmp(status + 1, ".0.0") == 0;
}

void rcpt_complete_codes(BOUNCE_RCPT *rcpt)
{
    const char *found;
    size_t len;
    char code[4];

    if (rcpt->diagnostic == NULL)
        return;
    if (rcpt->replycode == NULL && text_leading_replycode(rcpt->diagnostic, code))
        rcpt_set(&rcpt->replycode, code);
    len = text_find_status(rcpt->diagnostic, &found);
    if (len == 0)
        return;
    if (rcpt->status == NULL || *rcpt->status == '\0')
        rcpt_setn(&rcpt->status, found, len);
    else if (status_is_vague(rcpt->status) && found[0] == rcpt->status[0]
             && !(len == 5 && strncmp(found + 1, ".0.0", 4) == 0))
        rcpt_setn(&rcpt->status, found, len);
}

/* A reply code and its separator at p ("550-", "550 "), else false. */
static bool reply_prefix_at(const char *p, char code[4], char *sep)
{
    if (p[0] < '2' || p[0] > '5' || !isdigit((unsigned char) p[1])
        || !isdigit((unsigned char) p[2]) || (p[3] != '-' && p[3] != ' '))
        return false;
    memcpy(code, p, 3);
    code[3] = '\0';
    *sep = p[3];
    return true;
}

/*
 * Drop the prefixes of the continuation lines from a squeezed reply:
 * " 550-5.1.1" and " 550 5.1.1" repeating the first line's code and
 * status, or " 550-" when the first line had no status.  After a
 * single-line start ("550 ") only what is surely a prefix goes.
 */
static void fold_reply_prefixes(char *out)
{
    char code[4];
    char status[16] = "";
    char sep;
    size_t skip;
    char *r;
    char *w;

    if (!reply_prefix_at(out, code, &sep))
        return;
    out[3] = ' ';
    skip = status_len(out + 4);
    if (skip > 0 && skip < sizeof(status)) {
        memcpy(status, out + 4, skip);
        status[skip] = '\0';
    } else {
        skip = 0;
    }
    r = w = out + 4 + skip;
    while (*r) {
        if (r[0] == ' ' && strncmp(r + 1, code, 3) == 0 && (r[4] == '-' || r[4] == ' ')) {
            char *after = r + 5;
            size_t st = status_len(after);

            if (status[0] == '\0' && st == 0 && (sep == '-' || r[4] == '-')
                && !isdigit((unsigned char) *after)) {
                *w++ = ' ';
                r = after;
                continue;
            }
            if (status[0] != '\0' && st == strlen(status) && strncmp(after, status, st) == 0
                && (after[st] == ' ' || after[st] == '\0')) {
                r = after + st;     /* at the following space */
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
}

char *response_clean(const char *text)
{
    char *out;

    if (text == NULL || (out = strdup(text)) == NULL)
        return NULL;
    squeeze_space(out);
    fold_reply_prefixes(out);
    return squeeze_space(out);
}

char *reply_join_lines(char *const *lines, size_t count, size_t first, const char *strip,
                       size_t *used)
{
    TEXT_BUF text = { NULL, 0, 0, false };
    char code[4] = "";
    size_t i = first;
    char *joined;

    *used = 0;
    for (; i < count; i++) {
        const char *line = after_prefix(lines[i], strip);
        char this_code[4];
        char sep;

        if (line == NULL)
            break;
        line = skip_blank(line);
        if (!reply_prefix_at(line, this_code, &sep)) {
            /* "550" alone ends a reply too. */
            if (!(text_leading_replycode(line, this_code) && line[3] == '\0'))
                break;
            sep = ' ';
        }
        if (i > first && strcmp(this_code, code) != 0)
            break;
        memcpy(code, this_code, sizeof(code));
        buf_join_str(&text, line);
        if (sep != '-') {
            i++;
            break;
        }
    }
    if (i == first) {
        buf_free(&text);
        return NULL;
    }
    *used = i - first;
    joined = response_clean(buf_str(&text));
    buf_free(&text);
    return joined;
}

void rcpt_set_response(BOUNCE_RCPT *rcpt, const char *raw)
{
    char *clean = response_clean(raw);

    if (clean != NULL && clean[0] != '\0') {
        free(rcpt->diagnostic);
        rcpt->diagnostic = clean;
        rcpt_complete_codes(rcpt);
    } else {
        free(clean);
    }
}

/*
 * The phrases of the MTAs' texts that name the SMTP command a server's
 * response answered.  Matched without regard to case; where several stand
 * in one text, the earliest wins.
 */
static const struct {
    const char *phrase;
    const char *command;
} command_phrases[] = {
    /* Postfix: "(in reply to RCPT TO command)", "refused to talk to me";
     * the MTAs that copy its wording drop "command" or "TO" */
    { "in reply to RCPT", "RCPT" },
    { "in reply to MAIL FROM", "MAIL" },
    { "in reply to end of DATA", "DATA" },
    { "in reply to DATA", "DATA" },
    { "in reply to EHLO", "HELO" },
    { "in reply to HELO", "HELO" },
    { "in reply to LHLO", "HELO" },
    { "refused to talk to me", "CONN" },
    /* Exim: "SMTP error from remote mail server after RCPT TO:<x>:";
     * GMX: "after RCPT command" */
    { "after RCPT", "RCPT" },
    { "after pipelined RCPT TO", "RCPT" },
    { "after MAIL FROM", "MAIL" },
    { "after pipelined MAIL FROM", "MAIL" },
    { "after MAIL command", "MAIL" },
    { "after end of data", "DATA" },
    { "after pipelined DATA", "DATA" },
    { "after DATA", "DATA" },
    { "after EHLO", "HELO" },
    { "after HELO", "HELO" },
    { "after LHLO", "HELO" },
    { "after initial connection", "CONN" },
    /* Sendmail, Courier, InterScan transcripts: ">>> RCPT To:<x>" */
    { ">>> RCPT", "RCPT" },
    { ">>> MAIL", "MAIL" },
    { ">>> DATA", "DATA" },
    { ">>> .", "DATA" },
    { ">>> EHLO", "HELO" },
    { ">>> HELO", "HELO" },
    /* qmail-remote */
    { "does not like recipient", "RCPT" },
    { "failed on DATA command", "DATA" },
    { "failed after I sent the message", "DATA" },
    { "but greeting failed", "CONN" },
    { "my name was rejected", "HELO" },
    { "sender was rejected", "MAIL" },
    { "most progress was RCPT TO", "RCPT" },
    /* DragonFly: "did not like our RCPT TO:" */
    { "did not like our RCPT TO", "RCPT" },
    { "did not like our MAIL FROM", "MAIL" },
    { "did not like our final DATA", "DATA" },
    { "did not like our DATA", "DATA" },
    { "did not like our EHLO", "HELO" },
    { "did not like our HELO", "HELO" },
    { "did not like our greeting", "CONN" },
    /* Oracle Messaging Server's "Reason:" summaries */
    { "Remote SMTP server has rejected address", "RCPT" },
    { "SMTP transmission failure has occurred", "DATA" },
    /* X3 "SMTP:RCPT host 192.0.2.8: 553 ..." */
    { "SMTP:RCPT", "RCPT" },
    { "SMTP:MAIL", "MAIL" },
    { "SMTP:DATA", "DATA" },
    /* SendGrid "... 550 5.1.1 <x>... User Unknown  in RCPT TO" */
    { " in RCPT TO", "RCPT" },
    { " in MAIL FROM", "MAIL" },
    /* X6 "(Error following RCPT command)"; 1&1 "SMTP error from remote
     * server for TEXT command" (TEXT: the message after DATA) */
    { "following RCPT command", "RCPT" },
    { "following MAIL command", "MAIL" },
    { "following DATA command", "DATA" },
    { "for RCPT command", "RCPT" },
    { "for MAIL command", "MAIL" },
    { "for DATA command", "DATA" },
    { "for TEXT command", "DATA" },
    /* X6 "refused to accept your message (DATA)" */
    { "message (DATA)", "DATA" },
    /* Exchange and Office 365: a remote server's refusal of RCPT TO,
     * "Remote server returned unknown recipient or mailbox unavailable
     * -> 550 <x>: User unknown" */
    { "unknown recipient or mailbox unavailable ->", "RCPT" },
    /* IMail Server */
    { "Additional RCPT TO generated following response", "RCPT" },
    { "Server response to MAIL FROM", "MAIL" },
    { "DATA command generated response", "DATA" },
    { "Unexpected response to EHLO/HELO", "HELO" },
    { "SMTP connection failed", "CONN" },
    { "Unexpected connection response from server", "CONN" },
    /* Gmail: "(state 14)", the stage of its SMTP client */
    { "(state 6)", "MAIL" },
    { "(state 13)", "HELO" },
    { "(state 14)", "RCPT" },
    { "(state 15)", "DATA" },
    { "(state 17)", "DATA" },
    { "(state 18)", "DATA" },
    /* Yahoo: "[RCPT_TO]" after the response */
    { "[RCPT_TO]", "RCPT" },
    { "[MAIL_FROM]", "MAIL" },
    { NULL, NULL }
};

const char *smtp_command_in(const char *text)
{
    const char *best = NULL;
    const char *command = NULL;

    if (text == NULL)
        return NULL;
    for (size_t i = 0; command_phrases[i].phrase != NULL; i++) {
        const char *hit = strcasestr(text, command_phrases[i].phrase);

        if (hit != NULL && (best == NULL || hit < best)) {
            best = hit;
            command = command_phrases[i].command;
        }
    }
    return command;
}

const char *smtp_command_named(const char *verb)
{
    static const struct {
        const char *verb;
        const char *command;
    } verbs[] = {
        { "EHLO", "HELO" }, { "HELO", "HELO" }, { "LHLO", "HELO" },
        { "MAIL", "MAIL" }, { "RCPT", "RCPT" }, { "DATA", "DATA" },
        { NULL, NULL }
    };
    const char *p = verb != NULL ? skip_blank(verb) : NULL;

    if (p == NULL)
        return NULL;
    for (size_t i = 0; verbs[i].verb != NULL; i++)
        if (strncasecmp(p, verbs[i].verb, 4) == 0 && !isalnum((unsigned char) p[4]))
            return verbs[i].command;
    return NULL;
}

void rcpt_set_command(BOUNCE_RCPT *rcpt, const char *text)
{
    const char *command;

    if (rcpt->command == NULL && (command = smtp_command_in(text)) != NULL)
        rcpt_set(&rcpt->command, command);
}

void rcpt_reason_unless_rules(BOUNCE_RCPT *rcpt, const char *reason)
{
    if (rcpt->reason != NULL)
        return;
    if (rcpt->diagnostic != NULL && rules_reason_for_text(rcpt->diagnostic) != NULL)
        return;
    rcpt->reason = reason;
}

/* ---- RFC 3464 fields ---- */

const char *dsn_value(const char *value)
{
    const char *p;
    const char *token;

    if (value == NULL)
        return NULL;
    p = token = skip_blank(value);
    /* Only a type token ("smtp", "dns", "rfc822", "x-unix") before ';'. */
    while (isalnum((unsigned char) *p) || *p == '-' || *p == '_')
        p++;
    if (p > token && *p == ';')
        return skip_blank(p + 1);
    return token;
}

void rcpt_set_host(char **field, const char *value)
{
    const char *host = dsn_value(value);
    size_t len;

    if (host == NULL)
        return;
    /* "[192.0.2.1]": an address literal is the host's name. */
    len = host[0] == '[' ? strcspn(host, "]") + (strchr(host, ']') != NULL) : strcspn(host, " \t([");
    while (len > 1 && host[len - 1] == '.')
        len--;
    if (len > 0)
        rcpt_setn(field, host, len);
}

/* Does the group name a recipient? */
static bool names_recipient(const BOUNCE_FIELDS *group)
{
    static const char *const names[] = {
        "Final-Recipient", "Original-Recipient", "X-Actual-Recipient", NULL
    };

    for (size_t i = 0; names[i] != NULL; i++) {
        const char *value = dsn_value(fields_get(group, names[i]));

        if (value != NULL && *value != '\0')
            return true;
    }
    return false;
}

size_t dsn_groups_of(const BOUNCE_MSG *msg, const TEXT_LINES *lines, DSN_GROUPS *dsn)
{
    size_t named = 0;

    memset(dsn, 0, sizeof(*dsn));
    dsn->per_message = &dsn->own_message;
    if (msg->dsn_rcpt_count == 0 && lines != NULL)
        return dsn_groups_in_lines(lines, 0, dsn);
    if (msg->dsn_rcpt_count == 0) {
        TEXT_LINES own;

        if (lines_split(msg->text, &own) < 0)
            return 0;
        dsn_groups_in_lines(&own, 0, dsn);
        lines_free(&own);
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

static const char *const dsn_field_names[] = {
    "Reporting-MTA", "Received-From-MTA", "Arrival-Date", "Original-Envelope-Id",
    "DSN-Gateway", "Final-Recipient", "Original-Recipient", "X-Actual-Recipient",
    "Action", "Status", "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date",
    "Will-Retry-Until", "Final-Log-ID", NULL
};

/* The DSN field name the line starts with ("Status:"), value in *value. */
static const char *dsn_field_of(const char *line, const char **value)
{
    for (size_t i = 0; dsn_field_names[i] != NULL; i++) {
        const char *p = after_prefix_nocase(line, dsn_field_names[i]);

        if (p != NULL && *(p = skip_blank(p)) == ':') {
            *value = skip_blank(p + 1);
            return dsn_field_names[i];
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

    if (fields->count == 0)
        return;
    last = &fields->items[fields->count - 1];
    len = strlen(last->value) + strlen(more) + 2;
    if ((value = malloc(len)) == NULL)
        return;
    snprintf(value, len, "%s %s", last->value, more);
    free(last->value);
    last->value = value;
}

/* Does a recipient field `name` open a new group after group g?  Senders
 * write Final- and Original-Recipient in either order; a group that has
 * its Action or Status already is finished. */
static bool opens_group(const BOUNCE_FIELDS *g, const char *name)
{
    bool complete;

    if (g == NULL)
        return true;
    complete = fields_get(g, "Action") != NULL || fields_get(g, "Status") != NULL;
    if (strcmp(name, "Final-Recipient") == 0)
        return fields_get(g, "Final-Recipient") != NULL
            || (complete && fields_get(g, "Original-Recipient") != NULL);
    return fields_get(g, "Original-Recipient") != NULL
        || (complete && fields_get(g, "Final-Recipient") != NULL);
}

size_t dsn_groups_in_lines(const TEXT_LINES *lines, size_t from, DSN_GROUPS *dsn)
{
    BOUNCE_FIELDS *current = NULL;     /* where a continuation line goes */

    memset(dsn, 0, sizeof(*dsn));
    dsn->per_message = &dsn->own_message;
    dsn->own_fields = true;
    for (size_t i = from; i < lines->count; i++) {
        const char *line = lines->line[i];
        BOUNCE_FIELDS *last = dsn->count ? &dsn->own_rcpt[dsn->count - 1] : NULL;
        const char *value;
        const char *name;

        if (after_prefix_nocase(line, "Content-Type:") != NULL
            && (find_nocase(line, "message/rfc822") || find_nocase(line, "rfc822-headers")))
            break;
        if (is_indented(line)) {
            if (current != NULL)
                fields_continue(current, skip_blank(line));
            continue;
        }
        current = NULL;
        if ((name = dsn_field_of(line, &value)) == NULL)
            continue;
        if ((strcmp(name, "Final-Recipient") == 0 || strcmp(name, "Original-Recipient") == 0)
            && opens_group(last, name)) {
            BOUNCE_FIELDS *grown = realloc(dsn->own_rcpt, (dsn->count + 1) * sizeof(*grown));

            if (grown == NULL)
                break;
            dsn->own_rcpt = grown;
            last = &dsn->own_rcpt[dsn->count++];
            memset(last, 0, sizeof(*last));
        }
        current = last != NULL ? last : &dsn->own_message;
        if (fields_add(current, name, value) < 0)
            break;
    }
    dsn->rcpt = dsn->own_rcpt;
    return dsn->count;
}

void dsn_groups_free(DSN_GROUPS *dsn)
{
    if (dsn->own_rcpt != NULL && dsn->own_fields)
        for (size_t i = 0; i < dsn->count; i++)
            fields_free(&dsn->own_rcpt[i]);
    free(dsn->own_rcpt);
    fields_free(&dsn->own_message);
    memset(dsn, 0, sizeof(*dsn));
}

/* A recipient field that holds a mail address (not "unknown" or a pipe). */
static bool address_usable(const char *value)
{
    const char *addr = dsn_value(value);

    return addr != NULL && strchr(addr, '@') != NULL && strchr(addr, '|') == NULL;
}

/* Final-, X-Actual-, then Original-Recipient: the first with a usable
 * address, else the first with any value. */
static const char *group_recipient(const BOUNCE_FIELDS *group)
{
    static const char *const names[] = {
        "Final-Recipient", "X-Actual-Recipient", "Original-Recipient", NULL
    };

    for (size_t i = 0; names[i] != NULL; i++)
        if (address_usable(fields_get(group, names[i])))
            return fields_get(group, names[i]);
    for (size_t i = 0; names[i] != NULL; i++) {
        const char *value = fields_get(group, names[i]);

        if (value != NULL && *dsn_value(value) != '\0')
            return value;
    }
    return NULL;
}

/* "failed (bad destination mailbox address)" -> "failed".  "expired",
 * which some providers (SendGrid) write for a message they gave up on,
 * is a failure that states its reason. */
static void set_action(BOUNCE_RCPT *rcpt, const char *value)
{
    size_t len = 0;

    if (value == NULL)
        return;
    value = skip_blank(value);
    while (isalpha((unsigned char) value[len]))
        len++;
    if (len == 0)
        return;
    if (len == 7 && strncasecmp(value, "expired", 7) == 0) {
        rcpt_set(&rcpt->action, "failed");
        rcpt->reason = "expired";
        return;
    }
    rcpt_setn(&rcpt->action, value, len);
    for (char *p = rcpt->action; p != NULL && *p; p++)
        *p = (char) tolower((unsigned char) *p);
}

/*
 * Status holds the code, and old or broken MTAs write more there:
 * "4.0.0 (example.org: host name lookup failure)", "553 too big".  What
 * they add is the only explanation when there is no Diagnostic-Code.
 */
static void set_status(BOUNCE_RCPT *rcpt, const char *value, bool has_diagnostic)
{
    const char *found;
    size_t len;
    const char *comment;

    if (value == NULL || *(value = skip_blank(value)) == '\0')
        return;
    if ((len = text_find_status(value, &found)) > 0)
        rcpt_setn(&rcpt->status, found, len);
    if (has_diagnostic)
        return;
    if (len == 0 || found != value) {
        rcpt_set_response(rcpt, value);
    } else if ((comment = strchr(value, '(')) != NULL) {
        size_t clen = strcspn(comment + 1, ")");

        if (clen > 0)
            rcpt_setn(&rcpt->diagnostic, comment + 1, clen);
    }
}

/* A local program's exit code ("X-Unix; 255"): no SMTP reply, and a
 * number that means nothing without its type. */
static bool diagnostic_is_exit_code(const char *value)
{
    const char *p = skip_blank(value);
    const char *code = dsn_value(p);

    if (code == p || after_prefix_nocase(p, "smtp") != NULL)
        return false;
    for (; *code; code++)
        if (!isdigit((unsigned char) *code) && !isspace((unsigned char) *code))
            return false;
    return true;
}

void rcpt_from_dsn(BOUNCE_RCPT *rcpt, const BOUNCE_FIELDS *group, const BOUNCE_FIELDS *per_message)
{
    const char *recipient = group_recipient(group);
    const char *original = fields_get(group, "Original-Recipient");
    const char *diagnostic = fields_get(group, "Diagnostic-Code");
    const char *reporting = fields_get(group, "Reporting-MTA");
    bool has_diagnostic = diagnostic != NULL && *dsn_value(diagnostic) != '\0';

    if (recipient != NULL)
        rcpt_set_address(&rcpt->recipient, recipient);
    /* We sent to Original-Recipient; when it differs, the failure is at a forward. */
    if (original != NULL && address_usable(original)) {
        rcpt_set_address(&rcpt->original_recipient, original);
        rcpt_mark_forwarded(rcpt);
    }
    set_action(rcpt, fields_get(group, "Action"));
    set_status(rcpt, fields_get(group, "Status"), has_diagnostic);
    rcpt_set_host(&rcpt->remote_mta, fields_get(group, "Remote-MTA"));
    rcpt_set_host(&rcpt->reporting_mta, reporting ? reporting : fields_get(per_message, "Reporting-MTA"));
    if (has_diagnostic && diagnostic_is_exit_code(diagnostic))
        rcpt_set(&rcpt->diagnostic, diagnostic);
    else if (has_diagnostic)
        rcpt_set_response(rcpt, dsn_value(diagnostic));
    rcpt_complete_codes(rcpt);
    /* "X-Unix;" is a local delivery program's failure: a mailer error
     * unless what it printed says more (a full disk, an unknown user). */
    if (has_diagnostic && after_prefix_nocase(skip_blank(diagnostic), "x-unix;") != NULL)
        rcpt_reason_unless_rules(rcpt, "mailererror");
}

int rcpts_from_dsn(const DSN_GROUPS *dsn, BOUNCE_REPORT *report)
{
    int added = 0;

    for (size_t i = 0; i < dsn->count; i++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            break;
        rcpt_from_dsn(rcpt, &dsn->rcpt[i], dsn->per_message);
        added++;
    }
    return added;
}

int rcpts_from_dsn_part(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    DSN_GROUPS dsn;
    int added;

    if (msg->dsn_rcpt_count == 0)
        return 0;
    dsn_groups_of(msg, NULL, &dsn);
    added = rcpts_from_dsn(&dsn, report);
    dsn_groups_free(&dsn);
    return added;
}

int rcpts_from_list(const char *list, BOUNCE_REPORT *report)
{
    int added = 0;

    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen(p);
        char addr[ADDR_MAX + 1];
        BOUNCE_RCPT *rcpt;

        if (find_address(p, len, addr, sizeof(addr)) && report_find(report, 0, addr) == NULL) {
            if ((rcpt = report_add(report)) == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
            added++;
        }
        p = comma ? comma + 1 : NULL;
    }
    return added;
}
