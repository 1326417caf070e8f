/*
 * mailru.c: Mail.Ru bounces.
 *
 * Offers detector_mailru.  Mail.Ru runs Exim: From mailer-daemon@...mail.ru,
 * X-Failed-Recipients, a Russian section, a line of asterisks, and Exim's
 * English text:
 *
 *   This message was created automatically by mail delivery software.
 *   ... The following address(es) failed:
 *
 *     user@example.jp
 *       SMTP error from remote mail server after RCPT TO:<user@example.jp>:
 *       host mx.example.jp [192.0.2.222]: 550 5.1.1 <user@example.jp>... User Unknown
 *
 * The response is what follows "host NAME [IP]: "; Exim's own sentences
 * for failures without one ("retry timeout exceeded", "an MX or SRV record
 * indicated no SMTP service") state the reason.  When the English section
 * is missing, the Russian one has the same layout.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "c_util.h"
#include "detector.h"

static const struct {
    const char *phrase;
    const char *reason;
} exim_phrases[] = {
    { "retry timeout exceeded", "expired" },
    { "an MX or SRV record indicated no SMTP service", "notaccept" },
    { "all relevant MX records point to non-existent hosts", "hostunknown" },
    { NULL, NULL },
};

static bool mailru_match(const BOUNCE_MSG *msg)
{
    return c_header_has(msg, "From", "mail.ru")
        || c_header_has(msg, "Message-ID", ".mail.ru>")
        || c_header_has(msg, "Message-ID", "smailru.net>");
}

/* "host mx.example.jp [192.0.2.222]: 550 ..." -> remote host and the
 * response after it. */
static void set_response(BOUNCE_RCPT *rcpt, const char *text)
{
    const char *host = strstr(text, "host ");
    const char *resp = text;

    if (host != NULL) {
        const char *name = host + 5;
        const char *end = name;
        const char *colon;

        while (*end && !isspace((unsigned char) *end) && *end != ':')
            end++;
        if ((colon = strstr(end, "]: ")) != NULL || (colon = strstr(end, ": ")) != NULL) {
            rcpt_setn(&rcpt->remote_mta, name, (size_t) (end - name));
            resp = colon + (colon[0] == ']' ? 3 : 2);
        }
    }
    c_set_response(rcpt, resp, strlen(resp));
    /* Exim's explanation when no server answered. */
    for (size_t p = 0; rcpt->reason == NULL && exim_phrases[p].phrase != NULL; p++)
        if (strstr(text, exim_phrases[p].phrase) != NULL)
            rcpt->reason = exim_phrases[p].reason;
}

static void finish(BOUNCE_RCPT *rcpt, C_BUF *buf)
{
    char *text = c_buf_take(buf);

    if (rcpt != NULL && text != NULL)
        set_response(rcpt, text);
    free(text);
}

/* The address block list of one section, starting at text. */
static size_t parse_section(const char *text, BOUNCE_REPORT *report)
{
    const char *cursor = text;
    const char *line;
    size_t len;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;
    C_BUF buf = { NULL, 0, 0 };

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        size_t indent = 0;
        char addr[320];

        if (c_line_starts(line, len, "------ This is a copy of the message", false)
            || c_line_starts(line, len, "*****", false))
            break;
        while (indent < len && line[indent] == ' ')
            indent++;
        if (indent == 2 && len > 2 && !isspace((unsigned char) line[2])) {
            /* "  user@example.jp": a failed address (the Russian part
             * may show only the local part: no address, no recipient). */
            finish(rcpt, &buf);
            rcpt = NULL;
            if (!c_find_address(line, len, addr, sizeof(addr)))
                continue;
            if ((rcpt = report_add(report)) == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
        } else if (rcpt != NULL && indent > 2) {
            c_buf_words(&buf, line, len);
        } else if (rcpt != NULL && !c_line_blank(line, len)) {
            finish(rcpt, &buf);
            rcpt = NULL;
        }
    }
    finish(rcpt, &buf);
    c_buf_free(&buf);
    return report->count - first;
}

static int mailru_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *failed = bmsg_header(msg, "X-Failed-Recipients");
    const char *english = c_find_line(msg->text, "This message was created automatically by mail delivery software", false);
    size_t first = report->count;

    if (!mailru_match(msg) && strstr(msg->text, "Mail.Ru") == NULL)
        return 0;
    if (english != NULL && parse_section(english, report) > 0) {
        report->kind = REPORT_BOUNCE;
        return (int) (report->count - first);
    }
    if (parse_section(msg->text, report) == 0
        && c_rcpts_from_list(failed, report) == 0)
        return 0;
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_mailru = {
    "mailru", mailru_match, mailru_parse,
};
