/*
 * store_purge.c: store_purge, which removes expired suppressions
 * (recording an "expired" event for each), old events, old message
 * identities and old ledger messages, compacts, then checkpoints.
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

#define PURGE_SCAN       2000   /* records examined per purge transaction */
#define PURGE_DELETE     500    /* records removed per purge transaction */

/*
 * Purge walks a database in short transactions (PURGE_SCAN records looked
 * at, PURGE_DELETE removed at most), so it never holds many locks or
 * blocks the milter for long, and a 10-million-entry store does not need a
 * lock table to match.  The position and the counts of a pass are kept
 * apart until its commit, so a retried pass starts where the last
 * committed one ended.
 */
struct purge_pass {
    enum store_db dbi;
    time_t now;                 /* DBI_ENTRIES: expired when expires <= now */
    time_t cutoff;              /* events, seen, ledger: removed when older */
    unsigned char resume[KEY_MAX];
    size_t resume_len;          /* committed position; 0 = start */
    unsigned char next[KEY_MAX];
    size_t next_len;            /* position after this pass */
    unsigned long removed;      /* by this pass */
    bool done;
};

/* Should this record go?  Each database's file knows its records. */
static int purge_record(STORE *st, DB_TXN *tid, struct purge_pass *p, const DBT *key,
                        const DBT *data, SUP_ERR *err)
{
    switch (p->dbi) {
    case DBI_ENTRIES:
        return store_entry_purgeable(st, tid, key, data, p->now, err);
    case DBI_EVENTS:
        return store_event_purgeable(key, p->cutoff);
    case DBI_SEEN:
        return store_seen_purgeable(data, p->cutoff);
    case DBI_LEDGER:
        return store_ledger_purgeable(data, p->cutoff);
    default:
        return 0;
    }
}

static int op_purge_pass(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct purge_pass *p = argp;
    unsigned char kbuf[KEY_MAX];
    DBC *c;
    DBT key, data;
    long scanned = 0;
    int ret, rc = 0;
    u_int32_t how;

    p->removed = 0;
    p->done = false;
    p->next_len = p->resume_len;
    memcpy(p->next, p->resume, p->resume_len);
    if (store_batch_cursor_open(st, tid, p->dbi, p->resume, p->resume_len, &c, &key, &data, kbuf,
                                sizeof(kbuf), &how, err) < 0)
        return -1;
    for (;;) {
        ret = c->get(c, &key, &data, how);
        how = DB_NEXT;
        if (ret == DB_NOTFOUND) {
            p->done = true;
            break;
        }
        if (ret != 0) {
            rc = store_bdb_fail(st->env, err, ret, store_db_files[p->dbi]);
            break;
        }
        if (scanned++ >= PURGE_SCAN || p->removed >= PURGE_DELETE) {
            /* Stop before this key: the next pass starts at it. */
            memcpy(p->next, kbuf, key.size);
            p->next_len = key.size;
            break;
        }
        if ((rc = purge_record(st, tid, p, &key, &data, err)) < 0)
            break;
        if (rc == 1) {
            if ((ret = c->del(c, 0)) != 0) {
                rc = store_bdb_fail(st->env, err, ret, store_db_files[p->dbi]);
                break;
            }
            p->removed++;
        }
        rc = 0;
    }
    free(data.data);
    if ((ret = c->close(c)) != 0 && rc == 0)
        rc = store_bdb_fail(st->env, err, ret, store_db_files[p->dbi]);
    return rc;
}

static int purge_db(STORE *st, struct purge_pass *p, unsigned long *removed, SUP_ERR *err)
{
    p->resume_len = 0;
    do {
        if (store_run_op(st, NULL, true, op_purge_pass, p, err) < 0)
            return -1;
        *removed += p->removed;
        memcpy(p->resume, p->next, p->next_len);
        p->resume_len = p->next_len;
    } while (!p->done);
    return 0;
}

/*
 * Expiries and random inserts leave B-tree pages part empty, and Berkeley
 * DB never shrinks a file by itself: a store that turns over its hard
 * bounces every week would only grow.  DB->compact without a transaction
 * works in short transactions of its own, so lookups go on meanwhile.
 */
#define COMPACT_PASSES 4
#define COMPACT_KEYS   2000     /* keys per compaction transaction: bounds its locks */

/*
 * A pass walks the database in key ranges of COMPACT_KEYS, each compacted
 * in its own transaction (one DB->compact over a 10M-entry database, even
 * left to make its own transactions, runs out of locks).
 */
struct compact_chunk {
    enum store_db dbi;
    unsigned char start[KEY_MAX];
    size_t start_len;           /* 0: from the first key */
    bool done;
    unsigned long freed;        /* pages given back to the file system */
    unsigned long touched;      /* pages freed or given back */
};

