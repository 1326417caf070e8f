/*
 * ingest.c: messages through the pipeline (ingest.h).
 *
 *   raw -> message_parse -> detect_report -> classify_report -> trust_gather
 *       -> dry run: print;  else: trust_judge, policy_apply in a store transaction
 *
 * Offers mailbox/ and main() the unit of work: a message either has all
 * its effects committed (and is remembered as seen, so processing it again
 * changes nothing) or none, and the caller learns whether to delete it,
 * quarantine it, or leave it for a retry.  A batch commits many messages
 * in one transaction: the disk flush of a durable commit costs more than
 * parsing and classifying a message, so a mailbox goes through in batches.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glib.h>

#include "decide/classify.h"
#include "detectors/detector.h"
#include "duration.h"
#include "ingest.h"
#include "log.h"
#include "parse/message.h"
#include "decide/policy.h"
#include "decide/trust.h"
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

/* The ingest.max-* keys as the parser's limits (none without a config). */
static MESSAGE_LIMITS message_limits(const struct sup_config *cfg)
{
    MESSAGE_LIMITS limits = { 0, 0, 0, 0, 0 };

    if (cfg != NULL) {
        limits.max_size = cfg->ingest.max_message_size > 0 ? (size_t) cfg->ingest.max_message_size : 0;
        limits.max_depth = cfg->ingest.max_mime_depth;
        limits.max_line = cfg->ingest.max_line_length > 0 ? (size_t) cfg->ingest.max_line_length : 0;
        limits.max_headers = cfg->ingest.max_header_count;
        limits.max_recipients = cfg->ingest.max_recipients;
    }
    return limits;
}

/*
 * parse -> detect -> classify.  -1 (err: SUP_ERR_INPUT) if unparseable or
 * past a limit: a report with more recipients than ingest.max-recipients
 * (however a detector found them) is refused whole, never cut short, so
 * that no part of it reaches the store.
 */
static int analyze(INGEST_CTX *ctx, const char *name, const char *raw, size_t len,
                   BOUNCE_MSG *msg, BOUNCE_REPORT *report, SUP_ERR *err)
{
    MESSAGE_LIMITS limits = message_limits(ctx->cfg);

    if (message_parse(raw, len, name, ctx->envelope_recipient, &limits, msg, err) < 0)
        return -1;
    detect_report(msg, report);
    if (limits.max_recipients > 0 && report->count > (size_t) limits.max_recipients) {
        sup_err_set(err, SUP_ERR_INPUT, "%s: %zu recipients in the report, more than ingest.max-recipients (%d)",
                    name, report->count, limits.max_recipients);
        report_clear(report);
        return -1;
    }
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
    if (d->scope[0] != '\0')
        snprintf(buf + strlen(buf), len - strlen(buf), " for tenant %s", d->scope);
}

/* One syslog line per recipient decision, after the commit. */
static void log_decisions(const char *name, const char *key, const BOUNCE_REPORT *report,
                          const TRUST_VERDICT *verdicts, const POLICY_DECISION *decisions)
{
    for (size_t i = 0; i < report->count; i++) {
        const BOUNCE_RCPT *r = &report->rcpts[i];
        const POLICY_DECISION *d = &decisions[i];
        char what[128 + STORE_TENANT_MAX];

        if (d->action == POLICY_SKIPPED) {
            log_warn("%s: %s: recipient %zu has no usable address (%s), nothing recorded",
                     name, key, i + 1, r->recipient ? r->recipient : "none");
            continue;
        }
        if (d->action == POLICY_UNVERIFIED) {
            log_warn("%s: to=<%s> class=%s reason=%s: not believed (%s), recorded as unverified",
                     name, d->address, bounce_class_name(r->cls), r->reason ? r->reason : "-",
                     verdicts[i].how);
            continue;
        }
        describe_suppression(d, what, sizeof(what));
        log_info("%s: to=<%s>%s%s%s class=%s reason=%s status=%s event=%s action=%s%s%s%s",
                 name, r->recipient ? r->recipient : d->address,
                 r->forwarded ? " orig_to=<" : "", r->forwarded && r->original_recipient ? r->original_recipient : "",
                 r->forwarded ? ">" : "",
                 bounce_class_name(r->cls), r->reason ? r->reason : "-", r->status ? r->status : "-",
                 store_event_name(d->event), policy_action_name(d->action), what,
                 verdicts[i].tenant[0] != '\0' ? " tenant=" : "", verdicts[i].tenant);
    }
}

/* ---- batches ---- */

