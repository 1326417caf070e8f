/*
 * store_seen.c: seen.db, the identities of bounce messages already
 * processed, so that the ingest applies each once: store_seen and
 * store_mark_seen.
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

static int check_seen_key(const char *k, SUP_ERR *err)
{
    if (k == NULL || k[0] == '\0')
        return sup_err_set(err, SUP_ERR_INPUT, "empty message key");
    if (strnlen(k, SEEN_KEY_MAX + 1) > SEEN_KEY_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "message key longer than %d bytes: %.60s...",
                           SEEN_KEY_MAX, k);
    return 0;
}

static int op_seen(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    const char *k = argp;
    DB *db = st->db[DBI_SEEN];
    unsigned char vbuf[16], kbuf[KEY_MAX];
    DBT key, data;
    int ret;

    dbt_key(&key, kbuf, k);
    dbt_out(&data, vbuf, sizeof(vbuf));
    ret = db->get(db, tid, &key, &data, 0);
    if (ret == DB_NOTFOUND)
        return 0;
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, "seen.db");
    return 1;
}

int store_seen(STORE *st, STORE_TXN *txn, const char *message_key, SUP_ERR *err)
{
    if (check_seen_key(message_key, err) < 0)
        return -1;
    return store_run_op(st, txn, false, op_seen, (void *) message_key, err);
}

struct seen_arg {
    const char *key;
    time_t when;
};

static int op_mark_seen(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct seen_arg *arg = argp;
    DB *db = st->db[DBI_SEEN];
    unsigned char vbuf[8];
    DBT key, data;
    int ret;

    put_be64(vbuf, (uint64_t) (int64_t) arg->when);
    dbt_in(&key, arg->key, strlen(arg->key));
    dbt_in(&data, vbuf, sizeof(vbuf));
    if ((ret = db->put(db, tid, &key, &data, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "seen.db");
    return 0;
}

int store_mark_seen(STORE *st, STORE_TXN *txn, const char *message_key, time_t when,
                    SUP_ERR *err)
{
    struct seen_arg arg = { message_key, when };

    if (check_seen_key(message_key, err) < 0)
        return -1;
    return store_run_op(st, txn, true, op_mark_seen, &arg, err);
}

/* Purge: does this message identity go (1), recorded before cutoff? */
int store_seen_purgeable(const DBT *data, time_t cutoff)
{
    return data->size == 8 && (time_t) (int64_t) get_be64(data->data) < cutoff;
}
