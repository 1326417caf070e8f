/*
 * exchange2007.c: on-premises Microsoft Exchange (2007 and later) NDRs.
 *
 * Offers detector_exchange2007.  Subject "Undeliverable: ..." (or the
 * localized "Non remis :", "Non recapitabile:", "Unzustellbar:"), a
 * multipart/report whose text has "Delivery has failed to these
 * recipients or groups:", "Diagnostic information for administrators:",
 * "Generating server:" and the response as "#550 5.1.1
 * RESOLVER.ADR.RecipNotFound; not found ##" or "Remote Server returned
 * '...'".  Parsing is shared with Office 365 (exchange_ndr_parse()), which
 * comes first in the detector order and claims Exchange Online's reports.
 */
#include "config.h"

#include <string.h>

#include "bounce.h"
#include "formats.h"
#include "toolkit.h"
#include "detector.h"

static bool exchange2007_match(const BOUNCE_MSG *msg)
{
    static const char *const subjects[] = {
        "Undeliverable:", "Non remis", "Non recapitabile:", "Unzustellbar:",
        "No se puede entregar:", "Onbestelbaar:", "Niet bezorgd:", NULL
    };
    const char *subject = bmsg_header(msg, "Subject");

    if (bmsg_header(msg, "X-MS-Exchange-Message-Is-Ndr") != NULL)
        return true;
    for (size_t i = 0; subject != NULL && subjects[i] != NULL; i++)
        if (strncmp(subject, subjects[i], strlen(subjects[i])) == 0)
            return true;
    return false;
}

static int exchange2007_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    int added;

    if (!exchange_ndr_markers(msg->text))
        return 0;
    if ((added = exchange_ndr_parse(msg, report)) > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_exchange2007 = {
    "exchange2007", exchange2007_match, exchange2007_parse,
};
