/*
 * kddi.c: detector for au one net (KDDI, dion.ne.jp) notices:
 *
 *   Your mail sent on: Thu, 29 Apr 2010 11:04:47 +0900
 *        Could not be delivered to: <******@**.***.**>
 *        As their mailbox is full.
 *
 * The indented sentence is KDDI's own and states the reason.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool kddi_match(const BOUNCE_MSG *msg)
{
    const char *from = bmsg_header(msg, "From");

    return (from != NULL && find_nocase(from, "no-reply@") != NULL
            && find_nocase(from, ".dion.ne.jp") != NULL)
           || header_is(msg, "Reply-To", "no-reply@app.auone-net.jp")
           || header_contains(msg, "Received", "ezweb.ne.jp (")
           || header_contains(msg, "Received", ".au.com (");
}

static const char *reason_of(const char *text)
{
    if (text == NULL)
        return NULL;
    if (strstr(text, "As their mailbox is full"))
        return "mailboxfull";
    if (strstr(text, "As the remote domain doesnt exist"))
        return "hostunknown";
    return NULL;
}

static void finish(BOUNCE_RCPT *rcpt, TEXT_BUF *text)
{
    if (rcpt == NULL)
        return;
    rcpt_set(&rcpt->diagnostic, text->data);
    rcpt->reason = reason_of(text->data);
    buf_free(text);
}

static int kddi_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    bool started = false;
    BOUNCE_RCPT *rcpt = NULL;
    TEXT_BUF text = { NULL, 0, 0, false };

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *p = skip_blank(line);
        const char *start;
        size_t len;

        if (after_prefix(line, "Your mail sent on")
            || after_prefix(line, "Your mail attempted to be delivered on")) {
            started = true;
            continue;
        }
        if (!started)
            continue;
        if (p != line && after_prefix(p, "Could not be delivered to: ")
            && find_angle_address(p, &start, &len)) {
            char *addr = strndup(start, len);

            finish(rcpt, &text);
            rcpt = addr ? report_add(report) : NULL;
            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
            }
            free(addr);
        } else if (p != line && rcpt != NULL) {
            buf_join_str(&text, p);
        }
    }
    finish(rcpt, &text);
    buf_free(&text);
    if (header_is(msg, "X-SPASIGN", "NG"))
        for (size_t r = first; r < report->count; r++)
            report->rcpts[r].reason = "filtered";
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_kddi = { "kddi", kddi_match, kddi_parse };
