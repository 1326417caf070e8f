/*
 * fml.c: detector for the fml mailing list manager's error notices
 * (X-MLServer: fml, From <list>-admin@, Message-ID <....FML...@...>):
 *
 *   You are not a member of this mailing list <neko-nyaan@example.org>.
 *   Duplicated Message-ID in <neko@example.co.jp>.
 *
 * The address is the list that refused the post; fml's fixed messages (and
 * its Subject) state the reason.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "toolkit.h"
#include "detector.h"

/* fml's fixed messages (body first, then Subject) and their reasons. */
static const struct {
    const char *words;
    const char *reason;
} messages[] = {
    { "NOT MEMBER article from ", "rejected" },
    { "reject mail from ", "rejected" },
    { "header may cause mail loop", "rejected" },
    { "reject spammers:", "rejected" },
    { "You are not a member of this mailing list", "rejected" },
    { "Duplicated Message-ID", "systemerror" },
    { "has detected a loop condition so that", "systemerror" },
    { "Loop Back Warning:", "systemerror" },
    { "Security alert:", "securityerror" },
    { NULL, NULL }
};

static const struct {
    const char *words;
    const char *reason;
} subjects[] = {
    { "NOT MEMBER article from ", "rejected" },
    { "Spam mail from a spammer is rejected", "rejected" },
    { " are not member", "rejected" },
    { "fml system error message", "systemerror" },
    { "Loop Alert: ", "systemerror" },
    { "Loop Back Warning: ", "systemerror" },
    { "WARNING: UNIX FROM Loop", "systemerror" },
    { "Security Alert", "securityerror" },
    { NULL, NULL }
};

static bool fml_match(const BOUNCE_MSG *msg)
{
    return bmsg_header(msg, "X-MLServer") != NULL
           && header_contains(msg, "From", "-admin@")
           && header_contains(msg, "Message-ID", ".FML");
}

static const char *reason_of(const char *diagnostic, const char *subject)
{
    for (size_t i = 0; diagnostic != NULL && messages[i].words != NULL; i++)
        if (find_nocase(diagnostic, messages[i].words) != NULL)
            return messages[i].reason;
    for (size_t i = 0; subject != NULL && subjects[i].words != NULL; i++)
        if (find_nocase(subject, subjects[i].words) != NULL)
            return subjects[i].reason;
    return NULL;
}

static int fml_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    size_t first = report->count;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        size_t len = strlen(line);
        const char *start;
        size_t alen;
        BOUNCE_RCPT *rcpt;
        char *addr;

        if (after_prefix(line, "Original mail as follows:"))
            break;
        /* "... <list@example.org>." ends the sentence that names the list. */
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
            len--;
        if (len < 3 || strncmp(line + len - 2, ">.", 2) != 0
            || !find_angle_address(line, &start, &alen) || start + alen != line + len - 2
            || (addr = strndup(start, alen)) == NULL)
            continue;
        if ((rcpt = report_add(report)) != NULL) {
            rcpt_set_address(&rcpt->recipient, addr);
            rcpt_set(&rcpt->action, "failed");
            rcpt_set(&rcpt->diagnostic, line);
            squeeze_space(rcpt->diagnostic);
            rcpt->reason = reason_of(rcpt->diagnostic, bmsg_header(msg, "Subject"));
        }
        free(addr);
    }
    lines_free(&lines);
    return report_finish(report, first);
}

const DETECTOR detector_fml = { "fml", fml_match, fml_parse };
