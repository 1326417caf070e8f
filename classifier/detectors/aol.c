/*
 * aol.c: detector for AOL's old screen-name bounces.
 *
 * Offers detector_aol to detectors.c.  AOL's mail system (MAILER-DAEMON@
 * aol.com) refused mail for its members with a plain-text note that names
 * them by screen name, without a domain:
 *
 *   Your mail to the following recipients could not be delivered because
 *   they are not accepting mail from list@example.org:
 *           screenname
 *
 * The format is the one Mailman's flufl.bounce AOL detector reads
 * (tests/corpus/flufl aol_01).  A screen name is the local part of an
 * aol.com address; a name written with its domain is taken as it is.
 * The list ends at the first line that is blank after a name or holds
 * more than one word.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "detector.h"
#include "toolkit.h"

static const char aol_phrase[] = "mail to the following recipients could not be delivered";

/* How many names one note may list at most. */
#define AOL_MAX_NAMES 100

static bool aol_match(const BOUNCE_MSG *msg)
{
    char from[ADDR_MAX + 1];
    size_t len;

    if (header_first_address(bmsg_header(msg, "From"), from, sizeof(from)) != 0)
        return false;
    len = strlen(from);
    return len > 8 && strcmp(from + len - 8, "@aol.com") == 0;
}

/* One screen name or address alone on its line (blank-trimmed), or NULL. */
static char *aol_name(const char *line)
{
    const char *p = skip_blank(line);
    size_t len = strcspn(p, " \t");

    if (len == 0 || !is_blank(p + len))
        return NULL;
    return strndup(p, len);
}

static int aol_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    size_t first = report->count;
    TEXT_BUF why = { NULL, 0, 0, false };
    TEXT_LINES lines;
    size_t i;

    /* the sender is the format's one sure mark */
    if (!aol_match(msg) || lines_split(msg->text, &lines) < 0)
        return 0;
    for (i = 0; i < lines.count; i++)
        if (find_nocase(lines.line[i], aol_phrase) != NULL)
            break;
    /* the sentence may wrap: the names start after the line ending in ':' */
    for (; i < lines.count; i++) {
        buf_join_str(&why, lines.line[i]);
        if (strchr(lines.line[i], ':') != NULL)
            break;
    }
    for (i++; i < lines.count && report->count - first < AOL_MAX_NAMES; i++) {
        char *name;
        char *address;
        BOUNCE_RCPT *rcpt;

        if (is_blank(lines.line[i])) {
            if (report->count > first)
                break;
            continue;
        }
        if ((name = aol_name(lines.line[i])) == NULL)
            break;
        if (strchr(name, '@') != NULL)
            address = name;
        else if ((address = malloc(strlen(name) + sizeof("@aol.com"))) != NULL) {
            strcpy(address, name);
            strcat(address, "@aol.com");
            free(name);
        } else {
            free(name);
            break;
        }
        if ((rcpt = report_add(report)) != NULL) {
            rcpt_set_address(&rcpt->recipient, address);
            rcpt_set(&rcpt->action, "failed");
            rcpt_set_response(rcpt, buf_str(&why));
        }
        free(address);
    }
    buf_free(&why);
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_aol = {
    "aol",
    aol_match,
    aol_parse,
};
