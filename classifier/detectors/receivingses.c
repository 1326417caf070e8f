/*
 * receivingses.c: bounces from Amazon SES email receiving.
 *
 * Offers detector_receivingses.  When SES receives mail for a domain and a
 * receipt rule rejects it, SES answers with an RFC 3464 report: the text
 * "This message could not be delivered." and a DSN whose Reporting-MTA is
 * an inbound-smtp.<region>.amazonaws.com host.  The Diagnostic-Code is the
 * response SES (or the receipt rule) gave, already one line.
 */
#include "config.h"

#include <string.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

static bool receivingses_match(const BOUNCE_MSG *msg)
{
    return bmsg_header(msg, "X-SES-Outgoing") != NULL;
}

static bool is_ses_inbound(const BOUNCE_MSG *msg)
{
    const char *mta = fields_get(&msg->dsn_message, "Reporting-MTA");

    return mta != NULL && strstr(mta, "inbound-smtp.") != NULL
        && strstr(mta, ".amazonaws.com") != NULL;
}

static int receivingses_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    int added;

    if (msg->dsn_rcpt_count == 0 || !is_ses_inbound(msg))
        return 0;
    if ((added = rcpts_from_dsn_part(msg, report)) > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_receivingses = {
    "receivingses", receivingses_match, receivingses_parse,
};
