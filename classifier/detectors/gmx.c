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
#include "toolkit.h"
#include "detector.h"

static bool gmx_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "From", "@mail.gmx.")
        || header_contains(msg, "From", "@gmx.")
        || header_contains(msg, "From", "@mail.com");
}

static bool is_end(const char *line)
{
    return after_prefix(line, "--- The header of the original message is following") != NULL;
}

static void finish(BOUNCE_RCPT *rcpt, TEXT_BUF *buf)
{
    char *text = buf_take(buf);

    if (rcpt != NULL && text != NULL) {
        rcpt_set_command(rcpt, text);
        rcpt_set_response(rcpt, text);
        if (strstr(text, "retry timeout exceeded") != NULL)
            rcpt->reason = "expired";
    }
    free(text);
}

/* The notice's details begin after the line that starts so. */
static const char opening[] = "This message was created automatically by mail delivery software";

static int gmx_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;
    TEXT_BUF buf = { NULL, 0, 0, false };

    if (!gmx_match(msg))
        return 0;
    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t l = lines_after(&lines, 0, opening); l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);
        char addr[320];

        if (is_end(line))
            break;
        if (len > 2 && ((line[0] == '"' && line[len - 1] == ':') || (line[0] == '<' && line[len - 1] == '>'))
            && find_address(line, len, addr, sizeof(addr))) {
            finish(rcpt, &buf);
            if ((rcpt = report_add(report)) == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
            continue;
        }
        if (rcpt != NULL && after_prefix(line, "SMTP error from remote server") != NULL) {
            /* "... after RCPT command:" */
            rcpt_set_command(rcpt, line);
            continue;
        }
        if (rcpt == NULL || is_blank(line) || after_prefix(line, "Reason:") != NULL)
            continue;
        if (after_prefix(line, "host: ") != NULL) {
            rcpt_setn(&rcpt->remote_mta, line + 6, len - 6);
            continue;
        }
        buf_join(&buf, line, len);
    }
    lines_free(&lines);
    finish(rcpt, &buf);
    return report_finish(report, first);
}

const DETECTOR detector_gmx = {
    "gmx", gmx_match, gmx_parse,
};
