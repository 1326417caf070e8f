/*
 * mailbox/quarantine.c: where the messages go that suppress-ingest cannot
 * use (mailbox.h mailbox_quarantine_*, mailbox_int.h).
 *
 * Offers main() and the mailbox loops one rule: nothing is ever deleted
 * that was not processed.  A message that is no report, or malformed, or
 * over a limit is written (or moved) into a plain directory, through a
 * temporary file so no half message appears, with NAME.reason saying
 * where it came from, when, and why.  A file moved there (Maildir) keeps
 * a Maildir-style unique name; a message written there whole is named by
 * its SHA-256, so quarantining it again after a crash makes no copy.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "duration.h"
#include "log.h"
#include "mailbox.h"
#include "mailbox_int.h"

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
        return sup_err_set(err, mailbox_errno_class(errno), "quarantine %s: cannot create: %s", dir,
                           strerror(errno));
    return 0;
}

/* Write data to dir/name through a temporary file, so no half file appears. */
static int write_new_file(const char *dir, const char *name, const char *data, size_t len,
                          int stream_fd, SUP_ERR *err)
{
    char *tmp = g_strdup_printf("%s/.%s.%ld.tmp", dir, name, (long) getpid());
    char *final = g_strdup_printf("%s/%s", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    int rc = -1;

    if (fd < 0) {
        sup_err_set(err, mailbox_errno_class(errno), "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    if (mailbox_write_all(fd, data, len) < 0)
        goto write_error;
    /* The rest of a stream (an over-long message on stdin). */
    while (stream_fd >= 0) {
        char buf[65536];
        ssize_t n = read(stream_fd, buf, sizeof(buf));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || (n > 0 && mailbox_write_all(fd, buf, (size_t) n) < 0))
            goto write_error;
        if (n == 0)
            break;
    }
    rc = mailbox_commit_temp_file(fd, tmp, final, err);
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

int mailbox_quarantine_stream(const char *dir, const char *source, const char *raw, size_t len,
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

/*
 * A message given whole is named by its content, "sha256-HEX": when a run
 * is killed after quarantining a message of an mbox (or of a file, or of
 * stdin) but before removing it there, the next run finds the copy it
 * made and does not make a second one.
 */
int mailbox_quarantine_data(const char *dir, const char *source, const char *raw, size_t len,
                            const char *reason, char **name_out, SUP_ERR *err)
{
    gchar *hash = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *) raw, len);
    char *name = g_strdup_printf("sha256-%s", hash);
    char *path = g_strdup_printf("%s/%s", dir, name);
    int rc = -1;

    g_free(hash);
    if (ensure_dir(dir, err) < 0)
        goto out;
    if (access(path, F_OK) == 0) {
        log_warn("%s: already quarantined as %s: %s", source, path, reason);
    } else {
        if (write_new_file(dir, name, raw, len, -1, err) < 0)
            goto out;
        write_reason(dir, name, source, reason);
        log_warn("%s: quarantined as %s: %s", source, path, reason);
    }
    if (name_out != NULL)
        *name_out = g_strdup(path);
    rc = 0;
out:
    g_free(name);
    g_free(path);
    return rc;
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
        return sup_err_set(err, mailbox_errno_class(errno), "%s: cannot move to quarantine %s: %s",
                           path, dir, strerror(errno));
    /* Another file system: copy, then remove the original. */
    if (mailbox_read_file(path, 0, &data, &len, err) < 0)
        return -1;
    if (mailbox_quarantine_stream(dir, path, data, len, -1, reason, NULL, err) < 0) {
        free(data);
        return -1;
    }
    free(data);
    if (unlink(path) < 0)
        log_warn("%s: quarantined copy made but the original could not be removed: %s",
                 path, strerror(errno));
    return 0;
}
