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

#include "toolkit.h"
#include "detector.h"

static bool barracuda_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "Subject", "blocked by our bulk email filter");
}

static int barracuda_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;

    rcpts_from_dsn_part(msg, report);
    report_default_action(report, first, "failed");
    for (size_t i = first; i < report->count; i++)
        report->rcpts[i].reason = "spamdetected";
    return report_finish(report, first);
}

const DETECTOR detector_barracuda = { "barracuda", barracuda_match, barracuda_parse };
