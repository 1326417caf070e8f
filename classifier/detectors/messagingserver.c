/*
 * messagingserver.c: detector for Oracle (Sun, iPlanet) Communications
 * Messaging Server delivery notifications.
 *
 * Offers detector_messagingserver to detectors.c.  The first part of the
 * multipart/report (boundary "Boundary_(ID_...)") lists per recipient:
 *
 *   Recipient address: user@example.jp
 *   Reason: Remote SMTP server has rejected address
 *   Diagnostic code: smtp;550 5.1.1 <user@example.jp>... User Unknown
 *   Remote system: dns;mx.example.jp (TCP|192.0.2.1|47323|192.0.2.225|25) (...)
 *
 * "Reason" is the server's summary, "Diagnostic code" the remote response;
 * the DSN part repeats them in fields.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

typedef struct ms_entry {
    char *address;
    char *original;
    char *reason;           /* "Reason:", Messaging Server's summary */
    char *diagnostic;       /* "Diagnostic code:" without its type */
    char *remote;
} MS_ENTRY;

typedef struct ms_entries {
    MS_ENTRY *item;
    size_t count;
} MS_ENTRIES;

static bool messagingserver_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");

    return find_nocase(bmsg_header(msg, "Content-Type"), "Boundary_(ID_") != NULL
        || (subject != NULL && after_prefix_nocase(subject, "Delivery Notification: ") != NULL);
}

static void entries_free(MS_ENTRIES *entries)
{
    for (size_t i = 0; i < entries->count; i++) {
        free(entries->item[i].address);
        free(entries->item[i].original);
        free(entries->item[i].reason);
        free(entries->item[i].diagnostic);
        free(entries->item[i].remote);
    }
    free(entries->item);
    memset(entries, 0, sizeof(*entries));
}

/* "  Name: value" with the name case-insensitive; returns the value. */
static const char *field_value(const char *line, const char *name)
{
    const char *rest;

    while (*line == ' ' || *line == '\t')
        line++;
    if ((rest = after_prefix_nocase(line, name)) == NULL)
        return NULL;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    return rest;
}

static void entries_read(const char *text, MS_ENTRIES *entries)
{
    TEXT_LINES lines;
    bool opened = false;
    MS_ENTRY *cur = NULL;

    memset(entries, 0, sizeof(*entries));
    if (lines_split(text, &lines) < 0)
        return;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *v;

        if (!opened) {
            opened = strstr(line, "This report relates to a message you sent") != NULL;
            continue;
        }
        if ((v = field_value(line, "Recipient address:")) != NULL) {
            MS_ENTRY *more = realloc(entries->item, (entries->count + 1) * sizeof(*more));

            if (more == NULL)
                break;
            entries->item = more;
            cur = &entries->item[entries->count++];
            memset(cur, 0, sizeof(*cur));
            cur->address = strdup(v);
        } else if (cur == NULL) {
            continue;
        } else if ((v = field_value(line, "Original address:")) != NULL && cur->original == NULL) {
            cur->original = strdup(v);
        } else if ((v = field_value(line, "Reason:")) != NULL && cur->reason == NULL) {
            cur->reason = strdup(v);
        } else if ((v = field_value(line, "Diagnostic code:")) != NULL && cur->diagnostic == NULL) {
            const char *semi = strchr(v, ';');

            cur->diagnostic = strdup(semi != NULL && semi - v < 16 ? semi + 1 : v);
        } else if ((v = field_value(line, "Remote system:")) != NULL && cur->remote == NULL) {
            cur->remote = strdup(v);
        }
    }
    lines_free(&lines);
}

static bool entry_is_about(const void *entries, size_t i, const BOUNCE_RCPT *rcpt)
{
    return same_address(((const MS_ENTRIES *) entries)->item[i].address, rcpt->recipient);
}

/* The entry about the index-th of `total` DSN recipients, or NULL. */
static const MS_ENTRY *entry_for(const MS_ENTRIES *entries, const BOUNCE_RCPT *rcpt,
                                 size_t index, size_t total)
{
    size_t i = entry_for_rcpt(entries, entries->count, rcpt, index, total, entry_is_about);

    return i < entries->count ? &entries->item[i] : NULL;
}

/* The diagnostic: the remote response, else the server's summary. */
static void rcpt_take_entry(BOUNCE_RCPT *rcpt, const MS_ENTRY *e, const BOUNCE_FIELDS *group)
{
    const char *status_comment;

    if (e != NULL && e->diagnostic != NULL)
        rcpt_set_response(rcpt, e->diagnostic);
    if (e != NULL && rcpt->remote_mta == NULL)
        rcpt_set_host(&rcpt->remote_mta, e->remote);
    if (rcpt->diagnostic == NULL && e != NULL && e->reason != NULL)
        rcpt_set_response(rcpt, e->reason);
    /* "Status: 4.2.2 (Over quota)" */
    if (rcpt->diagnostic == NULL && group != NULL
        && (status_comment = fields_get(group, "Status")) != NULL
        && (status_comment = strchr(status_comment, '(')) != NULL) {
        char *inside = strndup(status_comment + 1, strcspn(status_comment + 1, ")"));

        rcpt_set_response(rcpt, inside);
        free(inside);
    }
    if (rcpt->diagnostic != NULL && strstr(rcpt->diagnostic, "Illegal host/domain name found") != NULL)
        rcpt_reason_unless_rules(rcpt, "hostunknown");
    /* The summary tells a refused address ("Remote SMTP server has
     * rejected address") from a refusal of the transmission that
     * followed, which concerns the message. */
    if (e != NULL)
        rcpt_set_command(rcpt, e->reason);
}

static const char *action_from_subject(const BOUNCE_MSG *msg)
{
    return find_nocase(bmsg_header(msg, "Subject"), "delayed") ? "delayed" : "failed";
}

static int messagingserver_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    MS_ENTRIES entries;
    DSN_GROUPS dsn;
    int added = 0;

    entries_read(msg->text, &entries);
    dsn_groups_of(msg, NULL, &dsn);
    if (entries.count > 0 && dsn.count > 0) {
        for (size_t i = 0; i < dsn.count; i++) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt == NULL)
                break;
            added++;
            rcpt_from_dsn(rcpt, &dsn.rcpt[i], dsn.per_message);
            if (rcpt->action == NULL)
                rcpt_set(&rcpt->action, action_from_subject(msg));
            rcpt_take_entry(rcpt, entry_for(&entries, rcpt, i, dsn.count), &dsn.rcpt[i]);
        }
    } else {
        for (size_t i = 0; i < entries.count; i++) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt == NULL)
                break;
            added++;
            rcpt_set_address(&rcpt->recipient, entries.item[i].address);
            if (entries.item[i].original != NULL) {
                rcpt_set_address(&rcpt->original_recipient, entries.item[i].original);
                rcpt_mark_forwarded(rcpt);
            }
            rcpt_set(&rcpt->action, action_from_subject(msg));
            rcpt_take_entry(rcpt, &entries.item[i], NULL);
        }
    }
    dsn_groups_free(&dsn);
    entries_free(&entries);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_messagingserver = {
    "messagingserver", messagingserver_match, messagingserver_parse
};
