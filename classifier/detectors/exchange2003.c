/*
 * exchange2003.c: Microsoft Exchange 5.5 - 2003 non-delivery reports.
 *
 * Offers detector_exchange2003.  Sent with "X-Mailer: Internet Mail
 * Service (5.5.x)" or "Microsoft Exchange Server Internet Mail Connector",
 * "X-MimeOLE: Produced By Microsoft Exchange", or relayed by a host
 * "with Internet Mail Service (...)".  Plain text:
 *
 *   Your message
 *     To:      ...
 *   did not reach the following recipient(s):
 *   user@example.jp on Thu, 29 Apr 2010 00:00:00 -0000
 *       The recipient name is not recognized
 *       MSEXCH:IMS:ORG:SITE:SERVER 0 (000C05A6) Unknown Recipient
 *
 * The hexadecimal code in the MSEXCH line is Exchange's own error code:
 * the ones that name a cause state the reason.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

static const struct {
    const char *code;
    const char *reason;
} msexch_codes[] = {
    { "000C05A6", "userunknown" },      /* Unknown Recipient */
    { "000C0595", "filtered" },         /* Ambiguous Recipient */
    { "00010256", "systemerror" },      /* Too many recipients */
    { "000D06B5", "systemerror" },      /* No proxy for recipient */
    { "00120270", "networkerror" },     /* Too many hops */
    { "00050311", "contenterror" },     /* Conversion to Internet format failed */
    { "000502CC", "contenterror" },
    { "000B0981", "securityerror" },    /* 502 Server does not support AUTH */
    { NULL, NULL },
};

static bool exchange2003_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "X-Mailer", "Internet Mail Service (")
        || header_contains(msg, "X-Mailer", "Microsoft Exchange Server Internet Mail Connector")
        || header_contains(msg, "X-MimeOLE", "Produced By Microsoft Exchange")
        || header_contains(msg, "Received", " with Internet Mail Service (")
        || bmsg_header(msg, "X-MS-Embedded-Report") != NULL;
}

/* "(000C05A6)" in an MSEXCH line -> reason, or NULL. */
static const char *msexch_reason(const char *diag)
{
    const char *p = diag ? strstr(diag, "MSEXCH:") : NULL;

    while (p != NULL && (p = strchr(p, '(')) != NULL) {
        for (size_t i = 0; msexch_codes[i].code != NULL; i++)
            if (strncmp(p + 1, msexch_codes[i].code, 8) == 0 && p[9] == ')')
                return msexch_codes[i].reason;
        p++;
    }
    return NULL;
}

/* "user@example.jp on <date>" (also "Name (SMTP=user@example.jp) on ...",
 * and the X.400 form "c=US;a= ;p=Org;o=Site;dda:SMTP=user@example.com; on
 * ...", where '=' would otherwise pass for part of the local part: seen in
 * flufl.bounce's microsoft_01 and microsoft_04). */
static bool recipient_line(const char *line, char *addr, size_t addrlen)
{
    const char *on = strstr(line, " on ");
    const char *smtp;

    if (on == NULL)
        return false;
    smtp = find_nocase(line, "SMTP=");
    if (smtp != NULL && smtp < on)
        line = smtp + 5;
    return find_address(line, (size_t) (on - line), addr, addrlen);
}

/* Exchange's bookkeeping lines are no part of the explanation. */
static bool is_noise(const char *line)
{
    line = skip_blank(line);
    return is_blank(line) || after_prefix(line, "The MTS-ID") != NULL
        || after_prefix(line, ";l=") != NULL;
}

static int exchange2003_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    bool in_list = false;
    size_t first = report->count;
    TEXT_BUF diag = { NULL, 0, 0, false };
    BOUNCE_RCPT *rcpt = NULL;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);
        char addr[320];

        if (!in_list) {
            in_list = find_nocase(line, "did not reach the following recipient") != NULL
                || find_nocase(line, "recipient(s) could not be reached") != NULL;
            continue;
        }
        if (recipient_line(line, addr, sizeof(addr))) {
            if (rcpt != NULL) {
                char *text = buf_take(&diag);

                if (text != NULL)
                    rcpt_set_response(rcpt, text);
                free(text);
            }
            if ((rcpt = report_add(report)) == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
        } else if (rcpt != NULL && !is_noise(line)) {
            buf_join(&diag, line, len);
        }
    }
    lines_free(&lines);
    if (rcpt != NULL) {
        char *text = buf_take(&diag);

        if (text != NULL)
            rcpt_set_response(rcpt, text);
        free(text);
    }
    buf_free(&diag);
    for (size_t i = first; i < report->count; i++)
        report->rcpts[i].reason = msexch_reason(report->rcpts[i].diagnostic);
    return report_finish(report, first);
}

const DETECTOR detector_exchange2003 = {
    "exchange2003", exchange2003_match, exchange2003_parse,
};
