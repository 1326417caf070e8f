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
#include "a_util.h"

typedef struct co_entry {
    char *address;
    char *command;          /* ">>> RCPT TO:<...>" without the arrows */
    char *host;
    A_BUF response;         /* "<<<" lines */
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

    return a_find_nocase(bmsg_header(msg, "From"), "Courier mail server at ") != NULL
        || (subject != NULL && (strstr(subject, "NOTICE: mail delivery status.") != NULL
                                || strstr(subject, "WARNING: delayed mail.") != NULL))
        || (id != NULL && a_after_prefix(id, "<courier.") != NULL);
}

static void entries_free(CO_ENTRIES *entries)
{
    for (size_t i = 0; i < entries->count; i++) {
        free(entries->item[i].address);
        free(entries->item[i].command);
        free(entries->item[i].host);
        a_buf_free(&entries->item[i].response);
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
    A_LINES lines;
    bool opened = false;
    CO_ENTRY *cur = NULL;

    memset(entries, 0, sizeof(*entries));
    if (a_lines_split(text, &lines) < 0)
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
        } else if ((rest = a_after_prefix(line, ">>>")) != NULL) {
            free(cur->command);
            cur->command = strdup(rest + strspn(rest, " "));
        } else if ((rest = a_after_prefix(line, "<<<")) != NULL) {
            a_buf_join_str(&cur->response, rest);
        } else if (a_is_indented(line) && cur->host == NULL && cur->response.len == 0) {
            /* "    mx.example.co.jp [192.0.2.95]:" */
            rest = line + strspn(line, " \t");
            cur->host = strndup(rest, strcspn(rest, " [:"));
        } else if (strncmp(line, "-----", 5) == 0) {
            cur = NULL;
        }
    }
    a_lines_free(&lines);
}

static bool entry_is_about(const CO_ENTRY *e, const BOUNCE_RCPT *rcpt)
{
    return a_same_address(e->address, rcpt->recipient)
        || a_same_address(e->address, rcpt->original_recipient);
}

/* The entry at the same position if it names the recipient, else the one
 * that does, else by position when the counts agree. */
static const CO_ENTRY *entry_for(const CO_ENTRIES *entries, const BOUNCE_RCPT *rcpt,
                                 size_t index, size_t total)
{
    if (index < entries->count && entry_is_about(&entries->item[index], rcpt))
        return &entries->item[index];
    for (size_t i = 0; i < entries->count; i++)
        if (entry_is_about(&entries->item[i], rcpt))
            return &entries->item[i];
    return entries->count == total ? &entries->item[index] : NULL;
}

/* Courier's own errors (module.esmtp/esmtpclient.c). */
static const struct {
    const char *phrase;
    const char *reason;
} co_phrases[] = {
    { "No such domain.", "hostunknown" },
    { "This domain's DNS violates RFC 1035.", "systemerror" },
    { "DNS lookup failed.", "networkerror" },
    { NULL, NULL }
};

static void rcpt_set_reason(BOUNCE_RCPT *rcpt, const CO_ENTRY *e)
{
    if (e != NULL && e->command != NULL) {
        if (a_after_prefix(e->command, "EHLO") != NULL || a_after_prefix(e->command, "HELO") != NULL) {
            rcpt->reason = "blocked";
            return;
        }
        if (a_after_prefix(e->command, "MAIL FROM:") != NULL) {
            a_reason_for_sender_refusal(rcpt);
            return;
        }
        if (a_after_prefix(e->command, "DATA") != NULL) {
            a_reason_after_data(rcpt);
            if (rcpt->reason != NULL)
                return;
        }
    }
    for (int i = 0; co_phrases[i].phrase != NULL; i++)
        if (rcpt->diagnostic != NULL && strstr(rcpt->diagnostic, co_phrases[i].phrase) != NULL) {
            a_reason_unless_rules(rcpt, co_phrases[i].reason);
            return;
        }
}

static void rcpt_take_entry(BOUNCE_RCPT *rcpt, const CO_ENTRY *e)
{
    if (e == NULL)
        return;
    if (e->response.len > 0)
        a_rcpt_set_diagnostic(rcpt, a_buf_str(&e->response));
    if (rcpt->remote_mta == NULL && e->host != NULL && e->host[0] != '\0')
        rcpt_set(&rcpt->remote_mta, e->host);
}

static int courier_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    CO_ENTRIES entries;
    A_DSN dsn;
    int added = 0;

    entries_read(msg->text, &entries);
    a_dsn_get(msg, &dsn);
    if (!entries.opened) {
        /* Not Courier's notification after all. */
    } else if (dsn.count > 0) {
        for (size_t i = 0; i < dsn.count; i++) {
            BOUNCE_RCPT *rcpt = report_add(report);
            const CO_ENTRY *e;

            if (rcpt == NULL)
                break;
            added++;
            a_rcpt_from_dsn(rcpt, &dsn.rcpt[i], dsn.per_message);
            e = entry_for(&entries, rcpt, i, dsn.count);
            rcpt_take_entry(rcpt, e);
            if (rcpt->action == NULL)
                rcpt_set(&rcpt->action, entries.delayed ? "delayed" : "failed");
            a_rcpt_codes_from_diagnostic(rcpt);
            rcpt_set_reason(rcpt, e);
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
            a_rcpt_codes_from_diagnostic(rcpt);
            rcpt_set_reason(rcpt, &entries.item[i]);
        }
    }
    a_dsn_free(&dsn);
    entries_free(&entries);
    if (added > 0)
        report->kind = REPORT_BOUNCE;
    return added;
}

const DETECTOR detector_courier = { "courier", courier_match, courier_parse };
