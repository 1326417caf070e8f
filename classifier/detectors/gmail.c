/*
 * gmail.c: Gmail's plain-text bounces (2010-2017 format).
 *
 * Offers detector_gmail.  From "Mail Delivery Subsystem
 * <mailer-daemon@googlemail.com>", Subject "Delivery Status Notification
 * (Failure|Delay)", one text part:
 *
 *   Delivery to the following recipient failed permanently:
 *        user@example.jp
 *   Technical details of permanent failure:
 *   Google tried to deliver your message, but it was rejected by the
 *   server for the recipient domain example.jp by mx.example.jp. [192.0.2.1].
 *   The error that the other server returned was:
 *   550 5.1.1 <user@example.jp>... User Unknown
 *   ----- Original message -----
 *
 * The diagnostic is the remote server's response when Gmail quotes one
 * (Gmail repeats the reply code: "554 554 5.7.0 ..."; the "(state N)" it
 * appends is its own), else Gmail's technical details.  Gmail's own
 * sentences for failures without a response state the reason.  The newer
 * multipart format ("** Address not found **") is detector_googleworkspace.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

/* Gmail's words for failures where no server answered. */
static const PHRASE_REASON gmail_phrases[] = {
    /* gave up connecting for the message's whole lifetime */
    { "The recipient server did not accept our requests to connect", "expired" },
    { "DNS Error: Could not contact DNS servers", "expired" },
    { "DNS Error: Domain name not found", "hostunknown" },
    { "DNS Error: DNS server returned answer with no data", "hostunknown" },
    { NULL, NULL },
};

static bool gmail_match(const BOUNCE_MSG *msg)
{
    return (header_contains(msg, "From", "mailer-daemon@googlemail.com")
            || header_contains(msg, "From", "mailer-daemon@google.com"))
        && header_contains(msg, "Subject", "Delivery Status Notification");
}

static bool is_end_line(const char *line)
{
    return after_prefix(line, "----- Original message -----") != NULL
        || after_prefix(line, "----- Message header follows -----") != NULL;
}

/* "...rejected by the server for the recipient domain x by mx.x. [ip]." */
static void set_remote_from_details(BOUNCE_RCPT *rcpt, const char *details)
{
    const char *p = strstr(details, " by ");
    const char *end;

    while (p != NULL) {
        p += 4;
        end = p;
        while (*end && !isspace((unsigned char) *end))
            end++;
        if (end > p + 1 && end[-1] == '.' && strncmp(end, " [", 2) == 0) {
            rcpt_setn(&rcpt->remote_mta, p, (size_t) (end - 1 - p));
            return;
        }
        p = strstr(end, " by ");
    }
}

/* The response quoted after "The error that the other server returned
 * was:", without Gmail's repeated reply code and "(state N)." tail. */
static void set_diagnostic(BOUNCE_RCPT *rcpt, const char *details)
{
    static const char intro[] = "The error that the other server returned was:";
    const char *resp = strstr(details, intro);
    char code[4];
    char *copy;
    char *state;
    size_t len;

    if (resp == NULL) {
        rcpt_set_response(rcpt, details);
        return;
    }
    resp += strlen(intro);
    while (isspace((unsigned char) *resp))
        resp++;
    if (text_leading_replycode(resp, code) && strncmp(resp + 3, " ", 1) == 0
        && strncmp(resp + 4, code, 3) == 0 && !isdigit((unsigned char) resp[7]))
        resp += 4;
    if ((copy = strdup(resp)) == NULL)
        return;
    /* "(state 14)": the SMTP stage Gmail's client was in. */
    if ((state = strstr(copy, " (state ")) != NULL) {
        rcpt_set_command(rcpt, state);
        *state = '\0';
    }
    len = strlen(copy);
    while (len > 0 && (copy[len - 1] == '.' || isspace((unsigned char) copy[len - 1])))
        copy[--len] = '\0';
    rcpt_set_response(rcpt, copy);
    free(copy);
}

static int gmail_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    TEXT_BUF details = { NULL, 0, 0, false };
    bool in_list = false;
    bool in_details = false;
    bool delayed = false;
    size_t first = report->count;
    char *text;

    if (!gmail_match(msg))
        return 0;
    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);
        char addr[320];

        if (is_end_line(line))
            break;
        if (after_prefix(line, "Delivery to the following recipient") != NULL) {
            in_list = true;
            delayed = find_nocase(line, "has been delayed") != NULL;
            continue;
        }
        if (after_prefix(line, "Technical details of ") != NULL) {
            in_list = false;
            in_details = true;
            continue;
        }
        if (in_list && len > 0 && isspace((unsigned char) line[0])
            && find_address(line, len, addr, sizeof(addr))) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
        } else if (in_details) {
            buf_join(&details, line, len);
        }
    }
    lines_free(&lines);
    if (report->count == first && details.len > 0)
        /* Some list no recipient in the text: the header names them. */
        rcpts_from_list(bmsg_header(msg, "X-Failed-Recipients"), report);
    if (report->count == first) {
        buf_free(&details);
        return 0;
    }
    text = buf_take(&details);
    for (size_t i = first; i < report->count; i++) {
        BOUNCE_RCPT *rcpt = &report->rcpts[i];

        if (delayed)
            rcpt_set(&rcpt->action, "delayed");
        if (text == NULL)
            continue;
        set_diagnostic(rcpt, text);
        set_remote_from_details(rcpt, text);
        if (rcpt->reason == NULL)
            rcpt->reason = phrase_reason(gmail_phrases, text);
    }
    free(text);
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_gmail = {
    "gmail", gmail_match, gmail_parse,
};
