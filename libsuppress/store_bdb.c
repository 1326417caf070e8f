/*
 * store_bdb.c: the suppression store (store.h) on a Berkeley DB 5.3
 * transactional environment.  The milter, suppress-ingest and suppressctl
 * open the same directory at the same time, each through this file.
 *
 * Layout: four B-tree databases in the environment directory.
 *
 *   suppressions.db  address                          -> entry record
 *   events.db        address \0 be64(time) be32(seq)  -> event record
 *   counters.db      day \0 name                      -> be64 count
 *   seen.db          message key                      -> be64 time
 *
 * Entry and event values are versioned TLV records (store_record.c).
 *
 * Why a composite key for the timeline rather than DB_DUP|DB_DUPSORT: the
 * key sorts one address's events by time, so "events since T" is a single
 * DB_SET_RANGE to (address, T) instead of a walk through the duplicates;
 * the seq part lets several events share a second without comparing whole
 * values (a sorted duplicate set cannot hold two equal values, and sorting
 * by the encoded value would need a custom comparator); every event is an
 * ordinary record, so purge and the max-events trim delete with a plain
 * cursor, and a hot address's timeline is spread over leaf pages instead of
 * one off-page duplicate tree.  Times are stored with the sign bit flipped
 * so that memcmp order is time order.
 *
 * Concurrency.  DB_REGISTER tracks live processes with fcntl locks, which
 * belong to a process, so Berkeley DB allows one DB_ENV handle per process
 * and environment: handles are therefore shared.  Every store_open of the
 * same directory in one process gets its own STORE (its own DB handles,
 * read-only or not, sync or not) on one shared struct store_env, counted.
 * Each DB_ENV call happens under the env's read lock.  When a process dies
 * inside the environment, the next store_open runs recovery (DB_REGISTER +
 * DB_RECOVER), which panics the environment under the processes still
 * running: their calls fail with DB_RUNRECOVERY.  The first thread to see
 * that takes the write lock, closes and reopens the environment and every
 * STORE's databases on it, and the call is retried; a transaction begun
 * before is dead (its generation is old) and reports SUP_ERR_TEMP, so the
 * caller retries it like a deadlock.  That way a Ctrl-C'd suppressctl does
 * not leave a running milter failing every lookup.
 *
 * Locks: deadlocks are detected when a request blocks (DB_LOCK_DEFAULT);
 * a request waits at most LOCK_TIMEOUT_US, enforced by a watchdog thread
 * per process (Berkeley DB checks timeouts only when its detector runs).
 * store_lookup outside a transaction reads uncommitted data, so the RCPT
 * path never waits for a writer.
 *
 * Functions called with a NULL STORE_TXN run in their own transaction and
 * retry a deadlock or lock timeout a few times.  Iterations read in
 * batches and call back with no lock held, so a slow consumer (a pipe to a
 * pager) never blocks the milter, and a deadlock is retried from the last
 * key delivered.
 */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_record.h"

/*
 * Sizes.  The cache is shared by all processes (a region file in the store
 * directory, sparse: only pages used take disk and count in a process's
 * RSS) and fixed when the environment is created.  An entry takes about
 * 440 bytes of database (a ~200-byte record, B-tree overhead, leaves ~2/3
 * full after random inserts): 1M entries are ~440 MB, 10M ~4.4 GB.
 * Measured with tests/bench/store-bench on 1M entries: a 64 MB cache gives
 * ~27k hit lookups/s (each lookup reads its leaf page through the kernel
 * and evicts another), 256 MB ~80-100k/s, and a cache holding everything
 * is bounded by the B-tree search itself.  256 MB keeps the internal pages
 * of even a 10M-entry store cached (about 1% of it) plus a good share of
 * the leaves, so every lookup costs at most one leaf read, at a price in
 * memory (the milter's RSS grows towards the cache size as it is used)
 * that a host with millions of suppressions can pay.  Override it (and
 * any other setting) with a DB_CONFIG file in the store directory, e.g.
 * "set_cachesize 1 0 1" for 1 GB, read by Berkeley DB when it creates the
 * environment (after all processes closed it, or at the next recovery).
 */
#define CACHE_BYTES      (256u * 1024 * 1024)
#define LOG_BUFFER_BYTES (1u * 1024 * 1024)    /* NOSYNC commits collect here */
#define LOG_FILE_BYTES   (16u * 1024 * 1024)
#define PAGE_BYTES       8192   /* an entry with a 2 KB response stays on its leaf page */
#define LOCK_TIMEOUT_US  (2 * 1000000)          /* never wait on a lock longer than this */
#define TXN_TIMEOUT_US   (10 * 1000000)
#define EXPIRE_EVERY_MS  200    /* how often the watchdog expires timed-out lock waits */
#define MAX_LOCKS        50000
#define MAX_LOCKERS      5000
#define MAX_TXNS         1000
#define CHECKPOINT_KB    1024   /* store_close checkpoints when this much log is new */
#define AUTO_CHECKPOINT_KB  (32 * 1024)     /* the watchdog checkpoints after this much */
#define AUTO_CHECKPOINT_MIN 5               /* ... or this many minutes with new log */
#define AUTO_CHECKPOINT_TICKS 25            /* watchdog ticks between the checks */

#define AUTO_ATTEMPTS    6      /* tries of an auto-commit call on deadlock */
#define SEEN_KEY_MAX     1000
#define COUNTER_NAME_MAX 64
#define DAY_LEN          10     /* YYYY-MM-DD */
#define EVENT_KEY_MAX    (ADDR_MAX + 1 + 8 + 4)
#define KEY_MAX          (SEEN_KEY_MAX + 16)
#define SCAN_RECORDS     512    /* records read per batch of an iteration */
#define SCAN_BYTES       (1024 * 1024)
#define PURGE_SCAN       2000   /* records examined per purge transaction */
#define PURGE_DELETE     500    /* records removed per purge transaction */

#define OP_PANIC         (-2)   /* the environment needs reopening */

enum store_db {
    DBI_ENTRIES,
    DBI_EVENTS,
    DBI_COUNTERS,
    DBI_SEEN,
    DBI_COUNT
};

static const char *const db_files[DBI_COUNT] = {
    [DBI_ENTRIES] = "suppressions.db",
    [DBI_EVENTS] = "events.db",
    [DBI_COUNTERS] = "counters.db",
    [DBI_SEEN] = "seen.db",
};

struct store_env {
    struct store_env *next;
    dev_t dev;
    ino_t ino;
    pid_t pid;                  /* a forked child must not use its parent's */
    char *dir;
    DB_ENV *dbenv;              /* NULL after a failed reopen */
    /* the lock-timeout watchdog of this dbenv (see watchdog_main) */
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
};

struct store {
    struct store_env *env;
    STORE *next;                /* in env->stores */
    int flags;
    uint32_t txn_flags;         /* DB_TXN_WRITE_NOSYNC for STORE_NOSYNC */
    DB *db[DBI_COUNT];
};

