/*
 * store_verify.c: checking a store that may be damaged, and bringing one
 * back (store.h store_verify, store_recover), for suppressctl verify and
 * suppressctl recover.
 *
 * Neither joins the environment the programs share: store_verify reads
 * the files as they are on disk (each database through DB->verify, in a
 * child process since Berkeley DB may crash on a damaged page; the log
 * through a private log cursor), so it works on a store that no longer
 * opens.  store_recover runs Berkeley DB's catastrophic recovery
 * (DB_RECOVER_FATAL: every log record still there replayed onto the
 * databases), checkpoints, makes the databases independent of the old
 * log (DB_ENV->lsn_reset) and starts a new environment and log, so a log
 * that was truncated or removed no longer stands in the way (what only
 * that log held is gone either way).  It refuses
 * while another process has the store open: recovery under a running
 * milter would corrupt what the milter writes.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store_bdb.h"

#define LOG_PREFIX "log."
#define REGISTER_FILE "__db.register"

/* Berkeley DB's messages for the handle being used, one at a time. */
static _Thread_local char verify_msg[512];

static void verify_errcall(const DB_ENV *dbenv, const char *pfx, const char *msg)
{
    (void) dbenv;
    (void) pfx;
    if (verify_msg[0] == '\0')
        store_copy_text(verify_msg, sizeof(verify_msg), msg);
}

