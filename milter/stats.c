/*
 * stats.c: counters and rejection events, written to the store by one
 * background thread (see stats.h).
 *
 * Counters live in two day slots indexed by the parity of the UTC day
 * number, so a count taken just before midnight is still booked on the
 * day it happened when the flush runs after midnight.  This holds as long
 * as a flush happens at least once a day: the interval is capped at an
 * hour (STATS_MAX_INTERVAL).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "ledger_queue.h"
#include "live_conf.h"
#include "log.h"
#include "outbox_ship.h"
#include "stats.h"
#include "store_link.h"

#define SECONDS_PER_DAY 86400
#define EVENT_BATCH 64          /* events written per transaction */
#define TXN_ATTEMPTS 5          /* tries of a deadlocked transaction */

struct day_counts {
    atomic_uint_fast64_t accepted;
    atomic_uint_fast64_t rejected;
};

static struct day_counts day_slots[2];

/*
 * Per tenant (only with tenant != "none"): a small open-addressing table
 * per day slot under one lock, emptied by each flush.  The RCPT path
 * pays a hash and a short probe.
 */
struct tenant_counts {
    char name[STORE_TENANT_MAX];        /* "" = free */
    uint64_t accepted;
    uint64_t rejected;
};

static pthread_mutex_t tenant_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tenant_counts tenant_slots[2][STATS_TENANTS_MAX];
static size_t tenant_used[2];
static atomic_ulong tenant_overflow;

/* The rejection queue: a ring with one producer lock, one consumer. */
static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct stats_rejection queue[STATS_QUEUE_MAX];
static size_t queue_head;
static size_t queue_len;
static atomic_ulong queue_dropped;

/* The writer thread. */
static pthread_mutex_t writer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t writer_cond;
static bool writer_stopping;
static bool writer_kicked;
static bool writer_running;
static pthread_t writer_thread;
static const char *writer_store_dir;

static struct day_counts *slot_for(time_t now)
{
    return &day_slots[(now / SECONDS_PER_DAY) & 1];
}

void stats_count_accepted(time_t now)
{
    atomic_fetch_add_explicit(&slot_for(now)->accepted, 1, memory_order_relaxed);
}

void stats_count_rejected(time_t now)
{
    atomic_fetch_add_explicit(&slot_for(now)->rejected, 1, memory_order_relaxed);
}

static size_t tenant_hash(const char *name)
{
    size_t h = 2166136261u;

    for (; *name != '\0'; name++)
        h = (h ^ (unsigned char) *name) * 16777619u;
    return h;
}

/* The table entry of name in slot (added if new), or NULL when full;
 * called with tenant_lock. */
static struct tenant_counts *tenant_entry(int slot, const char *name)
{
    size_t i = tenant_hash(name) % STATS_TENANTS_MAX;

    for (size_t n = 0; n < STATS_TENANTS_MAX; n++, i = (i + 1) % STATS_TENANTS_MAX) {
        struct tenant_counts *t = &tenant_slots[slot][i];

        if (strcmp(t->name, name) == 0)
            return t;
        if (t->name[0] == '\0') {
            if (tenant_used[slot] + 1 >= STATS_TENANTS_MAX)
                return NULL;    /* keep one free: the probe always ends */
            store_copy_text(t->name, sizeof(t->name), name);
            tenant_used[slot]++;
            return t;
        }
    }
    return NULL;
}

static void tenant_add(int slot, const char *name, uint64_t accepted, uint64_t rejected)
{
    struct tenant_counts *t;

    pthread_mutex_lock(&tenant_lock);
    if ((t = tenant_entry(slot, name)) != NULL) {
        t->accepted += accepted;
        t->rejected += rejected;
    }
    pthread_mutex_unlock(&tenant_lock);
    if (t == NULL)
        atomic_fetch_add(&tenant_overflow, 1);
}

void stats_count_tenant(time_t now, const char *tenant, bool rejected)
{
    tenant_add((int) ((now / SECONDS_PER_DAY) & 1), tenant, rejected ? 0 : 1, rejected ? 1 : 0);
}

