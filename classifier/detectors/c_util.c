/*
 * c_util.c: helpers shared by the detectors of group c (see c_util.h).
 *
 * Line walking, one-line responses, reply/status codes, DSN groups to
 * recipients, and the two parsers that more than one provider needs:
 * Exchange NDRs (Exchange 2007+ and Office 365) and the Amazon SES
 * response wrapper (SES and WorkMail).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "bounce.h"
#include "c_util.h"
#include "ingest.h"

/* ------------------------------------------------------------------ */
/* lines                                                               */
/* ------------------------------------------------------------------ */

const char *c_next_line(const char **cursor, size_t *len)
{
    const char *line = *cursor;
    const char *eol;

    if (line == NULL || *line == '\0')
        return NULL;
    eol = strchr(line, '\n');
    *len = eol ? (size_t) (eol - line) : strlen(line);
    *cursor = eol ? eol + 1 : line + *len;
    if (*len > 0 && line[*len - 1] == '\r')
        (*len)--;
    return line;
}

bool c_line_starts(const char *line, size_t len, const char *prefix, bool nocase)
{
    size_t plen = strlen(prefix);

    if (plen > len)
        return false;
    return nocase ? strncasecmp(line, prefix, plen) == 0
                  : strncmp(line, prefix, plen) == 0;
}

bool c_line_contains(const char *line, size_t len, const char *needle)
{
    size_t nlen = strlen(needle);

    for (size_t i = 0; nlen <= len && i <= len - nlen; i++)
        if (strncasecmp(line + i, needle, nlen) == 0)
            return true;
    return false;
}

bool c_line_blank(const char *line, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!isspace((unsigned char) line[i]))
            return false;
    return true;
}