static void say(store_problem_fn fn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(store_problem_fn fn, void *ctx, const char *fmt, ...)
{
    char text[SUP_ERR_TEXT_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    fn(text, ctx);
}

/* ---- the databases -------------------------------------------------- */

/*
 * DB->verify on one database file, in a child process: Berkeley DB 5.3
 * can crash on a damaged page (a double free in its heap page check was
 * seen on random bytes), and a check must survive what it checks.  The
 * child writes Berkeley DB's message to a pipe and exits VERIFY_SOUND or
 * VERIFY_DAMAGED.  Returns 0 sound, 1 damaged (said to fn).
 */
#define VERIFY_SOUND 0
#define VERIFY_DAMAGED 10

/*
 * lookup-slots.db is a queue whose pages before the highest slot written
 * are zero pages Berkeley DB extended the file with; DB->verify of 5.3
 * calls such a page "of incorrect type" on a sound file.  So it is read
 * instead: every slot through a cursor (a page whose checksum fails is an
 * error), each of the form store_index.c writes.
 */
static int verify_slots(DB *db, const char *path)
{
    unsigned char buf[SLOT_BYTES];
    db_recno_t recno;
    DBC *c = NULL;
    DBT key, data;
    int ret;

    (void) db->set_re_len(db, SLOT_BYTES);
    if ((ret = db->open(db, NULL, path, NULL, DB_QUEUE, DB_RDONLY, 0)) != 0
        || (ret = db->cursor(db, NULL, &c, 0)) != 0)
        return ret;
    memset(&key, 0, sizeof(key));
    key.data = &recno;
    key.ulen = sizeof(recno);
    key.flags = DB_DBT_USERMEM;
    memset(&data, 0, sizeof(data));
    data.data = buf;
    data.ulen = sizeof(buf);
    data.flags = DB_DBT_USERMEM;
    while ((ret = c->get(c, &key, &data, DB_NEXT)) == 0) {
        if (data.size != SLOT_BYTES || (buf[0] != SLOT_LIST && buf[0] != SLOT_MORE) || buf[1] > SLOT_FPS) {
            snprintf(verify_msg, sizeof(verify_msg), "slot %lu is not a slot (kind %u,"
                     " count %u)", (unsigned long) recno - 1, buf[0], buf[1]);
            ret = DB_VERIFY_BAD;
            break;
        }
    }
    (void) c->close(c);
    return ret == DB_NOTFOUND ? 0 : ret;
}

static void verify_child(const char *path, int out)
{
    DB *db;
    int ret;
    const char *base = strrchr(path, '/');

    if ((ret = db_create(&db, NULL, 0)) == 0) {
        verify_msg[0] = '\0';
        db->set_errcall(db, verify_errcall);
        if (strcmp(base != NULL ? base + 1 : path, store_db_files[DBI_SLOTS]) == 0) {
            ret = verify_slots(db, path);
            (void) db->close(db, 0);
        } else {
            /* DB->verify closes the handle, whatever it finds. */
            ret = db->verify(db, path, NULL, NULL, 0);
        }
    }
    if (ret != 0) {
        char text[sizeof(verify_msg) + 128];
        int n = snprintf(text, sizeof(text), "%s%s%s%s", db_strerror(ret),
                         verify_msg[0] ? " (" : "", verify_msg, verify_msg[0] ? ")" : "");

        if (n > 0 && write(out, text, (size_t) n < sizeof(text) ? (size_t) n : sizeof(text) - 1) < 0)
            _exit(VERIFY_DAMAGED);
    }
    _exit(ret == 0 ? VERIFY_SOUND : VERIFY_DAMAGED);
}

static int verify_db(const char *dir, int dbi, store_problem_fn fn, void *ctx)
{
    const char *file = store_db_files[dbi];
    char path[PATH_MAX];
    char text[SUP_ERR_TEXT_MAX];
    size_t len = 0;
    ssize_t n;
    int fds[2], status;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if (access(path, F_OK) < 0) {
        /* A store from before this database existed: its first writer
         * makes it (ledger.db empty, lookup.db built from the entries). */
        if (errno == ENOENT && store_db_added_later(dbi))
            return 0;
        say(fn, ctx, "%s: missing (%s)", file, strerror(errno));
        return 1;
    }
    if (pipe(fds) < 0 || (pid = fork()) < 0) {
        say(fn, ctx, "%s: cannot start its check: %s", file, strerror(errno));
        return 1;
    }
    if (pid == 0) {
        close(fds[0]);
        verify_child(path, fds[1]);
    }
    close(fds[1]);
    while (len < sizeof(text) - 1 && (n = read(fds[0], text + len, sizeof(text) - 1 - len)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        len += (size_t) n;
    }
    text[len] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == VERIFY_SOUND)
        return 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == VERIFY_DAMAGED)
        say(fn, ctx, "%s: damaged: %s", file, text);
    else if (WIFSIGNALED(status))
        say(fn, ctx, "%s: damaged: Berkeley DB's check of it crashed (signal %d)", file,
            WTERMSIG(status));
    else
        say(fn, ctx, "%s: damaged: Berkeley DB's check of it stopped (exit %d)", file,
            WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 1;
}

/* ---- the log -------------------------------------------------------- */

/* The numbers of the log files in dir, sorted; *count of them. */
static int log_numbers(const char *dir, unsigned long **out, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    unsigned long *nums = NULL;
    size_t n = 0, alloc = 0;

    *out = NULL;
    *count = 0;
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char *end;
        unsigned long num;

        if (strncmp(de->d_name, LOG_PREFIX, strlen(LOG_PREFIX)) != 0)
            continue;
        num = strtoul(de->d_name + strlen(LOG_PREFIX), &end, 10);
        if (*end != '\0' || num == 0)
            continue;
        if (n == alloc) {
            unsigned long *more = realloc(nums, (alloc = alloc ? alloc * 2 : 16) * sizeof(*nums));

            if (more == NULL) {
                free(nums);
                closedir(d);
                return -1;
            }
            nums = more;
        }
        nums[n++] = num;
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)          /* a handful of files: insertion sort */
        for (size_t j = i; j > 0 && nums[j - 1] > nums[j]; j--) {
            unsigned long t = nums[j];

            nums[j] = nums[j - 1];
            nums[j - 1] = t;
        }
    *out = nums;
    *count = n;
    return 0;
}

/* Read every log record through a private environment (nothing shared);
 * *last is the LSN of the last one. */
static int walk_log(const char *dir, DB_LSN *last, store_problem_fn fn, void *ctx)
{
    DB_ENV *dbenv;
    DB_LOGC *logc = NULL;
    DB_LSN lsn;
    DBT rec;
    unsigned long records = 0;
    int ret;

    if ((ret = db_env_create(&dbenv, 0)) != 0) {
        say(fn, ctx, "log: cannot create a handle to read it: %s", db_strerror(ret));
        return 1;
    }
    verify_msg[0] = '\0';
    dbenv->set_errcall(dbenv, verify_errcall);
    ret = dbenv->open(dbenv, dir, DB_CREATE | DB_INIT_LOG | DB_PRIVATE, 0);
    if (ret == 0)
        ret = dbenv->log_cursor(dbenv, &logc, 0);
    memset(&rec, 0, sizeof(rec));
    for (u_int32_t how = DB_FIRST; ret == 0; how = DB_NEXT) {
        ret = logc->get(logc, &lsn, &rec, how);
        if (ret == 0) {
            records++;
            *last = lsn;
        }
    }
    if (logc != NULL)
        (void) logc->close(logc, 0);
    (void) dbenv->close(dbenv, 0);
    if (ret == DB_NOTFOUND)
        return 0;
    say(fn, ctx, "log: unreadable after %lu records: %s%s%s%s", records, db_strerror(ret),
        verify_msg[0] ? " (" : "", verify_msg, verify_msg[0] ? ")" : "");
    return 1;
}

/* The LSN in a database file's first (meta) page: its last logged change. */
static int db_file_lsn(const char *dir, const char *file, DB_LSN *lsn)
{
    char path[PATH_MAX];
    u_int32_t raw[2];
    int fd;
    ssize_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    n = pread(fd, raw, sizeof(raw), 0);
    close(fd);
    if (n != (ssize_t) sizeof(raw))
        return -1;
    lsn->file = raw[0];
    lsn->offset = raw[1];
    return 0;
}

/* No database may hold a change the log does not reach (a log truncated
 * or removed: every write would then fail). */
static int verify_lsns(const char *dir, const DB_LSN *end, store_problem_fn fn, void *ctx)
{
    int problems = 0;

    for (int i = 0; i < DBI_COUNT; i++) {
        DB_LSN lsn;

        if (db_file_lsn(dir, store_db_files[i], &lsn) < 0)
            continue;
        if (log_compare(&lsn, end) > 0) {
            say(fn, ctx, "%s: holds a change (LSN %u/%u) past the end of the log (%u/%u):"
                " the log was truncated or removed", store_db_files[i], lsn.file, lsn.offset,
                end->file, end->offset);
            problems++;
        }
    }
    return problems;
}

/* The log files are there, in an unbroken sequence, and readable, and
 * they reach every change the databases hold. */
static int verify_log(const char *dir, store_problem_fn fn, void *ctx)
{
    DB_LSN last = { 0, 0 };
    int bad;

    unsigned long *nums;
    size_t count;
    int problems = 0;

    if (log_numbers(dir, &nums, &count) < 0) {
        say(fn, ctx, "log: cannot list the log files in %s: %s", dir, strerror(errno));
        return 1;
    }
    if (count == 0) {
        say(fn, ctx, "log: no log files (log.NNNNNNNNNN): the databases refer to a log"
            " that is gone, and writes will fail");
        free(nums);
        return 1;
    }
    for (size_t i = 1; i < count; i++) {
        if (nums[i] != nums[i - 1] + 1) {
            say(fn, ctx, "log: log.%010lu to log.%010lu are missing", nums[i - 1] + 1, nums[i] - 1);
            problems++;
        }
    }
    free(nums);
    if ((bad = walk_log(dir, &last, fn, ctx)) > 0)
        return problems + bad;
    return problems + verify_lsns(dir, &last, fn, ctx);
}

/* ---- the environment files ------------------------------------------ */

/*
 * Is the store open in another process?  Every process that joins the
 * environment holds a fcntl lock on its slot in __db.register
 * (DB_REGISTER); F_GETLK shows any held by someone else.  0 no, 1 yes
 * (*pid set), -1 cannot tell (errno).
 */
static int store_in_use(const char *dir, pid_t *pid)
{
    char path[PATH_MAX];
    struct flock fl;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, REGISTER_FILE);
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -1;
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0;
    if (fcntl(fd, F_GETLK, &fl) < 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    close(fd);
    if (fl.l_type == F_UNLCK)
        return 0;
    *pid = fl.l_pid;
    return 1;
}

int store_verify(const char *dir, store_problem_fn fn, void *ctx, SUP_ERR *err)
{
    struct stat sb;
    int problems = 0;

    if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return sup_err_set(err, errno == ENOENT ? SUP_ERR_NOTFOUND : SUP_ERR_IO,
                           "store %s: not a directory I can read", dir);
    for (int i = 0; i < DBI_COUNT; i++)
        problems += verify_db(dir, i, fn, ctx);
    problems += verify_log(dir, fn, ctx);
    return problems;
}

/* ---- catastrophic recovery ------------------------------------------ */

/*
 * Replay every log record there onto the databases and checkpoint.  A
 * log that cannot be replayed (truncated, removed) is said to fn: the
 * databases then stay as they are on disk.
 */
static void fatal_recovery(const char *dir, store_problem_fn fn, void *ctx)
{
    DB_ENV *dbenv;
    int ret;

    if ((ret = db_env_create(&dbenv, 0)) != 0) {
        say(fn, ctx, "catastrophic recovery: %s", db_strerror(ret));
        return;
    }
    verify_msg[0] = '\0';
    dbenv->set_errcall(dbenv, verify_errcall);
    ret = dbenv->open(dbenv, dir, DB_CREATE | DB_INIT_TXN | DB_INIT_LOCK | DB_INIT_LOG
                      | DB_INIT_MPOOL | DB_RECOVER_FATAL | DB_PRIVATE, 0660);
    if (ret == 0)
        ret = dbenv->txn_checkpoint(dbenv, 0, 0, DB_FORCE);
    (void) dbenv->close(dbenv, 0);
    if (ret == 0)
        say(fn, ctx, "catastrophic recovery: the log was replayed onto the databases");
    else
        say(fn, ctx, "catastrophic recovery: the log cannot be replayed (%s%s%s%s): the databases"
            " stay as they are on disk", db_strerror(ret), verify_msg[0] ? ": " : "", verify_msg,
            verify_msg[0] ? "" : "");
}

/* Reset the LSNs of one database file, in an environment of its own: a
 * damaged page (a checksum error) panics the environment it is read in. */
static int reset_one(const char *dir, const char *file, char *why, size_t whylen)
{
    DB_ENV *dbenv;
    int ret;

    if ((ret = db_env_create(&dbenv, 0)) != 0) {
        snprintf(why, whylen, "%s", db_strerror(ret));
        return -1;
    }
    verify_msg[0] = '\0';
    dbenv->set_errcall(dbenv, verify_errcall);
    ret = dbenv->open(dbenv, dir, DB_CREATE | DB_INIT_MPOOL | DB_PRIVATE, 0660);
    if (ret == 0)
        ret = dbenv->lsn_reset(dbenv, file, 0);
    (void) dbenv->close(dbenv, 0);
    if (ret == 0)
        return 0;
    snprintf(why, whylen, "%s%s%s%s", db_strerror(ret), verify_msg[0] ? " (" : "", verify_msg,
             verify_msg[0] ? ")" : "");
    return -1;
}

/*
 * Make the databases independent of the old log (their pages' LSNs
 * reset).  A database whose pages cannot be read (checksum errors) cannot
 * be: the store is then left as it is, and the error says to restore it.
 */
static int reset_lsns(const char *dir, store_problem_fn fn, void *ctx, SUP_ERR *err)
{
    char damaged[256] = "";
    char why[SUP_ERR_TEXT_MAX];

    for (int i = 0; i < DBI_COUNT; i++) {
        char path[PATH_MAX];

        snprintf(path, sizeof(path), "%s/%s", dir, store_db_files[i]);
        if (access(path, F_OK) < 0 || reset_one(dir, store_db_files[i], why, sizeof(why)) == 0)
            continue;
        say(fn, ctx, "%s: cannot be detached from the old log: %s", store_db_files[i], why);
        snprintf(damaged + strlen(damaged), sizeof(damaged) - strlen(damaged), "%s%s",
                 damaged[0] ? ", " : "", store_db_files[i]);
    }
    if (damaged[0] != '\0')
        return sup_err_set(err, SUP_ERR_INPUT, "store %s: %s damaged (pages that cannot be read):"
                           " recovery could not repair this, the store is left as it was:"
                           " restore from an export (see suppressctl(8))", dir, damaged);
    return 0;
}

/* Remove the old log and region files: the next open starts afresh. */
static int remove_old_environment(const char *dir, SUP_ERR *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[PATH_MAX];

    if (d == NULL)
        return sup_err_set(err, SUP_ERR_IO, "store %s: %s", dir, strerror(errno));
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, LOG_PREFIX, strlen(LOG_PREFIX)) != 0
            && strncmp(de->d_name, "__db.", 5) != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) < 0 && errno != ENOENT) {
            int e = errno;

            closedir(d);
            return sup_err_set(err, SUP_ERR_IO, "store %s: cannot remove %s: %s", dir, path,
                               strerror(e));
        }
    }
    closedir(d);
    return 0;
}

int store_recover(const char *dir, store_problem_fn fn, void *ctx, SUP_ERR *err)
{
    STORE *st;
    pid_t pid = 0;
    int busy = store_in_use(dir, &pid);

    if (busy < 0)
        return sup_err_set(err, SUP_ERR_IO, "store %s: cannot tell whether it is in use (%s): %s",
                           dir, REGISTER_FILE, strerror(errno));
    if (busy > 0)
        return sup_err_set(err, SUP_ERR_TEMP, "store %s is in use by process %ld: stop"
                           " milter-suppress, suppress-ingest and suppressctl first",
                           dir, (long) pid);
    fatal_recovery(dir, fn, ctx);
    if (reset_lsns(dir, fn, ctx, err) < 0 || remove_old_environment(dir, err) < 0)
        return -1;
    /* A new environment and log, the databases as recovery left them. */
    if (store_open(dir, STORE_CREATE, &st, err) < 0)
        return -1;
    return store_close(st, err);
}
