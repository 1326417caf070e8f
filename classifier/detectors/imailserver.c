/*
 * imailserver.c: detector for Ipswitch IMail Server ("X-Mailer: <SMTP32
 * v8.22>", Subject "Undeliverable Mail").  One line per recipient in
 * IMail's words, optionally followed by the remote server's reply:
 *
 *   Unknown user: kijitora@example.com
 *
 *   undeliverable to kijitora@example.jp
 *   Body of message generated response:
 *   550-REJECTED - Blacklisted URL in message. ...
 *   550 DEALS UPDATE ...
 *
 * IMail's own labels ("User mailbox exceeds allowed size:", "Invalid final
 * delivery userid:") state the reason; a remote reply is the diagnostic.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

/* IMail's fixed labels and the reason each one states. */
static const struct {
    const char *label;
    const char *reason;
} labels[] = {
    { "Unknown host", "hostunknown" },
    { "Unknown user", "userunknown" },
    { "Invalid final delivery userid", "userunknown" },
    { "User mailbox exceeds allowed size", "mailboxfull" },
    { "Requested action not taken: virus detected", "virusdetected" },
    { "Delivery failed ", "expired" },      /* "Delivery failed 3 attempts" */
    { NULL, NULL }
};

/* Where IMail quotes the remote server, after one of these lines. */
static const char *const reply_intros[] = {
    "Body of message generated response:",
    "SMTP connection failed,",
    "Unexpected connection response from server:",
    "Unexpected response to EHLO/HELO:",
    "Server response to MAIL FROM:",
    "Additional RCPT TO generated following response:",
    "DATA command generated response:",
    NULL
};

static bool imailserver_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");

    return header_starts(msg, "X-Mailer", "<SMTP32 v")
           || (subject != NULL && after_prefix(skip_blank(subject), "Undeliverable Mail")
               && is_blank(skip_blank(subject) + 18));
}

/* "Label: user@example.org": the label and the address. */
static bool label_line(char *line, const char **label, const char **addr)
{
    char *colon = strrchr(line, ':');
    const char *start;
    size_t len;

    /* A label is words ("Unknown user"), not a header ("To:"). */
    if (colon == NULL || colon == line || memchr(line, ' ', (size_t) (colon - line)) == NULL
        || !is_address_line(colon + 1) || !find_bare_address(colon + 1, &start, &len))
        return false;
    *colon = '\0';
    *label = line;
    *addr = skip_blank(colon + 1);
    return true;
}

static const char *reason_of(const char *label)
{
    for (size_t i = 0; labels[i].label != NULL; i++)
        if (after_prefix_nocase(label, labels[i].label))
            return labels[i].reason;
    return NULL;
}

static bool is_reply_intro(const char *line)
{
    for (size_t i = 0; reply_intros[i] != NULL; i++)
        if (strstr(line, reply_intros[i]) != NULL)
            return true;
    return false;
}

static int imailserver_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        char *line = lines.line[i];
        const char *label;
        const char *addr;
        size_t used;

        if (after_prefix(line, "Original message follows."))
            break;
        if (after_prefix_nocase(line, "undeliverable to ") && is_address_line(line + 17)) {
            if ((rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, line + 17);
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (is_reply_intro(line) && rcpt != NULL && i + 1 < lines.count) {
            char *reply = reply_join_lines(lines.line, lines.count, i + 1, "", &used);

            if (reply != NULL) {
                free(rcpt->diagnostic);
                rcpt->diagnostic = squeeze_space(reply);
                rcpt->reason = NULL;
                i += used;
            }
        } else if (label_line(line, &label, &addr)) {
            if ((rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
                rcpt_set(&rcpt->diagnostic, label);
                rcpt->reason = reason_of(label);
            }
        }
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_imailserver = { "imailserver", imailserver_match, imailserver_parse };
