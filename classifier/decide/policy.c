/*
 * policy.c: classification -> store updates (policy.h).
 *
 * Offers ingest.c the one place where a bounce becomes a suppression.
 * Everything happens inside the caller's transaction, so a message's
 * effects are all committed or none are; a deadlock surfaces as
 * SUP_ERR_TEMP and the caller retries the whole message.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "addr.h"
#include "duration.h"
#include "policy.h"
#include "store.h"
#include "tenant.h"

#define POLICY_SOURCE "suppress-ingest"

const char *policy_action_name(enum policy_action action)
{
    switch (action) {
    case POLICY_RECORDED:
        return "recorded";
    case POLICY_SUPPRESSED:
        return "suppressed";
    case POLICY_EXTENDED:
        return "extended";
    case POLICY_KEPT:
        return "kept";
    case POLICY_UNVERIFIED:
        return "unverified";
    case POLICY_SKIPPED:
    default:
        return "skipped";
    }
}

/* What one recipient should become, before the store is consulted. */
struct plan {
    enum store_event_type event;
    bool suppress;
    enum store_reason reason;
    long ttl;                   /* seconds or DURATION_NEVER */
};

static bool feedback_is_unsubscribe(const char *feedback_type)
{
    return feedback_type != NULL
        && (strcasecmp(feedback_type, "opt-out") == 0 || strcasecmp(feedback_type, "unsubscribe") == 0);
}

static const char *counter_name(enum bounce_class cls)
{
    switch (cls) {
    case CLASS_HARD:
        return STORE_CTR_BOUNCE_PREFIX "hard";
    case CLASS_SOFT:
        return STORE_CTR_BOUNCE_PREFIX "soft";
    case CLASS_COMPLAINT:
        return STORE_CTR_BOUNCE_PREFIX "complaint";
    case CLASS_DELAYED:
        return STORE_CTR_BOUNCE_PREFIX "delayed";
    case CLASS_AUTOREPLY:
        return STORE_CTR_BOUNCE_PREFIX "autoreply";
    default:
        return NULL;
    }
}

static struct plan plan_for(const struct sup_config *cfg, const BOUNCE_RCPT *rcpt)
{
    const struct policy_config *pc = &cfg->policy;
    struct plan plan = { STORE_EV_IGNORED, false, STORE_REASON_HARD_BOUNCE, 0 };
    bool failure = rcpt->cls == CLASS_HARD || rcpt->cls == CLASS_SOFT;

    if (failure && rcpt->reason != NULL && conf_never_suppresses(cfg, rcpt->reason))
        return plan;
    if (failure && rcpt->forwarded && !pc->suppress_forwarded) {
        plan.event = STORE_EV_FORWARDED;
        return plan;
    }
    switch (rcpt->cls) {
    case CLASS_HARD:
        plan.event = STORE_EV_HARD_BOUNCE;
        plan.suppress = true;
        plan.reason = STORE_REASON_HARD_BOUNCE;
        plan.ttl = pc->hard_bounce_ttl;
        break;
    case CLASS_SOFT:
        /* Suppresses only when escalated (see apply_soft). */
        plan.event = STORE_EV_SOFT_BOUNCE;
        plan.reason = STORE_REASON_SOFT_ESCALATED;
        plan.ttl = pc->soft_escalated_ttl;
        break;
    case CLASS_COMPLAINT:
        if (rcpt->reason != NULL && conf_never_suppresses(cfg, rcpt->reason))
            break;
        plan.suppress = true;
        if (feedback_is_unsubscribe(rcpt->feedback_type)) {
            plan.event = STORE_EV_UNSUBSCRIBE;
            plan.reason = STORE_REASON_UNSUBSCRIBE;
            plan.ttl = pc->unsubscribe_ttl;
        } else {
            plan.event = STORE_EV_COMPLAINT;
            plan.reason = STORE_REASON_COMPLAINT;
            plan.ttl = pc->complaint_ttl;
        }
        break;
    case CLASS_DELAYED:
        plan.event = STORE_EV_DELAYED;
        break;
    case CLASS_AUTOREPLY:
        plan.event = STORE_EV_AUTOREPLY;
        break;
    case CLASS_DELIVERED:
        plan.event = STORE_EV_DELIVERED;
        break;
    case CLASS_UNKNOWN:
    default:
        break;
    }
    return plan;
}

/* What one recipient's events carry besides the recipient itself. */
struct event_context {
    const char *message_key;    /* the bounce's identity */
    const char *verified;       /* how it was checked, or why it was not believed */
    time_t now;
    const char *tenant;         /* whose mail the report is about, "" = not known */
};

