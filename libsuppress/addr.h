/*
 * addr.h: e-mail address normalization, the key of the suppression store.
 *
 * Every program normalizes an address the same way before it looks it up
 * or stores it, so "<John@Example.COM>" and "john@example.com" are one key.
 */
#ifndef ADDR_H
#define ADDR_H

#include <stddef.h>
#include "sup_err.h"

/* RFC 5321: local part 64, domain 255; a path is at most 256 with <>. */
#define ADDR_LOCAL_MAX 64
#define ADDR_DOMAIN_MAX 255
#define ADDR_MAX 320            /* buffer size for a normalized address, without NUL */

/*
 * addr_normalize: strip surrounding space and <>, an RFC 5321 source route
 * (@a,@b:) and a "mailto:" prefix; lowercase; unquote a quoted local part
 * when it needs no quotes ("john"@x -> john@x), keep the quotes (and escape
 * only what must be) when it does.  Rejects what is not one address: empty,
 * no @, empty local part or domain, control characters, unbalanced quotes,
 * over-long parts, invalid domain characters, more than one address.
 * out must have room for ADDR_MAX + 1 bytes.  Returns 0 or -1 with err set
 * (class SUP_ERR_INPUT, text naming the address and what is wrong).
 */
int addr_normalize(const char *in, char *out, size_t outlen, SUP_ERR *err);

/* The domain part of a normalized address (pointer into addr), or NULL. */
const char *addr_domain(const char *normalized);

#endif
