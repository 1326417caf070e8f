/*
 * store_bdb.h: what the files implementing the store (store.h) on
 * Berkeley DB share, and nothing the programs see: they include store.h
 * only.  One file per job, as Postfix's dict_db.c sits beside dict.h:
 *
 *   store_env.c       the environment: open, DB_REGISTER recovery, reopen
 *                     after a panic, the lock watchdog, checkpoints
 *   store_txn.c       transactions, and store_run_op(), which runs one
 *                     database operation with retries
 *   store_scan.c      batched walks over a key range, no lock held while
 *                     the caller's function runs
 *   store_entries.c   suppressions.db
 *   store_index.c     lookup.db, the compact index in front of it
 *   store_timeline.c  events.db
 *   store_counters.c  counters.db
 *   store_seen.c      seen.db
 *   store_ledger.c    ledger.db (its record: store_ledger.h)
 *   store_purge.c     removing what expired, in every database, and
 *                     compacting them
 *   store_rep.c       replication over a fleet of sites (repmgr)
 *   store_ship.c      replicas' batches carried to the master and applied
 *                     once (store_batch.c, store_outbox.c: no BDB there)
 *
 * Layout: six B-tree databases in the environment directory.
 *
 *   suppressions.db  address                          -> entry record (global scope)
 *                    \1 tenant \1 address             -> entry record (a tenant's)
 *   lookup.db        be32(bucket)                     -> fingerprints of the
 *                                                        addresses in it
 *   events.db        address \0 be64(time) be32(seq)  -> event record
 *   counters.db      day \0 name                      -> be64 count
 *   seen.db          message key                      -> be64 time
 *                    \1ship\1 site id (hex)            -> be64 seq be64 time
 *   ledger.db        Message-ID                       -> version be64(time)
 *                                                        sender \0 rcpt \0 ...
 *
 * A normalized address never holds a control character, so a tenant's
 * key (store_scope.c) cannot be any address, and the global scope's keys
 * are the addresses as every release before tenants wrote them.
 *
 * Entry values are compact version 2 records, their texts deflated
 * (store_record.c, store_squeeze.c; version 1 is still read); event
 * values are versioned TLV records (store_record.c);
 * ledger values are described in store_ledger.c.
 * A new database is one more enum store_db value, its file name in
 * store_db_files (store_env.c) and a file of its own for its operations.
 */
#ifndef STORE_BDB_H
#define STORE_BDB_H

#include <db.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "siphash.h"
#include "store.h"

#define AUTO_ATTEMPTS    6      /* tries of an auto-commit call on deadlock */
#define SEEN_KEY_MAX     1000
#define KEY_MAX          (SEEN_KEY_MAX + 16)    /* the longest key of any database */

#define OP_PANIC         (-2)   /* the environment needs reopening */

enum store_db {
    DBI_ENTRIES,
    DBI_EVENTS,
    DBI_COUNTERS,
    DBI_SEEN,
    DBI_LEDGER,
    DBI_INDEX,
    DBI_SLOTS,                  /* lookup-slots.db, a DB_QUEUE: the RCPT path's copy of lookup.db */
    DBI_COUNT
};

/* The database file names, by enum store_db. */
extern const char *const store_db_files[DBI_COUNT];
/* A database a later release added: a store written before has none
 * until a writer opens it (store_env.c). */
bool store_db_added_later(int dbi);

