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
#include "toolkit.h"
#include "detector.h"

/* Google's words in the response it quotes when no server answered
 * (DNS), checked first ... */
static const PHRASE_REASON response_phrases[] = {
    { "Null MX", "notaccept" },
    { " had no relevant answers.", "networkerror" },
    { " responded with code NXDOMAIN", "networkerror" },
    { NULL, NULL },
};

/* ... and in its explanation, which only counts when no server gave an
 * SMTP reply (the headline is generic: "Address not found" also heads a
 * "501 5.1.8 Sender address rejected"). */
static const PHRASE_REASON explanation_phrases[] = {
    { "because the address couldn't be found", "userunknown" },
    { "because the domain ", "hostunknown" },
    { NULL, NULL },
};

static bool googleworkspace_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "From", "mailer-daemon@googlemail.com")
        || header_contains(msg, "From", "mailer-daemon@google.com");
}

/* "** Address not found **": Google's headline, in any language. */
static bool has_headline(const char *text)
{
    TEXT_LINES lines;
    bool found;
    size_t l;

    if (lines_split(text, &lines) < 0)
        return false;
    for (l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);

        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            len--;
        if (len > 6 && line[0] == '*' && line[1] == '*' && line[2] == ' '
            && line[len - 1] == '*' && line[len - 2] == '*' && line[len - 3] == ' ')
            break;
    }
    found = l < lines.count;
    lines_free(&lines);
    return found;
}

/* The lines after "The response (from the remote server) was:" up to the
 * next blank line, as one line; NULL if there is none. */
static char *response_in_text(const char *text)
{
    TEXT_LINES lines;
    bool in_response = false;
    TEXT_BUF buf = { NULL, 0, 0, false };

    if (lines_split(text, &lines) < 0)
        return NULL;
    for (size_t l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);

        if (!in_response) {
            in_response = after_prefix(line, "The response") != NULL
                && len > 5 && find_nocase(line, " was:") != NULL;
            continue;
        }
        if (is_blank(line)) {
            if (buf.len > 0)
                break;
            continue;
        }
        buf_join(&buf, line, len);
    }
    lines_free(&lines);
    return buf_take(&buf);
}

/* The explanation between the headline and "The response...", one line. */
static char *explanation_in_text(const char *text)
{
    TEXT_LINES lines;
    bool started = false;
    TEXT_BUF buf = { NULL, 0, 0, false };

    if (lines_split(text, &lines) < 0)
        return NULL;
    for (size_t l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);

        if (!started) {
            started = len > 2 && line[0] == '*' && line[1] == '*';
            continue;
        }
        if (after_prefix(line, "The response") != NULL
            || after_prefix(line, "Learn more") != NULL)
            break;
        buf_join(&buf, line, len);
    }
    lines_free(&lines);
    return buf_take(&buf);
}

static int googleworkspace_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    char *response;
    char *explanation;

    if (!googleworkspace_match(msg) || !has_headline(msg->text))
        return 0;
    rcpts_from_dsn_part(msg, report);
    rcpts_from_list(bmsg_header(msg, "X-Failed-Recipients"), report);
    if (report->count == first)
        return 0;
    response = response_in_text(msg->text);
    explanation = explanation_in_text(msg->text);
    for (size_t i = first; i < report->count; i++) {
        BOUNCE_RCPT *rcpt = &report->rcpts[i];

        if (response != NULL
            && (rcpt->diagnostic == NULL || strlen(response) > strlen(rcpt->diagnostic)))
            rcpt_set_response(rcpt, response);
        else if (rcpt->diagnostic == NULL && explanation != NULL)
            rcpt_set(&rcpt->diagnostic, explanation);
        if (rcpt->reason == NULL)
            rcpt->reason = phrase_reason(response_phrases, rcpt->diagnostic);
        if (rcpt->reason == NULL && rcpt->replycode == NULL)
            rcpt->reason = phrase_reason(explanation_phrases, explanation);
    }
    free(response);
    free(explanation);
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_googleworkspace = {
    "googleworkspace", googleworkspace_match, googleworkspace_parse,
};