struct store_txn {
    STORE *st;
    DB_TXN *tid;
    unsigned generation;
};

static pthread_mutex_t envs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_env *envs;

/* Berkeley DB's own last message in this thread, added to our errors. */
static _Thread_local char bdb_msg[256];

/* ---- errors --------------------------------------------------------- */

static void bdb_errcall(const DB_ENV *dbenv, const char *pfx, const char *msg)
{
    (void) dbenv;
    (void) pfx;
    store_copy_text(bdb_msg, sizeof(bdb_msg), msg);
}

static void bdb_msgcall(const DB_ENV *dbenv, const char *msg)
{
    (void) dbenv;
    (void) msg;                 /* statistics and verbose output: not wanted */
}

static enum sup_err_class bdb_class(int ret)
{
    switch (ret) {
    case DB_LOCK_DEADLOCK:
    case DB_LOCK_NOTGRANTED:
    case DB_REP_LOCKOUT:
        return SUP_ERR_TEMP;
    case ENOENT:
        return SUP_ERR_NOTFOUND;
    case EACCES:
    case EPERM:
    case EROFS:
        return SUP_ERR_NOPERM;
    default:
        return SUP_ERR_IO;
    }
}

/*
 * Fill err for a failed Berkeley DB call: what we were doing, the store
 * directory, db_strerror and Berkeley DB's own message.  Returns -1, or
 * OP_PANIC when the environment must be reopened.
 */
static int bdb_fail(const struct store_env *env, SUP_ERR *err, int ret, const char *what)
{
    enum sup_err_class cls = bdb_class(ret);

    if (cls == SUP_ERR_TEMP)
        sup_err_set(err, cls, "store %s is busy (%s: %s); try again", env->dir, what,
                    db_strerror(ret));
    else
        sup_err_set(err, cls, "store %s: %s: %s%s%s%s", env->dir, what, db_strerror(ret),
                    bdb_msg[0] ? " (" : "", bdb_msg, bdb_msg[0] ? ")" : "");
    return ret == DB_RUNRECOVERY ? OP_PANIC : -1;
}

static int check_address(const char *addr, SUP_ERR *err)
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

static void copy_err(SUP_ERR *dst, const SUP_ERR *src)
{
    if (dst != NULL && dst != src)
        *dst = *src;
}

/* ---- byte order ----------------------------------------------------- */

static void put_be64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static uint64_t get_be64(const unsigned char *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) (v >> 24);
    p[1] = (unsigned char) (v >> 16);
    p[2] = (unsigned char) (v >> 8);
    p[3] = (unsigned char) v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* Flip the sign bit so that unsigned byte order is signed time order. */
static uint64_t time_to_key(time_t t)
{
    return (uint64_t) (int64_t) t ^ UINT64_C(0x8000000000000000);
}

static time_t key_to_time(uint64_t k)
{
    return (time_t) (int64_t) (k ^ UINT64_C(0x8000000000000000));
}

/*
 * Input; DB_THREAD wants a memory flag on every key DBT, and with a key
 * comparator DB->get copies the key it found back into it: for a get the
 * key must be a writable copy (see dbt_key).
 */
static void dbt_in(DBT *dbt, const void *data, size_t len)
{
    memset(dbt, 0, sizeof(*dbt));
    dbt->data = (void *) data;
    dbt->size = dbt->ulen = (u_int32_t) len;
    dbt->flags = DB_DBT_USERMEM;
}

static void dbt_out(DBT *dbt, void *buf, size_t cap)
{
    memset(dbt, 0, sizeof(*dbt));
    dbt->data = buf;
    dbt->ulen = (u_int32_t) cap;
    dbt->flags = DB_DBT_USERMEM;
}

/* A get's key: copied into buf (at least KEY_MAX bytes), as DB->get writes it. */
static void dbt_key(DBT *dbt, unsigned char *buf, const char *key)
{
    size_t len = strnlen(key, KEY_MAX);

    memcpy(buf, key, len);
    dbt_in(dbt, buf, len);
}

/* A key holder that is both input (SET_RANGE) and output of a cursor. */
static void dbt_inout(DBT *dbt, void *buf, size_t len, size_t cap)
{
    dbt_out(dbt, buf, cap);
    dbt->size = (u_int32_t) len;
}

/* Data we do not want copied out. */
static void dbt_none(DBT *dbt)
{
    memset(dbt, 0, sizeof(*dbt));
    dbt->flags = DB_DBT_PARTIAL | DB_DBT_USERMEM;
}

/* "address \0": the start of one address's events. */
static size_t event_prefix(unsigned char *key, const char *addr)
{
    size_t len = strlen(addr);

    memcpy(key, addr, len);
    key[len] = '\0';
    return len + 1;
}

static size_t event_key(unsigned char *key, const char *addr, time_t when, uint32_t seq)
{
    size_t len = event_prefix(key, addr);

    put_be64(key + len, time_to_key(when));
    put_be32(key + len + 8, seq);
    return len + 12;
}

/* Split an event key; -1 if it is not one. */
static int parse_event_key(const unsigned char *key, size_t len, size_t *addrlen, time_t *when)
{
    const unsigned char *nul = memchr(key, '\0', len);

    if (nul == NULL || (size_t) (nul - key) + 13 != len || nul == key)
        return -1;
    *addrlen = (size_t) (nul - key);
    *when = key_to_time(get_be64(nul + 1));
    return 0;
}

/* ---- the environment ------------------------------------------------ */

/*
 * Region files and the registry are Berkeley DB's: whoever created them,
 * the milter's group must be able to write them, whatever the umask.
 * Database files get 0660 when this open created them.
 */
