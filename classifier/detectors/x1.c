/*
 * x1.c: detector for an unnamed MTA Sisimai calls X1 (Japanese ISP
 * relays, "Mail2000"): From "Mail Deliver System", Subject "Returned Mail:
 * User unknown", and one line per recipient with its error in brackets:
 *
 *   ---The following addresses had delivery errors---
 *
 *   kijitora@example.co.jp [User unknown]
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool x1_match(const BOUNCE_MSG *msg)
{
    return header_starts(msg, "Subject", "Returned Mail: ")
           && header_contains(msg, "From", "Mail Deliver System");
}

/* "user@example.org [User unknown]": the address and the bracketed error. */
static bool error_line(char *line, char **addr, char **error)
{
    char *open = strstr(line, " [");
    size_t len = strlen(line);

    while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
        line[--len] = '\0';
    if (open == NULL || len == 0 || line[len - 1] != ']')
        return false;
    *open = '\0';
    line[len - 1] = '\0';
    if (!is_address_line(line))
        return false;
    *addr = line;
    *error = open + 2;
    return true;
}

static int x1_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    bool started = false;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        char *addr;
        char *error;
        BOUNCE_RCPT *rcpt;

        if (after_prefix(lines.line[i], "The original message was received at "))
            started = true;
        if (!started || !error_line(lines.line[i], &addr, &error)
            || (rcpt = report_add(report)) == NULL)
            continue;
        rcpt_set_address(&rcpt->recipient, addr);
        rcpt_set(&rcpt->diagnostic, error);
        rcpt_set(&rcpt->action, "failed");
        rcpt_complete_codes(rcpt);
    }
    lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_x1 = { "x1", x1_match, x1_parse };
