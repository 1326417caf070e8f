/*
 * outbox_ship.c: the milter's shipping thread and outbox (outbox_ship.h).
 * One thread: it opens its own handle on the store (commits that wait
 * for the disk, unlike the milter's NOSYNC one: the master applies a
 * replica's batch with it, and the replica deletes its copy on the
 * answer), lends it to store_ship_serve, and empties the outbox, oldest
 * batch first, one at a time, so that the master sees each site's
 * batches in order.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "live_conf.h"
#include "log.h"
#include "outbox_ship.h"
#include "store_link.h"

#define SHIP_TIMEOUT_MS 10000   /* the master's commit may wait for acks (ack-policy) */
#define BACKOFF_MIN 1
#define BACKOFF_MAX 30
#define IDLE_WAIT 30            /* look at the outbox this often even unwoken */
#define LOG_EVERY 60            /* a failure that lasts is logged this often */

static pthread_mutex_t ship_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ship_cond;
static bool ship_stopping, ship_kicked, ship_running;
static pthread_t ship_thread;
static const char *ship_store_dir;
static STORE_OUTBOX *outbox;            /* under ship_lock until open, then fixed */
static STORE *serve_store;              /* the shipper's own handle */

static int current_max_events(void)
{
    struct live_conf *ref = live_conf_acquire();
    int n = ref != NULL ? live_conf_get(ref)->policy.timeline_max_events : 0;

    live_conf_release(ref);
    return n;
}

static uint64_t current_outbox_max(void)
{
    struct live_conf *ref = live_conf_acquire();
    long mb = ref != NULL ? live_conf_get(ref)->replication.outbox_max_mb : 100;

    live_conf_release(ref);
    return (uint64_t) (mb > 0 ? mb : 100) * 1024 * 1024;
}

STORE_OUTBOX *outbox_ship_outbox(SUP_ERR *err)
{
    STORE_OUTBOX *ob;

    pthread_mutex_lock(&ship_lock);
    if (outbox == NULL && ship_running)
        (void) store_outbox_open(ship_store_dir, current_outbox_max(), &outbox, err);
    else if (outbox == NULL)
        sup_err_set(err, SUP_ERR_SOFTWARE, "no outbox: this site is not part of a fleet");
    ob = outbox;
    pthread_mutex_unlock(&ship_lock);
    if (ob != NULL)
        store_outbox_set_max(ob, current_outbox_max());    /* a reload may change it */
    return ob;
}

void outbox_ship_wake(void)
{
    pthread_mutex_lock(&ship_lock);
    ship_kicked = true;
    pthread_cond_signal(&ship_cond);
    pthread_mutex_unlock(&ship_lock);
}

/* Sleep up to seconds, until stop (or a kick, if kickable); with ship_lock. */
static void wait_locked(long seconds, bool kickable)
{
    struct timespec deadline;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += seconds;
    while (!ship_stopping && !(kickable && ship_kicked))
        if (pthread_cond_timedwait(&ship_cond, &ship_lock, &deadline) == ETIMEDOUT)
            break;
    if (kickable)
        ship_kicked = false;
}

/* The handle this thread applies with, once the store is open. */
static void open_serving_store(void)
{
    static time_t last_logged;
    SUP_ERR err;

    if (serve_store == NULL && store_link_get() != NULL) {
        sup_err_clear(&err);
        if (store_open(ship_store_dir, STORE_CREATE, &serve_store, &err) < 0) {
            serve_store = NULL;
            if (time(NULL) - last_logged >= LOG_EVERY) {
                log_error("cannot open the store to apply replicas' batches: %s", err.text);
                last_logged = time(NULL);
            }
            return;
        }
    }
    if (serve_store != NULL)
        store_ship_serve(serve_store, current_max_events());
}

/* What to do with the outcome of one batch; returns the backoff to wait
 * (0: go on at once). */
