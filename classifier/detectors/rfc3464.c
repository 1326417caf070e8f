/*
 * detectors/rfc3464.c: the generic delivery status notification (RFC 3464,
 * RFC 6533 message/global-delivery-status).
 *
 * Offers detectors.c the fallback for every MTA that sends a standard DSN
 * but has no detector of its own: one recipient per per-recipient group,
 * with the remote server's whole response from Diagnostic-Code.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

/* "dns; mx.example.com" -> "mx.example.com"; "smtp; 550 ..." -> "550 ...". */
static const char *skip_type_prefix(const char *value)
{
    const char *p = value;

    while (isspace((unsigned char) *p))
        p++;
    const char *token = p;
    while (isalnum((unsigned char) *p) || *p == '-' || *p == '_')
        p++;
    if (p > token && *p == ';') {
        p++;
        while (isspace((unsigned char) *p))
            p++;
        return p;
    }
    return value;
}

/* An address field value that is a real address, not "unknown" or a pipe. */
static bool address_usable(const char *value)
{
    const char *addr;

    if (value == NULL)
        return false;
    addr = skip_type_prefix(value);
    return strchr(addr, '@') != NULL && strchr(addr, '|') == NULL;
}

static void set_host(char **field, const char *value)
{
    if (value != NULL && *skip_type_prefix(value) != '\0')
        rcpt_set(field, skip_type_prefix(value));
}

/* "failed (bad destination mailbox address)" -> "failed". */
static void set_action(BOUNCE_RCPT *rcpt, const char *value)
{
    size_t len = 0;

    if (value == NULL)
        return;
    while (isspace((unsigned char) *value))
        value++;
    while (isalpha((unsigned char) value[len]))
        len++;
    if (len == 0)
        return;
    rcpt_setn(&rcpt->action, value, len);
    for (char *p = rcpt->action; p && *p; p++)
        *p = (char) tolower((unsigned char) *p);
}

/* Status may be a code ("5.1.1") or, from broken MTAs, a reply ("553 too big"). */
static void set_status(BOUNCE_RCPT *rcpt, const char *value, const char **alt_diagnostic)
{
    const char *found;
    size_t len;

    if (value == NULL)
        return;
    len = text_find_status(value, &found);
    if (len > 0 && found == value + strspn(value, " \t"))
        rcpt_setn(&rcpt->status, found, len);
    else if (*value != '\0')
        *alt_diagnostic = value;
}

static void fill_rcpt(const BOUNCE_MSG *msg, const BOUNCE_FIELDS *group, BOUNCE_RCPT *rcpt)
{
    const char *final = fields_get(group, "Final-Recipient");
    const char *original = fields_get(group, "Original-Recipient");
    const char *actual = fields_get(group, "X-Actual-Recipient");
    const char *diagnostic = fields_get(group, "Diagnostic-Code");
    const char *alt_diagnostic = NULL;
    const char *reporting;

    if (address_usable(final))
        rcpt_set_address(&rcpt->recipient, final);
    else if (address_usable(actual))
        rcpt_set_address(&rcpt->recipient, actual);
    else if (address_usable(original))
        rcpt_set_address(&rcpt->recipient, original);
    if (address_usable(original)) {
        rcpt_set_address(&rcpt->original_recipient, original);
        if (rcpt->recipient != NULL && strcmp(rcpt->recipient, rcpt->original_recipient) != 0)
            rcpt->forwarded = true;
    }
    set_action(rcpt, fields_get(group, "Action"));
    set_status(rcpt, fields_get(group, "Status"), &alt_diagnostic);
    if (diagnostic != NULL && *skip_type_prefix(diagnostic) != '\0')
        rcpt_set(&rcpt->diagnostic, skip_type_prefix(diagnostic));
    else if (alt_diagnostic != NULL)
        rcpt_set(&rcpt->diagnostic, alt_diagnostic);
    set_host(&rcpt->remote_mta, fields_get(group, "Remote-MTA"));
    reporting = fields_get(group, "Reporting-MTA");
    if (reporting == NULL)
        reporting = fields_get(&msg->dsn_message, "Reporting-MTA");
    set_host(&rcpt->reporting_mta, reporting);
}

/* A DSN without recipient fields: the returned message says whom we sent to. */
static int rcpt_from_returned(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *to = bmsg_returned_header(msg, "To");
    BOUNCE_RCPT *rcpt;

    if (to == NULL || strchr(to, '@') == NULL || msg->dsn_rcpt_count == 0)
        return 0;
    if ((rcpt = report_add(report)) == NULL)
        return 0;
    rcpt_set_address(&rcpt->recipient, to);
    fill_rcpt(msg, &msg->dsn_rcpts[0], rcpt);
    return 1;
}

static bool rfc3464_match(const BOUNCE_MSG *msg)
{
    return msg->dsn_rcpt_count > 0 || msg->dsn_message.count > 0;
}

static int rfc3464_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    int added = 0;

    for (size_t i = 0; i < msg->dsn_rcpt_count; i++) {
        const BOUNCE_FIELDS *group = &msg->dsn_rcpts[i];
        BOUNCE_RCPT *rcpt;

        if (!address_usable(fields_get(group, "Final-Recipient"))
            && !address_usable(fields_get(group, "Original-Recipient"))
            && !address_usable(fields_get(group, "X-Actual-Recipient")))
            continue;
        if ((rcpt = report_add(report)) == NULL)
            break;
        fill_rcpt(msg, group, rcpt);
        added++;
    }
    if (added == 0)
        added = rcpt_from_returned(msg, report);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_rfc3464 = {
    "rfc3464",
    rfc3464_match,
    rfc3464_parse,
};
