/*
 * mailbox.c: reading messages from a Maildir, an mbox, stdin or files, and
 * the quarantine (mailbox.h).
 *
 * Offers main() the loops around the ingest that make sure nothing is
 * lost: a message leaves its mailbox only after its effects are committed
 * to the store or it sits in the quarantine; a temporary failure (store
 * busy) leaves it where it is for the next run.  Maildir and mbox messages
 * go through in batches, many per store transaction (ingest_batch_*());
 * stdin and files named on the command line one by one.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "duration.h"
#include "ingest.h"
#include "log.h"
#include "mailbox.h"

/* Dot-lock: tries (one per LOCK_WAIT_MS) and the age of a stale lock. */
#define LOCK_TRIES 25
#define LOCK_WAIT_MS 200
#define DOTLOCK_STALE_SECONDS 600

/* ---- small file helpers ---- */

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t) n;
    }
    return 0;
}

static enum sup_err_class errno_class(int e)
{
    switch (e) {
    case EACCES:
    case EPERM:
        return SUP_ERR_NOPERM;
    case ENOENT:
    case ENOTDIR:
        return SUP_ERR_NOTFOUND;
    case EAGAIN:
    case EINTR:
        return SUP_ERR_TEMP;
    default:
        return SUP_ERR_IO;
    }
}

/*
 * Read the whole file.  Returns 0; 1 if it is larger than max (not read,
 * *len set to its size); -1 with err set (SUP_ERR_NOTFOUND: there is no
 * such file, or it is no regular file).  O_NONBLOCK: a FIFO must not hang
 * the open.
 */
static int read_file(const char *path, size_t max, char **data, size_t *len, SUP_ERR *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    size_t have = 0;
    char *buf;

    *data = NULL;
    *len = 0;
    if (fd < 0)
        return sup_err_set(err, errno_class(errno), "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0) {
        int e = errno;

        close(fd);
        return sup_err_set(err, SUP_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return sup_err_set(err, SUP_ERR_NOTFOUND, "%s: not a regular file", path);
    }
    if (max > 0 && (size_t) st.st_size > max) {
        close(fd);
        *len = (size_t) st.st_size;
        return 1;
    }
    if ((buf = malloc((size_t) st.st_size + 1)) == NULL) {
        close(fd);
        return sup_err_set(err, SUP_ERR_SOFTWARE, "%s: out of memory", path);
    }
    while (have < (size_t) st.st_size) {
        ssize_t n = read(fd, buf + have, (size_t) st.st_size - have);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;

            free(buf);
            close(fd);
            return sup_err_set(err, SUP_ERR_IO, "%s: read error: %s", path, strerror(e));
        }
        if (n == 0)
            break;              /* shrank while reading: take what is there */
        have += (size_t) n;
    }
    close(fd);
    buf[have] = '\0';
    *data = buf;
    *len = have;
    return 0;
}

/* ---- the quarantine ---- */

/* A Maildir-style unique file name: time, microseconds, pid, counter, host. */
static void unique_name(char *buf, size_t len)
{
    static unsigned int counter;
    struct timeval tv;
    char host[256];

    gettimeofday(&tv, NULL);
    if (gethostname(host, sizeof(host)) < 0)
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    for (char *p = host; *p; p++)
        if (*p == '/' || *p == ':')
            *p = '_';
    snprintf(buf, len, "%lld.M%06ldP%ldQ%u.%s", (long long) tv.tv_sec, (long) tv.tv_usec,
             (long) getpid(), ++counter, host);
}

static int ensure_dir(const char *dir, SUP_ERR *err)
{
    if (g_mkdir_with_parents(dir, 0750) < 0)
        return sup_err_set(err, errno_class(errno), "quarantine %s: cannot create: %s", dir, strerror(errno));
    return 0;
}

/*
 * The end of every write through a temporary file: make it durable, close
 * it and rename it to final, so that no half-written file ever appears
 * there.  On failure the temporary file is removed.  Closes fd either way.
 */