bool stats_queue_rejection(const struct stats_rejection *rej)
{
    bool queued = false;

    pthread_mutex_lock(&queue_lock);
    if (queue_len < STATS_QUEUE_MAX) {
        queue[(queue_head + queue_len) % STATS_QUEUE_MAX] = *rej;
        queue_len++;
        queued = true;
    }
    pthread_mutex_unlock(&queue_lock);
    if (!queued) {
        /* Counted all the same, as a rejection without an event. */
        atomic_fetch_add(&queue_dropped, 1);
        stats_count_rejected(rej->when);
        if (rej->tenant[0] != '\0')
            tenant_add((int) ((rej->when / SECONDS_PER_DAY) & 1), rej->tenant, 0, 1);
    }
    return queued;
}

/*
 * One flush commits, in ONE transaction, the counters and a batch of
 * rejection events, so that after a kill the "rejected" counters equal
 * the rejection events stored.  A rejection's count travels with its
 * event: the RCPT path counts nothing for it (stats_queue_rejection
 * queues the event), and the transaction that stores a batch of events
 * adds one to the day's "rejected" (and to its tenant's) per event.  Only
 * rejections without an event (the queue full, an event the store
 * refuses, stats_count_rejected) are counted apart, and go with the
 * accepted counts.  Events beyond one batch (EVENT_BATCH) follow in the
 * next transactions, each carrying its own counts.
 *
 * flush_gather takes what one transaction writes (flush_batch), and
 * flush_write writes it; flush_putback returns it when the write failed.
 */
struct flush_batch {
    long today;
    uint64_t accepted[2], rejected[2];  /* [0] today, [1] yesterday; rejected: without an event */
    struct tenant_counts tenants[2][STATS_TENANTS_MAX];
    size_t tenant_n[2];
    struct stats_rejection items[EVENT_BATCH];
    size_t count;
    int max_events;
};

static int write_counter(STORE *st, STORE_TXN *txn, const char *day, const char *tenant,
                         const char *name, uint64_t value, SUP_ERR *err)
{
    char full[STORE_COUNTER_NAME_MAX + 1];

    if (value == 0)
        return 0;
    if (tenant == NULL || tenant[0] == '\0')
        return store_counter_add(st, txn, day, name, value, err);
    if (store_counter_name(full, sizeof(full), tenant, name, err) < 0)
        return -1;
    return store_counter_add(st, txn, day, full, value, err);
}

static void event_from_rejection(const struct stats_rejection *rej, STORE_EVENT *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = STORE_EV_REJECTED;
    ev->when = rej->when;
    store_copy_text(ev->address, sizeof(ev->address), rej->address);
    store_copy_text(ev->reason, sizeof(ev->reason), rej->reason);
    store_copy_text(ev->status, sizeof(ev->status), rej->status);
    store_copy_text(ev->actor, sizeof(ev->actor), rej->actor);
    store_copy_text(ev->detail, sizeof(ev->detail), rej->detail);
    store_copy_text(ev->response, sizeof(ev->response), rej->response);
    store_copy_text(ev->via, sizeof(ev->via), rej->via);
    store_copy_text(ev->tenant, sizeof(ev->tenant), rej->tenant);
}

static const char *day_name(long day, char *buf, size_t len)
{
    return time_format_day((time_t) day * SECONDS_PER_DAY, buf, len);
}

/* The counts of day index d (0 today, 1 yesterday) of the batch. */
static int write_day_counts(STORE *st, STORE_TXN *txn, const struct flush_batch *fb, int d,
                            SUP_ERR *err)
{
    char day[16];

    day_name(fb->today - d, day, sizeof(day));
    if (write_counter(st, txn, day, NULL, STORE_CTR_ACCEPTED, fb->accepted[d], err) < 0
        || write_counter(st, txn, day, NULL, STORE_CTR_REJECTED, fb->rejected[d], err) < 0)
        return -1;
    for (size_t i = 0; i < fb->tenant_n[d]; i++) {
        const struct tenant_counts *t = &fb->tenants[d][i];

        if (write_counter(st, txn, day, t->name, STORE_CTR_ACCEPTED, t->accepted, err) < 0
            || write_counter(st, txn, day, t->name, STORE_CTR_REJECTED, t->rejected, err) < 0)
            return -1;
    }
    return 0;
}

