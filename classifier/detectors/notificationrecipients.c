/*
 * notificationrecipients.c: detector for a mail filter appliance's
 * notices To "NotificationRecipients" (Trend Micro style), Sisimai's X5
 * (Lhost::X5): the bounce of the next MTA, a Sendmail DSN, arrives
 * wrapped as an attached message under a notice of its own whose From is
 * the RFC 2047 encoded "Mail Delivery Subsystem".  The recipients are
 * those of the wrapped DSN.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool notificationrecipients_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "To", "NotificationRecipients")
           && header_contains(msg, "From", "Mail Delivery Subsystem");
}

static int notificationrecipients_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    DSN_GROUPS dsn = { NULL, NULL, 0, { NULL, 0 }, NULL, false };
    TEXT_LINES lines = { NULL, 0, NULL };

    if (msg->dsn_rcpt_count > 0) {
        dsn_groups_of(msg, NULL, &dsn);
    } else if (lines_split(msg->flat, &lines) == 0) {
        /* The wrapped DSN, when the parser only flattened it. */
        for (size_t i = 0; i < lines.count; i++)
            if (after_prefix_nocase(lines.line[i], "Content-Type: message/delivery-status")) {
                dsn_groups_in_lines(&lines, i + 1, &dsn);
                break;
            }
    }
    rcpts_from_dsn(&dsn, report);
    report_default_action(report, first, "failed");
    dsn_groups_free(&dsn);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_notificationrecipients = {
    "notificationrecipients", notificationrecipients_match, notificationrecipients_parse
};
