/*
 * amazonses.c: Amazon SES (sending) bounces, complaints and deliveries.
 *
 * Offers detector_amazonses.  SES reports in two ways:
 *   - an RFC 3464 DSN from MAILER-DAEMON@...amazonses.com, whose
 *     Diagnostic-Code wraps the remote response in SES's own words
 *     (ses_refine_response() takes it out);
 *   - a JSON notification (bounce, complaint or delivery), usually sent
 *     through SNS as an e-mail whose body is the SNS envelope with the SES
 *     notification as an escaped string in "Message".
 * The JSON is read with a small extractor of our own (no JSON library is a
 * dependency): it only walks, never builds a tree, and is bounded in
 * nesting depth, so hostile input costs at most a linear scan.  The bounce
 * type SES states (bounceType/bounceSubType) is a structural reason.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounce.h"
#include "formats.h"
#include "toolkit.h"
#include "detector.h"

/* ------------------------------------------------------------------ */
/* a minimal JSON reader                                               */
/* ------------------------------------------------------------------ */

#define JSON_MAX_DEPTH 32
#define JSON_KEY_MAX 64

static const char *json_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p at '"': the position after the closing quote, or NULL. */
static const char *json_skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            if (++p >= end)
                return NULL;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* The position after the value at p (any type), or NULL if malformed. */
static const char *json_skip(const char *p, const char *end, int depth)
{
    p = json_ws(p, end);
    if (p >= end || depth > JSON_MAX_DEPTH)
        return NULL;
    if (*p == '"')
        return json_skip_string(p, end);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';

        p = json_ws(p + 1, end);
        if (p < end && *p == close)
            return p + 1;
        for (;;) {
            if (close == '}') {
                if (p >= end || *p != '"' || (p = json_skip_string(p, end)) == NULL)
                    return NULL;
                p = json_ws(p, end);
                if (p >= end || *p != ':')
                    return NULL;
                p++;
            }
            if ((p = json_skip(p, end, depth + 1)) == NULL)
                return NULL;
            p = json_ws(p, end);
            if (p < end && *p == ',') {
                p = json_ws(p + 1, end);
                continue;
            }
            if (p < end && *p == close)
                return p + 1;
            return NULL;
        }
    }
    /* number, true, false, null */
    while (p < end && (isalnum((unsigned char) *p) || *p == '-' || *p == '+' || *p == '.'))
        p++;
    return p;
}

static int hex4(const char *p, const char *end)
{
    int v = 0;

    if (end - p < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char) p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return -1;
    }
    return v;
}

static size_t utf8_put(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xc0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xe0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char) (0xf0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}

/* The string at p (at '"') unescaped to UTF-8, malloc'd; NULL if p is no
 * string.  Lone surrogates become U+FFFD. */
static char *json_string(const char *p, const char *end)
{
    const char *close;
    char *out;
    size_t n = 0;

    p = json_ws(p, end);
    if (p >= end || *p != '"' || (close = json_skip_string(p, end)) == NULL)
        return NULL;
    /* An escape never expands: \uXXXX (6 bytes) gives at most 4. */
    if ((out = malloc((size_t) (close - p) + 1)) == NULL)
        return NULL;
    for (p++; p < close - 1; p++) {
        uint32_t cp;
        int v;

        if (*p != '\\') {
            out[n++] = *p;
            continue;
        }
        switch (*++p) {
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u':
            cp = 0xfffd;
            if ((v = hex4(p + 1, close)) >= 0) {
                p += 4;
                cp = (uint32_t) v;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    int lo;

                    cp = 0xfffd;
                    if (p + 2 < close && p[1] == '\\' && p[2] == 'u'
                        && (lo = hex4(p + 3, close)) >= 0xdc00 && lo <= 0xdfff) {
                        cp = 0x10000 + (((uint32_t) v - 0xd800) << 10) + ((uint32_t) lo - 0xdc00);
                        p += 6;
                    }
                } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                    cp = 0xfffd;
                }
            }
            n += utf8_put(out + n, cp);
            break;
        default:                /* \" \\ \/ and unknown escapes: the char */
            out[n++] = *p;
            break;
        }
    }
    out[n] = '\0';
    return out;
}

