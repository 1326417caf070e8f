/*
 * report.c: building a BOUNCE_REPORT (bounce.h report_*, rcpt_*).
 *
 * Offers the detectors the few helpers they all need to fill in a
 * recipient: copy a trimmed value, set an address from the raw text a
 * bounce gives ("RFC822; <John@Example.com>"), and grow the report.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "bounce.h"

const char *bounce_class_name(enum bounce_class cls)
{
    switch (cls) {
    case CLASS_HARD:
        return "hard";
    case CLASS_SOFT:
        return "soft";
    case CLASS_COMPLAINT:
        return "complaint";
    case CLASS_DELAYED:
        return "delayed";
    case CLASS_AUTOREPLY:
        return "autoreply";
    case CLASS_DELIVERED:
        return "delivered";
    case CLASS_UNKNOWN:
    default:
        return "unknown";
    }
}

BOUNCE_RCPT *report_add(BOUNCE_REPORT *report)
{
    BOUNCE_RCPT *rcpt;

    if (report->count == report->alloc) {
        size_t alloc = report->alloc ? report->alloc * 2 : 4;
        BOUNCE_RCPT *rcpts = realloc(report->rcpts, alloc * sizeof(*rcpts));

        if (rcpts == NULL)
            return NULL;
        report->rcpts = rcpts;
        report->alloc = alloc;
    }
    rcpt = &report->rcpts[report->count++];
    memset(rcpt, 0, sizeof(*rcpt));
    return rcpt;
}

void rcpt_setn(char **field, const char *value, size_t len)
{
    char *copy = NULL;

    if (value != NULL) {
        while (len > 0 && isspace((unsigned char) *value)) {
            value++;
            len--;
        }
        while (len > 0 && isspace((unsigned char) value[len - 1]))
            len--;
        copy = strndup(value, len);
    }
    free(*field);
    *field = copy;
}

void rcpt_set(char **field, const char *value)
{
    rcpt_setn(field, value, value ? strlen(value) : 0);
}

/*
 * Strip an RFC 3464 address-type prefix ("rfc822;", "utf-8;", "x-foo;"):
 * a token of letters, digits and dashes followed by ';'.
 */
static const char *skip_address_type(const char *raw)
{
    const char *p = raw;

    while (isspace((unsigned char) *p))
        p++;
    const char *token = p;
    while (isalnum((unsigned char) *p) || *p == '-')
        p++;
    if (p > token && *p == ';')
        return p + 1;
    return raw;
}

/* The text between '<' and the matching '>' if there is one, else all. */
static void address_span(const char *raw, const char **start, size_t *len)
{
    const char *lt = strchr(raw, '<');
    const char *gt = lt ? strchr(lt + 1, '>') : NULL;

    if (lt != NULL && gt != NULL && gt > lt + 1) {
        *start = lt + 1;
        *len = (size_t) (gt - lt - 1);
    } else {
        *start = raw;
        *len = strlen(raw);
    }
    while (*len > 0 && isspace((unsigned char) **start)) {
        (*start)++;
        (*len)--;
    }
    /* "user@example.com:" or "user@example.com," in prose. */
    while (*len > 0 && (isspace((unsigned char) (*start)[*len - 1])
                        || strchr(":,;.", (*start)[*len - 1]) != NULL))
        (*len)--;
}

int rcpt_set_address(char **field, const char *raw)
{
    char normalized[ADDR_MAX + 1];
    const char *start;
    size_t len;
    char *copy;
    SUP_ERR err;

    if (raw == NULL) {
        rcpt_set(field, NULL);
        return -1;
    }
    address_span(skip_address_type(raw), &start, &len);
    if ((copy = strndup(start, len)) == NULL)
        return -1;
    if (len > 0 && addr_normalize(copy, normalized, sizeof(normalized), &err) == 0) {
        free(copy);
        rcpt_set(field, normalized);
        return 0;
    }
    for (char *p = copy; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    free(*field);
    *field = len > 0 ? copy : NULL;
    if (len == 0)
        free(copy);
    return -1;
}

static void rcpt_free(BOUNCE_RCPT *rcpt)
{
    free(rcpt->recipient);
    free(rcpt->original_recipient);
    free(rcpt->action);
    free(rcpt->status);
    free(rcpt->replycode);
    free(rcpt->command);
    free(rcpt->diagnostic);
    free(rcpt->reporting_mta);
    free(rcpt->remote_mta);
    free(rcpt->feedback_type);
}

void report_clear(BOUNCE_REPORT *report)
{
    if (report == NULL)
        return;
    for (size_t i = 0; i < report->count; i++)
        rcpt_free(&report->rcpts[i]);
    free(report->rcpts);
    memset(report, 0, sizeof(*report));
}

void report_truncate(BOUNCE_REPORT *report, size_t keep)
{
    while (report->count > keep)
        rcpt_free(&report->rcpts[--report->count]);
}

/*
 * Copy the first element of an address list that holds an '@', with
 * comments removed: "Cat (office) <a@x>, b@y" -> "Cat  <a@x>".
 */
static char *first_list_element(const char *value)
{
    char *copy = strdup(value);
    char *out = copy;
    char *start = copy;
    bool quote = false;
    int comment = 0;
    bool angle = false;

    if (copy == NULL)
        return NULL;
    for (const char *p = value; *p; p++) {
        if (comment > 0) {
            comment += *p == '(' ? 1 : *p == ')' ? -1 : 0;
            continue;
        }
        if (*p == '"')
            quote = !quote;
        else if (*p == '(' && !quote && !angle) {
            comment = 1;
            continue;
        } else if (*p == '<' && !quote)
            angle = true;
        else if (*p == '>' && !quote)
            angle = false;
        else if (*p == ',' && !quote && !angle) {
            *out = '\0';
            if (memchr(start, '@', (size_t) (out - start)) != NULL)
                return copy == start ? copy : memmove(copy, start, strlen(start) + 1);
            start = out;
            continue;
        }
        *out++ = *p;
    }
    *out = '\0';
    if (start != copy)
        memmove(copy, start, strlen(start) + 1);
    return copy;
}

int header_first_address(const char *value, char *out, size_t outlen)
{
    SUP_ERR err;
    char *element;
    char *addr;
    int rc;

    if (value == NULL || strchr(value, '@') == NULL)
        return -1;
    if ((element = first_list_element(value)) == NULL)
        return -1;
    addr = element;
    if (strchr(addr, '<') != NULL) {
        char *lt = strrchr(addr, '<');
        char *gt = strchr(lt, '>');

        if (gt != NULL)
            *gt = '\0';
        addr = lt + 1;
    }
    rc = addr_normalize(addr, out, outlen, &err);
    free(element);
    return rc;
}
