/*
 * returnedmail.c: detector for the "Returned Mail: User unknown" notices
 * of an unnamed MTA (Japanese ISP relays, "Mail2000"), Sisimai's X1
 * (Lhost::X1): From "Mail Deliver System", Subject "Returned Mail: User
 * unknown", and one line per recipient with its error in brackets:
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

static bool returnedmail_match(const BOUNCE_MSG *msg)
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

/* The notice's details begin after the line that starts so. */
static const char opening[] = "The original message was received at ";

static int returnedmail_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = lines_after(&lines, 0, opening); i < lines.count; i++) {
        char *addr;
        char *error;
        BOUNCE_RCPT *rcpt;

        if (!error_line(lines.line[i], &addr, &error)
            || (rcpt = report_add(report)) == NULL)
            continue;
        rcpt_set_address(&rcpt->recipient, addr);
        rcpt_set(&rcpt->diagnostic, error);
        rcpt_set(&rcpt->action, "failed");
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_returnedmail = { "returnedmail", returnedmail_match, returnedmail_parse };
