/*
 * deliveryfailure.c: detector for the "Delivery failure" notices of an
 * unnamed MTA, Sisimai's X2 (Lhost::X2; a qmail relative used by large
 * webmail providers): From MAILER-DAEMON@, Subject "Delivery failure" or
 * "failure delivery", and per recipient:
 *
 *   Unable to deliver message to the following address(es).
 *
 *   <kijitora@example.com>:
 *   This user doesn't have a example.com account (kijitora@example.com) [0]
 *
 * The lines after "<address>:" up to the next address are its error.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool deliveryfailure_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "From", "MAILER-DAEMON@")
           && (header_starts(msg, "Subject", "Delivery failure")
               || header_starts(msg, "Subject", "failure delivery")
               || header_starts(msg, "Subject", "failed delivery"));
}

/* "<user@example.org>:" alone on a line. */
static bool address_line(const char *line, const char **start, size_t *len)
{
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    return line[0] == '<' && n > 3 && line[n - 1] == ':' && line[n - 2] == '>'
           && find_angle_address(line, start, len) && *start == line + 1 && *len == n - 3;
}

static void finish(BOUNCE_RCPT *rcpt, TEXT_BUF *error)
{
    if (rcpt == NULL)
        return;
    rcpt_set(&rcpt->diagnostic, error->data);
    /* qmail's own words for a message it gave up on after its queue
     * lifetime ("I'm not going to try again; this message has been in the
     * queue too long."). */
    if (rcpt->diagnostic != NULL
        && find_nocase(rcpt->diagnostic, "this message has been in the queue too long"))
        rcpt->reason = "expired";
    buf_free(error);
}

/* The notice's details begin after the line that starts so. */
static const char opening[] = "Unable to deliver message to the following address";

static int deliveryfailure_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;
    TEXT_BUF error = { NULL, 0, 0, false };

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = lines_after(&lines, 0, opening); i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *start;
        size_t len;

        if (after_prefix(line, "--- Original message follows"))
            break;
        if (address_line(line, &start, &len)) {
            char *addr = strndup(start, len);

            finish(rcpt, &error);
            rcpt = addr ? report_add(report) : NULL;
            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
            }
            free(addr);
        } else if (rcpt != NULL) {
            /* "/I'm not going to try again; ...": qmail marks its own note. */
            buf_join_str(&error, line[0] == '/' ? line + 1 : line);
        }
    }
    finish(rcpt, &error);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_deliveryfailure = { "deliveryfailure", deliveryfailure_match, deliveryfailure_parse };
