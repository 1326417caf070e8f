/*
 * reply.c: expand the milter.reject-text template into reply text that is
 * safe to hand to smfi_setreply() (see reply.h).
 *
 * The text ends up on the SMTP wire of someone else's session, so nothing
 * from the template or the recipient may break the reply: no CR/LF (a
 * second reply line), no lone '%' (libmilter and Sendmail treat the text
 * as a format string), no control characters, bounded length.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "duration.h"
#include "reply.h"

/* Where expanded text goes; stops quietly when the bound is reached. */
struct reply_out {
    char *buf;
    size_t cap;
    size_t len;
    size_t visible;
};

static void out_char(struct reply_out *out, unsigned char ch)
{
    size_t need;

    if (ch == '\r' || ch == '\n')
        return;
    if (ch < 0x20 || ch > 0x7e)
        ch = '?';
    need = (ch == '%') ? 2 : 1;
    if (out->visible >= REPLY_TEXT_MAX || out->len + need >= out->cap)
        return;
    out->buf[out->len++] = (char) ch;
    if (ch == '%')
        out->buf[out->len++] = '%';
    out->visible++;
}

static void out_string(struct reply_out *out, const char *text)
{
    for (; text != NULL && *text != '\0'; text++)
        out_char(out, (unsigned char) *text);
}

/* The value of placeholder name (len bytes), or NULL if unknown. */
static const char *placeholder_value(const char *name, size_t len,
                                     const struct reply_vars *vars,
                                     char *timebuf, size_t timelen)
{
    if (len == 9 && strncmp(name, "recipient", len) == 0)
        return vars->recipient != NULL ? vars->recipient : "";
    if (len == 6 && strncmp(name, "reason", len) == 0)
        return vars->reason != NULL ? vars->reason : "";
    if (len == 6 && strncmp(name, "expiry", len) == 0)
        return time_format_iso(vars->expires, timebuf, timelen);
    if (len == 5 && strncmp(name, "scope", len) == 0)
        return vars->scope != NULL && vars->scope[0] != '\0' ? vars->scope : "global";
    return NULL;
}

size_t reply_expand(const char *tmpl, const struct reply_vars *vars,
                    char *out, size_t outlen)
{
    struct reply_out o = { out, outlen, 0, 0 };
    char timebuf[64];
    const char *p = tmpl != NULL ? tmpl : "";

    if (outlen == 0)
        return 0;
    while (*p != '\0') {
        if (p[0] == '%' && p[1] == '%') {
            out_char(&o, '%');
            p += 2;
            continue;
        }
        if (p[0] == '%' && p[1] == '{') {
            const char *close = strchr(p + 2, '}');
            const char *value = NULL;

            if (close != NULL)
                value = placeholder_value(p + 2, (size_t) (close - p - 2), vars,
                                          timebuf, sizeof(timebuf));
            if (value != NULL) {
                out_string(&o, value);
                p = close + 1;
                continue;
            }
        }
        /* Ordinary character, or a '%' that starts nothing we know. */
        out_char(&o, (unsigned char) *p++);
    }
    o.buf[o.len] = '\0';
    return o.visible;
}

void reply_visible(const char *doubled, char *out, size_t outlen)
{
    size_t o = 0;

    if (outlen == 0)
        return;
    for (; *doubled != '\0' && o + 1 < outlen; doubled++) {
        out[o++] = *doubled;
        if (doubled[0] == '%' && doubled[1] == '%')
            doubled++;
    }
    out[o] = '\0';
}

int reply_check_template(const char *tmpl, SUP_ERR *err)
{
    struct reply_vars none = { "", "", 0, "" };
    char timebuf[64];
    const char *p;

    for (p = tmpl != NULL ? tmpl : ""; *p != '\0'; p++) {
        const char *close;

        if (p[0] == '%' && p[1] == '%') {
            p++;
            continue;
        }
        if (p[0] != '%' || p[1] != '{')
            continue;
        close = strchr(p + 2, '}');
        if (close == NULL)
            return sup_err_set(err, SUP_ERR_CONFIG,
                               "milter.reject-text: unterminated placeholder \"%.40s\"", p);
        if (placeholder_value(p + 2, (size_t) (close - p - 2), &none,
                              timebuf, sizeof(timebuf)) == NULL)
            return sup_err_set(err, SUP_ERR_CONFIG,
                               "milter.reject-text: unknown placeholder \"%.*s\" "
                               "(known: %%{recipient} %%{reason} %%{expiry} %%{scope} %%%%)",
                               (int) (close - p + 1 > 60 ? 60 : close - p + 1), p);
        p = close;
    }
    return 0;
}