/* One event and the counts it carries: its day's "rejected", its tenant's. */
static int write_event(STORE *st, STORE_TXN *txn, const struct stats_rejection *rej,
                       int max_events, SUP_ERR *err)
{
    STORE_EVENT ev;
    char day[16];

    event_from_rejection(rej, &ev);
    if (store_event_add(st, txn, &ev, max_events, err) < 0) {
        sup_err_prefix(err, "recording the rejection of %s", rej->address);
        return -1;
    }
    day_name((long) (rej->when / SECONDS_PER_DAY), day, sizeof(day));
    if (write_counter(st, txn, day, NULL, STORE_CTR_REJECTED, 1, err) < 0
        || write_counter(st, txn, day, rej->tenant, STORE_CTR_REJECTED, rej->tenant[0] ? 1 : 0,
                         err) < 0)
        return -1;
    return 0;
}

/* store_in_txn callback: everything in the batch, in one transaction. */
static int flush_write(STORE *st, STORE_TXN *txn, void *ctx, SUP_ERR *err)
{
    const struct flush_batch *fb = ctx;

    for (int d = 0; d < 2; d++)
        if (write_day_counts(st, txn, fb, d, err) < 0)
            return -1;
    for (size_t i = 0; i < fb->count; i++)
        if (write_event(st, txn, &fb->items[i], fb->max_events, err) < 0)
            return -1;
    return 0;
}

/* Take one day slot's tenant table (into out, the writer's own) and empty it. */
static size_t take_tenants(int slot, struct tenant_counts *out)
{
    size_t n = 0;

    pthread_mutex_lock(&tenant_lock);
    for (size_t i = 0; i < STATS_TENANTS_MAX; i++)
        if (tenant_slots[slot][i].name[0] != '\0')
            out[n++] = tenant_slots[slot][i];
    memset(tenant_slots[slot], 0, sizeof(tenant_slots[slot]));
    tenant_used[slot] = 0;
    pthread_mutex_unlock(&tenant_lock);
    return n;
}

/* Copy up to EVENT_BATCH queued events without removing them: they leave
 * the queue only once the store has them. */
static void peek_batch(struct flush_batch *fb)
{
    pthread_mutex_lock(&queue_lock);
    fb->count = queue_len < EVENT_BATCH ? queue_len : EVENT_BATCH;
    for (size_t i = 0; i < fb->count; i++)
        fb->items[i] = queue[(queue_head + i) % STATS_QUEUE_MAX];
    pthread_mutex_unlock(&queue_lock);
}

static void drop_batch(size_t count)
{
    pthread_mutex_lock(&queue_lock);
    queue_head = (queue_head + count) % STATS_QUEUE_MAX;
    queue_len -= count;
    pthread_mutex_unlock(&queue_lock);
}

/* What one transaction of the flush writes: the counts taken now (today
 * and yesterday) and the first batch of queued events. */
static void flush_gather(struct flush_batch *fb, time_t now, int max_events)
{
    fb->today = (long) (now / SECONDS_PER_DAY);
    fb->max_events = max_events;
    for (int d = 0; d < 2; d++) {
        struct day_counts *slot = &day_slots[(fb->today - d) & 1];

        fb->accepted[d] = atomic_exchange(&slot->accepted, 0);
        fb->rejected[d] = atomic_exchange(&slot->rejected, 0);
        fb->tenant_n[d] = take_tenants((int) ((fb->today - d) & 1), fb->tenants[d]);
    }
    peek_batch(fb);
}

/* The write failed: the counts go back for the next flush (the events
 * never left the queue). */
