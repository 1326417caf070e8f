/*
 * detectors/fallback.c: the last resort for plain-text bounces no detector
 * recognised.
 *
 * Offers detectors.c a careful guess: only a message that says it is a
 * bounce (sent by MAILER-DAEMON or postmaster, or a subject such as
 * "Undelivered Mail" or "Returned mail") is scanned, and only an SMTP
 * reply line (4xx/5xx, or an enhanced status code) with an address on it
 * or just before it makes a report.  Without such evidence there is no
 * report: a wrong suppression is worse than a missed one.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "detector.h"
#include "ingest.h"

static const char *const bounce_senders[] = {
    "mailer-daemon", "postmaster", "mail delivery", "mail administrator", NULL,
};
static const char *const bounce_subjects[] = {
    "undeliver", "returned mail", "failure", "failed", "delivery status",
    "delivery notification", "not delivered", "could not be delivered",
    "nondeliverable", "non-deliverable", "non remis", "unzustellbar", "bounce", NULL,
};

/* How far before a reply line the failed address may stand. */
#define ADDRESS_LOOKBACK_LINES 4

static bool has_any(const char *value, const char *const *list)
{
    if (value == NULL)
        return false;
    for (int i = 0; list[i] != NULL; i++)
        if (strcasestr(value, list[i]) != NULL)
            return true;
    return false;
}

static bool fallback_match(const BOUNCE_MSG *msg)
{
    return has_any(bmsg_header(msg, "From"), bounce_senders)
        || has_any(bmsg_header(msg, "Subject"), bounce_subjects);
}

/* A line carrying an SMTP reply: "550 ...", "550-...", "... 5.1.1 ...", "said: 550". */
static bool line_is_reply(const char *line, size_t len)
{
    char buf[1024];
    const char *found;

    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    memcpy(buf, line, len);
    buf[len] = '\0';
    for (const char *p = buf; *p; p++) {
        char prev = p == buf ? ' ' : p[-1];

        /* Not inside a number, a time ("12:55") or a host name. */
        if (isalnum((unsigned char) prev) || prev == '.' || prev == ':' || prev == '-')
            continue;
        if ((*p == '4' || *p == '5') && isdigit((unsigned char) p[1]) && isdigit((unsigned char) p[2])
            && (p[3] == ' ' || p[3] == '-'))
            return true;
    }
    return text_find_status(buf, &found) > 0 && (found[0] == '4' || found[0] == '5');
}

/*
 * The first address on the line: "<a@x>", "a@x:", "To: a@x".  Addresses of
 * the bounce's own sender and recipient (ourselves, the MAILER-DAEMON) are
 * not failed recipients.
 */
static bool line_address(const BOUNCE_MSG *msg, const char *line, size_t len,
                         char *out, size_t outlen)
{
    char own_from[ADDR_MAX + 1] = "";
    char own_to[ADDR_MAX + 1] = "";

    header_first_address(bmsg_header(msg, "From"), own_from, sizeof(own_from));
    header_first_address(bmsg_header(msg, "To"), own_to, sizeof(own_to));
    for (size_t i = 0; i < len; i++) {
        size_t start, end;
        char candidate[ADDR_MAX * 2];
        SUP_ERR err;

        if (line[i] != '@')
            continue;
        start = i;
        while (start > 0 && !isspace((unsigned char) line[start - 1])
               && strchr("<>():;,\"'[]", line[start - 1]) == NULL)
            start--;
        end = i + 1;
        while (end < len && !isspace((unsigned char) line[end])
               && strchr("<>():;,\"'[]", line[end]) == NULL)
            end++;
        while (end > i + 1 && line[end - 1] == '.')
            end--;
        if (end - start >= sizeof(candidate) || start == i || end == i + 1)
            continue;
        memcpy(candidate, line + start, end - start);
        candidate[end - start] = '\0';
        if (addr_normalize(candidate, out, outlen, &err) != 0)
            continue;
        if (strcmp(out, own_from) == 0 || strcmp(out, own_to) == 0
            || strncmp(out, "mailer-daemon@", 14) == 0 || strncmp(out, "postmaster@", 11) == 0)
            continue;
        return true;
    }
    return false;
}

struct line {
    const char *start;
    size_t len;
};

static size_t split_lines(const char *text, struct line *lines, size_t max)
{
    size_t n = 0;

    for (const char *p = text; *p && n < max;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);

        lines[n].start = p;
        lines[n].len = len;
        n++;
        p += len + (eol != NULL);
    }
    return n;
}

