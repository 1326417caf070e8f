/*
 * ingest.c: one message through the pipeline (ingest.h).
 *
 *   raw -> message_parse -> detect_report -> classify_report
 *       -> dry run: print;  else: policy_apply in one store transaction
 *
 * Offers mailbox.c and main() the unit of work: a message either has all
 * its effects committed (and is remembered as seen, so processing it again
 * changes nothing) or none, and the caller learns whether to delete it,
 * quarantine it, or leave it for a retry.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "classify.h"
#include "detector.h"
#include "duration.h"
#include "ingest.h"
#include "log.h"
#include "message.h"
#include "policy.h"
#include "store.h"

/* Deadlocked transactions are retried this many times before EX_TEMPFAIL. */
#define INGEST_TXN_ATTEMPTS 3
/* Message-IDs longer than this are remembered by their hash. */
#define MESSAGE_ID_KEY_MAX 200

/*
 * The identity of a bounce for idempotency: its Message-ID when it has
 * one, else the SHA-256 of the raw message.  g_malloc'd.
 */
static char *message_key(const BOUNCE_MSG *msg, const char *raw, size_t len)
{
    const char *mid = bmsg_header(msg, "Message-ID");
    char *key;

    if (mid != NULL) {
        char *id = g_strstrip(g_strdup(mid));

        if (*id != '\0' && strlen(id) <= MESSAGE_ID_KEY_MAX) {
            key = g_strdup_printf("mid:%s", id);
            g_free(id);
            return key;
        }
        g_free(id);
    }
    key = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *) raw, len);
    char *prefixed = g_strdup_printf("sha256:%s", key);
    g_free(key);
    return prefixed;
}

/* parse -> detect -> classify.  -1 (err: SUP_ERR_INPUT) if unparseable. */
static int analyze(INGEST_CTX *ctx, const char *name, const char *raw, size_t len,
                   BOUNCE_MSG *msg, BOUNCE_REPORT *report, SUP_ERR *err)
{
    MESSAGE_LIMITS limits = { 0, 0 };

    if (ctx->cfg != NULL) {
        limits.max_size = ctx->cfg->ingest.max_message_size > 0
            ? (size_t) ctx->cfg->ingest.max_message_size : 0;
        limits.max_depth = ctx->cfg->ingest.max_mime_depth;
    }
    if (message_parse(raw, len, name, ctx->envelope_recipient, &limits, msg, err) < 0)
        return -1;
    detect_report(msg, report);
    classify_report(report);
    return 0;
}

static bool report_has_address(const BOUNCE_REPORT *report)
{
    for (size_t i = 0; i < report->count; i++)
        if (report->rcpts[i].recipient != NULL && strchr(report->rcpts[i].recipient, '@') != NULL)
            return true;
    return false;
}

static void print_dry_run(INGEST_CTX *ctx, const char *name, const BOUNCE_REPORT *report)
{
    if (ctx->json) {
        output_report_json(ctx->out, name, report);
        return;
    }
    if (report->count == 0) {
        fprintf(ctx->out, "%s: not a report\n", name);
        return;
    }
    for (size_t i = 0; i < report->count; i++) {
        const BOUNCE_RCPT *r = &report->rcpts[i];

        fprintf(ctx->out, "%s: to=<%s>%s%s%s class=%s reason=%s status=%s detector=%s\n",
                name, r->recipient ? r->recipient : "",
                r->forwarded ? " orig_to=<" : "", r->forwarded && r->original_recipient ? r->original_recipient : "",
                r->forwarded ? ">" : "",
                bounce_class_name(r->cls), r->reason ? r->reason : "-",
                r->status ? r->status : "-", report->detector ? report->detector : "-");
    }
}

/* " until 2026-11-29T16:41:25Z as hard-bounce", " permanently as complaint". */
static void describe_suppression(const POLICY_DECISION *d, char *buf, size_t len)
{
    char when[32];

    if (d->action == POLICY_RECORDED) {
        buf[0] = '\0';
        return;
    }
    if (d->expires == 0)
        snprintf(buf, len, " permanently as %s", store_reason_name(d->reason));
    else
        snprintf(buf, len, " until %s as %s", time_format_iso(d->expires, when, sizeof(when)),
                 store_reason_name(d->reason));
}

