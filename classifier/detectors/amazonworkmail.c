/*
 * amazonworkmail.c: bounces from Amazon WorkMail.
 *
 * Offers detector_amazonworkmail.  WorkMail sends through SES
 * (X-SES-Outgoing) with "X-Mailer: Amazon WorkMail", and writes the DSN
 * fields into its text part after a line "Technical report:" instead of a
 * message/delivery-status part.  The Diagnostic-Code is SES's, so the same
 * unwrapping applies (c_ses_refine()).
 */
#include "config.h"

#include <string.h>

#include "bounce.h"
#include "c_util.h"
#include "detector.h"

static bool amazonworkmail_match(const BOUNCE_MSG *msg)
{
    return c_header_has(msg, "X-Mailer", "Amazon WorkMail")
        || c_header_has(msg, "X-Original-Mailer", "Amazon WorkMail");
}

static int amazonworkmail_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *start = c_find_line(msg->text, "Technical report:", false);
    size_t first = report->count;
    int added = 0;

    if (!amazonworkmail_match(msg))
        return 0;
    if (start != NULL)
        added = c_rcpts_from_text_dsn(start + strlen("Technical report:"), report);
    if (added == 0 && msg->dsn_rcpt_count > 0)
        added = c_rcpts_from_dsn(msg, report);
    for (size_t i = first; i < report->count; i++)
        c_ses_refine(&report->rcpts[i]);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_amazonworkmail = {
    "amazonworkmail", amazonworkmail_match, amazonworkmail_parse,
};
