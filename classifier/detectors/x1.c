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

#include "b_util.h"
#include "detector.h"

static bool x1_match(const BOUNCE_MSG *msg)
{
    return b_header_prefix(msg, "Subject", "Returned Mail: ")
           && b_header_has(msg, "From", "Mail Deliver System");
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
    if (!b_is_address_line(line))
        return false;
    *addr = line;
    *error = open + 2;
    return true;
}

static int x1_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    B_LINES lines;
    size_t first = report->count;
    bool started = false;

    if (b_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.n; i++) {
        char *addr;
        char *error;
        BOUNCE_RCPT *rcpt;

        if (b_prefix(lines.v[i], "The original message was received at "))
            started = true;
        if (!started || !error_line(lines.v[i], &addr, &error)
            || (rcpt = report_add(report)) == NULL)
            continue;
        rcpt_set_address(&rcpt->recipient, addr);
        rcpt_set(&rcpt->diagnostic, error);
        rcpt_set(&rcpt->action, "failed");
        b_fill_codes(rcpt);
    }
    b_lines_free(&lines);
    if (report->count > first)
        report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_x1 = { "x1", x1_match, x1_parse };
