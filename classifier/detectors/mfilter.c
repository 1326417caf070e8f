/*
 * mfilter.c: detector for DigitalArts m-FILTER (X-Mailer: m-FILTER,
 * Subject "failure notice"): a Japanese notice, the failed addresses one a
 * line, then marked sections:
 *
 *   kijitora@example.jp
 *
 *   -------server message
 *   550 5.1.1 unknown user <kijitora@example.jp>
 *
 *   -------SMTP command
 *   DATA
 *
 *   -------original message
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool mfilter_match(const BOUNCE_MSG *msg)
{
    return header_is(msg, "X-Mailer", "m-FILTER")
           && header_is(msg, "Subject", "failure notice");
}

static int mfilter_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    TEXT_BUF reply = { NULL, 0, 0, false };
    enum { ADDRESSES, SERVER, OTHER } section = ADDRESSES;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];

        if (after_prefix(line, "-------original message")
            || after_prefix(line, "-------original mail info"))
            break;
        if (after_prefix(line, "-------server message")) {
            section = SERVER;
        } else if (after_prefix(line, "-------")) {
            section = OTHER;
        } else if (section == ADDRESSES && is_address_line(line)) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, skip_blank(line));
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (section == SERVER) {
            buf_join_str(&reply, line);
        }
    }
    for (size_t r = first; r < report->count; r++) {
        rcpt_set(&report->rcpts[r].diagnostic, reply.data);
        rcpt_complete_codes(&report->rcpts[r]);
    }
    buf_free(&reply);
    lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_mfilter = { "mfilter", mfilter_match, mfilter_parse };
