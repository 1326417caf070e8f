/*
 * store_counters.c: counters.db, the daily counters (accepted and
 * rejected recipients, bounces by class): store_counter_add and
 * store_counters.
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

#define COUNTER_NAME_MAX STORE_COUNTER_NAME_MAX  /* a tenant's counter is "tenant/<tenant>/<name>" */
#define DAY_LEN          10     /* YYYY-MM-DD */

static int counter_key(unsigned char *key, const char *day, const char *name, size_t *len,
                       SUP_ERR *err)
{
    size_t nlen;

    if (day == NULL || strlen(day) != DAY_LEN || day[4] != '-' || day[7] != '-')
        return sup_err_set(err, SUP_ERR_INPUT, "counter day \"%s\" is not YYYY-MM-DD",
                           day ? day : "");
    for (int i = 0; i < DAY_LEN; i++)
        if (i != 4 && i != 7 && (day[i] < '0' || day[i] > '9'))
            return sup_err_set(err, SUP_ERR_INPUT, "counter day \"%s\" is not YYYY-MM-DD", day);
    if (name == NULL || (nlen = strlen(name)) == 0 || nlen > COUNTER_NAME_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "counter name \"%.80s\" is empty or too long",
                           name ? name : "");
    memcpy(key, day, DAY_LEN);
    key[DAY_LEN] = '\0';
    memcpy(key + DAY_LEN + 1, name, nlen);
    *len = DAY_LEN + 1 + nlen;
    return 0;
}

struct counter_arg {
    unsigned char key[DAY_LEN + 1 + COUNTER_NAME_MAX];
    size_t klen;
    uint64_t delta;
};

static int op_counter_add(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct counter_arg *arg = argp;
    DB *db = st->db[DBI_COUNTERS];
    unsigned char vbuf[8];
    uint64_t value = 0;
    DBT key, data;
    int ret;

    dbt_in(&key, arg->key, arg->klen);
    dbt_out(&data, vbuf, sizeof(vbuf));
    /* DB_RMW: take the write lock now, so two adders cannot both read. */
    ret = db->get(db, tid, &key, &data, DB_RMW);
    if (ret == 0 && data.size == 8)
        value = get_be64(vbuf);
    else if (ret == 0)
        return sup_err_set(err, SUP_ERR_IO, "store %s: counters.db: value of %u bytes",
                           st->env->dir, data.size);
    else if (ret != DB_NOTFOUND)
        return store_bdb_fail(st->env, err, ret, "counters.db");
    put_be64(vbuf, value + arg->delta);
    dbt_in(&data, vbuf, 8);
    if ((ret = db->put(db, tid, &key, &data, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "counters.db");
    return 0;
}

int store_counter_add(STORE *st, STORE_TXN *txn, const char *day, const char *name,
                      uint64_t delta, SUP_ERR *err)
{
    struct counter_arg arg;

    if (counter_key(arg.key, day, name, &arg.klen, err) < 0)
        return -1;
    arg.delta = delta;
    return store_run_op(st, txn, true, op_counter_add, &arg, err);
}

struct counter_iter {
    store_counter_fn fn;
    void *ctx;
};

static int deliver_counter(const unsigned char *key, size_t klen, const unsigned char *data,
                           size_t dlen, void *ctxp, SUP_ERR *err)
{
    struct counter_iter *it = ctxp;
    char day[DAY_LEN + 1], name[COUNTER_NAME_MAX + 1];

    if (klen <= DAY_LEN + 1 || klen > sizeof(name) + DAY_LEN || key[DAY_LEN] != '\0'
        || dlen != 8)
        return sup_err_set(err, SUP_ERR_IO, "counters.db: malformed record (key %zu bytes,"
                           " value %zu bytes)", klen, dlen);
    memcpy(day, key, DAY_LEN);
    day[DAY_LEN] = '\0';
    store_copy_bytes(name, sizeof(name), (const char *) key + DAY_LEN + 1, klen - DAY_LEN - 1);
    return it->fn(day, name, get_be64(data), it->ctx);
}

int store_counters(STORE *st, store_counter_fn fn, void *ctx, SUP_ERR *err)
{
    struct counter_iter it = { fn, ctx };

    return store_scan_range(st, NULL, DBI_COUNTERS, "", 0, 0, deliver_counter, &it, err);
}
