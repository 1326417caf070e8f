/*
 * mailbox_int.h: what the mailbox loops share (mailbox/ only).
 *
 * common.c: whole-file reads, complete writes, the temporary-file commit,
 * errno as an error class, and a run's first error and outcome counts;
 * quarantine.c: the quarantine writer the loops and stdin.c call; mbox.c:
 * the mbox splitter files.c uses for a named file in mbox format.
 */
#ifndef MAILBOX_INT_H
#define MAILBOX_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <glib.h>

#include "ingest.h"
#include "mailbox.h"
#include "sup_err.h"

/* ---- files (common.c) ---- */

/* Write all of data[0..len) to fd (EINTR retried).  0 or -1 (errno). */
int mailbox_write_all(int fd, const char *data, size_t len);
/* The error class of an errno value (EACCES: SUP_ERR_NOPERM...). */
enum sup_err_class mailbox_errno_class(int e);
/*
 * Read the whole file.  Returns 0; 1 if it is larger than max (not read,
 * *len set to its size); -1 with err set (SUP_ERR_NOTFOUND: there is no
 * such file, or it is no regular file).
 */
int mailbox_read_file(const char *path, size_t max, char **data, size_t *len, SUP_ERR *err);
/* fsync, close and rename tmp to final; removes tmp on failure.  Closes fd. */
int mailbox_commit_temp_file(int fd, const char *tmp, const char *final, SUP_ERR *err);

/* ---- a run over a mailbox (common.c) ---- */

static inline const char *quarantine_dir(const INGEST_CTX *ctx)
{
    return ctx->cfg->ingest.quarantine;
}

static inline size_t max_size(const INGEST_CTX *ctx)
{
    return ctx->cfg->ingest.max_message_size > 0 ? (size_t) ctx->cfg->ingest.max_message_size : 0;
}

/* Keep the first error in *first; log the later ones (a busy store once). */
void mailbox_note_error(SUP_ERR *first, const SUP_ERR *err);

/* Where the outcomes of a mailbox's queued messages are counted. */
struct mailbox_run {
    MAILBOX_STATS *stats;
    SUP_ERR *first;
    const char *quarantine;     /* where a committed but unbelieved report goes */
};

/* Count a committed or deferred message; true if it was committed. */
bool mailbox_count_outcome(struct mailbox_run *run, enum ingest_outcome outcome, const SUP_ERR *err);
/* A committed report that was not believed: raw into the quarantine with
 * err's reason (counted); true when it is there. */
bool mailbox_quarantine_unverified(struct mailbox_run *run, const char *source, const char *raw,
                                   size_t len, const SUP_ERR *err);

/* ---- the quarantine (quarantine.c) ---- */

/* mailbox_quarantine_data(), and then the rest of stream_fd (-1: none):
 * an over-long message on stdin is kept whole. */
int mailbox_quarantine_stream(const char *dir, const char *source, const char *raw, size_t len,
                              int stream_fd, const char *reason, char **name_out, SUP_ERR *err);

/* ---- mbox format (mbox.c) ---- */

/* One message of an mbox: [start, end) of the file, From_ line included. */
struct mbox_msg {
    size_t start;
    size_t end;
    bool keep;
};

/* The messages of an mbox's data (struct mbox_msg, all kept). */
GArray *mbox_split(const char *data, size_t len);
/* The message without its From_ line and separator, ">From " unquoted (mboxrd). */
GString *mbox_message_text(const char *data, const struct mbox_msg *m);

#endif