static void flush_putback(const struct flush_batch *fb)
{
    for (int d = 0; d < 2; d++) {
        int slot = (int) ((fb->today - d) & 1);

        atomic_fetch_add(&day_slots[slot].accepted, fb->accepted[d]);
        atomic_fetch_add(&day_slots[slot].rejected, fb->rejected[d]);
        for (size_t i = 0; i < fb->tenant_n[d]; i++)
            tenant_add(slot, fb->tenants[d][i].name, fb->tenants[d][i].accepted,
                       fb->tenants[d][i].rejected);
    }
}

/*
 * The store refused the data of some event in the batch (SUP_ERR_INPUT):
 * retrying it cannot help and keeping it would block the queue for good.
 * Write the events one at a time; one refused is dropped (logged) and
 * counted as a rejection without an event.
 */
static int write_one_by_one(STORE *st, struct flush_batch *fb, SUP_ERR *err)
{
    static struct flush_batch one;      /* only the writer flushes */
    size_t n = fb->count;

    memset(&one, 0, sizeof(one));
    one.today = fb->today;
    one.max_events = fb->max_events;
    one.count = 1;
    for (size_t i = 0; i < n; i++) {
        one.items[0] = fb->items[i];
        if (store_in_txn(st, flush_write, &one, TXN_ATTEMPTS, err) < 0) {
            if (err->cls != SUP_ERR_INPUT)
                return -1;
            log_error("dropping a rejection event the store refuses: %s", err->text);
            stats_count_rejected(fb->items[i].when);
            if (fb->items[i].tenant[0] != '\0')
                tenant_add((int) ((fb->items[i].when / SECONDS_PER_DAY) & 1),
                           fb->items[i].tenant, 0, 1);
        }
        drop_batch(1);
    }
    return 0;
}

static int flush_all(STORE *st, int max_events, SUP_ERR *err)
{
    static struct flush_batch fb;       /* only the writer flushes */

    do {
        flush_gather(&fb, time(NULL), max_events);
        if (store_in_txn(st, flush_write, &fb, TXN_ATTEMPTS, err) == 0) {
            drop_batch(fb.count);
            continue;
        }
        flush_putback(&fb);
        if (err->cls != SUP_ERR_INPUT || fb.count == 0)
            return -1;          /* the store is unwell: all kept for later */
        if (write_one_by_one(st, &fb, err) < 0)
            return -1;
        fb.count = 1;           /* go on with what is left */
    } while (fb.count > 0);
    return 0;
}

/* ---- on a replica: the flush goes to the outbox (outbox_ship.h) ------- */

/*
 * A replica cannot write into its replica of the store: what one flush
 * takes (counter deltas, tenants' counters, rejection events, ledger
 * messages) becomes one batch in the outbox, which the shipper sends to
 * the master.  They leave memory once the outbox has the batch; if it
 * cannot be written the counts go back and the rest stays queued, as
 * when the store refuses a write.  Past replication.outbox-max the batch
 * is dropped (counted in the outbox and logged): memory must not fill.
 */
#define OUTBOX_BATCH_BYTES (1024 * 1024)    /* a flush is cut into batches of about this */

struct replica_take {
    long day[2];                            /* today, yesterday */
    uint64_t accepted[2], rejected[2];
    size_t tenant_n[2];
    size_t events, ledger;
};

static struct tenant_counts replica_tenants[2][STATS_TENANTS_MAX];    /* the writer's own */

static void batch_counter(STORE_BATCH *b, const char *day, const char *tenant, const char *name,
                          uint64_t value)
{
    char full[STORE_COUNTER_NAME_MAX + 1];
    SUP_ERR err;

    sup_err_clear(&err);
    if (value == 0)
        return;
    if (store_counter_name(full, sizeof(full), tenant, name, &err) < 0
        || store_batch_add_counter(b, day, full, value, &err) < 0)
        log_error("a counter left out of the batch for the master: %s", err.text);
}

