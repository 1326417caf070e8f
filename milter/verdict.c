/*
 * verdict.c: the door-neutral RCPT verdict (see verdict.h), used by the
 * libmilter callbacks (filter.c) and the policy service (policy_service.c)
 * so that both refuse exactly the same recipients, count them the same and
 * leave the same trace in the timeline, told apart only by its via.
 *
 * The accept path is one B-tree read and one atomic add: no store write,
 * no lock held across I/O.  Rejections, rarer, are queued for the stats
 * writer (stats.c).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "log.h"
#include "stats.h"
#include "store_link.h"
#include "verdict.h"

/*
 * A store that fails, fails every lookup (or, with a damaged page, every
 * lookup that reads it): one log line says so, with the error and what
 * to do; the failures after it are counted, not logged, until
 * STORE_ERROR_LOG_EVERY seconds have passed (the next failure then says
 * how many there were) or the action changes.  Once no lookup failed for
 * that long, one line says that they work again.  Without this a damaged
 * store wrote a line per recipient.
 */
#define STORE_ERROR_LOG_EVERY 60
#define STORE_ERROR_HINT "; if this goes on, `suppressctl verify` says what is wrong with the" \
    " store and `suppressctl recover` repairs it (see milter-suppress(8), DAMAGED STORE)"

static pthread_mutex_t failing_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool failing;             /* a lookup failed in the last STORE_ERROR_LOG_EVERY s */
static time_t failing_logged_at;
static time_t failing_last;
static enum store_error_action failing_action;
static unsigned long failing_unlogged;  /* failures since the last line */
static unsigned long failing_total;     /* failures since lookups last worked */

/* Should this failure be logged?  *unlogged: how many were not since the last line. */
static bool failure_to_log(enum store_error_action action, time_t now, unsigned long *unlogged)
{
    bool log_it;

    pthread_mutex_lock(&failing_lock);
    log_it = !atomic_load(&failing) || action != failing_action
        || now - failing_logged_at >= STORE_ERROR_LOG_EVERY;
    failing_total++;
    failing_last = now;
    if (log_it) {
        *unlogged = failing_unlogged;
        failing_unlogged = 0;
        failing_logged_at = now;
        failing_action = action;
        atomic_store(&failing, true);
    } else {
        failing_unlogged++;
    }
    pthread_mutex_unlock(&failing_lock);
    return log_it;
}

/* A lookup worked: after failures, and none for STORE_ERROR_LOG_EVERY s, say so. */
static void lookup_worked(time_t now)
{
    unsigned long total = 0;

    if (!atomic_load_explicit(&failing, memory_order_relaxed))
        return;
    pthread_mutex_lock(&failing_lock);
    if (atomic_load(&failing) && now - failing_last >= STORE_ERROR_LOG_EVERY) {
        total = failing_total;
        failing_total = failing_unlogged = 0;
        atomic_store(&failing, false);
    }
    pthread_mutex_unlock(&failing_lock);
    if (total > 0)
        log_info("store lookups work again: none failed for %d s (%lu failed before)",
                 STORE_ERROR_LOG_EVERY, total);
}

/* Detail of the rejection record of a recipient removed at end of message. */
#define REMOVED_NOTE "non-SMTP submission, recipient removed at end of message"

/* Said after a log line of the policy door; the milter's lines stay as
 * they always were. */
static const char *via_note(const struct verdict_request *req)
{
    return strcmp(req->via, STORE_VIA_MILTER) == 0 ? "" : " via=policy";
}

static const char *sender_of(const struct verdict_request *req)
{
    return req->sender != NULL ? req->sender : "";
}

static bool has_tenant(const struct verdict_request *req)
{
    return req->tenant != NULL && req->tenant[0] != '\0';
}

/* " tenant=T" after a log line, when there is one. */
static void tenant_note(const struct verdict_request *req, char *buf, size_t len)
{
    if (has_tenant(req))
        snprintf(buf, len, " tenant=%s", req->tenant);
    else if (len > 0)
        buf[0] = '\0';
}

/* Count the recipient let through, globally and for its tenant.  A
 * refusal is counted with its event (queue_rejection): the two are
 * stored in one transaction (stats.c). */
