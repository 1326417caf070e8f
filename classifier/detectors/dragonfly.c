/*
 * dragonfly.c: detector for DragonFly Mail Agent (dma) bounces.
 *
 * Offers detector_dragonfly to detectors.c.  dma bounces one recipient per
 * message (dma.c, net.c):
 *
 *   This is the DragonFly Mail Agent v0.13 at df.example.jp.
 *
 *   There was an error delivering your mail to <user@example.org>.
 *
 *   mx.example.org [192.0.2.25] did not like our RCPT TO:
 *   550 5.1.1 <user@example.org>: Recipient address rejected: User unknown
 *
 *   Message headers follow.
 *
 * or, instead of the server's words, dma's own ("Could not deliver for the
 * last 432000 seconds. Giving up.").
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

static bool dragonfly_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "Received", "(DragonFly Mail Agent");
}

static bool is_closing_line(const char *line)
{
    return strcmp(line, "Message headers follow.") == 0
        || strcmp(line, "Original message follows.") == 0;
}

/* "host [ip] did not like our RCPT TO:": the host, and the command the
 * line names (the refused one). */
static bool refusal_line(const char *line, char **host, const char **command)
{
    if (strstr(line, " did not like our ") == NULL)
        return false;
    *host = strndup(line, strcspn(line, " ["));
    *command = smtp_command_in(line);
    return true;
}

static void rcpt_set_reason(BOUNCE_RCPT *rcpt)
{
    /* dma.c gives up after its queue lifetime. */
    if (after_prefix_nocase(rcpt->diagnostic, "Could not deliver for the last ") != NULL
        && strstr(rcpt->diagnostic, "Giving up") != NULL)
        rcpt->reason = "expired";
}

static int dragonfly_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    TEXT_BUF diag = { NULL, 0, 0, false };
    char *address = NULL;
    char *host = NULL;
    const char *command = NULL;
    char *reporting = NULL;
    BOUNCE_RCPT *rcpt;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *rest;

        if (address == NULL) {
            /* "This is the DragonFly Mail Agent v0.13 at host." */
            if (reporting == NULL && after_prefix_nocase(line, "This is the DragonFly Mail Agent") != NULL)
                reporting = host_after(line, " at ");
            if ((rest = after_prefix_nocase(line, "There was an error delivering your mail to ")) != NULL)
                address = strdup(rest);   /* "<user@example.org>." */
            continue;
        }
        if (is_closing_line(line))
            break;
        if (host == NULL && diag.len == 0 && refusal_line(line, &host, &command))
            continue;
        buf_join_str(&diag, line);
    }
    lines_free(&lines);
    if (address == NULL || (rcpt = report_add(report)) == NULL) {
        free(address);
        free(host);
        free(reporting);
        buf_free(&diag);
        return 0;
    }
    if (reporting != NULL)
        rcpt_set(&rcpt->reporting_mta, reporting);
    rcpt_set_address(&rcpt->recipient, address);
    rcpt_set(&rcpt->action, "failed");
    if (host != NULL && host[0] != '\0')
        rcpt_set(&rcpt->remote_mta, host);
    rcpt_set_response(rcpt, buf_str(&diag));
    rcpt_set(&rcpt->command, command);
    rcpt_set_reason(rcpt);
    free(address);
    free(host);
    free(reporting);
    buf_free(&diag);
    report->kind = REPORT_BOUNCE;
    return 1;
}

const DETECTOR detector_dragonfly = { "dragonfly", dragonfly_match, dragonfly_parse };