const char *c_find_line(const char *text, const char *prefix, bool skip_space)
{
    const char *cursor = text;
    const char *line;
    size_t len;

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        const char *p = line;
        size_t n = len;

        while (skip_space && n > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        if (c_line_starts(p, n, prefix, false))
            return line;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* one-line text                                                       */
/* ------------------------------------------------------------------ */

static void c_buf_add(C_BUF *buf, const char *text, size_t len)
{
    if (buf->len + len + 1 > buf->alloc) {
        size_t alloc = buf->alloc ? buf->alloc : 128;
        char *data;

        while (alloc < buf->len + len + 1)
            alloc *= 2;
        if ((data = realloc(buf->data, alloc)) == NULL)
            return;             /* keep what we have: a shorter text, no crash */
        buf->data = data;
        buf->alloc = alloc;
    }
    memcpy(buf->data + buf->len, text, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
}

void c_buf_words(C_BUF *buf, const char *text, size_t len)
{
    size_t i = 0;

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
            c_buf_add(buf, " ", 1);
        c_buf_add(buf, text + start, i - start);
    }
}

char *c_buf_take(C_BUF *buf)
{
    char *data = buf->len > 0 ? buf->data : NULL;

    if (data == NULL)
        free(buf->data);
    buf->data = NULL;
    buf->len = buf->alloc = 0;
    return data;
}

void c_buf_free(C_BUF *buf)
{
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->alloc = 0;
}

/* ------------------------------------------------------------------ */
/* SMTP replies                                                        */
/* ------------------------------------------------------------------ */

bool c_reply_code_at(const char *text, char code[4])
{
    if (text == NULL)
        return false;
    if (text[0] < '2' || text[0] > '5' || !isdigit((unsigned char) text[1])
        || !isdigit((unsigned char) text[2]))
        return false;
    if (text[3] != '\0' && text[3] != ' ' && text[3] != '-' && text[3] != ':'
        && text[3] != '\t')
        return false;
    memcpy(code, text, 3);
    code[3] = '\0';
    return true;
}

#define C_STATUS_MAX 16          /* "5.123.123" and room to spare */

/* Length of an enhanced status code at p (0 if none): [245].d{1,3}.d{1,3}
 * not followed by another digit or ".digit" (which would make it part of
 * an IP address or a version number). */
static size_t status_at(const char *p)
{
    size_t i = 0;
    size_t n;

    if (p[0] != '2' && p[0] != '4' && p[0] != '5')
        return 0;
    if (p[1] != '.')
        return 0;
    i = 2;
    for (n = 0; n < 3 && isdigit((unsigned char) p[i]); n++)
        i++;
    if (n == 0 || p[i] != '.')
        return 0;
    i++;
    for (n = 0; n < 3 && isdigit((unsigned char) p[i]); n++)
        i++;
    if (n == 0 || isdigit((unsigned char) p[i]))
        return 0;
    if (p[i] == '.' && isdigit((unsigned char) p[i + 1]))
        return 0;
    return i;
}

/*
 * Remove the repetitions of the first line's "NNN-" / "NNN X.Y.Z " prefix
 * from a response that was already unfolded into one line, as a DSN
 * Diagnostic-Code often is: "521-5.7.1 a 521 5.7.1 b" -> "521 5.7.1 a b".
 */
static void drop_repeated_prefix(char *text)
{
    char code[4];
    char status[C_STATUS_MAX] = "";
    size_t slen = 0;
    char *p;

    if (!c_reply_code_at(text, code) || text[3] == '\0')
        return;
    if (text[3] == '-')
        text[3] = ' ';
    if (text[3] == ' ' && (slen = status_at(text + 4)) > 0 && slen < C_STATUS_MAX) {
        memcpy(status, text + 4, slen);
        status[slen] = '\0';
    }
    p = text + 4;
    while ((p = strstr(p, code)) != NULL) {
        size_t cut = 0;

        if (p[-1] != ' ') {
            p += 3;
            continue;
        }
        if (p[3] == '-') {
            /* "550-5.1.1 " when the reply had a status, else "550-" not
             * followed by a digit (no phone number or range). */
            if (slen > 0 && strncmp(p + 4, status, slen) == 0 && p[4 + slen] == ' ')
                cut = 4 + slen + 1;
            else if (slen == 0 && !isdigit((unsigned char) p[4]))
                cut = 4;
        } else if (p[3] == ' ' && slen > 0 && strncmp(p + 4, status, slen) == 0
                   && (p[4 + slen] == ' ' || p[4 + slen] == '\0')) {
            cut = 4 + slen + (p[4 + slen] == ' ' ? 1 : 0);
        }
        if (cut == 0) {
            p += 3;
            continue;
        }
        memmove(p, p + cut, strlen(p + cut) + 1);
    }
    /* A cut at the very end leaves a trailing space. */
    size_t len = strlen(text);
    while (len > 0 && text[len - 1] == ' ')
        text[--len] = '\0';
}

void c_set_response(BOUNCE_RCPT *rcpt, const char *text, size_t len)
{
    C_BUF buf = { NULL, 0, 0 };
    const char *cursor;
    const char *line;
    size_t llen;
    char *copy;
    char first[4] = "";
    char status[C_STATUS_MAX] = "";
    size_t slen = 0;
    bool started = false;

    if (text == NULL || (copy = strndup(text, len)) == NULL)
        return;
    cursor = copy;
    while ((line = c_next_line(&cursor, &llen)) != NULL) {
        char code[4];

        while (llen > 0 && isspace((unsigned char) *line)) {
            line++;
            llen--;
        }
        if (llen == 0)
            continue;
        if (!started) {
            started = true;
            if (c_reply_code_at(line, first) && llen > 4
                && (slen = status_at(line + 4)) > 0 && slen < C_STATUS_MAX) {
                memcpy(status, line + 4, slen);
                status[slen] = '\0';
            }
        } else if (first[0] != '\0' && llen >= 4 && c_reply_code_at(line, code)
                   && strcmp(code, first) == 0 && (line[3] == '-' || line[3] == ' ')) {
            /* A continuation line of the same reply: its words only. */
            line += 4;
            llen -= 4;
            if (slen > 0 && llen > slen && strncmp(line, status, slen) == 0
                && line[slen] == ' ') {
                line += slen + 1;
                llen -= slen + 1;
            }
        }
        c_buf_words(&buf, line, llen);
    }
    free(copy);
    if ((copy = c_buf_take(&buf)) == NULL)
        return;
    drop_repeated_prefix(copy);
    free(rcpt->diagnostic);
    rcpt->diagnostic = copy;
    rcpt_complete_codes(rcpt);
}

/* ------------------------------------------------------------------ */
/* headers                                                             */
/* ------------------------------------------------------------------ */

bool c_header_has(const BOUNCE_MSG *msg, const char *name, const char *needle)
{
    for (size_t i = 0; i < msg->headers.count; i++) {
        const BOUNCE_FIELD *f = &msg->headers.items[i];

        if (strcasecmp(f->name, name) == 0 && f->value != NULL
            && strcasestr(f->value, needle) != NULL)
            return true;
    }
    return false;
}

bool c_header_present(const BOUNCE_MSG *msg, const char *name)
{
    return bmsg_header(msg, name) != NULL;
}

/* ------------------------------------------------------------------ */
/* recipients                                                          */
/* ------------------------------------------------------------------ */

const char *c_skip_type(const char *value)
{
    const char *p = value;

    if (value == NULL)
        return NULL;
    while (isspace((unsigned char) *p))
        p++;
    const char *token = p;
    while (isalnum((unsigned char) *p) || *p == '-' || *p == '_')
        p++;
    if (p > token && *p == ';') {
        p++;
        while (isspace((unsigned char) *p))
            p++;
        return p;
    }
    return value;
}

/* "dns; mx.example.com. (192.0.2.1, the server for ...)" -> "mx.example.com" */
static void set_host(char **field, const char *value)
{
    const char *host = c_skip_type(value);
    size_t len = 0;

    if (host == NULL)
        return;
    while (host[len] != '\0' && !isspace((unsigned char) host[len]))
        len++;
    if (len > 1 && host[len - 1] == '.')
        len--;
    if (len > 0)
        rcpt_setn(field, host, len);
}

/* RFC 3464 actions, plus the "expired" some providers (SendGrid) write
 * for a message they gave up on: that one states the reason too. */
static void set_action(BOUNCE_RCPT *rcpt, const char *value)
{
    static const char *const known[] = {
        "failed", "delayed", "delivered", "relayed", "expanded", NULL
    };
    char word[16];
    size_t n = 0;

    if (value == NULL)
        return;
    while (isspace((unsigned char) *value))
        value++;
    while (n < sizeof(word) - 1 && isalpha((unsigned char) value[n])) {
        word[n] = (char) tolower((unsigned char) value[n]);
        n++;
    }
    word[n] = '\0';
    for (size_t i = 0; known[i] != NULL; i++) {
        if (strcmp(word, known[i]) == 0) {
            rcpt_set(&rcpt->action, word);
            return;
        }
    }
    if (strcmp(word, "expired") == 0) {
        rcpt_set(&rcpt->action, "failed");
        rcpt->reason = "expired";
    }
}

static bool same_address(const char *a, const char *b)
{
    char *na = NULL;
    char *nb = NULL;
    bool same;

    rcpt_set_address(&na, a);
    rcpt_set_address(&nb, b);
    same = na != NULL && nb != NULL && strcmp(na, nb) == 0;
    free(na);
    free(nb);
    return same;
}

static int rcpt_from_group(const BOUNCE_FIELDS *permsg, const BOUNCE_FIELDS *group,
                           BOUNCE_REPORT *report)
{
    const char *final = fields_get(group, "Final-Recipient");
    const char *orig = fields_get(group, "Original-Recipient");
    const char *value;
    BOUNCE_RCPT *rcpt;
    const char *status;
    size_t n;

    if (final == NULL || *c_skip_type(final) == '\0')
        final = orig;
    if (final == NULL || *c_skip_type(final) == '\0')
        return 0;
    if ((rcpt = report_add(report)) == NULL)
        return 0;
    rcpt_set_address(&rcpt->recipient, final);
    if (orig != NULL && *c_skip_type(orig) != '\0' && !same_address(orig, final)) {
        rcpt_set_address(&rcpt->original_recipient, orig);
        rcpt->forwarded = true;
    }
    set_action(rcpt, fields_get(group, "Action"));
    if ((value = fields_get(group, "Status")) != NULL && (n = text_find_status(value, &status)) > 0)
        rcpt_setn(&rcpt->status, status, n);
    set_host(&rcpt->remote_mta, fields_get(group, "Remote-MTA"));
    value = fields_get(group, "Reporting-MTA");
    if (value == NULL && permsg != NULL)
        value = fields_get(permsg, "Reporting-MTA");
    set_host(&rcpt->reporting_mta, value);
    if ((value = fields_get(group, "Diagnostic-Code")) != NULL) {
        value = c_skip_type(value);
        if (*value != '\0')
            c_set_response(rcpt, value, strlen(value));
    }
    return 1;
}

int c_rcpts_from_groups(const BOUNCE_FIELDS *permsg, const BOUNCE_FIELDS *groups,
                        size_t ngroups, BOUNCE_REPORT *report)
{
    int added = 0;

    for (size_t i = 0; i < ngroups; i++)
        added += rcpt_from_group(permsg, &groups[i], report);
    return added;
}

int c_rcpts_from_dsn(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    return c_rcpts_from_groups(&msg->dsn_message, msg->dsn_rcpts, msg->dsn_rcpt_count,
                               report);
}

/* True if a parsed block holds a field of RFC 3464. */
static bool is_dsn_block(const BOUNCE_FIELDS *block)
{
    static const char *const names[] = {
        "Reporting-MTA", "Final-Recipient", "Original-Recipient", "Action",
        "Status", "Diagnostic-Code", "Remote-MTA", "Arrival-Date", NULL
    };

    for (size_t i = 0; names[i] != NULL; i++)
        if (fields_get(block, names[i]) != NULL)
            return true;
    return false;
}

/* The start of the block of lines after the current one (blocks are
 * separated by blank lines), or the end of the text. */
static const char *skip_block(const char *cursor)
{
    const char *line;
    size_t len;
    bool in_block = false;
    bool after_block = false;

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        bool blank = c_line_blank(line, len);

        if (!blank && after_block)
            return line;
        if (!blank)
            in_block = true;
        else if (in_block)
            after_block = true;
    }
    return cursor;
}

#define C_TEXT_DSN_MAX_GROUPS 1000  /* a bound on what one text part may hold */

int c_rcpts_from_text_dsn(const char *text, BOUNCE_REPORT *report)
{
    BOUNCE_FIELDS permsg = { NULL, 0 };
    BOUNCE_FIELDS *groups = NULL;
    size_t ngroups = 0;
    const char *cursor = text;
    int added;

    while (cursor != NULL && *cursor != '\0' && ngroups < C_TEXT_DSN_MAX_GROUPS) {
        BOUNCE_FIELDS block = { NULL, 0 };
        BOUNCE_FIELDS *more;

        fields_parse(cursor, &block);
        cursor = skip_block(cursor);
        if (block.count == 0 || !is_dsn_block(&block)) {
            fields_free(&block);
            if (ngroups > 0 || permsg.count > 0)
                break;          /* the DSN text ended */
            continue;
        }
        if (fields_get(&block, "Final-Recipient") == NULL
            && fields_get(&block, "Original-Recipient") == NULL && permsg.count == 0) {
            permsg = block;
            continue;
        }
        if ((more = realloc(groups, (ngroups + 1) * sizeof(*groups))) == NULL) {
            fields_free(&block);
            break;
        }
        groups = more;
        groups[ngroups++] = block;
    }
    added = c_rcpts_from_groups(&permsg, groups, ngroups, report);
    fields_free(&permsg);
    for (size_t i = 0; i < ngroups; i++)
        fields_free(&groups[i]);
    free(groups);
    return added;
}

BOUNCE_RCPT *c_report_find(BOUNCE_REPORT *report, const char *addr)
{
    char *norm = NULL;
    BOUNCE_RCPT *found = NULL;

    if (addr == NULL)
        return NULL;
    rcpt_set_address(&norm, addr);
    for (size_t i = 0; norm != NULL && i < report->count; i++) {
        if (report->rcpts[i].recipient != NULL
            && strcmp(report->rcpts[i].recipient, norm) == 0) {
            found = &report->rcpts[i];
            break;
        }
    }
    free(norm);
    return found;
}

int c_rcpts_from_list(const char *list, BOUNCE_REPORT *report)
{
    int added = 0;
    const char *p = list;

    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen(p);
        char addr[ADDR_MAX + 1];

        if (c_find_address(p, len, addr, sizeof(addr)) && c_report_find(report, addr) == NULL) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
            added++;
        }
        p = comma ? comma + 1 : NULL;
    }
    return added;
}

