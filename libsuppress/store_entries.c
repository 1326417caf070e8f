/*
 * store_entries.c: suppressions.db, one record per suppressed address and
 * scope (store_scope.c): store_lookup and store_lookup_tenant (the
 * milter's RCPT path), store_get, store_put, store_delete (and their
 * _in forms for one scope) and store_iterate.  Every address added or deleted here is
 * added to or removed from the lookup index (store_index.c) in the same
 * transaction, so store_lookup can ask the index first.
 */
#include "config.h"

#include <db.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_bdb.h"
#include "store_record.h"

int store_check_address(const char *addr, SUP_ERR *err)
{
    size_t len;

    if (addr == NULL || addr[0] == '\0')
        return sup_err_set(err, SUP_ERR_INPUT, "empty address");
    len = strnlen(addr, ADDR_MAX + 1);
    if (len > ADDR_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "address longer than %d bytes: %.60s...",
                           ADDR_MAX, addr);
    return 0;
}

/* Both the address and the tenant are good; key gets the scope's key. */
static int check_scope(const char *tenant, const char *addr, char *key, SUP_ERR *err)
{
    if (store_check_address(addr, err) < 0)
        return -1;
    if (tenant != NULL && tenant[0] != '\0' && store_tenant_check(tenant, err) < 0)
        return -1;
    store_scope_key(key, tenant, addr);
    return 0;
}

struct get_arg {
    const char *key;            /* store_scope_key */
    const char *addr;
    const char *tenant;         /* NULL: global */
    STORE_ENTRY *entry;
};

/* One DB->get into a stack buffer: the milter's RCPT path. */
static int op_get(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct get_arg *arg = argp;
    unsigned char buf[STORE_RECORD_MAX], kbuf[KEY_MAX];
    DBT key, data;
    int ret;

    dbt_key(&key, kbuf, arg->key);
    dbt_out(&data, buf, sizeof(buf));
    /*
     * Outside a transaction (the milter) read uncommitted: a lookup never
     * waits for a writer's transaction, so an import or a process that
     * died holding locks cannot stall RCPT TO.  At worst it sees a
     * suppression a moment before its transaction commits.
     */
    ret = st->db[DBI_ENTRIES]->get(st->db[DBI_ENTRIES], tid, &key, &data,
                                   tid == NULL ? DB_READ_UNCOMMITTED : 0);
    if (ret == DB_NOTFOUND)
        return 0;
    if (ret == DB_BUFFER_SMALL)
        return sup_err_set(err, SUP_ERR_IO, "store %s: record of %s is %u bytes, more than %d",
                           st->env->dir, arg->addr, data.size, STORE_RECORD_MAX);
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, arg->addr);
    store_copy_text(arg->entry->address, sizeof(arg->entry->address), arg->addr);
    store_copy_text(arg->entry->tenant, sizeof(arg->entry->tenant),
                    arg->tenant != NULL ? arg->tenant : "");
    if (store_record_decode_entry(buf, data.size, arg->entry, err) < 0) {
        sup_err_prefix(err, "store %s: %s", st->env->dir, arg->addr);
        return -1;
    }
    return 1;
}

static int get_key(STORE *st, STORE_TXN *txn, const char *key, const char *tenant,
                   const char *addr, STORE_ENTRY *entry, SUP_ERR *err)
{
    STORE_ENTRY local;
    struct get_arg arg = { key, addr, tenant, entry != NULL ? entry : &local };

    return store_run_op(st, txn, false, op_get, &arg, err);
}

int store_get_in(STORE *st, STORE_TXN *txn, const char *tenant, const char *addr,
                 STORE_ENTRY *entry, SUP_ERR *err)
{
    char key[SCOPE_KEY_MAX];

    if (check_scope(tenant, addr, key, err) < 0)
        return -1;
    return get_key(st, txn, key, tenant, addr, entry, err);
}

int store_get(STORE *st, STORE_TXN *txn, const char *addr, STORE_ENTRY *entry, SUP_ERR *err)
{
    return store_get_in(st, txn, NULL, addr, entry, err);
}

static int op_probe(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    return store_index_probe(st, tid, argp, err);
}

static bool expired(const STORE_ENTRY *e, time_t now)
{
    return e->expires != 0 && e->expires <= now;
}

/*
 * Most recipients are not suppressed: the lookup index says so from a
 * small record that stays cached, and only a "maybe" reads the entry.
 */
