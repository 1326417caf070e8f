/*
 * store_scan.c: batched walks over a key range of one database, for the
 * store's iterations (store_iterate, store_events, store_counters) and
 * purge.  Iterations read in batches and call back with no lock held, so
 * a slow consumer (a pipe to a pager) never blocks the milter, and a
 * deadlock is retried from the last key delivered.
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

#define SCAN_RECORDS     512    /* records read per batch of an iteration */
#define SCAN_BYTES       (1024 * 1024)

/*
 * A range of keys read batch by batch.  Each batch is read with a cursor
 * (in the caller's transaction, or none) and closed before the records are
 * handed out, so no lock is held while the caller's function runs.
 */
struct scan {
    enum store_db dbi;
    unsigned char resume[KEY_MAX];  /* start key, then the last key delivered */
    size_t resume_len;              /* 0: from the first key */
    bool skip_resume;               /* resume was delivered: start after it */
    size_t prefix_len;              /* keys must begin with resume[0..prefix_len) */
    unsigned char prefix[KEY_MAX];
    bool done;
    /* the batch: records packed as klen(4) dlen(4) key data */
    unsigned char *buf;
    size_t used, cap;
    size_t count;
};

static int batch_add(struct scan *sc, const DBT *key, const DBT *data, SUP_ERR *err)
{
    size_t need = 8 + key->size + data->size;

    if (sc->cap - sc->used < need) {
        size_t cap = sc->cap ? sc->cap * 2 : 64 * 1024;
        unsigned char *nb;

        while (cap - sc->used < need)
            cap *= 2;
        if ((nb = realloc(sc->buf, cap)) == NULL)
            return sup_err_set(err, SUP_ERR_IO, "out of memory reading the store");
        sc->buf = nb;
        sc->cap = cap;
    }
    put_be32(sc->buf + sc->used, key->size);
    put_be32(sc->buf + sc->used + 4, data->size);
    memcpy(sc->buf + sc->used + 8, key->data, key->size);
    memcpy(sc->buf + sc->used + 8 + key->size, data->data, data->size);
    sc->used += need;
    sc->count++;
    return 0;
}

/*
 * Open a cursor for a batched walk that resumes at `resume` (the first key
 * not done by the previous batch) or starts at the first key; key reads
 * into kbuf.  Returns the first get's flag in *how.
 */
int store_batch_cursor_open(STORE *st, DB_TXN *tid, int dbi, const unsigned char *resume,
                            size_t resume_len, DBC **c, DBT *key, DBT *data,
                             unsigned char *kbuf, size_t kbuf_cap, u_int32_t *how, SUP_ERR *err)
{
    int ret;

    if ((ret = st->db[dbi]->cursor(st->db[dbi], tid, c, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, store_db_files[dbi]);
    memset(data, 0, sizeof(*data));
    data->flags = DB_DBT_REALLOC;
    if (resume_len > 0) {
        memcpy(kbuf, resume, resume_len);
        dbt_inout(key, kbuf, resume_len, kbuf_cap);
        *how = DB_SET_RANGE;
    } else {
        dbt_out(key, kbuf, kbuf_cap);
        *how = DB_FIRST;
    }
    return 0;
}

static int op_scan_batch(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct scan *sc = argp;
    DBC *c;
    DBT key, data;
    unsigned char kbuf[KEY_MAX];
    int ret, rc = 0;
    u_int32_t how;

    sc->used = sc->count = 0;
    if (store_batch_cursor_open(st, tid, sc->dbi, sc->resume, sc->resume_len, &c, &key, &data,
                                kbuf, sizeof(kbuf), &how, err) < 0)
        return -1;
    for (;;) {
        ret = c->get(c, &key, &data, how);
        how = DB_NEXT;
        if (ret == DB_NOTFOUND) {
            sc->done = true;
            break;
        }
        if (ret != 0) {
            rc = store_bdb_fail(st->env, err, ret, store_db_files[sc->dbi]);
            break;
        }
        if (key.size < sc->prefix_len || memcmp(kbuf, sc->prefix, sc->prefix_len) != 0) {
            sc->done = true;
            break;
        }
        if (sc->skip_resume && key.size == sc->resume_len
            && memcmp(kbuf, sc->resume, key.size) == 0)
            continue;
        if ((rc = batch_add(sc, &key, &data, err)) < 0)
            break;
        if (sc->count >= SCAN_RECORDS || sc->used >= SCAN_BYTES)
            break;
    }
    free(data.data);
    if ((ret = c->close(c)) != 0 && rc == 0)
        rc = store_bdb_fail(st->env, err, ret, store_db_files[sc->dbi]);
    return rc;
}

/*
 * Walk keys from start (start_len 0: the first) that begin with its first
 * prefix_len bytes.  fn returns 0 to go on, > 0 to stop (returned), -1 on
 * error.
 */
int store_scan_range(STORE *st, STORE_TXN *txn, enum store_db dbi, const void *start,
                     size_t start_len, size_t prefix_len, scan_record_fn fn, void *ctx,
                      SUP_ERR *err)
{
    struct scan *sc = calloc(1, sizeof(*sc));
    int rc = 0;

    if (sc == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory reading the store");
    sc->dbi = dbi;
    memcpy(sc->resume, start, start_len);
    sc->resume_len = start_len;
    memcpy(sc->prefix, start, prefix_len);
    sc->prefix_len = prefix_len;
    while (rc == 0 && !sc->done) {
        if ((rc = store_run_op(st, txn, false, op_scan_batch, sc, err)) < 0)
            break;
        for (size_t off = 0, i = 0; rc == 0 && i < sc->count; i++) {
            size_t klen = get_be32(sc->buf + off), dlen = get_be32(sc->buf + off + 4);
            const unsigned char *k = sc->buf + off + 8;

            rc = fn(k, klen, k + klen, dlen, ctx, err);
            if (klen <= sizeof(sc->resume)) {
                memcpy(sc->resume, k, klen);
                sc->resume_len = klen;
                sc->skip_resume = true;
            }
            off += 8 + klen + dlen;
        }
        if (sc->count == 0)
            break;
    }
    free(sc->buf);
    free(sc);
    return rc;
}
