/*
 * office365.c: Office 365 / Exchange Online non-delivery reports.
 *
 * Offers detector_office365.  Exchange Online writes the Exchange NDR
 * (exchange_ndr_parse(): "Delivery has failed to these recipients or
 * groups:", "Diagnostic information for administrators:", "Remote Server
 * returned '...'", or the 2017+ layout with "Recipient Address:" and
 * "Reported error:") and is told apart from on-premises Exchange by its
 * hosts (*.outlook.com, *.exchangelabs.com, onmicrosoft.com) and its
 * X-MS-Exchange-CrossTenant-* headers.
 *
 * Exchange Online's own enhanced status codes (5.1.10, 5.4.316, 5.7.5xx
 * ...) are documented one by one by Microsoft: each names its cause, so
 * it states the reason.
 */
#include "config.h"

#include <string.h>

#include "bounce.h"
#include "formats.h"
#include "toolkit.h"
#include "detector.h"

/* Exchange Online status codes -> reason (Microsoft's NDR code list).
 * A '*' in the last place matches any one digit. */
static const struct {
    const char *status;
    const char *reason;
} o365_codes[] = {
    { "4.4.7", "expired" },         /* message expired in the queue */
    { "4.4.312", "networkerror" },  /* DNS query failed */
    { "4.4.316", "expired" },       /* connection refused until expiry */
    { "4.7.26", "securityerror" },  /* unauthenticated sender */
    { "4.7.5**", "blocked" },       /* sending IP throttled / blocked */
    { "4.7.85*", "blocked" },
    { "4.7.86*", "blocked" },
    { "4.7.87*", "blocked" },
    { "4.7.88*", "blocked" },
    { "4.7.89*", "blocked" },
    { "5.0.350", "contenterror" },
    { "5.1.10", "userunknown" },    /* recipient not found by SMTP address lookup */
    { "5.4.1", "norelaying" },      /* relay access denied */
    { "5.4.6", "networkerror" },    /* routing loop */
    { "5.4.312", "networkerror" },  /* DNS query failed */
    { "5.4.316", "expired" },       /* connection refused until expiry */
    { "5.6.11", "contenterror" },   /* bare line feeds */
    { "5.7.12", "rejected" },       /* sender not authenticated by the organization */
    { "5.7.13", "rejected" },
    { "5.7.124", "rejected" },      /* sender not in the group's allowed list */
    { "5.7.133", "rejected" },
    { "5.7.134", "rejected" },
    { "5.7.135", "rejected" },
    { "5.7.136", "rejected" },
    { "5.7.23", "blocked" },        /* SPF violation */
    { "5.7.25", "networkerror" },   /* no reverse DNS */
    { "5.7.501", "spamdetected" },
    { "5.7.502", "spamdetected" },
    { "5.7.503", "spamdetected" },
    { "5.7.504", "filtered" },
    { "5.7.505", "filtered" },
    { "5.7.506", "blocked" },
    { "5.7.507", "blocked" },
    { "5.7.508", "toomanyconn" },
    { "5.7.509", "securityerror" },
    { "5.7.510", "notaccept" },
    { "5.7.511", "rejected" },
    { "5.7.512", "securityerror" },
    { "5.7.57", "securityerror" },
    { "5.7.606", "blocked" },
    { "5.7.607", "blocked" },
    { "5.7.608", "blocked" },
    { "5.7.609", "blocked" },
    { "5.7.61*", "blocked" },
    { "5.7.62*", "blocked" },
    { "5.7.63*", "blocked" },
    { "5.7.64*", "blocked" },
    { "5.7.70*", "toomanyconn" },
    { "5.7.71*", "toomanyconn" },
    { "5.7.72*", "toomanyconn" },
    { "5.7.73*", "toomanyconn" },
    { "5.7.74*", "toomanyconn" },
    { NULL, NULL },
};

static bool code_matches(const char *pattern, const char *status)
{
    for (; *pattern && *status; pattern++, status++)
        if (*pattern != *status && !(*pattern == '*' && *status >= '0' && *status <= '9'))
            return false;
    return *pattern == '\0' && *status == '\0';
}

static const char *o365_reason(const char *status)
{
    if (status == NULL)
        return NULL;
    for (size_t i = 0; o365_codes[i].status != NULL; i++)
        if (code_matches(o365_codes[i].status, status))
            return o365_codes[i].reason;
    return NULL;
}

/* Exchange Online's hosts and headers (on-premises Exchange writes the
 * same NDR, so these are what tells them apart). */
static bool office365_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "Message-ID", ".outlook.com")
        || header_contains(msg, "Message-ID", ".exchangelabs.com")
        || header_contains(msg, "From", ".onmicrosoft.com")
        || header_contains(msg, "From", "postmaster@outlook.com")
        || header_contains(msg, "Received", ".outlook.com")
        || bmsg_header(msg, "X-MS-Exchange-CrossTenant-OriginalArrivalTime") != NULL
        || bmsg_header(msg, "X-MS-Exchange-CrossTenant-FromEntityHeader") != NULL;
}

static int office365_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    int added;

    if (!office365_match(msg) || !exchange_ndr_markers(msg->text))
        return 0;
    added = exchange_ndr_parse(msg, report);

    for (size_t i = first; i < report->count; i++) {
        BOUNCE_RCPT *rcpt = &report->rcpts[i];
        const char *reason = o365_reason(rcpt->status);

        /* The code is more precise than a resolver name (5.1.10 vs 5.1.1). */
        if (reason != NULL)
            rcpt->reason = reason;
    }
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_office365 = {
    "office365", office365_match, office365_parse,
};
