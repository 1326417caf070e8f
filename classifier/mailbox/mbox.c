/*
 * mailbox/mbox.c: an mbox's messages through the ingest (mailbox.h
 * mailbox_process_mbox), and the mbox splitting files.c uses too.
 *
 * Offers main() the mbox loop: the mailbox is locked (dot-lock and fcntl)
 * while processed, split at its From_ lines, its messages go through in
 * batches (ingest_batch_*()), and it is rewritten (temp file + rename,
 * mode and owner kept) without the messages that were committed or
 * quarantined; messages that failed temporarily stay.  What a run killed
 * half-way leaves (its dot-lock, a rewrite's temporary file) is removed
 * by the next one.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "log.h"
#include "mailbox.h"
#include "mailbox_int.h"

/* Dot-lock: tries (one per LOCK_WAIT_MS) and the age of a stale lock. */
#define LOCK_TRIES 25
#define LOCK_WAIT_MS 200
#define DOTLOCK_STALE_SECONDS 600

/* ---- mbox ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/*
 * The PID a dot-lock file names when that process is gone from this host
 * (a holder killed with SIGKILL, or a crash), else 0.  Like liblockfile:
 * a lock that names no PID, or a live one, is left to its age.
 */
static long dotlock_dead_holder(const char *lock)
{
    char buf[32];
    ssize_t n;
    long pid;
    char *end;
    int fd = open(lock, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return 0;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    errno = 0;
    pid = strtol(buf, &end, 10);
    if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') || pid <= 0)
        return 0;
    if (kill((pid_t) pid, 0) == 0 || errno != ESRCH)
        return 0;
    return pid;
}

/*
 * Take PATH.lock the way mail delivery agents do (O_EXCL create).  A lock
 * whose holder no longer runs, or older than DOTLOCK_STALE_SECONDS, is
 * stale and removed: a run killed with SIGKILL must not hold the next
 * ones back for minutes.  Returns 1 when taken, 0 when the directory does
 * not allow dot-locking (fcntl alone then), -1 (SUP_ERR_TEMP) when
 * someone else holds it.
 */
static int dotlock_take(const char *lock, SUP_ERR *err)
{
    for (int attempt = 0; attempt < LOCK_TRIES; attempt++) {
        int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        struct stat st;
        long dead;

        if (fd >= 0) {
            char pid[32];

            snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
            (void) mailbox_write_all(fd, pid, strlen(pid));
            close(fd);
            return 1;
        }
        if (errno == EACCES || errno == EPERM || errno == EROFS) {
            log_debug("%s: cannot dot-lock (%s), relying on fcntl locking", lock, strerror(errno));
            return 0;
        }
        if (errno != EEXIST)
            return sup_err_set(err, mailbox_errno_class(errno), "%s: cannot create lock: %s", lock,
                               strerror(errno));
        if ((dead = dotlock_dead_holder(lock)) > 0) {
            log_warn("%s: removing the lock of process %ld, which no longer runs", lock, dead);
            unlink(lock);
            continue;
        }
        if (stat(lock, &st) == 0 && time(NULL) - st.st_mtime > DOTLOCK_STALE_SECONDS) {
            log_warn("%s: removing stale lock", lock);
            unlink(lock);
            continue;
        }
        sleep_ms(LOCK_WAIT_MS);
    }
    return sup_err_set(err, SUP_ERR_TEMP, "%s: mailbox is locked by another process", lock);
}

static int fcntl_lock(int fd, const char *path, SUP_ERR *err)
{
    struct flock fl;

    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    for (int attempt = 0; attempt < LOCK_TRIES; attempt++) {
        if (fcntl(fd, F_SETLK, &fl) == 0)
            return 0;
        if (errno != EACCES && errno != EAGAIN && errno != EINTR)
            return sup_err_set(err, SUP_ERR_IO, "%s: cannot lock: %s", path, strerror(errno));
        sleep_ms(LOCK_WAIT_MS);
    }
    return sup_err_set(err, SUP_ERR_TEMP, "%s: mailbox is locked by another process", path);
}

/*
 * Does the line look like an mbox separator, "From sender Thu Jul  2
 * 12:05:05 2020"?  Writers that forget the blank line before it exist; a
 * body line starting with "From " is quoted (">From ") by every MDA.
 */
static bool looks_like_from_line(const char *line, size_t len)
{
    bool colon = false;
    int digits = 0;
    int longest = 0;

    for (size_t i = 5; i < len; i++) {
        if (line[i] == ':')
            colon = true;
        digits = isdigit((unsigned char) line[i]) ? digits + 1 : 0;
        if (digits > longest)
            longest = digits;
    }
    return colon && longest >= 4;
}

/* Messages start at a "From " line at the file's start, after a blank
 * line, or anywhere when the line has the shape of a separator. */
GArray *mbox_split(const char *data, size_t len)
{
    GArray *msgs = g_array_new(FALSE, TRUE, sizeof(struct mbox_msg));
    size_t pos = 0;

    while (pos < len) {
        const char *eol = memchr(data + pos, '\n', len - pos);
        size_t next = eol ? (size_t) (eol - data) + 1 : len;
        bool after_blank = pos == 0 || (pos >= 2 && data[pos - 2] == '\n')
                           || (pos >= 3 && data[pos - 2] == '\r' && data[pos - 3] == '\n');

        if (len - pos >= 5 && memcmp(data + pos, "From ", 5) == 0
            && (after_blank || looks_like_from_line(data + pos, next - pos))) {
            struct mbox_msg m = { pos, len, true };

            if (msgs->len > 0)
                g_array_index(msgs, struct mbox_msg, msgs->len - 1).end = pos;
            g_array_append_val(msgs, m);
        }
        pos = next;
    }
    return msgs;
}

/* The message without its From_ line and separator, ">From " unquoted (mboxrd). */
GString *mbox_message_text(const char *data, const struct mbox_msg *m)
{
    const char *p = memchr(data + m->start, '\n', m->end - m->start);
    const char *end = data + m->end;
    GString *out = g_string_sized_new(m->end - m->start);

    p = p ? p + 1 : end;
    /* The blank line before the next From_ line belongs to the mbox. */
    if (end - p >= 1 && end[-1] == '\n' && end - p >= 2 && end[-2] == '\n')
        end--;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t) (end - p));
        const char *next = eol ? eol + 1 : end;
        const char *q = p;

        while (q < next && *q == '>')
            q++;
        if (q > p && next - q >= 5 && memcmp(q, "From ", 5) == 0)
            p++;
        g_string_append_len(out, p, next - p);
        p = next;
    }
    return out;
}

