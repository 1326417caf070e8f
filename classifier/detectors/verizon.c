/*
 * verizon.c: Verizon Wireless (vtext.com SMS, vzwpix.com MMS) bounces.
 *
 * Offers detector_verizon.  Two layouts:
 *   - the MMS gateway (MMSC NDR Administrator, ...vzwpix.com):
 *       Message could not be delivered to mobile.
 *       Error: No valid recipients for this MM
 *     and the original's "To:" under "Original Message:";
 *   - the SMS gateway (post_master@vtext.com):
 *       Error: Invalid user address
 *       Error message below:
 *       550 - Requested action not taken: no such user here
 *     and "RCPT TO: user@vtext.com" under "Message details:".
 * The "Error:" line is the gateway's own verdict: both of these name a
 * recipient that does not exist.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

static const PHRASE_REASON gateway_errors[] = {
    { "No valid recipients for this MM", "userunknown" },
    { "Invalid user address", "userunknown" },
    { NULL, NULL },
};

static bool verizon_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "From", "vzwpix.com")
        || header_contains(msg, "From", "vtext.com")
        || header_contains(msg, "Received", "vzwpix.com")
        || header_contains(msg, "Received", "vtext.com");
}

/* Value of the first "Label: value" line (after leading space). */
static bool line_value(const char *text, const char *label, const char **value, size_t *len)
{
    const char *line = find_line(text, label);

    if (line == NULL)
        return false;
    *value = line + strlen(label);
    *len = strcspn(*value, "\r\n");
    return true;
}

static int verizon_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *error;
    const char *value;
    size_t elen;
    size_t len;
    char addr[320];
    const char *reason;
    char *error_line;
    BOUNCE_RCPT *rcpt;

    if (!verizon_match(msg) || !line_value(msg->text, "Error:", &error, &elen))
        return 0;
    /* The SMS gateway names the envelope recipient; the MMS one the
     * original's To (after "Original Message:"). */
    if (!(line_value(msg->text, "RCPT TO:", &value, &len)
          && find_address(value, len, addr, sizeof(addr))))
    {
        const char *orig = strstr(msg->text, "Original Message:");

        if (orig == NULL || !line_value(orig, "To:", &value, &len)
            || !find_address(value, len, addr, sizeof(addr)))
            return 0;
    }
    if ((rcpt = report_add(report)) == NULL)
        return 0;
    rcpt_set_address(&rcpt->recipient, addr);
    if (line_value(msg->text, "Error message below:", &value, &len)) {
        /* The response is on the line after the label. */
        const char *next = strchr(value, '\n');
        const char *end = next ? strchr(next + 1, '\n') : NULL;

        char *response = next ? strndup(next + 1, end ? (size_t) (end - next - 1) : strlen(next + 1)) : NULL;

        rcpt_set_response(rcpt, response);
        free(response);
    }
    if ((error_line = strndup(error, elen)) != NULL) {
        if (rcpt->diagnostic == NULL)
            rcpt_set_response(rcpt, error_line);
        if ((reason = phrase_reason(gateway_errors, error_line)) != NULL)
            rcpt->reason = reason;
        free(error_line);
    }
    report->kind = REPORT_BOUNCE;
    return 1;
}

const DETECTOR detector_verizon = {
    "verizon", verizon_match, verizon_parse,
};