static int compact_range(STORE *st, STORE_TXN *txn, void *argp, SUP_ERR *err)
{
    struct compact_chunk *ch = argp;
    DB *db = st->db[ch->dbi];
    unsigned char kbuf[KEY_MAX], stop_buf[KEY_MAX];
    DBT key, data, start, stop;
    DB_COMPACT c;
    DBC *cur;
    u_int32_t how;
    size_t stop_len = 0;
    int ret, n = 0;

    if (store_batch_cursor_open(st, txn->tid, ch->dbi, ch->start, ch->start_len, &cur, &key,
                                &data, kbuf, sizeof(kbuf), &how, err) < 0)
        return -1;
    free(data.data);
    dbt_none(&data);
    for (ret = cur->get(cur, &key, &data, how); ret == 0 && n < COMPACT_KEYS;
         ret = cur->get(cur, &key, &data, DB_NEXT))
        n++;
    if (ret == 0) {
        memcpy(stop_buf, key.data, key.size);   /* the first key of the next range */
        stop_len = key.size;
    }
    (void) cur->close(cur);
    if (ret != 0 && ret != DB_NOTFOUND)
        return store_bdb_fail(st->env, err, ret, "compacting the store");
    memset(&c, 0, sizeof(c));
    dbt_in(&start, ch->start, ch->start_len);
    dbt_in(&stop, stop_buf, stop_len);
    store_bdb_msg[0] = '\0';
    ret = db->compact(db, txn->tid, ch->start_len ? &start : NULL, stop_len ? &stop : NULL, &c,
                      DB_FREE_SPACE, NULL);
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, "compacting the store");
    ch->freed += c.compact_pages_truncated;
    ch->touched += c.compact_pages_free + c.compact_pages_truncated;
    memcpy(ch->start, stop_buf, stop_len);
    ch->start_len = stop_len;
    ch->done = stop_len == 0;
    return 0;
}

/*
 * A pass merges part-empty pages, but gives back only the free pages at
 * the end of the file; the next pass moves the others there first.  Go on
 * while passes still free something.
 */
static int compact_db(STORE *st, enum store_db dbi, unsigned long *freed, SUP_ERR *err)
{
    struct compact_chunk *ch;
    int rc = 0;

    if (st->db[dbi] == NULL)
        return 0;
    if ((ch = calloc(1, sizeof(*ch))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory compacting the store");
    ch->dbi = dbi;
    for (int pass = 0; rc == 0 && pass < COMPACT_PASSES; pass++) {
        ch->start_len = 0;
        ch->done = false;
        ch->touched = 0;
        while (rc == 0 && !ch->done)
            rc = store_in_txn(st, compact_range, ch, AUTO_ATTEMPTS, err);
        if (ch->touched == 0)
            break;
    }
    *freed += ch->freed;
    free(ch);
    return rc;
}


/* Compact every database that purge shrinks (store.h). */
int store_compact(STORE *st, unsigned long *pages_freed, SUP_ERR *err)
{
    static const enum store_db shrinking[] = { DBI_ENTRIES, DBI_INDEX, DBI_EVENTS, DBI_SEEN,
                                               DBI_LEDGER };
    unsigned long freed = 0;
    int rc = 0;

    if (st->flags & STORE_RDONLY)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "store %s was opened read-only", st->env->dir);
    for (size_t i = 0; rc == 0 && i < sizeof(shrinking) / sizeof(shrinking[0]); i++)
        rc = compact_db(st, shrinking[i], &freed, err);
    if (pages_freed != NULL)
        *pages_freed = freed;
    return rc < 0 ? -1 : 0;
}

int store_purge(STORE *st, time_t now, const struct store_retention *keep,
                struct store_purge_result *result, SUP_ERR *err)
{
    struct store_purge_result r = { 0, 0, 0, 0, 0 };
    /* What ages, and how long it is kept; entries go when they expire. */
    const struct {
        enum store_db dbi;
        long retention;
        unsigned long *removed;
    } aging[] = {
        { DBI_EVENTS, keep->events, &r.old_events },
        { DBI_SEEN, keep->seen, &r.old_seen },
        { DBI_LEDGER, keep->ledger, &r.old_ledger },
    };
    struct purge_pass *p;
    int rc = -1;

    if (st->flags & STORE_RDONLY)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "store %s was opened read-only", st->env->dir);
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory purging the store");
    p->now = now;
    p->dbi = DBI_ENTRIES;
    if (purge_db(st, p, &r.expired_entries, err) < 0)
        goto out;
    for (size_t i = 0; i < sizeof(aging) / sizeof(aging[0]); i++) {
        /* A negative retention (DURATION_NEVER) keeps everything. */
        if (aging[i].retention < 0)
            continue;
        p->dbi = aging[i].dbi;
        p->cutoff = now - (time_t) aging[i].retention;
        if (purge_db(st, p, aging[i].removed, err) < 0)
            goto out;
    }
    if (store_compact(st, &r.pages_freed, err) < 0)
        goto out;
    rc = store_checkpoint(st, err);
out:
    if (result != NULL)
        *result = r;
    free(p);
    return rc;
}