static void take_counters_into(STORE_BATCH *b, struct replica_take *t, time_t now)
{
    long today = (long) (now / SECONDS_PER_DAY);

    for (int i = 0; i < 2; i++) {
        struct day_counts *slot = &day_slots[(today - i) & 1];
        char day[16];

        t->day[i] = today - i;
        time_format_day((time_t) t->day[i] * SECONDS_PER_DAY, day, sizeof(day));
        t->accepted[i] = atomic_exchange(&slot->accepted, 0);
        t->rejected[i] = atomic_exchange(&slot->rejected, 0);
        batch_counter(b, day, NULL, STORE_CTR_ACCEPTED, t->accepted[i]);
        batch_counter(b, day, NULL, STORE_CTR_REJECTED, t->rejected[i]);
        t->tenant_n[i] = take_tenants((int) (t->day[i] & 1), replica_tenants[i]);
        for (size_t k = 0; k < t->tenant_n[i]; k++) {
            const struct tenant_counts *tc = &replica_tenants[i][k];

            batch_counter(b, day, tc->name, STORE_CTR_ACCEPTED, tc->accepted);
            batch_counter(b, day, tc->name, STORE_CTR_REJECTED, tc->rejected);
        }
    }
}

static void give_counters_back(const struct replica_take *t)
{
    for (int i = 0; i < 2; i++) {
        struct day_counts *slot = &day_slots[t->day[i] & 1];

        atomic_fetch_add(&slot->accepted, t->accepted[i]);
        atomic_fetch_add(&slot->rejected, t->rejected[i]);
        for (size_t k = 0; k < t->tenant_n[i]; k++)
            tenant_add((int) (t->day[i] & 1), replica_tenants[i][k].name,
                       replica_tenants[i][k].accepted, replica_tenants[i][k].rejected);
    }
}

/* An event's count travels with it (see flush_batch): its day's
 * "rejected" and its tenant's, in the batch beside it. */
static void batch_event_counts(STORE_BATCH *b, const struct stats_rejection *rej)
{
    char day[16];

    time_format_day(rej->when - rej->when % SECONDS_PER_DAY, day, sizeof(day));
    batch_counter(b, day, NULL, STORE_CTR_REJECTED, 1);
    if (rej->tenant[0] != '\0')
        batch_counter(b, day, rej->tenant, STORE_CTR_REJECTED, 1);
}

/* The queued events from the head, up to OUTBOX_BATCH_BYTES of batch,
 * each with its counts. */
static size_t take_events_into(STORE_BATCH *b)
{
    static struct flush_batch chunk;    /* only the writer flushes */
    size_t taken = 0;
    STORE_EVENT ev;
    SUP_ERR err;

    while (store_batch_bytes(b) < OUTBOX_BATCH_BYTES) {
        pthread_mutex_lock(&queue_lock);
        chunk.count = queue_len - taken < EVENT_BATCH ? queue_len - taken : EVENT_BATCH;
        for (size_t i = 0; i < chunk.count; i++)
            chunk.items[i] = queue[(queue_head + taken + i) % STATS_QUEUE_MAX];
        pthread_mutex_unlock(&queue_lock);
        if (chunk.count == 0)
            break;
        for (size_t i = 0; i < chunk.count && store_batch_bytes(b) < OUTBOX_BATCH_BYTES; i++) {
            event_from_rejection(&chunk.items[i], &ev);
            sup_err_clear(&err);
            if (store_batch_add_event(b, &ev, &err) < 0)
                log_error("dropping a rejection event the batch refuses: %s", err.text);
            batch_event_counts(b, &chunk.items[i]);     /* counted, event or not */
            taken++;
        }
    }
    return taken;
}

