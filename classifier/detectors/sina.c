/*
 * sina.c: detector for sina.com's bounces (its SINAEMAIL mail system).
 *
 * Offers detector_sina to detectors.c.  MAILER-DAEMON@sina.com answers
 * with a multipart message whose first part, in Chinese (GB2312), lists
 * each failed recipient alone on a line as "<user@example.com>:", before
 * the returned message (a message/rfc822 part).  The layout is the one
 * Mailman's flufl.bounce Sina detector reads (tests/corpus/flufl
 * sina_01); its text gives no reason, so the recipients carry none.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "detector.h"
#include "toolkit.h"

/* How many recipients one bounce may list at most. */
#define SINA_MAX_RCPTS 100

static bool sina_match(const BOUNCE_MSG *msg)
{
    char from[ADDR_MAX + 1];

    return header_first_address(bmsg_header(msg, "From"), from, sizeof(from)) == 0
        && strcmp(from, "mailer-daemon@sina.com") == 0;
}

/* "<user@example.com>:" alone on its line: the address in out. */
static bool sina_rcpt_line(const char *line, char *out, size_t outlen)
{
    const char *start;
    size_t len;

    if (line[0] != '<' || !find_angle_address(line, &start, &len) || start != line + 1
        || strcmp(start + len, ">:") != 0 || len >= outlen)
        return false;
    memcpy(out, start, len);
    out[len] = '\0';
    return true;
}

static int sina_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    TEXT_LINES lines;

    /* the sender is the format's one sure mark */
    if (!sina_match(msg) || lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count && report->count - first < SINA_MAX_RCPTS; i++) {
        char address[ADDR_MAX + 1];
        BOUNCE_RCPT *rcpt;

        if (!sina_rcpt_line(lines.line[i], address, sizeof(address))
            || report_find(report, first, address) != NULL)
            continue;
        if ((rcpt = report_add(report)) == NULL)
            break;
        rcpt_set_address(&rcpt->recipient, address);
        rcpt_set(&rcpt->action, "failed");
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_sina = {
    "sina",
    sina_match,
    sina_parse,
};
