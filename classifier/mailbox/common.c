/*
 * mailbox/common.c: what the mailbox loops share (mailbox_int.h).
 *
 * Offers maildir.c, mbox.c, stdin.c, files.c and quarantine.c the file
 * work they all do (read a whole file, write all of a buffer, finish a
 * write through a temporary file with fsync and rename, an errno as an
 * error class) and the bookkeeping of a run: the first error is kept for
 * the exit code, the others are logged, and the outcomes of committed
 * messages are counted.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "mailbox_int.h"

/* ---- small file helpers ---- */

int mailbox_write_all(int fd, const char *data, size_t len)
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

enum sup_err_class mailbox_errno_class(int e)
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
int mailbox_read_file(const char *path, size_t max, char **data, size_t *len, SUP_ERR *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    size_t have = 0;
    char *buf;

    *data = NULL;
    *len = 0;
    if (fd < 0)
        return sup_err_set(err, mailbox_errno_class(errno), "%s: cannot open: %s", path, strerror(errno));
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

/*
 * The end of every write through a temporary file: make it durable, close
 * it and rename it to final, so that no half-written file ever appears
 * there.  On failure the temporary file is removed.  Closes fd either way.
 */
int mailbox_commit_temp_file(int fd, const char *tmp, const char *final, SUP_ERR *err)
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
        return sup_err_set(err, mailbox_errno_class(saved), "%s: cannot rename to %s: %s", tmp, final,
                           strerror(saved));
    }
    return 0;
}

/* ---- a run over a mailbox ---- */

/* Keep the first error: the caller reports it and it decides the exit
 * code.  Later ones are logged here, so each is logged once (a busy store
 * once for all the messages it holds back). */
void mailbox_note_error(SUP_ERR *first, const SUP_ERR *err)
{
    if (first->cls == SUP_OK)
        *first = *err;
    else if (!(first->cls == SUP_ERR_TEMP && err->cls == SUP_ERR_TEMP))
        log_error("%s", err->text);
}

/* Count a committed or deferred message; true if it was committed. */
bool mailbox_count_outcome(struct mailbox_run *run, enum ingest_outcome outcome, const SUP_ERR *err)
{
    switch (outcome) {
    case INGEST_APPLIED:
        run->stats->applied++;
        return true;
    case INGEST_DUPLICATE:
        run->stats->duplicates++;
        return true;
    case INGEST_UNVERIFIED:
        run->stats->unverified++;
        return true;
    default:
        run->stats->deferred++;
        mailbox_note_error(run->first, err);
        return false;
    }
}

bool mailbox_quarantine_unverified(struct mailbox_run *run, const char *source, const char *raw,
                                   size_t len, const SUP_ERR *err)
{
    SUP_ERR qerr;

    if (mailbox_quarantine_data(run->quarantine, source, raw, len, err->text, NULL, &qerr) < 0) {
        log_error("%s: not believed, and cannot be quarantined (it stays): %s", source, qerr.text);
        run->stats->failed++;
        return false;
    }
    run->stats->quarantined++;
    return true;
}
