/*
 * toolkit/dsn.c: RFC 3464 fields into recipients (toolkit.h, section
 * "RFC 3464 fields").
 *
 * Offers the detectors one way to read DSN field groups wherever a bounce
 * has them (the delivery-status part, or written into the text by old and
 * odd MTAs) and to turn a group into a recipient: address, original
 * recipient, action, status, MTAs and the diagnostic with its codes.
 * Also the X-Failed-Recipients style address list.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "detectors/toolkit.h"

const char *dsn_value(const char *value)
{
    const char *p;
    const char *token;

    if (value == NULL)
        return NULL;
    p = token = skip_blank(value);
    /* Only a type token ("smtp", "dns", "rfc822", "x-unix") before ';'. */
    while (isalnum((unsigned char) *p) || *p == '-' || *p == '_')
        p++;
    if (p > token && *p == ';')
        return skip_blank(p + 1);
    return token;
}

void rcpt_set_host(char **field, const char *value)
{
    const char *host = dsn_value(value);
    size_t len;

    if (host == NULL)
        return;
    /* "[192.0.2.1]": an address literal is the host's name. */
    len = host[0] == '[' ? strcspn(host, "]") + (strchr(host, ']') != NULL) : strcspn(host, " \t([");
    while (len > 1 && host[len - 1] == '.')
        len--;
    if (len > 0)
        rcpt_setn(field, host, len);
}

/* Does the group name a recipient? */
static bool names_recipient(const BOUNCE_FIELDS *group)
{
    static const char *const names[] = {
        "Final-Recipient", "Original-Recipient", "X-Actual-Recipient", NULL
    };

    for (size_t i = 0; names[i] != NULL; i++) {
        const char *value = dsn_value(fields_get(group, names[i]));

        if (value != NULL && *value != '\0')
            return true;
    }
    return false;
}

size_t dsn_groups_of(const BOUNCE_MSG *msg, const TEXT_LINES *lines, DSN_GROUPS *dsn)
{
    size_t named = 0;

    memset(dsn, 0, sizeof(*dsn));
    dsn->per_message = &dsn->own_message;
    if (msg->dsn_rcpt_count == 0 && lines != NULL)
        return dsn_groups_in_lines(lines, 0, dsn);
    if (msg->dsn_rcpt_count == 0) {
        TEXT_LINES own;

        if (lines_split(msg->text, &own) < 0)
            return 0;
        dsn_groups_in_lines(&own, 0, dsn);
        lines_free(&own);
        return dsn->count;
    }
    dsn->per_message = &msg->dsn_message;
    for (size_t i = 0; i < msg->dsn_rcpt_count; i++)
        if (names_recipient(&msg->dsn_rcpts[i]))
            named++;
    if (named == msg->dsn_rcpt_count) {
        dsn->rcpt = msg->dsn_rcpts;
        dsn->count = named;
        return named;
    }
    /* Shallow copies of the groups that count; the fields stay msg's. */
    if (named > 0 && (dsn->own_rcpt = calloc(named, sizeof(*dsn->own_rcpt))) != NULL)
        for (size_t i = 0; i < msg->dsn_rcpt_count; i++)
            if (names_recipient(&msg->dsn_rcpts[i]))
                dsn->own_rcpt[dsn->count++] = msg->dsn_rcpts[i];
    dsn->rcpt = dsn->own_rcpt;
    return dsn->count;
}

static const char *const dsn_field_names[] = {
    "Reporting-MTA", "Received-From-MTA", "Arrival-Date", "Original-Envelope-Id",
    "DSN-Gateway", "Final-Recipient", "Original-Recipient", "X-Actual-Recipient",
    "Action", "Status", "Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date",
    "Will-Retry-Until", "Final-Log-ID", NULL
};

/* The DSN field name the line starts with ("Status:"), value in *value. */
static const char *dsn_field_of(const char *line, const char **value)
{
    for (size_t i = 0; dsn_field_names[i] != NULL; i++) {
        const char *p = after_prefix_nocase(line, dsn_field_names[i]);

        if (p != NULL && *(p = skip_blank(p)) == ':') {
            *value = skip_blank(p + 1);
            return dsn_field_names[i];
        }
    }
    return NULL;
}

static int fields_add(BOUNCE_FIELDS *fields, const char *name, const char *value)
{
    BOUNCE_FIELD *items = realloc(fields->items, (fields->count + 1) * sizeof(*items));
    char *n;
    char *v;

    if (items == NULL)
        return -1;
    fields->items = items;
    n = strdup(name);
    v = strdup(value);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return -1;
    }
    items[fields->count].name = n;
    items[fields->count].value = v;
    fields->count++;
    return 0;
}

