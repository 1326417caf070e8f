/*
 * store_txn.c: the store's transactions (store_begin, store_commit,
 * store_abort, store_retry_delay) and store_run_op(), through which every
 * database operation runs.
 *
 * Functions called with a NULL STORE_TXN run in their own transaction and
 * retry a deadlock or lock timeout a few times.
 * A transaction begun before another process's recovery is dead (its
 * generation is old): it reports SUP_ERR_TEMP, so the caller retries it
 * like a deadlock.
 */
#include "config.h"

#include <db.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_bdb.h"

static void copy_err(SUP_ERR *dst, const SUP_ERR *src)
{
    if (dst != NULL && dst != src)
        *dst = *src;
}

/* ---- transactions --------------------------------------------------- */

void store_retry_delay(int attempt)
{
    static _Thread_local unsigned seed;
    struct timespec ts;
    long ms;

    if (seed == 0)
        seed = (unsigned) time(NULL) ^ ((unsigned) getpid() << 16) ^ (unsigned) (uintptr_t) &ts;
    seed = seed * 1103515245u + 12345u;
    if (attempt < 1)
        attempt = 1;
    if (attempt > 6)
        attempt = 6;
    /* 5 ms doubling per attempt, plus up to as much again at random, so
     * two processes that deadlocked do not retry in step. */
    ms = 5L << (attempt - 1);
    ms += (long) ((seed >> 16) % (unsigned) ms);
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static int stale_txn(const STORE *st, SUP_ERR *err)
{
    return sup_err_set(err, SUP_ERR_TEMP,
                       "store %s was recovered after another process died; retry the transaction",
                       st->env->dir);
}

int store_begin(STORE *st, STORE_TXN **txn, SUP_ERR *err)
{
    struct store_env *env = st->env;
    STORE_TXN *t;
    SUP_ERR e;
    unsigned gen;
    int ret;

    *txn = NULL;
    if (st->flags & STORE_RDONLY)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "store %s was opened read-only", env->dir);
    if ((t = calloc(1, sizeof(*t))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "store %s: out of memory", env->dir);
    for (int attempt = 1;; attempt++) {
        if (store_env_enter(env, &gen, &e) < 0)
            break;
        store_bdb_msg[0] = '\0';
        ret = env->dbenv->txn_begin(env->dbenv, NULL, &t->tid, st->txn_flags);
        store_env_leave(env);
        if (ret == 0) {
            t->st = st;
            t->generation = gen;
            *txn = t;
            return 0;
        }
        if (store_bdb_fail(env, &e, ret, "cannot begin a transaction") == OP_PANIC && attempt < 3
            && store_env_reopen(env, gen, &e) == 0)
            continue;
        break;
    }
    free(t);
    copy_err(err, &e);
    return -1;
}

int store_commit(STORE_TXN *txn, SUP_ERR *err)
{
    struct store_env *env;
    unsigned gen;
    int ret, rc = 0;

    if (txn == NULL)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "store_commit without a transaction");
    env = txn->st->env;
    if (store_env_enter(env, &gen, err) < 0) {
        free(txn);
        return -1;
    }
    if (gen != txn->generation) {
        store_env_leave(env);
        rc = stale_txn(txn->st, err);
        free(txn);
        return rc;
    }
    store_bdb_msg[0] = '\0';
    ret = txn->tid->commit(txn->tid, 0);
    store_env_leave(env);
    if (ret != 0 && store_bdb_fail(env, err, ret, "cannot commit") == OP_PANIC) {
        store_env_reopen(env, gen, NULL);
        rc = stale_txn(txn->st, err);
    } else if (ret != 0) {
        rc = -1;
    }
    free(txn);
    return rc;
}

void store_abort(STORE_TXN *txn)
{
    struct store_env *env;
    unsigned gen;

    if (txn == NULL)
        return;
    env = txn->st->env;
    if (env->pid == getpid() && store_env_enter(env, &gen, NULL) == 0) {
        if (gen == txn->generation)
            (void) txn->tid->abort(txn->tid);
        store_env_leave(env);
    }
    free(txn);
}

int store_in_txn(STORE *st, store_txn_fn fn, void *ctx, int attempts, SUP_ERR *err)
{
    for (int attempt = 1;; attempt++) {
        STORE_TXN *txn = NULL;
        int rc = store_begin(st, &txn, err);

        if (rc == 0) {
            if (fn(st, txn, ctx, err) < 0) {
                store_abort(txn);
                rc = -1;
            } else {
                rc = store_commit(txn, err);
            }
        }
        if (rc == 0)
            return 0;
        if (err->cls != SUP_ERR_TEMP || attempt >= attempts)
            return -1;
        store_retry_delay(attempt);
    }
}

/*
 * Run one operation: inside the caller's transaction, or in its own
 * (writes) / none (reads), retrying deadlocks and a recovered environment.
 * fn returns >= 0 (the result), -1 with err set, or OP_PANIC.
 */
int store_run_op(STORE *st, STORE_TXN *txn, bool writes, store_op_fn fn, void *arg,
                 SUP_ERR *err)
{
    struct store_env *env = st->env;
    SUP_ERR e;
    unsigned gen;
    int rc, ret;

    if (writes && (st->flags & STORE_RDONLY))
        return sup_err_set(err, SUP_ERR_SOFTWARE, "store %s was opened read-only", env->dir);
    if (txn != NULL && txn->st != st)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "store %s: transaction of another store handle",
                           env->dir);
    for (int attempt = 1;; attempt++) {
        if (store_env_enter(env, &gen, &e) < 0)
            break;
        store_bdb_msg[0] = '\0';
        if (txn != NULL) {
            rc = gen == txn->generation ? fn(st, txn->tid, arg, &e) : stale_txn(st, &e);
            store_env_leave(env);
            if (rc == OP_PANIC) {
                store_env_reopen(env, gen, NULL);
                rc = stale_txn(st, &e);
            }
            if (rc >= 0)
                return rc;
            break;
        }
        DB_TXN *tid = NULL;

        ret = writes ? env->dbenv->txn_begin(env->dbenv, NULL, &tid, st->txn_flags) : 0;
        if (ret != 0) {
            rc = store_bdb_fail(env, &e, ret, "cannot begin a transaction");
        } else {
            rc = fn(st, tid, arg, &e);
            if (tid != NULL && rc >= 0) {
                if ((ret = tid->commit(tid, 0)) != 0)
                    rc = store_bdb_fail(env, &e, ret, "cannot commit");
            } else if (tid != NULL) {
                (void) tid->abort(tid);
            }
        }
        store_env_leave(env);
        if (rc >= 0)
            return rc;
        if (attempt >= AUTO_ATTEMPTS)
            break;
        if (rc == OP_PANIC) {
            if (store_env_reopen(env, gen, &e) < 0)
                break;
        } else if (e.cls == SUP_ERR_TEMP) {
            store_retry_delay(attempt);
        } else {
            break;
        }
    }
    copy_err(err, &e);
    return -1;
}