static int record_event(const struct sup_config *cfg, STORE *st, STORE_TXN *txn, const char *address,
                        enum store_event_type type, const BOUNCE_RCPT *rcpt,
                        const struct event_context *ec, SUP_ERR *err)
{
    STORE_EVENT ev;

    memset(&ev, 0, sizeof(ev));
    store_copy_text(ev.address, sizeof(ev.address), address);
    ev.when = ec->now;
    ev.type = type;
    store_copy_text(ev.reason, sizeof(ev.reason), rcpt->reason ? rcpt->reason : bounce_class_name(rcpt->cls));
    store_copy_text(ev.status, sizeof(ev.status), rcpt->status ? rcpt->status : "");
    store_copy_text(ev.actor, sizeof(ev.actor), POLICY_SOURCE);
    store_copy_text(ev.detail, sizeof(ev.detail), ec->message_key);
    store_copy_text(ev.response, sizeof(ev.response), rcpt->diagnostic ? rcpt->diagnostic : "");
    store_copy_text(ev.verified, sizeof(ev.verified), ec->verified);
    store_copy_text(ev.tenant, sizeof(ev.tenant), ec->tenant);
    return store_event_add(st, txn, &ev, cfg->policy.timeline_max_events, err);
}

static bool entry_active(const STORE_ENTRY *entry, time_t now)
{
    return entry->expires == 0 || entry->expires > now;
}

/*
 * Create or renew the suppression of address.  A permanent suppression
 * stays as it is; a temporary one is extended to the later expiry (and
 * takes the new reason when that one lasts at least as long, so a
 * complaint replaces a hard bounce).
 */
static int suppress(STORE *st, STORE_TXN *txn, const char *address, const struct plan *plan,
                    const BOUNCE_RCPT *rcpt, time_t now, const char *scope,
                    POLICY_DECISION *decision, SUP_ERR *err)
{
    STORE_ENTRY entry;
    time_t expires = plan->ttl == DURATION_NEVER ? 0 : now + plan->ttl;
    int found = store_get_in(st, txn, scope, address, &entry, err);

    if (found < 0)
        return -1;
    store_copy_text(decision->scope, sizeof(decision->scope), scope != NULL ? scope : "");
    decision->reason = plan->reason;
    if (found == 1 && entry_active(&entry, now)) {
        if (entry.expires == 0) {
            decision->action = POLICY_KEPT;
            decision->reason = entry.reason;
            decision->expires = 0;
            return 0;
        }
        if (expires == 0 || expires >= entry.expires)
            entry.reason = plan->reason;
        else
            expires = entry.expires;
        entry.count++;
        decision->action = POLICY_EXTENDED;
    } else {
        memset(&entry, 0, sizeof(entry));
        store_copy_text(entry.address, sizeof(entry.address), address);
        entry.reason = plan->reason;
        entry.first_event = now;
        entry.count = 1;
        decision->action = POLICY_SUPPRESSED;
    }
    entry.expires = expires;
    entry.last_event = now;
    store_copy_text(entry.source, sizeof(entry.source), POLICY_SOURCE);
    store_copy_text(entry.detail, sizeof(entry.detail), rcpt->reason ? rcpt->reason : "");
    store_copy_text(entry.status, sizeof(entry.status), rcpt->status ? rcpt->status : "");
    store_copy_text(entry.response, sizeof(entry.response), rcpt->diagnostic ? rcpt->diagnostic : "");
    decision->reason = entry.reason;
    decision->expires = entry.expires;
    return store_put_in(st, txn, scope, &entry, err);
}

/*
 * The scope a suppression for reason goes to (section tenant-scope):
 * true with *scope NULL (global) or the tenant; false when it is only
 * recorded (the rule wants a tenant, and none is known).
 */
static bool scope_for(const struct sup_config *cfg, enum store_reason reason,
                      const struct event_context *ec, const char **scope)
{
    switch (tenant_place(&cfg->tenant, reason, ec->tenant)) {
    case TENANT_PLACE_TENANT:
        *scope = ec->tenant;
        return true;
    case TENANT_PLACE_RECORD_ONLY:
        return false;
    case TENANT_PLACE_GLOBAL:
    default:
        *scope = NULL;
        return true;
    }
}