/* Append a continuation line to the last field's value. */
static void fields_continue(BOUNCE_FIELDS *fields, const char *more)
{
    BOUNCE_FIELD *last;
    char *value;
    size_t len;

    if (fields->count == 0)
        return;
    last = &fields->items[fields->count - 1];
    len = strlen(last->value) + strlen(more) + 2;
    if ((value = malloc(len)) == NULL)
        return;
    snprintf(value, len, "%s %s", last->value, more);
    free(last->value);
    last->value = value;
}

/* Does a recipient field `name` open a new group after group g?  Senders
 * write Final- and Original-Recipient in either order; a group that has
 * its Action or Status already is finished. */
static bool opens_group(const BOUNCE_FIELDS *g, const char *name)
{
    bool complete;

    if (g == NULL)
        return true;
    complete = fields_get(g, "Action") != NULL || fields_get(g, "Status") != NULL;
    if (strcmp(name, "Final-Recipient") == 0)
        return fields_get(g, "Final-Recipient") != NULL
            || (complete && fields_get(g, "Original-Recipient") != NULL);
    return fields_get(g, "Original-Recipient") != NULL
        || (complete && fields_get(g, "Final-Recipient") != NULL);
}

size_t dsn_groups_in_lines(const TEXT_LINES *lines, size_t from, DSN_GROUPS *dsn)
{
    BOUNCE_FIELDS *current = NULL;     /* where a continuation line goes */

    memset(dsn, 0, sizeof(*dsn));
    dsn->per_message = &dsn->own_message;
    dsn->own_fields = true;
    for (size_t i = from; i < lines->count; i++) {
        const char *line = lines->line[i];
        BOUNCE_FIELDS *last = dsn->count ? &dsn->own_rcpt[dsn->count - 1] : NULL;
        const char *value;
        const char *name;

        if (after_prefix_nocase(line, "Content-Type:") != NULL
            && (find_nocase(line, "message/rfc822") || find_nocase(line, "rfc822-headers")))
            break;
        if (is_indented(line)) {
            if (current != NULL)
                fields_continue(current, skip_blank(line));
            continue;
        }
        current = NULL;
        if ((name = dsn_field_of(line, &value)) == NULL)
            continue;
        if ((strcmp(name, "Final-Recipient") == 0 || strcmp(name, "Original-Recipient") == 0)
            && opens_group(last, name)) {
            BOUNCE_FIELDS *grown = realloc(dsn->own_rcpt, (dsn->count + 1) * sizeof(*grown));

            if (grown == NULL)
                break;
            dsn->own_rcpt = grown;
            last = &dsn->own_rcpt[dsn->count++];
            memset(last, 0, sizeof(*last));
        }
        current = last != NULL ? last : &dsn->own_message;
        if (fields_add(current, name, value) < 0)
            break;
    }
    dsn->rcpt = dsn->own_rcpt;
    return dsn->count;
}

void dsn_groups_free(DSN_GROUPS *dsn)
{
    if (dsn->own_rcpt != NULL && dsn->own_fields)
        for (size_t i = 0; i < dsn->count; i++)
            fields_free(&dsn->own_rcpt[i]);
    free(dsn->own_rcpt);
    fields_free(&dsn->own_message);
    memset(dsn, 0, sizeof(*dsn));
}

/* A recipient field that holds a mail address (not "unknown" or a pipe). */
static bool address_usable(const char *value)
{
    const char *addr = dsn_value(value);

    return addr != NULL && strchr(addr, '@') != NULL && strchr(addr, '|') == NULL;
}

/* Final-, X-Actual-, then Original-Recipient: the first with a usable
 * address, else the first with any value. */
static const char *group_recipient(const BOUNCE_FIELDS *group)
{
    static const char *const names[] = {
        "Final-Recipient", "X-Actual-Recipient", "Original-Recipient", NULL
    };

    for (size_t i = 0; names[i] != NULL; i++)
        if (address_usable(fields_get(group, names[i])))
            return fields_get(group, names[i]);
    for (size_t i = 0; names[i] != NULL; i++) {
        const char *value = fields_get(group, names[i]);

        if (value != NULL && *dsn_value(value) != '\0')
            return value;
    }
    return NULL;
}

/* "failed (bad destination mailbox address)" -> "failed".  "expired",
 * which some providers (SendGrid) write for a message they gave up on,
 * is a failure that states its reason. */
static void set_action(BOUNCE_RCPT *rcpt, const char *value)
{
    size_t len = 0;

    if (value == NULL)
        return;
    value = skip_blank(value);
    while (isalpha((unsigned char) value[len]))
        len++;
    if (len == 0)
        return;
    if (len == 7 && strncasecmp(value, "expired", 7) == 0) {
        rcpt_set(&rcpt->action, "failed");
        rcpt->reason = "expired";
        return;
    }
    rcpt_setn(&rcpt->action, value, len);
    for (char *p = rcpt->action; p != NULL && *p; p++)
        *p = (char) tolower((unsigned char) *p);
}

