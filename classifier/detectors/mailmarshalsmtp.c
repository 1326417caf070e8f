/*
 * mailmarshalsmtp.c: detector for MailMarshal SMTP (Trustwave), Subject
 * 'Undeliverable Mail: "<original subject>"':
 *
 *   Could not be delivered because of
 *
 *   550 5.1.1 User unknown
 *
 *   The following recipients were affected:
 *       dummyuser@blabla.example.com
 *
 *   Additional Information
 *   ======================
 *   Remote-MTA:         <10.0.0.1>
 *   Reporting-MTA:      <relay.example.com>
 *
 * The reply between the two markers is every listed recipient's diagnostic.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool mailmarshalsmtp_match(const BOUNCE_MSG *msg)
{
    return header_starts(msg, "Subject", "Undeliverable Mail: \"");
}

/* "Remote-MTA:   <10.0.0.1>": the value without its brackets. */
static char *info_value(const char *line, const char *name)
{
    const char *p;
    size_t len;

    if (!after_prefix_nocase(line, name))
        return NULL;
    p = skip_blank(line + strlen(name));
    if (*p == '<')
        p++;
    len = strlen(p);
    while (len > 0 && (p[len - 1] == '>' || p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    return len > 0 ? strndup(p, len) : NULL;
}

static int mailmarshalsmtp_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    TEXT_BUF error = { NULL, 0, 0, false };
    enum { BEFORE, ERROR, RECIPIENTS, AFTER } state = BEFORE;
    char *remote = NULL;
    char *reporting = NULL;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        char *value;

        if (after_prefix(line, "Could not be delivered because of")) {
            state = ERROR;
        } else if (after_prefix(line, "The following recipients were affected:")) {
            state = RECIPIENTS;
        } else if (state == ERROR) {
            buf_join_str(&error, line);
        } else if (state == RECIPIENTS && after_prefix(line, "    ") && is_address_line(line)) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, skip_blank(line));
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (state == RECIPIENTS && !is_blank(line)) {
            state = AFTER;
        }
        if (state == AFTER && (value = info_value(line, "Remote-MTA:")) != NULL) {
            free(remote);
            remote = value;
        } else if (state == AFTER && (value = info_value(line, "Reporting-MTA:")) != NULL) {
            free(reporting);
            reporting = value;
        }
    }
    for (size_t r = first; r < report->count; r++) {
        rcpt_set(&report->rcpts[r].diagnostic, error.data);
        rcpt_set(&report->rcpts[r].remote_mta, remote);
        rcpt_set(&report->rcpts[r].reporting_mta, reporting);
    }
    free(remote);
    free(reporting);
    buf_free(&error);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_mailmarshalsmtp = {
    "mailmarshalsmtp", mailmarshalsmtp_match, mailmarshalsmtp_parse
};
