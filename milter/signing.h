/*
 * signing.h: which return path the milter gives a message at end of
 * message (signing.* in milter-suppress.conf(5)), for filter.c.
 *
 * One accepted recipient and a signing.bounce-address: the signed VERP
 * address that names the recipient.  Otherwise: the original sender in
 * BATV prvs form.  Never rewritten: the null sender, a sender whose domain
 * is not in signing.sign-domains, one that is signed already, and any
 * message when signing is off or has no key.
 */
#ifndef SIGNING_H
#define SIGNING_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "retpath.h"

/*
 * The new envelope sender for a message from sender (as the client gave
 * it, without <>) with `accepted` recipients let through, only_rcpt being
 * the one when there is exactly one (normalized).  Returns 1 with out
 * filled when the return path is to be rewritten, 0 when not, -1 with err
 * when it should have been but could not (the message goes unsigned).
 */
int signing_return_path(const struct sup_config *cfg, const RETPATH_KEYS *keys,
                        const char *sender, unsigned long accepted, const char *only_rcpt,
                        time_t now, char *out, size_t outlen, SUP_ERR *err);

/* Load (or create, the first time) the key file of cfg when signing is on;
 * keys->count is 0 when it is off.  0, or -1 with err. */
int signing_load_keys(const struct sup_config *cfg, RETPATH_KEYS *keys, SUP_ERR *err);

#endif
