/*
 * stats.h: what the milter records in the store, kept off the RCPT path.
 *
 * The RCPT callback only counts (one atomic add) and, for the rare
 * rejection, copies a small record into a bounded queue.  One writer
 * thread flushes both, and the ledger's queue (ledger_queue.h, which
 * wakes it as soon as a message waits), to the store every
 * milter.stats-interval seconds
 * and at exit, checkpoints the store every few minutes, and opens the
 * store if it could not be opened at startup.  If the
 * store refuses a write the data stays in memory for the next flush;
 * only a full queue loses rejection events, and those are counted and
 * logged.
 */
#ifndef STATS_H
#define STATS_H

#include <stdbool.h>
#include <time.h>
#include "store.h"

/* Rejection events waiting for the writer; beyond this they are dropped. */
#define STATS_QUEUE_MAX 1024
/* Longest wait between two flushes, whatever stats-interval says. */
#define STATS_MAX_INTERVAL 3600
/* Seconds between store checkpoints. */
#define STATS_CHECKPOINT_INTERVAL 300

struct stats_rejection {
    time_t when;
    char address[ADDR_MAX + 1];
    char reason[STORE_DETAIL_MAX];      /* store reason name */
    char status[STORE_STATUS_MAX];      /* the enhanced code we replied */
    char actor[STORE_ACTOR_MAX];        /* envelope sender */
    char detail[STORE_DETAIL_MAX * 2];  /* client address */
    char response[STORE_RESPONSE_MAX];  /* the reply we gave */
    char via[STORE_VIA_MAX];            /* STORE_VIA_MILTER or STORE_VIA_POLICY */
    char tenant[STORE_TENANT_MAX];      /* the sender's tenant, "" = none */
};

/* Count one recipient let through / refused, on the UTC day of now. */
void stats_count_accepted(time_t now);
void stats_count_rejected(time_t now);
/* One more recipient of tenant's mail, accepted or refused (tenant.h):
 * the counters "tenant/<tenant>/accepted" and ".../rejected".  At most
 * STATS_TENANTS_MAX tenants a day are counted apart between two flushes;
 * the others are left out of the per-tenant figures (logged). */
#define STATS_TENANTS_MAX 512
void stats_count_tenant(time_t now, const char *tenant, bool rejected);
/* Queue a rejection event; false when the queue is full (counted, dropped). */
bool stats_queue_rejection(const struct stats_rejection *rej);

/* Start the writer thread; it writes to the store of store_link.h and,
 * while that is not open, tries to open store_dir.  0 or -1 + err. */
int stats_start(const char *store_dir, SUP_ERR *err);
/* Wake the writer now (tests, reload of stats-interval). */
void stats_wake(void);
/* Stop the writer after a final flush; returns once it has finished. */
void stats_stop(void);

/* One flush of counters and queued events (what the writer does). */
int stats_flush(STORE *st, SUP_ERR *err);

#endif
