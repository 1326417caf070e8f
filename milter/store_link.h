/*
 * store_link.h: the milter's one handle on the suppression store, shared
 * by the libmilter callbacks (lookups) and the stats writer (writes).
 *
 * The store may not open at startup (disk not mounted, wrong owner, a
 * typo being fixed): the milter runs anyway, every lookup gets the
 * configured on-store-error action, and the stats writer retries the open
 * every STORE_LINK_RETRY seconds until it works.  Once open, the handle
 * stays until shutdown.
 */
#ifndef STORE_LINK_H
#define STORE_LINK_H

#include <stdbool.h>
#include <time.h>
#include "store.h"

#define STORE_LINK_RETRY 5      /* seconds between attempts to open the store */

/* Try to open dir (STORE_CREATE | STORE_NOSYNC); 0, or -1 with err. */
int store_link_open(const char *dir, SUP_ERR *err);
/* The open store, or NULL while it could not be opened. */
STORE *store_link_get(void);
/* store_lookup_tenant on the shared handle (tenant NULL: store_lookup);
 * an error while the store is not open or after shutdown has begun. */
int store_link_lookup(const char *tenant, const char *addr, time_t now, STORE_ENTRY *entry,
                      SUP_ERR *err);
/* Refuse new lookups and wait (up to wait_ms) for those in progress;
 * false if some were still running when the time ran out. */
bool store_link_quiesce(long wait_ms);
/* Close the store (after store_link_quiesce and the last flush). */
int store_link_close(SUP_ERR *err);

#endif
