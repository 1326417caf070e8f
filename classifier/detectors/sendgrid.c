/*
 * sendgrid.c: SendGrid bounces (the DSN SendGrid mailed back, 2012-2013).
 *
 * Offers detector_sendgrid.  Return-Path apps@sendgrid.net, "This is an
 * automatically generated message from SendGrid.", one text line per
 * recipient
 *
 *   local:000000:<user@example.jp> : 192.0.2.250 : mx.example.jp:[192.0.2.153] : 550 5.1.1 <user@example.jp>... User Unknown  in RCPT TO
 *
 * and an RFC 3464 part with X-SendGrid-* fields, a Diagnostic-Code
 * without a type, and "Action: expired" for a message SendGrid gave up on
 * (rcpts_from_dsn_part() turns that into failed/expired).  The text line
 * gives the remote host and the command ("in RCPT TO").
 */
#include "config.h"

#include <string.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

static bool sendgrid_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "Return-Path", "sendgrid.net")
        || header_contains(msg, "Received", "sendgrid.net")
        || header_contains(msg, "X-Mailer", "MIME-tools");
}

static bool is_sendgrid(const BOUNCE_MSG *msg)
{
    return strstr(msg->text, "automatically generated message from SendGrid") != NULL
        || fields_get(&msg->dsn_message, "X-SendGrid-QueueID") != NULL;
}

/* "local:id:<addr> : client-ip : host:[ip] : response ... in RCPT TO":
 * the remote host and the command the response answered. */
static void details_from_text(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;

    if (lines_split(msg->text, &lines) < 0)
        return;
    for (size_t l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);
        char addr[320];
        const char *fields[4];
        size_t n = 0;
        BOUNCE_RCPT *rcpt;

        if (find_nocase(line, ":<") == NULL || !find_address(line, len, addr, sizeof(addr))
            || (rcpt = report_find(report, 0, addr)) == NULL || rcpt->remote_mta != NULL)
            continue;
        rcpt_set_command(rcpt, line);
        for (size_t i = 0; i + 3 <= len && n < 4; i++)
            if (strncmp(line + i, " : ", 3) == 0)
                fields[n++] = line + i + 3;
        if (n >= 3) {
            const char *host = fields[1];
            const char *end = host;

            while (end < line + len && *end != ':' && *end != ' ')
                end++;
            if (end > host)
                rcpt_setn(&rcpt->remote_mta, host, (size_t) (end - host));
        }
    }
    lines_free(&lines);
}

static int sendgrid_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    int added;

    if (!is_sendgrid(msg) || (added = rcpts_from_dsn_part(msg, report)) == 0)
        return 0;
    details_from_text(msg, report);
    report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_sendgrid = {
    "sendgrid", sendgrid_match, sendgrid_parse,
};
