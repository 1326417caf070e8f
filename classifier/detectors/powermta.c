/*
 * powermta.c: detector for PowerMTA "Delivery report" DSNs.
 *
 * Offers detector_powermta to detectors.c.  PowerMTA sends a standard
 * multipart/report ("Hello, this is the mail server on host.") whose
 * recipient groups carry its own classification of the response:
 *
 *   Final-Recipient: rfc822;user@example.jp
 *   Status: 5.2.1 (mailbox disabled, not accepting messages)
 *   Diagnostic-Code: smtp;550 5.2.1 <user@example.jp>... User Unknown
 *   X-PowerMTA-BounceCategory: bad-mailbox
 *
 * The bounce category is the reason, stated structurally.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

/* PowerMTA's bounce categories that name one reason. */
static const struct {
    const char *category;
    const char *reason;
} pm_categories[] = {
    { "bad-domain", "hostunknown" },
    { "bad-mailbox", "userunknown" },
    { "inactive-mailbox", "suspend" },
    { "message-expired", "expired" },
    { "no-answer-from-host", "networkerror" },
    { "policy-related", "policyviolation" },
    { "quota-issues", "mailboxfull" },
    { "routing-errors", "systemerror" },
    { "spam-related", "spamdetected" },
    { "virus-related", "virusdetected" },
    { "relaying-issues", "norelaying" },
    { "content-related", "contenterror" },
    { NULL, NULL }
};

static bool powermta_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");

    return subject != NULL && strstr(subject, "Delivery report") != NULL;
}

/* PowerMTA's: its greeting in the text or its fields in the DSN. */
static bool is_powermta(const BOUNCE_MSG *msg, const DSN_GROUPS *dsn)
{
    if (strstr(msg->text, "Hello, this is the mail server on ") != NULL)
        return true;
    if (fields_get(dsn->per_message, "X-PowerMTA-VirtualMTA") != NULL)
        return true;
    for (size_t i = 0; i < dsn->count; i++)
        if (fields_get(&dsn->rcpt[i], "X-PowerMTA-BounceCategory") != NULL)
            return true;
    return false;
}

static void rcpt_set_reason(BOUNCE_RCPT *rcpt, const char *category)
{
    for (int i = 0; category != NULL && pm_categories[i].category != NULL; i++)
        if (strcasecmp(category, pm_categories[i].category) == 0) {
            rcpt->reason = pm_categories[i].reason;
            return;
        }
}

static int powermta_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    DSN_GROUPS dsn;
    int added = 0;

    dsn_groups_of(msg, NULL, &dsn);
    if (is_powermta(msg, &dsn)) {
        for (size_t i = 0; i < dsn.count; i++) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt == NULL)
                break;
            added++;
            rcpt_from_dsn(rcpt, &dsn.rcpt[i], dsn.per_message);
            if (rcpt->action == NULL)
                rcpt_set(&rcpt->action, "failed");
            rcpt_set_reason(rcpt, fields_get(&dsn.rcpt[i], "X-PowerMTA-BounceCategory"));
        }
    }
    dsn_groups_free(&dsn);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_powermta = { "powermta", powermta_match, powermta_parse };