/* One per process and environment directory, shared by its STOREs (store_env.c). */
struct store_env {
    struct store_env *next;
    dev_t dev;
    ino_t ino;
    pid_t pid;                  /* a forked child must not use its parent's */
    char *dir;
    DB_ENV *dbenv;              /* NULL after a failed reopen */
    /* the lock-timeout watchdog of this dbenv (see store_env.c) */
    pthread_t watchdog;
    bool watchdog_running;
    bool watchdog_stop;
    pthread_mutex_t watchdog_lock;
    pthread_cond_t watchdog_wake;
    atomic_int writers;         /* STOREs not read-only: they checkpoint */
    int refs;
    unsigned generation;        /* bumped by every reopen */
    pthread_rwlock_t lock;      /* calls read-lock; reopen write-locks */
    STORE *stores;
    /* reopens after a panic (store_env.c, "Damage"): when the last was,
     * and how long a panic right after one holds off the next */
    time_t reopened_at;
    unsigned reopen_holdoff;
    /* replication (store_rep.c): all false without a replication section */
    bool rep;                   /* the environment is replicated */
    bool rep_pinned;            /* held open by a store_open that failed while in catch-up */
    atomic_bool rep_listener;   /* this process is the replication process */
    atomic_bool rep_master;     /* DB_EVENT_REP_MASTER seen last (replication process) */
    atomic_bool rep_synced;     /* caught up with a master (STARTUPDONE), or master */
    atomic_uint rep_perm_failed;    /* commits whose acknowledgements did not come */
};

/*
 * lookup-slots.db (store_index.c): one fixed-size record per bucket of
 * lookup.db, read by record number.  Its queue pages are small: a lookup
 * touches one of them.
 */
#define SLOT_FPS         24     /* 16-bit fingerprints a slot holds */
#define SLOT_BYTES       (2 + 2 * SLOT_FPS)
#define SLOT_PAGE_BYTES  4096
/* A slot's first byte: its fingerprints follow, or its bucket has more
 * than SLOT_FPS and lookup.db answers. */
enum slot_kind { SLOT_LIST = 1, SLOT_MORE = 2 };

/* How this handle reads lookup.db (store_index.c). */
struct store_index {
    bool ready;                 /* built: its "not suppressed" is the truth */
    bool slots;                 /* lookup-slots.db is complete: lookups read it first */
    unsigned bits;              /* bucket = the top bits of the hash */
    unsigned char key[SIPHASH_KEY_BYTES];
};

struct store {
    struct store_env *env;
    STORE *next;                /* in env->stores */
    int flags;
    uint32_t txn_flags;         /* DB_TXN_WRITE_NOSYNC for STORE_NOSYNC */
    DB *db[DBI_COUNT];
    struct store_index index;
};

struct store_txn {
    STORE *st;
    DB_TXN *tid;
    unsigned generation;
};

/* ---- errors (store_env.c) ------------------------------------------- */

/* Berkeley DB's own last message in this thread, added to our errors;
 * cleared before each call whose failure we report. */
extern _Thread_local char store_bdb_msg[256];

/*
 * Fill err for a failed Berkeley DB call: what we were doing, the store
 * directory, db_strerror and Berkeley DB's own message.  Returns -1, or
 * OP_PANIC when the environment must be reopened.
 */
int store_bdb_fail(const struct store_env *env, SUP_ERR *err, int ret, const char *what);

/* ---- the environment (store_env.c) ---------------------------------- */

/* Read-lock env for one call, reopening it first if it is down. */
int store_env_enter(struct store_env *env, unsigned *gen, SUP_ERR *err);
void store_env_leave(struct store_env *env);
/* Reopen env after a panic, unless someone did since generation seen_gen. */
int store_env_reopen(struct store_env *env, unsigned seen_gen, SUP_ERR *err);

/* ---- replication (store_rep.c) ------------------------------------ */

/* Before DB_ENV->open: the sites, ack policy, priority; adds DB_INIT_REP
 * to *open_flags.  Nothing without a replication section. */
int store_rep_configure(struct store_env *env, DB_ENV *dbenv, u_int32_t *open_flags, SUP_ERR *err);
/* After DB_ENV->open: repmgr_start, as the replication process or a
 * subordinate one. */
int store_rep_start(struct store_env *env, SUP_ERR *err);
/* This site is a replication client now (writes are refused). */
bool store_rep_is_client(const struct store_env *env);
/* err for a write Berkeley DB refused on a client: names the master. */
int store_rep_refused(const struct store_env *env, SUP_ERR *err, const char *what);
/* Nagle off on this process's replication connections (store_rep_tcp.c
 * says why); the watchdog calls it once a second. */
