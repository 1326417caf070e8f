/*
 * parse/dsn_part.c: a message/delivery-status part split into the
 * per-message group and one group per recipient (message_int.h).
 *
 * Offers the walk in message.c msg->dsn_message and msg->dsn_rcpts from
 * the part's text (RFC 3464, RFC 6533), coping with the senders that
 * forget the blank lines between recipients or put a stray one inside a
 * group.  Values are taken as they are: they are machine-readable.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "message_int.h"

/* ---- the DSN part (RFC 3464 / RFC 6533) ---- */

int fields_move(BOUNCE_FIELDS *to, BOUNCE_FIELD *item)
{
    BOUNCE_FIELD *items = realloc(to->items, (to->count + 1) * sizeof(*items));

    if (items == NULL) {
        free(item->name);
        free(item->value);
        return -1;
    }
    to->items = items;
    to->items[to->count++] = *item;
    return 0;
}

static BOUNCE_FIELDS *dsn_new_rcpt_group(BOUNCE_MSG *msg)
{
    BOUNCE_FIELDS *groups = realloc(msg->dsn_rcpts, (msg->dsn_rcpt_count + 1) * sizeof(*groups));

    if (groups == NULL)
        return NULL;
    msg->dsn_rcpts = groups;
    memset(&groups[msg->dsn_rcpt_count], 0, sizeof(*groups));
    return &groups[msg->dsn_rcpt_count++];
}

/* Skip to the first line after the block of non-blank lines at p. */
static const char *next_block(const char *p)
{
    bool in_block = false;

    while (*p) {
        const char *eol = strchr(p, '\n');
        const char *next = eol ? eol + 1 : p + strlen(p);
        bool blank = true;

        for (const char *c = p; c < next; c++)
            if (!isspace((unsigned char) *c))
                blank = false;
        if (blank && in_block)
            return next;
        if (!blank)
            in_block = true;
        p = next;
    }
    return p;
}

static bool is_rcpt_key(const char *name)
{
    return strcasecmp(name, "Final-Recipient") == 0 || strcasecmp(name, "Original-Recipient") == 0;
}

/* Fields that describe one recipient's delivery (RFC 3464 2.3). */
static bool is_rcpt_field(const char *name)
{
    static const char *const names[] = {
        "Original-Recipient", "Final-Recipient", "Action", "Status", "Remote-MTA",
        "Diagnostic-Code", "Last-Attempt-Date", "Final-Log-ID", "Will-Retry-Until",
        "X-Actual-Recipient", NULL,
    };

    for (int i = 0; names[i] != NULL; i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

static size_t count_named(const BOUNCE_FIELD *items, size_t n, const char *name)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++)
        if (strcasecmp(items[i].name, name) == 0)
            count++;
    return count;
}

static bool fields_overlap(const BOUNCE_FIELDS *a, const BOUNCE_FIELD *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fields_get(a, items[i].name) != NULL)
            return true;
    return false;
}

/* Move items[0..n) into *to (ownership passes; the array is the caller's). */
static void fields_take(BOUNCE_FIELDS *to, BOUNCE_FIELD *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fields_move(to, &items[i]);
}

/*
 * One run of per-recipient fields (a block, or the part of the first block
 * after the per-message fields).  Normally one recipient; a sender that
 * forgot the blank lines between recipients repeats Final-Recipient: the
 * run is then cut before each repetition, keeping with it as many fields as
 * came before the first one (its Original-Recipient, say).  A run without
 * any recipient field completes the previous recipient when it adds only
 * fields that one lacks (a stray blank line inside a group).
 */
static void dsn_add_rcpt_run(BOUNCE_MSG *msg, BOUNCE_FIELD *items, size_t n, bool part_has_rcpt)
{
    const char *key = count_named(items, n, "Final-Recipient") > 0 ? "Final-Recipient" : "Original-Recipient";
    size_t keys = count_named(items, n, key);
    size_t start = 0;
    size_t prefix = 0;
    size_t prev_key = 0;
    bool first_key = true;

    if (keys == 0 && part_has_rcpt && msg->dsn_rcpt_count > 0
        && !fields_overlap(&msg->dsn_rcpts[msg->dsn_rcpt_count - 1], items, n)) {
        fields_take(&msg->dsn_rcpts[msg->dsn_rcpt_count - 1], items, n);
        return;
    }
    for (size_t i = 0; i < n && keys > 1; i++) {
        size_t cut;
        BOUNCE_FIELDS *group;

        if (strcasecmp(items[i].name, key) != 0)
            continue;
        if (first_key) {
            prefix = i;
            prev_key = i;
            first_key = false;
            continue;
        }
        cut = i >= prefix && i - prefix > prev_key ? i - prefix : prev_key + 1;
        if ((group = dsn_new_rcpt_group(msg)) == NULL)
            break;
        fields_take(group, items + start, cut - start);
        start = cut;
        prev_key = i;
    }
    if (start < n) {
        BOUNCE_FIELDS *group = dsn_new_rcpt_group(msg);

        if (group != NULL)
            fields_take(group, items + start, n - start);
        else
            for (size_t i = start; i < n; i++) {
                free(items[i].name);
                free(items[i].value);
            }
    }
}

/*
 * Split a delivery-status body into the per-message group and one group
 * per recipient, appending to msg (a bounce may hold several DSN parts:
 * the first one's per-message group is kept).  Blank lines separate the
 * groups; dsn_add_rcpt_run copes with senders that forget them.
 */
void parse_dsn(BOUNCE_MSG *msg, const char *text)
{
    const char *p = text;
    bool first_block = true;
    bool part_has_rcpt = false;

    while (*p) {
        BOUNCE_FIELDS block = { NULL, 0 };
        size_t split = 0;

        fields_parse_raw(p, &block);
        p = next_block(p);
        if (block.count == 0) {
            fields_free(&block);
            continue;
        }
        if (first_block) {
            /* The per-message fields, up to the first per-recipient one. */
            bool has_rcpt = false;

            for (size_t i = 0; i < block.count; i++)
                has_rcpt = has_rcpt || is_rcpt_key(block.items[i].name);
            while (split < block.count && !(has_rcpt && is_rcpt_field(block.items[split].name)))
                split++;
            if (msg->dsn_message.count == 0) {
                fields_take(&msg->dsn_message, block.items, split);
            } else {
                for (size_t i = 0; i < split; i++) {
                    free(block.items[i].name);
                    free(block.items[i].value);
                }
            }
            first_block = false;
        }
        if (split < block.count) {
            dsn_add_rcpt_run(msg, block.items + split, block.count - split, part_has_rcpt);
            part_has_rcpt = true;
        }
        free(block.items);
    }
}
