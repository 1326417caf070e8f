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
#include "a_util.h"

static bool notes_match(const BOUNCE_MSG *msg)
{
    return a_after_prefix(bmsg_header(msg, "Subject"), "Undeliverable message") != NULL;
}

/* The Notes MTA's own sentences. */
static const struct {
    const char *phrase;
    const char *reason;
} nt_phrases[] = {
    { "User not listed in public Name & Address Book", "userunknown" },
    /* "ディレクトリのリストにありません" (not in the directory's list) */
    { "\xe3\x83\x87\xe3\x82\xa3\xe3\x83\xac\xe3\x82\xaf\xe3\x83\x88\xe3\x83\xaa"
      "\xe3\x81\xae\xe3\x83\xaa\xe3\x82\xb9\xe3\x83\x88\xe3\x81\xab\xe3\x81\x82"
      "\xe3\x82\x8a\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93", "userunknown" },
    { "Message has exceeded maximum hop count", "networkerror" },
    { NULL, NULL }
};

static bool is_address_line(const char *line)
{
    size_t len = strcspn(line, " \t");

    return len > 2 && !isspace((unsigned char) line[0]) && memchr(line, '@', len) != NULL;
}

static BOUNCE_RCPT *add_recipient(BOUNCE_REPORT *report, const char *address,
                                  const char *diagnostic)
{
    BOUNCE_RCPT *rcpt = report_add(report);
    size_t i;

    if (rcpt == NULL)
        return NULL;
    rcpt_set_address(&rcpt->recipient, address);
    rcpt_set(&rcpt->action, "failed");
    if (diagnostic != NULL && *diagnostic)
        a_rcpt_set_diagnostic(rcpt, diagnostic);
    a_rcpt_codes_from_diagnostic(rcpt);
    for (i = 0; nt_phrases[i].phrase != NULL && rcpt->diagnostic != NULL; i++)
        if (strstr(rcpt->diagnostic, nt_phrases[i].phrase) != NULL) {
            rcpt->reason = nt_phrases[i].reason;
            break;
        }
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
    A_LINES lines;
    A_BUF reason = { NULL, 0, 0, false };
    char *last_reason = NULL;
    bool opened = false;
    int added = 0;

    if (a_lines_split(msg->text, &lines) < 0)
        return 0;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];

        if (!opened) {
            opened = a_after_prefix(line, "------- Failure Reasons") != NULL;
            continue;
        }
        if (a_after_prefix(line, "------- Returned Message") != NULL)
            break;
        if (a_is_blank(line) || line[0] == '-')
            continue;
        if (is_address_line(line)) {
            /* Several addresses under one reason share it. */
            if (reason.len > 0) {
                free(last_reason);
                last_reason = strdup(a_buf_str(&reason));
                a_buf_free(&reason);
            }
            if (add_recipient(report, line, last_reason) != NULL)
                added++;
        } else {
            a_buf_join_str(&reason, line);
        }
    }
    a_lines_free(&lines);
    /* No address in the reasons: the returned message says whom. */
    if (opened && added == 0) {
        char *to = returned_to(msg);

        if (to != NULL && strchr(to, '@') != NULL
            && add_recipient(report, to, a_buf_str(&reason)) != NULL)
            added++;
        free(to);
    }
    free(last_reason);
    a_buf_free(&reason);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_notes = { "notes", notes_match, notes_parse };
