/*
 * yahoo.c: Yahoo! Mail bounces.
 *
 * Offers detector_yahoo.  Subject "Failure Notice", plain text:
 *
 *   Sorry, we were unable to deliver your message to the following address.
 *   <user@example.jp>:
 *   Remote host said: 550 5.1.1 <user@example.jp>... User Unknown [RCPT_TO]
 *   --- Below this line is a copy of the message.
 *
 * (newer ones write "550: 5.1.1 ..." without "Remote host said:").  The
 * bracketed SMTP command at the end and "Remote host said:" are Yahoo's;
 * the rest is the remote server's response.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

static bool yahoo_match(const BOUNCE_MSG *msg)
{
    return bmsg_header(msg, "X-YMailISG") != NULL
        || header_contains(msg, "From", "yahoo.")
        || header_contains(msg, "Subject", "Failure Notice");
}

/* Turn "550: 5.2.2 text" into "550 5.2.2 text" and drop Yahoo's
 * "Remote host said:" and trailing "[RCPT_TO]". */
static char *clean_response(char *text)
{
    static const char said[] = "Remote host said:";
    char *p = text;
    size_t len;
    char code[4];

    if (strncmp(p, said, strlen(said)) == 0)
        p += strlen(said);
    while (isspace((unsigned char) *p))
        p++;
    memmove(text, p, strlen(p) + 1);
    if (text_leading_replycode(text, code) && text[3] == ':')
        text[3] = ' ';
    len = strlen(text);
    if (len > 2 && text[len - 1] == ']') {
        char *open = strrchr(text, '[');

        if (open != NULL && open > text && open[-1] == ' '
            && strspn(open + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == (size_t) (text + len - 1 - open - 1))
            open[-1] = '\0';
    }
    return text;
}

static void finish(BOUNCE_RCPT *rcpt, TEXT_BUF *buf)
{
    char *text = buf_take(buf);

    if (rcpt != NULL && text != NULL) {
        rcpt_set_command(rcpt, text);
        clean_response(text);
        rcpt_set_response(rcpt, text);
    }
    free(text);
}

/* The notice's details begin after the line that starts so. */
static const char opening[] = "Sorry, we were unable to deliver your message";

static int yahoo_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;
    TEXT_BUF buf = { NULL, 0, 0, false };

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t l = lines_after(&lines, 0, opening); l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);
        char addr[320];

        if (after_prefix(line, "--- Below this line is a copy of the message") != NULL)
            break;
        if (len > 3 && line[0] == '<' && line[len - 1] == ':' && line[len - 2] == '>'
            && find_address(line, len, addr, sizeof(addr))) {
            finish(rcpt, &buf);
            if ((rcpt = report_add(report)) == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
        } else if (rcpt != NULL) {
            buf_join(&buf, line, len);
        }
    }
    lines_free(&lines);
    finish(rcpt, &buf);
    return report_finish(report, first);
}

const DETECTOR detector_yahoo = {
    "yahoo", yahoo_match, yahoo_parse,
};
