/*
 * technicaldetails.c: detector for the "Technical details:" notices of an
 * unnamed MTA, Sisimai's X3 (Lhost::X3): From "Mail Delivery System",
 * Subject "Delivery status notification" (lowercase "s": not Gmail's), a
 * framed notice with the recipients and the technical details:
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

#include "toolkit.h"
#include "detector.h"

static bool technicaldetails_match(const BOUNCE_MSG *msg)
{
    const char *from = bmsg_header(msg, "From");
    const char *subject = bmsg_header(msg, "Subject");

    /* Case matters: Gmail's "Delivery Status Notification" is not this. */
    return from != NULL && subject != NULL
           && after_prefix(skip_blank(from), "Mail Delivery System")
           && after_prefix(skip_blank(subject), "Delivery status notification");
}

/* "SMTP:RCPT host 192.0.2.8: 553 ...": the reply, and the host. */
static const char *smtp_detail(char *line, const char **host)
{
    char *p = line + strcspn(line, " \t");     /* after "SMTP:RCPT" */
    char *colon;

    *host = NULL;
    while (*p == ' ' || *p == '\t')
        p++;
    if (after_prefix(p, "host ") && (colon = strstr(p, ": ")) != NULL) {
        *colon = '\0';
        *host = skip_blank(p + 5);
        return skip_blank(colon + 2);
    }
    return p;
}

/* The notice's details begin after the line that starts so. */
static const char opening[] = "This is an automatically generated Delivery Status Notification";

static int technicaldetails_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    size_t details = 0;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = lines_after(&lines, 0, opening); i < lines.count; i++) {
        char *line = lines.line[i];
        const char *p = skip_blank(line);
        const char *text = NULL;
        const char *host = NULL;

        if (p != line && p[0] == '*' && (p[1] == ' ' || p[1] == '\t')
            && is_address_line(p + 2)) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, p + 2);
                rcpt_set(&rcpt->action, "failed");
            }
            continue;
        }
        if (after_prefix(line, "SMTP:"))
            text = smtp_detail(line, &host);
        else if (after_prefix(line, "Routing: "))
            text = line + 9;
        else if (after_prefix_nocase(line, "Diagnostic-Code:"))
            text = dsn_value(line + 16);
        if (text == NULL || report->count == first)
            continue;
        /* The i-th detail is about the i-th recipient; the last one about
         * every recipient still without one. */
        for (size_t r = first + details; r < report->count; r++) {
            rcpt_set(&report->rcpts[r].diagnostic, text);
            rcpt_set(&report->rcpts[r].remote_mta, host);
            /* "SMTP:RCPT host ...": the command the reply answered */
            rcpt_set(&report->rcpts[r].command, smtp_command_in(line));
        }
        if (first + details < report->count)
            details++;
    }
    /* The delivery-status part, when there is one, has the details. */
    for (size_t g = 0; g < msg->dsn_rcpt_count; g++) {
        const char *addr = fields_get(&msg->dsn_rcpts[g], "Final-Recipient");
        BOUNCE_RCPT *rcpt = report_find(report, first, dsn_value(addr));

        if (rcpt != NULL && rcpt->diagnostic == NULL)
            rcpt_from_dsn(rcpt, &msg->dsn_rcpts[g], &msg->dsn_message);
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_technicaldetails = { "technicaldetails", technicaldetails_match, technicaldetails_parse };
