/*
 * store_ship.c: batches of a replica's records (store_outbox.h) carried
 * to the master over the replication manager's message channels, and
 * applied there once.
 *
 * The replica: store_ship_send opens a channel to DB_EID_MASTER, sends
 * the batch with send_request and waits for the answer.  The master:
 * ship_dispatch, set with repmgr_msg_dispatch by store_rep_configure
 * before repmgr_start, runs in one of repmgr's message threads of the
 * master's replication process; it applies the batch through
 * store_ship_apply with the STORE the milter lent it (store_ship_serve)
 * and answers on the channel it was given.
 *
 * Once: every batch carries its site's random id and a sequence number
 * that only grows.  seen.db keeps, per site, the last number applied
 * ("\1ship\1" + the id in hex -> be64 seq | be64 time; 16 bytes, so
 * purge, which takes the 8-byte marks of bounces, never removes it),
 * read with a write lock and written in the transaction that applies
 * the batch: a batch sent again because its answer was lost is answered
 * "duplicate" and not applied twice, and the mark travels to every site
 * with the data, so it still holds after a failover.
 *
 * Deadlock: with ack-policy one (or quorum, all) the master's commit
 * waits for a replica's acknowledgement.  In Berkeley DB 5.3 those are
 * read in line by repmgr's select thread (repmgr_sel.c, dispatch_msgin:
 * PERMLSN), not by the message threads, and channel messages are
 * "deferrable": a message thread is always kept for replication
 * messages (repmgr_msg.c, available_work).  So a commit in the callback
 * waits at most for the ack timeout (then it counts as not acknowledged,
 * and stays committed); fleet-events.sh runs with ack-policy one, then
 * none.
 */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store.h"
#include "store_bdb.h"
#include "store_outbox.h"

#define MARK_PREFIX "\001ship\001"
#define MARK_PREFIX_LEN 6
#define MARK_KEY_MAX (MARK_PREFIX_LEN + 2 * STORE_SITE_ID_BYTES + 1)
#define APPLY_ATTEMPTS 5
#define ANSWER_TEXT_MAX 512

/* The store the master applies incoming batches with. */
static pthread_rwlock_t serve_lock = PTHREAD_RWLOCK_INITIALIZER;
static STORE *serve_store;
static int serve_max_events;

void store_ship_serve(STORE *st, int max_events)
{
    pthread_rwlock_wrlock(&serve_lock);
    serve_store = st;
    serve_max_events = max_events;
    pthread_rwlock_unlock(&serve_lock);
}

/* ---- the mark of each site ------------------------------------------- */

static size_t mark_key(char *key, const unsigned char site[STORE_SITE_ID_BYTES])
{
    memcpy(key, MARK_PREFIX, MARK_PREFIX_LEN);
    store_site_id_hex(site, key + MARK_PREFIX_LEN);
    return MARK_PREFIX_LEN + 2 * STORE_SITE_ID_BYTES;
}

struct mark_arg {
    const unsigned char *site;
    uint64_t seq;               /* read: the last applied (0: none); write: the new one */
    time_t when;
};

static int op_mark_get(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct mark_arg *arg = argp;
    DB *db = st->db[DBI_SEEN];
    unsigned char kbuf[KEY_MAX], vbuf[16];
    char key[MARK_KEY_MAX];
    DBT k, d;
    int ret;

    dbt_inout(&k, kbuf, mark_key(key, arg->site), sizeof(kbuf));
    memcpy(kbuf, key, k.size);
    dbt_out(&d, vbuf, sizeof(vbuf));
    /* RMW: two copies of one batch applied at once wait for each other. */
    ret = db->get(db, tid, &k, &d, DB_RMW);
    if (ret == DB_NOTFOUND) {
        arg->seq = 0;
        return 0;
    }
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, "seen.db: a site's shipping mark");
    arg->seq = d.size == sizeof(vbuf) ? get_be64(vbuf) : 0;
    return 0;
}

