/*
 * mailbox/files.c: files named on the command line (mailbox.h
 * mailbox_process_file).
 *
 * Offers main() the read-only path: a file given by name is never
 * changed; a message that cannot be used is copied to the quarantine.
 * A file in mbox format (an export, a saved folder) is read message by
 * message with mbox.c's splitter.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "mailbox.h"
#include "mailbox_int.h"

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
    /* Not a report, unusable, or not believed (its events are committed). */
    if (outcome == INGEST_UNVERIFIED)
        stats->unverified++;
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

    if (mailbox_read_file(path, 0, &data, &len, err) < 0) {
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
            mailbox_note_error(&first, &one);
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
