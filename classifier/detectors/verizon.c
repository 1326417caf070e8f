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
#include "c_util.h"
#include "detector.h"

static const struct {
    const char *error;
    const char *reason;
} gateway_errors[] = {
    { "No valid recipients for this MM", "userunknown" },
    { "Invalid user address", "userunknown" },
    { NULL, NULL },
};

static bool verizon_match(const BOUNCE_MSG *msg)
{
    return c_header_has(msg, "From", "vzwpix.com")
        || c_header_has(msg, "From", "vtext.com")
        || c_header_has(msg, "Received", "vzwpix.com")
        || c_header_has(msg, "Received", "vtext.com");
}

/* Value of the first "Label: value" line (after leading space). */
static bool line_value(const char *text, const char *label, const char **value, size_t *len)
{
    const char *cursor = text;
    const char *line;
    size_t n;
    size_t llen = strlen(label);

    while ((line = c_next_line(&cursor, &n)) != NULL) {
        while (n > 0 && (*line == ' ' || *line == '\t')) {
            line++;
            n--;
        }
        if (n >= llen && strncmp(line, label, llen) == 0) {
            *value = line + llen;
            *len = n - llen;
            return true;
        }
    }
    return false;
}

static int verizon_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *error;
    const char *value;
    size_t elen;
    size_t len;
    char addr[320];
    BOUNCE_RCPT *rcpt;

    if (!verizon_match(msg) || !line_value(msg->text, "Error:", &error, &elen))
        return 0;
    /* The SMS gateway names the envelope recipient; the MMS one the
     * original's To (after "Original Message:"). */
    if (!(line_value(msg->text, "RCPT TO:", &value, &len)
          && c_find_address(value, len, addr, sizeof(addr))))
    {
        const char *orig = strstr(msg->text, "Original Message:");

        if (orig == NULL || !line_value(orig, "To:", &value, &len)
            || !c_find_address(value, len, addr, sizeof(addr)))
            return 0;
    }
    if ((rcpt = report_add(report)) == NULL)
        return 0;
    rcpt_set_address(&rcpt->recipient, addr);
    if (line_value(msg->text, "Error message below:", &value, &len)) {
        /* The response is on the line after the label. */
        const char *next = strchr(value, '\n');
        const char *end = next ? strchr(next + 1, '\n') : NULL;

        if (next != NULL)
            c_set_response(rcpt, next + 1, end ? (size_t) (end - next - 1) : strlen(next + 1));
    }
    if (rcpt->diagnostic == NULL)
        c_set_response(rcpt, error, elen);
    for (size_t i = 0; gateway_errors[i].error != NULL; i++)
        if (strstr(error, gateway_errors[i].error) != NULL
            && (size_t) (strstr(error, gateway_errors[i].error) - error) < elen)
            rcpt->reason = gateway_errors[i].reason;
    report->kind = REPORT_BOUNCE;
    return 1;
}

const DETECTOR detector_verizon = {
    "verizon", verizon_match, verizon_parse,
};
