/*
 * mailbox/stdin.c: one message on standard input, as Postfix's pipe
 * transport delivers it (mailbox.h mailbox_process_stdin).
 *
 * Offers main() the single-message path: read it all (up to the size
 * limit), ingest it, and quarantine it as a new file when it cannot be
 * used; an over-long message is quarantined whole, streamed from stdin.
 * A temporary failure is returned, so Postfix keeps the message queued.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include "mailbox.h"
#include "mailbox_int.h"

/* ---- stdin (Postfix pipe) ---- */

int mailbox_process_stdin(INGEST_CTX *ctx, MAILBOX_STATS *stats, SUP_ERR *err)
{
    GString *buf = g_string_new(NULL);
    size_t max = max_size(ctx);
    enum ingest_outcome outcome;
    bool too_large = false;
    int rc = 0;
    /* For the .reason file: which delivery this was (the pipe's -r). */
    char *source = ctx->envelope_recipient != NULL
                   ? g_strdup_printf("stdin, delivered to <%s>", ctx->envelope_recipient)
                   : g_strdup("stdin");

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
        rc = mailbox_quarantine_stream(quarantine_dir(ctx), source, buf->str, buf->len, STDIN_FILENO,
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

        /* Not a report, unusable, or not believed (its events are committed). */
        if (outcome == INGEST_UNVERIFIED)
            stats->unverified++;
        snprintf(reason, sizeof(reason), "%s", err->text);
        rc = mailbox_quarantine_data(quarantine_dir(ctx), source, buf->str, buf->len, reason, NULL, err);
        if (rc == 0)
            stats->quarantined++;
        else
            stats->failed++;
    }
out:
    g_free(source);
    g_string_free(buf, TRUE);
    return rc;
}
