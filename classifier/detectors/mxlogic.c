/*
 * mxlogic.c: detector for MX Logic (McAfee SaaS) relays, an Exim
 * derivative: X-MX-Bounce / X-MXL-* headers or a Message-ID <mxl~...>,
 * and Exim's text:
 *
 *   This message was created automatically by mail delivery software.
 *   ...
 *     <kijitora@example.co.jp>: 550 5.1.1 <kijitora@example.co.jp>: Recipient
 *     address rejected: User unknown in local recipient table
 *
 * or Exim's two-line form ("  addr" then "    SMTP error from remote mail
 * server after RCPT TO:<addr>: host mx.example.jp [192.0.2.1]: 550 ...").
 * The diagnostic is the remote reply; "retry timeout exceeded" is Exim's
 * own verdict on a message that expired.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool mxlogic_match(const BOUNCE_MSG *msg)
{
    return bmsg_header(msg, "X-MX-Bounce") != NULL
           || bmsg_header(msg, "X-MXL-Hash") != NULL
           || bmsg_header(msg, "X-MXL-NoteHash") != NULL
           || header_starts(msg, "Message-ID", "<mxl~")
           || header_contains(msg, "From", ".mxlogic.net>");
}

/* "  <addr>: text" or "  addr": the address, and the text if any. */
static char *recipient_of(const char *line, const char **rest)
{
    const char *p = skip_blank(line);
    const char *start;
    size_t len;

    *rest = NULL;
    if (p == line)
        return NULL;
    if (*p == '<' && find_angle_address(p, &start, &len) && start == p + 1
        && start[len] == '>' && start[len + 1] == ':') {
        *rest = skip_blank(start + len + 2);
        return strndup(start, len);
    }
    if (is_address_line(p) && find_bare_address(p, &start, &len))
        return strndup(start, len);
    return NULL;
}

/* Exim's "SMTP error from remote mail server after ...: host H [ip]: reply". */
static void set_diagnostic(BOUNCE_RCPT *rcpt, TEXT_BUF *text)
{
    const char *p;

    if (rcpt == NULL || text->data == NULL) {
        buf_free(text);
        return;
    }
    squeeze_space(text->data);
    p = text->data;
    if (after_prefix(p, "SMTP error from remote ") && (p = strstr(p, " host ")) != NULL) {
        const char *end = p + 6;
        const char *reply;

        while (*end != '\0' && *end != ' ')
            end++;
        rcpt_setn(&rcpt->remote_mta, p + 6, (size_t) (end - p - 6));
        reply = strstr(end, ": ");
        p = reply ? reply + 2 : text->data;
    } else {
        p = text->data;
    }
    rcpt_set(&rcpt->diagnostic, p);
    if (find_nocase(text->data, "retry timeout exceeded") != NULL)
        rcpt->reason = "expired";
    buf_free(text);
}

/* The notice's details begin after the line that starts so. */
static const char opening[] = "This message was created automatically by mail delivery software.";

static int mxlogic_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;
    TEXT_BUF text = { NULL, 0, 0, false };

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = lines_after(&lines, 0, opening); i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *rest;
        char *addr;

        if (after_prefix(line, "Included is a copy of the message header:")
            || after_prefix(line, "------ This is a copy of the message"))
            break;
        if ((addr = recipient_of(line, &rest)) != NULL) {
            set_diagnostic(rcpt, &text);
            if ((rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
                buf_join_str(&text, rest);
            }
            free(addr);
        } else if (rcpt != NULL && !is_blank(line)) {
            buf_join_str(&text, line);
        } else if (is_blank(line)) {
            set_diagnostic(rcpt, &text);
        }
    }
    set_diagnostic(rcpt, &text);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_mxlogic = { "mxlogic", mxlogic_match, mxlogic_parse };
