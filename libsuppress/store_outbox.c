/*
 * store_outbox.c: a replica's outbox, the spool directory beside its
 * store where batches for the master wait (store_outbox.h).  Written
 * by the milter's statistics writer (store_outbox_put), emptied by its
 * shipping thread (oldest, done, set_aside), read by suppressctl status
 * (store_outbox_status).  Plain files and fsync: nothing here needs the
 * store to be open, and what is in the outbox survives a crash of the
 * milter, of the host, or a store rebuilt from the master.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "store_outbox.h"

#define SEQ_RESERVE 64          /* numbers reserved per write of the high-water mark */
#define SUFFIX_BATCH ".batch"
#define SUFFIX_BAD ".bad"

struct store_outbox {
    char dir[PATH_MAX];
    int dirfd;
    unsigned char site[STORE_SITE_ID_BYTES];
    uint64_t next_seq;          /* the next number to use */
    uint64_t reserved;          /* numbers below this may be used (persisted) */
    uint64_t max_bytes;
    uint64_t bytes;             /* of the batches waiting */
    unsigned long dropped;
    pthread_mutex_t lock;       /* the writer puts while the shipper takes */
};

static int io_fail(SUP_ERR *err, const char *dir, const char *name, const char *what)
{
    return sup_err_set(err, SUP_ERR_IO, "outbox %s: %s%s%s: %s", dir, what, name ? " " : "",
                       name ? name : "", strerror(errno));
}

