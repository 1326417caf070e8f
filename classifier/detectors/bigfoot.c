/*
 * bigfoot.c: detector for Bigfoot's forwarding service (LiteMail, From
 * ...@bigfoot.com): a Sendmail-like report whose DSN gives the recipient
 * and whose transcript ("<<< 553 Invalid recipient ...") the full reply.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool bigfoot_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "From", "@bigfoot.com>")
           || header_contains(msg, "Received", ".bigfoot.com ");
}

/* The last "<<< reply" of the transcript, joined, and the command of the
 * ">>>" line before it. */
static char *last_reply(const char *text, const char **command)
{
    TEXT_LINES lines;
    char *reply = NULL;
    const char *sent = NULL;

    *command = NULL;
    if (lines_split(text, &lines) < 0)
        return NULL;
    for (size_t i = 0; i < lines.count; i++) {
        size_t used;
        char *joined;

        if (after_prefix(lines.line[i], ">>> ") != NULL)
            sent = smtp_command_in(lines.line[i]);
        if (!after_prefix(lines.line[i], "<<< ")
            || (joined = reply_join_lines(lines.line, lines.count, i, "<<< ", &used)) == NULL)
            continue;
        free(reply);
        reply = joined;
        *command = sent;
        i += used - 1;
    }
    lines_free(&lines);
    return reply;
}

static int bigfoot_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    const char *command;
    char *reply = last_reply(msg->text, &command);

    rcpts_from_dsn_part(msg, report);
    report_default_action(report, first, "failed");
    for (size_t i = first; i < report->count; i++) {
        BOUNCE_RCPT *rcpt = &report->rcpts[i];

        if (reply != NULL && (rcpt->diagnostic == NULL || strlen(reply) > strlen(rcpt->diagnostic)))
            rcpt_set_response(rcpt, reply);
        if (rcpt->command == NULL && command != NULL)
            rcpt_set(&rcpt->command, command);
    }
    free(reply);
    return report_finish(report, first);
}

const DETECTOR detector_bigfoot = { "bigfoot", bigfoot_match, bigfoot_parse };
