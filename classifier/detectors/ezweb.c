/*
 * ezweb.c: detector for au by KDDI's mobile mail (EZweb, ezweb.ne.jp and
 * au.com), Subject "Mail System Error - Returned Mail".  A Japanese notice,
 * then English sentences of EZweb's own and the recipients:
 *
 *   The user(s) account is disabled.
 *
 *   <***@ezweb.ne.jp>: 550 user unknown (in reply to RCPT TO command)
 *
 * or a transcript:
 *
 *   Each of the following recipients was rejected by a remote mail server.
 *
 *       Recipient: <******@ezweb.ne.jp>
 *       >>> RCPT TO:<******@ezweb.ne.jp>
 *       <<< 550 <******@ezweb.ne.jp>: User unknown
 *
 * EZweb's sentences state the reason (account disabled, over quota, not
 * delivered within the retry time); "X-SPASIGN: NG" marks mail its spam
 * filter refused.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

/* EZweb's fixed sentences and the reason each one states. */
static const struct {
    const char *sentence;
    const char *reason;
} sentences[] = {
    { "The user(s) account is temporarily over quota", "mailboxfull" },
    { "The user(s) account is disabled.", "suspend" },
    { "The user(s) account is temporarily limited.", "suspend" },
    { "Your message was not delivered within ", "expired" },
    { NULL, NULL }
};

static bool ezweb_match(const BOUNCE_MSG *msg)
{
    const char *id = bmsg_header(msg, "Message-ID");
    int votes = 0;

    votes += header_contains(msg, "From", "Postmaster@ezweb.ne.jp");
    votes += header_contains(msg, "From", "Postmaster@au.com");
    votes += header_is(msg, "Subject", "Mail System Error - Returned Mail");
    votes += header_contains(msg, "Received", "ezweb.ne.jp (EZweb Mail) with");
    votes += header_contains(msg, "Received", ".au.com (");
    if (id != NULL) {
        size_t len = strlen(id);

        while (len > 0 && (id[len - 1] == ' ' || id[len - 1] == '\t'))
            len--;
        votes += len >= 13 && strncmp(id + len - 13, ".ezweb.ne.jp>", 13) == 0;
        votes += len >= 8 && strncmp(id + len - 8, ".au.com>", 8) == 0;
    }
    /* One sign alone is a message that merely passed through au. */
    return votes >= 2;
}

static bool is_8bit(const char *s)
{
    for (; *s; s++)
        if ((unsigned char) *s >= 0x80)
            return true;
    return false;
}

/* "<addr>", "<addr>: reply" or "    Recipient: <addr>": the address. */
static char *recipient_of(const char *line, const char **rest)
{
    const char *p = skip_blank(line);
    const char *start;
    size_t len;

    *rest = NULL;
    if (p != line && after_prefix(p, "Recipient: "))
        p += 11;
    else if (p != line)
        return NULL;
    if (*p != '<' || !find_angle_address(p, &start, &len) || start != p + 1)
        return NULL;
    p = start + len + 1;
    if (*p == ':')
        *rest = skip_blank(p + 1);
    else if (!is_blank(p))
        return NULL;
    return strndup(start, len);
}

static const char *reason_of(const char *notice)
{
    for (size_t i = 0; notice != NULL && sentences[i].sentence != NULL; i++)
        if (strstr(notice, sentences[i].sentence) != NULL)
            return sentences[i].reason;
    return NULL;
}

static int ezweb_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    TEXT_BUF notice = { NULL, 0, 0, false };
    BOUNCE_RCPT *rcpt = NULL;
    const char *reason;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *rest;
        char *addr;
        const char *p = skip_blank(line);

        if (after_prefix(line, "--------------------------------------------------"))
            break;
        if ((addr = recipient_of(line, &rest)) != NULL) {
            if ((rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
                rcpt_set(&rcpt->diagnostic, is_blank(rest) ? NULL : rest);
                rcpt_set_command(rcpt, rest);
            }
            free(addr);
        } else if (after_prefix(p, "<<< ") && rcpt != NULL) {
            rcpt_set(&rcpt->diagnostic, p + 4);
        } else if (after_prefix(p, ">>> ") && rcpt != NULL) {
            rcpt_set_command(rcpt, p);
        } else if (is_blank(line) || is_8bit(line)
                   || after_prefix(line, "The following recipients did not receive this message")
                   || after_prefix(line, "This message is in MIME format")) {
            continue;
        } else if (line == p) {
            buf_join_str(&notice, line);
        }
    }
    reason = reason_of(notice.data);
    /* au's spam filter refused the message (its own header). */
    if (header_is(msg, "X-SPASIGN", "NG"))
        reason = "filtered";
    for (size_t r = first; r < report->count; r++) {
        BOUNCE_RCPT *each = &report->rcpts[r];

        if (each->diagnostic == NULL)
            rcpt_set(&each->diagnostic, notice.data);
        each->reason = reason;
    }
    /* Newer notices add a delivery-status part: its Status is the code. */
    for (size_t g = 0; g < msg->dsn_rcpt_count; g++) {
        const BOUNCE_FIELDS *group = &msg->dsn_rcpts[g];
        BOUNCE_RCPT *found = report_find(report, first,
                                           dsn_value(fields_get(group, "Final-Recipient")));

        if (found != NULL && found->status == NULL)
            rcpt_set(&found->status, dsn_value(fields_get(group, "Status")));
    }
    buf_free(&notice);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_ezweb = { "ezweb", ezweb_match, ezweb_parse };