/* A message whose store effects wait for the batch's transaction. */
struct pending {
    void *item;                 /* the caller's, given back in the callback */
    char *name;
    char *key;                  /* message identity (g_malloc'd) */
    BOUNCE_REPORT report;
    TRUST_EVIDENCE evidence;    /* where it came from (signature, quoted Message-ID) */
    TRUST_VERDICT *verdicts;    /* report.count of them, filled by the commit */
    POLICY_DECISION *decisions; /* report.count of them, filled by the commit */
    bool duplicate;
    bool unverified;            /* some recipient was not believed */
};

struct ingest_batch {
    INGEST_CTX *ctx;
    ingest_done_fn done;
    void *run;
    struct pending *items;
    size_t count;
    size_t alloc;
    gint64 started;             /* when the first queued message came (monotonic, us) */
};

INGEST_BATCH *ingest_batch_new(INGEST_CTX *ctx, ingest_done_fn done, void *run)
{
    INGEST_BATCH *batch = calloc(1, sizeof(*batch));

    if (batch != NULL) {
        batch->ctx = ctx;
        batch->done = done;
        batch->run = run;
    }
    return batch;
}

static void pending_free(struct pending *p)
{
    free(p->name);
    g_free(p->key);
    report_clear(&p->report);
    free(p->verdicts);
    free(p->decisions);
}

/* The trust verdicts of p's recipients, in txn (ledger lookups). */
static int judge(INGEST_CTX *ctx, STORE_TXN *txn, struct pending *p, SUP_ERR *err)
{
    if (trust_judge(ctx->trust, ctx->store, txn, &p->evidence, &p->report, p->verdicts, err) < 0)
        return -1;
    p->unverified = false;
    for (size_t r = 0; r < p->report.count; r++)
        p->unverified |= !p->verdicts[r].believed;
    return 0;
}

/* Why p is kept in the quarantine: its unbelieved recipients. */
static void unverified_reason(const INGEST_CTX *ctx, const struct pending *p, SUP_ERR *err)
{
    char text[SUP_ERR_TEXT_MAX];
    size_t len;

    len = (size_t) snprintf(text, sizeof(text), "not believed (ingest.trust = %s):",
                            conf_trust_name(ctx->trust));
    for (size_t r = 0; r < p->report.count && len < sizeof(text); r++)
        if (!p->verdicts[r].believed)
            len += (size_t) snprintf(text + len, sizeof(text) - len, " <%s> %s;",
                                     p->decisions[r].address, p->verdicts[r].how);
    sup_err_set(err, SUP_ERR_INPUT, "%s", text);
}

/*
 * Apply items[start..end) in one transaction.  Returns 0 when committed;
 * else -1 with err and *failed: the index of the message whose effects
 * failed, or end when the transaction itself did (begin, commit).
 */
static int apply_range(INGEST_BATCH *b, size_t start, size_t end, size_t *failed, SUP_ERR *err)
{
    INGEST_CTX *ctx = b->ctx;
    time_t now = time(NULL);
    STORE_TXN *txn = NULL;
    size_t i;

    *failed = end;
    if (store_begin(ctx->store, &txn, err) < 0) {
        if (end - start == 1)
            sup_err_prefix(err, "%s", b->items[start].name);
        return -1;
    }
    for (i = start; i < end; i++) {
        struct pending *p = &b->items[i];
        int seen;

        /* A copy earlier in this batch is seen too: the transaction sees
         * its own writes. */
        if ((seen = store_seen(ctx->store, txn, p->key, err)) < 0)
            break;
        p->duplicate = seen == 1;
        if (p->duplicate)
            continue;
        if (judge(ctx, txn, p, err) < 0
            || policy_apply(ctx->cfg, ctx->store, txn, &p->report, p->verdicts, p->key, now,
                            p->decisions, err) < 0)
            break;
        /* Not believed: not remembered either, so that `--trust any` can
         * apply it from the quarantine later. */
        if (!p->unverified && store_mark_seen(ctx->store, txn, p->key, now, err) < 0)
            break;
    }
    if (i < end) {
        store_abort(txn);
        *failed = i;
        sup_err_prefix(err, "%s", b->items[i].name);
        return -1;
    }
    if (store_commit(txn, err) < 0) {
        if (end - start == 1)
            sup_err_prefix(err, "%s", b->items[start].name);
        return -1;
    }
    return 0;
}

