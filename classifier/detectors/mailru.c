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
#include "toolkit.h"
#include "detector.h"

static const PHRASE_REASON exim_phrases[] = {
    { "retry timeout exceeded", "expired" },
    { "an MX or SRV record indicated no SMTP service", "notaccept" },
    { "all relevant MX records point to non-existent hosts", "hostunknown" },
    { NULL, NULL },
};

static bool mailru_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "From", "mail.ru")
        || header_contains(msg, "Message-ID", ".mail.ru>")
        || header_contains(msg, "Message-ID", "smailru.net>");
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
    rcpt_set_command(rcpt, text);
    rcpt_set_response(rcpt, resp);
    /* Exim's explanation when no server answered. */
    if (rcpt->reason == NULL)
        rcpt->reason = phrase_reason(exim_phrases, text);
}

static void finish(BOUNCE_RCPT *rcpt, TEXT_BUF *buf)
{
    char *text = buf_take(buf);

    if (rcpt != NULL && text != NULL)
        set_response(rcpt, text);
    free(text);
}

/* The address block list of one section, starting at text. */
static size_t parse_section(const char *text, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;
    TEXT_BUF buf = { NULL, 0, 0, false };

    if (lines_split(text, &lines) < 0)
        return 0;
    for (size_t l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);
        size_t indent = 0;
        char addr[320];

        if (after_prefix(line, "------ This is a copy of the message") != NULL
            || after_prefix(line, "*****") != NULL)
            break;
        while (indent < len && line[indent] == ' ')
            indent++;
        if (indent == 2 && len > 2 && !isspace((unsigned char) line[2])) {
            /* "  user@example.jp": a failed address (the Russian part
             * may show only the local part: no address, no recipient). */
            finish(rcpt, &buf);
            rcpt = NULL;
            if (!find_address(line, len, addr, sizeof(addr)))
                continue;
            if ((rcpt = report_add(report)) == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
        } else if (rcpt != NULL && indent > 2) {
            buf_join(&buf, line, len);
        } else if (rcpt != NULL && !is_blank(line)) {
            finish(rcpt, &buf);
            rcpt = NULL;
        }
    }
    lines_free(&lines);
    finish(rcpt, &buf);
    buf_free(&buf);
    return report->count - first;
}

static int mailru_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *failed = bmsg_header(msg, "X-Failed-Recipients");
    const char *english = find_line(msg->text, "This message was created automatically by mail delivery software");
    size_t first = report->count;

    if (!mailru_match(msg) && strstr(msg->text, "Mail.Ru") == NULL)
        return 0;
    if (english != NULL && parse_section(english, report) > 0) {
        report->kind = REPORT_BOUNCE;
        return (int) (report->count - first);
    }
    if (parse_section(msg->text, report) == 0
        && rcpts_from_list(failed, report) == 0)
        return 0;
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_mailru = {
    "mailru", mailru_match, mailru_parse,
};