void c_report_move(BOUNCE_REPORT *dst, BOUNCE_REPORT *src)
{
    if (src->count > 0) {
        size_t need = dst->count + src->count;

        if (need > dst->alloc) {
            BOUNCE_RCPT *rcpts = realloc(dst->rcpts, need * sizeof(*rcpts));

            if (rcpts == NULL) {
                report_clear(src);      /* out of memory: drop, never leak */
                return;
            }
            dst->rcpts = rcpts;
            dst->alloc = need;
        }
        memcpy(dst->rcpts + dst->count, src->rcpts, src->count * sizeof(*src->rcpts));
        dst->count = need;
    }
    free(src->rcpts);
    src->rcpts = NULL;
    src->count = src->alloc = 0;
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

bool c_find_address(const char *text, size_t len, char *out, size_t outlen)
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
        if (start == at || end == at + 1 || end - start >= outlen)
            continue;
        memcpy(out, text + start, end - start);
        out[end - start] = '\0';
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Exchange NDRs                                                       */
/* ------------------------------------------------------------------ */

/*
 * The resolver and queue codes Exchange puts into its own responses: they
 * name the cause, so they state the reason.
 */
static const struct {
    const char *code;
    const char *reason;
} exchange_codes[] = {
    { "RESOLVER.ADR.RecipNotFound", "userunknown" },
    { "RESOLVER.ADR.RecipientNotFound", "userunknown" },
    { "RESOLVER.ADR.ExRecipNotFound", "userunknown" },
    { "RESOLVER.ADR.RecipLimit", "toomanyconn" },
    { "RESOLVER.ADR.BadPrimary", "systemerror" },
    { "RESOLVER.ADR.InvalidInSmtp", "systemerror" },
    { "RESOLVER.ADR.Ambiguous", "systemerror" },
    { "RESOLVER.RST.AuthRequired", "securityerror" },
    { "RESOLVER.RST.NotAuthorized", "rejected" },
    { "RESOLVER.RST.RecipSizeLimit", "mesgtoobig" },
    { "SMTPSEND.DNS.NonExistentDomain", "hostunknown" },
    { "SMTPSEND.DNS.MxLoopback", "networkerror" },
    { "QUEUE.Expired", "expired" },
    { NULL, NULL },
};

const char *c_exchange_reason(const char *diagnostic)
{
    if (diagnostic == NULL)
        return NULL;
    for (size_t i = 0; exchange_codes[i].code != NULL; i++) {
        const char *p = strstr(diagnostic, exchange_codes[i].code);
        size_t n = strlen(exchange_codes[i].code);

        /* Whole code only: RecipNotFound is no prefix of a longer name. */
        if (p != NULL && !isalnum((unsigned char) p[n]))
            return exchange_codes[i].reason;
    }
    return NULL;
}

bool c_exchange_markers(const char *text)
{
    static const char *const marks[] = {
        "Diagnostic information for administrators", "Generating server:",
        "Remote Server returned", "Reported error:", "DSN generated by:",
        "Sent by Microsoft Exchange Server",
        "Delivery has failed to these recipients or",
        "Informations de diagnostic pour les administrateurs",
        "Informazioni di diagnostica per gli amministratori",
        "Diagnoseinformationen f\xc3\xbcr Administratoren", NULL
    };

    if (text == NULL)
        return false;
    for (size_t i = 0; marks[i] != NULL; i++)
        if (strcasestr(text, marks[i]) != NULL)
            return true;
    return c_exchange_reason(text) != NULL;
}

/* The end of the NDR text proper: the returned headers follow. */
static bool exchange_end_line(const char *line, size_t len)
{
    return c_line_starts(line, len, "Original message headers", true)
        || c_line_starts(line, len, "Message Hops", true)
        || c_line_starts(line, len, "En-t\xc3\xaates de message d'origine", true)
        || c_line_starts(line, len, "Intestazioni originali del messaggio", true);
}

/* True if the trimmed line is one address and nothing else. */
static bool bare_address_line(const char *line, size_t len, char *addr, size_t addrlen)
{
    while (len > 0 && isspace((unsigned char) line[len - 1]))
        len--;
    while (len > 0 && isspace((unsigned char) *line)) {
        line++;
        len--;
    }
    if (len == 0 || len >= addrlen || memchr(line, ' ', len) != NULL
        || memchr(line, '<', len) != NULL || memchr(line, '@', len) == NULL)
        return false;
    return c_find_address(line, len, addr, addrlen) && strlen(addr) == len;
}

/*
 * The response in one line of the administrators' section, or NULL:
 *   Remote Server returned '550 5.1.10 RESOLVER...; Recipient not found'
 *   6/19/2018 7:32:05 AM - Server at host (ip) returned '550 5.4.316 ...'
 *   #550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##
 *   Reported error: 550 5.1.10 RESOLVER.ADR.RecipientNotFound; ...
 */
static const char *exchange_response(const char *line, size_t len, size_t *rlen,
                                     const char **host, size_t *hostlen)
{
    const char *p;
    const char *end = line + len;

    *host = NULL;
    *hostlen = 0;
    while (line < end && isspace((unsigned char) *line))
        line++;
    len = (size_t) (end - line);
    if (len > 2 && line[0] == '#') {
        const char *close = NULL;

        for (p = line + 1; p + 1 < end; p++)
            if (p[0] == '#' && p[1] == '#') {
                close = p;
                break;
            }
        if (close == NULL)
            close = end;
        *rlen = (size_t) (close - line - 1);
        return line + 1;
    }
    if (c_line_starts(line, len, "Reported error:", true)) {
        *rlen = len - strlen("Reported error:");
        return line + strlen("Reported error:");
    }
    for (p = line; p + 10 <= end; p++) {
        if (strncasecmp(p, " returned '", 11) == 0 || strncasecmp(p, "returned '", 10) == 0) {
            const char *quote = memchr(p, '\'', (size_t) (end - p));
            const char *last = end;
            const char *at;

            while (last > quote + 1 && last[-1] != '\'')
                last--;
            if (last <= quote + 1)
                return NULL;
            /* "Server at host.example (192.0.2.1) returned": the remote. */
            for (at = line; at + 10 <= p; at++)
                if (strncasecmp(at, "Server at ", 10) == 0) {
                    const char *h = at + 10;
                    const char *he = h;

                    while (he < p && !isspace((unsigned char) *he))
                        he++;
                    *host = h;
                    *hostlen = (size_t) (he - h);
                    break;
                }
            *rlen = (size_t) (last - 1 - (quote + 1));
            return quote + 1;
        }
    }
    return NULL;
}

/* One recipient's block of the administrators' section. */
struct exchange_block {
    char addr[ADDR_MAX + 1];
    char *response;             /* the first (latest) response found */
    char *remote;               /* the host that gave it */
};

#define C_EXCHANGE_MAX_BLOCKS 256

static void exchange_blocks_free(struct exchange_block *blocks, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(blocks[i].response);
        free(blocks[i].remote);
    }
}

