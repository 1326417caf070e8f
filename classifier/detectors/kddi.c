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

#include "b_util.h"
#include "detector.h"

static bool kddi_match(const BOUNCE_MSG *msg)
{
    const char *from = bmsg_header(msg, "From");

    return (from != NULL && b_strcasestr(from, "no-reply@") != NULL
            && b_strcasestr(from, ".dion.ne.jp") != NULL)
           || b_header_is(msg, "Reply-To", "no-reply@app.auone-net.jp")
           || b_header_has(msg, "Received", "ezweb.ne.jp (")
           || b_header_has(msg, "Received", ".au.com (");
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

static void finish(BOUNCE_RCPT *rcpt, B_TEXT *text)
{
    if (rcpt == NULL)
        return;
    rcpt_set(&rcpt->diagnostic, text->s);
    rcpt->reason = reason_of(text->s);
    b_fill_codes(rcpt);
    b_text_free(text);
}

static int kddi_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
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
        const char *p = b_skip_blank(line);
        const char *start;
        size_t len;

        if (b_prefix(line, "Your mail sent on")
            || b_prefix(line, "Your mail attempted to be delivered on")) {
            started = true;
            continue;
        }
        if (!started)
            continue;
        if (p != line && b_prefix(p, "Could not be delivered to: ")
            && b_angle_address(p, &start, &len)) {
            char *addr = strndup(start, len);

            finish(rcpt, &text);
            rcpt = addr ? report_add(report) : NULL;
            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
            }
            free(addr);
        } else if (p != line && rcpt != NULL) {
            b_text_add(&text, p);
        }
    }
    finish(rcpt, &text);
    b_text_free(&text);
    if (b_header_is(msg, "X-SPASIGN", "NG"))
        for (size_t r = first; r < report->count; r++)
            report->rcpts[r].reason = "filtered";
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_kddi = { "kddi", kddi_match, kddi_parse };
