/*
 * store_rep.c: the store replicated over a fleet of sites with Berkeley
 * DB's replication manager (the replication section of
 * milter-suppress.conf(5)).  store_env.c calls it around DB_ENV->open:
 * store_rep_configure before (the sites, the ack policy, the priority,
 * the event callback), store_rep_start after (DB_ENV->repmgr_start).
 * It also turns Berkeley DB's refusal of a write on a replica into an
 * error that names the master (store_rep_refused).
 *
 * Processes.  Every program of a site opens the one replicated
 * environment and calls repmgr_start: the first to do so (normally
 * milter-suppress, which runs all the time) becomes Berkeley DB's
 * "replication process", which listens on replication.local and talks
 * to the other sites; later ones (suppress-ingest, suppressctl) are
 * subordinate processes, for which repmgr_start answers DB_REP_IGNORE,
 * and their commits go out through the replication process.  When the
 * replication process exits, a subordinate one takes its place.
 *
 * Roles.  role master starts as master (DB_REP_MASTER); replica as a
 * client that never wins an election (priority 0, DB_REP_CLIENT); elect
 * as a client that holds an election when there is no master
 * (DB_REP_ELECTION).  A write on a client fails in Berkeley DB with
 * EACCES ("attempt to modify a read-only database"): it is reported as
 * SUP_ERR_NOPERM naming the master, never forwarded; what a replica's
 * milter records goes to the master in batches instead (store_ship.c,
 * whose message callback is set here).
 */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "store.h"
#include "store_bdb.h"
#include "store_rep_tcp.h"

#define REP_THREADS            3        /* repmgr's message threads in the replication process */
#define REP_CONNECT_RETRY_US   (2 * 1000000)    /* a lost peer is tried again this often */
#define REP_HEARTBEAT_SEND_US  (1 * 1000000)    /* the master says it is alive this often */
#define REP_HEARTBEAT_WAIT_US  (4 * 1000000)    /* a client calls an election after this silence */
/*
 * A replica that sees a gap in the log it receives asks for the missing
 * records after REP_REQUEST_MIN_US, doubling up to REP_REQUEST_MAX_US
 * (Berkeley DB's defaults: 40 ms and 1.28 s).  Gaps are common here:
 * the commits of a subordinate process (suppressctl, suppress-ingest)
 * reach a replica over that process's own connection, beside the
 * replication process's.  With the defaults a replica lagged 1.1 s
 * behind (tests/bench/rep-bench.sh, ack-policy none).
 */
#define REP_REQUEST_MIN_US     1000
#define REP_REQUEST_MAX_US     20000
#define NODELAY_PEERS_MAX      64       /* configured peers store_rep_nodelay matches (a fleet has 2-20) */

/* This process's replication section; none when enable is false. */
static struct replication_config rep_conf;
static struct rep_site *rep_peers;

int store_replication(const struct replication_config *rep, SUP_ERR *err)
{
    struct rep_site *peers = NULL;

    if (rep != NULL && rep->enable) {
        if ((peers = calloc(rep->peer_count + 1, sizeof(*peers))) == NULL)
            return sup_err_set(err, SUP_ERR_IO, "out of memory configuring replication");
        memcpy(peers, rep->peers, rep->peer_count * sizeof(*peers));
    }
    free(rep_peers);
    rep_peers = peers;
    if (rep != NULL && rep->enable) {
        rep_conf = *rep;
        rep_conf.peers = rep_peers;
    } else {
        memset(&rep_conf, 0, sizeof(rep_conf));
    }
    return 0;
}

bool store_rep_configured(void)
{
    return rep_conf.enable;
}

void store_rep_nodelay(void)
{
    unsigned ports[NODELAY_PEERS_MAX];
    size_t n = 0;

    if (!rep_conf.enable)
        return;
    for (size_t i = 0; i < rep_conf.peer_count && n < NODELAY_PEERS_MAX; i++)
        ports[n++] = rep_conf.peers[i].port;
    (void) store_rep_tcp_nodelay(rep_conf.local.port, ports, n);
}

/* Berkeley DB tells of role changes, connections and the end of the
 * catch-up here. */
