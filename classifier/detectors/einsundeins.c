/*
 * einsundeins.c: detector for 1&1 (kundenserver.de, "Mail delivery failed:
 * returning message to sender" from "Mail Delivery System"), an Exim-like
 * text that ends with "--- The header of the original message is
 * following. ---":
 *
 *   The following address failed:
 *
 *   general@example.eu
 *
 *   For the following reason:
 *
 *   Mail size limit exceeded. For explanation visit ...
 *
 * or, for a remote rejection:
 *
 *   xxxx@xxxx.fr:
 *   SMTP error from remote server for TEXT command, host: smtp-in.orange.fr
 *   (193.252.22.65) reason: 550 5.2.0 Mail rejete. Mail rejected. ofr_506 [506]
 *
 * The diagnostic is the remote reply after "reason:" (else 1&1's text);
 * "Mail size limit exceeded" is 1&1's own verdict.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool einsundeins_match(const BOUNCE_MSG *msg)
{
    return header_starts(msg, "From", "\"Mail Delivery System\"")
           && header_is(msg, "Subject", "Mail delivery failed: returning message to sender");
}

/* "... host: NAME (ip) reason: REPLY": fill remote_mta and the diagnostic. */
static void set_diagnostic(BOUNCE_RCPT *rcpt, TEXT_BUF *text)
{
    const char *host;
    const char *reason;

    if (text->data == NULL)
        return;
    squeeze_space(text->data);
    /* "SMTP error from remote server for TEXT command" */
    rcpt_set_command(rcpt, text->data);
    host = strstr(text->data, "host: ");
    reason = strstr(text->data, " reason: ");
    if (host != NULL && reason != NULL && host < reason) {
        const char *end = host + 6;

        while (*end != '\0' && *end != ' ')
            end++;
        rcpt_setn(&rcpt->remote_mta, host + 6, (size_t) (end - host - 6));
        rcpt_set(&rcpt->diagnostic, reason + 9);
    } else {
        rcpt_set(&rcpt->diagnostic, text->data);
    }
    if (strstr(text->data, "Mail size limit exceeded") != NULL)
        rcpt->reason = "mesgtoobig";
    buf_free(text);
}

/* The notice's details begin after the line that starts so. */
static const char opening[] = "This message was created automatically by mail delivery software";

static int einsundeins_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;
    TEXT_BUF text = { NULL, 0, 0, false };

    /* Exim writes the same From and Subject; 1&1's closing line is its own. */
    if (strstr(msg->text, "--- The header of the original message is following. ---") == NULL
        || lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = lines_after(&lines, 0, opening); i < lines.count; i++) {
        char *line = lines.line[i];
        size_t len = strlen(line);

        if (after_prefix(line, "--- The header of the original message is following. ---"))
            break;
        /* "general@example.eu" or "xxxx@xxxx.fr:" alone on a line. */
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        if (len > 0 && line[len - 1] == ':' && strchr(line, ' ') == NULL)
            line[--len] = '\0';
        if (line[0] != ' ' && is_address_line(line)) {
            if (rcpt != NULL)
                set_diagnostic(rcpt, &text);
            if ((rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, line);
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (rcpt != NULL && !after_prefix(line, "For the following reason:")) {
            buf_join_str(&text, line);
        }
    }
    if (rcpt != NULL)
        set_diagnostic(rcpt, &text);
    buf_free(&text);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_einsundeins = { "einsundeins", einsundeins_match, einsundeins_parse };
