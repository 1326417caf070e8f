/*
 * gmx.c: GMX (and mail.com) bounces.
 *
 * Offers detector_gmx.  From MAILER-DAEMON@mail.gmx.com (or gmx.net,
 * mail.com), Subject "Mail delivery failed: returning message to sender",
 * Exim-like text:
 *
 *   ... The following address failed:
 *   "user@example.jp":
 *   SMTP error from remote server after RCPT command:
 *   host: mx.example.jp
 *   5.1.1 <user@example.jp>... User Unknown
 *   --- The header of the original message is following. ---
 *
 * or "<user@example.jp>" then "Reason:" and an explanation.  The lines
 * after "host: NAME" are the server's response; "delivery retry timeout
 * exceeded" is GMX's own word for giving up.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "c_util.h"
#include "detector.h"

static bool gmx_match(const BOUNCE_MSG *msg)
{
    return c_header_has(msg, "From", "@mail.gmx.")
        || c_header_has(msg, "From", "@gmx.")
        || c_header_has(msg, "From", "@mail.com");
}

static bool is_end(const char *line, size_t len)
{
    return c_line_starts(line, len, "--- The header of the original message is following", false);
}

static void finish(BOUNCE_RCPT *rcpt, C_BUF *buf)
{
    char *text = c_buf_take(buf);

    if (rcpt != NULL && text != NULL) {
        c_set_response(rcpt, text, strlen(text));
        if (strstr(text, "retry timeout exceeded") != NULL)
            rcpt->reason = "expired";
    }
    free(text);
}

static int gmx_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *cursor = msg->text;
    const char *line;
    size_t len;
    bool started = false;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;
    C_BUF buf = { NULL, 0, 0 };

    if (!gmx_match(msg))
        return 0;
    while ((line = c_next_line(&cursor, &len)) != NULL) {
        char addr[320];

        if (!started) {
            started = c_line_starts(line, len, "This message was created automatically by mail delivery software", false);
            continue;
        }
        if (is_end(line, len))
            break;
        if (len > 2 && ((line[0] == '"' && line[len - 1] == ':') || (line[0] == '<' && line[len - 1] == '>'))
            && c_find_address(line, len, addr, sizeof(addr))) {
            finish(rcpt, &buf);
            if ((rcpt = report_add(report)) == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
            continue;
        }
        if (rcpt == NULL || c_line_blank(line, len)
            || c_line_starts(line, len, "SMTP error from remote server", false)
            || c_line_starts(line, len, "Reason:", false))
            continue;
        if (c_line_starts(line, len, "host: ", false)) {
            rcpt_setn(&rcpt->remote_mta, line + 6, len - 6);
            continue;
        }
        c_buf_words(&buf, line, len);
    }
    finish(rcpt, &buf);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_gmx = {
    "gmx", gmx_match, gmx_parse,
};
