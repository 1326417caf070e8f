/*
 * store_link.c: the shared store handle (see store_link.h).
 *
 * The handle is published with an atomic store once it is open and is
 * never replaced, so a lookup needs no lock.  Shutdown must not close the
 * store under a lookup that is still running in a libmilter thread
 * (libmilter does not wait for its session threads), hence the count of
 * lookups in progress and the stopping flag, checked after the count is
 * raised so that either the lookup sees the flag or shutdown sees the count.
 */
#include "config.h"

#include <stdatomic.h>
#include <unistd.h>

#include "store_link.h"

static _Atomic(STORE *) link_store;
static atomic_bool link_stopping;
static atomic_int link_busy;

int store_link_open(const char *dir, SUP_ERR *err)
{
    STORE *st = NULL;

    if (atomic_load(&link_store) != NULL)
        return 0;
    if (store_open(dir, STORE_CREATE | STORE_NOSYNC, &st, err) < 0)
        return -1;
    atomic_store(&link_store, st);
    return 0;
}

STORE *store_link_get(void)
{
    return atomic_load(&link_store);
}

int store_link_lookup(const char *tenant, const char *addr, time_t now, STORE_ENTRY *entry,
                      SUP_ERR *err)
{
    STORE *st;
    int rc;

    atomic_fetch_add(&link_busy, 1);
    st = atomic_load(&link_store);
    if (atomic_load(&link_stopping))
        rc = sup_err_set(err, SUP_ERR_TEMP, "milter-suppress is shutting down");
    else if (st == NULL)
        rc = sup_err_set(err, SUP_ERR_TEMP, "the store is not open (see the log for why)");
    else
        rc = store_lookup_tenant(st, NULL, tenant, addr, now, entry, err);
    atomic_fetch_sub(&link_busy, 1);
    return rc;
}

bool store_link_quiesce(long wait_ms)
{
    long waited;

    atomic_store(&link_stopping, true);
    for (waited = 0; atomic_load(&link_busy) > 0; waited++) {
        if (waited >= wait_ms)
            return false;
        usleep(1000);
    }
    return true;
}

int store_link_close(SUP_ERR *err)
{
    STORE *st = atomic_exchange(&link_store, NULL);

    return store_close(st, err);
}
