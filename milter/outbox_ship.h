/*
 * outbox_ship.h: on a site of a fleet (the replication section of
 * milter-suppress.conf(5)), the milter's outbox and the thread that
 * ships it to the master (store_outbox.h).
 *
 * On a replica the statistics writer (stats.c) puts each flush into the
 * outbox (outbox_ship_outbox) and wakes the shipper, which sends the
 * oldest batch to the master, deletes it once the master answered, and
 * waits and tries again (1 s, doubling to 30 s) while there is no master
 * or it does not answer; on a site that has become master it applies
 * its own outbox there.  On every site the thread also lends the store
 * the master applies incoming batches with (store_ship_serve), so that
 * whichever site is master takes them.
 */
#ifndef OUTBOX_SHIP_H
#define OUTBOX_SHIP_H

#include "store_outbox.h"

/* Start the shipper for the store in store_dir.  0, or -1 with err. */
int outbox_ship_start(const char *store_dir, SUP_ERR *err);
/* After the statistics writer's last flush: stop the shipper, stop
 * taking batches, close what it opened.  Safe if never started. */
void outbox_ship_stop(void);
/* A new batch waits: ship it now. */
void outbox_ship_wake(void);
/* The outbox, opened (created) at the first call; NULL with err when it
 * cannot be, or when no shipper was started (not a fleet). */
STORE_OUTBOX *outbox_ship_outbox(SUP_ERR *err);

#endif
