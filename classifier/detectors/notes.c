/*
 * notes.c: detector for Lotus Notes SMTP MTA "Undeliverable message"
 * reports.
 *
 * Offers detector_notes to detectors.c.  The Notes MTA writes the reason
 * above the address it concerns, between two rulers:
 *
 *   ------- Failure Reasons  --------
 *
 *   User not listed in public Name & Address Book
 *   user@notes.example.jp
 *
 *   ------- Returned Message --------
 *
 * in the server's language and charset (message.c has made it UTF-8).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

static bool notes_match(const BOUNCE_MSG *msg)
{
    return after_prefix_nocase(bmsg_header(msg, "Subject"), "Undeliverable message") != NULL;
}

/* The Notes MTA's own sentences. */
static const PHRASE_REASON nt_phrases[] = {
    { "User not listed in public Name & Address Book", "userunknown" },
    /* "ディレクトリのリストにありません" (not in the directory's list) */
    { "\xe3\x83\x87\xe3\x82\xa3\xe3\x83\xac\xe3\x82\xaf\xe3\x83\x88\xe3\x83\xaa"
      "\xe3\x81\xae\xe3\x83\xaa\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xab\xe3\x81\x82"
      "\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93", "userunknown" },
    { "Message has exceeded maximum hop count", "networkerror" },
    { NULL, NULL }
};

static bool starts_with_address(const char *line)
{
    size_t len = strcspn(line, " \t");

    return len > 2 && !isspace((unsigned char) line[0]) && memchr(line, '@', len) != NULL;
}

static BOUNCE_RCPT *add_recipient(BOUNCE_REPORT *report, const char *address,
                                  const char *diagnostic)
{
    BOUNCE_RCPT *rcpt = report_add(report);
    const char *reason;

    if (rcpt == NULL)
        return NULL;
    rcpt_set_address(&rcpt->recipient, address);
    rcpt_set(&rcpt->action, "failed");
    if (diagnostic != NULL && *diagnostic)
        rcpt_set_response(rcpt, diagnostic);
    if ((reason = phrase_reason(nt_phrases, rcpt->diagnostic)) != NULL)
        rcpt->reason = reason;
    return rcpt;
}

/* The To: of the returned message, which Notes inlines after its ruler. */
static char *returned_to(const BOUNCE_MSG *msg)
{
    const char *to = bmsg_returned_header(msg, "To");
    const char *ruler = strstr(msg->text, "------- Returned Message");
    BOUNCE_FIELDS headers = { NULL, 0 };
    char *copy = NULL;

    if (to != NULL)
        return strdup(to);
    if (ruler == NULL || (ruler = strchr(ruler, '\n')) == NULL)
        return NULL;
    fields_parse(ruler + 1, &headers);
    if ((to = fields_get(&headers, "To")) != NULL)
        copy = strdup(to);
    fields_free(&headers);
    return copy;
}

static int notes_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    TEXT_LINES lines;
    TEXT_BUF reason = { NULL, 0, 0, false };
    char *last_reason = NULL;
    bool opened = false;
    int added = 0;

    if (lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];

        if (!opened) {
            opened = after_prefix_nocase(line, "------- Failure Reasons") != NULL;
            continue;
        }
        if (after_prefix_nocase(line, "------- Returned Message") != NULL)
            break;
        if (is_blank(line) || line[0] == '-')
            continue;
        if (starts_with_address(line)) {
            /* Several addresses under one reason share it. */
            if (reason.len > 0) {
                free(last_reason);
                last_reason = strdup(buf_str(&reason));
                buf_free(&reason);
            }
            if (add_recipient(report, line, last_reason) != NULL)
                added++;
        } else {
            buf_join_str(&reason, line);
        }
    }
    lines_free(&lines);
    /* No address in the reasons: the returned message says whom. */
    if (opened && added == 0) {
        char *to = returned_to(msg);

        if (to != NULL && strchr(to, '@') != NULL
            && add_recipient(report, to, buf_str(&reason)) != NULL)
            added++;
        free(to);
    }
    free(last_reason);
    buf_free(&reason);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_notes = { "notes", notes_match, notes_parse };
