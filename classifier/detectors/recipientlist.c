/*
 * detectors/recipientlist.c: plain-text bounces that announce their
 * failed recipients with a sentence and then list them.
 *
 * Offers detector_recipientlist to detectors.c, tried after the generic
 * RFC 3464 and auto-reply paths and before the last-resort scan
 * (fallback.c).  Many small MTAs and gateways write no DSN and no format
 * of their own, only an English sentence and the addresses:
 *
 *   Delivery to the following recipients failed.
 *          user@example.com
 *
 *   ------ Failed Recipients ------
 *   <user@example.com>: Requested action not taken: mailbox unavailable.
 *
 *   Intended recipient: user@example.net
 *
 * The sentences are the shapes Mailman's flufl.bounce SimpleMatch and
 * Netscape detectors know, reduced to what they share: a phrase saying
 * the addresses that follow failed.  Each phrase below is seen in more
 * than one MTA's bounces (tests/corpus/flufl, tests/corpus/sisimai).  The
 * address stands right after the phrase or on the lines below it, one to
 * a line; the text after it on its line, and the indented lines under
 * it, are the diagnostic.  Only a message that says it is a bounce (its
 * sender or subject) is read, only the bounce's own words (up to the
 * returned message), and never the bounce's own addresses: a wrong
 * suppression is worse than a missed one.
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
    "mailer-daemon", "postmaster", "mail delivery", "mail administrator", "mail system", NULL,
};
static const char *const bounce_subjects[] = {
    "undeliver", "undelivered", "returned mail", "failure", "failed", "delivery status",
    "delivery notification", "not delivered", "could not be delivered", "nondeliverable",
    "non-deliverable", "non-delivery", "delivery problem", "delivery error", "processing error",
    "non remis", "unzustellbar", "bounce", NULL,
};

/*
 * Phrases that introduce the failed addresses, lowercase.  Where each is
 * seen (flufl.bounce's samples unless said otherwise):
 *   "following recipient"  thehartford.com simple_10/simple_30, gomaps.com
 *                          simple_24, Netscape netscape_01, fastdnsservers
 *   "following address"    Exim-style kundenserver.de simple_09, xinnetdns
 *                          simple_25, Smail, uci.edu simple_37, mxlogic
 *   "following user"       Microsoft SMTPSVC microsoft_03, MDaemon
 *   "failed recipients"    E500 SMTP Mail Service bounce_02, Exim's
 *                          X-Failed-Recipients (sisimai corpus)
 *   "not delivered to the following"  phquery at yale_01, simple_37
 *   "could not be delivered to"  ademe.fr simple_13, socgen.com simple_20
 *   "intended recipient:"  usa.net simple_02, Sendmail-style gateways
 *   "undeliverable address:"  hotpop.com hotpop_01, Novell GroupWise
 *   "unable to deliver your message to"  earthlink.net simple_14, qmail
 *                          variants ("unable to deliver your message to
 *                          the following addresses")
 *   "addressed to"         demon.net bounce_03, dadoservice.it simple_23,
 *                          "delivery failure notification" simple_44
 *   "your message to"      songbird.com simple_21, ieo.it simple_26,
 *                          Dovecot's rejection (simple_38)
 */
static const char *const list_phrases[] = {
    "following recipient", "following address", "following user", "failed recipients",
    "not delivered to the following", "could not be delivered to", "intended recipient:",
    "undeliverable address:", "unable to deliver your message to", "addressed to",
    "your message to", NULL,
};

/*
 * Sentences that make the report a warning (delivery still being tried,
 * RFC 3464 action "delayed"), not a failure.  Sendmail ("Will keep trying
 * until message is 5 days old"), Exim ("No action is required on your
 * part.  Delivery attempts will continue"), Postfix and Exchange ("This is
 * an advisory-only email", "has been delayed") document them; seen in
 * flufl.bounce's simple_21, simple_22, simple_35.
 */
static const char *const warning_phrases[] = {
    "will continue to", "will keep trying", "will be retried", "has not yet been delivered",
    "this is just a warning", "advisory-only", "no action is required on your part", NULL,
};

/* How many lines after its phrase a list may start, and how long it may be. */
#define LIST_START_LINES 3
#define LIST_MAX_LINES 50
/* How many lines of a text are the bounce's own words at most. */
#define MAX_LINES 400

static bool recipientlist_match(const BOUNCE_MSG *msg)
{
    return contains_any(bmsg_header(msg, "From"), bounce_senders)
        || contains_any(bmsg_header(msg, "Subject"), bounce_subjects)
        || (msg->report_type != NULL && strcmp(msg->report_type, "delivery-status") == 0);
}

/* Where the bounce's own words end: the returned message or its headers. */
static bool line_ends_own_text(const char *line)
{
    static const char *const starts[] = {
        "Received: ", "Return-Path: ", "Message-Id: ", "DKIM-Signature: ",
        "Content-Type: message/rfc822", NULL,
    };

    for (int i = 0; starts[i] != NULL; i++)
        if (after_prefix_nocase(skip_blank(line), starts[i]) != NULL)
            return true;
    return false;
}

/* A separator line ("------", "*****", "=====") or a quoted line. */
static bool line_is_rule(const char *line)
{
    const char *p = skip_blank(line);

    return (p[0] == '-' && p[1] == '-' && p[2] == '-')
        || (p[0] == '*' && p[1] == '*' && p[2] == '*')
        || (p[0] == '=' && p[1] == '=' && p[2] == '=');
}