/* Exchange Online names one server by several domains
 * (SG2APC01HT007.mail.protection.outlook.com, SG2APC01HT007.eop-APC01...):
 * the first label is the server. */
static bool same_first_label(const char *a, const char *b)
{
    size_t la;
    size_t lb;

    if (a == NULL || b == NULL)
        return false;
    la = strcspn(a, ".");
    lb = strcspn(b, ".");
    return la == lb && strncasecmp(a, b, la) == 0;
}

/* Walk the text: "Generating server:", the per-recipient blocks (a bare
 * address line, then the responses), and the list of failed recipients at
 * the top ("Name<mailto:addr>") with the sentence under it, used when
 * there is nothing better. */
static size_t exchange_scan(const char *text, struct exchange_block *blocks,
                            char **generating, BOUNCE_REPORT *listed, char **explanation)
{
    const char *cursor = text;
    const char *line;
    size_t len;
    size_t n = 0;

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        char addr[ADDR_MAX + 1];
        const char *resp;
        const char *host;
        size_t rlen;
        size_t hostlen;
        const char *colon;

        if (exchange_end_line(line, len))
            break;
        if (c_line_starts(line, len, "Generating server:", true)
            || c_line_starts(line, len, "DSN generated by:", true)
            || c_line_starts(line, len, "Serveur de g", true)) {
            if (*generating == NULL && (colon = memchr(line, ':', len)) != NULL)
                rcpt_setn(generating, colon + 1, len - (size_t) (colon + 1 - line));
            continue;
        }
        if (c_line_starts(line, len, "Recipient Address:", true)) {
            const char *v = line + strlen("Recipient Address:");

            if (n < C_EXCHANGE_MAX_BLOCKS
                && c_find_address(v, len - strlen("Recipient Address:"), addr, sizeof(addr))) {
                memset(&blocks[n], 0, sizeof(blocks[n]));
                strcpy(blocks[n++].addr, addr);
            }
            continue;
        }
        if (bare_address_line(line, len, addr, sizeof(addr))) {
            if (n < C_EXCHANGE_MAX_BLOCKS) {
                memset(&blocks[n], 0, sizeof(blocks[n]));
                strcpy(blocks[n++].addr, addr);
            }
            continue;
        }
        if (c_line_contains(line, len, "<mailto:")) {
            const char *m = line;
            size_t mlen = len;

            /* "Name<mailto:addr>": the address inside the mailto. */
            while (mlen > 8 && strncasecmp(m, "<mailto:", 8) != 0) {
                m++;
                mlen--;
            }
            if (c_find_address(m, mlen, addr, sizeof(addr))
                && c_report_find(listed, addr) == NULL) {
                BOUNCE_RCPT *rcpt = report_add(listed);

                if (rcpt != NULL) {
                    /* The visible text wins: "x@a (x@a)<mailto:y@a>". */
                    char shown[ADDR_MAX + 1];

                    if (c_find_address(line, (size_t) (m - line), shown, sizeof(shown)))
                        rcpt_set_address(&rcpt->recipient, shown);
                    else
                        rcpt_set_address(&rcpt->recipient, addr);
                }
            }
            continue;
        }
        if (n == 0 && listed->count > 0 && *explanation == NULL && !c_line_blank(line, len)) {
            /* The sentence under the list says what went wrong. */
            *explanation = strndup(line, len);
            continue;
        }
        if (n > 0 && (resp = exchange_response(line, len, &rlen, &host, &hostlen)) != NULL) {
            struct exchange_block *b = &blocks[n - 1];

            /* The first (latest) response is the final one; the remote is
             * the first host that is not the reporting server itself. */
            if (b->response == NULL)
                b->response = strndup(resp, rlen);
            if (host != NULL && (b->remote == NULL
                                 || same_first_label(b->remote, *generating))) {
                free(b->remote);
                b->remote = strndup(host, hostlen);
            }
        } else if (n > 0 && blocks[n - 1].response == NULL && blocks[n - 1].remote == NULL
                   && !c_line_blank(line, len) && memchr(line, ' ', len) == NULL
                   && memchr(line, '.', len) != NULL) {
            /* Office 365 names the remote host on a line of its own. */
            blocks[n - 1].remote = strndup(line, len);
        }
    }
    return n;
}

