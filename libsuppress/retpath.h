/*
 * retpath.h: signed return paths.  The milter signs the envelope sender of
 * the mail it relays; suppress-ingest verifies the address a bounce came
 * back to, so a bounce for mail this relay never sent is not believed.
 *
 * Two forms, both HMAC-SHA256 under a secret key, truncated:
 *
 *   VERP, one recipient:   BLOCAL+RLOCAL=RDOMAIN+DDD+KMMMMMMMMMMMM@BDOMAIN
 *       (BLOCAL@BDOMAIN is signing.bounce-address; the MAC, 12 hex digits
 *       = 48 bits, covers the recipient and the day)
 *   BATV prvs, any number: prvs=KDDDMMMMMM=LOCAL@DOMAIN
 *       (on the original sender; the MAC, 6 hex digits = 24 bits as BATV
 *       has it, covers the sender and the day)
 *
 * K is the key's id (one digit), DDD the signing day (days since the epoch
 * in UTC, modulo 1000).  The MAC is computed over the normalized (lower
 * case) address, so a remote MTA that changes the case of either part
 * changes nothing; the hex digits are read in either case.
 *
 * Keys live in one file, one line per key, "ID HEX-SECRET": the first
 * line signs, a second one (the key before the last rotation) still
 * verifies.  The file is created with a random key when it is missing.
 */
#ifndef RETPATH_H
#define RETPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "sup_err.h"

#define RETPATH_SECRET_BYTES 32
#define RETPATH_VERP_MAC_DIGITS 12
#define RETPATH_PRVS_MAC_DIGITS 6
#define RETPATH_DAYS_MAX 999        /* the day is kept modulo 1000 */
/* A signed address: a VERP address may be longer than ADDR_MAX. */
#define RETPATH_ADDR_MAX (2 * ADDR_MAX)

typedef struct retpath_key {
    int id;                                     /* 0-9, written as K */
    unsigned char secret[RETPATH_SECRET_BYTES];
} RETPATH_KEY;

typedef struct retpath_keys {
    RETPATH_KEY key[2];         /* key[0] signs; key[1], if any, verifies too */
    int count;
} RETPATH_KEYS;

/* Read the key file.  A missing file is SUP_ERR_NOTFOUND. */
int retpath_keys_load(const char *path, RETPATH_KEYS *keys, SUP_ERR *err);
/* Read it, or create it (mode 0600, one random key) when it is missing. */
int retpath_keys_load_or_create(const char *path, RETPATH_KEYS *keys, SUP_ERR *err);
/*
 * A new signing key: the current one becomes the previous (the one before
 * it is dropped).  The file is replaced atomically and keeps its owner.
 * The new keys are left in *keys.
 */
int retpath_keys_rotate(const char *path, RETPATH_KEYS *keys, SUP_ERR *err);

/*
 * The VERP return path for one recipient (normalized) to out.  -1 with err
 * (SUP_ERR_INPUT) when the recipient cannot be carried in a local part (a
 * quoted local part) or the result is longer than ADDR_LOCAL_MAX: sign
 * with prvs instead.
 */
int retpath_sign_verp(const RETPATH_KEYS *keys, const char *bounce_address, const char *rcpt,
                      time_t now, char *out, size_t outlen, SUP_ERR *err);
/* The prvs form of sender (as given, its case kept) to out; -1 with err. */
int retpath_sign_prvs(const RETPATH_KEYS *keys, const char *sender, time_t now, char *out,
                      size_t outlen, SUP_ERR *err);
/* Does sender already carry a prvs tag or a VERP address of bounce_address
 * (NULL: none configured)?  Such mail is not signed again. */
bool retpath_is_signed(const char *sender, const char *bounce_address);

enum retpath_form {
    RETPATH_UNSIGNED,           /* neither form: nothing to check */
    RETPATH_VERP,
    RETPATH_PRVS,
};

enum retpath_verdict {
    RETPATH_NO_SIGNATURE,       /* the address is not a signed one (0: a zeroed check says so) */
    RETPATH_VALID,
    RETPATH_MALFORMED,          /* looks signed, but its tag does not parse */
    RETPATH_UNKNOWN_KEY,        /* signed with a key id we no longer have */
    RETPATH_BAD_SIGNATURE,
    RETPATH_EXPIRED,            /* older than the validity window */
};

typedef struct retpath_check {
    enum retpath_form form;
    enum retpath_verdict verdict;
    int age_days;               /* since signing, when the tag parsed */
    char address[ADDR_MAX + 1]; /* VERP: the recipient; prvs: the sender (normalized) */
} RETPATH_CHECK;

/*
 * Check the address a bounce was delivered to.  bounce_address (NULL:
 * none) says which addresses are VERP ones; validity_days is the window.
 * Never fails: the verdict says what was found.
 */
void retpath_verify(const RETPATH_KEYS *keys, const char *bounce_address, const char *envelope,
                    time_t now, int validity_days, RETPATH_CHECK *check);

/* "valid", "no signature", "malformed signature", "unknown key", "bad signature", "expired" */
const char *retpath_verdict_name(enum retpath_verdict verdict);

#endif