/* apply_range, the whole range again after a deadlock. */
static int apply_with_retries(INGEST_BATCH *b, size_t start, size_t end, size_t *failed, SUP_ERR *err)
{
    for (int attempt = 1;; attempt++) {
        sup_err_clear(err);
        if (apply_range(b, start, end, failed, err) == 0)
            return 0;
        if (err->cls != SUP_ERR_TEMP || attempt == INGEST_TXN_ATTEMPTS)
            return -1;
        log_debug("store busy (%s), attempt %d of %d", err->text, attempt, INGEST_TXN_ATTEMPTS);
        store_retry_delay(attempt);
    }
}

/* Tell items[start..end) they were committed, and log what they did. */
static void tell_committed(INGEST_BATCH *b, size_t start, size_t end)
{
    for (size_t i = start; i < end; i++) {
        struct pending *p = &b->items[i];

        SUP_ERR why;

        if (p->duplicate) {
            log_info("%s: %s already processed, nothing changed", p->name, p->key);
        } else {
            log_decisions(p->name, p->key, &p->report, p->verdicts, p->decisions);
            for (size_t r = 0; r < p->report.count; r++)
                if (p->decisions[r].action == POLICY_SUPPRESSED || p->decisions[r].action == POLICY_EXTENDED)
                    b->ctx->suppressed++;
        }
        if (!p->duplicate && p->unverified) {
            unverified_reason(b->ctx, p, &why);
            b->done(b->run, p->item, INGEST_UNVERIFIED, &why);
            continue;
        }
        b->done(b->run, p->item, p->duplicate ? INGEST_DUPLICATE : INGEST_APPLIED, NULL);
    }
}

static void tell_deferred(INGEST_BATCH *b, size_t start, size_t end, const SUP_ERR *err)
{
    for (size_t i = start; i < end; i++)
        b->done(b->run, b->items[i].item, INGEST_DEFERRED, err);
}

/*
 * Commit items[start..end) in as few transactions as it takes and tell
 * every message its outcome.  When one message's effects fail, the
 * messages before it are committed without it, it is deferred with its
 * error, and the rest goes on, as if each had had its own transaction.
 * Returns true when the store is busy (err, SUP_ERR_TEMP): the messages
 * not committed were all deferred and the run stops.
 */
static bool commit_range(INGEST_BATCH *b, size_t start, size_t end, SUP_ERR *err)
{
    while (start < end) {
        SUP_ERR failure;
        size_t failed;

        if (apply_with_retries(b, start, end, &failed, &failure) == 0) {
            tell_committed(b, start, end);
            return false;
        }
        if (failed >= end) {
            /* The transaction failed as a whole: no one message to blame. */
            tell_deferred(b, start, end, &failure);
            if (failure.cls != SUP_ERR_TEMP)
                return false;
            *err = failure;
            return true;
        }
        if (failed > start && commit_range(b, start, failed, err)) {
            tell_deferred(b, failed, end, err);
            return true;
        }
        tell_deferred(b, failed, failed + 1, &failure);
        if (failure.cls == SUP_ERR_TEMP) {
            *err = failure;
            tell_deferred(b, failed + 1, end, err);
            return true;
        }
        start = failed + 1;
    }
    return false;
}

int ingest_batch_flush(INGEST_BATCH *batch, SUP_ERR *err)
{
    bool busy = false;

    if (batch->count > 0)
        busy = commit_range(batch, 0, batch->count, err);
    for (size_t i = 0; i < batch->count; i++)
        pending_free(&batch->items[i]);
    batch->count = 0;
    if (busy)
        sup_err_prefix(err, "store busy, messages left for the next run");
    return busy ? -1 : 0;
}

void ingest_batch_free(INGEST_BATCH *batch)
{
    SUP_ERR err;

    if (batch == NULL)
        return;
    sup_err_set(&err, SUP_ERR_TEMP, "not committed");
    tell_deferred(batch, 0, batch->count, &err);
    for (size_t i = 0; i < batch->count; i++)
        pending_free(&batch->items[i]);
    free(batch->items);
    free(batch);
}

static struct pending *batch_slot(INGEST_BATCH *b)
{
    if (b->count == b->alloc) {
        size_t alloc = b->alloc ? b->alloc * 2 : 16;
        struct pending *items = realloc(b->items, alloc * sizeof(*items));

        if (items == NULL)
            return NULL;
        b->items = items;
        b->alloc = alloc;
    }
    memset(&b->items[b->count], 0, sizeof(b->items[0]));
    return &b->items[b->count];
}

/*
 * parse -> detect -> classify, and what the message is.  INGEST_QUEUED
 * means it has store effects: report and key are moved into *p.  Other
 * outcomes as for ingest_message() (err filled for a quarantine).
 */
