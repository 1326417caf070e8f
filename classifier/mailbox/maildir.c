/*
 * mailbox/maildir.c: a Maildir's messages through the ingest (mailbox.h
 * mailbox_process_maildir).
 *
 * Offers main() the Maildir loop: new/ then cur/, in delivery order, many
 * messages per store transaction (ingest_batch_*()).  A message file is
 * unlinked only after its effects are committed, or moved to the
 * quarantine; when the store is busy the rest stay for the next run.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "log.h"
#include "mailbox.h"
#include "mailbox_int.h"

/* ---- one message from a file ---- */

/* A committed Maildir message goes away: deleted, or into the quarantine
 * when it was not believed. */
static void maildir_done(void *runp, void *item, enum ingest_outcome outcome, const SUP_ERR *err)
{
    struct mailbox_run *run = runp;
    const char *path = item;
    SUP_ERR qerr;

    if (!mailbox_count_outcome(run, outcome, err))
        return;
    if (outcome == INGEST_UNVERIFIED) {
        if (mailbox_quarantine_file(run->quarantine, path, err->text, &qerr) == 0) {
            run->stats->quarantined++;
        } else {
            log_error("%s: not believed, and cannot be quarantined (it stays): %s", path, qerr.text);
            run->stats->failed++;
        }
        return;
    }
    if (unlink(path) < 0)
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

    rc = mailbox_read_file(path, max_size(ctx), &data, &len, err);
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
        sup_err_set(err, mailbox_errno_class(errno), "%s: cannot open Maildir folder: %s", path,
                    strerror(errno));
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
    struct mailbox_run run = { stats, &first, quarantine_dir(ctx) };
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
                mailbox_note_error(&first, &one);
                /* The store is busy: leave the rest for the next run too. */
                stop = one.cls == SUP_ERR_TEMP;
            }
        }
        /* The file names are the batch's: commit before they go. */
        if (!stop && ingest_batch_flush(batch, &one) < 0) {
            mailbox_note_error(&first, &one);
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
