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

#include "b_util.h"
#include "detector.h"

static bool mfilter_match(const BOUNCE_MSG *msg)
{
    return b_header_is(msg, "X-Mailer", "m-FILTER")
           && b_header_is(msg, "Subject", "failure notice");
}

static int mfilter_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    B_LINES lines;
    size_t first = report->count;
    B_TEXT reply = { NULL, 0, 0 };
    enum { ADDRESSES, SERVER, OTHER } section = ADDRESSES;

    if (b_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.n; i++) {
        const char *line = lines.v[i];

        if (b_prefix(line, "-------original message")
            || b_prefix(line, "-------original mail info"))
            break;
        if (b_prefix(line, "-------server message")) {
            section = SERVER;
        } else if (b_prefix(line, "-------")) {
            section = OTHER;
        } else if (section == ADDRESSES && b_is_address_line(line)) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, b_skip_blank(line));
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (section == SERVER) {
            b_text_add(&reply, line);
        }
    }
    for (size_t r = first; r < report->count; r++) {
        rcpt_set(&report->rcpts[r].diagnostic, reply.s);
        b_fill_codes(&report->rcpts[r]);
    }
    b_text_free(&reply);
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_mfilter = { "mfilter", mfilter_match, mfilter_parse };
