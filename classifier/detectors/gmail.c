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
#include "c_util.h"
#include "detector.h"

/* Gmail's words for failures where no server answered. */
static const struct {
    const char *phrase;
    const char *reason;
} gmail_phrases[] = {
    /* gave up connecting for the message's whole lifetime */
    { "The recipient server did not accept our requests to connect", "expired" },
    { "DNS Error: Could not contact DNS servers", "expired" },
    { "DNS Error: Domain name not found", "hostunknown" },
    { "DNS Error: DNS server returned answer with no data", "hostunknown" },
    { NULL, NULL },
};

/* "(state N)": the SMTP stage Gmail was in.  Only the DATA stage says
 * something a vague response does not: the content was refused. */
static const char *gmail_state_reason(const char *diag)
{
    const char *p = diag ? strstr(diag, "(state ") : NULL;
    int state;

    if (p == NULL)
        return NULL;
    state = atoi(p + 7);
    if (state == 15 || state == 17 || state == 18)
        return "filtered";
    return NULL;
}

static bool gmail_match(const BOUNCE_MSG *msg)
{
    return (c_header_has(msg, "From", "mailer-daemon@googlemail.com")
            || c_header_has(msg, "From", "mailer-daemon@google.com"))
        && c_header_has(msg, "Subject", "Delivery Status Notification");
}

static bool is_end_line(const char *line, size_t len)
{
    return c_line_starts(line, len, "----- Original message -----", false)
        || c_line_starts(line, len, "----- Message header follows -----", false);
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
    const char *reason = NULL;
    size_t len;

    if (resp == NULL) {
        c_set_response(rcpt, details, strlen(details));
        return;
    }
    resp += strlen(intro);
    while (isspace((unsigned char) *resp))
        resp++;
    if (c_reply_code_at(resp, code) && strncmp(resp + 3, " ", 1) == 0
        && strncmp(resp + 4, code, 3) == 0 && !isdigit((unsigned char) resp[7]))
        resp += 4;
    if ((copy = strdup(resp)) == NULL)
        return;
    if ((state = strstr(copy, " (state ")) != NULL) {
        reason = gmail_state_reason(state);
        *state = '\0';
    }
    len = strlen(copy);
    while (len > 0 && (copy[len - 1] == '.' || isspace((unsigned char) copy[len - 1])))
        len--;
    c_set_response(rcpt, copy, len);
    free(copy);
    /* The stage adds to a response whose status names no cause (x.y.0). */
    if (reason != NULL && rcpt->reason == NULL
        && (rcpt->status == NULL || rcpt->status[strlen(rcpt->status) - 1] == '0'))
        rcpt->reason = reason;
}

static int gmail_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *cursor = msg->text;
    const char *line;
    size_t len;
    C_BUF details = { NULL, 0, 0 };
    bool in_list = false;
    bool in_details = false;
    bool delayed = false;
    size_t first = report->count;
    char *text;

    if (!gmail_match(msg))
        return 0;
    while ((line = c_next_line(&cursor, &len)) != NULL) {
        char addr[320];

        if (is_end_line(line, len))
            break;
        if (c_line_starts(line, len, "Delivery to the following recipient", false)) {
            in_list = true;
            delayed = c_line_contains(line, len, "has been delayed");
            continue;
        }
        if (c_line_starts(line, len, "Technical details of ", false)) {
            in_list = false;
            in_details = true;
            continue;
        }
        if (in_list && len > 0 && isspace((unsigned char) line[0])
            && c_find_address(line, len, addr, sizeof(addr))) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
        } else if (in_details) {
            c_buf_words(&details, line, len);
        }
    }
    if (report->count == first && details.len > 0)
        /* Some list no recipient in the text: the header names them. */
        c_rcpts_from_list(bmsg_header(msg, "X-Failed-Recipients"), report);
    if (report->count == first) {
        c_buf_free(&details);
        return 0;
    }
    text = c_buf_take(&details);
    for (size_t i = first; i < report->count; i++) {
        BOUNCE_RCPT *rcpt = &report->rcpts[i];

        if (delayed)
            rcpt_set(&rcpt->action, "delayed");
        if (text == NULL)
            continue;
        set_diagnostic(rcpt, text);
        set_remote_from_details(rcpt, text);
        for (size_t p = 0; rcpt->reason == NULL && gmail_phrases[p].phrase != NULL; p++)
            if (strstr(text, gmail_phrases[p].phrase) != NULL)
                rcpt->reason = gmail_phrases[p].reason;
    }
    free(text);
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_gmail = {
    "gmail", gmail_match, gmail_parse,
};
