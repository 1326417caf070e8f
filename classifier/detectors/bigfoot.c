/*
 * bigfoot.c: detector for Bigfoot's forwarding service (LiteMail, From
 * ...@bigfoot.com): a Sendmail-like report whose DSN gives the recipient
 * and whose transcript ("<<< 553 Invalid recipient ...") the full reply.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b_util.h"
#include "detector.h"

static bool bigfoot_match(const BOUNCE_MSG *msg)
{
    return b_header_has(msg, "From", "@bigfoot.com>")
           || b_header_has(msg, "Received", ".bigfoot.com ");
}

/* The last "<<< reply" of the transcript, joined. */
static char *last_reply(const char *text)
{
    B_LINES lines;
    char *reply = NULL;

    if (b_lines_split(text, &lines) < 0)
        return NULL;
    for (size_t i = 0; i < lines.n; i++) {
        size_t used;
        char *joined;

        if (!b_prefix(lines.v[i], "<<< ")
            || (joined = b_join_reply(lines.v, lines.n, i, "<<< ", &used)) == NULL)
            continue;
        free(reply);
        reply = joined;
        i += used - 1;
    }
    b_lines_free(&lines);
    return reply;
}

static int bigfoot_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    char *reply = last_reply(msg->text);

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
        if (reply != NULL && (rcpt->diagnostic == NULL || strlen(reply) > strlen(rcpt->diagnostic)))
            rcpt_set(&rcpt->diagnostic, reply);
        b_fill_codes(rcpt);
    }
    free(reply);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_bigfoot = { "bigfoot", bigfoot_match, bigfoot_parse };
