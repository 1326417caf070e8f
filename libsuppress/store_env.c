/*
 * store_env.c: the Berkeley DB environment under the store (store.h):
 * store_open and store_close, DB_REGISTER recovery, reopening after
 * another process's recovery panicked it, the lock watchdog, and
 * checkpoints.  The databases' own operations are in store_<db>.c
 * (store_bdb.h lists the files).
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
 * Checksums.  Every database is created with DB_CHKSUM: Berkeley DB then
 * checks each page it reads from the file, and a page damaged on disk (a
 * torn write, a bad sector, a stray dd) panics the environment
 * (DB_RUNRECOVERY, "checksum error") instead of being read as it is.
 * Without them a leaf page whose header survived but whose items did not
 * is searched as if it were sound: measured on a store of 3000 entries
 * with half a leaf page overwritten, 69 suppressed addresses answered
 * "not suppressed" (111 with half a page of lookup.db), and no error.  A
 * page costs a 4-byte hash computed when it goes to or comes from the
 * file, nothing on a cache hit.  The flag is kept in a database's meta
 * page when the database is created and ignored for one that exists: a
 * store made before this release has no checksums until it is rebuilt
 * (suppressctl export, then import into a new store).
 *
 * Damage.  A panic that comes back right after this process reopened
 * the environment is not another process's recovery: a page of a
 * database is damaged (a checksum error, a page that cannot be read) and
 * every reopen would run recovery, map the regions again and panic at
 * the next read of that page, seconds per call.  So a reopen within
 * reopen_holdoff seconds of the last one is refused with an error that
 * says the store is damaged; the holdoff starts at REOPEN_HOLDOFF_MIN,
 * doubles while the panics keep coming back, up to REOPEN_HOLDOFF_MAX,
 * and falls back once a reopen held.  Calls in between fail at once
 * (Berkeley DB refuses every call on a panicked environment), so a
 * program keeps answering, with errors, instead of hanging.
 *
 * Replication (store_rep.c) changes three things here, each marked
 * "replication:".  env_open_dbenv opens the environment with DB_INIT_REP
 * and starts the replication manager once it is open; DB_REGISTER and
 * DB_RECOVER stay (Berkeley DB 5.3 allows them in a replicated
 * environment: recovery runs only after a process died in it, before
 * repmgr_start, and each process configures its sites again).  A write
 * Berkeley DB refuses on a client (EACCES) is reported naming the
 * master.  A client opens databases it does not have yet only once the
 * master sent them (internal init): until then store_open fails with
 * SUP_ERR_TEMP.
 */
#include "config.h"

#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_bdb.h"

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
#define PAGE_BYTES       8192   /* an entry with a 2 KB response stays on its leaf page, and
                                 * a ledger message with up to ~80 recipients (4 KB: ~38) */
#define LOCK_TIMEOUT_US  (2 * 1000000)          /* never wait on a lock longer than this */
#define TXN_TIMEOUT_US   (10 * 1000000)
#define EXPIRE_EVERY_MS  200    /* how often the watchdog expires timed-out lock waits */
#define MAX_LOCKS        50000
#define MAX_LOCKERS      5000
#define MAX_TXNS         1000
#define REOPEN_HOLDOFF_MIN 5     /* seconds: see "Damage" above */
#define REOPEN_HOLDOFF_MAX 300
#define CHECKPOINT_KB    1024   /* store_close checkpoints when this much log is new */
#define AUTO_CHECKPOINT_KB  (32 * 1024)     /* the watchdog checkpoints after this much */
#define AUTO_CHECKPOINT_MIN 5               /* ... or this many minutes with new log */
#define AUTO_CHECKPOINT_TICKS 25            /* watchdog ticks between the checks */
#define REP_NODELAY_TICKS     5             /* ticks between store_rep_nodelay's sweeps */

const char *const store_db_files[DBI_COUNT] = {
    [DBI_ENTRIES] = "suppressions.db",
    [DBI_EVENTS] = "events.db",
    [DBI_COUNTERS] = "counters.db",
    [DBI_SEEN] = "seen.db",
    [DBI_LEDGER] = "ledger.db",
    [DBI_INDEX] = "lookup.db",
    [DBI_SLOTS] = "lookup-slots.db",
};

static pthread_mutex_t envs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct store_env *envs;

_Thread_local char store_bdb_msg[256];

/* ---- errors --------------------------------------------------------- */