static void fix_modes(const struct store_env *env, const bool existed[DBI_COUNT])
{
    static const char *const region_files[] = {
        "__db.register", "__db.001", "__db.002", "__db.003", "__db.004", "__db.005", "__db.006",
    };
    char path[PATH_MAX];
    struct stat sb;

    for (size_t i = 0; i < sizeof(region_files) / sizeof(region_files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", env->dir, region_files[i]);
        if (stat(path, &sb) == 0 && sb.st_uid == geteuid() && (sb.st_mode & 0660) != 0660)
            (void) chmod(path, (sb.st_mode & 07777) | 0660);
    }
    for (int i = 0; existed != NULL && i < DBI_COUNT; i++) {
        snprintf(path, sizeof(path), "%s/%s", env->dir, db_files[i]);
        if (!existed[i] && stat(path, &sb) == 0 && sb.st_uid == geteuid())
            (void) chmod(path, 0660);
    }
}

/*
 * Berkeley DB enforces lock timeouts only when its deadlock detector runs:
 * automatic detection runs it once, when a request first blocks, so a
 * request still waiting when its timeout passes would wait for ever unless
 * someone runs the detector again.  Each process therefore runs it a few
 * times a second for its environment handle (DB_LOCK_EXPIRE: reject the
 * requests whose timeout passed, nothing else; cheap when nothing waits).
 * The same thread checkpoints when enough log was written (or enough time
 * passed), so that log files can go (DB_LOG_AUTO_REMOVE) even while a long
 * import runs, and recovery after a crash stays short; only a process with
 * a writable STORE does, as a checkpoint writes database pages.
 * The thread blocks every signal: the programs handle signals in their
 * own threads.
 */
static void *watchdog_main(void *p)
{
    struct store_env *env = p;
    DB_ENV *dbenv = env->dbenv;
    struct timespec until;
    unsigned ticks = 0;

    pthread_mutex_lock(&env->watchdog_lock);
    while (!env->watchdog_stop) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += EXPIRE_EVERY_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&env->watchdog_wake, &env->watchdog_lock, &until);
        if (env->watchdog_stop)
            break;
        pthread_mutex_unlock(&env->watchdog_lock);
        (void) dbenv->lock_detect(dbenv, 0, DB_LOCK_EXPIRE, NULL);
        if (++ticks % AUTO_CHECKPOINT_TICKS == 0 && atomic_load(&env->writers) > 0)
            (void) dbenv->txn_checkpoint(dbenv, AUTO_CHECKPOINT_KB, AUTO_CHECKPOINT_MIN, 0);
        pthread_mutex_lock(&env->watchdog_lock);
    }
    pthread_mutex_unlock(&env->watchdog_lock);
    return NULL;
}

static int watchdog_start(struct store_env *env, SUP_ERR *err)
{
    sigset_t all, old;
    int rc;

    env->watchdog_stop = false;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&env->watchdog, NULL, watchdog_main, env);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return sup_err_set(err, SUP_ERR_IO, "store %s: cannot start the lock watchdog: %s",
                           env->dir, strerror(rc));
    env->watchdog_running = true;
    return 0;
}

static void watchdog_stop(struct store_env *env)
{
    if (!env->watchdog_running)
        return;
    pthread_mutex_lock(&env->watchdog_lock);
    env->watchdog_stop = true;
    pthread_cond_signal(&env->watchdog_wake);
    pthread_mutex_unlock(&env->watchdog_lock);
    pthread_join(env->watchdog, NULL);
    env->watchdog_running = false;
}

/* Close env's DB_ENV handle (its databases are closed already). */
static void env_close_dbenv(struct store_env *env)
{
    watchdog_stop(env);
    if (env->dbenv != NULL)
        (void) env->dbenv->close(env->dbenv, 0);
    env->dbenv = NULL;
}

static int env_open_dbenv(struct store_env *env, SUP_ERR *err)
{
    DB_ENV *dbenv;
    u_int32_t flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL
        | DB_THREAD | DB_REGISTER | DB_RECOVER;
    int ret;

    bdb_msg[0] = '\0';
    if ((ret = db_env_create(&dbenv, 0)) != 0)
        return bdb_fail(env, err, ret, "cannot create an environment handle");
    dbenv->set_errcall(dbenv, bdb_errcall);
    dbenv->set_msgcall(dbenv, bdb_msgcall);
    if ((ret = dbenv->set_cachesize(dbenv, 0, CACHE_BYTES, 1)) != 0
        || (ret = dbenv->set_lg_bsize(dbenv, LOG_BUFFER_BYTES)) != 0
        || (ret = dbenv->set_lg_max(dbenv, LOG_FILE_BYTES)) != 0
        || (ret = dbenv->set_lg_filemode(dbenv, 0660)) != 0
        || (ret = dbenv->log_set_config(dbenv, DB_LOG_AUTO_REMOVE, 1)) != 0
        || (ret = dbenv->set_lk_detect(dbenv, DB_LOCK_DEFAULT)) != 0
        || (ret = dbenv->set_lk_max_locks(dbenv, MAX_LOCKS)) != 0
        || (ret = dbenv->set_lk_max_objects(dbenv, MAX_LOCKS)) != 0
        || (ret = dbenv->set_lk_max_lockers(dbenv, MAX_LOCKERS)) != 0
        || (ret = dbenv->set_tx_max(dbenv, MAX_TXNS)) != 0
        || (ret = dbenv->set_timeout(dbenv, LOCK_TIMEOUT_US, DB_SET_LOCK_TIMEOUT)) != 0
        || (ret = dbenv->set_timeout(dbenv, TXN_TIMEOUT_US, DB_SET_TXN_TIMEOUT)) != 0) {
        dbenv->close(dbenv, 0);
        return bdb_fail(env, err, ret, "cannot configure the environment");
    }
    if ((ret = dbenv->open(dbenv, env->dir, flags, 0660)) != 0) {
        (void) bdb_fail(env, err, ret, "cannot open the environment");
        dbenv->close(dbenv, 0);
        return -1;
    }
    /* Joining an environment someone else created: use our timeouts too. */
    (void) dbenv->set_timeout(dbenv, LOCK_TIMEOUT_US, DB_SET_LOCK_TIMEOUT);
    (void) dbenv->set_timeout(dbenv, TXN_TIMEOUT_US, DB_SET_TXN_TIMEOUT);
    env->dbenv = dbenv;
    if (watchdog_start(env, err) < 0) {
        env_close_dbenv(env);
        return -1;
    }
    return 0;
}

/*
 * Key order: the same as Berkeley DB's default (unsigned bytes, a prefix
 * first), so files written with either agree; memcmp is several times
 * faster than the default byte loop, and comparisons are a fifth of a
 * lookup's time.
 */
static int key_compare(DB *db, const DBT *a, const DBT *b)
{
    size_t n = a->size < b->size ? a->size : b->size;
    int c = memcmp(a->data, b->data, n);

    (void) db;
    if (c != 0)
        return c;
    return a->size < b->size ? -1 : a->size > b->size;
}

/* Open st's databases in env (env write-locked or not yet shared). */
static int store_open_dbs(STORE *st, SUP_ERR *err)
{
    struct store_env *env = st->env;
    bool rdonly = (st->flags & STORE_RDONLY) != 0;
    bool existed[DBI_COUNT];
    char path[PATH_MAX];
    int ret = 0;

    for (int i = 0; i < DBI_COUNT; i++) {
        snprintf(path, sizeof(path), "%s/%s", env->dir, db_files[i]);
        existed[i] = access(path, F_OK) == 0;
    }
    for (int i = 0; i < DBI_COUNT; i++) {
        DB *db;
        u_int32_t flags = DB_THREAD | DB_AUTO_COMMIT | (rdonly ? DB_RDONLY : DB_CREATE)
            | (i == DBI_ENTRIES ? DB_READ_UNCOMMITTED : 0);

        bdb_msg[0] = '\0';
        if ((ret = db_create(&db, env->dbenv, 0)) != 0)
            return bdb_fail(env, err, ret, "cannot create a database handle");
        if (i == DBI_ENTRIES || i == DBI_EVENTS)
            (void) db->set_pagesize(db, PAGE_BYTES);
        (void) db->set_bt_compare(db, key_compare);
        for (int attempt = 1; attempt <= AUTO_ATTEMPTS; attempt++) {
            ret = db->open(db, NULL, db_files[i], NULL, DB_BTREE, flags, 0660);
            if (bdb_class(ret) != SUP_ERR_TEMP)
                break;
            store_retry_delay(attempt);
        }
        if (ret != 0) {
            int rc;

            db->close(db, 0);
            if (ret == ENOENT && rdonly)
                rc = sup_err_set(err, SUP_ERR_NOTFOUND,
                                 "store %s has no %s: nothing was ever written to it",
                                 env->dir, db_files[i]);
            else
                rc = bdb_fail(env, err, ret, db_files[i]);
            return rc;
        }
        st->db[i] = db;
    }
    fix_modes(env, existed);
    return 0;
}