static int op_mark_put(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct mark_arg *arg = argp;
    DB *db = st->db[DBI_SEEN];
    unsigned char vbuf[16];
    char key[MARK_KEY_MAX];
    DBT k, d;
    int ret;

    put_be64(vbuf, arg->seq);
    put_be64(vbuf + 8, (uint64_t) (int64_t) arg->when);
    dbt_in(&k, key, mark_key(key, arg->site));
    dbt_in(&d, vbuf, sizeof(vbuf));
    if ((ret = db->put(db, tid, &k, &d, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "seen.db: a site's shipping mark");
    return 0;
}

struct marks_walk {
    store_ship_mark_fn fn;
    void *ctx;
};

static int mark_record(const unsigned char *key, size_t klen, const unsigned char *data,
                       size_t dlen, void *ctx, SUP_ERR *err)
{
    struct marks_walk *w = ctx;
    char hex[2 * STORE_SITE_ID_BYTES + 1];

    (void) err;
    if (klen != MARK_PREFIX_LEN + 2 * STORE_SITE_ID_BYTES || dlen != 16)
        return 0;
    memcpy(hex, key + MARK_PREFIX_LEN, 2 * STORE_SITE_ID_BYTES);
    hex[2 * STORE_SITE_ID_BYTES] = '\0';
    return w->fn(hex, get_be64(data), (time_t) (int64_t) get_be64(data + 8), w->ctx);
}

int store_ship_marks(STORE *st, store_ship_mark_fn fn, void *ctx, SUP_ERR *err)
{
    struct marks_walk w = { fn, ctx };
    int rc = store_scan_range(st, NULL, DBI_SEEN, MARK_PREFIX, MARK_PREFIX_LEN, MARK_PREFIX_LEN,
                              mark_record, &w, err);

    return rc < 0 ? -1 : 0;
}

/* ---- applying a batch (the master) ------------------------------------ */

struct apply {
    const unsigned char *buf;
    size_t len;
    struct store_batch_head head;
    int max_events;
    STORE_TXN *txn;
    STORE *st;
    bool duplicate;
    unsigned long skipped;      /* records the store refused as bad input */
    char first_skipped[256];
};

/* A record the store refuses as bad data is left out (and said), as the
 * milter's own writer drops it: retrying cannot help, and it must not
 * hold back the rest.  Those checks come before any write, so the
 * transaction goes on. */
static int skip_or_fail(struct apply *a, int rc, SUP_ERR *err)
{
    if (rc >= 0)
        return 0;
    if (err->cls != SUP_ERR_INPUT)
        return -1;
    if (a->skipped++ == 0)
        snprintf(a->first_skipped, sizeof(a->first_skipped), "%s", err->text);
    sup_err_clear(err);
    return 0;
}

static int apply_counter(const char *day, const char *name, uint64_t delta, void *ctx,
                         SUP_ERR *err)
{
    struct apply *a = ctx;

    return skip_or_fail(a, store_counter_add(a->st, a->txn, day, name, delta, err), err);
}

static int apply_event(const STORE_EVENT *ev, void *ctx, SUP_ERR *err)
{
    struct apply *a = ctx;

    return skip_or_fail(a, store_event_add(a->st, a->txn, ev, a->max_events, err), err);
}

static int apply_ledger(const STORE_LEDGER_MSG *msg, void *ctx, SUP_ERR *err)
{
    struct apply *a = ctx;
    int rc = store_ledger_add(a->st, a->txn, msg, err);

    if (rc == 0)
        sup_err_clear(err);     /* recipients past the cap: not an error here */
    return skip_or_fail(a, rc, err);
}

static int apply_in_txn(STORE *st, STORE_TXN *txn, void *ctx, SUP_ERR *err)
{
    static const struct store_batch_visitor visit = { apply_counter, apply_event, apply_ledger };
    struct apply *a = ctx;
    struct mark_arg mark = { a->head.site, 0, 0 };
    struct store_batch_head again;

    a->st = st;
    a->txn = txn;
    a->duplicate = false;
    a->skipped = 0;
    if (store_run_op(st, txn, false, op_mark_get, &mark, err) < 0)
        return -1;
    if (a->head.seq <= mark.seq) {
        a->duplicate = true;
        return 0;
    }
    if (store_batch_parse(a->buf, a->len, &again, &visit, a, err) < 0)
        return -1;
    mark.seq = a->head.seq;
    mark.when = time(NULL);
    return store_run_op(st, txn, true, op_mark_put, &mark, err);
}

enum store_ship_result store_ship_apply(STORE *st, const unsigned char *buf, size_t len,
                                        int max_events, SUP_ERR *err)
{
    struct apply a;
    char site[2 * STORE_SITE_ID_BYTES + 1];

    memset(&a, 0, sizeof(a));
    a.buf = buf;
    a.len = len;
    a.max_events = max_events;
    if (store_batch_parse(buf, len, &a.head, NULL, NULL, err) < 0)
        return STORE_SHIP_REFUSED;
    if (store_in_txn(st, apply_in_txn, &a, APPLY_ATTEMPTS, err) < 0)
        return err->cls == SUP_ERR_INPUT ? STORE_SHIP_REFUSED : STORE_SHIP_RETRY;
    store_site_id_hex(a.head.site, site);
    if (a.skipped > 0)
        log_warn("batch %" PRIu64 " of site %s: %lu records refused by the store and left out,"
                 " the first: %s", a.head.seq, site, a.skipped, a.first_skipped);
    log_debug("batch %" PRIu64 " of site %s: %s", a.head.seq, site,
              a.duplicate ? "applied before, not again" : "applied");
    sup_err_clear(err);
    return a.duplicate ? STORE_SHIP_DUPLICATE : STORE_SHIP_APPLIED;
}

/* ---- the master's end of the channel ---------------------------------- */

static void answer(DB_CHANNEL *ch, u_int32_t cb_flags, enum store_ship_result res,
                   const char *text)
{
    unsigned char msg[1 + ANSWER_TEXT_MAX];
    size_t tlen = text != NULL ? strnlen(text, ANSWER_TEXT_MAX) : 0;
    DBT d;

    if (!(cb_flags & DB_REPMGR_NEED_RESPONSE))
        return;
    msg[0] = (unsigned char) res;
    memcpy(msg + 1, text, tlen);
    memset(&d, 0, sizeof(d));
    d.data = msg;
    d.size = (u_int32_t) (1 + tlen);
    (void) ch->send_msg(ch, &d, 1, 0);
}

static void ship_dispatch(DB_ENV *dbenv, DB_CHANNEL *ch, DBT *request, u_int32_t nrequest,
                          u_int32_t cb_flags)
{
    enum store_ship_result res;
    SUP_ERR err;

    (void) dbenv;
    sup_err_clear(&err);
    if (nrequest != 1 || request[0].size == 0) {
        answer(ch, cb_flags, STORE_SHIP_REFUSED, "not a batch: expected one message part");
        return;
    }
    pthread_rwlock_rdlock(&serve_lock);
    if (serve_store == NULL) {
        res = STORE_SHIP_RETRY;
        sup_err_set(&err, SUP_ERR_TEMP, "the master's milter-suppress is not taking batches"
                    " (starting, stopping, or not this site's replication process)");
    } else if (store_is_replica(serve_store)) {
        /*
         * A batch reaches a site that is not the master when a replica
         * still takes this site for the master (it lost its mastership,
         * or the replica's view is stale after its restart), or is this
         * site's own, echoed by a channel to DB_EID_MASTER.  A write here
         * would be refused, or worse, taken by a client not yet started
         * and rolled back by its next sync: later, to the master.
         */
        res = STORE_SHIP_RETRY;
        sup_err_set(&err, SUP_ERR_TEMP, "this site is not the master now");
    } else {
        res = store_ship_apply(serve_store, request[0].data, request[0].size, serve_max_events,
                               &err);
    }
    pthread_rwlock_unlock(&serve_lock);
    answer(ch, cb_flags, res, err.text);
}

int store_ship_configure(DB_ENV *dbenv)
{
    return dbenv->repmgr_msg_dispatch(dbenv, ship_dispatch, 0);
}

/* ---- the replica's end ------------------------------------------------ */

static int op_is_client(STORE *st, DB_TXN *tid, void *arg, SUP_ERR *err)
{
    (void) tid;
    (void) arg;
    (void) err;
    return store_rep_is_client(st->env) ? 1 : 0;
}

bool store_is_replica(STORE *st)
{
    SUP_ERR err;

    if (!st->env->rep)
        return false;
    /* When the environment cannot even be entered, writes fail too. */
    return store_run_op(st, NULL, false, op_is_client, NULL, &err) != 0;
}

struct send_arg {
    const unsigned char *buf;
    size_t len;
    long timeout_ms;
    enum store_ship_result res;
    SUP_ERR why;                /* store_run_op keeps err for its own failures only */
};

static int op_send(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *ignored)
{
    struct send_arg *arg = argp;
    SUP_ERR *err = &arg->why;
    DB_ENV *dbenv = st->env->dbenv;
    DB_CHANNEL *ch = NULL;
    DBT req, resp;
    int ret;

    (void) tid;
    (void) ignored;
    arg->res = STORE_SHIP_RETRY;
    if ((ret = dbenv->repmgr_channel(dbenv, DB_EID_MASTER, &ch, 0)) != 0) {
        store_bdb_fail(st->env, err, ret, "shipping a batch: no channel to the master");
        err->cls = SUP_ERR_TEMP;
        return 0;
    }
    memset(&req, 0, sizeof(req));
    req.data = (void *) arg->buf;
    req.size = (u_int32_t) arg->len;
    memset(&resp, 0, sizeof(resp));
    resp.flags = DB_DBT_MALLOC;
    ret = ch->send_request(ch, &req, 1, &resp, (db_timeout_t) arg->timeout_ms * 1000, 0);
    if (ret != 0) {
        store_bdb_fail(st->env, err, ret, ret == DB_TIMEOUT
                       ? "shipping a batch: the master did not answer in time"
                       : ret == DB_REP_UNAVAIL ? "shipping a batch: no master now"
                       : "shipping a batch to the master");
        err->cls = SUP_ERR_TEMP;
    } else if (resp.size < 1 || ((unsigned char *) resp.data)[0] > STORE_SHIP_REFUSED) {
        sup_err_set(err, SUP_ERR_TEMP, "shipping a batch: the master's answer makes no sense");
    } else {
        const unsigned char *r = resp.data;

        arg->res = (enum store_ship_result) r[0];
        if (arg->res == STORE_SHIP_RETRY || arg->res == STORE_SHIP_REFUSED)
            sup_err_set(err, arg->res == STORE_SHIP_RETRY ? SUP_ERR_TEMP : SUP_ERR_INPUT,
                        "the master: %.*s", (int) (resp.size - 1), (const char *) r + 1);
    }
    free(resp.data);
    (void) ch->close(ch, 0);
    return 0;
}

enum store_ship_result store_ship_send(STORE *st, const unsigned char *buf, size_t len,
                                       long timeout_ms, SUP_ERR *err)
{
    struct send_arg arg;
    int max_events;

    if (!store_is_replica(st)) {
        /* This site is the master (an election): the batch is applied here. */
        log_debug("this site is the master now: its own batch is applied here");
        pthread_rwlock_rdlock(&serve_lock);
        max_events = serve_max_events;
        pthread_rwlock_unlock(&serve_lock);
        return store_ship_apply(st, buf, len, max_events, err);
    }
    memset(&arg, 0, sizeof(arg));
    arg.buf = buf;
    arg.len = len;
    arg.timeout_ms = timeout_ms;
    arg.res = STORE_SHIP_RETRY;
    sup_err_clear(&arg.why);
    if (store_run_op(st, NULL, false, op_send, &arg, err) < 0)
        return STORE_SHIP_RETRY;
    if (arg.res != STORE_SHIP_APPLIED && arg.res != STORE_SHIP_DUPLICATE)
        *err = arg.why;
    return arg.res;
}
