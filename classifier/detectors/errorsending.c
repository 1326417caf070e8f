/*
 * errorsending.c: detector for the "There was an error sending your mail"
 * notices of an unnamed MTA, Sisimai's X6 (Lhost::X6): that Subject, then
 * "N error(s):" and one line per failed recipient in its own words, with
 * the server's reply in brackets:
 *
 *   SMTP Server <mta.example.jp> rejected recipient <kijitora@example.jp>
 *   (Error following RCPT command). It responded as follows: [550 5.1.1 User unknown]
 *
 *   The following recipients returned permanent errors: neko@example.jp.
 *   Reason: SMTP Server <192.0.2.223> refused to accept your message (DATA),
 *   with the following error message: [554 5.4.6 Hop count exceeded]
 *
 * The diagnostic is the bracketed reply; the server is the remote MTA.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool errorsending_match(const BOUNCE_MSG *msg)
{
    return header_starts(msg, "Subject", "There was an error sending your mail");
}

/* "1 error(s):" */
static bool is_count_line(const char *line)
{
    const char *p = line;

    while (isdigit((unsigned char) *p))
        p++;
    return p > line && after_prefix(skip_blank(p), "error(s):");
}

/* The reply in the last "[...]" of the line, or NULL. */
static char *bracketed_reply(const char *line)
{
    const char *open = strrchr(line, '[');
    const char *close = open ? strchr(open, ']') : NULL;
    char code[4];

    if (open == NULL || close == NULL || !text_leading_replycode(open + 1, code))
        return NULL;
    return strndup(open + 1, (size_t) (close - open - 1));
}

/* "SMTP Server <host>": the host, when it is no address. */
static char *server_of(const char *line)
{
    const char *p = strstr(line, "Server <");
    const char *end;

    if (p == NULL || (end = strchr(p + 8, '>')) == NULL
        || memchr(p + 8, '@', (size_t) (end - p - 8)) != NULL)
        return NULL;
    return strndup(p + 8, (size_t) (end - p - 8));
}

static void add_recipient(const char *line, BOUNCE_REPORT *report)
{
    const char *start;
    size_t len;
    const char *after = strstr(line, "errors:");
    char *addr;
    char *reply;
    char *server;
    BOUNCE_RCPT *rcpt;

    if (!find_angle_address(line, &start, &len)
        && (after == NULL || !find_bare_address(after, &start, &len)))
        return;
    if ((addr = strndup(start, len)) == NULL || (rcpt = report_add(report)) == NULL) {
        free(addr);
        return;
    }
    rcpt_set_address(&rcpt->recipient, addr);
    rcpt_set(&rcpt->action, "failed");
    reply = bracketed_reply(line);
    rcpt_set(&rcpt->diagnostic, reply ? reply : line);
    squeeze_space(rcpt->diagnostic);
    server = server_of(line);
    rcpt_set(&rcpt->remote_mta, server);
    /* "(Error following RCPT command)", "your message (DATA)" */
    rcpt_set_command(rcpt, line);
    free(server);
    free(reply);
    free(addr);
}

static int errorsending_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    bool started = false;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        if (!started) {
            started = is_count_line(lines.line[i]);
            continue;
        }
        if (after_prefix(lines.line[i], "The attachment contains the original mail headers"))
            break;
        if (!is_blank(lines.line[i]))
            add_recipient(lines.line[i], report);
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_errorsending = { "errorsending", errorsending_match, errorsending_parse };
