/*
 * mailfoundry.c: detector for the MailFoundry gateway (Subject "Message
 * delivery has failed", a Received header "(MAILFOUNDRY) id"):
 *
 *   Unable to deliver message to: <kijitora@example.org>
 *   Delivery failed for the following reason:
 *   Server mx22.example.org[192.0.2.222] failed with: 550 <kijitora@example.org> No such user here
 *
 * The diagnostic is the server's reply after "failed with:" (or "responded
 * with failure:"); the server is the remote MTA.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool mailfoundry_match(const BOUNCE_MSG *msg)
{
    return header_is(msg, "Subject", "Message delivery has failed")
           && header_contains(msg, "Received", "(MAILFOUNDRY) id");
}

/* "[Server ]host[addr] failed with: reply": the reply, and the host. */
static const char *server_reply(char *line, char **host)
{
    static const char *const intros[] = { " failed with: ", " responded with failure: ", NULL };

    *host = NULL;
    for (size_t i = 0; intros[i] != NULL; i++) {
        char *p = strstr(line, intros[i]);

        if (p != NULL) {
            char *h = line;
            char *bracket;

            *p = '\0';
            if (after_prefix(h, "Server "))
                h += 7;
            if ((bracket = strchr(h, '[')) != NULL)
                *bracket = '\0';
            *host = h;
            return p + strlen(intros[i]);
        }
    }
    return NULL;
}

static int mailfoundry_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    BOUNCE_RCPT *rcpt = NULL;
    bool reason_follows = false;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        char *line = lines.line[i];
        const char *start;
        size_t len;

        if (after_prefix(line, "Unable to deliver message to: ")
            && find_angle_address(line, &start, &len)) {
            char *addr = strndup(start, len);

            if (addr != NULL && (rcpt = report_add(report)) != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
            }
            free(addr);
            reason_follows = false;
        } else if (after_prefix(line, "Delivery failed for the following reason:")) {
            reason_follows = rcpt != NULL;
        } else if (reason_follows && !is_blank(line)) {
            char *host;
            const char *reply = server_reply(line, &host);

            rcpt_set(&rcpt->diagnostic, reply ? reply : line);
            rcpt_set(&rcpt->remote_mta, host);
            reason_follows = false;
        }
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_mailfoundry = { "mailfoundry", mailfoundry_match, mailfoundry_parse };
