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

#include "b_util.h"
#include "detector.h"

static bool biglobe_match(const BOUNCE_MSG *msg)
{
    static const char *const senders[] = {
        "postmaster@biglobe.ne.jp", "postmaster@inacatv.ne.jp",
        "postmaster@tmtv.ne.jp", "postmaster@ttv.ne.jp", NULL
    };

    if (!b_header_prefix(msg, "Subject", "Returned mail:"))
        return false;
    for (size_t i = 0; senders[i] != NULL; i++)
        if (b_header_has(msg, "From", senders[i]))
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
    B_LINES lines;
    size_t first = report->count;
    B_TEXT error = { NULL, 0, 0 };
    enum { BEFORE, ADDRESSES, INFORMATION } state = BEFORE;

    if (b_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.n; i++) {
        const char *line = lines.v[i];

        if (strstr(line, "----- The following addresses had delivery problems -----")) {
            state = ADDRESSES;
        } else if (strstr(line, "----- Non-delivered information -----")) {
            state = INFORMATION;
        } else if (state == ADDRESSES && b_is_address_line(line)) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, line);
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (state == INFORMATION) {
            b_text_add(&error, line);
        }
    }
    for (size_t r = first; r < report->count; r++) {
        rcpt_set(&report->rcpts[r].diagnostic, error.s);
        report->rcpts[r].reason = reason_of(error.s);
        b_fill_codes(&report->rcpts[r]);
    }
    b_text_free(&error);
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_biglobe = { "biglobe", biglobe_match, biglobe_parse };