static void rep_event(DB_ENV *dbenv, u_int32_t event, void *info)
{
    struct store_env *env = dbenv->app_private;

    (void) info;
    if (env == NULL)
        return;
    switch (event) {
    case DB_EVENT_REP_MASTER:
        atomic_store(&env->rep_master, true);
        atomic_store(&env->rep_synced, true);
        break;
    case DB_EVENT_REP_CLIENT:
        atomic_store(&env->rep_master, false);
        break;
    case DB_EVENT_REP_STARTUPDONE:
        atomic_store(&env->rep_synced, true);
        break;
    case DB_EVENT_REP_PERM_FAILED:
        atomic_fetch_add(&env->rep_perm_failed, 1);
        break;
    case DB_EVENT_REP_CONNECT_ESTD:
        store_rep_nodelay();
        break;
    default:
        break;
    }
}

static u_int32_t ack_policy(enum rep_ack_policy ack)
{
    switch (ack) {
    case REP_ACK_NONE:
        return DB_REPMGR_ACKS_NONE;
    case REP_ACK_QUORUM:
        return DB_REPMGR_ACKS_QUORUM;
    case REP_ACK_ALL:
        return DB_REPMGR_ACKS_ALL;
    case REP_ACK_ONE:
    default:
        return DB_REPMGR_ACKS_ONE;
    }
}

static int add_site(DB_ENV *dbenv, const struct rep_site *s, u_int32_t which)
{
    DB_SITE *site;
    int ret;

    if ((ret = dbenv->repmgr_site(dbenv, s->host, s->port, &site, 0)) != 0)
        return ret;
    ret = site->set_config(site, which, 1);
    (void) site->close(site);
    return ret;
}

int store_rep_configure(struct store_env *env, DB_ENV *dbenv, u_int32_t *open_flags, SUP_ERR *err)
{
    const struct replication_config *r = &rep_conf;
    char what[REP_HOST_MAX + 64];
    int ret;

    env->rep = r->enable;
    if (!r->enable)
        return 0;
    dbenv->app_private = env;
    *open_flags |= DB_INIT_REP;
    if ((ret = dbenv->set_event_notify(dbenv, rep_event)) != 0)
        return store_bdb_fail(env, err, ret, "replication: cannot set the event callback");
    /* Before repmgr_start: the replicas' batches (store_ship.c). */
    if ((ret = store_ship_configure(dbenv)) != 0)
        return store_bdb_fail(env, err, ret, "replication: cannot set the message callback");
    snprintf(what, sizeof(what), "replication: this site %s:%u", r->local.host, r->local.port);
    if ((ret = add_site(dbenv, &r->local, DB_LOCAL_SITE)) != 0)
        return store_bdb_fail(env, err, ret, what);
    for (size_t i = 0; i < r->peer_count; i++) {
        snprintf(what, sizeof(what), "replication: peer %s:%u", r->peers[i].host, r->peers[i].port);
        if ((ret = add_site(dbenv, &r->peers[i], DB_BOOTSTRAP_HELPER)) != 0)
            return store_bdb_fail(env, err, ret, what);
    }
    if ((ret = dbenv->repmgr_set_ack_policy(dbenv, ack_policy(r->ack_policy))) != 0
        || (ret = dbenv->rep_set_priority(dbenv, r->role == REP_ROLE_REPLICA ? 0
                                          : (u_int32_t) r->priority)) != 0
        || (ret = dbenv->rep_set_timeout(dbenv, DB_REP_CONNECTION_RETRY, REP_CONNECT_RETRY_US)) != 0
        || (ret = dbenv->rep_set_timeout(dbenv, DB_REP_HEARTBEAT_SEND, REP_HEARTBEAT_SEND_US)) != 0
        || (ret = dbenv->rep_set_timeout(dbenv, DB_REP_HEARTBEAT_MONITOR, REP_HEARTBEAT_WAIT_US)) != 0
        || (ret = dbenv->rep_set_request(dbenv, REP_REQUEST_MIN_US, REP_REQUEST_MAX_US)) != 0)
        return store_bdb_fail(env, err, ret, "replication: cannot configure");
    return 0;
}

int store_rep_start(struct store_env *env, SUP_ERR *err)
{
    const struct replication_config *r = &rep_conf;
    u_int32_t how;
    int ret;

    if (!env->rep)
        return 0;
    how = r->role == REP_ROLE_MASTER ? DB_REP_MASTER
        : r->role == REP_ROLE_ELECT ? DB_REP_ELECTION : DB_REP_CLIENT;
    store_bdb_msg[0] = '\0';
    ret = env->dbenv->repmgr_start(env->dbenv, REP_THREADS, how);
    if (ret == DB_REP_IGNORE) {
        /* Another process of this site is the replication process. */
        atomic_store(&env->rep_listener, false);
        return 0;
    }
    if (ret == DB_REP_UNAVAIL)
        return sup_err_set(err, SUP_ERR_TEMP, "store %s: replication: this site has not joined"
                           " its group yet: no master answers among replication.peers",
                           env->dir);
    if (ret != 0)
        return store_bdb_fail(env, err, ret, "replication: cannot start (repmgr_start)");
    atomic_store(&env->rep_listener, true);
    return 0;
}

