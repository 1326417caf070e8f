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

#include "b_util.h"
#include "detector.h"

static bool mxlogic_match(const BOUNCE_MSG *msg)
{
    return bmsg_header(msg, "X-MX-Bounce") != NULL
           || bmsg_header(msg, "X-MXL-Hash") != NULL
           || bmsg_header(msg, "X-MXL-NoteHash") != NULL
           || b_header_prefix(msg, "Message-ID", "<mxl~")
           || b_header_has(msg, "From", ".mxlogic.net>");
}

/* "  <addr>: text" or "  addr": the address, and the text if any. */
static char *recipient_of(const char *line, const char **rest)
{
    const char *p = b_skip_blank(line);
    const char *start;
    size_t len;

    *rest = NULL;
    if (p == line)
        return NULL;
    if (*p == '<' && b_angle_address(p, &start, &len) && start == p + 1
        && start[len] == '>' && start[len + 1] == ':') {
        *rest = b_skip_blank(start + len + 2);
        return strndup(start, len);
    }
    if (b_is_address_line(p) && b_bare_address(p, &start, &len))
        return strndup(start, len);
    return NULL;
}

/* Exim's "SMTP error from remote mail server after ...: host H [ip]: reply". */
static void set_diagnostic(BOUNCE_RCPT *rcpt, B_TEXT *text)
{
    const char *p;

    if (rcpt == NULL || text->s == NULL) {
        b_text_free(text);
        return;
    }
    b_squeeze(text->s);
    p = text->s;
    if (b_prefix(p, "SMTP error from remote ") && (p = strstr(p, " host ")) != NULL) {
        const char *end = p + 6;
        const char *reply;

        while (*end != '\0' && *end != ' ')
            end++;
        rcpt_setn(&rcpt->remote_mta, p + 6, (size_t) (end - p - 6));
        reply = strstr(end, ": ");
        p = reply ? reply + 2 : text->s;
    } else {
        p = text->s;
    }
    rcpt_set(&rcpt->diagnostic, p);
    if (b_strcasestr(text->s, "retry timeout exceeded") != NULL)
        rcpt->reason = "expired";
    b_fill_codes(rcpt);
    b_text_free(text);
}

static int mxlogic_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    B_LINES lines;
    size_t first = report->count;
    bool started = false;
    BOUNCE_RCPT *rcpt = NULL;
    B_TEXT text = { NULL, 0, 0 };

    if (b_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.n; i++) {
        const char *line = lines.v[i];
        const char *rest;
        char *addr;

        if (!started) {
            started = b_prefix(line, "This message was created automatically "
                                     "by mail delivery software.");
            continue;
        }
        if (b_prefix(line, "Included is a copy of the message header:")
            || b_prefix(line, "------ This is a copy of the message"))
            break;
        if ((addr = recipient_of(line, &rest)) != NULL) {
            set_diagnostic(rcpt, &text);
            if ((rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
                b_text_add(&text, rest);
            }
            free(addr);
        } else if (rcpt != NULL && !b_blank(line)) {
            b_text_add(&text, line);
        } else if (b_blank(line)) {
            set_diagnostic(rcpt, &text);
        }
    }
    set_diagnostic(rcpt, &text);
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_mxlogic = { "mxlogic", mxlogic_match, mxlogic_parse };
