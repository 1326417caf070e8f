/*
 * live_conf.c: a reference-counted current configuration (see live_conf.h).
 *
 * The mutex only guards "read the current pointer and count a reference",
 * a few instructions per RCPT; the count itself is atomic so a release
 * never takes the lock.  That is simpler to get right than a lock-free
 * pointer swap, which needs hazard pointers or a grace period to know
 * when the old configuration may be freed.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "live_conf.h"
#include "log.h"

struct live_conf {
    struct sup_config *cfg;
    atomic_int refs;
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct live_conf *live_current;

static struct live_conf *live_conf_wrap(struct sup_config *cfg)
{
    struct live_conf *ref = malloc(sizeof(*ref));

    if (ref == NULL) {
        /* Out of memory at startup or reload: nothing sensible remains. */
        log_error("out of memory for the configuration");
        abort();
    }
    ref->cfg = cfg;
    atomic_init(&ref->refs, 1);         /* the reference held by live_current */
    return ref;
}

void live_conf_init(struct sup_config *cfg)
{
    live_current = live_conf_wrap(cfg);
}

struct live_conf *live_conf_acquire(void)
{
    struct live_conf *ref;

    pthread_mutex_lock(&live_lock);
    ref = live_current;
    if (ref != NULL)
        atomic_fetch_add(&ref->refs, 1);
    pthread_mutex_unlock(&live_lock);
    return ref;
}

const struct sup_config *live_conf_get(const struct live_conf *ref)
{
    return ref->cfg;
}

void live_conf_release(struct live_conf *ref)
{
    if (ref == NULL)
        return;
    if (atomic_fetch_sub(&ref->refs, 1) == 1) {
        conf_free(ref->cfg);
        free(ref);
    }
}

void live_conf_replace(struct sup_config *cfg)
{
    struct live_conf *fresh = live_conf_wrap(cfg);
    struct live_conf *old;

    pthread_mutex_lock(&live_lock);
    old = live_current;
    live_current = fresh;
    pthread_mutex_unlock(&live_lock);
    live_conf_release(old);
}

void live_conf_shutdown(void)
{
    struct live_conf *old;

    pthread_mutex_lock(&live_lock);
    old = live_current;
    live_current = NULL;
    pthread_mutex_unlock(&live_lock);
    live_conf_release(old);
}
