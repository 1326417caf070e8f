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
 * (c_rcpts_from_dsn() turns that into failed/expired).  The text line
 * gives the remote host.
 */
#include "config.h"

#include <string.h>

#include "bounce.h"
#include "c_util.h"
#include "detector.h"

static bool sendgrid_match(const BOUNCE_MSG *msg)
{
    return c_header_has(msg, "Return-Path", "sendgrid.net")
        || c_header_has(msg, "Received", "sendgrid.net")
        || c_header_has(msg, "X-Mailer", "MIME-tools");
}

static bool is_sendgrid(const BOUNCE_MSG *msg)
{
    return strstr(msg->text, "automatically generated message from SendGrid") != NULL
        || fields_get(&msg->dsn_message, "X-SendGrid-QueueID") != NULL;
}

/* "local:id:<addr> : client-ip : host:[ip] : response" -> remote host. */
static void remote_from_text(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *cursor = msg->text;
    const char *line;
    size_t len;

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        char addr[320];
        const char *fields[4];
        size_t n = 0;
        BOUNCE_RCPT *rcpt;

        if (!c_line_contains(line, len, ":<") || !c_find_address(line, len, addr, sizeof(addr))
            || (rcpt = c_report_find(report, addr)) == NULL || rcpt->remote_mta != NULL)
            continue;
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
}

static int sendgrid_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    int added;

    if (!is_sendgrid(msg) || (added = c_rcpts_from_dsn(msg, report)) == 0)
        return 0;
    remote_from_text(msg, report);
    report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_sendgrid = {
    "sendgrid", sendgrid_match, sendgrid_parse,
};
