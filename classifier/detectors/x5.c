/*
 * x5.c: detector for a mail filter appliance Sisimai calls X5 (Trend Micro
 * style notifications to "NotificationRecipients"): the bounce of the next
 * MTA, a Sendmail DSN, arrives wrapped as an attached message under a
 * notice of its own whose From is the RFC 2047 encoded "Mail Delivery
 * Subsystem".  The recipients are those of the wrapped DSN.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b_util.h"
#include "detector.h"

static bool x5_match(const BOUNCE_MSG *msg)
{
    return b_header_has(msg, "To", "NotificationRecipients")
           && b_header_has(msg, "From", "Mail Delivery Subsystem");
}

static void add_groups(const BOUNCE_FIELDS *groups, size_t count,
                       const BOUNCE_FIELDS *per_message, BOUNCE_REPORT *report)
{
    for (size_t g = 0; g < count; g++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            return;
        b_dsn_apply(rcpt, &groups[g], per_message);
        if (rcpt->recipient == NULL)
            b_report_drop(report, report->count - 1);
        else if (rcpt->action == NULL)
            rcpt_set(&rcpt->action, "failed");
    }
}

static int x5_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;

    if (msg->dsn_rcpt_count > 0) {
        add_groups(msg->dsn_rcpts, msg->dsn_rcpt_count, &msg->dsn_message, report);
    } else {
        /* The wrapped DSN, when the parser only flattened it. */
        B_LINES lines;
        BOUNCE_FIELDS per_message = { NULL, 0 };
        BOUNCE_FIELDS *groups;
        size_t count = 0;

        if (b_lines_split(msg->flat, &lines) < 0)
            return 0;
        for (size_t i = 0; i < lines.n && count == 0; i++)
            if (b_prefix_ci(lines.v[i], "Content-Type: message/delivery-status")) {
                count = b_dsn_from_lines(&lines, i + 1, &per_message, &groups);
                add_groups(groups, count, &per_message, report);
                b_dsn_groups_free(groups, count);
            }
        fields_free(&per_message);
        b_lines_free(&lines);
    }
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_x5 = { "x5", x5_match, x5_parse };