/* The phrase of list_phrases the line holds: the text after it, or NULL. */
static const char *phrase_in(const char *line)
{
    for (int i = 0; list_phrases[i] != NULL; i++) {
        const char *hit = find_nocase(line, list_phrases[i]);

        if (hit != NULL)
            return hit + strlen(list_phrases[i]);
    }
    return NULL;
}

/*
 * The address a list line starts with, after blanks and the marks lists
 * put before it ("<", quotes, "--", "*", "(") and a short label ending in
 * ':' ("Recipient:", "To:"): where the address's word starts, or NULL.
 */
static const char *list_item(const char *line)
{
    const char *p = skip_blank(line);
    const char *colon;
    size_t word;

    while (*p && strchr("<\"'-*(>: \t", *p) != NULL)
        p++;
    /* "Failed Recipient: a@x": a label of letters and spaces up to ':' */
    colon = strchr(p, ':');
    if (colon != NULL && colon - p <= 24 && memchr(p, '@', (size_t) (colon - p)) == NULL) {
        const char *q;

        for (q = p; q < colon && (isalpha((unsigned char) *q) || *q == ' ' || *q == '-'); q++)
            ;
        if (q == colon)
            p = skip_blank(colon + 1);
        while (*p && strchr("<\"'", *p) != NULL)
            p++;
    }
    word = strcspn(p, " \t<>(),;\"'");
    return memchr(p, '@', word) != NULL ? p : NULL;
}

/* Add address unless the report has it; its diagnostic from the text after
 * it on its line and the indented lines under it.  Returns 1 if added. */
static int add_item(BOUNCE_REPORT *report, size_t first, const char *address,
                    const TEXT_LINES *lines, size_t count, size_t at, const char *rest)
{
    TEXT_BUF buf = { NULL, 0, 0, false };
    BOUNCE_RCPT *rcpt;

    if (report_find(report, first, address) != NULL || (rcpt = report_add(report)) == NULL)
        return 0;
    rcpt_set_address(&rcpt->recipient, address);
    while (*rest && strchr(">\"':; \t", *rest) != NULL)
        rest++;
    buf_join_str(&buf, rest);
    for (size_t i = at + 1; i < count && i <= at + 4; i++) {
        if (!is_indented(lines->line[i]) || list_item(lines->line[i]) != NULL
            || phrase_in(lines->line[i]) != NULL || line_is_rule(lines->line[i]))
            break;
        buf_join_str(&buf, lines->line[i]);
    }
    if (buf.len > 0)
        rcpt_set_response(rcpt, buf_str(&buf));
    buf_free(&buf);
    return 1;
}

/* The end of the address word at item (for the text after it). */
static const char *item_end(const char *item)
{
    return item + strcspn(item, " \t<>(),;\"'");
}

/*
 * The list after the phrase at lines[at] (`after` the phrase's end on that
 * line): the address right after the phrase, else the address lines that
 * start within LIST_START_LINES lines and follow each other.  Returns the
 * number of recipients added.
 */
static int read_list(const BOUNCE_MSG *msg, const TEXT_LINES *lines, size_t count, size_t at,
                     const char *after, BOUNCE_REPORT *report, size_t first)
{
    char address[ADDR_MAX + 1];
    const char *item;
    int added = 0;
    size_t i;

    /* "Intended recipient: a@x", "... recipient: <a@x>", "addressed to 'a@x'" */
    while (*after && strchr(" \t:'\"<", *after) != NULL)
        after++;
    if (*after && strcspn(after, " \t<>(),;\"'") > 0 && memchr(after, '@', strcspn(after, " \t<>(),;\"'")) != NULL
        && line_foreign_address(msg, after, address, sizeof(address)))
        return add_item(report, first, address, lines, count, at, item_end(after));
    for (i = at + 1; i < count && i <= at + LIST_START_LINES; i++) {
        if (line_ends_own_text(lines->line[i]))
            return 0;
        if (list_item(lines->line[i]) != NULL)
            break;
    }
    for (; i < count && i <= at + LIST_MAX_LINES; i++) {
        const char *line = lines->line[i];

        if (is_blank(line) || line_ends_own_text(line))
            break;
        if ((item = list_item(line)) == NULL) {
            if (is_indented(line) || line_is_rule(line))
                continue;       /* a diagnostic under the address, a box */
            break;
        }
        if (line_foreign_address(msg, item, address, sizeof(address)))
            added += add_item(report, first, address, lines, count, i, item_end(item));
    }
    return added;
}

static int recipientlist_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    bool warning = false;
    TEXT_LINES lines;
    size_t count;
    int added = 0;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    count = lines.count < MAX_LINES ? lines.count : MAX_LINES;
    for (size_t i = 0; i < count; i++) {
        const char *after;

        if (line_ends_own_text(lines.line[i]))
            break;
        if (contains_any(lines.line[i], warning_phrases))
            warning = true;
        if ((after = phrase_in(lines.line[i])) != NULL)
            added += read_list(msg, &lines, count, i, after, report, first);
    }
    lines_free(&lines);
    if (added == 0)
        return 0;
    report_default_action(report, first, warning ? "delayed" : "failed");
    return report_finish(report, first);
}

const DETECTOR detector_recipientlist = {
    "recipientlist",
    recipientlist_match,
    recipientlist_parse,
};
