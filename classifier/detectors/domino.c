/*
 * domino.c: detector for IBM (Lotus) Domino "DELIVERY FAILURE" reports.
 *
 * Offers detector_domino to detectors.c.  Domino's router writes:
 *
 *   Your message
 *
 *     Subject: Test
 *
 *   was not delivered to:
 *
 *     user@example.net
 *
 *   because:
 *
 *     User some.name (user@example.net) not listed in Domino Directory
 *
 * in the server's language, sometimes with a message/delivery-status part
 * that adds the status and the MTAs.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

typedef struct dm_entry {
    char *address;
    size_t block;           /* which "was not delivered to:" it belongs to */
} DM_ENTRY;

typedef struct dm_report {
    DM_ENTRY *item;
    size_t count;
    TEXT_BUF *because;         /* per block */
    size_t blocks;
} DM_REPORT;

static bool domino_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");

    return after_prefix_nocase(subject, "DELIVERY FAILURE:") != NULL
        || after_prefix_nocase(subject, "DELIVERY_FAILURE:") != NULL;
}

static void dm_free(DM_REPORT *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->item[i].address);
    for (size_t i = 0; i < r->blocks; i++)
        buf_free(&r->because[i]);
    free(r->item);
    free(r->because);
    memset(r, 0, sizeof(*r));
}

static bool dm_add_block(DM_REPORT *r)
{
    TEXT_BUF *more = realloc(r->because, (r->blocks + 1) * sizeof(*more));

    if (more == NULL)
        return false;
    r->because = more;
    memset(&r->because[r->blocks++], 0, sizeof(TEXT_BUF));
    return true;
}

static void dm_add_address(DM_REPORT *r, const char *address)
{
    DM_ENTRY *more = realloc(r->item, (r->count + 1) * sizeof(*more));

    if (more == NULL)
        return;
    r->item = more;
    r->item[r->count].address = strdup(address);
    r->item[r->count].block = r->blocks - 1;
    r->count++;
}

/* Reads "was not delivered to:" / "because:" blocks. */
static void dm_read(const char *text, DM_REPORT *r)
{
    enum { BEFORE, SUBJECT, ADDRESSES, BECAUSE } state = BEFORE;
    TEXT_LINES lines;

    memset(r, 0, sizeof(*r));
    if (lines_split(text, &lines) < 0)
        return;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *trimmed = line + strspn(line, " \t");

        if (state == BEFORE && after_prefix_nocase(line, "Your message") != NULL) {
            state = SUBJECT;
        } else if (state != BEFORE && strcmp(line, "was not delivered to:") == 0) {
            if (!dm_add_block(r))
                break;
            state = ADDRESSES;
        } else if (state == ADDRESSES && strcmp(line, "because:") == 0) {
            state = BECAUSE;
        } else if (state == ADDRESSES && is_indented(line) && strchr(trimmed, '@') != NULL) {
            dm_add_address(r, trimmed);
        } else if (state == BECAUSE && !is_blank(line)) {
            if (!is_indented(line) && r->because[r->blocks - 1].len > 0)
                state = SUBJECT;
            else
                buf_join_str(&r->because[r->blocks - 1], line);
        } else if (state == BECAUSE && is_blank(line) && r->because[r->blocks - 1].len > 0) {
            state = SUBJECT;
        }
    }
    lines_free(&lines);
}

/* Domino's own sentences (in the languages it ships). */
static const PHRASE_REASON dm_phrases[] = {
    { "not listed in Domino Directory", "userunknown" },
    { "not listed in public Name & Address Book", "userunknown" },
    { "non r\xc3\xa9pertori\xc3\xa9 dans l'annuaire Domino", "userunknown" },
    /* "Domino ディレクトリには見つかりません" */
    { "Domino \xe3\x83\x87\xe3\x82\xa3\xe3\x83\xac\xe3\x82\xaf\xe3\x83\x88\xe3\x83\xaa"
      "\xe3\x81\xab\xe3\x81\xaf\xe8\xa6\x8b\xe3\x81\xa4\xe3\x81\x8b\xe3\x82\x8a"
      "\xe3\x81\xbe\xe3\x81\x9b\xe3\x82\x93", "userunknown" },
    { "Several matches found in Domino Directory", "systemerror" },
    { "Maximum hop count exceeded", "networkerror" },
    { NULL, NULL }
};

static int domino_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    DM_REPORT r;
    DSN_GROUPS dsn;
    const char *reason;
    int added = 0;

    dm_read(msg->text, &r);
    dsn_groups_of(msg, NULL, &dsn);
    for (size_t i = 0; i < r.count; i++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            break;
        added++;
        /* The DSN groups follow the text's order; use their codes. */
        if (dsn.count == r.count)
            rcpt_from_dsn(rcpt, &dsn.rcpt[i], dsn.per_message);
        rcpt_set_address(&rcpt->recipient, r.item[i].address);
        if (rcpt->action == NULL)
            rcpt_set(&rcpt->action, "failed");
        if (r.because[r.item[i].block].len > 0)
            rcpt_set_response(rcpt, buf_str(&r.because[r.item[i].block]));
        if ((reason = phrase_reason(dm_phrases, rcpt->diagnostic)) != NULL)
            rcpt->reason = reason;
    }
    dsn_groups_free(&dsn);
    dm_free(&r);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_domino = { "domino", domino_match, domino_parse };