void store_rep_nodelay(void);
/* Before repmgr_start: the callback that applies replicas' batches
 * (store_ship.c).  A Berkeley DB error number. */
int store_ship_configure(DB_ENV *dbenv);

/* ---- running an operation (store_txn.c) ----------------------------- */

/*
 * One database operation: returns >= 0 (the result), -1 with err set, or
 * OP_PANIC.  store_run_op runs it inside the caller's transaction, or in
 * its own (writes) / none (reads), retrying deadlocks and a recovered
 * environment.
 */
typedef int (*store_op_fn)(STORE *st, DB_TXN *tid, void *arg, SUP_ERR *err);
int store_run_op(STORE *st, STORE_TXN *txn, bool writes, store_op_fn fn, void *arg,
                 SUP_ERR *err);

/* ---- batched walks (store_scan.c) ----------------------------------- */

typedef int (*scan_record_fn)(const unsigned char *key, size_t klen, const unsigned char *data,
                              size_t dlen, void *ctx, SUP_ERR *err);

/*
 * Walk keys from start (start_len 0: the first) that begin with its first
 * prefix_len bytes.  fn returns 0 to go on, > 0 to stop (returned), -1 on
 * error.
 */
int store_scan_range(STORE *st, STORE_TXN *txn, enum store_db dbi, const void *start,
                     size_t start_len, size_t prefix_len, scan_record_fn fn, void *ctx,
                     SUP_ERR *err);

/*
 * Open a cursor for a batched walk that resumes at `resume` (the first key
 * not done by the previous batch) or starts at the first key; key reads
 * into kbuf.  Returns the first get's flag in *how.
 */
int store_batch_cursor_open(STORE *st, DB_TXN *tid, int dbi, const unsigned char *resume,
                            size_t resume_len, DBC **c, DBT *key, DBT *data,
                            unsigned char *kbuf, size_t kbuf_cap, u_int32_t *how, SUP_ERR *err);

/* ---- the lookup index (store_index.c) ------------------------------- */

/*
 * After the databases are open: read how lookup.db is made; a writer
 * builds it first if it is not complete (a store from before it).
 */
int store_index_open(STORE *st, SUP_ERR *err);
/* 0: addr is certainly not in suppressions.db; 1: it may be (or the index
 * cannot say); -1 or OP_PANIC on error. */
int store_index_probe(STORE *st, DB_TXN *tid, const char *addr, SUP_ERR *err);
/* Both keys of one address at once (global_key, the address, and its
 * scoped_key: store_scope_key), one bucket read: bit 0 set when the global
 * key may be there, bit 1 when the scoped one may; -1 or OP_PANIC on error. */
int store_index_probe2(STORE *st, DB_TXN *tid, const char *global_key, const char *scoped_key,
                       SUP_ERR *err);
/* In the transaction that adds a new address to suppressions.db, or
 * deletes one from it. */
int store_index_add(STORE *st, DB_TXN *tid, const char *addr, size_t len, SUP_ERR *err);
int store_index_remove(STORE *st, DB_TXN *tid, const char *addr, size_t len, SUP_ERR *err);

/* ---- scopes (store_scope.c) ------------------------------------------ */

#define SCOPE_MARK '\001'      /* opens and closes the tenant of a scoped key */
#define SCOPE_KEY_MAX (2 + STORE_TENANT_MAX + ADDR_MAX + 1)

/* The suppressions.db key of addr in tenant's scope (NULL or "": global,
 * the address itself), NUL-terminated in key (SCOPE_KEY_MAX bytes);
 * returns its length. */
size_t store_scope_key(char *key, const char *tenant, const char *addr);
/* Take a key apart: the address (*addr, *alen) and the tenant (*tenant,
 * *tlen; 0 for the global scope).  -1 for a key of neither form. */
