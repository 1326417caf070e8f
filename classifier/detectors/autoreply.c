/*
 * detectors/autoreply.c: RFC 3834 automatic replies (vacation, out of office).
 *
 * Offers detectors.c the auto-reply path, tried only after every bounce
 * detector declined: bounces carry "Auto-Submitted: auto-replied" too
 * (Postfix does), so a message with a delivery-status part, a bounce
 * sender (MAILER-DAEMON, postmaster) or a bounce subject is never taken
 * for an auto-reply.  The recipient is the sender of the auto-reply; it is
 * recorded, never suppressed (kind REPORT_AUTOREPLY, reason "vacation").
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "detector.h"
#include "toolkit.h"

/* Subject prefixes of auto-replies in the languages seen most. */
static const char *const autoreply_subjects[] = {
    "auto:", "auto response", "automatic reply", "auto reply", "auto-reply", "autoreply",
    "automatische antwort", "abwesenheitsnotiz", "réponse automatique", "respuesta automática",
    "risposta automatica", "out of office", "out of the office", "vacation", "away from",
    "自動応答", NULL,
};

/* Signs that the message is a delivery failure, whatever its headers claim. */
static const char *const bounce_subjects[] = {
    "undeliver", "undelivered", "returned mail", "delivery status", "delivery failure",
    "delivery notification", "failure notice", "mail delivery", "not delivered",
    "delivery has failed", "mail failure", "could not be delivered", NULL,
};
static const char *const bounce_senders[] = {
    "mailer-daemon", "postmaster@", "root@", "mail delivery", NULL,
};

static bool starts_with_any(const char *value, const char *const *list)
{
    if (value == NULL)
        return false;
    while (isspace((unsigned char) *value))
        value++;
    for (int i = 0; list[i] != NULL; i++)
        if (strncasecmp(value, list[i], strlen(list[i])) == 0)
            return true;
    return false;
}

static bool looks_like_bounce(const BOUNCE_MSG *msg)
{
    return msg->dsn_rcpt_count > 0 || msg->feedback != NULL
        || (msg->report_type != NULL && strcmp(msg->report_type, "delivery-status") == 0)
        || contains_any(bmsg_header(msg, "From"), bounce_senders)
        || contains_any(bmsg_header(msg, "Subject"), bounce_subjects);
}

static bool autoreply_match(const BOUNCE_MSG *msg)
{
    if (looks_like_bounce(msg))
        return false;
    return header_starts(msg, "Auto-Submitted", "auto-replied")
        || bmsg_header(msg, "X-Autoreply") != NULL
        || bmsg_header(msg, "X-Autorespond") != NULL
        || header_starts(msg, "Precedence", "auto_reply")
        || header_starts(msg, "X-Apple-Action", "vacation")
        || starts_with_any(bmsg_header(msg, "Subject"), autoreply_subjects);
}

/* The first lines of the reply ("I'm out of the office until ...") as one line. */
static void set_reply_text(BOUNCE_RCPT *rcpt, const char *text)
{
    char line[512];
    size_t len = 0;
    int lines = 0;

    for (const char *p = text; *p && lines < 5 && len < sizeof(line) - 1; p++) {
        if (*p == '\n') {
            if (len > 0 && line[len - 1] != ' ') {
                line[len++] = ' ';
                lines++;
            }
            continue;
        }
        if (isspace((unsigned char) *p) && (len == 0 || line[len - 1] == ' '))
            continue;
        line[len++] = isspace((unsigned char) *p) ? ' ' : *p;
    }
    /* Do not cut a UTF-8 sequence in two. */
    while (len > 0 && ((unsigned char) line[len - 1] & 0xC0) == 0x80)
        len--;
    if (len > 0 && ((unsigned char) line[len - 1] & 0xC0) == 0xC0)
        len--;
    rcpt_setn(&rcpt->diagnostic, line, len);
}

static int autoreply_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    char address[ADDR_MAX + 1];
    const char *subject = bmsg_header(msg, "Subject");
    BOUNCE_RCPT *rcpt;

    if (header_first_address(bmsg_header(msg, "From"), address, sizeof(address)) != 0
        && header_first_address(bmsg_header(msg, "Return-Path"), address, sizeof(address)) != 0)
        return 0;
    if ((rcpt = report_add(report)) == NULL)
        return 0;
    rcpt_set(&rcpt->recipient, address);
    rcpt->reason = "vacation";
    set_reply_text(rcpt, *msg->text != '\0' ? msg->text : (subject ? subject : ""));
    report->kind = REPORT_AUTOREPLY;
    return 1;
}

const DETECTOR detector_autoreply = {
    "autoreply",
    autoreply_match,
    autoreply_parse,
};