static long after_send(STORE_OUTBOX *ob, uint64_t seq, enum store_ship_result res,
                       const SUP_ERR *why, long backoff)
{
    static time_t last_logged;
    static bool failing;
    SUP_ERR err;

    sup_err_clear(&err);
    switch (res) {
    case STORE_SHIP_APPLIED:
    case STORE_SHIP_DUPLICATE:
        if (failing)
            log_info("outbox: the master takes batches again");
        failing = false;
        log_debug("outbox: batch %" PRIu64 " delivered", seq);
        if (res == STORE_SHIP_DUPLICATE)
            log_info("outbox: batch %" PRIu64 " had reached the master already", seq);
        if (store_outbox_done(ob, seq, &err) < 0)
            log_error("%s", err.text);
        return 0;
    case STORE_SHIP_REFUSED:
        log_error("outbox: batch %" PRIu64 " set aside (kept as %016" PRIx64 ".bad, never sent"
                  " again): %s", seq, seq, why->text);
        if (store_outbox_set_aside(ob, seq, &err) < 0) {
            log_error("%s", err.text);
            return BACKOFF_MAX;
        }
        return 0;
    case STORE_SHIP_RETRY:
    default:
        if (!failing || time(NULL) - last_logged >= LOG_EVERY) {
            log_warn("outbox: batch %" PRIu64 " waits (tried again in up to %d s): %s", seq,
                     BACKOFF_MAX, why->text);
            last_logged = time(NULL);
        }
        failing = true;
        return backoff;
    }
}

/* Ship the oldest batch: the backoff to wait after (0: go on), or -1
 * when the outbox is empty. */
static long ship_one(STORE_OUTBOX *ob, long backoff)
{
    unsigned char *buf = NULL;
    enum store_ship_result res;
    uint64_t seq;
    size_t len;
    SUP_ERR err;
    int rc;

    sup_err_clear(&err);
    if ((rc = store_outbox_oldest(ob, &buf, &len, &seq, &err)) <= 0) {
        if (rc < 0)
            log_error("%s", err.text);
        return rc < 0 ? BACKOFF_MAX : -1;
    }
    res = store_ship_send(serve_store, buf, len, SHIP_TIMEOUT_MS, &err);
    free(buf);
    return after_send(ob, seq, res, &err, backoff);
}

static void *ship_main(void *arg)
{
    long backoff = BACKOFF_MIN;
    SUP_ERR err;

    (void) arg;
    pthread_mutex_lock(&ship_lock);
    while (!ship_stopping) {
        STORE_OUTBOX *ob;
        long wait;

        pthread_mutex_unlock(&ship_lock);
        open_serving_store();
        sup_err_clear(&err);
        ob = serve_store != NULL ? outbox_ship_outbox(&err) : NULL;
        wait = ob != NULL ? ship_one(ob, backoff) : STORE_LINK_RETRY;
        pthread_mutex_lock(&ship_lock);
        if (wait == 0) {
            backoff = BACKOFF_MIN;
            continue;
        }
        if (wait < 0) {
            backoff = BACKOFF_MIN;
            wait_locked(IDLE_WAIT, true);
            continue;
        }
        wait_locked(wait, false);
        if (wait == backoff)
            backoff = backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : backoff * 2;
    }
    pthread_mutex_unlock(&ship_lock);
    return NULL;
}

int outbox_ship_start(const char *store_dir, SUP_ERR *err)
{
    pthread_condattr_t attr;
    int rc;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&ship_cond, &attr);
    pthread_condattr_destroy(&attr);
    ship_store_dir = store_dir;
    ship_stopping = false;
    ship_running = true;
    if ((rc = pthread_create(&ship_thread, NULL, ship_main, NULL)) != 0) {
        ship_running = false;
        return sup_err_set(err, SUP_ERR_IO, "starting the outbox shipping thread: %s",
                           strerror(rc));
    }
    return 0;
}

void outbox_ship_stop(void)
{
    SUP_ERR err;

    if (!ship_running)
        return;
    pthread_mutex_lock(&ship_lock);
    ship_stopping = true;
    pthread_cond_signal(&ship_cond);
    pthread_mutex_unlock(&ship_lock);
    pthread_join(ship_thread, NULL);
    store_ship_serve(NULL, 0);      /* waits for a batch being applied */
    sup_err_clear(&err);
    if (serve_store != NULL && store_close(serve_store, &err) < 0)
        log_error("closing the store of the outbox shipper: %s", err.text);
    serve_store = NULL;
    pthread_mutex_lock(&ship_lock);
    store_outbox_close(outbox);
    outbox = NULL;
    ship_running = false;
    pthread_mutex_unlock(&ship_lock);
}