static int commit_temp_file(int fd, const char *tmp, const char *final, SUP_ERR *err)
{
    if (fsync(fd) < 0 || close(fd) < 0) {
        int saved = errno;

        (void) close(fd);
        unlink(tmp);
        return sup_err_set(err, SUP_ERR_IO, "%s: write error: %s", tmp, strerror(saved));
    }
    if (rename(tmp, final) < 0) {
        int saved = errno;

        unlink(tmp);
        return sup_err_set(err, errno_class(saved), "%s: cannot rename to %s: %s", tmp, final,
                           strerror(saved));
    }
    return 0;
}

/* Write data to dir/name through a temporary file, so no half file appears. */
static int write_new_file(const char *dir, const char *name, const char *data, size_t len,
                          int stream_fd, SUP_ERR *err)
{
    char *tmp = g_strdup_printf("%s/.%s.tmp", dir, name);
    char *final = g_strdup_printf("%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    int rc = -1;

    if (fd < 0) {
        sup_err_set(err, errno_class(errno), "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    if (write_all(fd, data, len) < 0)
        goto write_error;
    /* The rest of a stream (an over-long message on stdin). */
    while (stream_fd >= 0) {
        char buf[65536];
        ssize_t n = read(stream_fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && write_all(fd, buf, (size_t) n) < 0))
            goto write_error;
        if (n == 0)
            break;
    }
    rc = commit_temp_file(fd, tmp, final, err);
    goto out;
write_error:
    sup_err_set(err, SUP_ERR_IO, "%s: write error: %s", tmp, strerror(errno));
    if (fd >= 0)
        close(fd);
    unlink(tmp);
out:
    g_free(tmp);
    g_free(final);
    return rc;
}

static void write_reason(const char *dir, const char *name, const char *source, const char *reason)
{
    char when[32];
    char *reason_name = g_strdup_printf("%s.reason", name);
    char *text = g_strdup_printf("source: %s\ndate: %s\nreason: %s\n", source,
                                 time_format_iso(time(NULL), when, sizeof(when)), reason);
    SUP_ERR err;

    if (write_new_file(dir, reason_name, text, strlen(text), -1, &err) < 0)
        log_warn("quarantine: %s: message kept, but its reason file failed: %s", name, err.text);
    g_free(reason_name);
    g_free(text);
}

static int quarantine_stream(const char *dir, const char *source, const char *raw, size_t len,
                             int stream_fd, const char *reason, char **name_out, SUP_ERR *err)
{
    char name[512];

    if (ensure_dir(dir, err) < 0)
        return -1;
    unique_name(name, sizeof(name));
    if (write_new_file(dir, name, raw, len, stream_fd, err) < 0)
        return -1;
    write_reason(dir, name, source, reason);
    log_warn("%s: quarantined as %s/%s: %s", source, dir, name, reason);
    if (name_out != NULL)
        *name_out = g_strdup_printf("%s/%s", dir, name);
    return 0;
}

int mailbox_quarantine_data(const char *dir, const char *source, const char *raw, size_t len,
                            const char *reason, char **name_out, SUP_ERR *err)
{
    return quarantine_stream(dir, source, raw, len, -1, reason, name_out, err);
}

int mailbox_quarantine_file(const char *dir, const char *path, const char *reason, SUP_ERR *err)
{
    char name[512];
    char *target;
    char *data;
    size_t len;

    if (ensure_dir(dir, err) < 0)
        return -1;
    unique_name(name, sizeof(name));
    target = g_strdup_printf("%s/%s", dir, name);
    if (rename(path, target) == 0) {
        write_reason(dir, name, path, reason);
        log_warn("%s: quarantined as %s: %s", path, target, reason);
        g_free(target);
        return 0;
    }
    g_free(target);
    if (errno != EXDEV)
        return sup_err_set(err, errno_class(errno), "%s: cannot move to quarantine %s: %s",
                           path, dir, strerror(errno));
    /* Another file system: copy, then remove the original. */
    if (read_file(path, 0, &data, &len, err) < 0)
        return -1;
    if (quarantine_stream(dir, path, data, len, -1, reason, NULL, err) < 0) {
        free(data);
        return -1;
    }
    free(data);
    if (unlink(path) < 0)
        log_warn("%s: quarantined copy made but the original could not be removed: %s",
                 path, strerror(errno));
    return 0;
}

/* ---- one message from a file ---- */

static const char *quarantine_dir(const INGEST_CTX *ctx)
{
    return ctx->cfg->ingest.quarantine;
}

static size_t max_size(const INGEST_CTX *ctx)
{
    return ctx->cfg->ingest.max_message_size > 0 ? (size_t) ctx->cfg->ingest.max_message_size : 0;
}

/* Keep the first error: the caller reports it and it decides the exit
 * code.  Later ones are logged here, so each is logged once (a busy store
 * once for all the messages it holds back). */
static void note_error(SUP_ERR *first, const SUP_ERR *err)
{
    if (first->cls == SUP_OK)
        *first = *err;
    else if (!(first->cls == SUP_ERR_TEMP && err->cls == SUP_ERR_TEMP))
        log_error("%s", err->text);
}

/* Where the outcomes of a mailbox's queued messages are counted. */
struct mailbox_run {
    MAILBOX_STATS *stats;
    SUP_ERR *first;
};

/* Count a committed or deferred message; true if it was committed. */
static bool count_outcome(struct mailbox_run *run, enum ingest_outcome outcome, const SUP_ERR *err)
{
    switch (outcome) {
    case INGEST_APPLIED:
        run->stats->applied++;
        return true;
    case INGEST_DUPLICATE:
        run->stats->duplicates++;
        return true;
    default:
        run->stats->deferred++;
        note_error(run->first, err);
        return false;
    }
}

/* A committed Maildir message goes away. */
static void maildir_done(void *runp, void *item, enum ingest_outcome outcome, const SUP_ERR *err)
{
    const char *path = item;

    if (count_outcome(runp, outcome, err) && unlink(path) < 0)
        log_warn("%s: processed, but cannot remove it: %s (it will be seen as a duplicate)",
                 path, strerror(errno));
}

/*
 * One Maildir message into the batch (path must stay valid until the
 * batch is flushed): its effects wait for the batch's commit; one that
 * cannot be used goes into the quarantine now.  Returns 0, or -1 with err
 * (the message stays; SUP_ERR_TEMP: the store is busy, stop).
 */
static int maildir_message(INGEST_CTX *ctx, INGEST_BATCH *batch, const char *path,
                           MAILBOX_STATS *stats, SUP_ERR *err)
{
    enum ingest_outcome outcome;
    char *data;
    size_t len;
    int rc;

    rc = read_file(path, max_size(ctx), &data, &len, err);
    if (rc < 0 && err->cls == SUP_ERR_NOTFOUND)
        return 0;               /* gone since listed (another run took it), or no message */
    if (rc < 0) {
        stats->failed++;
        return -1;
    }
    if (rc == 1) {
        sup_err_set(err, SUP_ERR_INPUT, "%s: message too large (%zu bytes, ingest.max-message-size is %zu)",
                    path, len, max_size(ctx));
        outcome = INGEST_REJECTED;
        if (ctx->dry_run) {
            if (ctx->json)
                output_error_json(ctx->out, path, err->text);
            else
                fprintf(ctx->out, "%s\n", err->text);
        }
    } else {
        rc = ingest_batch_add(batch, path, data, len, (void *) path, &outcome, err);
        free(data);
        if (rc < 0)
            return -1;
    }
    if (ctx->dry_run || outcome == INGEST_QUEUED)
        return 0;
    if (outcome == INGEST_DEFERRED) {
        stats->deferred++;
        return -1;
    }
    /* INGEST_NOT_REPORT, INGEST_REJECTED */
    char reason[SUP_ERR_TEXT_MAX];

    snprintf(reason, sizeof(reason), "%s", err->text);
    rc = mailbox_quarantine_file(quarantine_dir(ctx), path, reason, err);
    if (rc == 0)
        stats->quarantined++;
    else
        stats->failed++;
    return rc;
}

/* ---- Maildir ---- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The message files of dir/sub, sorted (delivery order for Maildir names). */
static char **list_messages(const char *dir, const char *sub, size_t *count, SUP_ERR *err)
{
    char *path = g_strdup_printf("%s/%s", dir, sub);
    DIR *d = opendir(path);
    GPtrArray *names = g_ptr_array_new();
    struct dirent *de;

    *count = 0;
    if (d == NULL) {
        sup_err_set(err, errno_class(errno), "%s: cannot open Maildir folder: %s", path, strerror(errno));
        g_free(path);
        g_ptr_array_free(names, TRUE);
        return NULL;
    }
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        g_ptr_array_add(names, g_strdup_printf("%s/%s", path, de->d_name));
    }
    closedir(d);
    g_free(path);
    if (names->len > 1)
        qsort(names->pdata, names->len, sizeof(char *), compare_names);
    *count = names->len;
    g_ptr_array_add(names, NULL);
    return (char **) g_ptr_array_free(names, FALSE);
}

int mailbox_process_maildir(INGEST_CTX *ctx, const char *dir, MAILBOX_STATS *stats, SUP_ERR *err)
{
    static const char *const subdirs[] = { "new", "cur" };
    SUP_ERR first = { SUP_OK, "" };
    struct mailbox_run run = { stats, &first };
    INGEST_BATCH *batch = ingest_batch_new(ctx, maildir_done, &run);
    bool stop = false;

    if (batch == NULL)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "%s: out of memory", dir);
    for (size_t s = 0; s < G_N_ELEMENTS(subdirs) && !stop; s++) {
        size_t count;
        char **files = list_messages(dir, subdirs[s], &count, err);
        SUP_ERR one;

        /* A Maildir nobody has read yet may lack cur/; new/ must be there. */
        if (files == NULL && s > 0 && err->cls == SUP_ERR_NOTFOUND)
            continue;
        if (files == NULL) {
            ingest_batch_free(batch);
            return -1;
        }
        for (size_t i = 0; i < count && !stop; i++) {
            if (maildir_message(ctx, batch, files[i], stats, &one) < 0) {
                note_error(&first, &one);
                /* The store is busy: leave the rest for the next run too. */
                stop = one.cls == SUP_ERR_TEMP;
            }
        }
        /* The file names are the batch's: commit before they go. */
        if (!stop && ingest_batch_flush(batch, &one) < 0) {
            note_error(&first, &one);
            stop = true;
        }
        g_strfreev(files);
    }
    ingest_batch_free(batch);
    if (first.cls != SUP_OK) {
        *err = first;
        return -1;
    }
    return 0;
}

