/*
 * activehunter.c: detector for TransWARE Active!hunter (header X-AHMAILID):
 *
 *     ----- The following addresses had permanent fatal errors -----
 *
 *   >>> kijitora@example.org <kijitora@example.org>
 *
 *     ----- Transcript of session follows -----
 *   550 sorry, no mailbox here by that name (#5.1.1 - chkusr)
 *
 * The first reply line of the transcript is the recipients' diagnostic.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

static bool activehunter_match(const BOUNCE_MSG *msg)
{
    return bmsg_header(msg, "X-AHMAILID") != NULL;
}

static int activehunter_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;
    bool started = false;
    bool transcript = false;
    const char *error = NULL;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *start;
        size_t len;
        char code[4];

        if (strstr(line, "----- The following addresses had permanent fatal errors -----")) {
            started = true;
        } else if (strstr(line, "----- Transcript of session follows -----")) {
            transcript = started;
        } else if (started && !transcript && after_prefix(line, ">>> ")
                   && find_angle_address(line, &start, &len)) {
            char *addr = strndup(start, len);
            BOUNCE_RCPT *rcpt = addr ? report_add(report) : NULL;

            if (rcpt != NULL) {
                rcpt_set_address(&rcpt->recipient, addr);
                rcpt_set(&rcpt->action, "failed");
            }
            free(addr);
        } else if (transcript && error == NULL && text_leading_replycode(line, code)) {
            error = line;
        }
    }
    for (size_t r = first; r < report->count; r++)
        rcpt_set(&report->rcpts[r].diagnostic, error);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_activehunter = { "activehunter", activehunter_match, activehunter_parse };
