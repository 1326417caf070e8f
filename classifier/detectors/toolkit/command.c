/*
 * toolkit/command.c: the SMTP command a failure answered (toolkit.h:
 * smtp_command_in, smtp_command_named, rcpt_set_command).
 *
 * Offers the detectors and detectors.c one table of the phrases the MTAs'
 * texts use to name the command the remote server refused ("in reply to
 * RCPT TO command", "after end of data", ">>> MAIL From:<x>", "(state
 * 14)"...).  classify.c needs the command: "user unknown" after DATA is a
 * content filter speaking, not a missing mailbox.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "detectors/toolkit.h"

/*
 * The phrases of the MTAs' texts that name the SMTP command a server's
 * response answered.  Matched without regard to case; where several stand
 * in one text, the earliest wins.
 */
static const struct {
    const char *phrase;
    const char *command;
} command_phrases[] = {
    /* Postfix: "(in reply to RCPT TO command)", "refused to talk to me";
     * the MTAs that copy its wording drop "command" or "TO" */
    { "in reply to RCPT", "RCPT" },
    { "in reply to MAIL FROM", "MAIL" },
    { "in reply to end of DATA", "DATA" },
    { "in reply to DATA", "DATA" },
    { "in reply to EHLO", "HELO" },
    { "in reply to HELO", "HELO" },
    { "in reply to LHLO", "HELO" },
    { "refused to talk to me", "CONN" },
    /* Exim: "SMTP error from remote mail server after RCPT TO:<x>:";
     * GMX: "after RCPT command" */
    { "after RCPT", "RCPT" },
    { "after pipelined RCPT TO", "RCPT" },
    { "after MAIL FROM", "MAIL" },
    { "after pipelined MAIL FROM", "MAIL" },
    { "after MAIL command", "MAIL" },
    { "after end of data", "DATA" },
    { "after pipelined DATA", "DATA" },
    { "after DATA", "DATA" },
    { "after EHLO", "HELO" },
    { "after HELO", "HELO" },
    { "after LHLO", "HELO" },
    { "after initial connection", "CONN" },
    /* Sendmail, Courier, InterScan transcripts: ">>> RCPT To:<x>" */
    { ">>> RCPT", "RCPT" },
    { ">>> MAIL", "MAIL" },
    { ">>> DATA", "DATA" },
    { ">>> .", "DATA" },
    { ">>> EHLO", "HELO" },
    { ">>> HELO", "HELO" },
    /* qmail-remote */
    { "does not like recipient", "RCPT" },
    { "failed on DATA command", "DATA" },
    { "failed after I sent the message", "DATA" },
    { "but greeting failed", "CONN" },
    { "my name was rejected", "HELO" },
    { "sender was rejected", "MAIL" },
    { "most progress was RCPT TO", "RCPT" },
    /* DragonFly: "did not like our RCPT TO:" */
    { "did not like our RCPT TO", "RCPT" },
    { "did not like our MAIL FROM", "MAIL" },
    { "did not like our final DATA", "DATA" },
    { "did not like our DATA", "DATA" },
    { "did not like our EHLO", "HELO" },
    { "did not like our HELO", "HELO" },
    { "did not like our greeting", "CONN" },
    /* Oracle Messaging Server's "Reason:" summaries */
    { "Remote SMTP server has rejected address", "RCPT" },
    { "SMTP transmission failure has occurred", "DATA" },
    /* technicaldetails.c (Sisimai X3) "SMTP:RCPT host 192.0.2.8: 553 ..." */
    { "SMTP:RCPT", "RCPT" },
    { "SMTP:MAIL", "MAIL" },
    { "SMTP:DATA", "DATA" },
    /* SendGrid "... 550 5.1.1 <x>... User Unknown  in RCPT TO" */
    { " in RCPT TO", "RCPT" },
    { " in MAIL FROM", "MAIL" },
    /* errorsending.c (Sisimai X6) "(Error following RCPT command)"; 1&1
     * "SMTP error from remote server for TEXT command" (TEXT: the message
     * after DATA) */
    { "following RCPT command", "RCPT" },
    { "following MAIL command", "MAIL" },
    { "following DATA command", "DATA" },
    { "for RCPT command", "RCPT" },
    { "for MAIL command", "MAIL" },
    { "for DATA command", "DATA" },
    { "for TEXT command", "DATA" },
    /* errorsending.c (Sisimai X6) "refused to accept your message (DATA)" */
    { "message (DATA)", "DATA" },
    /* Exchange and Office 365: a remote server's refusal of RCPT TO,
     * "Remote server returned unknown recipient or mailbox unavailable
     * -> 550 <x>: User unknown" */
    { "unknown recipient or mailbox unavailable ->", "RCPT" },
    /* IMail Server */
    { "Additional RCPT TO generated following response", "RCPT" },
    { "Server response to MAIL FROM", "MAIL" },
    { "DATA command generated response", "DATA" },
    { "Unexpected response to EHLO/HELO", "HELO" },
    { "SMTP connection failed", "CONN" },
    { "Unexpected connection response from server", "CONN" },
    /* Gmail: "(state 14)", the stage of its SMTP client */
    { "(state 6)", "MAIL" },
    { "(state 13)", "HELO" },
    { "(state 14)", "RCPT" },
    { "(state 15)", "DATA" },
    { "(state 17)", "DATA" },
    { "(state 18)", "DATA" },
    /* Yahoo: "[RCPT_TO]" after the response */
    { "[RCPT_TO]", "RCPT" },
    { "[MAIL_FROM]", "MAIL" },
    { NULL, NULL }
};

const char *smtp_command_in(const char *text)
{
    const char *best = NULL;
    const char *command = NULL;

    if (text == NULL)
        return NULL;
    for (size_t i = 0; command_phrases[i].phrase != NULL; i++) {
        const char *hit = strcasestr(text, command_phrases[i].phrase);

        if (hit != NULL && (best == NULL || hit < best)) {
            best = hit;
            command = command_phrases[i].command;
        }
    }
    return command;
}

const char *smtp_command_named(const char *verb)
{
    static const struct {
        const char *verb;
        const char *command;
    } verbs[] = {
        { "EHLO", "HELO" }, { "HELO", "HELO" }, { "LHLO", "HELO" },
        { "MAIL", "MAIL" }, { "RCPT", "RCPT" }, { "DATA", "DATA" },
        { NULL, NULL }
    };
    const char *p = verb != NULL ? skip_blank(verb) : NULL;

    if (p == NULL)
        return NULL;
    for (size_t i = 0; verbs[i].verb != NULL; i++)
        if (strncasecmp(p, verbs[i].verb, 4) == 0 && !isalnum((unsigned char) p[4]))
            return verbs[i].command;
    return NULL;
}

void rcpt_set_command(BOUNCE_RCPT *rcpt, const char *text)
{
    const char *command;

    if (rcpt->command == NULL && (command = smtp_command_in(text)) != NULL)
        rcpt_set(&rcpt->command, command);
}