/* ---- stdin (Postfix pipe) ---- */

int mailbox_process_stdin(INGEST_CTX *ctx, MAILBOX_STATS *stats, SUP_ERR *err)
{
    GString *buf = g_string_new(NULL);
    size_t max = max_size(ctx);
    enum ingest_outcome outcome;
    bool too_large = false;
    int rc = 0;

    for (;;) {
        char chunk[65536];
        ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = sup_err_set(err, SUP_ERR_TEMP, "stdin: read error: %s", strerror(errno));
            stats->failed++;
            goto out;
        }
        if (n == 0)
            break;
        g_string_append_len(buf, chunk, n);
        if (max > 0 && buf->len > max) {
            too_large = true;
            break;
        }
    }
    if (too_large) {
        char reason[SUP_ERR_TEXT_MAX];

        snprintf(reason, sizeof(reason), "message too large (over %zu bytes, ingest.max-message-size)", max);
        if (ctx->dry_run) {
            fprintf(ctx->out, "-: %s\n", reason);
            goto out;
        }
        rc = quarantine_stream(quarantine_dir(ctx), "stdin", buf->str, buf->len, STDIN_FILENO,
                               reason, NULL, err);
        if (rc == 0)
            stats->quarantined++;
        else
            stats->failed++;
        goto out;
    }
    if (ingest_message(ctx, "-", buf->str, buf->len, &outcome, err) < 0) {
        stats->deferred++;
        rc = -1;
        goto out;
    }
    if (ctx->dry_run)
        goto out;
    if (outcome == INGEST_APPLIED) {
        stats->applied++;
    } else if (outcome == INGEST_DUPLICATE) {
        stats->duplicates++;
    } else {
        char reason[SUP_ERR_TEXT_MAX];

        snprintf(reason, sizeof(reason), "%s", err->text);
        rc = mailbox_quarantine_data(quarantine_dir(ctx), "stdin", buf->str, buf->len, reason, NULL, err);
        if (rc == 0)
            stats->quarantined++;
        else
            stats->failed++;
    }
