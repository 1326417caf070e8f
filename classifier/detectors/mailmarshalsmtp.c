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

#include "b_util.h"
#include "detector.h"

static bool mailmarshalsmtp_match(const BOUNCE_MSG *msg)
{
    return b_header_prefix(msg, "Subject", "Undeliverable Mail: \"");
}

/* "Remote-MTA:   <10.0.0.1>": the value without its brackets. */
static char *info_value(const char *line, const char *name)
{
    const char *p;
    size_t len;

    if (!b_prefix_ci(line, name))
        return NULL;
    p = b_skip_blank(line + strlen(name));
    if (*p == '<')
        p++;
    len = strlen(p);
    while (len > 0 && (p[len - 1] == '>' || p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    return len > 0 ? strndup(p, len) : NULL;
}

static int mailmarshalsmtp_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    B_LINES lines;
    size_t first = report->count;
    B_TEXT error = { NULL, 0, 0 };
    enum { BEFORE, ERROR, RECIPIENTS, AFTER } state = BEFORE;
    char *remote = NULL;
    char *reporting = NULL;

    if (b_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.n; i++) {
        const char *line = lines.v[i];
        char *value;

        if (b_prefix(line, "Could not be delivered because of")) {
            state = ERROR;
        } else if (b_prefix(line, "The following recipients were affected:")) {
            state = RECIPIENTS;
        } else if (state == ERROR) {
            b_text_add(&error, line);
        } else if (state == RECIPIENTS && b_prefix(line, "    ") && b_is_address_line(line)) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, b_skip_blank(line));
                rcpt_set(&rcpt->action, "failed");
            }
        } else if (state == RECIPIENTS && !b_blank(line)) {
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
        rcpt_set(&report->rcpts[r].diagnostic, error.s);
        rcpt_set(&report->rcpts[r].remote_mta, remote);
        rcpt_set(&report->rcpts[r].reporting_mta, reporting);
        b_fill_codes(&report->rcpts[r]);
    }
    free(remote);
    free(reporting);
    b_text_free(&error);
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_mailmarshalsmtp = {
    "mailmarshalsmtp", mailmarshalsmtp_match, mailmarshalsmtp_parse
};
