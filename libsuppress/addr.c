/*
 * addr.c: e-mail address normalization (see addr.h).
 *
 * The store is keyed by the normalized address, so the milter (RCPT TO
 * argument), the ingest (addresses out of bounce reports) and suppressctl
 * (what an operator types) must agree byte for byte.  We accept what
 * appears in those places (an SMTP path with <> and a source route, a
 * mailto: URI, a bare address) and reject anything else with a message
 * naming the address and what is wrong with it.
 *
 * Lowercasing the local part is not RFC 5321 (local parts are case
 * sensitive), but every mail system that matters treats them as case
 * insensitive, and a suppression list that missed "John@" after "john@"
 * bounced would fail its purpose.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "addr.h"

/* RFC 5322 atext, plus '.' between atoms: what a local part may be unquoted. */
static bool is_atext(unsigned char c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL) || c >= 0x80;
}

/* Show at most 80 characters of hostile input in an error message. */
static const char *shown(const char *in)
{
    static _Thread_local char buf[84];
    size_t n = strlen(in);
    size_t i;

    if (n > 80)
        n = 80;
    for (i = 0; i < n; i++)
        buf[i] = (iscntrl((unsigned char) in[i]) ? '?' : in[i]);
    buf[i] = '\0';
    if (strlen(in) > 80)
        strcpy(buf + 80, "...");
    return buf;
}

/* Trim surrounding white space into [*start, *end). */
static void trim(const char **start, const char **end)
{
    while (*start < *end && isspace((unsigned char) **start))
        (*start)++;
    while (*end > *start && isspace((unsigned char) (*end)[-1]))
        (*end)--;
}

/* A dot-atom: atoms of atext separated by single dots. */
static bool is_dot_atom(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || s[0] == '.' || s[len - 1] == '.')
        return false;
    for (i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.')
                return false;
        } else if (!is_atext((unsigned char) s[i])) {
            return false;
        }
    }
    return true;
}

/*
 * Find the @ that separates local part and domain: the last @ outside a
 * quoted string.  Returns NULL (and sets *why) on unbalanced quotes.
 */
static const char *find_at(const char *s, const char *end, const char **why)
{
    const char *at = NULL;
    bool quoted = false;
    const char *p;

    for (p = s; p < end; p++) {
        if (quoted && *p == '\\' && p + 1 < end) {
            p++;
        } else if (*p == '"') {
            quoted = !quoted;
        } else if (!quoted && *p == '@') {
            at = p;
        }
    }
    if (quoted) {
        *why = "unbalanced quotes";
        return NULL;
    }
    if (at == NULL)
        *why = "no @";
    return at;
}

/*
 * Normalize a quoted local part "..." into out: unquoted when the content
 * is a dot-atom, else quoted with only \ and " escaped.  Returns length or
 * -1 with *why.  The content has the limit of an unquoted local part (64
 * characters), so that its unquoted form normalizes again to itself
 * (found by tests/fuzz/fuzz_addr.c: a quoted 70-character dot-atom gave
 * an address that addr_normalize() then refused).
 */
static int local_quoted(const char *s, size_t len, char *out, size_t outlen, const char **why)
{
    char content[ADDR_LOCAL_MAX + 1];
    size_t n = 0;
    size_t i;
    size_t o = 0;

    for (i = 1; i + 1 < len; i++) {
        unsigned char c = (unsigned char) s[i];

        if (c == '\\' && i + 2 < len)
            c = (unsigned char) s[++i];
        if (c < 0x20 || c == 0x7f) {
            *why = "control character in the local part";
            return -1;
        }
        if (n >= ADDR_LOCAL_MAX) {
            *why = "local part longer than 64 characters";
            return -1;
        }
        content[n++] = (char) tolower(c);
    }
    content[n] = '\0';
    if (n == 0) {
        *why = "empty local part";
        return -1;
    }
    if (is_dot_atom(content, n)) {
        if (n >= outlen)
            return (*why = "address too long"), -1;
        memcpy(out, content, n + 1);
        return (int) n;
    }
    if (n * 2 + 3 > outlen)
        return (*why = "address too long"), -1;
    out[o++] = '"';
    for (i = 0; i < n; i++) {
        if (content[i] == '"' || content[i] == '\\')
            out[o++] = '\\';
        out[o++] = content[i];
    }
    out[o++] = '"';
    out[o] = '\0';
    return (int) o;
}

