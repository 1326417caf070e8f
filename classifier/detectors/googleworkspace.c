/*
 * googleworkspace.c: Gmail and Google Workspace bounces, current format.
 *
 * Offers detector_googleworkspace.  Since about 2018 Google sends a
 * multipart/report from mailer-daemon@googlemail.com whose text part reads
 *
 *   ** Address not found **            (or Message not delivered, ...)
 *   Your message wasn't delivered to user@example.com because the address
 *   couldn't be found, or is unable to receive mail.
 *   The response from the remote server was:
 *   550 5.1.1 The email account that you tried to reach does not exist.
 *
 * with a DSN part that is sometimes complete and sometimes empty (then the
 * recipient is in X-Failed-Recipients only).  The diagnostic is the
 * remote response from the DSN or, when that is missing or shorter, the
 * text after "The response ... was:".  Google's own sentences for
 * failures state the reason where no server answered.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "c_util.h"
#include "detector.h"

/* Google's words in the response it quotes when no server answered
 * (DNS), checked first ... */
static const struct {
    const char *phrase;
    const char *reason;
} response_phrases[] = {
    { "Null MX", "notaccept" },
    { " had no relevant answers.", "networkerror" },
    { " responded with code NXDOMAIN", "networkerror" },
    { NULL, NULL },
};

/* ... and in its explanation, which only counts when no server gave an
 * SMTP reply (the headline is generic: "Address not found" also heads a
 * "501 5.1.8 Sender address rejected"). */
static const struct {
    const char *phrase;
    const char *reason;
} explanation_phrases[] = {
    { "because the address couldn't be found", "userunknown" },
    { "because the domain ", "hostunknown" },
    { NULL, NULL },
};

static bool googleworkspace_match(const BOUNCE_MSG *msg)
{
    return c_header_has(msg, "From", "mailer-daemon@googlemail.com")
        || c_header_has(msg, "From", "mailer-daemon@google.com");
}

/* "** Address not found **": Google's headline, in any language. */
static bool has_headline(const char *text)
{
    const char *cursor = text;
    const char *line;
    size_t len;

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            len--;
        if (len > 6 && line[0] == '*' && line[1] == '*' && line[2] == ' '
            && line[len - 1] == '*' && line[len - 2] == '*' && line[len - 3] == ' ')
            return true;
    }
    return false;
}

/* The lines after "The response (from the remote server) was:" up to the
 * next blank line, as one line; NULL if there is none. */
static char *response_in_text(const char *text)
{
    const char *cursor = text;
    const char *line;
    size_t len;
    bool in_response = false;
    C_BUF buf = { NULL, 0, 0 };

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        if (!in_response) {
            in_response = c_line_starts(line, len, "The response", false)
                && len > 5 && c_line_contains(line, len, " was:");
            continue;
        }
        if (c_line_blank(line, len)) {
            if (buf.len > 0)
                break;
            continue;
        }
        c_buf_words(&buf, line, len);
    }
    return c_buf_take(&buf);
}

/* The explanation between the headline and "The response...", one line. */
static char *explanation_in_text(const char *text)
{
    const char *cursor = text;
    const char *line;
    size_t len;
    bool started = false;
    C_BUF buf = { NULL, 0, 0 };

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        if (!started) {
            started = len > 2 && line[0] == '*' && line[1] == '*';
            continue;
        }
        if (c_line_starts(line, len, "The response", false)
            || c_line_starts(line, len, "Learn more", false))
            break;
        c_buf_words(&buf, line, len);
    }
    return c_buf_take(&buf);
}

static int googleworkspace_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    char *response;
    char *explanation;

    if (!googleworkspace_match(msg) || !has_headline(msg->text))
        return 0;
    c_rcpts_from_dsn(msg, report);
    c_rcpts_from_list(bmsg_header(msg, "X-Failed-Recipients"), report);
    if (report->count == first)
        return 0;
    response = response_in_text(msg->text);
    explanation = explanation_in_text(msg->text);
    for (size_t i = first; i < report->count; i++) {
        BOUNCE_RCPT *rcpt = &report->rcpts[i];

        if (response != NULL
            && (rcpt->diagnostic == NULL || strlen(response) > strlen(rcpt->diagnostic)))
            c_set_response(rcpt, response, strlen(response));
        else if (rcpt->diagnostic == NULL && explanation != NULL)
            rcpt_set(&rcpt->diagnostic, explanation);
        for (size_t p = 0; rcpt->reason == NULL && response_phrases[p].phrase != NULL; p++)
            if (rcpt->diagnostic != NULL && strstr(rcpt->diagnostic, response_phrases[p].phrase) != NULL)
                rcpt->reason = response_phrases[p].reason;
        for (size_t p = 0; rcpt->reason == NULL && rcpt->replycode == NULL && explanation != NULL
             && explanation_phrases[p].phrase != NULL; p++)
            if (strstr(explanation, explanation_phrases[p].phrase) != NULL)
                rcpt->reason = explanation_phrases[p].reason;
    }
    free(response);
    free(explanation);
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_googleworkspace = {
    "googleworkspace", googleworkspace_match, googleworkspace_parse,
};
