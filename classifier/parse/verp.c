/*
 * parse/verp.c: VERP, the failed address encoded in the envelope
 * recipient a bounce came back to (message.h message_*verp*, verp_decode).
 *
 * Offers ingest.c the address a bounce or complaint was about when the
 * report itself does not name one usably, decoded with the pattern main()
 * sets from ingest.verp-pattern.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "bounce.h"
#include "message.h"

/* ---- VERP ---- */

static const char *verp_pattern;

void message_set_verp_pattern(const char *pattern)
{
    verp_pattern = pattern != NULL && *pattern != '\0' ? pattern : NULL;
}

/*
 * The pattern is literal text around %{local} and %{domain}, in either
 * order: prefix P0, first placeholder, separator P1, second, suffix P2.
 * Local parts may contain the separator ('='), domains do not: when the
 * local part comes first the split is at the separator's last occurrence.
 */
int verp_decode(const char *pattern, const char *envelope, char *out, size_t outlen)
{
    const char *local_at = pattern ? strstr(pattern, "%{local}") : NULL;
    const char *domain_at = pattern ? strstr(pattern, "%{domain}") : NULL;
    const char *first, *second;
    size_t first_len, second_len;
    size_t p0, p1, p2, elen;
    const char *sep;
    const char *middle_end;
    char addr[ADDR_MAX * 2];
    const char *local, *domain;
    size_t local_len, domain_len;
    SUP_ERR err;

    if (local_at == NULL || domain_at == NULL || envelope == NULL)
        return -1;
    first = local_at < domain_at ? local_at : domain_at;
    second = local_at < domain_at ? domain_at : local_at;
    first_len = first == local_at ? 8 : 9;
    second_len = second == local_at ? 8 : 9;
    p0 = (size_t) (first - pattern);
    p1 = (size_t) (second - first - (ptrdiff_t) first_len);
    p2 = strlen(second + second_len);
    elen = strlen(envelope);
    if (elen < p0 + p1 + p2 + 2 || strncasecmp(envelope, pattern, p0) != 0
        || strcasecmp(envelope + elen - p2, second + second_len) != 0)
        return -1;
    middle_end = envelope + elen - p2;
    /* Find the separator inside envelope[p0 .. middle_end). */
    sep = NULL;
    for (const char *p = envelope + p0 + 1; p + p1 < middle_end; p++) {
        if (strncasecmp(p, first + first_len, p1) == 0) {
            sep = p;
            if (first != local_at)
                break;          /* domain first: the first separator */
        }
    }
    if (sep == NULL || p1 == 0)
        return -1;
    if (first == local_at) {
        local = envelope + p0;
        local_len = (size_t) (sep - local);
        domain = sep + p1;
        domain_len = (size_t) (middle_end - domain);
    } else {
        domain = envelope + p0;
        domain_len = (size_t) (sep - domain);
        local = sep + p1;
        local_len = (size_t) (middle_end - local);
    }
    if (local_len == 0 || domain_len == 0 || local_len + domain_len + 2 > sizeof(addr))
        return -1;
    snprintf(addr, sizeof(addr), "%.*s@%.*s", (int) local_len, local, (int) domain_len, domain);
    return addr_normalize(addr, out, outlen, &err);
}

int message_verp_recipient(const BOUNCE_MSG *msg, char *out, size_t outlen)
{
    char envelope[ADDR_MAX + 1];
    SUP_ERR err;

    if (verp_pattern == NULL || msg->envelope_recipient == NULL)
        return -1;
    if (addr_normalize(msg->envelope_recipient, envelope, sizeof(envelope), &err) != 0)
        return -1;
    return verp_decode(verp_pattern, envelope, out, outlen);
}