static void store_close_dbs(STORE *st)
{
    for (int i = 0; i < DBI_COUNT; i++) {
        if (st->db[i] != NULL)
            (void) st->db[i]->close(st->db[i], 0);
        st->db[i] = NULL;
    }
}

/*
 * Another process ran recovery (or a reopen failed before): close
 * everything and open it again.  seen_gen is the generation the caller
 * used; if someone already reopened since, there is nothing to do.
 */
static int env_reopen(struct store_env *env, unsigned seen_gen, SUP_ERR *err)
{
    int rc = 0;

    pthread_rwlock_wrlock(&env->lock);
    if (env->generation == seen_gen || env->dbenv == NULL) {
        for (STORE *s = env->stores; s != NULL; s = s->next)
            store_close_dbs(s);
        env_close_dbenv(env);
        env->generation++;
        rc = env_open_dbenv(env, err);
        for (STORE *s = env->stores; rc == 0 && s != NULL; s = s->next)
            rc = store_open_dbs(s, err);
        if (rc != 0) {
            for (STORE *s = env->stores; s != NULL; s = s->next)
                store_close_dbs(s);
            env_close_dbenv(env);
            rc = -1;
        }
    }
    pthread_rwlock_unlock(&env->lock);
    return rc;
}

/* Read-lock env for one call, reopening it first if it is down. */
static int env_enter(struct store_env *env, unsigned *gen, SUP_ERR *err)
{
    for (int tries = 0;; tries++) {
        pthread_rwlock_rdlock(&env->lock);
        if (env->dbenv != NULL) {
            *gen = env->generation;
            return 0;
        }
        *gen = env->generation;
        pthread_rwlock_unlock(&env->lock);
        if (tries > 0)
            return sup_err_set(err, SUP_ERR_IO, "store %s: the environment could not be reopened",
                               env->dir);
        if (env_reopen(env, *gen, err) < 0)
            return -1;
    }
}

static void env_leave(struct store_env *env)
{
    pthread_rwlock_unlock(&env->lock);
}

/* The directory must exist (or be created); a clear error if not. */
static int check_directory(const char *dir, int flags, struct stat *sb, SUP_ERR *err)
{
    if (stat(dir, sb) < 0) {
        if (errno == ENOENT && (flags & STORE_CREATE)) {
            if (mkdir(dir, 0750) < 0 && errno != EEXIST)
                return sup_err_set(err, errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                                   "cannot create store directory %s: %s", dir, strerror(errno));
            (void) chmod(dir, 0750);
            if (stat(dir, sb) < 0)
                return sup_err_set(err, SUP_ERR_IO, "store directory %s: %s", dir,
                                   strerror(errno));
        } else if (errno == ENOENT) {
            return sup_err_set(err, SUP_ERR_NOTFOUND,
                               "store directory %s does not exist: run a command that writes"
                               " to the store (suppressctl add, suppress-ingest) to create it,"
                               " or check `store` in the config", dir);
        } else {
            return sup_err_set(err, errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                               "store directory %s: %s", dir, strerror(errno));
        }
    }
    if (!S_ISDIR(sb->st_mode))
        return sup_err_set(err, SUP_ERR_CONFIG, "store %s is not a directory", dir);
    return 0;
}

/* Find this process's env for the directory, or open one; envs_lock held. */
static struct store_env *env_get(const char *dir, const struct stat *sb, SUP_ERR *err)
{
    struct store_env *env;

    for (env = envs; env != NULL; env = env->next)
        if (env->dev == sb->st_dev && env->ino == sb->st_ino && env->pid == getpid())
            break;
    if (env != NULL) {
        env->refs++;
        return env;
    }
    if ((env = calloc(1, sizeof(*env))) == NULL || (env->dir = strdup(dir)) == NULL) {
        free(env);
        sup_err_set(err, SUP_ERR_IO, "store %s: out of memory", dir);
        return NULL;
    }
    env->dev = sb->st_dev;
    env->ino = sb->st_ino;
    env->pid = getpid();
    env->refs = 1;
    pthread_rwlock_init(&env->lock, NULL);
    pthread_mutex_init(&env->watchdog_lock, NULL);
    pthread_cond_init(&env->watchdog_wake, NULL);
    if (env_open_dbenv(env, err) != 0) {
        pthread_cond_destroy(&env->watchdog_wake);
        pthread_mutex_destroy(&env->watchdog_lock);
        pthread_rwlock_destroy(&env->lock);
        free(env->dir);
        free(env);
        return NULL;
    }
    env->next = envs;
    envs = env;
    return env;
}

/* Drop one reference; envs_lock held. */
static void env_put(struct store_env *env)
{
    struct store_env **pp;

    if (--env->refs > 0)
        return;
    for (pp = &envs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == env) {
            *pp = env->next;
            break;
        }
    }
    env_close_dbenv(env);
    pthread_cond_destroy(&env->watchdog_wake);
    pthread_mutex_destroy(&env->watchdog_lock);
    pthread_rwlock_destroy(&env->lock);
    free(env->dir);
    free(env);
}

int store_open(const char *dir, int flags, STORE **out, SUP_ERR *err)
{
    struct stat sb;
    struct store_env *env;
    STORE *st;
    int rc;

    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return sup_err_set(err, SUP_ERR_CONFIG, "no store directory configured");
    if (check_directory(dir, flags, &sb, err) < 0)
        return -1;
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "store %s: out of memory", dir);
    st->flags = flags;
    st->txn_flags = (flags & STORE_NOSYNC) ? DB_TXN_WRITE_NOSYNC : 0;

    pthread_mutex_lock(&envs_lock);
    if ((env = env_get(dir, &sb, err)) == NULL) {
        pthread_mutex_unlock(&envs_lock);
        free(st);
        return -1;
    }
    st->env = env;
    pthread_rwlock_wrlock(&env->lock);
    rc = env->dbenv != NULL ? store_open_dbs(st, err)
        : sup_err_set(err, SUP_ERR_IO, "store %s: environment unavailable", dir);
    if (rc == 0) {
        st->next = env->stores;
        env->stores = st;
        if (!(flags & STORE_RDONLY))
            atomic_fetch_add(&env->writers, 1);
    } else {
        store_close_dbs(st);
    }
    pthread_rwlock_unlock(&env->lock);
    if (rc != 0) {
        env_put(env);
        pthread_mutex_unlock(&envs_lock);
        free(st);
        return -1;
    }
    pthread_mutex_unlock(&envs_lock);
    *out = st;
    return 0;
}