/* The reply line and the continuation lines after it, as one line. */
static void set_response(BOUNCE_RCPT *rcpt, const struct line *lines, size_t count, size_t first)
{
    char buf[2048];
    size_t len = 0;

    for (size_t i = first; i < count && i < first + 4; i++) {
        const char *s = lines[i].start;
        size_t n = lines[i].len;

        while (n > 0 && isspace((unsigned char) *s)) {
            s++;
            n--;
        }
        if (n == 0 || (i > first && !line_is_reply(s, n) && !isspace((unsigned char) lines[i].start[0])))
            break;
        if (len + n + 2 >= sizeof(buf))
            break;
        if (len > 0)
            buf[len++] = ' ';
        memcpy(buf + len, s, n);
        len += n;
    }
    while (len > 0 && isspace((unsigned char) buf[len - 1]))
        len--;
    rcpt_setn(&rcpt->diagnostic, buf, len);
}

/* Words that make a line without a reply code say the delivery failed. */
static const char *const failure_words[] = {
    "unknown", "mailbox is full", "mailbox full", "quota", "not found", "no such",
    "does not exist", "doesn't exist", "rejected", "refused", "disabled", "invalid",
    "unable to deliver", "could not be delivered", "undeliverable", "failed", NULL,
};

/* A header line of the returned message: the bounce's own words end there. */
static bool line_starts_returned_headers(const char *line, size_t len)
{
    static const char *const names[] = {
        "Received: ", "Return-Path: ", "Message-Id: ", "Message-ID: ", "DKIM-Signature: ", NULL,
    };

    for (int i = 0; names[i] != NULL; i++)
        if (len >= strlen(names[i]) && strncasecmp(line, names[i], strlen(names[i])) == 0)
            return true;
    return false;
}

static bool line_has_failure_words(const char *line, size_t len)
{
    char buf[512];

    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    memcpy(buf, line, len);
    buf[len] = '\0';
    return has_any(buf, failure_words);
}

/*
 * Second chance, without any reply code: a line in the bounce's own text
 * (before the returned message) that names one address and says it
 * failed: "User's mailbox is full: <a@x>", " a@x ... unknown host".
 */
static int parse_plain_failure(const BOUNCE_MSG *msg, const struct line *lines, size_t count,
                               BOUNCE_REPORT *report)
{
    for (size_t i = 0; i < count; i++) {
        char address[ADDR_MAX + 1];
        BOUNCE_RCPT *rcpt;

        if (line_starts_returned_headers(lines[i].start, lines[i].len))
            break;
        if (!line_has_failure_words(lines[i].start, lines[i].len)
            || !line_address(msg, lines[i].start, lines[i].len, address, sizeof(address)))
            continue;
        if ((rcpt = report_add(report)) == NULL)
            return 0;
        rcpt_set(&rcpt->recipient, address);
        rcpt_setn(&rcpt->diagnostic, lines[i].start, lines[i].len);
        return 1;
    }
    return 0;
}

static int fallback_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    enum { MAX_LINES = 400 };
    struct line *lines = calloc(MAX_LINES, sizeof(*lines));
    size_t count;
    int added = 0;

    if (lines == NULL)
        return 0;
    count = split_lines(msg->text, lines, MAX_LINES);
    for (size_t i = 0; i < count && added == 0; i++) {
        char address[ADDR_MAX + 1];
        bool found = false;
        BOUNCE_RCPT *rcpt;

        if (!line_is_reply(lines[i].start, lines[i].len))
            continue;
        found = line_address(msg, lines[i].start, lines[i].len, address, sizeof(address));
        for (size_t back = 1; !found && back <= ADDRESS_LOOKBACK_LINES && back <= i; back++)
            found = line_address(msg, lines[i - back].start, lines[i - back].len,
                                 address, sizeof(address));
        if (!found)
            found = header_first_address(bmsg_returned_header(msg, "To"), address, sizeof(address)) == 0;
        if (!found || (rcpt = report_add(report)) == NULL)
            continue;
        rcpt_set(&rcpt->recipient, address);
        set_response(rcpt, lines, count, i);
        added++;
    }
    if (added == 0)
        added = parse_plain_failure(msg, lines, count, report);
    free(lines);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_fallback = {
    "fallback",
    fallback_match,
    fallback_parse,
};
