/*
 * barracuda.c: detector for the Barracuda Spam Firewall, Subject
 * "**Message you sent blocked by our bulk email filter**": a multipart
 * report whose DSN names the recipient and the filter's reply
 * ("550 5.7.1 Message content rejected, UBE, id=...").  The subject is
 * the appliance's own statement that its spam filter blocked the mail.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b_util.h"
#include "detector.h"

static bool barracuda_match(const BOUNCE_MSG *msg)
{
    return b_header_has(msg, "Subject", "blocked by our bulk email filter");
}

static int barracuda_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;

    for (size_t g = 0; g < msg->dsn_rcpt_count; g++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            break;
        b_dsn_apply(rcpt, &msg->dsn_rcpts[g], &msg->dsn_message);
        if (rcpt->recipient == NULL) {
            b_report_drop(report, report->count - 1);
            continue;
        }
        if (rcpt->action == NULL)
            rcpt_set(&rcpt->action, "failed");
        rcpt->reason = "spamdetected";
    }
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_barracuda = { "barracuda", barracuda_match, barracuda_parse };
