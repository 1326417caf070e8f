/*
 * x2.c: detector for an unnamed MTA Sisimai calls X2 (a qmail relative
 * used by large webmail providers): From MAILER-DAEMON@, Subject
 * "Delivery failure" or "failure delivery", and per recipient:
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

#include "b_util.h"
#include "detector.h"

static bool x2_match(const BOUNCE_MSG *msg)
{
    return b_header_has(msg, "From", "MAILER-DAEMON@")
           && (b_header_prefix(msg, "Subject", "Delivery failure")
               || b_header_prefix(msg, "Subject", "failure delivery")
               || b_header_prefix(msg, "Subject", "failed delivery"));
}

/* "<user@example.org>:" alone on a line. */
static bool address_line(const char *line, const char **start, size_t *len)
{
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    return line[0] == '<' && n > 3 && line[n - 1] == ':' && line[n - 2] == '>'
           && b_angle_address(line, start, len) && *start == line + 1 && *len == n - 3;
}

static void finish(BOUNCE_RCPT *rcpt, B_TEXT *error)
{
    if (rcpt == NULL)
        return;
    rcpt_set(&rcpt->diagnostic, error->s);
    /* qmail's own words for a message it gave up on after its queue
     * lifetime ("I'm not going to try again; this message has been in the
     * queue too long."). */
    if (rcpt->diagnostic != NULL
        && b_strcasestr(rcpt->diagnostic, "this message has been in the queue too long"))
        rcpt->reason = "expired";
    b_fill_codes(rcpt);
    b_text_free(error);
}

static int x2_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    B_LINES lines;
    size_t first = report->count;
    bool started = false;
    BOUNCE_RCPT *rcpt = NULL;
    B_TEXT error = { NULL, 0, 0 };

    if (b_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.n; i++) {
        const char *line = lines.v[i];
        const char *start;
        size_t len;

        if (!started) {
            started = b_prefix(line, "Unable to deliver message to the following address");
            continue;
        }
        if (b_prefix(line, "--- Original message follows"))
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
            b_text_add(&error, line[0] == '/' ? line + 1 : line);
        }
    }
    finish(rcpt, &error);
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_x2 = { "x2", x2_match, x2_parse };