static enum ingest_outcome prepare(INGEST_CTX *ctx, const char *name, const char *raw, size_t len,
                                   struct pending *p, SUP_ERR *err)
{
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;
    enum ingest_outcome outcome = INGEST_QUEUED;

    memset(&report, 0, sizeof(report));
    sup_err_clear(err);
    ctx->messages++;
    if (analyze(ctx, name, raw, len, &msg, &report, err) < 0) {
        if (ctx->dry_run && ctx->json)
            output_error_json(ctx->out, name, err->text);
        else if (ctx->dry_run)
            fprintf(ctx->out, "%s: %s\n", name, err->text);
        err->cls = SUP_ERR_INPUT;
        message_free(&msg);
        return INGEST_REJECTED;
    }
    if (ctx->cfg != NULL) {
        trust_gather(ctx->cfg, ctx->keys, &msg, time(NULL), &p->evidence);
        trust_fill(&p->evidence, &report);
    }
    ctx->recipients += report.count;
    if (ctx->dry_run) {
        print_dry_run(ctx, name, &report);
        outcome = report.count > 0 ? INGEST_APPLIED : INGEST_NOT_REPORT;
    } else if (report.count == 0) {
        sup_err_set(err, SUP_ERR_INPUT, "not a report (no bounce, complaint or auto-reply recognised)");
        outcome = INGEST_NOT_REPORT;
    } else if (!report_has_address(&report)) {
        sup_err_set(err, SUP_ERR_INPUT, "%s report (detector %s) names no usable recipient address",
                    report.kind == REPORT_COMPLAINT ? "complaint" : "bounce", report.detector);
        outcome = INGEST_NOT_REPORT;
    } else {
        p->key = message_key(&msg, raw, len);
        p->report = report;
        memset(&report, 0, sizeof(report));
    }
    report_clear(&report);
    message_free(&msg);
    return outcome;
}

int ingest_batch_add(INGEST_BATCH *batch, const char *name, const char *raw, size_t len,
                     void *item, enum ingest_outcome *outcome, SUP_ERR *err)
{
    struct pending *p = batch_slot(batch);

    if (p == NULL) {
        *outcome = INGEST_DEFERRED;
        sup_err_set(err, SUP_ERR_SOFTWARE, "%s: out of memory", name);
        return 0;
    }
    *outcome = prepare(batch->ctx, name, raw, len, p, err);
    if (*outcome != INGEST_QUEUED)
        return 0;
    p->item = item;
    p->name = strdup(name);
    p->verdicts = calloc(p->report.count, sizeof(*p->verdicts));
    p->decisions = calloc(p->report.count, sizeof(*p->decisions));
    if (p->name == NULL || p->verdicts == NULL || p->decisions == NULL) {
        pending_free(p);
        *outcome = INGEST_DEFERRED;
        sup_err_set(err, SUP_ERR_SOFTWARE, "%s: out of memory", name);
        return 0;
    }
    if (batch->count++ == 0)
        batch->started = g_get_monotonic_time();
    if (batch->count >= INGEST_BATCH_MAX
        || g_get_monotonic_time() - batch->started >= INGEST_BATCH_SECONDS * G_USEC_PER_SEC)
        return ingest_batch_flush(batch, err);
    return 0;
}

/* ---- one message ---- */

struct single {
    enum ingest_outcome outcome;
    SUP_ERR err;
};

static void single_done(void *run, void *item, enum ingest_outcome outcome, const SUP_ERR *err)
{
    struct single *one = run;

    (void) item;
    one->outcome = outcome;
    if (err != NULL)
        one->err = *err;
}

/* A batch of one: one message, one durable commit (stdin, files). */
int ingest_message(INGEST_CTX *ctx, const char *name, const char *raw, size_t len,
                   enum ingest_outcome *outcome, SUP_ERR *err)
{
    struct single one = { INGEST_DEFERRED, { SUP_OK, "" } };
    INGEST_BATCH *batch = ingest_batch_new(ctx, single_done, &one);
    SUP_ERR busy;

    if (batch == NULL)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "%s: out of memory", name);
    (void) ingest_batch_add(batch, name, raw, len, NULL, outcome, err);
    if (*outcome == INGEST_QUEUED) {
        /* The outcome, and the message's own error, come through single_done. */
        (void) ingest_batch_flush(batch, &busy);
        *outcome = one.outcome;
        if (one.outcome == INGEST_DEFERRED || one.outcome == INGEST_UNVERIFIED)
            *err = one.err;
    }
    ingest_batch_free(batch);
    return *outcome == INGEST_DEFERRED ? -1 : 0;
}