/*
 * Status holds the code, and old or broken MTAs write more there:
 * "4.0.0 (example.org: host name lookup failure)", "553 too big".  What
 * they add is the only explanation when there is no Diagnostic-Code.
 */
static void set_status(BOUNCE_RCPT *rcpt, const char *value, bool has_diagnostic)
{
    const char *found;
    size_t len;
    const char *comment;

    if (value == NULL || *(value = skip_blank(value)) == '\0')
        return;
    if ((len = text_find_status(value, &found)) > 0)
        rcpt_setn(&rcpt->status, found, len);
    if (has_diagnostic)
        return;
    if (len == 0 || found != value) {
        rcpt_set_response(rcpt, value);
    } else if ((comment = strchr(value, '(')) != NULL) {
        size_t clen = strcspn(comment + 1, ")");

        if (clen > 0)
            rcpt_setn(&rcpt->diagnostic, comment + 1, clen);
    }
}

/* A local program's exit code ("X-Unix; 255"): no SMTP reply, and a
 * number that means nothing without its type. */
static bool diagnostic_is_exit_code(const char *value)
{
    const char *p = skip_blank(value);
    const char *code = dsn_value(p);

    if (code == p || after_prefix_nocase(p, "smtp") != NULL)
        return false;
    for (; *code; code++)
        if (!isdigit((unsigned char) *code) && !isspace((unsigned char) *code))
            return false;
    return true;
}

void rcpt_from_dsn(BOUNCE_RCPT *rcpt, const BOUNCE_FIELDS *group, const BOUNCE_FIELDS *per_message)
{
    const char *recipient = group_recipient(group);
    const char *original = fields_get(group, "Original-Recipient");
    const char *diagnostic = fields_get(group, "Diagnostic-Code");
    const char *reporting = fields_get(group, "Reporting-MTA");
    bool has_diagnostic = diagnostic != NULL && *dsn_value(diagnostic) != '\0';

    if (recipient != NULL)
        rcpt_set_address(&rcpt->recipient, recipient);
    /* We sent to Original-Recipient; when it differs, the failure is at a forward. */
    if (original != NULL && address_usable(original)) {
        rcpt_set_address(&rcpt->original_recipient, original);
        rcpt_mark_forwarded(rcpt);
    }
    set_action(rcpt, fields_get(group, "Action"));
    set_status(rcpt, fields_get(group, "Status"), has_diagnostic);
    rcpt_set_host(&rcpt->remote_mta, fields_get(group, "Remote-MTA"));
    rcpt_set_host(&rcpt->reporting_mta, reporting ? reporting : fields_get(per_message, "Reporting-MTA"));
    if (has_diagnostic && diagnostic_is_exit_code(diagnostic))
        rcpt_set(&rcpt->diagnostic, diagnostic);
    else if (has_diagnostic)
        rcpt_set_response(rcpt, dsn_value(diagnostic));
    rcpt_complete_codes(rcpt);
    /* "X-Unix;" is a local delivery program's failure: a mailer error
     * unless what it printed says more (a full disk, an unknown user). */
    if (has_diagnostic && after_prefix_nocase(skip_blank(diagnostic), "x-unix;") != NULL)
        rcpt_reason_unless_rules(rcpt, "mailererror");
}

int rcpts_from_dsn(const DSN_GROUPS *dsn, BOUNCE_REPORT *report)
{
    int added = 0;

    for (size_t i = 0; i < dsn->count; i++) {
        BOUNCE_RCPT *rcpt = report_add(report);

        if (rcpt == NULL)
            break;
        rcpt_from_dsn(rcpt, &dsn->rcpt[i], dsn->per_message);
        added++;
    }
    return added;
}

int rcpts_from_dsn_part(const BOUNCE_MSG *msg, BOUNCE_REPORT *report)
{
    DSN_GROUPS dsn;
    int added;

    if (msg->dsn_rcpt_count == 0)
        return 0;
    dsn_groups_of(msg, NULL, &dsn);
    added = rcpts_from_dsn(&dsn, report);
    dsn_groups_free(&dsn);
    return added;
}

int rcpts_from_list(const char *list, BOUNCE_REPORT *report)
{
    int added = 0;

    for (const char *p = list; p != NULL && *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen(p);
        char addr[ADDR_MAX + 1];
        BOUNCE_RCPT *rcpt;

        if (find_address(p, len, addr, sizeof(addr)) && report_find(report, 0, addr) == NULL) {
            if ((rcpt = report_add(report)) == NULL)
                break;
            rcpt_set_address(&rcpt->recipient, addr);
            added++;
        }
        p = comma ? comma + 1 : NULL;
    }
    return added;
}
