/*
 * v5sendmail.c: detector for bounces of Sendmail before DSNs (V5, early V8):
 * plain text, "Returned mail: User unknown", a session transcript and the
 * unsent message after "----- Unsent message follows -----".
 *
 *    ----- Transcript of session follows -----
 *   While talking to mail.example.co.jp:
 *   >>> RCPT To:<mikeneko@example.co.jp>
 *   <<< 550 Requested User Mailbox not found. No such user here.
 *   550 <mikeneko@example.co.jp>... User unknown
 *
 * Each "NNN <address>... text" line is one failed recipient; the remote
 * server's reply ("<<< ...") just before it is its diagnostic, and the
 * command before that (">>> ...") the command it answered; else the
 * diagnostic is the text sendmail wrote.  When no line names an address (a timeout), the
 * recipient is the To: of the unsent message.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "toolkit.h"
#include "detector.h"

static bool v5sendmail_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");

    if (subject == NULL)
        return false;
    subject = skip_blank(subject);
    /* "Returned mail: User unknown", "Returned mail: Host unknown"... */
    return after_prefix_nocase(subject, "Returned mail: ")
           && isupper((unsigned char) subject[15]);
}

static bool is_marker(const char *line, const char *what)
{
    return strstr(line, "-----") != NULL && find_nocase(line, what) != NULL;
}

static bool is_end(const char *line)
{
    return is_marker(line, "Unsent message follows")
           || is_marker(line, "No message was collected")
           || is_marker(line, "Original message follows");
}

/* "550 <user@example.org>... User unknown": the address and the text. */
static bool recipient_line(const char *line, char code[4], char **addr, const char **text)
{
    const char *start;
    size_t len;
    const char *p;

    if (!text_leading_replycode(line, code))
        return false;
    p = skip_blank(skip_blank(line) + 3);
    if (*p != '<' || !find_angle_address(p, &start, &len) || start != p + 1
        || strncmp(start + len, ">...", 4) != 0)
        return false;
    *text = skip_blank(start + len + 4);
    *addr = strndup(start, len);
    return *addr != NULL;
}

/* "421 example.com (smtp)... Deferred: Connection timed out ...": the text. */
static const char *host_line_text(const char *line)
{
    char code[4];
    const char *dots = strstr(line, "... ");

    if (!text_leading_replycode(line, code) || dots == NULL)
        return NULL;
    return skip_blank(dots + 4);
}

/* The To: of the unsent message after the "Unsent message follows" line. */
static char *unsent_to(const TEXT_LINES *lines)
{
    for (size_t i = 0; i < lines->count; i++) {
        if (is_end(lines->line[i])) {
            TEXT_BUF block = { NULL, 0, 0, false };
            BOUNCE_FIELDS fields = { NULL, 0 };
            char *to = NULL;
            size_t j = i + 1;

            /* Rebuild the header block as text for fields_parse(). */
            while (j < lines->count && is_blank(lines->line[j]))
                j++;
            for (; j < lines->count && !is_blank(lines->line[j]); j++) {
                size_t len = block.len;

                buf_join_str(&block, lines->line[j]);
                if (len > 0 && block.len > len)
                    block.data[len] = '\n';
            }
            if (block.data != NULL && !block.failed) {
                fields_parse(block.data, &fields);
                if (fields_get(&fields, "To") != NULL)
                    to = strdup(fields_get(&fields, "To"));
            }
            fields_free(&fields);
            buf_free(&block);
            return to;
        }
    }
    return NULL;
}

static void finish(BOUNCE_RCPT *rcpt, const char *reply, const char *command,
                   const char *code, const char *text, const char *host)
{
    char own[4];

    if (reply != NULL) {
        rcpt_set(&rcpt->diagnostic, reply);
        /* the ">>> RCPT To:<x>" the reply answered */
        rcpt_set(&rcpt->command, command);
    } else {
        rcpt_set(&rcpt->diagnostic, text);
        /* "554 <a@b>... 550 Host unknown": the inner code is the remote's. */
        if (code != NULL && !text_leading_replycode(text, own))
            rcpt_set(&rcpt->replycode, code);
    }
    if (rcpt->diagnostic != NULL)
        squeeze_space(rcpt->diagnostic);
    /* The host we talked to is the remote MTA only if it replied. */
    if (reply != NULL)
        rcpt_set(&rcpt->remote_mta, host);
    rcpt_set(&rcpt->action, "failed");
}

static int v5sendmail_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    size_t i = 0;
    char *reply = NULL;         /* the remote reply waiting for its recipient */
    const char *sent = NULL;    /* the command of the last ">>> " line */
    const char *command = NULL; /* the command reply answered */
    const char *host = NULL;
    const char *general = NULL; /* sendmail's text when no address is named */
    char general_code[4] = "";
    bool timeout;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    while (i < lines.count && !is_marker(lines.line[i], "Transcript of session follows"))
        i++;
    for (i++; i < lines.count && !is_end(lines.line[i]); i++) {
        char *line = lines.line[i];
        char code[4];
        char *addr;
        const char *text;
        size_t used;

        if (after_prefix_nocase(skip_blank(line), "While talking to ")
            || after_prefix_nocase(line, "... while talking to ")) {
            char *name = line + (find_nocase(line, "talking to ") - line) + 11;
            size_t len = strlen(name);

            /* "mail.example.org:" or "mail.example.org.:" */
            while (len > 0 && (name[len - 1] == ':' || name[len - 1] == '.'))
                name[--len] = '\0';
            host = name;
            sent = NULL;
            free(reply);
            reply = NULL;
        } else if (after_prefix(line, ">>> ")) {
            sent = smtp_command_in(line);
        } else if (after_prefix(line, "<<< ")) {
            free(reply);
            reply = reply_join_lines(lines.line, lines.count, i, "<<< ", &used);
            command = sent;
            if (used > 1)
                i += used - 1;
        } else if (recipient_line(line, code, &addr, &text)) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                finish(rcpt, reply, command, code, text, host);
            }
            free(addr);
            free(reply);
            reply = NULL;
        } else if ((text = host_line_text(line)) != NULL) {
            general = text;
            text_leading_replycode(line, general_code);
        }
    }
    if (report->count == first && general != NULL) {
        char *to = unsent_to(&lines);
        BOUNCE_RCPT *rcpt = to ? report_add(report) : NULL;

        if (rcpt != NULL) {
            rcpt_set_address(&rcpt->recipient, to);
            finish(rcpt, NULL, NULL, general_code[0] ? general_code : NULL, general, host);
        }
        free(to);
    }
    free(reply);

    /* Sendmail's own words for a message that sat in the queue too long. */
    timeout = find_nocase(bmsg_header(msg, "Subject"), "Cannot send message for") != NULL;
    for (size_t r = first; timeout && r < report->count; r++)
        report->rcpts[r].reason = "expired";
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_v5sendmail = { "v5sendmail", v5sendmail_match, v5sendmail_parse };