/* The temporary file a rewrite of path by process pid writes. */
static char *rewrite_temp_name(const char *path, long pid)
{
    return g_strdup_printf("%s.suppress-ingest.%ld.tmp", path, pid);
}

/*
 * Remove what rewrites killed half-way left beside path (mbox locked):
 * their temporary files, named by a PID that no longer runs.  The mbox
 * itself is whole either way: rename() replaced it, or did not.
 */
static void remove_dead_rewrites(const char *path)
{
    char *dir = g_path_get_dirname(path);
    char *prefix = g_strdup_printf("%s.suppress-ingest.", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    size_t prefix_len = strlen(prefix);
    DIR *d = opendir(dir);
    struct dirent *de;

    while (d != NULL && (de = readdir(d)) != NULL) {
        char *end;
        long pid;

        if (strncmp(de->d_name, prefix, prefix_len) != 0)
            continue;
        pid = strtol(de->d_name + prefix_len, &end, 10);
        if (pid <= 0 || strcmp(end, ".tmp") != 0 || kill((pid_t) pid, 0) == 0 || errno != ESRCH)
            continue;
        char *tmp = rewrite_temp_name(path, pid);

        log_warn("%s: removing %s, left by an interrupted rewrite", path, tmp);
        if (unlink(tmp) < 0 && errno != ENOENT)
            log_warn("%s: cannot remove %s: %s", path, tmp, strerror(errno));
        g_free(tmp);
    }
    if (d != NULL)
        closedir(d);
    g_free(prefix);
    g_free(dir);
}

/* Write the kept messages to a temp file next to path and rename it over. */
static int mbox_rewrite(const char *path, const struct stat *st, const char *data,
                        GArray *msgs, SUP_ERR *err)
{
    char *tmp = rewrite_temp_name(path, (long) getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = -1;

    if (fd < 0) {
        sup_err_set(err, mailbox_errno_class(errno), "%s: cannot create %s to rewrite the mailbox: %s",
                    path, tmp, strerror(errno));
        g_free(tmp);
        return -1;
    }
    for (guint i = 0; i < msgs->len; i++) {
        const struct mbox_msg *m = &g_array_index(msgs, struct mbox_msg, i);

        if (m->keep && mailbox_write_all(fd, data + m->start, m->end - m->start) < 0)
            goto write_error;
    }
    /* Same owner and mode as the mailbox (ignore EPERM: not root). */
    if (fchown(fd, st->st_uid, st->st_gid) < 0 && errno != EPERM)
        goto write_error;
    if (fchmod(fd, st->st_mode & 07777) < 0)
        goto write_error;
    rc = mailbox_commit_temp_file(fd, tmp, path, err);
    goto out;
write_error:
    sup_err_set(err, SUP_ERR_IO, "%s: write error: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    g_free(tmp);
    return rc;
}

/* The run over one mbox: what the batch's callback needs. */
struct mbox_run {
    struct mailbox_run run;     /* first: mbox_done is given a struct mailbox_run too */
    const char *path;
    const char *data;
};

/* A committed mbox message is left out when the mbox is rewritten; one
 * that was not believed is copied to the quarantine first. */
static void mbox_done(void *runp, void *item, enum ingest_outcome outcome, const SUP_ERR *err)
{
    struct mbox_run *mr = runp;
    struct mbox_msg *m = item;

    if (!mailbox_count_outcome(&mr->run, outcome, err))
        return;
    if (outcome == INGEST_UNVERIFIED) {
        GString *text = mbox_message_text(mr->data, m);
        bool kept = mailbox_quarantine_unverified(&mr->run, mr->path, text->str, text->len, err);

        g_string_free(text, TRUE);
        if (!kept)
            return;
    }
    m->keep = false;
}

/* One message of the locked mbox into the batch; false when the run stops. */
static bool mbox_message(INGEST_CTX *ctx, INGEST_BATCH *batch, const char *path, const char *data,
                         struct mbox_msg *m, unsigned int number, MAILBOX_STATS *stats, SUP_ERR *first)
{
    GString *text = mbox_message_text(data, m);
    char *name = g_strdup_printf("%s#%u", path, number);
    enum ingest_outcome outcome;
    bool go_on = true;
    SUP_ERR one;

    if (max_size(ctx) > 0 && text->len > max_size(ctx)) {
        sup_err_set(&one, SUP_ERR_INPUT, "message too large (%zu bytes, ingest.max-message-size is %zu)",
                    text->len, max_size(ctx));
        outcome = INGEST_REJECTED;
        if (ctx->dry_run)
            fprintf(ctx->out, "%s: %s\n", name, one.text);
    } else if (ingest_batch_add(batch, name, text->str, text->len, m, &outcome, &one) < 0) {
        mailbox_note_error(first, &one);
        go_on = false;          /* store busy: everything left stays */
        goto out;
    }
    if (ctx->dry_run || outcome == INGEST_QUEUED)
        goto out;
    if (outcome == INGEST_DEFERRED) {
        mailbox_note_error(first, &one);
        stats->deferred++;
        goto out;
    }
    /* INGEST_NOT_REPORT, INGEST_REJECTED */
    char reason[SUP_ERR_TEXT_MAX];

    snprintf(reason, sizeof(reason), "%s", one.text);
    if (mailbox_quarantine_data(quarantine_dir(ctx), name, text->str, text->len, reason, NULL, &one) == 0) {
        m->keep = false;
        stats->quarantined++;
    } else {
        mailbox_note_error(first, &one);
        stats->failed++;
    }
out:
    g_string_free(text, TRUE);
    g_free(name);
    return go_on;
}

/* Process every message of the locked mbox; marks what stays. */
static void mbox_process_messages(INGEST_CTX *ctx, const char *path, const char *data, GArray *msgs,
                                  MAILBOX_STATS *stats, SUP_ERR *first)
{
    struct mbox_run run = { { stats, first, quarantine_dir(ctx) }, path, data };
    INGEST_BATCH *batch = ingest_batch_new(ctx, mbox_done, &run);
    bool go_on = true;
    SUP_ERR one;

    if (batch == NULL) {
        sup_err_set(&one, SUP_ERR_SOFTWARE, "%s: out of memory", path);
        mailbox_note_error(first, &one);
        return;
    }
    for (guint i = 0; i < msgs->len && go_on; i++)
        go_on = mbox_message(ctx, batch, path, data, &g_array_index(msgs, struct mbox_msg, i),
                             i + 1, stats, first);
    if (go_on && ingest_batch_flush(batch, &one) < 0)
        mailbox_note_error(first, &one);
    ingest_batch_free(batch);
}

int mailbox_process_mbox(INGEST_CTX *ctx, const char *path, MAILBOX_STATS *stats, SUP_ERR *err)
{
    SUP_ERR first = { SUP_OK, "" };
    char *lock = g_strdup_printf("%s.lock", path);
    int dotlocked = 0;
    struct stat st;
    char *data = NULL;
    size_t len = 0;
    GArray *msgs = NULL;
    int fd;
    int rc = -1;

    fd = open(path, (ctx->dry_run ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) {
        sup_err_set(err, mailbox_errno_class(errno), "%s: cannot open mailbox: %s", path, strerror(errno));
        g_free(lock);
        return -1;
    }
    if (!ctx->dry_run) {
        if ((dotlocked = dotlock_take(lock, err)) < 0)
            goto out;
        if (fcntl_lock(fd, path, err) < 0)
            goto out;
        remove_dead_rewrites(path);
    }
    if (fstat(fd, &st) < 0) {
        sup_err_set(err, SUP_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (mailbox_read_file(path, 0, &data, &len, err) < 0)
        goto out;
    if (len > 0 && (len < 5 || memcmp(data, "From ", 5) != 0)) {
        sup_err_set(err, SUP_ERR_INPUT, "%s: not an mbox (does not start with a \"From \" line)", path);
        goto out;
    }
    msgs = mbox_split(data, len);
    mbox_process_messages(ctx, path, data, msgs, stats, &first);
    if (!ctx->dry_run) {
        bool changed = false;

        for (guint i = 0; i < msgs->len; i++)
            if (!g_array_index(msgs, struct mbox_msg, i).keep)
                changed = true;
        if (changed && mbox_rewrite(path, &st, data, msgs, err) < 0) {
            /* Committed messages stay in the mbox: the next run sees them as
             * duplicates, so nothing is lost or counted twice. */
            goto out;
        }
    }
    if (first.cls != SUP_OK) {
        *err = first;
        goto out;
    }
    rc = 0;
out:
    if (dotlocked == 1)
        unlink(lock);
    close(fd);
    if (msgs != NULL)
        g_array_free(msgs, TRUE);
    free(data);
    g_free(lock);
    return rc;
}
