/*
 * surfcontrol.c: detector for the SurfControl E-mail Filter (X-SEF-Processed,
 * X-Mailer: SurfControl E-mail Filter):
 *
 *   Your message could not be sent.
 *   A transcript of the attempts to send the message follows.
 *   The number of attempts made: 1
 *   Addressed To: kijitora@example.com
 *
 *   Thu 29 Apr 2010 23:34:45 +0900
 *   Failed to send to identified host,
 *   kijitora@example.com: [192.0.2.5], 550 kijitora@example.com... No such user
 *   --- Message non-deliverable.
 *
 * The reply after "[ip]," is the diagnostic and the ip the remote MTA.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool surfcontrol_match(const BOUNCE_MSG *msg)
{
    return bmsg_header(msg, "X-SEF-Processed") != NULL
           && header_is(msg, "X-Mailer", "SurfControl E-mail Filter");
}

/* "addr: [ip], reply": the ip and the reply. */
static bool attempt_line(const char *line, const char **ip, size_t *ip_len, const char **reply)
{
    const char *p = strstr(line, ": [");
    const char *close;

    if (p == NULL || memchr(line, '@', (size_t) (p - line)) == NULL
        || (close = strstr(p, "],")) == NULL)
        return false;
    *ip = p + 3;
    *ip_len = (size_t) (close - p - 3);
    *reply = skip_blank(close + 2);
    return true;
}

/* The notice's details begin after the line that starts so. */
static const char opening[] = "Your message could not be sent.";

static int surfcontrol_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = lines_after(&lines, 0, opening); i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *ip;
        size_t ip_len;
        const char *reply;

        if (after_prefix(line, "Addressed To:") && is_address_line(line + 13)) {
            if ((rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, line + 13);
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (rcpt != NULL && attempt_line(line, &ip, &ip_len, &reply)) {
            rcpt_setn(&rcpt->remote_mta, ip, ip_len);
            rcpt_set(&rcpt->diagnostic, reply);
        }
    }
    for (size_t g = 0; g < msg->dsn_rcpt_count; g++) {
        const BOUNCE_FIELDS *group = &msg->dsn_rcpts[g];
        BOUNCE_RCPT *found = report_find(report, first,
                                           dsn_value(fields_get(group, "Final-Recipient")));

        if (found != NULL && found->status == NULL)
            rcpt_set(&found->status, dsn_value(fields_get(group, "Status")));
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_surfcontrol = { "surfcontrol", surfcontrol_match, surfcontrol_parse };
