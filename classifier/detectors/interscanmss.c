/*
 * interscanmss.c: detector for Trend Micro InterScan Messaging Security
 * Suite notices (From "InterScan ...", Subject "Mail could not be
 * delivered" or its Japanese forms):
 *
 *   Sent <<< RCPT TO:<kijitora@example.co.jp>
 *   Received >>> 550 5.1.1 <kijitora@example.co.jp>... user unknown
 *
 * or, when it did not get a reply:
 *
 *   Unable to deliver message to <kijitora@neko.example.jp> (and other
 *   recipients in the same domain). Please check if address is correct.
 *
 * The second form is InterScan's own verdict on the address.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool interscanmss_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "From", "\"InterScan MSS\"")
           || header_contains(msg, "From", "\"InterScan Notification\"")
           || header_is(msg, "Subject", "Mail could not be delivered")
           || header_is(msg, "Subject", "メッセージを配信できません。")
           || header_is(msg, "Subject", "メール配信に失敗しました");
}

static BOUNCE_RCPT *rcpt_for(BOUNCE_REPORT *report, size_t first, const char *addr, size_t len)
{
    char *copy = strndup(addr, len);
    BOUNCE_RCPT *rcpt;

    if (copy == NULL)
        return NULL;
    if ((rcpt = report_find(report, first, copy)) == NULL
        && (rcpt = report_add(report)) != NULL) {
        rcpt_set_address(&rcpt->recipient, copy);
        rcpt_set(&rcpt->action, "failed");
    }
    free(copy);
    return rcpt;
}

static int interscanmss_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *p = skip_blank(line);
        const char *start;
        size_t len;
        const char *unable;
        const char *sent = strstr(line, " <<< ");
        const char *received = strstr(line, " >>> ");

        if (after_prefix(p, "Reason:"))
            p = skip_blank(p + 7);
        if ((unable = strstr(p, "Unable to deliver message to <")) == p
            && find_angle_address(p, &start, &len)) {
            if ((rcpt = rcpt_for(report, first, start, len)) != NULL && rcpt->diagnostic == NULL) {
                rcpt_set(&rcpt->diagnostic, p);
                rcpt->reason = "userunknown";
            }
        } else if (sent != NULL && find_angle_address(sent, &start, &len)) {
            /* "Sent <<< RCPT TO:<addr>" (or its translation). */
            rcpt = rcpt_for(report, first, start, len);
        } else if (received != NULL && rcpt != NULL) {
            /* "Received >>> 550 5.1.1 <addr>... user unknown" */
            rcpt_set(&rcpt->diagnostic, skip_blank(received + 5));
            rcpt->reason = NULL;
        }
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_interscanmss = { "interscanmss", interscanmss_match, interscanmss_parse };