/* One syslog line per recipient decision, after the commit. */
static void log_decisions(const char *name, const char *key, const BOUNCE_REPORT *report,
                          const POLICY_DECISION *decisions)
{
    for (size_t i = 0; i < report->count; i++) {
        const BOUNCE_RCPT *r = &report->rcpts[i];
        const POLICY_DECISION *d = &decisions[i];
        char what[128];

        if (d->action == POLICY_SKIPPED) {
            log_warn("%s: %s: recipient %zu has no usable address (%s), nothing recorded",
                     name, key, i + 1, r->recipient ? r->recipient : "none");
            continue;
        }
        describe_suppression(d, what, sizeof(what));
        log_info("%s: to=<%s>%s%s%s class=%s reason=%s status=%s event=%s action=%s%s",
                 name, r->recipient ? r->recipient : d->address,
                 r->forwarded ? " orig_to=<" : "", r->forwarded && r->original_recipient ? r->original_recipient : "",
                 r->forwarded ? ">" : "",
                 bounce_class_name(r->cls), r->reason ? r->reason : "-", r->status ? r->status : "-",
                 store_event_name(d->event), policy_action_name(d->action), what);
    }
}

/*
 * All of a message's store effects in one transaction, retried on
 * deadlock.  *duplicate is set when the message was seen before.
 */
static int apply_to_store(INGEST_CTX *ctx, const char *name, const char *key,
                          const BOUNCE_REPORT *report, bool *duplicate, SUP_ERR *err)
{
    POLICY_DECISION *decisions = calloc(report->count ? report->count : 1, sizeof(*decisions));
    time_t now = time(NULL);
    int rc = -1;

    if (decisions == NULL)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "%s: out of memory", name);
    for (int attempt = 1; attempt <= INGEST_TXN_ATTEMPTS; attempt++) {
        STORE_TXN *txn = NULL;
        int seen;

        sup_err_clear(err);
        if (attempt > 1)
            store_retry_delay(attempt - 1);
        if (store_begin(ctx->store, &txn, err) < 0)
            goto failed;
        if ((seen = store_seen(ctx->store, txn, key, err)) < 0) {
            store_abort(txn);
            goto failed;
        }
        if (seen == 1) {
            store_abort(txn);
            *duplicate = true;
            rc = 0;
            break;
        }
        if (policy_apply(ctx->cfg, ctx->store, txn, report, key, now, decisions, err) < 0
            || store_mark_seen(ctx->store, txn, key, now, err) < 0) {
            store_abort(txn);
            goto failed;
        }
        if (store_commit(txn, err) < 0)
            goto failed;
        *duplicate = false;
        log_decisions(name, key, report, decisions);
        for (size_t i = 0; i < report->count; i++)
            if (decisions[i].action == POLICY_SUPPRESSED || decisions[i].action == POLICY_EXTENDED)
                ctx->suppressed++;
        rc = 0;
        break;
    failed:
        if (err->cls != SUP_ERR_TEMP)
            break;
        log_debug("%s: store busy (%s), attempt %d of %d", name, err->text, attempt, INGEST_TXN_ATTEMPTS);
    }
    free(decisions);
    if (rc < 0)
        sup_err_prefix(err, "%s", name);
    return rc;
}

int ingest_message(INGEST_CTX *ctx, const char *name, const char *raw, size_t len,
                   enum ingest_outcome *outcome, SUP_ERR *err)
{
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;
    char *key = NULL;
    bool duplicate = false;
    int rc = 0;

    memset(&report, 0, sizeof(report));
    sup_err_clear(err);
    ctx->messages++;
    if (analyze(ctx, name, raw, len, &msg, &report, err) < 0) {
        if (ctx->dry_run && ctx->json)
            output_error_json(ctx->out, name, err->text);
        else if (ctx->dry_run)
            fprintf(ctx->out, "%s: %s\n", name, err->text);
        *outcome = INGEST_REJECTED;
        err->cls = SUP_ERR_INPUT;
        message_free(&msg);
        return 0;
    }
    ctx->recipients += report.count;
    if (ctx->dry_run) {
        print_dry_run(ctx, name, &report);
        *outcome = report.count > 0 ? INGEST_APPLIED : INGEST_NOT_REPORT;
        goto done;
    }
    if (report.count == 0) {
        sup_err_set(err, SUP_ERR_INPUT, "not a report (no bounce, complaint or auto-reply recognised)");
        *outcome = INGEST_NOT_REPORT;
        goto done;
    }
    if (!report_has_address(&report)) {
        sup_err_set(err, SUP_ERR_INPUT, "%s report (detector %s) names no usable recipient address",
                    report.kind == REPORT_COMPLAINT ? "complaint" : "bounce", report.detector);
        *outcome = INGEST_NOT_REPORT;
        goto done;
    }
    key = message_key(&msg, raw, len);
    if (apply_to_store(ctx, name, key, &report, &duplicate, err) < 0) {
        rc = -1;
        goto done;
    }
    if (duplicate)
        log_info("%s: %s already processed, nothing changed", name, key);
    *outcome = duplicate ? INGEST_DUPLICATE : INGEST_APPLIED;
done:
    g_free(key);
    report_clear(&report);
    message_free(&msg);
    return rc;
}
