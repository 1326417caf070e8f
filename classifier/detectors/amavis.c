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

#include "toolkit.h"
#include "detector.h"

/* amavisd's blocking categories (%smtp_reason_by_ccat) and their reasons. */
static const PHRASE_REASON categories[] = {
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

    return from != NULL && after_prefix(skip_blank(from), "\"Content-filter at ");
}

static int amavis_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    DSN_GROUPS dsn;
    TEXT_LINES lines = { NULL, 0, NULL };

    /* Forwarded or broken: the fields are somewhere in the flat text. */
    if (msg->dsn_rcpt_count == 0 && lines_split(msg->flat, &lines) < 0)
        return 0;
    dsn_groups_of(msg, &lines, &dsn);
    for (size_t g = 0; g < dsn.count; g++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            break;
        rcpt_from_dsn(rcpt, &dsn.rcpt[g], dsn.per_message);
        if (rcpt->recipient == NULL) {
            report_truncate(report, report->count - 1);
            continue;
        }
        if (rcpt->action == NULL)
            rcpt_set(&rcpt->action, "failed");
        rcpt->reason = phrase_reason(categories, rcpt->diagnostic);
    }
    dsn_groups_free(&dsn);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_amavis = { "amavis", amavis_match, amavis_parse };