static int flush_one_batch(time_t now, bool with_counters, bool *more, SUP_ERR *err)
{
    struct replica_take t;
    STORE_BATCH *b = store_batch_new();
    STORE_OUTBOX *ob;
    size_t refused = 0;
    int rc;

    memset(&t, 0, sizeof(t));
    *more = false;
    if (b == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory building a batch for the master");
    if (with_counters)
        take_counters_into(b, &t, now);
    t.events = take_events_into(b);
    t.ledger = ledger_queue_into_batch(b, OUTBOX_BATCH_BYTES, &refused);
    if (store_batch_records(b) == 0) {
        /* Nothing, or only what the batch refused (logged): gone. */
        drop_batch(t.events);
        ledger_queue_drop(t.ledger);
        store_batch_free(b);
        return 0;
    }
    if ((ob = outbox_ship_outbox(err)) == NULL || (rc = store_outbox_put(ob, b, err)) < 0) {
        if (with_counters)
            give_counters_back(&t);
        store_batch_free(b);
        sup_err_prefix(err, "this site is a replica: keeping its statistics for the outbox");
        return -1;
    }
    if (rc == 1)
        log_warn("outbox full (replication.outbox-max): a batch of %zu rejection events, %zu"
                 " ledger messages and the counts of this flush is dropped", t.events, t.ledger);
    drop_batch(t.events);
    ledger_queue_drop(t.ledger);
    store_batch_free(b);
    outbox_ship_wake();
    pthread_mutex_lock(&queue_lock);
    *more = queue_len > 0;
    pthread_mutex_unlock(&queue_lock);
    *more = *more || ledger_queue_length() > 0;
    return 0;
}

/* The seam of stats_flush on a replica: everything into the outbox. */
static int flush_to_outbox(SUP_ERR *err)
{
    time_t now = time(NULL);
    bool more = false;
    /* Bounded: the queues hold at most STATS_QUEUE_MAX + LEDGER_QUEUE_MAX. */
    int rounds = 1 + (STATS_QUEUE_MAX + LEDGER_QUEUE_MAX) / EVENT_BATCH;

    for (int i = 0; i < rounds; i++) {
        if (flush_one_batch(now, i == 0, &more, err) < 0)
            return -1;
        if (!more)
            break;
    }
    return 0;
}

static int current_max_events(void)
{
    struct live_conf *ref = live_conf_acquire();
    int max_events = ref != NULL ? live_conf_get(ref)->policy.timeline_max_events : 0;

    live_conf_release(ref);
    return max_events;
}

int stats_flush(STORE *st, SUP_ERR *err)
{
    unsigned long dropped = atomic_exchange(&queue_dropped, 0);
    SUP_ERR counter_err;
    int rc = 0;

    unsigned long untold = atomic_exchange(&tenant_overflow, 0);

    if (dropped > 0)
        log_warn("rejection queue full (%d): %lu rejection events were not recorded",
                 STATS_QUEUE_MAX, dropped);
    if (untold > 0)
        log_warn("more than %d tenants since the last flush: %lu recipients were left out of"
                 " the per-tenant counters (the totals have them)", STATS_TENANTS_MAX - 1,
                 untold);
    if (store_is_replica(st))
        return flush_to_outbox(err);
    if (flush_all(st, current_max_events(), err) < 0)
        rc = -1;
    /* The ledger goes on its own: a failed flush of the counters must not
     * hold it back. */
    if (ledger_queue_flush(st, rc == 0 ? err : &counter_err) < 0)
        rc = -1;
    return rc;
}

/* Seconds until the next flush: stats-interval, but at least hourly, which
 * the two day slots need (see the top of this file). */
static long current_interval(void)
{
    struct live_conf *ref = live_conf_acquire();
    long interval = ref != NULL ? live_conf_get(ref)->milter.stats_interval : 60;

    live_conf_release(ref);
    if (interval < 1)
        return 1;
    return interval > STATS_MAX_INTERVAL ? STATS_MAX_INTERVAL : interval;
}

/* A failing flush is said once, then again once every FLUSH_ERROR_LOG_EVERY
 * seconds while it goes on (a damaged store fails every flush), and once
 * more when flushes work again. */
#define FLUSH_ERROR_LOG_EVERY 60

static void flush_and_log(STORE *st)
{
    static time_t failing_since, logged_at;
    static unsigned long failed;
    time_t now = time(NULL);
    SUP_ERR err;

    sup_err_clear(&err);
    if (stats_flush(st, &err) == 0) {
        if (failed > 0)
            log_info("statistics written again, after %lu failed flushes", failed);
        failed = 0;
        failing_since = 0;
        return;
    }
    failed++;
    if (failing_since == 0 || now - logged_at >= FLUSH_ERROR_LOG_EVERY) {
        log_error("statistics not written yet (kept for the next flush%s): %s",
                  failed > 1 ? ", failing for a while" : "", err.text);
        logged_at = now;
        if (failing_since == 0)
            failing_since = now;
    }
}

static void checkpoint_and_log(STORE *st)
{
    SUP_ERR err;

    sup_err_clear(&err);
    if (store_checkpoint(st, &err) < 0)
        log_error("store checkpoint failed: %s", err.text);
}

/* Sleep until the deadline, a kick or stop; called with writer_lock. */
static void wait_for_work(long interval)
{
    struct timespec deadline;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += interval;
    while (!writer_stopping && !writer_kicked) {
        if (pthread_cond_timedwait(&writer_cond, &writer_lock, &deadline) == ETIMEDOUT)
            break;
    }
    writer_kicked = false;
}

/* The store did not open at startup: try again, logging at most once a
 * minute so that a long outage does not flood the log. */
static void retry_open(time_t now)
{
    static time_t last_logged;
    SUP_ERR err;

    sup_err_clear(&err);
    if (store_link_open(writer_store_dir, &err) == 0) {
        log_info("store %s is open now; lookups use it from here on", writer_store_dir);
        return;
    }
    if (now - last_logged >= 60) {
        log_error("store still unavailable (retrying every %d s): %s", STORE_LINK_RETRY,
                  err.text);
        last_logged = now;
    }
}

static void *writer_main(void *arg)
{
    struct timespec now, last_checkpoint;
    STORE *st;

    (void) arg;
    clock_gettime(CLOCK_MONOTONIC, &last_checkpoint);
    pthread_mutex_lock(&writer_lock);
    while (!writer_stopping) {
        long interval = current_interval();

        if (store_link_get() == NULL && interval > STORE_LINK_RETRY)
            interval = STORE_LINK_RETRY;
        wait_for_work(interval);
        pthread_mutex_unlock(&writer_lock);
        if ((st = store_link_get()) == NULL)
            retry_open(time(NULL));
        if ((st = store_link_get()) != NULL) {
            flush_and_log(st);
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - last_checkpoint.tv_sec >= STATS_CHECKPOINT_INTERVAL) {
                checkpoint_and_log(st);
                last_checkpoint = now;
            }
        }
        pthread_mutex_lock(&writer_lock);
    }
    pthread_mutex_unlock(&writer_lock);
    /* Final flush at exit: nothing counted may be lost. */
    if ((st = store_link_get()) != NULL)
        flush_and_log(st);
    else
        log_error("store never opened: the counts of this run are lost");
    return NULL;
}

int stats_start(const char *store_dir, SUP_ERR *err)
{
    pthread_condattr_t attr;
    int rc;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&writer_cond, &attr);
    pthread_condattr_destroy(&attr);
    writer_store_dir = store_dir;
    writer_stopping = false;
    rc = pthread_create(&writer_thread, NULL, writer_main, NULL);
    if (rc != 0)
        return sup_err_set(err, SUP_ERR_IO, "starting the statistics writer thread: %s",
                           strerror(rc));
    writer_running = true;
    return 0;
}

void stats_wake(void)
{
    pthread_mutex_lock(&writer_lock);
    writer_kicked = true;
    pthread_cond_signal(&writer_cond);
    pthread_mutex_unlock(&writer_lock);
}

void stats_stop(void)
{
    if (!writer_running)
        return;
    pthread_mutex_lock(&writer_lock);
    writer_stopping = true;
    pthread_cond_signal(&writer_cond);
    pthread_mutex_unlock(&writer_lock);
    pthread_join(writer_thread, NULL);
    writer_running = false;
}
