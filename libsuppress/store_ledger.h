/*
 * store_ledger.h: the record of ledger.db (the ledger of sent mail),
 * private to store_ledger.c and its tests (check_store_ledger.c), as
 * store_record.h is for entries and events.  store_ledger.c's header
 * comment describes the format.
 */
#ifndef STORE_LEDGER_H
#define STORE_LEDGER_H

#include <stddef.h>
#include <time.h>

#include "sup_err.h"

#define STORE_LEDGER_VERSION 1
#define STORE_LEDGER_VERSION_TENANT 2   /* the same with the tenant after the sender */
#define STORE_LEDGER_HEADER  9      /* version byte + be64 time */

/* A decoded record; the strings point into the buffer decoded. */
struct ledger_record {
    time_t when;                    /* the earliest time the Message-ID was recorded */
    const char *sender;             /* NUL-terminated, may be "" */
    const char *tenant;             /* NUL-terminated, "" in a version 1 record */
    const char *rcpts;              /* the first recipient; each ends with a NUL */
    size_t rcpts_len;               /* bytes from rcpts to the end of the record */
    size_t rcpt_count;              /* 1 .. STORE_LEDGER_RCPTS_MAX */
};

/*
 * Check a record and point rec into it: 0, or -1 with err (SUP_ERR_IO,
 * "damaged record: why") for a record this release did not write: the
 * caller names the file and the key.
 */
int store_ledger_decode(const unsigned char *buf, size_t len, struct ledger_record *rec,
                        SUP_ERR *err);

#endif
