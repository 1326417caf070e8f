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
#include "c_util.h"
#include "detector.h"

static bool yandex_match(const BOUNCE_MSG *msg)
{
    return c_header_present(msg, "X-Yandex-Front")
        || c_header_has(msg, "From", "mailer-daemon@yandex.")
        || c_header_has(msg, "Message-ID", ".mail.yandex.net");
}

static bool is_yandex(const BOUNCE_MSG *msg)
{
    const char *mta = fields_get(&msg->dsn_message, "Reporting-MTA");

    return (mta != NULL && strstr(mta, "yandex") != NULL)
        || fields_get(&msg->dsn_message, "X-Yandex-Queue-ID") != NULL
        || strstr(msg->text, "This is the mail system at host yandex") != NULL;
}

/* Give rcpt the collected response if its DSN group had none. */
static void assign(BOUNCE_RCPT *rcpt, C_BUF *buf)
{
    char *text = c_buf_take(buf);

    if (rcpt != NULL && rcpt->diagnostic == NULL && text != NULL)
        c_set_response(rcpt, text, strlen(text));
    free(text);
}

/* "<addr>: host h[ip] said: ... (in reply to X command)" blocks of the
 * text, for recipients whose DSN group has no Diagnostic-Code. */
static void complete_from_text(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *cursor = msg->text;
    const char *line;
    size_t len;
    BOUNCE_RCPT *rcpt = NULL;
    C_BUF buf = { NULL, 0, 0 };

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        char addr[320];
        const char *gt;

        if (len > 0 && line[0] == '<' && (gt = memchr(line, '>', len)) != NULL
            && c_find_address(line, (size_t) (gt - line), addr, sizeof(addr))) {
            assign(rcpt, &buf);
            rcpt = c_report_find(report, addr);
            if (gt + 2 <= line + len)
                c_buf_words(&buf, gt + 2, len - (size_t) (gt + 2 - line));
        } else if (rcpt != NULL && len > 0 && (line[0] == ' ' || line[0] == '\t')) {
            c_buf_words(&buf, line, len);
        } else {
            assign(rcpt, &buf);
            rcpt = NULL;
        }
    }
    assign(rcpt, &buf);
}

static int yandex_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    int added;

    if (msg->dsn_rcpt_count == 0 || !is_yandex(msg))
        return 0;
    if ((added = c_rcpts_from_dsn(msg, report)) == 0)
        return 0;
    complete_from_text(msg, report);
    report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_yandex = {
    "yandex", yandex_match, yandex_parse,
};