/* obj at '{': the value of member `key`, or NULL. */
static const char *json_member(const char *obj, const char *end, const char *key)
{
    const char *p = json_ws(obj, end);

    if (p >= end || *p != '{')
        return NULL;
    p = json_ws(p + 1, end);
    while (p < end && *p == '"') {
        const char *after = json_skip_string(p, end);
        char *name;
        bool match;

        if (after == NULL || after - p > JSON_KEY_MAX)
            name = NULL;
        else
            name = json_string(p, end);
        match = name != NULL && strcmp(name, key) == 0;
        free(name);
        if (after == NULL)
            return NULL;
        p = json_ws(after, end);
        if (p >= end || *p != ':')
            return NULL;
        p = json_ws(p + 1, end);
        if (match)
            return p;
        if ((p = json_skip(p, end, 1)) == NULL)
            return NULL;
        p = json_ws(p, end);
        if (p < end && *p == ',')
            p = json_ws(p + 1, end);
    }
    return NULL;
}

/* The string member `key` of obj, malloc'd, or NULL. */
static char *json_member_string(const char *obj, const char *end, const char *key)
{
    const char *v = obj ? json_member(obj, end, key) : NULL;

    return v ? json_string(v, end) : NULL;
}

/*
 * Walk an array: *cursor at '[' the first time; returns each element's
 * start in turn, NULL after the last (or on malformed input).
 */
static const char *json_next_element(const char **cursor, const char *end)
{
    const char *p = json_ws(*cursor, end);
    const char *elem;

    if (p >= end)
        return NULL;
    if (*p == '[' || *p == ',')
        p = json_ws(p + 1, end);
    if (p >= end || *p == ']')
        return NULL;
    elem = p;
    if ((p = json_skip(p, end, 1)) == NULL)
        return NULL;
    p = json_ws(p, end);
    if (p >= end || (*p != ',' && *p != ']'))
        return NULL;
    *cursor = p;
    return elem;
}

/* ------------------------------------------------------------------ */
/* SES notifications                                                   */
/* ------------------------------------------------------------------ */

/*
 * The JSON text of the notification body: SNS e-mail lines longer than
 * the mail limit are folded as "...!\n " (the '!' and the space are no
 * part of the data); the SNS footer starts at a line "--".
 */
static char *ses_unfold_body(const char *text)
{
    size_t cap = strlen(text) + 2;     /* a last line without LF gets one */
    char *out = malloc(cap);
    TEXT_LINES lines;
    size_t n = 0;
    bool folded = false;

    if (out == NULL)
        return NULL;
    if (lines_split(text, &lines) < 0) {
        free(out);
        return NULL;
    }
    for (size_t l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);

        if (len == 2 && line[0] == '-' && line[1] == '-')
            break;
        if (folded && len > 0 && line[0] == ' ') {
            line++;
            len--;
        }
        folded = false;
        if (len >= 256 && line[len - 1] == '!' && l + 1 < lines.count
            && lines.line[l + 1][0] == ' ') {
            len--;
            folded = true;
        }
        memcpy(out + n, line, len);
        n += len;
        if (!folded)
            out[n++] = '\n';
    }
    lines_free(&lines);
    out[n] = '\0';
    return out;
}

/* bounceType/bounceSubType -> reason, where SES's type names the cause. */
static const char *ses_bounce_reason(const char *type, const char *subtype)
{
    static const struct {
        const char *type;
        const char *subtype;
        const char *reason;
    } table[] = {
        { "Permanent", "NoEmail", "userunknown" },      /* address does not exist */
        { "Permanent", "Suppressed", "userunknown" },    /* SES list of recent hard bounces */
        { "Transient", "MailboxFull", "mailboxfull" },
        { "Transient", "MessageTooLarge", "mesgtoobig" },
        { "Transient", "ContentRejected", "contenterror" },
        { "Transient", "AttachmentRejected", "contenterror" },
        { NULL, NULL, NULL },
    };

    if (type == NULL || subtype == NULL)
        return NULL;
    for (size_t i = 0; table[i].type != NULL; i++)
        if (strcmp(type, table[i].type) == 0 && strcmp(subtype, table[i].subtype) == 0)
            return table[i].reason;
    return NULL;
}

static void set_from_member(char **field, const char *obj, const char *end, const char *key)
{
    char *value = json_member_string(obj, end, key);

    if (value != NULL && *value != '\0')
        rcpt_set(field, dsn_value(value));
    free(value);
}