/* A soft bounce: record it, then escalate when the window holds enough. */
static int apply_soft(const struct sup_config *cfg, STORE *st, STORE_TXN *txn, const char *address,
                      const struct plan *plan, const BOUNCE_RCPT *rcpt,
                      const struct event_context *ec, POLICY_DECISION *decision, SUP_ERR *err)
{
    time_t now = ec->now;
    const struct policy_config *pc = &cfg->policy;
    const char *scope;
    int count;

    if (record_event(cfg, st, txn, address, STORE_EV_SOFT_BOUNCE, rcpt, ec, err) < 0)
        return -1;
    decision->event = STORE_EV_SOFT_BOUNCE;
    decision->action = POLICY_RECORDED;
    if (pc->soft_bounce_limit <= 0)
        return 0;
    count = store_event_count(st, txn, address, STORE_EV_SOFT_BOUNCE, now - pc->soft_bounce_window, err);
    if (count < 0)
        return -1;
    if (count < pc->soft_bounce_limit)
        return 0;
    if (!scope_for(cfg, plan->reason, ec, &scope))
        return 0;
    if (suppress(st, txn, address, plan, rcpt, now, scope, decision, err) < 0)
        return -1;
    if (decision->action == POLICY_KEPT)
        return 0;
    decision->event = STORE_EV_ESCALATED;
    return record_event(cfg, st, txn, address, STORE_EV_ESCALATED, rcpt, ec, err);
}

static int apply_rcpt(const struct sup_config *cfg, STORE *st, STORE_TXN *txn, const BOUNCE_RCPT *rcpt,
                      const TRUST_VERDICT *verdict, const struct event_context *ec,
                      POLICY_DECISION *decision, SUP_ERR *err)
{
    struct plan plan = plan_for(cfg, rcpt);
    const char *target = rcpt->recipient;
    const char *scope;
    SUP_ERR addr_err;

    memset(decision, 0, sizeof(*decision));
    decision->action = POLICY_SKIPPED;
    decision->event = plan.event;
    /* A forwarded copy failed: the address we sent to is the original. */
    if (rcpt->forwarded && rcpt->original_recipient != NULL)
        target = rcpt->original_recipient;
    if (target == NULL
        || addr_normalize(target, decision->address, sizeof(decision->address), &addr_err) != 0) {
        decision->address[0] = '\0';
        return 0;
    }
    if (!verdict->believed) {
        decision->event = STORE_EV_UNVERIFIED;
        decision->action = POLICY_UNVERIFIED;
        return record_event(cfg, st, txn, decision->address, STORE_EV_UNVERIFIED, rcpt, ec, err);
    }
    if (plan.event == STORE_EV_SOFT_BOUNCE)
        return apply_soft(cfg, st, txn, decision->address, &plan, rcpt, ec, decision, err);
    if (record_event(cfg, st, txn, decision->address, plan.event, rcpt, ec, err) < 0)
        return -1;
    decision->action = POLICY_RECORDED;
    if (plan.suppress && scope_for(cfg, plan.reason, ec, &scope))
        return suppress(st, txn, decision->address, &plan, rcpt, ec->now, scope, decision, err);
    return 0;
}

/* The tenant's own copy of a counter, when the tenant is known. */
static int count_for_tenant(STORE *st, STORE_TXN *txn, const char *day, const char *tenant,
                            const char *counter, SUP_ERR *err)
{
    char name[STORE_COUNTER_NAME_MAX + 1];

    if (tenant[0] == '\0')
        return 0;
    if (store_counter_name(name, sizeof(name), tenant, counter, err) < 0)
        return -1;
    return store_counter_add(st, txn, day, name, 1, err);
}

int policy_apply(const struct sup_config *cfg, STORE *st, STORE_TXN *txn,
                 const BOUNCE_REPORT *report, const TRUST_VERDICT *verdicts,
                 const char *message_key, time_t now, POLICY_DECISION *decisions, SUP_ERR *err)
{
    char day[16];

    time_format_day(now, day, sizeof(day));
    for (size_t i = 0; i < report->count; i++) {
        const BOUNCE_RCPT *rcpt = &report->rcpts[i];
        const struct event_context ec = { message_key, verdicts[i].how, now, verdicts[i].tenant };
        const char *counter = verdicts[i].believed ? counter_name(rcpt->cls) : STORE_CTR_UNVERIFIED;

        if (apply_rcpt(cfg, st, txn, rcpt, &verdicts[i], &ec, &decisions[i], err) < 0)
            return -1;
        if (decisions[i].action == POLICY_SKIPPED || counter == NULL)
            continue;
        if (store_counter_add(st, txn, day, counter, 1, err) < 0
            || count_for_tenant(st, txn, day, verdicts[i].tenant, counter, err) < 0)
            return -1;
    }
    return 0;
}
