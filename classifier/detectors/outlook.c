/*
 * outlook.c: Hotmail / Outlook.com (consumer) delivery status notifications.
 *
 * Offers detector_outlook.  From postmaster@...hotmail.com (or outlook.com),
 * headers X-Message-Delivery / X-Message-Info, Subject "Delivery Status
 * Notification (Failure|Delay)", text "This is an automatically generated
 * Delivery Status Notification." and an RFC 3464 part.  When the DSN has
 * no Diagnostic-Code (a delivery given up for want of a connection), the
 * text's sentence is the explanation.  Hotmail's own sentence for an
 * unreachable domain states the reason.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

static const PHRASE_REASON hotmail_phrases[] = {
    { "The mail could not be delivered to the recipient because the domain is not reachable",
      "hostunknown" },
    { NULL, NULL },
};

static bool outlook_match(const BOUNCE_MSG *msg)
{
    return bmsg_header(msg, "X-Message-Delivery") != NULL
        || bmsg_header(msg, "X-Message-Info") != NULL
        || header_contains(msg, "From", "hotmail.com")
        || header_contains(msg, "Received", ".hotmail.com");
}

/* The sentence that names what happened, after the greeting line. */
static char *text_explanation(const char *text)
{
    TEXT_LINES lines;
    TEXT_BUF buf = { NULL, 0, 0, false };

    if (lines_split(text, &lines) < 0)
        return NULL;
    for (size_t l = 0; l < lines.count; l++) {
        const char *line = lines.line[l];
        size_t len = strlen(line);

        if (is_blank(line)
            || after_prefix(line, "This is an automatically generated") != NULL
            || after_prefix(line, "THIS IS A WARNING") != NULL
            || after_prefix(line, "YOU DO NOT NEED") != NULL)
            continue;
        buf_join(&buf, line, len);
        break;
    }
    lines_free(&lines);
    return buf_take(&buf);
}

static int outlook_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    char *explanation;

    if (!outlook_match(msg)
        || strstr(msg->text, "This is an automatically generated Delivery Status Notification") == NULL
        || rcpts_from_dsn_part(msg, report) == 0)
        return 0;
    explanation = text_explanation(msg->text);
    for (size_t i = first; i < report->count; i++) {
        BOUNCE_RCPT *rcpt = &report->rcpts[i];

        if (rcpt->diagnostic == NULL && explanation != NULL)
            rcpt_set(&rcpt->diagnostic, explanation);
        if (rcpt->reason == NULL)
            rcpt->reason = phrase_reason(hotmail_phrases, rcpt->diagnostic);
    }
    free(explanation);
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_outlook = {
    "outlook", outlook_match, outlook_parse,
};