static void bdb_errcall(const DB_ENV *dbenv, const char *pfx, const char *msg)
{
    (void) dbenv;
    (void) pfx;
    store_copy_text(store_bdb_msg, sizeof(store_bdb_msg), msg);
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
    case ENOSPC:                /* a full disk: the space comes back, retry later */
    case EDQUOT:
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
int store_bdb_fail(const struct store_env *env, SUP_ERR *err, int ret, const char *what)
{
    enum sup_err_class cls = bdb_class(ret);

    /* replication: a write on a client */
    if (ret == EACCES && store_rep_is_client(env))
        return store_rep_refused(env, err, what);

    if (cls == SUP_ERR_TEMP && ret != ENOSPC && ret != EDQUOT)
        sup_err_set(err, cls, "store %s is busy (%s: %s); try again", env->dir, what,
                    db_strerror(ret));
    else
        sup_err_set(err, cls, "store %s: %s: %s%s%s%s", env->dir, what, db_strerror(ret),
                    store_bdb_msg[0] ? " (" : "", store_bdb_msg, store_bdb_msg[0] ? ")" : "");
    return ret == DB_RUNRECOVERY ? OP_PANIC : -1;
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
        snprintf(path, sizeof(path), "%s/%s", env->dir, store_db_files[i]);
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
static int reserve_regions(struct store_env *env, bool *any, SUP_ERR *err);

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
        /* replication: connections repmgr made without telling */
        if (env->rep && ticks % REP_NODELAY_TICKS == 0)
            store_rep_nodelay();
        if (ticks % AUTO_CHECKPOINT_TICKS == 0) {
            /* What the regions grew by since: reserved too (see reserve_regions). */
            SUP_ERR ignored;
            bool any;

            (void) reserve_regions(env, &any, &ignored);
        }
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

/* ---- room for the region files -------------------------------------- */

/*
 * The environment's regions (__db.001...) are files mapped into every
 * process, created sparse at their full size: a page touched for the
 * first time when the file system is full kills the process with SIGBUS
 * instead of returning an error.  So their blocks are reserved
 * (fallocate(2), which changes no byte) whenever the environment is
 * opened, and a new environment is not created without room for them:
 * a full disk is then an error the programs handle (the ingest leaves
 * its messages, the milter applies on-store-error).  Regions also grow
 * while in use: what they grew by is reserved when a handle closes and
 * every AUTO_CHECKPOINT_TICKS watchdog ticks.  REGION_SPACE_NEW is
 * what the regions take with the sizes above (34 MB measured), rounded up.
 */
#define REGION_SPACE_NEW (40ull * 1024 * 1024)
#define REGION_PREFIX "__db.0"

static int reserve_regions(struct store_env *env, bool *any, SUP_ERR *err)
{
    DIR *d = opendir(env->dir);
    struct dirent *de;
    char path[PATH_MAX];
    int rc = 0;

    *any = false;
    if (d == NULL)
        return 0;               /* store_open reports the directory itself */
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat sb;
        int fd;

        if (strncmp(de->d_name, REGION_PREFIX, strlen(REGION_PREFIX)) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", env->dir, de->d_name);
        if ((fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
            continue;           /* not ours to write: Berkeley DB will say so */
        *any = true;
        if (fstat(fd, &sb) == 0 && sb.st_size > 0 && fallocate(fd, 0, 0, sb.st_size) < 0
            && errno != EOPNOTSUPP && errno != ENOSYS)
            rc = sup_err_set(err, errno == ENOSPC ? SUP_ERR_TEMP : SUP_ERR_IO,
                             "store %s: no room to reserve %s (%lld bytes): %s", env->dir,
                             de->d_name, (long long) sb.st_size, strerror(errno));
        close(fd);
    }
    closedir(d);
    return rc;
}

/* Before Berkeley DB creates or joins the regions: room for them. */
static int check_region_space(struct store_env *env, SUP_ERR *err)
{
    struct statvfs vfs;
    unsigned long long avail;
    bool any;

    if (reserve_regions(env, &any, err) < 0)
        return -1;
    if (any || statvfs(env->dir, &vfs) < 0)
        return 0;
    avail = (unsigned long long) vfs.f_bavail * vfs.f_frsize;
    if (avail < REGION_SPACE_NEW)
        return sup_err_set(err, SUP_ERR_TEMP, "store %s: the file system is full (%llu KB free,"
                           " the environment needs %llu KB)", env->dir, avail / 1024,
                           REGION_SPACE_NEW / 1024);
    return 0;
}

static int env_open_dbenv(struct store_env *env, SUP_ERR *err)
{
    DB_ENV *dbenv;
    u_int32_t flags = DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_MPOOL
        | DB_THREAD | DB_REGISTER | DB_RECOVER;
    int ret;

    bool any;

    if (check_region_space(env, err) < 0)
        return -1;
    store_bdb_msg[0] = '\0';
    if ((ret = db_env_create(&dbenv, 0)) != 0)
        return store_bdb_fail(env, err, ret, "cannot create an environment handle");
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
        return store_bdb_fail(env, err, ret, "cannot configure the environment");
    }
    /* replication: the sites, before the environment opens */
    if (store_rep_configure(env, dbenv, &flags, err) < 0) {
        dbenv->close(dbenv, 0);
        return -1;
    }
    if ((ret = dbenv->open(dbenv, env->dir, flags, 0660)) != 0) {
        (void) store_bdb_fail(env, err, ret, "cannot open the environment");
        dbenv->close(dbenv, 0);
        return -1;
    }
    /* Regions recovery or this open created: reserve them now. */
    if (reserve_regions(env, &any, err) < 0) {
        dbenv->close(dbenv, 0);
        return -1;
    }
    /* Joining an environment someone else created: use our timeouts too. */
    (void) dbenv->set_timeout(dbenv, LOCK_TIMEOUT_US, DB_SET_LOCK_TIMEOUT);
    (void) dbenv->set_timeout(dbenv, TXN_TIMEOUT_US, DB_SET_TXN_TIMEOUT);
    env->dbenv = dbenv;
    /* replication: join the fleet once the environment is open */
    if (store_rep_start(env, err) < 0) {
        env_close_dbenv(env);
        return -1;
    }
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

/*
 * A database a later release added: a store written before has none until
 * a writer opens it (and creates it), so a read-only handle goes without
 * it (its operations answer as for an empty one).
 */
bool store_db_added_later(int dbi)
{
    return dbi == DBI_LEDGER || dbi == DBI_INDEX || dbi == DBI_SLOTS;
}

/* Open st's databases in env (env write-locked or not yet shared). */
static int store_open_dbs(STORE *st, SUP_ERR *err)
{
    struct store_env *env = st->env;
    bool rdonly = (st->flags & STORE_RDONLY) != 0;
    bool existed[DBI_COUNT];
    char path[PATH_MAX];
    bool any;
    int ret = 0;

    for (int i = 0; i < DBI_COUNT; i++) {
        snprintf(path, sizeof(path), "%s/%s", env->dir, store_db_files[i]);
        existed[i] = access(path, F_OK) == 0;
    }
    for (int i = 0; i < DBI_COUNT; i++) {
        DB *db;
        u_int32_t flags = DB_THREAD | DB_AUTO_COMMIT | (rdonly ? DB_RDONLY : DB_CREATE)
            | (i == DBI_ENTRIES || i == DBI_INDEX || i == DBI_SLOTS ? DB_READ_UNCOMMITTED : 0);
        DBTYPE type = i == DBI_SLOTS ? DB_QUEUE : DB_BTREE;

        store_bdb_msg[0] = '\0';
        if ((ret = db_create(&db, env->dbenv, 0)) != 0)
            return store_bdb_fail(env, err, ret, "cannot create a database handle");
        if (i == DBI_ENTRIES || i == DBI_EVENTS || i == DBI_LEDGER)
            (void) db->set_pagesize(db, PAGE_BYTES);
        /* A page damaged on disk must be an error, never a wrong answer
         * (see "Checksums" at the top); kept by a database made now. */
        (void) db->set_flags(db, DB_CHKSUM);
        if (type == DB_QUEUE) {
            (void) db->set_re_len(db, SLOT_BYTES);
            (void) db->set_pagesize(db, SLOT_PAGE_BYTES);
        } else {
            (void) db->set_bt_compare(db, key_compare);
        }
        for (int attempt = 1; attempt <= AUTO_ATTEMPTS; attempt++) {
            ret = db->open(db, NULL, store_db_files[i], NULL, type, flags, 0660);
            if (bdb_class(ret) != SUP_ERR_TEMP)
                break;
            store_retry_delay(attempt);
        }
        if (ret == ENOENT && rdonly && store_db_added_later(i)) {
            db->close(db, 0);
            st->db[i] = NULL;
            continue;
        }
        if (ret != 0) {
            int rc;

            db->close(db, 0);
            /* replication: a new replica before the master sent the store */
            if ((ret == ENOENT || ret == EACCES) && store_rep_is_client(env))
                rc = sup_err_set(err, SUP_ERR_TEMP, "store %s has no %s yet: this replica has not"
                                 " received the store from the master yet", env->dir,
                                 store_db_files[i]);
            else if (ret == ENOENT && rdonly)
                rc = sup_err_set(err, SUP_ERR_NOTFOUND,
                                 "store %s has no %s: nothing was ever written to it",
                                 env->dir, store_db_files[i]);
            else
                rc = store_bdb_fail(env, err, ret, store_db_files[i]);
            return rc;
        }
        st->db[i] = db;
        /* The index is what every RCPT reads: its pages go out of the
         * cache last. */
        if (i == DBI_INDEX || i == DBI_SLOTS)
            (void) db->get_mpf(db)->set_priority(db->get_mpf(db), DB_PRIORITY_VERY_HIGH);
    }
    fix_modes(env, existed);
    /* Opening the first databases may have made one more region. */
    return reserve_regions(env, &any, err);
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
/*
 * May env be reopened now (write lock held)?  No within the holdoff of
 * the last reopen: err then says the store is damaged and what said so.
 */
static int reopen_allowed(struct store_env *env, const char *cause, SUP_ERR *err)
{
    time_t now = time(NULL);
    long since = (long) (now - env->reopened_at);

    if (env->reopened_at != 0 && since < (long) env->reopen_holdoff)
        return sup_err_set(err, SUP_ERR_IO, "store %s is damaged: Berkeley DB failed again %ld s"
                           " after recovering it%s%s%s (next try in %ld s); `suppressctl verify`"
                           " says what is wrong, `suppressctl recover` repairs it once the"
                           " programs using the store are stopped", env->dir, since,
                           cause[0] ? " (" : "", cause, cause[0] ? ")" : "",
                           (long) env->reopen_holdoff - since);
    /* Panicked again soon after the last reopen: hold the next off longer. */
    if (env->reopened_at != 0 && since < 2L * (long) env->reopen_holdoff)
        env->reopen_holdoff = env->reopen_holdoff * 2 > REOPEN_HOLDOFF_MAX ? REOPEN_HOLDOFF_MAX
            : env->reopen_holdoff * 2;
    else
        env->reopen_holdoff = REOPEN_HOLDOFF_MIN;
    env->reopened_at = now;
    return 0;
}

int store_env_reopen(struct store_env *env, unsigned seen_gen, SUP_ERR *err)
{
    char cause[sizeof(store_bdb_msg)];
    SUP_ERR refused;
    int rc = 0;

    /* What Berkeley DB said of the failure that brought us here. */
    store_copy_text(cause, sizeof(cause), store_bdb_msg);
    pthread_rwlock_wrlock(&env->lock);
    if ((env->generation == seen_gen || env->dbenv == NULL)
        && reopen_allowed(env, cause, err != NULL ? err : &refused) < 0) {
        pthread_rwlock_unlock(&env->lock);
        return -1;
    }
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
int store_env_enter(struct store_env *env, unsigned *gen, SUP_ERR *err)
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
        if (store_env_reopen(env, *gen, err) < 0)
            return -1;
    }
}

void store_env_leave(struct store_env *env)
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
        /* replication: the replication process of a replica still receiving
         * the store from the master keeps its site running for the next try
         * (this call's reference becomes the pin); any other failure lets
         * the environment go, pin and all */
        bool keep = env->rep && err->cls == SUP_ERR_TEMP && atomic_load(&env->rep_listener);

        if (keep && !env->rep_pinned) {
            env->rep_pinned = true;
        } else {
            if (!keep && env->rep_pinned) {
                env->rep_pinned = false;
                env_put(env);
            }
            env_put(env);
        }
        pthread_mutex_unlock(&envs_lock);
        free(st);
        return -1;
    }
    if (env->rep_pinned) {
        env->rep_pinned = false;
        env->refs--;            /* st holds one now */
    }
    pthread_mutex_unlock(&envs_lock);
    if (store_index_open(st, err) < 0) {
        SUP_ERR ignored;

        (void) store_close(st, &ignored);
        return -1;
    }
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

        store_bdb_msg[0] = '\0';
        /* Make NOSYNC commits durable, and keep the log from growing. */
        if ((ret = env->dbenv->log_flush(env->dbenv, NULL)) != 0
            || (ret = env->dbenv->txn_checkpoint(env->dbenv, CHECKPOINT_KB, 0, 0)) != 0) {
            (void) store_bdb_fail(env, err, ret, "closing");
            rc = -1;
        }
    }
    if (env->dbenv != NULL) {
        SUP_ERR ignored;
        bool any;

        /* The regions grew while we worked: leave them reserved for the next. */
        (void) reserve_regions(env, &any, &ignored);
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

/* ---- checkpoints ---------------------------------------------------- */

static int op_checkpoint(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    DB_ENV *dbenv = st->env->dbenv;
    int ret;

    (void) tid;
    (void) argp;
    if ((ret = dbenv->txn_checkpoint(dbenv, 0, 0, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "checkpoint");
    /* DB_LOG_AUTO_REMOVE does this too; asking makes it happen now. */
    if ((ret = dbenv->log_archive(dbenv, NULL, DB_ARCH_REMOVE)) != 0)
        return store_bdb_fail(st->env, err, ret, "removing old log files");
    return 0;
}

int store_checkpoint(STORE *st, SUP_ERR *err)
{
    if (st->flags & STORE_RDONLY)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "store %s was opened read-only", st->env->dir);
    return store_run_op(st, NULL, false, op_checkpoint, NULL, err);
}
