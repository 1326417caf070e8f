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
#include "c_util.h"
#include "detector.h"

static const struct {
    const char *phrase;
    const char *reason;
} hotmail_phrases[] = {
    { "The mail could not be delivered to the recipient because the domain is not reachable",
      "hostunknown" },
    { NULL, NULL },
};

static bool outlook_match(const BOUNCE_MSG *msg)
{
    return c_header_present(msg, "X-Message-Delivery")
        || c_header_present(msg, "X-Message-Info")
        || c_header_has(msg, "From", "hotmail.com")
        || c_header_has(msg, "Received", ".hotmail.com");
}

/* The sentence that names what happened, after the greeting line. */
static char *text_explanation(const char *text)
{
    const char *cursor = text;
    const char *line;
    size_t len;
    C_BUF buf = { NULL, 0, 0 };

    while ((line = c_next_line(&cursor, &len)) != NULL) {
        if (c_line_blank(line, len)
            || c_line_starts(line, len, "This is an automatically generated", false)
            || c_line_starts(line, len, "THIS IS A WARNING", false)
            || c_line_starts(line, len, "YOU DO NOT NEED", false))
            continue;
        c_buf_words(&buf, line, len);
        break;
    }
    return c_buf_take(&buf);
}

static int outlook_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    char *explanation;

    if (!outlook_match(msg)
        || strstr(msg->text, "This is an automatically generated Delivery Status Notification") == NULL
        || c_rcpts_from_dsn(msg, report) == 0)
        return 0;
    explanation = text_explanation(msg->text);
    for (size_t i = first; i < report->count; i++) {
        BOUNCE_RCPT *rcpt = &report->rcpts[i];

        if (rcpt->diagnostic == NULL && explanation != NULL)
            rcpt_set(&rcpt->diagnostic, explanation);
        for (size_t p = 0; rcpt->reason == NULL && rcpt->diagnostic != NULL
             && hotmail_phrases[p].phrase != NULL; p++)
            if (strstr(rcpt->diagnostic, hotmail_phrases[p].phrase) != NULL)
                rcpt->reason = hotmail_phrases[p].reason;
    }
    free(explanation);
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_outlook = {
    "outlook", outlook_match, outlook_parse,
};