/* Write a small file atomically: temporary, fsync, rename, fsync dir. */
static int write_file(STORE_OUTBOX *ob, const char *name, const void *data, size_t len,
                      SUP_ERR *err)
{
    char tmp[64];
    const unsigned char *p = data;
    int fd;

    snprintf(tmp, sizeof(tmp), ".tmp-%s", name);
    if ((fd = openat(ob->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
        return io_fail(err, ob->dir, tmp, "cannot create");
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = ENOSPC;
            io_fail(err, ob->dir, tmp, "cannot write");
            close(fd);
            (void) unlinkat(ob->dirfd, tmp, 0);
            return -1;
        }
        p += n;
        len -= (size_t) n;
    }
    if (fsync(fd) < 0) {
        io_fail(err, ob->dir, tmp, "cannot fsync");
        close(fd);
        (void) unlinkat(ob->dirfd, tmp, 0);
        return -1;
    }
    close(fd);
    if (renameat(ob->dirfd, tmp, ob->dirfd, name) < 0) {
        io_fail(err, ob->dir, name, "cannot rename into");
        (void) unlinkat(ob->dirfd, tmp, 0);
        return -1;
    }
    if (fsync(ob->dirfd) < 0)
        return io_fail(err, ob->dir, NULL, "cannot fsync the directory");
    return 0;
}

/* Read a whole file (at most max bytes) into a malloc'd buffer, NUL added. */
static int read_file(int dirfd, const char *dir, const char *name, size_t max,
                     unsigned char **out, size_t *len, SUP_ERR *err)
{
    struct stat sb;
    unsigned char *buf;
    size_t got = 0;
    int fd;

    if ((fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : io_fail(err, dir, name, "cannot open");
    if (fstat(fd, &sb) < 0 || (uint64_t) sb.st_size > max) {
        if (errno == 0 || (uint64_t) sb.st_size > max)
            errno = EFBIG;
        io_fail(err, dir, name, "cannot read");
        close(fd);
        return -1;
    }
    if ((buf = malloc((size_t) sb.st_size + 1)) == NULL) {
        close(fd);
        return sup_err_set(err, SUP_ERR_IO, "out of memory reading outbox %s/%s", dir, name);
    }
    while (got < (size_t) sb.st_size) {
        ssize_t n = read(fd, buf + got, (size_t) sb.st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close(fd);
    if (got != (size_t) sb.st_size) {
        free(buf);
        errno = EIO;
        return io_fail(err, dir, name, "cannot read all of");
    }
    buf[got] = '\0';
    *out = buf;
    *len = got;
    return 1;
}

/* A number kept in a small file; 0 when the file is absent. */
static int read_number(int dirfd, const char *dir, const char *name, uint64_t *v, SUP_ERR *err)
{
    unsigned char *buf = NULL;
    size_t len;
    char *end;
    int rc;

    *v = 0;
    if ((rc = read_file(dirfd, dir, name, 64, &buf, &len, err)) <= 0)
        return rc;
    errno = 0;
    *v = strtoull((char *) buf, &end, 10);
    rc = errno == 0 && end != (char *) buf && (*end == '\n' || *end == '\0');
    free(buf);
    if (!rc)
        return sup_err_set(err, SUP_ERR_IO, "outbox %s: %s does not hold a number", dir, name);
    return 1;
}

static int write_number(STORE_OUTBOX *ob, const char *name, uint64_t v, SUP_ERR *err)
{
    char text[32];
    int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", v);

    return write_file(ob, name, text, (size_t) n, err);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* The site id: read it, or make it once. */
static int load_site_id(STORE_OUTBOX *ob, SUP_ERR *err)
{
    unsigned char *buf = NULL;
    char hex[2 * STORE_SITE_ID_BYTES + 2];
    size_t len;
    int rc;

    if ((rc = read_file(ob->dirfd, ob->dir, "site-id", 128, &buf, &len, err)) < 0)
        return -1;
    if (rc == 1) {
        for (int i = 0; i < STORE_SITE_ID_BYTES; i++) {
            int hi = len >= 2 * STORE_SITE_ID_BYTES ? hex_value(buf[2 * i]) : -1;
            int lo = hi >= 0 ? hex_value(buf[2 * i + 1]) : -1;

            if (lo < 0) {
                free(buf);
                return sup_err_set(err, SUP_ERR_IO, "outbox %s: site-id is not %d hex digits",
                                   ob->dir, 2 * STORE_SITE_ID_BYTES);
            }
            ob->site[i] = (unsigned char) (hi << 4 | lo);
        }
        free(buf);
        return 0;
    }
    if (getrandom(ob->site, sizeof(ob->site), 0) != (ssize_t) sizeof(ob->site))
        return io_fail(err, ob->dir, NULL, "cannot draw a random site id");
    store_site_id_hex(ob->site, hex);
    strcat(hex, "\n");
    return write_file(ob, "site-id", hex, strlen(hex), err);
}

/* A batch file's sequence number, or 0 when name is not one of suffix. */
static uint64_t name_seq(const char *name, const char *suffix)
{
    size_t len = strlen(name), slen = strlen(suffix);
    uint64_t v = 0;

    if (len != 16 + slen || strcmp(name + 16, suffix) != 0)
        return 0;
    for (int i = 0; i < 16; i++) {
        int d = hex_value((unsigned char) name[i]);

        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t) d;
    }
    return v;
}

static void batch_name(char *buf, size_t len, uint64_t seq, const char *suffix)
{
    snprintf(buf, len, "%016" PRIx64 "%s", seq, suffix);
}

/*
 * Walk the directory: the number and bytes of the batches waiting, the
 * oldest's number (0: none) and mtime, the highest number seen (.bad
 * too), and the .bad files.
 */
struct scan {
    unsigned long batches, bad;
    uint64_t bytes, oldest_seq, highest;
    time_t oldest_time;
};

static int scan_dir(int dirfd, const char *dir, struct scan *s, SUP_ERR *err)
{
    DIR *d;
    struct dirent *de;
    int fd = dup(dirfd);

    memset(s, 0, sizeof(*s));
    if (fd < 0 || (d = fdopendir(fd)) == NULL) {
        if (fd >= 0)
            close(fd);
        return io_fail(err, dir, NULL, "cannot list");
    }
    rewinddir(d);
    while ((de = readdir(d)) != NULL) {
        uint64_t seq = name_seq(de->d_name, SUFFIX_BATCH), bad = name_seq(de->d_name, SUFFIX_BAD);
        struct stat sb;

        if (bad > 0) {
            s->bad++;
            if (bad > s->highest)
                s->highest = bad;
        }
        if (seq == 0 || fstatat(dirfd, de->d_name, &sb, 0) < 0)
            continue;
        s->batches++;
        s->bytes += (uint64_t) sb.st_size;
        if (seq > s->highest)
            s->highest = seq;
        if (s->oldest_seq == 0 || seq < s->oldest_seq) {
            s->oldest_seq = seq;
            s->oldest_time = sb.st_mtime;
        }
    }
    closedir(d);
    return 0;
}

static int open_dir(const char *store_dir, bool create, char *path, size_t len, SUP_ERR *err)
{
    int fd;

    if ((size_t) snprintf(path, len, "%s/%s", store_dir, STORE_OUTBOX_DIR) >= len)
        return sup_err_set(err, SUP_ERR_INPUT, "store path too long: %s", store_dir);
    if (create && mkdir(path, 0700) < 0 && errno != EEXIST)
        return io_fail(err, path, NULL, "cannot create the directory");
    if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return errno == ENOENT && !create ? -2 : io_fail(err, path, NULL, "cannot open");
    return fd;
}

int store_outbox_open(const char *store_dir, uint64_t max_bytes, STORE_OUTBOX **out,
                      SUP_ERR *err)
{
    STORE_OUTBOX *ob = calloc(1, sizeof(*ob));
    struct scan s;
    uint64_t v;

    *out = NULL;
    if (ob == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory opening the outbox");
    ob->max_bytes = max_bytes;
    pthread_mutex_init(&ob->lock, NULL);
    if ((ob->dirfd = open_dir(store_dir, true, ob->dir, sizeof(ob->dir), err)) < 0
        || load_site_id(ob, err) < 0
        || read_number(ob->dirfd, ob->dir, "seq", &ob->reserved, err) < 0
        || read_number(ob->dirfd, ob->dir, "dropped", &v, err) < 0
        || scan_dir(ob->dirfd, ob->dir, &s, err) < 0) {
        store_outbox_close(ob);
        return -1;
    }
    ob->dropped = (unsigned long) v;
    /* Never a number used before: past the mark, and past every file
     * (a mark written by hand, or lost with a restore, cannot go back). */
    ob->next_seq = ob->reserved > s.highest ? ob->reserved : s.highest + 1;
    if (ob->next_seq == 0)
        ob->next_seq = 1;
    ob->reserved = ob->next_seq;
    ob->bytes = s.bytes;
    *out = ob;
    return 0;
}

void store_outbox_close(STORE_OUTBOX *ob)
{
    if (ob == NULL)
        return;
    if (ob->dirfd >= 0)
        close(ob->dirfd);
    pthread_mutex_destroy(&ob->lock);
    free(ob);
}

void store_outbox_set_max(STORE_OUTBOX *ob, uint64_t max_bytes)
{
    pthread_mutex_lock(&ob->lock);
    ob->max_bytes = max_bytes;
    pthread_mutex_unlock(&ob->lock);
}

const unsigned char *store_outbox_site(const STORE_OUTBOX *ob)
{
    return ob->site;
}

/* The next sequence number, its high-water mark on disk first. */
static int take_seq(STORE_OUTBOX *ob, uint64_t *seq, SUP_ERR *err)
{
    if (ob->next_seq >= ob->reserved) {
        if (write_number(ob, "seq", ob->next_seq + SEQ_RESERVE, err) < 0)
            return -1;
        ob->reserved = ob->next_seq + SEQ_RESERVE;
    }
    *seq = ob->next_seq++;
    return 0;
}

int store_outbox_put(STORE_OUTBOX *ob, const STORE_BATCH *b, SUP_ERR *err)
{
    unsigned char *buf = NULL;
    char name[32];
    uint64_t seq;
    size_t len;
    int rc = 0;

    pthread_mutex_lock(&ob->lock);
    if (take_seq(ob, &seq, err) < 0
        || store_batch_encode(b, ob->site, seq, time(NULL), &buf, &len, err) < 0) {
        rc = -1;
    } else if (ob->bytes + len > ob->max_bytes) {
        /* Its number is not used again: numbers need only grow. */
        ob->dropped++;
        rc = write_number(ob, "dropped", ob->dropped, err) < 0 ? -1 : 1;
    } else {
        batch_name(name, sizeof(name), seq, SUFFIX_BATCH);
        if ((rc = write_file(ob, name, buf, len, err)) == 0)
            ob->bytes += len;
    }
    pthread_mutex_unlock(&ob->lock);
    free(buf);
    return rc;
}

int store_outbox_oldest(STORE_OUTBOX *ob, unsigned char **buf, size_t *len, uint64_t *seq,
                        SUP_ERR *err)
{
    struct scan s;
    char name[32];
    int rc;

    pthread_mutex_lock(&ob->lock);
    rc = scan_dir(ob->dirfd, ob->dir, &s, err);
    if (rc == 0)
        ob->bytes = s.bytes;
    pthread_mutex_unlock(&ob->lock);
    if (rc < 0)
        return -1;
    if (s.oldest_seq == 0)
        return 0;
    batch_name(name, sizeof(name), s.oldest_seq, SUFFIX_BATCH);
    if ((rc = read_file(ob->dirfd, ob->dir, name, STORE_BATCH_MAX_BYTES + 4096, buf, len, err)) <= 0)
        return rc;
    *seq = s.oldest_seq;
    return 1;
}

int store_outbox_done(STORE_OUTBOX *ob, uint64_t seq, SUP_ERR *err)
{
    char name[32];

    batch_name(name, sizeof(name), seq, SUFFIX_BATCH);
    if (unlinkat(ob->dirfd, name, 0) < 0 && errno != ENOENT)
        return io_fail(err, ob->dir, name, "cannot delete");
    /* If this is lost in a crash the batch goes again, and the master
     * answers it is a duplicate. */
    (void) fsync(ob->dirfd);
    return 0;
}

int store_outbox_set_aside(STORE_OUTBOX *ob, uint64_t seq, SUP_ERR *err)
{
    char name[32], bad[32];

    batch_name(name, sizeof(name), seq, SUFFIX_BATCH);
    batch_name(bad, sizeof(bad), seq, SUFFIX_BAD);
    if (renameat(ob->dirfd, name, ob->dirfd, bad) < 0)
        return io_fail(err, ob->dir, name, "cannot set aside");
    if (fsync(ob->dirfd) < 0)
        return io_fail(err, ob->dir, NULL, "cannot fsync the directory");
    return 0;
}

int store_outbox_status(const char *store_dir, struct store_outbox_status *st, SUP_ERR *err)
{
    char path[PATH_MAX];
    unsigned char *buf = NULL;
    struct scan s;
    uint64_t v;
    size_t len;
    int fd, rc;

    memset(st, 0, sizeof(*st));
    if ((fd = open_dir(store_dir, false, path, sizeof(path), err)) == -2)
        return 0;
    if (fd < 0)
        return -1;
    st->exists = true;
    if ((rc = scan_dir(fd, path, &s, err)) == 0)
        rc = read_number(fd, path, "dropped", &v, err);
    if (rc >= 0 && (rc = read_file(fd, path, "site-id", 128, &buf, &len, err)) == 1) {
        if (len >= 2 * STORE_SITE_ID_BYTES)
            memcpy(st->site, buf, 2 * STORE_SITE_ID_BYTES);
        free(buf);
    }
    close(fd);
    if (rc < 0)
        return -1;
    st->batches = s.batches;
    st->bytes = s.bytes;
    st->oldest = s.oldest_time;
    st->dropped = (unsigned long) v;
    st->set_aside = s.bad;
    return 0;
}