/* An address worth a recipient: a JSON string with an '@' in it. */
static bool usable_address(const char *addr)
{
    return addr != NULL && strchr(addr, '@') != NULL;
}

static int ses_bounce(const char *note, const char *end, BOUNCE_REPORT *report)
{
    const char *bounce = json_member(note, end, "bounce");
    const char *list;
    const char *elem;
    char *type;
    char *subtype;
    char *mta;
    int added = 0;

    if (bounce == NULL || (list = json_member(bounce, end, "bouncedRecipients")) == NULL)
        return 0;
    /* Read the per-bounce members once: each lookup scans the object,
     * recipients list included. */
    type = json_member_string(bounce, end, "bounceType");
    subtype = json_member_string(bounce, end, "bounceSubType");
    mta = json_member_string(bounce, end, "reportingMTA");
    while ((elem = json_next_element(&list, end)) != NULL) {
        char *addr = json_member_string(elem, end, "emailAddress");
        char *diag = json_member_string(elem, end, "diagnosticCode");
        char *action = json_member_string(elem, end, "action");
        BOUNCE_RCPT *rcpt;

        if (usable_address(addr) && (rcpt = report_add(report)) != NULL) {
            rcpt_set_address(&rcpt->recipient, addr);
            if (action != NULL && (strcasecmp(action, "failed") == 0
                                   || strcasecmp(action, "delayed") == 0))
                rcpt_set(&rcpt->action, strcasecmp(action, "failed") == 0 ? "failed" : "delayed");
            set_from_member(&rcpt->status, elem, end, "status");
            if (mta != NULL && *dsn_value(mta) != '\0')
                rcpt_set(&rcpt->reporting_mta, dsn_value(mta));
            set_from_member(&rcpt->remote_mta, elem, end, "remoteMtaIp");
            if (diag != NULL && *dsn_value(diag) != '\0') {
                rcpt_set_response(rcpt, dsn_value(diag));
            } else if (type != NULL && subtype != NULL) {
                /* No remote response: SES's own verdict is all there is. */
                TEXT_BUF buf = { NULL, 0, 0, false };

                buf_join(&buf, type, strlen(type));
                buf_join(&buf, "bounce,", 7);
                buf_join(&buf, subtype, strlen(subtype));
                rcpt->diagnostic = buf_take(&buf);
            }
            rcpt->reason = ses_bounce_reason(type, subtype);
            ses_refine_response(rcpt);
            added++;
        }
        free(addr);
        free(diag);
        free(action);
    }
    free(type);
    free(subtype);
    free(mta);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

static int ses_complaint(const char *note, const char *end, BOUNCE_REPORT *report)
{
    const char *complaint = json_member(note, end, "complaint");
    const char *list;
    const char *elem;
    char *type;
    int added = 0;

    if (complaint == NULL
        || (list = json_member(complaint, end, "complainedRecipients")) == NULL)
        return 0;
    type = json_member_string(complaint, end, "complaintFeedbackType");
    while ((elem = json_next_element(&list, end)) != NULL) {
        char *addr = json_member_string(elem, end, "emailAddress");
        BOUNCE_RCPT *rcpt;

        if (usable_address(addr) && (rcpt = report_add(report)) != NULL) {
            rcpt_set_address(&rcpt->recipient, addr);
            if (type != NULL && *type != '\0')
                rcpt_set(&rcpt->feedback_type, type);
            rcpt->reason = "feedback";
            added++;
        }
        free(addr);
    }
    free(type);
    if (added > 0)
        report->kind = REPORT_COMPLAINT;
    return added;
}

static int ses_delivery(const char *note, const char *end, BOUNCE_REPORT *report)
{
    const char *delivery = json_member(note, end, "delivery");
    const char *list;
    const char *elem;
    char *response;
    char *mta;
    char *remote;
    int added = 0;

    if (delivery == NULL || (list = json_member(delivery, end, "recipients")) == NULL)
        return 0;
    response = json_member_string(delivery, end, "smtpResponse");
    mta = json_member_string(delivery, end, "reportingMTA");
    remote = json_member_string(delivery, end, "remoteMtaIp");
    while ((elem = json_next_element(&list, end)) != NULL) {
        char *addr = json_string(elem, end);
        BOUNCE_RCPT *rcpt;

        if (usable_address(addr) && (rcpt = report_add(report)) != NULL) {
            rcpt_set_address(&rcpt->recipient, addr);
            rcpt_set(&rcpt->action, "delivered");
            if (mta != NULL && *mta != '\0')
                rcpt_set(&rcpt->reporting_mta, dsn_value(mta));
            if (remote != NULL && *remote != '\0')
                rcpt_set(&rcpt->remote_mta, remote);
            if (response != NULL && *response != '\0')
                rcpt_set_response(rcpt, response);
            rcpt->reason = "delivered";
            added++;
        }
        free(addr);
    }
    free(response);
    free(mta);
    free(remote);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

/* The SES notification object: the body itself, or the string in the SNS
 * envelope's "Message" (returned in *inner, to be freed). */
static int ses_parse_json(const char *json, BOUNCE_REPORT *report)
{
    const char *end = json + strlen(json);
    const char *note = json_ws(json, end);
    char *inner = json_member_string(note, end, "Message");
    char *type;
    int added = 0;

    if (inner != NULL) {
        note = inner;
        end = inner + strlen(inner);
        note = json_ws(note, end);
    }
    if (json_skip(note, end, 0) == NULL) {
        free(inner);
        return 0;               /* not one well-formed JSON value */
    }
    if ((type = json_member_string(note, end, "notificationType")) == NULL)
        type = json_member_string(note, end, "eventType");  /* event publishing */
    if (type != NULL) {
        if (strcmp(type, "Bounce") == 0)
            added = ses_bounce(note, end, report);
        else if (strcmp(type, "Complaint") == 0)
            added = ses_complaint(note, end, report);
        else if (strcmp(type, "Delivery") == 0)
            added = ses_delivery(note, end, report);
    }
    free(type);
    free(inner);
    return added;
}

/* ------------------------------------------------------------------ */
/* the detector                                                        */
/* ------------------------------------------------------------------ */

static bool is_workmail(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "X-Mailer", "Amazon WorkMail")
        || header_contains(msg, "X-Original-Mailer", "Amazon WorkMail");
}

static bool amazonses_match(const BOUNCE_MSG *msg)
{
    if (is_workmail(msg))
        return false;
    return bmsg_header(msg, "X-SES-Outgoing") != NULL
        || bmsg_header(msg, "X-AWS-Outgoing") != NULL
        || bmsg_header(msg, "x-amz-sns-message-id") != NULL
        || header_contains(msg, "From", "amazonses.com")
        || header_contains(msg, "From", "sns.amazonaws.com");
}

/* True if the DSN is SES's own (not one relayed through SES). */
static bool dsn_from_ses(const BOUNCE_MSG *msg)
{
    const char *mta = fields_get(&msg->dsn_message, "Reporting-MTA");

    return header_contains(msg, "From", "amazonses.com")
        || (mta != NULL && strcasestr(mta, "amazonses.com") != NULL);
}

static int amazonses_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *body = msg->text;
    int added;

    while (isspace((unsigned char) *body))
        body++;
    if (*body == '{') {
        char *json = ses_unfold_body(body);

        added = json ? ses_parse_json(json, report) : 0;
        free(json);
        return added;
    }
    if (msg->dsn_rcpt_count == 0 || !dsn_from_ses(msg))
        return 0;
    added = rcpts_from_dsn_part(msg, report);
    for (size_t i = report->count - (size_t) added; i < report->count; i++)
        ses_refine_response(&report->rcpts[i]);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_amazonses = {
    "amazonses", amazonses_match, amazonses_parse,
};

/* ---- the response inside SES's wrapper (formats.h) ---- */

/* "... 550-'5.2.2 <x>... Mailbox Full' ..." -> "550 5.2.2 <x>... Mailbox Full" */
static char *ses_quoted_response(const char *diag)
{
    for (const char *p = diag; (p = strstr(p, "-'")) != NULL; p++) {
        char code[4];
        const char *start;
        const char *end;
        char *out;

        if (p - diag < 3 || !text_leading_replycode(p - 3, code))
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

void ses_refine_response(BOUNCE_RCPT *rcpt)
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
        if (text_leading_replycode(inner, code))
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

            if (text_leading_replycode(lt + 1, code))
                rcpt_set(&rcpt->replycode, code);
        }
    }
}