int store_close(STORE *st, SUP_ERR *err)
{
    struct store_env *env;
    int rc = 0;

    if (st == NULL)
        return 0;
    env = st->env;
    if (env->pid != getpid()) {
        /* Inherited through fork: the handles are the parent's to close. */
        free(st);
        return 0;
    }
    pthread_mutex_lock(&envs_lock);
    pthread_rwlock_wrlock(&env->lock);
    if (env->dbenv != NULL && !(st->flags & STORE_RDONLY)) {
        int ret;

        bdb_msg[0] = '\0';
        /* Make NOSYNC commits durable, and keep the log from growing. */
        if ((ret = env->dbenv->log_flush(env->dbenv, NULL)) != 0
            || (ret = env->dbenv->txn_checkpoint(env->dbenv, CHECKPOINT_KB, 0, 0)) != 0) {
            (void) bdb_fail(env, err, ret, "closing");
            rc = -1;
        }
    }
    for (STORE **pp = &env->stores; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == st) {
            *pp = st->next;
            break;
        }
    }
    if (!(st->flags & STORE_RDONLY))
        atomic_fetch_sub(&env->writers, 1);
    store_close_dbs(st);
    pthread_rwlock_unlock(&env->lock);
    env_put(env);
    pthread_mutex_unlock(&envs_lock);
    free(st);
    return rc;
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
        if (env_enter(env, &gen, &e) < 0)
            break;
        bdb_msg[0] = '\0';
        ret = env->dbenv->txn_begin(env->dbenv, NULL, &t->tid, st->txn_flags);
        env_leave(env);
        if (ret == 0) {
            t->st = st;
            t->generation = gen;
            *txn = t;
            return 0;
        }
        if (bdb_fail(env, &e, ret, "cannot begin a transaction") == OP_PANIC && attempt < 3
            && env_reopen(env, gen, &e) == 0)
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
    if (env_enter(env, &gen, err) < 0) {
        free(txn);
        return -1;
    }
    if (gen != txn->generation) {
        env_leave(env);
        rc = stale_txn(txn->st, err);
        free(txn);
        return rc;
    }
    bdb_msg[0] = '\0';
    ret = txn->tid->commit(txn->tid, 0);
    env_leave(env);
    if (ret != 0 && bdb_fail(env, err, ret, "cannot commit") == OP_PANIC) {
        env_reopen(env, gen, NULL);
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
    if (env->pid == getpid() && env_enter(env, &gen, NULL) == 0) {
        if (gen == txn->generation)
            (void) txn->tid->abort(txn->tid);
        env_leave(env);
    }
    free(txn);
}

/*
 * Run one operation: inside the caller's transaction, or in its own
 * (writes) / none (reads), retrying deadlocks and a recovered environment.
 * fn returns >= 0 (the result), -1 with err set, or OP_PANIC.
 */
typedef int (*store_op_fn)(STORE *st, DB_TXN *tid, void *arg, SUP_ERR *err);

