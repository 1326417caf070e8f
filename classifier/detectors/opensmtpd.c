/*
 * opensmtpd.c: detector for OpenSMTPD bounces (smtpd/bounce.c).
 *
 * Offers detector_opensmtpd to detectors.c.  OpenSMTPD says, after "This
 * is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.", why it
 * writes (an error, a delay, a success) and lists one recipient per line
 * with the response or its own error string:
 *
 *   kijitora@example.jp: 550 5.2.2 <kijitora@example.jp>... Mailbox Full
 *   neko@example.org: Domain does not exist
 *
 * Its own error strings (mta.c, queue.c) name the reason.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

static bool opensmtpd_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");

    if (subject == NULL || after_prefix_nocase(subject, "Delivery status notification") == NULL)
        return false;
    return find_nocase(bmsg_header(msg, "From"), "Mailer Daemon <") != NULL
        || header_contains(msg, "Received", " (OpenSMTPD) with ");
}

/* OpenSMTPD's own failure strings. */
static const PHRASE_REASON os_phrases[] = {
    { "Envelope expired", "expired" },
    { "Invalid domain name", "hostunknown" },
    { "Domain does not exist", "hostunknown" },
    { "Destination seem to reject all mails", "notaccept" },
    { "Address family mismatch on destination MXs", "networkerror" },
    { "All routes to destination blocked", "networkerror" },
    { "bad DNS lookup error code", "networkerror" },
    { "Could not retrieve source address", "networkerror" },
    { "Loop detected", "networkerror" },
    { "Network error on destination MXs", "networkerror" },
    { "No MX found for domain", "networkerror" },
    { "No MX found for destination", "networkerror" },
    { "No valid route to remote MX", "networkerror" },
    { "No valid route to destination", "networkerror" },
    { "Temporary failure in MX lookup", "networkerror" },
    { "Could not retrieve credentials", "securityerror" },
    { NULL, NULL }
};

/* What the notice is about, from the sentence before the list. */
static const char *action_of(const char *line)
{
    if (strstr(line, "An error has occurred while attempting to deliver") != NULL)
        return "failed";
    if (strstr(line, "A message is delayed for more than") != NULL)
        return "delayed";
    if (strstr(line, "was successfully delivered to these recipients") != NULL)
        return "delivered";
    if (strstr(line, "was relayed to these recipients") != NULL)
        return "relayed";
    return NULL;
}

/* "user@example.jp: text" (the colon may be missing in old versions). */
static bool split_recipient_line(const char *line, const char **addr, size_t *addr_len,
                                 const char **text)
{
    size_t len;

    if (isspace((unsigned char) line[0]) || line[0] == '\0')
        return false;
    len = strcspn(line, " \t");
    if (memchr(line, '@', len) == NULL || line[len] == '\0')
        return false;
    *addr = line;
    *addr_len = len > 0 && line[len - 1] == ':' ? len - 1 : len;
    *text = line + len;
    return true;
}

static void rcpt_set_reason(BOUNCE_RCPT *rcpt)
{
    const char *reason = phrase_reason(os_phrases, rcpt->diagnostic);

    if (reason == NULL)
        return;
    rcpt->reason = reason;
    /* An expired envelope has left the queue, whatever the notice's
     * heading says. */
    if (strcmp(reason, "expired") == 0)
        rcpt_set(&rcpt->action, "failed");
}

static int opensmtpd_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    bool opened = false;
    const char *action = "failed";
    int added = 0;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *addr;
        const char *text;
        const char *act;
        size_t len;
        BOUNCE_RCPT *rcpt;
        char *raw;

        if (!opened) {
            opened = strstr(line, "This is the MAILER-DAEMON, please DO NOT REPLY") != NULL;
            continue;
        }
        if (strstr(line, "Below is a copy of the original message") != NULL)
            break;
        if ((act = action_of(line)) != NULL) {
            action = act;
            continue;
        }
        if (!split_recipient_line(line, &addr, &len, &text) || (rcpt = report_add(report)) == NULL)
            continue;
        added++;
        raw = strndup(addr, len);
        rcpt_set_address(&rcpt->recipient, raw);
        free(raw);
        rcpt_set(&rcpt->action, action);
        rcpt_set_response(rcpt, text);
        rcpt_set_reason(rcpt);
    }
    lines_free(&lines);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_opensmtpd = { "opensmtpd", opensmtpd_match, opensmtpd_parse };
