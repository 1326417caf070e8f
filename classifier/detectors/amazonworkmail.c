/*
 * amazonworkmail.c: bounces from Amazon WorkMail.
 *
 * Offers detector_amazonworkmail.  WorkMail sends through SES
 * (X-SES-Outgoing) with "X-Mailer: Amazon WorkMail", and writes the DSN
 * fields into its text part after a line "Technical report:" instead of a
 * message/delivery-status part.  The Diagnostic-Code is SES's, so the same
 * unwrapping applies (ses_refine_response()).
 */
#include "config.h"

#include <string.h>

#include "bounce.h"
#include "formats.h"
#include "toolkit.h"
#include "detector.h"

static bool amazonworkmail_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "X-Mailer", "Amazon WorkMail")
        || header_contains(msg, "X-Original-Mailer", "Amazon WorkMail");
}

/* The DSN fields WorkMail writes after "Technical report:". */
static int rcpts_from_technical_report(const char *text, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    DSN_GROUPS dsn;
    int added;

    if (lines_split(text, &lines) < 0)
        return 0;
    dsn_groups_in_lines(&lines, 0, &dsn);
    added = rcpts_from_dsn(&dsn, report);
    dsn_groups_free(&dsn);
    lines_free(&lines);
    return added;
}

static int amazonworkmail_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *start = find_line(msg->text, "Technical report:");
    size_t first = report->count;
    int added = 0;

    if (!amazonworkmail_match(msg))
        return 0;
    if (start != NULL)
        added = rcpts_from_technical_report(start + strlen("Technical report:"), report);
    if (added == 0 && msg->dsn_rcpt_count > 0)
        added = rcpts_from_dsn_part(msg, report);
    for (size_t i = first; i < report->count; i++)
        ses_refine_response(&report->rcpts[i]);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_amazonworkmail = {
    "amazonworkmail", amazonworkmail_match, amazonworkmail_parse,
};
