/*
 * amavis.c: detector for amavisd-new (From "Content-filter at <host>"):
 * a multipart/report whose DSN carries amavis' verdict in the
 * Diagnostic-Code ("554 5.7.0 Reject, id=20025-09 - SPAM"), and, for mail
 * it could not relay, the next MTA's reply in the text:
 *
 *   The message WAS NOT relayed to:
 *     <neko@example.co.jp>: [127.0.0.1] said:
 *      550 5.1.1 Failed, id=02022-02, from MTA([127.0.0.1]:10025): 550 5.1.1 <neko@...
 *
 * Amavis' content categories (" - SPAM", " - INFECTED", " - BAD HEADER")
 * are its own words and state the reason.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "b_util.h"
#include "detector.h"

/* amavisd's blocking categories (%smtp_reason_by_ccat) and their reasons. */
static const struct {
    const char *words;
    const char *reason;
} categories[] = {
    { " - spam", "spamdetected" },
    { " - infected", "virusdetected" },
    { " - banned", "securityerror" },
    { " - bad header", "contenterror" },
    { " - message size exceeds recipient", "mesgtoobig" },
    { " - temporary mta failure on relaying", "systemerror" },
    { " - unable to relay message back to mta", "systemerror" },
    { NULL, NULL }
};

static bool amavis_match(const BOUNCE_MSG *msg)
{
    const char *from = bmsg_header(msg, "From");

    return from != NULL && b_prefix(b_skip_blank(from), "\"Content-filter at ");
}

static const char *category_reason(const char *diagnostic)
{
    for (size_t i = 0; diagnostic != NULL && categories[i].words != NULL; i++)
        if (b_strcasestr(diagnostic, categories[i].words) != NULL)
            return categories[i].reason;
    return NULL;
}

static int amavis_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    const BOUNCE_FIELDS *groups = msg->dsn_rcpts;
    size_t count = msg->dsn_rcpt_count;
    const BOUNCE_FIELDS *per_message = &msg->dsn_message;
    BOUNCE_FIELDS text_permsg = { NULL, 0 };
    BOUNCE_FIELDS *text_groups = NULL;
    B_LINES lines = { NULL, 0 };

    if (count == 0) {
        if (b_lines_split(msg->flat, &lines) < 0)
            return 0;
        count = b_dsn_from_lines(&lines, 0, &text_permsg, &text_groups);
        groups = text_groups;
        per_message = &text_permsg;
    }
    for (size_t g = 0; g < count; g++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            break;
        b_dsn_apply(rcpt, &groups[g], per_message);
        if (rcpt->recipient == NULL) {
            b_report_drop(report, report->count - 1);
            continue;
        }
        if (rcpt->action == NULL)
            rcpt_set(&rcpt->action, "failed");
        rcpt->reason = category_reason(rcpt->diagnostic);
    }
    b_dsn_groups_free(text_groups, text_groups ? count : 0);
    fields_free(&text_permsg);
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_amavis = { "amavis", amavis_match, amavis_parse };