int c_exchange_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    BOUNCE_REPORT found = { REPORT_NONE, NULL, NULL, 0, 0 };
    BOUNCE_REPORT listed = { REPORT_NONE, NULL, NULL, 0, 0 };
    struct exchange_block *blocks;
    char *generating = NULL;
    char *explanation = NULL;
    size_t nblocks;
    int added;

    if ((blocks = calloc(C_EXCHANGE_MAX_BLOCKS, sizeof(*blocks))) == NULL)
        return 0;
    c_rcpts_from_dsn(msg, &found);
    nblocks = exchange_scan(msg->text, blocks, &generating, &listed, &explanation);

    for (size_t i = 0; i < nblocks; i++) {
        BOUNCE_RCPT *rcpt = c_report_find(&found, blocks[i].addr);

        if (rcpt == NULL) {
            if (msg->dsn_rcpt_count > 0 && found.count > 0)
                continue;       /* the DSN lists the recipients; this is no new one */
            if ((rcpt = report_add(&found)) == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, blocks[i].addr);
        }
        /* The text's response carries what the DSN often cuts short
         * ("(Socket error code 10061)", the remote's own words). */
        if (blocks[i].response != NULL
            && (rcpt->diagnostic == NULL
                || strlen(blocks[i].response) > strlen(rcpt->diagnostic)))
            c_set_response(rcpt, blocks[i].response, strlen(blocks[i].response));
        if (rcpt->remote_mta == NULL && blocks[i].remote != NULL)
            rcpt_set(&rcpt->remote_mta, blocks[i].remote);
    }
    if (found.count == 0) {
        /* No DSN and no administrators' section (cut short): the list
         * of failed recipients and the sentence under it. */
        for (size_t i = 0; explanation != NULL && i < listed.count; i++)
            rcpt_set(&listed.rcpts[i].diagnostic, explanation);
        c_report_move(&found, &listed);
    }
    for (size_t i = 0; i < found.count; i++) {
        BOUNCE_RCPT *rcpt = &found.rcpts[i];

        if (rcpt->reporting_mta == NULL && generating != NULL)
            rcpt_set(&rcpt->reporting_mta, generating);
        if (rcpt->reason == NULL)
            rcpt->reason = c_exchange_reason(rcpt->diagnostic);
    }
    added = (int) found.count;
    c_report_move(report, &found);
    report_clear(&listed);
    exchange_blocks_free(blocks, nblocks);
    free(blocks);
    free(generating);
    free(explanation);
    return added;
}

