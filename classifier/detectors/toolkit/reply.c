/*
 * toolkit/reply.c: the remote server's reply (toolkit.h, section "the
 * remote server's reply", but for the SMTP command: command.c).
 *
 * Offers the detectors and detectors.c what a reply says in its fixed
 * places: the enhanced status code and the reply code, found without
 * mistaking an IP address or a longer number for one; a multi-line reply
 * joined into one clean line with its repeated prefixes folded; and the
 * reason a format's own phrase implies when the reply itself says none.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "decide/rules.h"
#include "detectors/toolkit.h"

/* ---- the remote server's reply ---- */

/* Length of an enhanced status code at p (RFC 3463: class "." subject
 * (1-3 digits) "." detail (1-3 digits)), else 0.  "5.1.1.1" is no code. */
static size_t status_len(const char *p)
{
    size_t i = 2;
    int digits;

    if ((p[0] != '2' && p[0] != '4' && p[0] != '5') || p[1] != '.')
        return 0;
    for (digits = 0; isdigit((unsigned char) p[i]) && digits < 3; digits++)
        i++;
    if (digits == 0 || p[i] != '.')
        return 0;
    i++;
    for (digits = 0; isdigit((unsigned char) p[i]) && digits < 3; digits++)
        i++;
    if (digits == 0 || isdigit((unsigned char) p[i])
        || (p[i] == '.' && isdigit((unsigned char) p[i + 1])))
        return 0;
    return i;
}

size_t text_find_status(const char *text, const char **found)
{
    if (text == NULL)
        return 0;
    for (const char *p = text; *p; p++) {
        size_t len;

        /* Not the tail of a number or an IP address ("10.5.1.1"). */
        if (p != text && (isalnum((unsigned char) p[-1]) || p[-1] == '.'))
            continue;
        if ((len = status_len(p)) > 0) {
            *found = p;
            return len;
        }
    }
    return 0;
}

bool text_leading_replycode(const char *text, char code[4])
{
    const char *p = text;

    if (p == NULL)
        return false;
    while (isspace((unsigned char) *p) || *p == '<' || *p == '"' || *p == '(')
        p++;
    /* Callers strip a "smtp;" diagnostic type first. */
    if (p[0] >= '2' && p[0] <= '5'
        && isdigit((unsigned char) p[1]) && isdigit((unsigned char) p[2])
        && !isalnum((unsigned char) p[3]) && p[3] != '.') {
        memcpy(code, p, 3);
        code[3] = '\0';
        return true;
    }
    return false;
}

/* "5.0.0", "4.0.0" and the like say less than a code found in the text. */
static bool status_is_vague(const char *status)
{
    size_t len = strlen(status);

    return len >= 5 && strcmp(status + 1, ".0.0") == 0;
}

void rcpt_complete_codes(BOUNCE_RCPT *rcpt)
{
    const char *found;
    size_t len;
    char code[4];

    if (rcpt->diagnostic == NULL)
        return;
    if (rcpt->replycode == NULL && text_leading_replycode(rcpt->diagnostic, code))
        rcpt_set(&rcpt->replycode, code);
    len = text_find_status(rcpt->diagnostic, &found);
    if (len == 0)
        return;
    if (rcpt->status == NULL || *rcpt->status == '\0')
        rcpt_setn(&rcpt->status, found, len);
    else if (status_is_vague(rcpt->status) && found[0] == rcpt->status[0]
             && !(len == 5 && strncmp(found + 1, ".0.0", 4) == 0))
        rcpt_setn(&rcpt->status, found, len);
}

/* A reply code and its separator at p ("550-", "550 "), else false. */
static bool reply_prefix_at(const char *p, char code[4], char *sep)
{
    if (p[0] < '2' || p[0] > '5' || !isdigit((unsigned char) p[1])
        || !isdigit((unsigned char) p[2]) || (p[3] != '-' && p[3] != ' '))
        return false;
    memcpy(code, p, 3);
    code[3] = '\0';
    *sep = p[3];
    return true;
}

/*
 * Drop the prefixes of the continuation lines from a squeezed reply:
 * " 550-5.1.1" and " 550 5.1.1" repeating the first line's code and
 * status, or " 550-" when the first line had no status.  After a
 * single-line start ("550 ") only what is surely a prefix goes.
 */
static void fold_reply_prefixes(char *out)
{
    char code[4];
    char status[16] = "";
    char sep;
    size_t skip;
    char *r;
    char *w;

    if (!reply_prefix_at(out, code, &sep))
        return;
    out[3] = ' ';
    skip = status_len(out + 4);
    if (skip > 0 && skip < sizeof(status)) {
        memcpy(status, out + 4, skip);
        status[skip] = '\0';
    } else {
        skip = 0;
    }
    r = w = out + 4 + skip;
    while (*r) {
        if (r[0] == ' ' && strncmp(r + 1, code, 3) == 0 && (r[4] == '-' || r[4] == ' ')) {
            char *after = r + 5;
            size_t st = status_len(after);

            if (status[0] == '\0' && st == 0 && (sep == '-' || r[4] == '-')
                && !isdigit((unsigned char) *after)) {
                *w++ = ' ';
                r = after;
                continue;
            }
            if (status[0] != '\0' && st == strlen(status) && strncmp(after, status, st) == 0
                && (after[st] == ' ' || after[st] == '\0')) {
                r = after + st;     /* at the following space */
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
}

char *response_clean(const char *text)
{
    char *out;

    if (text == NULL || (out = strdup(text)) == NULL)
        return NULL;
    squeeze_space(out);
    fold_reply_prefixes(out);
    return squeeze_space(out);
}

char *reply_join_lines(char *const *lines, size_t count, size_t first, const char *strip,
                       size_t *used)
{
    TEXT_BUF text = { NULL, 0, 0, false };
    char code[4] = "";
    size_t i = first;
    char *joined;

    *used = 0;
    for (; i < count; i++) {
        const char *line = after_prefix(lines[i], strip);
        char this_code[4];
        char sep;

        if (line == NULL)
            break;
        line = skip_blank(line);
        if (!reply_prefix_at(line, this_code, &sep)) {
            /* "550" alone ends a reply too. */
            if (!(text_leading_replycode(line, this_code) && line[3] == '\0'))
                break;
            sep = ' ';
        }
        if (i > first && strcmp(this_code, code) != 0)
            break;
        memcpy(code, this_code, sizeof(code));
        buf_join_str(&text, line);
        if (sep != '-') {
            i++;
            break;
        }
    }
    if (i == first) {
        buf_free(&text);
        return NULL;
    }
    *used = i - first;
    joined = response_clean(buf_str(&text));
    buf_free(&text);
    return joined;
}

void rcpt_set_response(BOUNCE_RCPT *rcpt, const char *raw)
{
    char *clean = response_clean(raw);

    if (clean != NULL && clean[0] != '\0') {
        free(rcpt->diagnostic);
        rcpt->diagnostic = clean;
        rcpt_complete_codes(rcpt);
    } else {
        free(clean);
    }
}

void rcpt_reason_unless_rules(BOUNCE_RCPT *rcpt, const char *reason)
{
    if (rcpt->reason != NULL)
        return;
    if (rcpt->diagnostic != NULL && rules_reason_for_text(rcpt->diagnostic) != NULL)
        return;
    rcpt->reason = reason;
}