int store_scope_split(const unsigned char *key, size_t len, const unsigned char **addr,
                      size_t *alen, const unsigned char **tenant, size_t *tlen);
/* Fill entry->address and entry->tenant from a key; -1 if malformed. */
int store_scope_fill(STORE_ENTRY *entry, const unsigned char *key, size_t len);

/* ---- what one database's code lends another ------------------------- */

/* The entry under cursor c, read into key and data: if its record is of
 * an earlier version, write it again in the current one (store_entries.c;
 * the upgrade of store_index_open). */
int store_entry_upgrade(STORE *st, DBC *c, const DBT *key, const DBT *data, SUP_ERR *err);

/* A non-empty address of at most ADDR_MAX bytes (store_entries.c). */
int store_check_address(const char *addr, SUP_ERR *err);

/* An event ready to be written (store_timeline.c; an expired entry's purge
 * writes its "expired" event). */
struct event_arg {
    const STORE_EVENT *ev;
    const unsigned char *value;
    size_t len;
    int max_events;
};
int store_event_prepare(const STORE_EVENT *ev, struct event_arg *arg, unsigned char *buf,
                        size_t buflen, SUP_ERR *err);
int store_event_add_in(STORE *st, DB_TXN *tid, const struct event_arg *arg, SUP_ERR *err);

/*
 * Purge (store_purge.c): does this record go?  1 yes, 0 no, -1 error.
 * Each database's file answers for its own records; an expired entry
 * also records its "expired" event in tid.
 */
int store_entry_purgeable(STORE *st, DB_TXN *tid, const DBT *key, const DBT *data, time_t now,
                          SUP_ERR *err);
int store_event_purgeable(const DBT *key, time_t cutoff);
int store_seen_purgeable(const DBT *data, time_t cutoff);
int store_ledger_purgeable(const DBT *data, time_t cutoff);

/* ---- byte order ----------------------------------------------------- */

static inline void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static inline uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

static inline uint32_t get_be32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

static inline void put_be16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char) (v >> 8);
    p[1] = (unsigned char) v;
}

static inline uint16_t get_be16(const unsigned char *p)
{
    return (uint16_t) (((unsigned) p[0] << 8) | p[1]);
}

/* ---- DBTs ----------------------------------------------------------- */

/*
 * Input; DB_THREAD wants a memory flag on every key DBT, and with a key
 * comparator DB->get copies the key it found back into it: for a get the
 * key must be a writable copy (see dbt_key).
 */
static inline void dbt_in(DBT *dbt, const void *data, size_t len)
{
    memset(dbt, 0, sizeof(*dbt));
    dbt->data = (void *) data;
    dbt->size = dbt->ulen = (u_int32_t) len;
    dbt->flags = DB_DBT_USERMEM;
}

static inline void dbt_out(DBT *dbt, void *buf, size_t cap)
{
    memset(dbt, 0, sizeof(*dbt));
    dbt->data = buf;
    dbt->ulen = (u_int32_t) cap;
    dbt->flags = DB_DBT_USERMEM;
}

/* A get's key: copied into buf (at least KEY_MAX bytes), as DB->get writes it. */
static inline void dbt_key(DBT *dbt, unsigned char *buf, const char *key)
{
    size_t len = strnlen(key, KEY_MAX);

    memcpy(buf, key, len);
    dbt_in(dbt, buf, len);
}

/* A key holder that is both input (SET_RANGE) and output of a cursor. */
static inline void dbt_inout(DBT *dbt, void *buf, size_t len, size_t cap)
{
    dbt_out(dbt, buf, cap);
    dbt->size = (u_int32_t) len;
}

/* Data we do not want copied out. */
static inline void dbt_none(DBT *dbt)
{
    memset(dbt, 0, sizeof(*dbt));
    dbt->flags = DB_DBT_PARTIAL | DB_DBT_USERMEM;
}

#endif
