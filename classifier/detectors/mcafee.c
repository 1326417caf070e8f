/*
 * mcafee.c: detector for McAfee Email Gateway / Email and Web Security
 * (X-NAI-Header: Modified by McAfee ..., Subject "Delivery Status"):
 *
 *       --- The following addresses had delivery problems ---
 *
 *   <user@example.com>   (User unknown user@example.com)
 *
 * plus a delivery-status part whose groups carry only Original-Recipient,
 * Action, Diagnostic-Code and Remote-MTA.  The DSN's Diagnostic-Code (with
 * its reply code) is preferred; the text's parenthesis otherwise.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool mcafee_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "X-NAI-Header", "Modified by McAfee")
           && header_is(msg, "Subject", "Delivery Status");
}

/* "<user@example.com>   (text)": the address and the text. */
static bool problem_line(const char *line, char **addr, const char **text, size_t *text_len)
{
    const char *start;
    size_t len;
    const char *open;
    size_t n = strlen(line);

    while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
        n--;
    if (line[0] != '<' || n == 0 || line[n - 1] != ')'
        || !find_angle_address(line, &start, &len) || start != line + 1)
        return false;
    open = skip_blank(start + len + 1);
    if (*open != '(')
        return false;
    *text = open + 1;
    *text_len = (size_t) (line + n - 1 - *text);
    *addr = strndup(start, len);
    return *addr != NULL;
}

/* The notice's details begin after the line that starts so. */
static const char opening[] = "--- The following addresses had delivery problems ---";

static int mcafee_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = lines_after(&lines, 0, opening); i < lines.count; i++) {
        const char *line = lines.line[i];
        char *addr;
        const char *text;
        size_t len;
        BOUNCE_RCPT *rcpt;

        if (!problem_line(line, &addr, &text, &len))
            continue;
        if ((rcpt = report_add(report)) != NULL) {
            rcpt_set_address(&rcpt->recipient, addr);
            rcpt_set(&rcpt->action, "failed");
            rcpt_setn(&rcpt->diagnostic, text, len);
        }
        free(addr);
    }
    for (size_t g = 0; g < msg->dsn_rcpt_count; g++) {
        const BOUNCE_FIELDS *group = &msg->dsn_rcpts[g];
        const char *addr = fields_get(group, "Final-Recipient");
        BOUNCE_RCPT *rcpt;

        if (addr == NULL)
            addr = fields_get(group, "Original-Recipient");
        if ((rcpt = report_find(report, first, dsn_value(addr))) == NULL)
            continue;
        rcpt_from_dsn(rcpt, group, &msg->dsn_message);
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_mcafee = { "mcafee", mcafee_match, mcafee_parse };
