/*
 * biglobe.c: detector for BIGLOBE (and the cable ISPs it hosts: inacatv,
 * tmtv, ttv), From postmaster@biglobe.ne.jp, Subject "Returned mail: ...":
 *
 *      ----- The following addresses had delivery problems -----
 *   ********@***.biglobe.ne.jp
 *
 *      ----- Non-delivered information -----
 *   The number of messages in recipient's mailbox exceeded the local limit.
 *
 * BIGLOBE's fixed sentences state the reason.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool biglobe_match(const BOUNCE_MSG *msg)
{
    static const char *const senders[] = {
        "postmaster@biglobe.ne.jp", "postmaster@inacatv.ne.jp",
        "postmaster@tmtv.ne.jp", "postmaster@ttv.ne.jp", NULL
    };

    if (!header_starts(msg, "Subject", "Returned mail:"))
        return false;
    for (size_t i = 0; senders[i] != NULL; i++)
        if (header_contains(msg, "From", senders[i]))
            return true;
    return false;
}

static const char *reason_of(const char *text)
{
    if (text == NULL)
        return NULL;
    if (strstr(text, "The number of messages in recipient's mailbox exceeded the local limit"))
        return "mailboxfull";
    return NULL;
}

static int biglobe_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    TEXT_BUF error = { NULL, 0, 0, false };
    enum { BEFORE, ADDRESSES, INFORMATION } state = BEFORE;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];

        if (strstr(line, "----- The following addresses had delivery problems -----")) {
            state = ADDRESSES;
        } else if (strstr(line, "----- Non-delivered information -----")) {
            state = INFORMATION;
        } else if (state == ADDRESSES && is_address_line(line)) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, line);
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (state == INFORMATION) {
            buf_join_str(&error, line);
        }
    }
    for (size_t r = first; r < report->count; r++) {
        rcpt_set(&report->rcpts[r].diagnostic, error.data);
        report->rcpts[r].reason = reason_of(error.data);
    }
    buf_free(&error);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_biglobe = { "biglobe", biglobe_match, biglobe_parse };
