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
#include "a_util.h"

static bool dragonfly_match(const BOUNCE_MSG *msg)
{
    return a_header_contains(msg, "Received", "(DragonFly Mail Agent");
}

static bool is_closing_line(const char *line)
{
    return strcmp(line, "Message headers follow.") == 0
        || strcmp(line, "Original message follows.") == 0;
}

/* "host [ip] did not like our RCPT TO:" -> host, and the command. */
static bool refusal_line(const char *line, char **host, const char **command)
{
    const char *p = strstr(line, " did not like our ");

    if (p == NULL)
        return false;
    *host = strndup(line, strcspn(line, " ["));
    *command = p + strlen(" did not like our ");
    return true;
}

static void rcpt_set_reason(BOUNCE_RCPT *rcpt, const char *command)
{
    if (command != NULL) {
        if (a_after_prefix(command, "EHLO") != NULL || a_after_prefix(command, "HELO") != NULL) {
            rcpt->reason = "blocked";
            return;
        }
        if (a_after_prefix(command, "MAIL FROM") != NULL) {
            a_reason_for_sender_refusal(rcpt);
            return;
        }
        /* "did not like our final DATA" */
        if (strstr(command, "DATA") != NULL) {
            a_reason_after_data(rcpt);
            if (rcpt->reason != NULL)
                return;
        }
    }
    /* dma.c gives up after its queue lifetime. */
    if (rcpt->diagnostic != NULL && a_after_prefix(rcpt->diagnostic, "Could not deliver for the last ") != NULL
        && strstr(rcpt->diagnostic, "Giving up") != NULL)
        rcpt->reason = "expired";
}

static int dragonfly_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    A_LINES lines;
    A_BUF diag = { NULL, 0, 0, false };
    char *address = NULL;
    char *host = NULL;
    char *command = NULL;
    char *reporting = NULL;
    BOUNCE_RCPT *rcpt;

    if (a_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *rest;
        const char *cmd;

        if (address == NULL) {
            /* "This is the DragonFly Mail Agent v0.13 at host." */
            if (reporting == NULL && a_after_prefix(line, "This is the DragonFly Mail Agent") != NULL)
                reporting = a_host_after(line, " at ");
            if ((rest = a_after_prefix(line, "There was an error delivering your mail to ")) != NULL)
                address = strdup(rest);   /* "<user@example.org>." */
            continue;
        }
        if (is_closing_line(line))
            break;
        if (host == NULL && diag.len == 0 && refusal_line(line, &host, &cmd)) {
            command = strndup(cmd, strcspn(cmd, ":"));
            continue;
        }
        a_buf_join_str(&diag, line);
    }
    a_lines_free(&lines);
    if (address == NULL || (rcpt = report_add(report)) == NULL) {
        free(address);
        free(host);
        free(command);
        free(reporting);
        a_buf_free(&diag);
        return 0;
    }
    if (reporting != NULL)
        rcpt_set(&rcpt->reporting_mta, reporting);
    rcpt_set_address(&rcpt->recipient, address);
    rcpt_set(&rcpt->action, "failed");
    if (host != NULL && host[0] != '\0')
        rcpt_set(&rcpt->remote_mta, host);
    a_rcpt_set_diagnostic(rcpt, a_buf_str(&diag));
    a_rcpt_codes_from_diagnostic(rcpt);
    rcpt_set_reason(rcpt, command);
    free(address);
    free(host);
    free(command);
    free(reporting);
    a_buf_free(&diag);
    report->kind = REPORT_BOUNCE;
    return 1;
}

const DETECTOR detector_dragonfly = { "dragonfly", dragonfly_match, dragonfly_parse };
