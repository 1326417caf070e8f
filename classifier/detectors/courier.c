/*
 * courier.c: detector for Courier MTA delivery status notifications.
 *
 * Offers detector_courier to detectors.c.  Courier (module.dsn) sends a
 * multipart/report whose first part shows, under "UNDELIVERABLE MAIL" or
 * "DELAYS IN DELIVERING YOUR MESSAGE", the SMTP exchange per recipient:
 *
 *   <user@example.co.jp>:
 *       mx.example.co.jp [192.0.2.95]:
 *   >>> RCPT TO:<user@example.co.jp>
 *   <<< 550 5.1.1 <user@example.co.jp>... User Unknown
 *
 * The "<<<" lines are the server's complete response; the DSN fields give
 * the recipients, the action and the status.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detector.h"
#include "toolkit.h"

typedef struct co_entry {
    char *address;
    const char *command;    /* the SMTP command of the last ">>>" line */
    char *host;
    TEXT_BUF response;         /* "<<<" lines */
} CO_ENTRY;

typedef struct co_entries {
    CO_ENTRY *item;
    size_t count;
    bool opened;            /* Courier's heading was there */
    bool delayed;
} CO_ENTRIES;

static bool courier_match(const BOUNCE_MSG *msg)
{
    const char *subject = bmsg_header(msg, "Subject");
    const char *id = bmsg_header(msg, "Message-Id");

    return find_nocase(bmsg_header(msg, "From"), "Courier mail server at ") != NULL
        || (subject != NULL && (strstr(subject, "NOTICE: mail delivery status.") != NULL
                                || strstr(subject, "WARNING: delayed mail.") != NULL))
        || (id != NULL && after_prefix_nocase(id, "<courier.") != NULL);
}

static void entries_free(CO_ENTRIES *entries)
{
    for (size_t i = 0; i < entries->count; i++) {
        free(entries->item[i].address);
        free(entries->item[i].host);
        buf_free(&entries->item[i].response);
    }
    free(entries->item);
    memset(entries, 0, sizeof(*entries));
}

/* "<user@example.jp>:" */
static bool is_recipient_line(const char *line)
{
    size_t len = strlen(line);

    return line[0] == '<' && len > 3 && line[len - 1] == ':' && line[len - 2] == '>'
        && strchr(line, '@') != NULL;
}

static void entries_read(const char *text, CO_ENTRIES *entries)
{
    TEXT_LINES lines;
    bool opened = false;
    CO_ENTRY *cur = NULL;

    memset(entries, 0, sizeof(*entries));
    if (lines_split(text, &lines) < 0)
        return;
    for (size_t i = 0; i < lines.count; i++) {
        const char *line = lines.line[i];
        const char *rest;

        if (!opened) {
            if (strstr(line, "DELAYS IN DELIVERING YOUR MESSAGE") != NULL)
                entries->delayed = opened = true;
            else
                opened = strstr(line, "UNDELIVERABLE MAIL") != NULL;
            entries->opened = opened;
            continue;
        }
        if (is_recipient_line(line)) {
            CO_ENTRY *more = realloc(entries->item, (entries->count + 1) * sizeof(*more));

            if (more == NULL)
                break;
            entries->item = more;
            cur = &entries->item[entries->count++];
            memset(cur, 0, sizeof(*cur));
            cur->address = strndup(line + 1, strlen(line) - 3);
        } else if (cur == NULL) {
            continue;
        } else if ((rest = after_prefix_nocase(line, ">>>")) != NULL) {
            cur->command = smtp_command_in(line);
        } else if ((rest = after_prefix_nocase(line, "<<<")) != NULL) {
            buf_join_str(&cur->response, rest);
        } else if (is_indented(line) && cur->host == NULL && cur->response.len == 0) {
            /* "    mx.example.co.jp [192.0.2.95]:" */
            rest = line + strspn(line, " \t");
            cur->host = strndup(rest, strcspn(rest, " [:"));
        } else if (strncmp(line, "-----", 5) == 0) {
            cur = NULL;
        }
    }
    lines_free(&lines);
}

static bool entry_is_about(const void *entries, size_t i, const BOUNCE_RCPT *rcpt)
{
    const CO_ENTRY *e = &((const CO_ENTRIES *) entries)->item[i];

    return same_address(e->address, rcpt->recipient)
        || same_address(e->address, rcpt->original_recipient);
}

/* The entry about the index-th of `total` DSN recipients, or NULL. */
static const CO_ENTRY *entry_for(const CO_ENTRIES *entries, const BOUNCE_RCPT *rcpt,
                                 size_t index, size_t total)
{
    size_t i = entry_for_rcpt(entries, entries->count, rcpt, index, total, entry_is_about);

    return i < entries->count ? &entries->item[i] : NULL;
}

/* Courier's own errors (module.esmtp/esmtpclient.c). */
static const PHRASE_REASON co_phrases[] = {
    { "No such domain.", "hostunknown" },
    { "This domain's DNS violates RFC 1035.", "systemerror" },
    { "DNS lookup failed.", "networkerror" },
    { NULL, NULL }
};

static void rcpt_set_reason(BOUNCE_RCPT *rcpt)
{
    const char *reason;

    if ((reason = phrase_reason(co_phrases, rcpt->diagnostic)) != NULL)
        rcpt_reason_unless_rules(rcpt, reason);
}

static void rcpt_take_entry(BOUNCE_RCPT *rcpt, const CO_ENTRY *e)
{
    if (e == NULL)
        return;
    if (e->response.len > 0)
        rcpt_set_response(rcpt, buf_str(&e->response));
    if (rcpt->remote_mta == NULL && e->host != NULL && e->host[0] != '\0')
        rcpt_set(&rcpt->remote_mta, e->host);
    if (rcpt->command == NULL && e->command != NULL)
        rcpt_set(&rcpt->command, e->command);
}

static int courier_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    CO_ENTRIES entries;
    DSN_GROUPS dsn;
    int added = 0;

    entries_read(msg->text, &entries);
    dsn_groups_of(msg, NULL, &dsn);
    if (!entries.opened) {
        /* Not Courier's notification after all. */
    } else if (dsn.count > 0) {
        for (size_t i = 0; i < dsn.count; i++) {
            BOUNCE_RCPT *rcpt = report_add(report);
            const CO_ENTRY *e;

            if (rcpt == NULL)
                break;
            added++;
            rcpt_from_dsn(rcpt, &dsn.rcpt[i], dsn.per_message);
            e = entry_for(&entries, rcpt, i, dsn.count);
            rcpt_take_entry(rcpt, e);
            if (rcpt->action == NULL)
                rcpt_set(&rcpt->action, entries.delayed ? "delayed" : "failed");
            rcpt_set_reason(rcpt);
        }
    } else {
        for (size_t i = 0; i < entries.count; i++) {
            BOUNCE_RCPT *rcpt = report_add(report);

            if (rcpt == NULL)
                break;
            added++;
            rcpt_set_address(&rcpt->recipient, entries.item[i].address);
            rcpt_set(&rcpt->action, entries.delayed ? "delayed" : "failed");
            rcpt_take_entry(rcpt, &entries.item[i]);
            rcpt_set_reason(rcpt);
        }
    }
    dsn_groups_free(&dsn);
    entries_free(&entries);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_courier = { "courier", courier_match, courier_parse };
