/*
 * x3.c: detector for an unnamed MTA Sisimai calls X3: From "Mail Delivery
 * System", Subject "Delivery status notification", a framed notice with the
 * recipients and the technical details:
 *
 *   Delivery to the following recipients failed permanently:
 *
 *      * kijitora@example.com
 *
 *                                Technical details:
 *
 *   SMTP:RCPT host 192.0.2.8: 553 5.3.0 <kijitora@example.com>... No such user here
 *
 * Newer versions put the details in a message/delivery-status part.  The
 * i-th detail belongs to the i-th recipient; a lone detail to all.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b_util.h"
#include "detector.h"

static bool x3_match(const BOUNCE_MSG *msg)
{
    const char *from = bmsg_header(msg, "From");
    const char *subject = bmsg_header(msg, "Subject");

    /* Case matters: Gmail's "Delivery Status Notification" is not this. */
    return from != NULL && subject != NULL
           && b_prefix(b_skip_blank(from), "Mail Delivery System")
           && b_prefix(b_skip_blank(subject), "Delivery status notification");
}

/* "SMTP:RCPT host 192.0.2.8: 553 ...": the reply, and the host. */
static const char *smtp_detail(char *line, const char **host)
{
    char *p = line + strcspn(line, " \t");     /* after "SMTP:RCPT" */
    char *colon;

    *host = NULL;
    while (*p == ' ' || *p == '\t')
        p++;
    if (b_prefix(p, "host ") && (colon = strstr(p, ": ")) != NULL) {
        *colon = '\0';
        *host = b_skip_blank(p + 5);
        return b_skip_blank(colon + 2);
    }
    return p;
}

static int x3_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    B_LINES lines;
    size_t first = report->count;
    size_t details = 0;
    bool started = false;

    if (b_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.n; i++) {
        char *line = lines.v[i];
        const char *p = b_skip_blank(line);
        const char *text = NULL;
        const char *host = NULL;

        if (!started) {
            started = b_prefix(p, "This is an automatically generated "
                                  "Delivery Status Notification");
            continue;
        }
        if (p != line && p[0] == '*' && (p[1] == ' ' || p[1] == '\t')
            && b_is_address_line(p + 2)) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, p + 2);
                rcpt_set(&rcpt->action, "failed");
            }
            continue;
        }
        if (b_prefix(line, "SMTP:"))
            text = smtp_detail(line, &host);
        else if (b_prefix(line, "Routing: "))
            text = line + 9;
        else if (b_prefix_ci(line, "Diagnostic-Code:"))
            text = b_dsn_value(line + 16);
        if (text == NULL || report->count == first)
            continue;
        /* The i-th detail is about the i-th recipient; the last one about
         * every recipient still without one. */
        for (size_t r = first + details; r < report->count; r++) {
            rcpt_set(&report->rcpts[r].diagnostic, text);
            rcpt_set(&report->rcpts[r].remote_mta, host);
        }
        if (first + details < report->count)
            details++;
    }
    /* The delivery-status part, when there is one, has the details. */
    for (size_t g = 0; g < msg->dsn_rcpt_count; g++) {
        const char *addr = fields_get(&msg->dsn_rcpts[g], "Final-Recipient");
        BOUNCE_RCPT *rcpt = b_report_find(report, first, b_dsn_value(addr));

        if (rcpt != NULL && rcpt->diagnostic == NULL)
            b_dsn_apply(rcpt, &msg->dsn_rcpts[g], &msg->dsn_message);
    }
    for (size_t r = first; r < report->count; r++)
        b_fill_codes(&report->rcpts[r]);
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_x3 = { "x3", x3_match, x3_parse };
