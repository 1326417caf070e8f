/*
 * qmailclone.c: detector for qmail clones, Sisimai's X4 (Lhost::X4):
 * Subject "failure notice" (or "Permanent Delivery Failure"), a notice in
 * their own words instead of qmail-send's "Hi. This is the qmail-send
 * program", then qmail's layout:
 *
 *   <kijitora@example.com>:
 *   child status 100...The e-mail message could not be delivered because ...
 *
 *   --- Below this line is a copy of the message.
 *
 * Genuine qmail bounces are left to the qmail detector.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

/* How the clones begin their notice (qmail-send says "Hi. This is ..."). */
static const char *const openings[] = {
    "He/Her is not ",
    "Su mensaje no pudo ser entregado",
    "This is the machine generated message from mail service",
    "This is the mail delivery agent at",
    "Unable to deliver message to the following address",
    "Unfortunately, your mail was not delivered to the following address:",
    "Your mail message to the following address",
    "Your message to the following addresses",
    "We're sorry.",
    NULL
};

static bool qmailclone_match(const BOUNCE_MSG *msg)
{
    return header_starts(msg, "Subject", "failure notice")
           || header_starts(msg, "Subject", "Permanent Delivery Failure")
           || header_contains(msg, "Received", "invoked for bounce)");
}

static bool is_opening(const char *line)
{
    for (size_t i = 0; openings[i] != NULL; i++)
        if (after_prefix(line, openings[i]))
            return true;
    /* "Hi. <name> unable to deliver your message to the following addresses" */
    return after_prefix(line, "Hi. ")
           && strstr(line, " unable to deliver your message to the following addresses") != NULL;
}

/* "<user@example.org>:" or "To: <user@example.org>:" alone on a line. */
static char *address_line(const char *line)
{
    const char *start;
    size_t len;
    size_t n;

    if (after_prefix_nocase(line, "To"))
        line = skip_blank(line + 2);
    if (*line == ':')
        line = skip_blank(line + 1);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (line[0] != '<' || n < 4 || line[n - 1] != ':' || line[n - 2] != '>'
        || !find_angle_address(line, &start, &len) || start != line + 1 || len != n - 3)
        return NULL;
    return strndup(start, len);
}

static int qmailclone_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    bool started = false;
    BOUNCE_RCPT *rcpt = NULL;
    TEXT_BUF error = { NULL, 0, 0, false };

    if (find_nocase(msg->text, "This is the qmail-send program") != NULL
        || lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        char *addr;

        if (!started) {
            started = is_opening(line);
            continue;
        }
        if (after_prefix(line, "--- Below this line is a copy of the message")
            || after_prefix(line, "--- Original message follows"))
            break;
        if ((addr = address_line(line)) != NULL) {
            if (rcpt != NULL)
                rcpt_set(&rcpt->diagnostic, error.data);
            buf_free(&error);
            if ((rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
            }
            free(addr);
        } else if (rcpt != NULL) {
            buf_join_str(&error, line);
        }
    }
    if (rcpt != NULL)
        rcpt_set(&rcpt->diagnostic, error.data);
    buf_free(&error);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_qmailclone = { "qmailclone", qmailclone_match, qmailclone_parse };