int store_lookup(STORE *st, STORE_TXN *txn, const char *addr, time_t now, STORE_ENTRY *entry,
                 SUP_ERR *err)
{
    STORE_ENTRY local;
    STORE_ENTRY *e = entry != NULL ? entry : &local;
    int rc;

    if (store_check_address(addr, err) < 0)
        return -1;
    if ((rc = store_run_op(st, txn, false, op_probe, (void *) addr, err)) <= 0)
        return rc;
    rc = store_get(st, txn, addr, e, err);

    if (rc == 1 && expired(e, now))
        return 0;
    return rc;
}

struct probe2_arg {
    const char *global_key;
    const char *scoped_key;
};

static int op_probe2(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct probe2_arg *arg = argp;

    return store_index_probe2(st, tid, arg->global_key, arg->scoped_key, err);
}

/* One bucket read for both scopes; the global one answers first. */
int store_lookup_tenant(STORE *st, STORE_TXN *txn, const char *tenant, const char *addr,
                        time_t now, STORE_ENTRY *entry, SUP_ERR *err)
{
    STORE_ENTRY local;
    STORE_ENTRY *e = entry != NULL ? entry : &local;
    char key[SCOPE_KEY_MAX];
    struct probe2_arg arg = { addr, key };
    int maybe, rc;

    if (tenant == NULL || tenant[0] == '\0')
        return store_lookup(st, txn, addr, now, entry, err);
    if (check_scope(tenant, addr, key, err) < 0)
        return -1;
    if ((maybe = store_run_op(st, txn, false, op_probe2, &arg, err)) <= 0)
        return maybe;
    if (maybe & 1) {
        rc = get_key(st, txn, addr, NULL, addr, e, err);
        if (rc < 0 || (rc == 1 && !expired(e, now)))
            return rc;
    }
    if (!(maybe & 2))
        return 0;
    if ((rc = get_key(st, txn, key, tenant, addr, e, err)) <= 0)
        return rc;
    return expired(e, now) ? 0 : 1;
}

static int valid_reason(enum store_reason r)
{
    return r >= STORE_REASON_HARD_BOUNCE && r <= STORE_REASON_MANUAL;
}

struct put_arg {
    const char *key;
    const STORE_ENTRY *entry;
    const unsigned char *value;
    size_t len;
};

static int op_put(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct put_arg *arg = argp;
    DBT key, data;
    int ret;

    dbt_in(&key, arg->key, strlen(arg->key));
    dbt_in(&data, arg->value, arg->len);
    /* A new address goes into the index too; an update is there already. */
    ret = st->db[DBI_ENTRIES]->put(st->db[DBI_ENTRIES], tid, &key, &data, DB_NOOVERWRITE);
    if (ret == 0)
        return store_index_add(st, tid, key.data, key.size, err);
    if (ret == DB_KEYEXIST)
        ret = st->db[DBI_ENTRIES]->put(st->db[DBI_ENTRIES], tid, &key, &data, 0);
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, arg->entry->address);
    return 0;
}

int store_put_in(STORE *st, STORE_TXN *txn, const char *tenant, const STORE_ENTRY *entry,
                 SUP_ERR *err)
{
    unsigned char buf[STORE_RECORD_MAX];
    char key[SCOPE_KEY_MAX];
    struct put_arg arg = { key, entry, buf, 0 };

    if (check_scope(tenant, entry->address, key, err) < 0)
        return -1;
    if (!valid_reason(entry->reason))
        return sup_err_set(err, SUP_ERR_INPUT, "%s: invalid suppression reason %d",
                           entry->address, (int) entry->reason);
    if (store_record_encode_entry(entry, buf, sizeof(buf), &arg.len, err) < 0)
        return -1;
    return store_run_op(st, txn, true, op_put, &arg, err);
}

int store_put(STORE *st, STORE_TXN *txn, const STORE_ENTRY *entry, SUP_ERR *err)
{
    return store_put_in(st, txn, NULL, entry, err);
}

static int op_delete(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    const char *k = argp;
    DBT key;
    int ret;

    dbt_in(&key, k, strlen(k));
    ret = st->db[DBI_ENTRIES]->del(st->db[DBI_ENTRIES], tid, &key, 0);
    if (ret == DB_NOTFOUND)
        return 0;
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, k);
    ret = store_index_remove(st, tid, k, key.size, err);
    return ret < 0 ? ret : 1;
}

int store_delete_in(STORE *st, STORE_TXN *txn, const char *tenant, const char *addr,
                    SUP_ERR *err)
{
    char key[SCOPE_KEY_MAX];

    if (check_scope(tenant, addr, key, err) < 0)
        return -1;
    return store_run_op(st, txn, true, op_delete, key, err);
}

int store_delete(STORE *st, STORE_TXN *txn, const char *addr, SUP_ERR *err)
{
    return store_delete_in(st, txn, NULL, addr, err);
}

