/*
 * toolkit/address.c: addresses in a bounce's text and the recipients of a
 * report (toolkit.h, section "addresses").
 *
 * Offers the detectors the ways a bounce writes an address ("<a@x>",
 * a bare "a@x." at the end of a sentence, a line that is only an address)
 * and the bookkeeping of the recipients a detector adds: find one again by
 * address, default its action, finish parse(), pair a text's entries with
 * the DSN's recipients.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "detectors/toolkit.h"

/* ---- addresses ---- */

bool find_angle_address(const char *s, const char **start, size_t *len)
{
    for (const char *lt = strchr(s, '<'); lt != NULL; lt = strchr(lt + 1, '<')) {
        const char *gt = strchr(lt + 1, '>');
        const char *at = strchr(lt + 1, '@');

        if (gt == NULL)
            return false;
        if (at != NULL && at < gt && at > lt + 1 && at + 1 < gt
            && memchr(lt + 1, ' ', (size_t) (gt - lt - 1)) == NULL) {
            *start = lt + 1;
            *len = (size_t) (gt - lt - 1);
            return true;
        }
    }
    return false;
}

static bool is_local_char(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr(".!#$%&'*+/=?^_`{|}~-", c) != NULL)
        || c >= 0x80;
}

static bool is_domain_char(unsigned char c)
{
    return isalnum(c) || c == '.' || c == '-' || c >= 0x80;
}

/* The span of the first address in text[0..len), or false. */
static bool address_span_in(const char *text, size_t len, size_t *from, size_t *to)
{
    for (size_t at = 0; at < len; at++) {
        size_t start = at;
        size_t end = at + 1;

        if (text[at] != '@')
            continue;
        while (start > 0 && is_local_char((unsigned char) text[start - 1]))
            start--;
        while (end < len && is_domain_char((unsigned char) text[end]))
            end++;
        /* Sentence punctuation is no part of the address. */
        while (end > at + 1 && (text[end - 1] == '.' || text[end - 1] == '-'))
            end--;
        while (start < at && text[start] == '.')
            start++;
        if (start == at || end == at + 1)
            continue;
        *from = start;
        *to = end;
        return true;
    }
    return false;
}

bool find_bare_address(const char *s, const char **start, size_t *len)
{
    size_t from;
    size_t to;

    if (!address_span_in(s, strlen(s), &from, &to))
        return false;
    *start = s + from;
    *len = to - from;
    return true;
}

bool find_address(const char *text, size_t len, char *out, size_t outlen)
{
    size_t from;
    size_t to;

    if (text == NULL || !address_span_in(text, len, &from, &to) || to - from >= outlen)
        return false;
    memcpy(out, text + from, to - from);
    out[to - from] = '\0';
    return true;
}

bool is_address_line(const char *s)
{
    const char *p = skip_blank(s);
    size_t total = strlen(p);
    size_t from;
    size_t to;

    while (total > 0 && isspace((unsigned char) p[total - 1]))
        total--;
    if (total > 2 && p[0] == '<' && p[total - 1] == '>') {
        p++;
        total -= 2;
    }
    /* A domain without a dot is a local name, not a mail address. */
    return address_span_in(p, total, &from, &to) && from == 0 && to == total
        && memchr(strchr(p, '@'), '.', total - (size_t) (strchr(p, '@') - p)) != NULL;
}

bool line_foreign_address(const BOUNCE_MSG *msg, const char *line, char *out, size_t outlen)
{
    char own_from[ADDR_MAX + 1] = "";
    char own_to[ADDR_MAX + 1] = "";

    header_first_address(bmsg_header(msg, "From"), own_from, sizeof(own_from));
    header_first_address(bmsg_header(msg, "To"), own_to, sizeof(own_to));
    for (const char *at = strchr(line, '@'); at != NULL; at = strchr(at + 1, '@')) {
        const char *start = at;
        char candidate[ADDR_MAX * 2];
        SUP_ERR err;

        /* The word around this '@', punctuation of the prose left out. */
        while (start > line && strchr(" \t<>():;,\"'[]", start[-1]) == NULL)
            start--;
        if (!find_address(start, strcspn(start, " \t<>():;,\"'[]"), candidate, sizeof(candidate))
            || addr_normalize(candidate, out, outlen, &err) != 0)
            continue;
        if (strcmp(out, own_from) == 0 || strcmp(out, own_to) == 0
            || strncmp(out, "mailer-daemon@", 14) == 0 || strncmp(out, "postmaster@", 11) == 0)
            continue;
        return true;
    }
    return false;
}

void rcpt_mark_forwarded(BOUNCE_RCPT *rcpt)
{
    rcpt->forwarded = rcpt->recipient != NULL && rcpt->original_recipient != NULL
        && strcmp(rcpt->recipient, rcpt->original_recipient) != 0;
}

bool same_address(const char *a, const char *b)
{
    char *na = NULL;
    char *nb = NULL;
    bool same;

    if (a == NULL || b == NULL)
        return false;
    rcpt_set_address(&na, a);
    rcpt_set_address(&nb, b);
    same = na != NULL && nb != NULL && strcmp(na, nb) == 0;
    free(na);
    free(nb);
    return same;
}

BOUNCE_RCPT *report_find(BOUNCE_REPORT *report, size_t from, const char *addr)
{
    char *want = NULL;
    BOUNCE_RCPT *found = NULL;

    if (addr == NULL)
        return NULL;
    rcpt_set_address(&want, addr);
    for (size_t i = from; want != NULL && i < report->count && found == NULL; i++)
        if (report->rcpts[i].recipient != NULL && strcmp(report->rcpts[i].recipient, want) == 0)
            found = &report->rcpts[i];
    free(want);
    return found;
}

int report_finish(BOUNCE_REPORT *report, size_t first)
{
    if (report->count <= first)
        return 0;
    for (size_t i = first; i < report->count; i++)
        rcpt_complete_codes(&report->rcpts[i]);
    report->kind = REPORT_BOUNCE;
    return (int) (report->count - first);
}

void report_default_action(BOUNCE_REPORT *report, size_t from, const char *action)
{
    for (size_t i = from; i < report->count; i++)
        if (report->rcpts[i].action == NULL)
            rcpt_set(&report->rcpts[i].action, action);
}

size_t entry_for_rcpt(const void *entries, size_t count, const BOUNCE_RCPT *rcpt,
                      size_t index, size_t total,
                      bool (*is_about)(const void *entries, size_t i, const BOUNCE_RCPT *rcpt))
{
    if (index < count && is_about(entries, index, rcpt))
        return index;
    for (size_t i = 0; i < count; i++)
        if (is_about(entries, i, rcpt))
            return i;
    return count == total && index < count ? index : count;
}