static void count(const struct verdict_request *req, time_t now, bool rejected)
{
    if (rejected)
        return;
    stats_count_accepted(now);
    if (has_tenant(req))
        stats_count_tenant(now, req->tenant, false);
}

static const char *client_of(const struct verdict_request *req)
{
    return req->client != NULL && req->client[0] != '\0' ? req->client : "unknown";
}

static void set_verdict(struct verdict *out, enum verdict_action action, const char *code,
                        const char *xcode, const char *text)
{
    out->action = action;
    out->code = code;
    out->xcode = xcode;
    if (text != NULL && text != out->text)
        store_copy_text(out->text, sizeof(out->text), text);
}

static void queue_rejection(const struct milter_config *mc, const struct verdict_request *req,
                            const char *reason, time_t now, const char *text, bool removed)
{
    struct stats_rejection rej;
    char visible[REPLY_TEXT_MAX + 1];
    const char *sender = sender_of(req);

    memset(&rej, 0, sizeof(rej));
    rej.when = now;
    store_copy_text(rej.address, sizeof(rej.address), req->addr);
    store_copy_text(rej.reason, sizeof(rej.reason), reason);
    store_copy_text(rej.status, sizeof(rej.status), mc->reject_xcode);
    store_copy_text(rej.actor, sizeof(rej.actor), sender[0] != '\0' ? sender : "<>");
    if (removed)
        snprintf(rej.detail, sizeof(rej.detail), "%s, " REMOVED_NOTE, client_of(req));
    else
        store_copy_text(rej.detail, sizeof(rej.detail), client_of(req));
    reply_visible(text, visible, sizeof(visible));
    snprintf(rej.response, sizeof(rej.response), "%s %s %s", mc->reject_code,
             mc->reject_xcode, visible);
    store_copy_text(rej.via, sizeof(rej.via), req->via);
    store_copy_text(rej.tenant, sizeof(rej.tenant), has_tenant(req) ? req->tenant : "");
    stats_queue_rejection(&rej);
}

static bool door_removes(const struct verdict_request *req)
{
    return req->remove != NULL && req->remove(req->remove_ctx);
}

static void refuse_suppressed(const struct milter_config *mc, const struct verdict_request *req,
                              const STORE_ENTRY *entry, time_t now, struct verdict *out)
{
    const char *reason = store_reason_name(entry->reason);
    struct reply_vars vars = { req->addr, reason, entry->expires, entry->tenant };
    char note[STORE_TENANT_MAX + 40];

    tenant_note(req, note, sizeof(note));
    if (entry->tenant[0] != '\0')
        strcat(note, " scope=tenant");
    if (mc->dry_run) {
        log_info("would reject (dry-run): from=<%s> to=<%s> reason=%s client=[%s]%s%s",
                 sender_of(req), req->addr, reason, client_of(req), note, via_note(req));
        count(req, now, false);
        set_verdict(out, VERDICT_ACCEPT, NULL, NULL, NULL);
        return;
    }
    reply_expand(mc->reject_text, &vars, out->text, sizeof(out->text));
    count(req, now, true);
    if (door_removes(req)) {
        log_info("remove at end of message (non-SMTP submission): from=<%s> to=<%s> "
                 "reason=%s client=[%s]%s", sender_of(req), req->addr, reason, client_of(req),
                 note);
        queue_rejection(mc, req, reason, now, out->text, true);
        set_verdict(out, VERDICT_REMOVED, NULL, NULL, NULL);
        return;
    }
    log_info("reject: from=<%s> to=<%s> reason=%s client=[%s]%s%s", sender_of(req), req->addr,
             reason, client_of(req), note, via_note(req));
    queue_rejection(mc, req, reason, now, out->text, false);
    set_verdict(out, VERDICT_REJECT, mc->reject_code, mc->reject_xcode, NULL);
}

/*
 * For the milter in non-SMTP mail, "reject" removes the recipient at end
 * of message (a refusal would hold the whole message); "tempfail" holds
 * the message in the queue on purpose, and Postfix tries it again until
 * the store answers.
 */