/* ------------------------------------------------------------------ */
/* Amazon SES                                                          */
/* ------------------------------------------------------------------ */

/* "... 550-'5.2.2 <x>... Mailbox Full' ..." -> "550 5.2.2 <x>... Mailbox Full" */
static char *ses_quoted_response(const char *diag)
{
    for (const char *p = diag; (p = strstr(p, "-'")) != NULL; p++) {
        char code[4];
        const char *start;
        const char *end;
        char *out;

        if (p - diag < 3 || !c_reply_code_at(p - 3, code))
            continue;
        if (p - diag > 3 && !isspace((unsigned char) p[-4]))
            continue;
        start = p + 2;
        if ((end = strrchr(start, '\'')) == NULL || end == start)
            continue;
        if ((out = malloc(4 + (size_t) (end - start) + 1)) == NULL)
            return NULL;
        memcpy(out, code, 3);
        out[3] = ' ';
        memcpy(out + 4, start, (size_t) (end - start));
        out[4 + (end - start)] = '\0';
        return out;
    }
    return NULL;
}

void c_ses_refine(BOUNCE_RCPT *rcpt)
{
    char *inner;
    const char *lt;

    if (rcpt->diagnostic == NULL)
        return;
    if ((inner = ses_quoted_response(rcpt->diagnostic)) != NULL) {
        char code[4];
        const char *status;
        size_t n;

        free(rcpt->diagnostic);
        rcpt->diagnostic = inner;
        if (c_reply_code_at(inner, code))
            rcpt_set(&rcpt->replycode, code);
        if ((n = text_find_status(inner + 4, &status)) > 0)
            rcpt_setn(&rcpt->status, status, n);
        return;
    }
    if (strstr(rcpt->diagnostic, "Message expired: unable to deliver") != NULL) {
        /* SES gave up after retrying for its whole lifetime; the last
         * answer it had from the remote is inside <...>. */
        rcpt->reason = "expired";
        if ((lt = strchr(rcpt->diagnostic, '<')) != NULL) {
            char code[4];

            if (c_reply_code_at(lt + 1, code))
                rcpt_set(&rcpt->replycode, code);
        }
    }
}
