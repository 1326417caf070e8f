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
#include <string.h>

#include "live_conf.h"
#include "log.h"

struct live_conf {
    struct sup_config *cfg;
    RETPATH_KEYS keys;
    atomic_int refs;
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct live_conf *live_current;

static struct live_conf *live_conf_wrap(struct sup_config *cfg, const RETPATH_KEYS *keys)
{
    struct live_conf *ref = malloc(sizeof(*ref));

    if (ref == NULL) {
        /* Out of memory at startup or reload: nothing sensible remains. */
        log_error("out of memory for the configuration");
        abort();
    }
    ref->cfg = cfg;
    if (keys != NULL)
        ref->keys = *keys;
    else
        memset(&ref->keys, 0, sizeof(ref->keys));
    atomic_init(&ref->refs, 1);         /* the reference held by live_current */
    return ref;
}

void live_conf_init(struct sup_config *cfg, const RETPATH_KEYS *keys)
{
    live_current = live_conf_wrap(cfg, keys);
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

const RETPATH_KEYS *live_conf_keys(const struct live_conf *ref)
{
    return ref->keys.count > 0 ? &ref->keys : NULL;
}

void live_conf_release(struct live_conf *ref)
{
    if (ref == NULL)
        return;
    if (atomic_fetch_sub(&ref->refs, 1) == 1) {
        conf_free(ref->cfg);
        explicit_bzero(&ref->keys, sizeof(ref->keys));  /* no secret left in freed memory */
        free(ref);
    }
}

void live_conf_replace(struct sup_config *cfg, const RETPATH_KEYS *keys)
{
    struct live_conf *fresh = live_conf_wrap(cfg, keys);
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
