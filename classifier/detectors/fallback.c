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
#include "toolkit.h"

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

static bool fallback_match(const BOUNCE_MSG *msg)
{
    return contains_any(bmsg_header(msg, "From"), bounce_senders)
        || contains_any(bmsg_header(msg, "Subject"), bounce_subjects);
}

/* A line carrying an SMTP reply: "550 ...", "550-...", "... 5.1.1 ...", "said: 550". */
static bool line_is_reply(const char *line)
{
    const char *found;

    for (const char *p = line; *p; p++) {
        char prev = p == line ? ' ' : p[-1];

        /* Not inside a number, a time ("12:55") or a host name. */
        if (isalnum((unsigned char) prev) || prev == '.' || prev == ':' || prev == '-')
            continue;
        if ((*p == '4' || *p == '5') && isdigit((unsigned char) p[1]) && isdigit((unsigned char) p[2])
            && (p[3] == ' ' || p[3] == '-'))
            return true;
    }
    return text_find_status(line, &found) > 0 && (found[0] == '4' || found[0] == '5');
}

/* The first failed address on the line: not the bounce's own sender or
 * recipient (ourselves, the MAILER-DAEMON). */
static bool line_address(const BOUNCE_MSG *msg, const char *line, char *out, size_t outlen)
{
    return line_foreign_address(msg, line, out, outlen);
}

/* The reply line and the continuation lines after it, as one line. */
static void set_response(BOUNCE_RCPT *rcpt, const TEXT_LINES *lines, size_t count, size_t first)
{
    TEXT_BUF buf = { NULL, 0, 0, false };

    for (size_t i = first; i < count && i < first + 4; i++) {
        const char *line = lines->line[i];

        if (is_blank(line) || (i > first && !line_is_reply(line) && !is_indented(line)))
            break;
        buf_join_str(&buf, line);
    }
    rcpt_set_response(rcpt, buf_str(&buf));
    buf_free(&buf);
}

/* Words that make a line without a reply code say the delivery failed. */
static const char *const failure_words[] = {
    "unknown", "mailbox is full", "mailbox full", "quota", "not found", "no such",
    "does not exist", "doesn't exist", "rejected", "refused", "disabled", "invalid",
    "unable to deliver", "could not be delivered", "undeliverable", "failed", NULL,
};

/* A header line of the returned message: the bounce's own words end there. */
static bool line_starts_returned_headers(const char *line)
{
    static const char *const names[] = {
        "Received: ", "Return-Path: ", "Message-Id: ", "DKIM-Signature: ", NULL,
    };

    for (int i = 0; names[i] != NULL; i++)
        if (after_prefix_nocase(line, names[i]) != NULL)
            return true;
    return false;
}

/*
 * Second chance, without any reply code: a line in the bounce's own text
 * (before the returned message) that names one address and says it
 * failed: "User's mailbox is full: <a@x>", " a@x ... unknown host".
 */
static int parse_plain_failure(const BOUNCE_MSG *msg, const TEXT_LINES *lines, size_t count,
                               BOUNCE_REPORT *report)
{
    for (size_t i = 0; i < count; i++) {
        char address[ADDR_MAX + 1];
        BOUNCE_RCPT *rcpt;

        if (line_starts_returned_headers(lines->line[i]))
            break;
        if (!contains_any(lines->line[i], failure_words)
            || !line_address(msg, lines->line[i], address, sizeof(address)))
            continue;
        if ((rcpt = report_add(report)) == NULL)
            return 0;
        rcpt_set(&rcpt->recipient, address);
        rcpt_set(&rcpt->diagnostic, lines->line[i]);
        return 1;
    }
    return 0;
}

/* How many lines of a text are worth a look: the bounce's own words are
 * at the start, the rest is the returned message. */
#define MAX_LINES 400

static int fallback_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t count;
    int added = 0;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    count = lines.count < MAX_LINES ? lines.count : MAX_LINES;
    for (size_t i = 0; i < count && added == 0; i++) {
        char address[ADDR_MAX + 1];
        bool found = false;
        BOUNCE_RCPT *rcpt;

        if (!line_is_reply(lines.line[i]))
            continue;
        found = line_address(msg, lines.line[i], address, sizeof(address));
        for (size_t back = 1; !found && back <= ADDRESS_LOOKBACK_LINES && back <= i; back++)
            found = line_address(msg, lines.line[i - back], address, sizeof(address));
        if (!found)
            found = header_first_address(bmsg_returned_header(msg, "To"), address, sizeof(address)) == 0;
        if (!found || (rcpt = report_add(report)) == NULL)
            continue;
        rcpt_set(&rcpt->recipient, address);
        set_response(rcpt, &lines, count, i);
        added++;
    }
    if (added == 0)
        added = parse_plain_failure(msg, &lines, count, report);
    lines_free(&lines);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_fallback = {
    "fallback",
    fallback_match,
    fallback_parse,
};
