/*
 * yandex.c: Yandex.Mail bounces.
 *
 * Offers detector_yandex.  From mailer-daemon@yandex.ru, X-Yandex-Front /
 * X-Yandex-* headers; the text is Postfix's (in Russian, then English):
 *
 *   <user@example.jp>: host mx.example.jp[192.0.2.153] said: 550 5.1.1
 *       <user@example.jp>... User Unknown (in reply to RCPT TO command)
 *
 * with a complete RFC 3464 part whose Diagnostic-Code carries the response
 * (type "smtp" or "X-Yandex").  The DSN gives the recipients; the text
 * completes a response the DSN lacks.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

static bool yandex_match(const BOUNCE_MSG *msg)
{
    return bmsg_header(msg, "X-Yandex-Front") != NULL
        || header_contains(msg, "From", "mailer-daemon@yandex.")
        || header_contains(msg, "Message-ID", ".mail.yandex.net");
}

static bool is_yandex(const BOUNCE_MSG *msg)
{
    const char *mta = fields_get(&msg->dsn_message, "Reporting-MTA");

    return (mta != NULL && strstr(mta, "yandex") != NULL)
        || fields_get(&msg->dsn_message, "X-Yandex-Queue-ID") != NULL
        || strstr(msg->text, "This is the mail system at host yandex") != NULL;
}

/* Give rcpt the collected response if its DSN group had none. */
static void assign(BOUNCE_RCPT *rcpt, TEXT_BUF *buf)
{
    char *text = buf_take(buf);

    if (rcpt != NULL)
        rcpt_set_command(rcpt, text);
    if (rcpt != NULL && rcpt->diagnostic == NULL && text != NULL)
        rcpt_set_response(rcpt, text);
    free(text);
}

/* "<addr>: host h[ip] said: ... (in reply to X command)" blocks of the
 * text, for recipients whose DSN group has no Diagnostic-Code. */
static void complete_from_text(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    BOUNCE_RCPT *rcpt = NULL;
    TEXT_BUF buf = { NULL, 0, 0, false };

    if (lines_split(msg->text, &lines) < 0)
        return;
    for (size_t l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);
        char addr[320];
        const char *gt;

        if (len > 0 && line[0] == '<' && (gt = memchr(line, '>', len)) != NULL
            && find_address(line, (size_t) (gt - line), addr, sizeof(addr))) {
            assign(rcpt, &buf);
            rcpt = report_find(report, 0, addr);
            if (gt + 2 <= line + len)
                buf_join(&buf, gt + 2, len - (size_t) (gt + 2 - line));
        } else if (rcpt != NULL && len > 0 && (line[0] == ' ' || line[0] == '\t')) {
            buf_join(&buf, line, len);
        } else {
            assign(rcpt, &buf);
            rcpt = NULL;
        }
    }
    lines_free(&lines);
    assign(rcpt, &buf);
}

static int yandex_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    int added;

    if (msg->dsn_rcpt_count == 0 || !is_yandex(msg))
        return 0;
    if ((added = rcpts_from_dsn_part(msg, report)) == 0)
        return 0;
    complete_from_text(msg, report);
    report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_yandex = {
    "yandex", yandex_match, yandex_parse,
};
