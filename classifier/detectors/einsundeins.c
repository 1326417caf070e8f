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

#include "b_util.h"
#include "detector.h"

static bool einsundeins_match(const BOUNCE_MSG *msg)
{
    return b_header_prefix(msg, "From", "\"Mail Delivery System\"")
           && b_header_is(msg, "Subject", "Mail delivery failed: returning message to sender");
}

/* "... host: NAME (ip) reason: REPLY": fill remote_mta and the diagnostic. */
static void set_diagnostic(BOUNCE_RCPT *rcpt, B_TEXT *text)
{
    const char *host;
    const char *reason;

    if (text->s == NULL)
        return;
    b_squeeze(text->s);
    host = strstr(text->s, "host: ");
    reason = strstr(text->s, " reason: ");
    if (host != NULL && reason != NULL && host < reason) {
        const char *end = host + 6;

        while (*end != '\0' && *end != ' ')
            end++;
        rcpt_setn(&rcpt->remote_mta, host + 6, (size_t) (end - host - 6));
        rcpt_set(&rcpt->diagnostic, reason + 9);
    } else {
        rcpt_set(&rcpt->diagnostic, text->s);
    }
    if (strstr(text->s, "Mail size limit exceeded") != NULL)
        rcpt->reason = "mesgtoobig";
    b_fill_codes(rcpt);
    b_text_free(text);
}

static int einsundeins_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    B_LINES lines;
    size_t first = report->count;
    bool started = false;
    BOUNCE_RCPT *rcpt = NULL;
    B_TEXT text = { NULL, 0, 0 };

    /* Exim writes the same From and Subject; 1&1's closing line is its own. */
    if (strstr(msg->text, "--- The header of the original message is following. ---") == NULL
        || b_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.n; i++) {
        char *line = lines.v[i];
        size_t len = strlen(line);

        if (!started) {
            started = b_prefix(line, "This message was created automatically "
                                     "by mail delivery software");
            continue;
        }
        if (b_prefix(line, "--- The header of the original message is following. ---"))
            break;
        /* "general@example.eu" or "xxxx@xxxx.fr:" alone on a line. */
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = '\0';
        if (len > 0 && line[len - 1] == ':' && strchr(line, ' ') == NULL)
            line[--len] = '\0';
        if (line[0] != ' ' && b_is_address_line(line)) {
            if (rcpt != NULL)
                set_diagnostic(rcpt, &text);
            if ((rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, line);
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (rcpt != NULL && !b_prefix(line, "For the following reason:")) {
            b_text_add(&text, line);
        }
    }
    if (rcpt != NULL)
        set_diagnostic(rcpt, &text);
    b_text_free(&text);
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_einsundeins = { "einsundeins", einsundeins_match, einsundeins_parse };