/* A domain: dot-separated labels of letters, digits, '-', '_' (seen in the
 * wild), or an address literal [1.2.3.4] / [IPv6:...]; lowercased. */
static int domain_normalize(const char *s, size_t len, char *out, size_t outlen, const char **why)
{
    size_t i;

    if (len == 0)
        return (*why = "empty domain"), -1;
    if (len > ADDR_DOMAIN_MAX)
        return (*why = "domain longer than 255 characters"), -1;
    if (len + 1 > outlen)
        return (*why = "address too long"), -1;
    if (s[0] == '[') {
        if (s[len - 1] != ']' || len < 3)
            return (*why = "malformed address literal"), -1;
        for (i = 1; i + 1 < len; i++)
            if (!isalnum((unsigned char) s[i]) && !strchr(".:-", s[i]))
                return (*why = "invalid character in address literal"), -1;
    } else {
        if (s[0] == '.' || s[len - 1] == '.' || s[0] == '-')
            return (*why = "domain starts or ends with a dot or hyphen"), -1;
        for (i = 0; i < len; i++) {
            unsigned char c = (unsigned char) s[i];

            if (c == '.' && s[i + 1] == '.')
                return (*why = "empty label in domain"), -1;
            if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c < 0x80)
                return (*why = "invalid character in domain"), -1;
        }
    }
    for (i = 0; i < len; i++)
        out[i] = (char) tolower((unsigned char) s[i]);
    out[len] = '\0';
    return (int) len;
}

int addr_normalize(const char *in, char *out, size_t outlen, SUP_ERR *err)
{
    const char *start = in;
    const char *end;
    const char *at;
    const char *why = NULL;
    size_t local_len;
    int n;
    int d;

    if (in == NULL)
        return sup_err_set(err, SUP_ERR_INPUT, "no address given");
    end = in + strlen(in);
    trim(&start, &end);
    if (end - start >= 7 && strncasecmp(start, "mailto:", 7) == 0)
        start += 7;
    if (start < end && *start == '<') {
        if (end[-1] != '>')
            return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": unbalanced <>", shown(in));
        start++;
        end--;
        trim(&start, &end);
    }
    /* RFC 5321 source route: @relay1,@relay2:user@domain */
    if (start < end && *start == '@') {
        const char *colon = memchr(start, ':', (size_t) (end - start));

        if (colon == NULL)
            return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": no local part", shown(in));
        start = colon + 1;
    }
    if (start == end)
        return sup_err_set(err, SUP_ERR_INPUT, "empty address \"%s\"", shown(in));
    for (const char *p = start; p < end; p++)
        if (iscntrl((unsigned char) *p))
            return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": control character", shown(in));
    if ((at = find_at(start, end, &why)) == NULL)
        return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": %s", shown(in), why);
    local_len = (size_t) (at - start);
    if (local_len == 0)
        return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": empty local part", shown(in));
    if (start[0] == '"' && local_len >= 2 && at[-1] == '"') {
        n = local_quoted(start, local_len, out, outlen, &why);
    } else {
        char lower[ADDR_LOCAL_MAX + 1];
        size_t i;

        if (local_len > ADDR_LOCAL_MAX)
            return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": local part longer than 64 characters", shown(in));
        for (i = 0; i < local_len; i++)
            lower[i] = (char) tolower((unsigned char) start[i]);
        lower[local_len] = '\0';
        if (!is_dot_atom(lower, local_len)) {
            why = strpbrk(lower, " ,;<>()[]\"\\") ? "more than one address or a character that needs quoting"
                                                    : "malformed local part";
            n = -1;
        } else if (local_len + 1 > outlen) {
            why = "address too long";
            n = -1;
        } else {
            memcpy(out, lower, local_len + 1);
            n = (int) local_len;
        }
    }
    if (n < 0)
        return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": %s", shown(in), why);
    if ((size_t) n + 1 >= outlen)
        return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": address too long", shown(in));
    out[n] = '@';
    d = domain_normalize(at + 1, (size_t) (end - at - 1), out + n + 1, outlen - (size_t) n - 1, &why);
    if (d < 0)
        return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": %s", shown(in), why);
    if ((size_t) n + 1 + (size_t) d > ADDR_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "address \"%s\": address too long", shown(in));
    return 0;
}

const char *addr_domain(const char *normalized)
{
    const char *at;

    if (normalized == NULL || (at = strrchr(normalized, '@')) == NULL)
        return NULL;
    return at + 1;
}