/* The master's address as this site knows it, or false. */
static bool master_address(const struct store_env *env, char *buf, size_t len)
{
    DB_REP_STAT *sp = NULL;
    DB_SITE *site = NULL;
    const char *host;
    u_int port;
    int eid;

    if (env->dbenv->rep_stat(env->dbenv, &sp, 0) != 0 || sp == NULL)
        return false;
    eid = sp->st_master;
    free(sp);
    if (eid == DB_EID_INVALID || env->dbenv->repmgr_site_by_eid(env->dbenv, eid, &site) != 0)
        return false;
    if (site->get_address(site, &host, &port) == 0)
        snprintf(buf, len, "%s:%u", host, port);
    else
        buf[0] = '\0';
    (void) site->close(site);
    return buf[0] != '\0';
}

int store_rep_refused(const struct store_env *env, SUP_ERR *err, const char *what)
{
    char master[REP_HOST_MAX + 16];

    if (master_address(env, master, sizeof(master)))
        return sup_err_set(err, SUP_ERR_NOPERM, "store %s: %s: this site is a replica; write on the"
                           " master, %s (replication.peers)", env->dir, what, master);
    return sup_err_set(err, SUP_ERR_NOPERM, "store %s: %s: this site is a replica and knows of no"
                       " master now (an election may be under way); write on the master", env->dir,
                       what);
}

/* Asked of Berkeley DB: a subordinate process gets no role events. */
bool store_rep_is_client(const struct store_env *env)
{
    DB_REP_STAT *sp = NULL;
    bool client;

    if (!env->rep || env->dbenv == NULL)
        return false;
    if (env->dbenv->rep_stat(env->dbenv, &sp, 0) != 0 || sp == NULL)
        return !atomic_load(&env->rep_master);
    client = sp->st_status != DB_REP_MASTER;
    free(sp);
    return client;
}

/* ---- status --------------------------------------------------------- */

static int op_status(STORE *st, DB_TXN *tid, void *arg, SUP_ERR *err)
{
    struct store_rep_status *out = arg;
    DB_ENV *dbenv = st->env->dbenv;
    DB_REP_STAT *rs = NULL;
    DB_REPMGR_SITE *list = NULL;
    u_int count = 0;
    int ret;

    (void) tid;
    if ((ret = dbenv->rep_stat(dbenv, &rs, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "replication status");
    out->master = rs->st_status == DB_REP_MASTER;
    out->synced = out->master || rs->st_startup_complete;
    out->log_file = rs->st_next_lsn.file;
    out->log_offset = rs->st_next_lsn.offset;
    out->log_queued = (unsigned long) rs->st_log_queued;
    out->elections = (unsigned long) rs->st_elections;
    free(rs);
    out->listener = atomic_load(&st->env->rep_listener);
    out->perm_failed = atomic_load(&st->env->rep_perm_failed);
    snprintf(out->local, sizeof(out->local), "%s:%u", rep_conf.local.host, rep_conf.local.port);
    if (!master_address(st->env, out->master_address, sizeof(out->master_address)))
        out->master_address[0] = '\0';
    if (out->master)
        snprintf(out->master_address, sizeof(out->master_address), "%s", out->local);
    if ((ret = dbenv->repmgr_site_list(dbenv, &count, &list)) != 0)
        return store_bdb_fail(st->env, err, ret, "replication sites");
    for (u_int i = 0; i < count && out->site_count < STORE_REP_SITES_MAX; i++) {
        struct store_rep_site *s = &out->sites[out->site_count++];

        snprintf(s->address, sizeof(s->address), "%s:%u", list[i].host, list[i].port);
        s->connected = list[i].status == DB_REPMGR_CONNECTED;
        s->master = strcmp(s->address, out->master_address) == 0;
    }
    free(list);
    return 0;
}

int store_rep_status(STORE *st, struct store_rep_status *out, SUP_ERR *err)
{
    memset(out, 0, sizeof(*out));
    if (!st->env->rep)
        return 0;
    out->replicated = true;
    return store_run_op(st, NULL, false, op_status, out, err);
}
