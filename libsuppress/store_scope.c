/*
 * store_scope.c: the scopes of the suppression store (store.h, Tenants).
 * The global scope's keys are plain normalized addresses, byte for byte
 * what every release before tenants wrote, so an old store (and its
 * lookup index) opens unchanged.  A tenant's key is
 *
 *     \1 tenant \1 address
 *
 * which no address can be (a normalized address holds no control
 * character) and which sorts a tenant's entries together, before the
 * global ones.  Also the tenant counters' names (store_counter_name).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "store.h"
#include "store_bdb.h"
#include "store_record.h"

int store_tenant_check(const char *tenant, SUP_ERR *err)
{
    size_t len;

    if (tenant == NULL || tenant[0] == '\0')
        return sup_err_set(err, SUP_ERR_INPUT, "empty tenant name");
    len = strnlen(tenant, STORE_TENANT_MAX);
    if (len >= STORE_TENANT_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "tenant name longer than %d bytes: %.40s...",
                           STORE_TENANT_MAX - 1, tenant);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) tenant[i];

        if (c <= ' ' || c == 0x7f)
            return sup_err_set(err, SUP_ERR_INPUT,
                               "tenant name \"%.*s\": a control character or a space at byte %zu",
                               (int) i, tenant, i + 1);
    }
    return 0;
}

size_t store_scope_key(char *key, const char *tenant, const char *addr)
{
    size_t tlen = tenant != NULL ? strnlen(tenant, STORE_TENANT_MAX - 1) : 0;
    size_t alen = strnlen(addr, ADDR_MAX);
    size_t len = 0;

    if (tlen > 0) {
        key[len++] = SCOPE_MARK;
        memcpy(key + len, tenant, tlen);
        len += tlen;
        key[len++] = SCOPE_MARK;
    }
    memcpy(key + len, addr, alen);
    len += alen;
    key[len] = '\0';
    return len;
}

int store_scope_split(const unsigned char *key, size_t len, const unsigned char **addr,
                      size_t *alen, const unsigned char **tenant, size_t *tlen)
{
    const unsigned char *close;

    if (len == 0 || key[0] != SCOPE_MARK) {
        *addr = key;
        *alen = len;
        *tenant = key;          /* empty, but a pointer memcpy may take */
        *tlen = 0;
        return len > 0 ? 0 : -1;
    }
    close = memchr(key + 1, SCOPE_MARK, len - 1);
    if (close == NULL || close == key + 1 || close == key + len - 1)
        return -1;
    *tenant = key + 1;
    *tlen = (size_t) (close - key - 1);
    *addr = close + 1;
    *alen = len - (size_t) (close + 1 - key);
    return 0;
}

int store_scope_fill(STORE_ENTRY *entry, const unsigned char *key, size_t len)
{
    const unsigned char *addr, *tenant;
    size_t alen, tlen;

    if (store_scope_split(key, len, &addr, &alen, &tenant, &tlen) < 0
        || tlen >= STORE_TENANT_MAX)
        return -1;
    store_copy_bytes(entry->address, sizeof(entry->address), (const char *) addr, alen);
    store_copy_bytes(entry->tenant, sizeof(entry->tenant), (const char *) tenant, tlen);
    return 0;
}

int store_counter_name(char *buf, size_t buflen, const char *tenant, const char *name,
                       SUP_ERR *err)
{
    int n;

    if (tenant == NULL || tenant[0] == '\0')
        n = snprintf(buf, buflen, "%s", name);
    else
        n = snprintf(buf, buflen, STORE_CTR_TENANT_PREFIX "%s/%s", tenant, name);
    if (n < 0 || (size_t) n >= buflen || (size_t) n > STORE_COUNTER_NAME_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "counter name for tenant %.40s, %s: too long",
                           tenant, name);
    return 0;
}

/* Counter names hold no '/', so the last one ends the tenant. */
void store_counter_split(const char *full, char *tenant_out, size_t tenant_len,
                         const char **name_out)
{
    size_t plen = strlen(STORE_CTR_TENANT_PREFIX);
    const char *slash;

    if (strncmp(full, STORE_CTR_TENANT_PREFIX, plen) != 0
        || (slash = strrchr(full + plen, '/')) == NULL || slash == full + plen) {
        if (tenant_len > 0)
            tenant_out[0] = '\0';
        *name_out = full;
        return;
    }
    store_copy_bytes(tenant_out, tenant_len, full + plen, (size_t) (slash - full - plen));
    *name_out = slash + 1;
}