static void on_store_error(const struct milter_config *mc, const struct verdict_request *req,
                           const SUP_ERR *err, time_t now, struct verdict *out)
{
    struct reply_vars vars = { req->addr, "store-error", 0, NULL };
    unsigned long unlogged = 0;
    bool say = failure_to_log(mc->on_store_error, now, &unlogged);
    char more[96];

    if (unlogged > 0)
        snprintf(more, sizeof(more), " (%lu more failed since the last such line)", unlogged);
    else
        more[0] = '\0';
    switch (mc->on_store_error) {
    case STORE_ERROR_ACCEPT:
        if (say)
            log_error("store lookup of <%s> failed, accepting (on-store-error = accept)%s: %s%s%s",
                      req->addr, more, err->text, STORE_ERROR_HINT, via_note(req));
        count(req, now, false);
        set_verdict(out, VERDICT_ACCEPT, NULL, NULL, NULL);
        return;
    case STORE_ERROR_REJECT:
        if (door_removes(req)) {
            if (say)
                log_error("store lookup of <%s> failed, removing it at end of message "
                          "(on-store-error = reject, non-SMTP submission)%s: %s%s", req->addr,
                          more, err->text, STORE_ERROR_HINT);
            set_verdict(out, VERDICT_REMOVED, NULL, NULL, NULL);
            return;
        }
        if (say)
            log_error("store lookup of <%s> failed, rejecting (on-store-error = reject)%s: %s%s%s",
                      req->addr, more, err->text, STORE_ERROR_HINT, via_note(req));
        reply_expand(mc->reject_text, &vars, out->text, sizeof(out->text));
        set_verdict(out, VERDICT_REJECT, mc->reject_code, mc->reject_xcode, NULL);
        return;
    case STORE_ERROR_TEMPFAIL:
    default:
        if (say)
            log_error("store lookup of <%s> failed, answering %s (on-store-error = tempfail)%s:"
                      " %s%s%s", req->addr, VERDICT_TEMPFAIL_CODE, more, err->text,
                      STORE_ERROR_HINT, via_note(req));
        set_verdict(out, VERDICT_TEMPFAIL, VERDICT_TEMPFAIL_CODE, VERDICT_TEMPFAIL_XCODE,
                    VERDICT_TEMPFAIL_TEXT);
        return;
    }
}

void verdict_check(const struct milter_config *mc, const struct verdict_request *req,
                   time_t now, struct verdict *out)
{
    STORE_ENTRY entry;
    SUP_ERR err;
    int found;

    /* Not the whole struct: the text (~1 KB) is written only for a refusal,
     * and this is every RCPT. */
    out->text[0] = '\0';
    /* Not an address: nothing to look up, and nothing the list can refuse. */
    if (req->addr == NULL) {
        count(req, now, false);
        set_verdict(out, VERDICT_ACCEPT, NULL, NULL, NULL);
        return;
    }
    sup_err_clear(&err);
    found = store_link_lookup(has_tenant(req) ? req->tenant : NULL, req->addr, now, &entry, &err);
    if (found < 0) {
        on_store_error(mc, req, &err, now, out);
        return;
    }
    lookup_worked(now);
    if (found == 0) {
        count(req, now, false);
        set_verdict(out, VERDICT_ACCEPT, NULL, NULL, NULL);
    } else {
        refuse_suppressed(mc, req, &entry, now, out);
    }
}

void verdict_sender(const char *arg, char *out, size_t outlen, char *given, size_t givenlen)
{
    SUP_ERR err;
    size_t len, i, o = 0;
    const char *raw = *arg == '<' ? arg + 1 : arg;

    len = strlen(raw);
    if (len > 0 && raw[len - 1] == '>')
        len--;
    if (given != NULL && givenlen > 0)
        snprintf(given, givenlen, "%.*s", (int) len, raw);
    if (outlen == 0 || addr_normalize(arg, out, outlen, &err) == 0)
        return;
    for (i = 0; i < len && o + 1 < outlen; i++)
        out[o++] = (unsigned char) raw[i] < 0x20 || raw[i] == 0x7f ? '?' : raw[i];
    out[o] = '\0';
}
