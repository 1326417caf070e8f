/*
 * policy.h: what a classified report does to the store.
 *
 * Used by ingest.c inside the message's store transaction.  The rules
 * (defaults in conf.h's policy section, documented in
 * milter-suppress.conf(5) and suppress-ingest(8)):
 *   hard       suppressed for hard-bounce-ttl from now; a later hard bounce
 *              extends (expiry = max(old, new)); a permanent suppression
 *              is never shortened or replaced by it.
 *   soft       recorded; soft-bounce-limit of them within
 *              soft-bounce-window escalate to a suppression.
 *   complaint  suppressed for complaint-ttl (never, by default); an
 *              opt-out/unsubscribe report for unsubscribe-ttl.
 *   delayed, autoreply, delivered: recorded, never suppress.
 *   unknown class and never-suppress reasons: recorded as "ignored".
 *   forwarded failures: recorded against the original recipient as
 *              "forwarded", not suppressed unless suppress-forwarded.
 *   not believed (trust.h): recorded as "unverified" with the reason,
 *              nothing else: no suppression, no soft-bounce count.
 *   tenants:   a suppression goes to the global scope or to the tenant's
 *              that trust.h found, as section tenant-scope says per
 *              reason (tenant.h); "recorded only" when the rule wants a
 *              tenant and none is known.  Soft bounces are counted per
 *              address, whatever the tenant.
 * Every decision is a timeline event carrying the full remote response
 * and how the report was checked, and every recipient adds one to the
 * day's bounce.<class> counter (an unbelieved one to "unverified"), and
 * to its tenant's tenant/<T>/bounce.<class> when the tenant is known.
 */
#ifndef POLICY_H
#define POLICY_H

#include <stdbool.h>
#include <time.h>

#include "bounce.h"
#include "conf.h"
#include "store.h"
#include "trust.h"

/* What happened to one recipient. */
enum policy_action {
    POLICY_SKIPPED,         /* no usable address: nothing stored */
    POLICY_RECORDED,        /* timeline event only */
    POLICY_SUPPRESSED,      /* new suppression */
    POLICY_EXTENDED,        /* existing suppression lengthened or renewed */
    POLICY_KEPT,            /* existing permanent suppression left as it was */
    POLICY_UNVERIFIED,      /* the report was not believed: recorded only */
};

typedef struct policy_decision {
    char address[ADDR_MAX + 1];     /* the address acted on ("" if skipped) */
    enum store_event_type event;    /* the timeline event recorded */
    enum policy_action action;
    enum store_reason reason;       /* of the suppression, when there is one */
    time_t expires;                 /* 0 = never */
    char scope[STORE_TENANT_MAX];   /* of the suppression: "" global, else the tenant */
} POLICY_DECISION;

/* "skipped", "recorded", "suppressed", "extended", "kept", "unverified" */
const char *policy_action_name(enum policy_action action);

/*
 * Apply every recipient of report in txn.  decisions has room for
 * report->count entries; verdicts (one per recipient) say which are
 * believed.  message_key identifies the bounce (timeline detail).
 * Returns 0, or -1 with err set (SUP_ERR_TEMP: abort and retry the whole
 * transaction).
 */
int policy_apply(const struct sup_config *cfg, STORE *st, STORE_TXN *txn,
                 const BOUNCE_REPORT *report, const TRUST_VERDICT *verdicts,
                 const char *message_key, time_t now, POLICY_DECISION *decisions, SUP_ERR *err);

#endif