out:
    g_string_free(buf, TRUE);
    return rc;
}

/* ---- mbox ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/*
 * Take PATH.lock the way mail delivery agents do (O_EXCL create).  A lock
 * older than DOTLOCK_STALE_SECONDS is stale and removed.  Returns 1 when
 * taken, 0 when the directory does not allow dot-locking (fcntl alone
 * then), -1 (SUP_ERR_TEMP) when someone else holds it.
 */
static int dotlock_take(const char *lock, SUP_ERR *err)
{
    for (int attempt = 0; attempt < LOCK_TRIES; attempt++) {
        int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        struct stat st;

        if (fd >= 0) {
            char pid[32];

            snprintf(pid, sizeof(pid), "%ld\n", (long) getpid());
            (void) write_all(fd, pid, strlen(pid));
            close(fd);
            return 1;
        }
        if (errno == EACCES || errno == EPERM || errno == EROFS) {
            log_debug("%s: cannot dot-lock (%s), relying on fcntl locking", lock, strerror(errno));
            return 0;
        }
        if (errno != EEXIST)
            return sup_err_set(err, errno_class(errno), "%s: cannot create lock: %s", lock, strerror(errno));
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

/* One message of an mbox: [start, end) of the file, From_ line included. */
struct mbox_msg {
    size_t start;
    size_t end;
    bool keep;
};

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
static GArray *mbox_split(const char *data, size_t len)
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
static GString *mbox_message_text(const char *data, const struct mbox_msg *m)
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

/* Write the kept messages to a temp file next to path and rename it over. */
static int mbox_rewrite(const char *path, const struct stat *st, const char *data,
                        GArray *msgs, SUP_ERR *err)
{
    char *tmp = g_strdup_printf("%s.suppress-ingest.%ld.tmp", path, (long) getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = -1;

    if (fd < 0) {
        sup_err_set(err, errno_class(errno), "%s: cannot create %s to rewrite the mailbox: %s",
                    path, tmp, strerror(errno));
        g_free(tmp);
        return -1;
    }
    for (guint i = 0; i < msgs->len; i++) {
        const struct mbox_msg *m = &g_array_index(msgs, struct mbox_msg, i);

        if (m->keep && write_all(fd, data + m->start, m->end - m->start) < 0)
            goto write_error;
    }
    /* Same owner and mode as the mailbox (ignore EPERM: not root). */
    if (fchown(fd, st->st_uid, st->st_gid) < 0 && errno != EPERM)
        goto write_error;
    if (fchmod(fd, st->st_mode & 07777) < 0)
        goto write_error;
    rc = commit_temp_file(fd, tmp, path, err);
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

/* A committed mbox message is left out when the mbox is rewritten. */
static void mbox_done(void *runp, void *item, enum ingest_outcome outcome, const SUP_ERR *err)
{
    struct mbox_msg *m = item;

    if (count_outcome(runp, outcome, err))
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
        note_error(first, &one);
        go_on = false;          /* store busy: everything left stays */
        goto out;
    }
    if (ctx->dry_run || outcome == INGEST_QUEUED)
        goto out;
    if (outcome == INGEST_DEFERRED) {
        note_error(first, &one);
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
        note_error(first, &one);
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
    struct mailbox_run run = { stats, first };
    INGEST_BATCH *batch = ingest_batch_new(ctx, mbox_done, &run);
    bool go_on = true;
    SUP_ERR one;

    if (batch == NULL) {
        sup_err_set(&one, SUP_ERR_SOFTWARE, "%s: out of memory", path);
        note_error(first, &one);
        return;
    }
    for (guint i = 0; i < msgs->len && go_on; i++)
        go_on = mbox_message(ctx, batch, path, data, &g_array_index(msgs, struct mbox_msg, i),
                             i + 1, stats, first);
    if (go_on && ingest_batch_flush(batch, &one) < 0)
        note_error(first, &one);
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
        sup_err_set(err, errno_class(errno), "%s: cannot open mailbox: %s", path, strerror(errno));
        g_free(lock);
        return -1;
    }
    if (!ctx->dry_run) {
        if ((dotlocked = dotlock_take(lock, err)) < 0)
            goto out;
        if (fcntl_lock(fd, path, err) < 0)
            goto out;
    }
    if (fstat(fd, &st) < 0) {
        sup_err_set(err, SUP_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (read_file(path, 0, &data, &len, err) < 0)
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

/* ---- files named on the command line ---- */

/* One message of a file that is only read: a bad one is copied to the quarantine. */
static int process_data(INGEST_CTX *ctx, const char *name, const char *data, size_t len,
                        MAILBOX_STATS *stats, SUP_ERR *err)
{
    enum ingest_outcome outcome;
    char reason[SUP_ERR_TEXT_MAX];

    if (ingest_message(ctx, name, data, len, &outcome, err) < 0) {
        stats->deferred++;
        return -1;
    }
    if (ctx->dry_run)
        return 0;
    if (outcome == INGEST_APPLIED || outcome == INGEST_DUPLICATE) {
        if (outcome == INGEST_APPLIED)
            stats->applied++;
        else
            stats->duplicates++;
        return 0;
    }
    snprintf(reason, sizeof(reason), "%s", err->text);
    if (mailbox_quarantine_data(quarantine_dir(ctx), name, data, len, reason, NULL, err) < 0) {
        stats->failed++;
        return -1;
    }
    stats->quarantined++;
    return 0;
}

/*
 * A file given by name is never changed.  One that holds several messages
 * in mbox format (an export, a saved folder) is read message by message;
 * every message is reported under the file's name.
 */
int mailbox_process_file(INGEST_CTX *ctx, const char *path, MAILBOX_STATS *stats, SUP_ERR *err)
{
    SUP_ERR first = { SUP_OK, "" };
    char *data;
    size_t len;
    GArray *msgs = NULL;

    if (read_file(path, 0, &data, &len, err) < 0) {
        stats->failed++;
        return -1;
    }
    if (len >= 5 && memcmp(data, "From ", 5) == 0)
        msgs = mbox_split(data, len);
    if (msgs == NULL || msgs->len < 2) {
        int rc = process_data(ctx, path, data, len, stats, err);

        if (msgs != NULL)
            g_array_free(msgs, TRUE);
        free(data);
        return rc;
    }
    for (guint i = 0; i < msgs->len; i++) {
        GString *text = mbox_message_text(data, &g_array_index(msgs, struct mbox_msg, i));
        SUP_ERR one;
        int rc = process_data(ctx, path, text->str, text->len, stats, &one);

        g_string_free(text, TRUE);
        if (rc < 0) {
            note_error(&first, &one);
            if (one.cls == SUP_ERR_TEMP)
                break;
        }
    }
    g_array_free(msgs, TRUE);
    free(data);
    if (first.cls != SUP_OK) {
        *err = first;
        return -1;
    }
    return 0;
}
