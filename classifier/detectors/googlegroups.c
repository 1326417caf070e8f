/*
 * googlegroups.c: Google Groups refusing a post.
 *
 * Offers detector_googlegroups.  When a message to a group address is not
 * accepted (the group does not exist, or the sender may not post), Google
 * answers from mailer-daemon@googlemail.com with a text in the sender's
 * language ("We're writing to let you know that the group you tried to
 * contact (name) may not exist, or you may not have permission to post
 * messages to the group...") signed "Google Groups", and names the group
 * address only in X-Failed-Recipients.  The refusal is the group's policy,
 * not a response from a server: the reason is "rejected".
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "bounce.h"
#include "toolkit.h"
#include "detector.h"

static bool googlegroups_match(const BOUNCE_MSG *msg)
{
    return header_contains(msg, "From", "mailer-daemon@googlemail.com")
        && bmsg_header(msg, "X-Failed-Recipients") != NULL;
}

/* The template is translated, but its link and signature are not. */
static bool is_groups_notice(const BOUNCE_MSG *msg)
{
    return strstr(msg->text, "groups.google.com") != NULL
        && strstr(msg->text, "Google Group") != NULL;
}

static int googlegroups_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    const char *end = strstr(msg->text, "----- Original message -----");
    size_t first = report->count;
    TEXT_BUF notice = { NULL, 0, 0, false };
    char *diag;

    if (!is_groups_notice(msg))
        return 0;
    if (rcpts_from_list(bmsg_header(msg, "X-Failed-Recipients"), report) == 0)
        return 0;
    buf_join(&notice, msg->text, end ? (size_t) (end - msg->text) : strlen(msg->text));
    diag = buf_take(&notice);
    for (size_t i = first; i < report->count; i++) {
        rcpt_set(&report->rcpts[i].diagnostic, diag);
        report->rcpts[i].reason = "rejected";
    }
    free(diag);
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

const DETECTOR detector_googlegroups = {
    "googlegroups", googlegroups_match, googlegroups_parse,
};
