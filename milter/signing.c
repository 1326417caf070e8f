/*
 * signing.c: the return path the milter gives a message (signing.h).
 *
 * A VERP address says by itself which recipient a bounce is about, even
 * when the report names nobody usable, so it is preferred; it can only
 * carry one recipient, and a recipient whose local part needs quotes or
 * makes the address too long gets prvs instead.
 */
#include "config.h"

#include <string.h>

#include "addr.h"
#include "log.h"
#include "signing.h"

int signing_load_keys(const struct sup_config *cfg, RETPATH_KEYS *keys, SUP_ERR *err)
{
    memset(keys, 0, sizeof(*keys));
    if (!cfg->signing.enable)
        return 0;
    if (retpath_keys_load_or_create(cfg->signing.key_file, keys, err) < 0) {
        sup_err_prefix(err, "signing is on (signing.enable)");
        return -1;
    }
    /* So that a postmaster sees a rotation take effect. */
    log_info("signing return paths with key %d of %s", keys->key[0].id, cfg->signing.key_file);
    return 0;
}

int signing_return_path(const struct sup_config *cfg, const RETPATH_KEYS *keys,
                        const char *sender, unsigned long accepted, const char *only_rcpt,
                        time_t now, char *out, size_t outlen, SUP_ERR *err)
{
    char normalized[ADDR_MAX + 1];
    SUP_ERR verp_err;

    if (keys == NULL || keys->count == 0 || accepted == 0 || sender == NULL || *sender == '\0')
        return 0;
    if (addr_normalize(sender, normalized, sizeof(normalized), NULL) < 0
        || !conf_signs_domain(cfg, addr_domain(normalized))
        || retpath_is_signed(sender, cfg->signing.bounce_address))
        return 0;
    if (accepted == 1 && only_rcpt != NULL && cfg->signing.bounce_address != NULL) {
        if (retpath_sign_verp(keys, cfg->signing.bounce_address, only_rcpt, now, out, outlen,
                              &verp_err) == 0)
            return 1;
        log_debug("VERP not possible, signing with prvs: %s", verp_err.text);
    }
    return retpath_sign_prvs(keys, sender, now, out, outlen, err) == 0 ? 1 : -1;
}