static int run_op(STORE *st, STORE_TXN *txn, bool writes, store_op_fn fn, void *arg,
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
        if (env_enter(env, &gen, &e) < 0)
            break;
        bdb_msg[0] = '\0';
        if (txn != NULL) {
            rc = gen == txn->generation ? fn(st, txn->tid, arg, &e) : stale_txn(st, &e);
            env_leave(env);
            if (rc == OP_PANIC) {
                env_reopen(env, gen, NULL);
                rc = stale_txn(st, &e);
            }
            if (rc >= 0)
                return rc;
            break;
        }
        DB_TXN *tid = NULL;

        ret = writes ? env->dbenv->txn_begin(env->dbenv, NULL, &tid, st->txn_flags) : 0;
        if (ret != 0) {
            rc = bdb_fail(env, &e, ret, "cannot begin a transaction");
        } else {
            rc = fn(st, tid, arg, &e);
            if (tid != NULL && rc >= 0) {
                if ((ret = tid->commit(tid, 0)) != 0)
                    rc = bdb_fail(env, &e, ret, "cannot commit");
            } else if (tid != NULL) {
                (void) tid->abort(tid);
            }
        }
        env_leave(env);
        if (rc >= 0)
            return rc;
        if (attempt >= AUTO_ATTEMPTS)
            break;
        if (rc == OP_PANIC) {
            if (env_reopen(env, gen, &e) < 0)
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

/* ---- suppressions --------------------------------------------------- */

struct get_arg {
    const char *addr;
    STORE_ENTRY *entry;
};

/* One DB->get into a stack buffer: the milter's RCPT path. */
static int op_get(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct get_arg *arg = argp;
    unsigned char buf[STORE_RECORD_MAX], kbuf[KEY_MAX];
    DBT key, data;
    int ret;

    dbt_key(&key, kbuf, arg->addr);
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
        return bdb_fail(st->env, err, ret, arg->addr);
    if (store_record_decode_entry(buf, data.size, arg->entry, err) < 0) {
        sup_err_prefix(err, "store %s: %s", st->env->dir, arg->addr);
        return -1;
    }
    store_copy_text(arg->entry->address, sizeof(arg->entry->address), arg->addr);
    return 1;
}

int store_get(STORE *st, STORE_TXN *txn, const char *addr, STORE_ENTRY *entry, SUP_ERR *err)
{
    STORE_ENTRY local;
    struct get_arg arg = { addr, entry != NULL ? entry : &local };

    if (check_address(addr, err) < 0)
        return -1;
    return run_op(st, txn, false, op_get, &arg, err);
}

int store_lookup(STORE *st, STORE_TXN *txn, const char *addr, time_t now, STORE_ENTRY *entry,
                 SUP_ERR *err)
{
    STORE_ENTRY local;
    STORE_ENTRY *e = entry != NULL ? entry : &local;
    int rc = store_get(st, txn, addr, e, err);

    if (rc == 1 && e->expires != 0 && e->expires <= now)
        return 0;
    return rc;
}

static int valid_reason(enum store_reason r)
{
    return r >= STORE_REASON_HARD_BOUNCE && r <= STORE_REASON_MANUAL;
}

struct put_arg {
    const STORE_ENTRY *entry;
    const unsigned char *value;
    size_t len;
};

static int op_put(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct put_arg *arg = argp;
    DBT key, data;
    int ret;

    dbt_in(&key, arg->entry->address, strlen(arg->entry->address));
    dbt_in(&data, arg->value, arg->len);
    if ((ret = st->db[DBI_ENTRIES]->put(st->db[DBI_ENTRIES], tid, &key, &data, 0)) != 0)
        return bdb_fail(st->env, err, ret, arg->entry->address);
    return 0;
}

int store_put(STORE *st, STORE_TXN *txn, const STORE_ENTRY *entry, SUP_ERR *err)
{
    unsigned char buf[STORE_RECORD_MAX];
    struct put_arg arg = { entry, buf, 0 };

    if (check_address(entry->address, err) < 0)
        return -1;
    if (!valid_reason(entry->reason))
        return sup_err_set(err, SUP_ERR_INPUT, "%s: invalid suppression reason %d",
                           entry->address, (int) entry->reason);
    if (store_record_encode_entry(entry, buf, sizeof(buf), &arg.len, err) < 0)
        return -1;
    return run_op(st, txn, true, op_put, &arg, err);
}

static int op_delete(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    const char *addr = argp;
    DBT key;
    int ret;

    dbt_in(&key, addr, strlen(addr));
    ret = st->db[DBI_ENTRIES]->del(st->db[DBI_ENTRIES], tid, &key, 0);
    if (ret == DB_NOTFOUND)
        return 0;
    if (ret != 0)
        return bdb_fail(st->env, err, ret, addr);
    return 1;
}

int store_delete(STORE *st, STORE_TXN *txn, const char *addr, SUP_ERR *err)
{
    if (check_address(addr, err) < 0)
        return -1;
    return run_op(st, txn, true, op_delete, (void *) addr, err);
}

/* ---- batched iteration ---------------------------------------------- */

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
static int batch_cursor_open(STORE *st, DB_TXN *tid, int dbi, const unsigned char *resume,
                             size_t resume_len, DBC **c, DBT *key, DBT *data,
                             unsigned char *kbuf, size_t kbuf_cap, u_int32_t *how, SUP_ERR *err)
{
    int ret;

    if ((ret = st->db[dbi]->cursor(st->db[dbi], tid, c, 0)) != 0)
        return bdb_fail(st->env, err, ret, db_files[dbi]);
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
    if (batch_cursor_open(st, tid, sc->dbi, sc->resume, sc->resume_len, &c, &key, &data, kbuf,
                          sizeof(kbuf), &how, err) < 0)
        return -1;
    for (;;) {
        ret = c->get(c, &key, &data, how);
        how = DB_NEXT;
        if (ret == DB_NOTFOUND) {
            sc->done = true;
            break;
        }
        if (ret != 0) {
            rc = bdb_fail(st->env, err, ret, db_files[sc->dbi]);
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
        rc = bdb_fail(st->env, err, ret, db_files[sc->dbi]);
    return rc;
}

typedef int (*scan_record_fn)(const unsigned char *key, size_t klen, const unsigned char *data,
                              size_t dlen, void *ctx, SUP_ERR *err);

/*
 * Walk keys from start (start_len 0: the first) that begin with its first
 * prefix_len bytes.  fn returns 0 to go on, > 0 to stop (returned), -1 on
 * error.
 */
static int scan_range(STORE *st, STORE_TXN *txn, enum store_db dbi, const void *start,
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
        if ((rc = run_op(st, txn, false, op_scan_batch, sc, err)) < 0)
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

struct entry_iter {
    store_entry_fn fn;
    void *ctx;
    STORE_ENTRY entry;
};

static int deliver_entry(const unsigned char *key, size_t klen, const unsigned char *data,
                         size_t dlen, void *ctxp, SUP_ERR *err)
{
    struct entry_iter *it = ctxp;

    if (store_record_decode_entry(data, dlen, &it->entry, err) < 0) {
        sup_err_prefix(err, "%.*s", (int) (klen > ADDR_MAX ? ADDR_MAX : klen), key);
        return -1;
    }
    store_copy_bytes(it->entry.address, sizeof(it->entry.address), (const char *) key, klen);
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
    rc = scan_range(st, NULL, DBI_ENTRIES, "", 0, 0, deliver_entry, it, err);
    free(it);
    return rc;
}

/* ---- timeline ------------------------------------------------------- */

static int valid_event_type(enum store_event_type t)
{
    return t >= STORE_EV_HARD_BOUNCE && t <= STORE_EV_IGNORED;
}

/* The next free seq for (address, when): one more than the last used. */
static int next_seq(STORE *st, DBC *c, const unsigned char *prefix, size_t plen, time_t when,
                    uint32_t *seq, SUP_ERR *err)
{
    unsigned char kbuf[KEY_MAX];
    DBT key, data;
    int ret;

    memcpy(kbuf, prefix, plen);
    put_be64(kbuf + plen, time_to_key(when));
    put_be32(kbuf + plen + 8, UINT32_MAX);
    dbt_inout(&key, kbuf, plen + 12, sizeof(kbuf));
    dbt_none(&data);
    ret = c->get(c, &key, &data, DB_SET_RANGE | DB_RMW);
    if (ret == 0)
        ret = c->get(c, &key, &data, DB_PREV | DB_RMW);
    else if (ret == DB_NOTFOUND)
        ret = c->get(c, &key, &data, DB_LAST | DB_RMW);
    *seq = 0;
    if (ret == DB_NOTFOUND)
        return 0;
    if (ret != 0)
        return bdb_fail(st->env, err, ret, "events.db");
    if (key.size == plen + 12 && memcmp(kbuf, prefix, plen) == 0
        && get_be64(kbuf + plen) == time_to_key(when)) {
        uint32_t last = get_be32(kbuf + plen + 8);

        if (last == UINT32_MAX)
            return sup_err_set(err, SUP_ERR_INPUT, "%s: too many events in one second",
                               (const char *) prefix);
        *seq = last + 1;
    }
    return 0;
}

/* Delete the oldest events of the address beyond max. */
static int trim_events(STORE *st, DBC *c, const unsigned char *prefix, size_t plen, int max,
                       SUP_ERR *err)
{
    unsigned char kbuf[KEY_MAX];
    DBT key, data;
    long n = 0;
    int ret;

    for (int pass = 0; pass < 2; pass++) {
        long remove = n - max;

        if (pass == 1 && remove <= 0)
            return 0;
        memcpy(kbuf, prefix, plen);
        dbt_inout(&key, kbuf, plen, sizeof(kbuf));
        dbt_none(&data);
        for (ret = c->get(c, &key, &data, DB_SET_RANGE | DB_RMW); ret == 0;
             ret = c->get(c, &key, &data, DB_NEXT | DB_RMW)) {
            if (key.size < plen || memcmp(kbuf, prefix, plen) != 0)
                break;
            if (pass == 0) {
                n++;
                continue;
            }
            if (remove-- <= 0)
                return 0;
            if ((ret = c->del(c, 0)) != 0)
                break;
        }
        if (ret != 0 && ret != DB_NOTFOUND)
            return bdb_fail(st->env, err, ret, "events.db");
    }
    return 0;
}

struct event_arg {
    const STORE_EVENT *ev;
    const unsigned char *value;
    size_t len;
    int max_events;
};

static int event_add_tid(STORE *st, DB_TXN *tid, const struct event_arg *arg, SUP_ERR *err)
{
    DB *db = st->db[DBI_EVENTS];
    unsigned char prefix[KEY_MAX], kbuf[KEY_MAX];
    size_t plen = event_prefix(prefix, arg->ev->address);
    uint32_t seq;
    DBC *c;
    DBT key, data;
    int ret, rc;

    if ((ret = db->cursor(db, tid, &c, 0)) != 0)
        return bdb_fail(st->env, err, ret, "events.db");
    rc = next_seq(st, c, prefix, plen, arg->ev->when, &seq, err);
    if (rc == 0) {
        dbt_in(&key, kbuf, event_key(kbuf, arg->ev->address, arg->ev->when, seq));
        dbt_in(&data, arg->value, arg->len);
        if ((ret = db->put(db, tid, &key, &data, DB_NOOVERWRITE)) != 0)
            rc = bdb_fail(st->env, err, ret, arg->ev->address);
    }
    if (rc == 0 && arg->max_events > 0)
        rc = trim_events(st, c, prefix, plen, arg->max_events, err);
    if ((ret = c->close(c)) != 0 && rc == 0)
        rc = bdb_fail(st->env, err, ret, "events.db");
    return rc;
}

static int op_event_add(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    return event_add_tid(st, tid, argp, err);
}

static int prepare_event(const STORE_EVENT *ev, struct event_arg *arg, unsigned char *buf,
                         size_t buflen, SUP_ERR *err)
{
    if (check_address(ev->address, err) < 0)
        return -1;
    if (!valid_event_type(ev->type))
        return sup_err_set(err, SUP_ERR_INPUT, "%s: invalid event type %d", ev->address,
                           (int) ev->type);
    arg->ev = ev;
    arg->value = buf;
    return store_record_encode_event(ev, buf, buflen, &arg->len, err);
}

int store_event_add(STORE *st, STORE_TXN *txn, const STORE_EVENT *ev, int max_events,
                    SUP_ERR *err)
{
    unsigned char buf[STORE_RECORD_MAX];
    struct event_arg arg;

    if (prepare_event(ev, &arg, buf, sizeof(buf), err) < 0)
        return -1;
    arg.max_events = max_events;
    return run_op(st, txn, true, op_event_add, &arg, err);
}

struct event_iter {
    store_event_fn fn;
    void *ctx;
    STORE_EVENT ev;
};

static int decode_event_record(const unsigned char *key, size_t klen, const unsigned char *data,
                               size_t dlen, STORE_EVENT *ev, SUP_ERR *err)
{
    size_t alen;

    if (parse_event_key(key, klen, &alen, &ev->when) < 0)
        return sup_err_set(err, SUP_ERR_IO, "events.db: malformed key of %zu bytes", klen);
    if (store_record_decode_event(data, dlen, ev, err) < 0) {
        sup_err_prefix(err, "%.*s", (int) (alen > ADDR_MAX ? ADDR_MAX : alen), key);
        return -1;
    }
    store_copy_bytes(ev->address, sizeof(ev->address), (const char *) key, alen);
    return 0;
}

static int deliver_event(const unsigned char *key, size_t klen, const unsigned char *data,
                         size_t dlen, void *ctxp, SUP_ERR *err)
{
    struct event_iter *it = ctxp;

    if (decode_event_record(key, klen, data, dlen, &it->ev, err) < 0)
        return -1;
    return it->fn(&it->ev, it->ctx);
}

int store_events(STORE *st, STORE_TXN *txn, const char *addr, store_event_fn fn, void *ctx,
                 SUP_ERR *err)
{
    unsigned char prefix[KEY_MAX];
    struct event_iter *it;
    size_t plen;
    int rc;

    if (check_address(addr, err) < 0)
        return -1;
    if ((it = malloc(sizeof(*it))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory reading the store");
    it->fn = fn;
    it->ctx = ctx;
    plen = event_prefix(prefix, addr);
    rc = scan_range(st, txn, DBI_EVENTS, prefix, plen, plen, deliver_event, it, err);
    free(it);
    return rc;
}

struct count_arg {
    const char *addr;
    enum store_event_type type;
    time_t since;
};

static int op_event_count(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct count_arg *arg = argp;
    DB *db = st->db[DBI_EVENTS];
    unsigned char prefix[KEY_MAX], kbuf[KEY_MAX], vbuf[STORE_RECORD_MAX];
    size_t plen = event_prefix(prefix, arg->addr);
    STORE_EVENT *ev = malloc(sizeof(*ev));
    DBC *c;
    DBT key, data;
    int ret, rc = 0, count = 0;

    if (ev == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory reading the store");
    if ((ret = db->cursor(db, tid, &c, 0)) != 0) {
        free(ev);
        return bdb_fail(st->env, err, ret, "events.db");
    }
    dbt_inout(&key, kbuf, event_key(kbuf, arg->addr, arg->since, 0), sizeof(kbuf));
    dbt_out(&data, vbuf, sizeof(vbuf));
    for (ret = c->get(c, &key, &data, DB_SET_RANGE); ret == 0;
         ret = c->get(c, &key, &data, DB_NEXT)) {
        if (key.size < plen || memcmp(kbuf, prefix, plen) != 0)
            break;
        if ((rc = decode_event_record(kbuf, key.size, vbuf, data.size, ev, err)) < 0)
            break;
        if (ev->type == arg->type)
            count++;
    }
    if (rc == 0 && ret != 0 && ret != DB_NOTFOUND)
        rc = bdb_fail(st->env, err, ret, "events.db");
    if ((ret = c->close(c)) != 0 && rc == 0)
        rc = bdb_fail(st->env, err, ret, "events.db");
    free(ev);
    return rc < 0 ? rc : count;
}

int store_event_count(STORE *st, STORE_TXN *txn, const char *addr, enum store_event_type type,
                      time_t since, SUP_ERR *err)
{
    struct count_arg arg = { addr, type, since };

    if (check_address(addr, err) < 0)
        return -1;
    return run_op(st, txn, false, op_event_count, &arg, err);
}

/* ---- counters ------------------------------------------------------- */

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
        return bdb_fail(st->env, err, ret, "counters.db");
    put_be64(vbuf, value + arg->delta);
    dbt_in(&data, vbuf, 8);
    if ((ret = db->put(db, tid, &key, &data, 0)) != 0)
        return bdb_fail(st->env, err, ret, "counters.db");
    return 0;
}

int store_counter_add(STORE *st, STORE_TXN *txn, const char *day, const char *name,
                      uint64_t delta, SUP_ERR *err)
{
    struct counter_arg arg;

    if (counter_key(arg.key, day, name, &arg.klen, err) < 0)
        return -1;
    arg.delta = delta;
    return run_op(st, txn, true, op_counter_add, &arg, err);
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

    return scan_range(st, NULL, DBI_COUNTERS, "", 0, 0, deliver_counter, &it, err);
}

/* ---- seen messages -------------------------------------------------- */

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
        return bdb_fail(st->env, err, ret, "seen.db");
    return 1;
}

int store_seen(STORE *st, STORE_TXN *txn, const char *message_key, SUP_ERR *err)
{
    if (check_seen_key(message_key, err) < 0)
        return -1;
    return run_op(st, txn, false, op_seen, (void *) message_key, err);
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
        return bdb_fail(st->env, err, ret, "seen.db");
    return 0;
}

int store_mark_seen(STORE *st, STORE_TXN *txn, const char *message_key, time_t when,
                    SUP_ERR *err)
{
    struct seen_arg arg = { message_key, when };

    if (check_seen_key(message_key, err) < 0)
        return -1;
    return run_op(st, txn, true, op_mark_seen, &arg, err);
}

/* ---- purge and checkpoint ------------------------------------------- */

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
    time_t cutoff;              /* events, seen: removed when older */
    unsigned char resume[KEY_MAX];
    size_t resume_len;          /* committed position; 0 = start */
    unsigned char next[KEY_MAX];
    size_t next_len;            /* position after this pass */
    unsigned long removed;      /* by this pass */
    bool done;
};

/* Should this record go?  For an expired entry, also record the event. */
static int purge_record(STORE *st, DB_TXN *tid, struct purge_pass *p, const DBT *key,
                        const DBT *data, SUP_ERR *err)
{
    if (p->dbi == DBI_EVENTS) {
        size_t alen;
        time_t when;

        if (parse_event_key(key->data, key->size, &alen, &when) < 0)
            return 0;           /* not ours: leave it */
        return when < p->cutoff;
    }
    if (p->dbi == DBI_SEEN)
        return data->size == 8 && (time_t) (int64_t) get_be64(data->data) < p->cutoff;

    STORE_ENTRY *e = malloc(sizeof(*e));
    STORE_EVENT *ev = malloc(sizeof(*ev));
    unsigned char buf[STORE_RECORD_MAX];
    struct event_arg arg;
    int rc = 0;

    if (e == NULL || ev == NULL) {
        rc = sup_err_set(err, SUP_ERR_IO, "out of memory purging the store");
        goto out;
    }
    if (store_record_decode_entry(data->data, data->size, e, err) < 0) {
        sup_err_prefix(err, "store %s: %.*s", st->env->dir,
                       (int) (key->size > ADDR_MAX ? ADDR_MAX : key->size), (char *) key->data);
        rc = -1;
        goto out;
    }
    if (e->expires == 0 || e->expires > p->now)
        goto out;
    store_copy_bytes(e->address, sizeof(e->address), key->data, key->size);
    memset(ev, 0, sizeof(*ev));
    memcpy(ev->address, e->address, sizeof(ev->address));
    ev->when = e->expires;
    ev->type = STORE_EV_EXPIRED;
    store_copy_text(ev->reason, sizeof(ev->reason), store_reason_name(e->reason));
    store_copy_text(ev->status, sizeof(ev->status), e->status);
    store_copy_text(ev->actor, sizeof(ev->actor), "purge");
    store_copy_text(ev->detail, sizeof(ev->detail), e->detail);
    if (prepare_event(ev, &arg, buf, sizeof(buf), err) < 0) {
        rc = -1;
        goto out;
    }
    arg.max_events = 0;
    rc = event_add_tid(st, tid, &arg, err);
    if (rc == 0)
        rc = 1;
out:
    free(e);
    free(ev);
    return rc;
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
    if (batch_cursor_open(st, tid, p->dbi, p->resume, p->resume_len, &c, &key, &data, kbuf,
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
            rc = bdb_fail(st->env, err, ret, db_files[p->dbi]);
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
                rc = bdb_fail(st->env, err, ret, db_files[p->dbi]);
                break;
            }
            p->removed++;
        }
        rc = 0;
    }
    free(data.data);
    if ((ret = c->close(c)) != 0 && rc == 0)
        rc = bdb_fail(st->env, err, ret, db_files[p->dbi]);
    return rc;
}

static int purge_db(STORE *st, struct purge_pass *p, unsigned long *removed, SUP_ERR *err)
{
    p->resume_len = 0;
    do {
        if (run_op(st, NULL, true, op_purge_pass, p, err) < 0)
            return -1;
        *removed += p->removed;
        memcpy(p->resume, p->next, p->next_len);
        p->resume_len = p->next_len;
    } while (!p->done);
    return 0;
}

static int op_checkpoint(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    DB_ENV *dbenv = st->env->dbenv;
    int ret;

    (void) tid;
    (void) argp;
    if ((ret = dbenv->txn_checkpoint(dbenv, 0, 0, 0)) != 0)
        return bdb_fail(st->env, err, ret, "checkpoint");
    /* DB_LOG_AUTO_REMOVE does this too; asking makes it happen now. */
    if ((ret = dbenv->log_archive(dbenv, NULL, DB_ARCH_REMOVE)) != 0)
        return bdb_fail(st->env, err, ret, "removing old log files");
    return 0;
}

int store_checkpoint(STORE *st, SUP_ERR *err)
{
    if (st->flags & STORE_RDONLY)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "store %s was opened read-only", st->env->dir);
    return run_op(st, NULL, false, op_checkpoint, NULL, err);
}

int store_purge(STORE *st, time_t now, long event_retention, long seen_retention,
                struct store_purge_result *result, SUP_ERR *err)
{
    struct purge_pass *p;
    struct store_purge_result r = { 0, 0, 0 };
    int rc = -1;

    if (st->flags & STORE_RDONLY)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "store %s was opened read-only", st->env->dir);
    if ((p = calloc(1, sizeof(*p))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory purging the store");
    p->now = now;
    p->dbi = DBI_ENTRIES;
    if (purge_db(st, p, &r.expired_entries, err) < 0)
        goto out;
    /* A negative retention (DURATION_NEVER) keeps everything. */
    if (event_retention >= 0) {
        p->dbi = DBI_EVENTS;
        p->cutoff = now - (time_t) event_retention;
        if (purge_db(st, p, &r.old_events, err) < 0)
            goto out;
    }
    if (seen_retention >= 0) {
        p->dbi = DBI_SEEN;
        p->cutoff = now - (time_t) seen_retention;
        if (purge_db(st, p, &r.old_seen, err) < 0)
            goto out;
    }
    rc = store_checkpoint(st, err);
out:
    if (result != NULL)
        *result = r;
    free(p);
    return rc;
}
