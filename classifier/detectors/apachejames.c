/*
 * apachejames.c: detector for Apache James bounces (AbstractNotify mailet).
 *
 * Offers detector_apachejames to detectors.c.  James writes the remote
 * server's response after "Error message below:" and the envelope under
 * "Message details:":
 *
 *   Error message below:
 *   550 - Requested action not taken: no such user here
 *
 *   Message details:
 *     Subject: Test message
 *     MAIL FROM: sender@example.com
 *     RCPT TO: user@example.org
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

static bool apachejames_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");
    const char *id = bmsg_header(msg, "Message-Id");

    return (subject != NULL && strcmp(subject, "[BOUNCE]") == 0)
        || (id != NULL && strstr(id, ".JavaMail.") != NULL)
        || header_contains(msg, "Received", "JAMES SMTP Server");
}

static int apachejames_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    enum { BEFORE, ERROR, DETAILS } state = BEFORE;
    TEXT_LINES lines;
    TEXT_BUF error = { NULL, 0, 0, false };
    TEXT_BUF rcpts = { NULL, 0, 0, false };
    int added = 0;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *rest;

        if (strcmp(line, "Error message below:") == 0) {
            state = ERROR;
        } else if (strcmp(line, "Message details:") == 0) {
            state = DETAILS;
        } else if (state == ERROR) {
            buf_join_str(&error, line);
        } else if (state == DETAILS
                   && (rest = after_prefix_nocase(line + strspn(line, " "), "RCPT TO:")) != NULL) {
            /* One address per line; kept space-separated until the end. */
            buf_join_str(&rcpts, rest);
        }
    }
    lines_free(&lines);
    for (const char *p = buf_str(&rcpts); *p; ) {
        size_t len = strcspn(p, " ");
        char *address = strndup(p, len);
        BOUNCE_RCPT *rcpt;

        if (address != NULL && strchr(address, '@') != NULL && (rcpt = report_add(report)) != NULL) {
            added++;
            rcpt_set_address(&rcpt->recipient, address);
            rcpt_set(&rcpt->action, "failed");
            rcpt_set_response(rcpt, buf_str(&error));
        }
        free(address);
        p += len;
        p += strspn(p, " ");
    }
    buf_free(&error);
    buf_free(&rcpts);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_apachejames = { "apachejames", apachejames_match, apachejames_parse };
