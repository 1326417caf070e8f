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
 *
 * The command section names the command the server's reply answered.
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
    const char *command = NULL;
    enum { ADDRESSES, SERVER, COMMAND, OTHER } section = ADDRESSES;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];

        if (after_prefix(line, "-------original message")
            || after_prefix(line, "-------original mail info"))
            break;
        if (after_prefix(line, "-------server message")) {
            section = SERVER;
        } else if (after_prefix(line, "-------SMTP command")) {
            section = COMMAND;
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
        } else if (section == COMMAND && command == NULL && !is_blank(line)) {
            command = smtp_command_named(line);
        }
    }
    for (size_t r = first; r < report->count; r++) {
        rcpt_set(&report->rcpts[r].diagnostic, reply.data);
        rcpt_set(&report->rcpts[r].command, command);
    }
    buf_free(&reply);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_mfilter = { "mfilter", mfilter_match, mfilter_parse };