int store_entry_upgrade(STORE *st, DBC *c, const DBT *key, const DBT *data, SUP_ERR *err)
{
    STORE_ENTRY *e;
    unsigned char buf[STORE_RECORD_MAX];
    DBT value;
    size_t len;
    int ret, rc = 0;

    if (data->size > 0 && ((const unsigned char *) data->data)[0] == STORE_ENTRY_VERSION)
        return 0;
    if ((e = malloc(sizeof(*e))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory upgrading the store");
    if (store_scope_fill(e, key->data, key->size) < 0) {
        rc = sup_err_set(err, SUP_ERR_IO, "store %s: suppressions.db: malformed key of %u bytes",
                         st->env->dir, key->size);
    } else if (store_record_decode_entry(data->data, data->size, e, err) < 0
        || store_record_encode_entry(e, buf, sizeof(buf), &len, err) < 0) {
        sup_err_prefix(err, "store %s: %s", st->env->dir, e->address);
        rc = -1;
    } else {
        dbt_in(&value, buf, len);
        if ((ret = c->put(c, (DBT *) key, &value, DB_CURRENT)) != 0)
            rc = store_bdb_fail(st->env, err, ret, e->address);
    }
    free(e);
    return rc;
}

struct entry_iter {
    store_entry_fn fn;
    void *ctx;
    STORE_ENTRY entry;
};

static int deliver_entry(const unsigned char *key, size_t klen, const unsigned char *data,
                         size_t dlen, void *ctxp, SUP_ERR *err)
{
    struct entry_iter *it = ctxp;

    if (store_scope_fill(&it->entry, key, klen) < 0)
        return sup_err_set(err, SUP_ERR_IO, "suppressions.db: malformed key of %zu bytes", klen);
    if (store_record_decode_entry(data, dlen, &it->entry, err) < 0) {
        sup_err_prefix(err, "%.*s", (int) (klen > ADDR_MAX ? ADDR_MAX : klen), key);
        return -1;
    }
    return it->fn(&it->entry, it->ctx);
}

int store_iterate(STORE *st, store_entry_fn fn, void *ctx, SUP_ERR *err)
{
    struct entry_iter *it = malloc(sizeof(*it));
    int rc;

    if (it == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory reading the store");
    it->fn = fn;
    it->ctx = ctx;
    rc = store_scan_range(st, NULL, DBI_ENTRIES, "", 0, 0, deliver_entry, it, err);
    free(it);
    return rc;
}

/*
 * Purge: does this entry go (1), expired at `now'?  Its "expired" event,
 * dated at the expiry, and its removal from the lookup index are written
 * in the same transaction (the caller deletes the entry).
 */
int store_entry_purgeable(STORE *st, DB_TXN *tid, const DBT *key, const DBT *data, time_t now,
                          SUP_ERR *err)
{
    STORE_ENTRY *e = malloc(sizeof(*e));
    STORE_EVENT *ev = malloc(sizeof(*ev));
    unsigned char buf[STORE_RECORD_MAX];
    struct event_arg arg;
    int rc = 0;

    if (e == NULL || ev == NULL) {
        rc = sup_err_set(err, SUP_ERR_IO, "out of memory purging the store");
        goto out;
    }
    if (store_scope_fill(e, key->data, key->size) < 0) {
        rc = sup_err_set(err, SUP_ERR_IO, "store %s: suppressions.db: malformed key of %u bytes",
                         st->env->dir, key->size);
        goto out;
    }
    if (store_record_decode_entry(data->data, data->size, e, err) < 0) {
        sup_err_prefix(err, "store %s: %s", st->env->dir, e->address);
        rc = -1;
        goto out;
    }
    if (e->expires == 0 || e->expires > now)
        goto out;
    memset(ev, 0, sizeof(*ev));
    memcpy(ev->address, e->address, sizeof(ev->address));
    ev->when = e->expires;
    ev->type = STORE_EV_EXPIRED;
    store_copy_text(ev->reason, sizeof(ev->reason), store_reason_name(e->reason));
    store_copy_text(ev->status, sizeof(ev->status), e->status);
    store_copy_text(ev->actor, sizeof(ev->actor), "purge");
    store_copy_text(ev->detail, sizeof(ev->detail), e->detail);
    store_copy_text(ev->tenant, sizeof(ev->tenant), e->tenant);
    if (store_event_prepare(ev, &arg, buf, sizeof(buf), err) < 0) {
        rc = -1;
        goto out;
    }
    arg.max_events = 0;
    rc = store_event_add_in(st, tid, &arg, err);
    if (rc == 0)
        rc = store_index_remove(st, tid, key->data, key->size, err);
    if (rc == 0)
        rc = 1;
out:
    free(e);
    free(ev);
    return rc;
}
