/*
 * trust.h: whether suppress-ingest believes a report (ingest.trust), for
 * ingest.c, between classification and the policy.
 *
 * Anyone can mail the bounce address.  A report is believed for a
 * recipient when the bounce came back to a valid signed return path of
 * ours (retpath.h: a VERP address names the recipient it vouches for; a
 * BATV one vouches for the report's recipients unless the ledger knows the
 * quoted message and the recipient is not among its recipients), or when
 * the ledger of sent mail has the recipient for the message the report
 * quotes.  ingest.trust says which of the two counts.
 *
 *   trust_gather()  once per message, no store: the signature of the
 *                   envelope recipient, the quoted Message-ID
 *   trust_fill()    a valid VERP address names the recipient of a report
 *                   that names none usable
 *   trust_judge()   per recipient, in the message's transaction (ledger)
 */
#ifndef TRUST_H
#define TRUST_H

#include <stdbool.h>
#include <time.h>

#include "bounce.h"
#include "conf.h"
#include "retpath.h"
#include "store.h"

typedef struct trust_evidence {
    RETPATH_CHECK signature;                        /* of the envelope recipient */
    char message_id[STORE_MESSAGE_ID_MAX + 1];      /* of the returned message, "" if none */
    enum tenant_mode tenant_mode;                   /* the config's tenant */
} TRUST_EVIDENCE;

/*
 * The tenant of a recipient's report (tenant.h), what the relay recorded
 * of the message: the tenant the ledger has for the quoted message when
 * the recipient is one of its recipients (for sender-domain, the domain
 * of the sender it has, when it recorded no tenant); else, for
 * sender-domain, the domain of the sender a valid prvs return path
 * signs.  "" when neither knows (a VERP return path names the recipient,
 * not the sender), and always with tenant = "none".
 */
typedef struct trust_verdict {
    bool believed;
    char how[STORE_DETAIL_MAX * 2]; /* believed: how it was checked; else: why not */
    char tenant[STORE_TENANT_MAX];  /* "" = not known */
} TRUST_VERDICT;

/* keys may be NULL (no key file): nothing verifies as signed. */
void trust_gather(const struct sup_config *cfg, const RETPATH_KEYS *keys, const BOUNCE_MSG *msg,
                  time_t now, TRUST_EVIDENCE *evidence);

/* Give recipients without a usable address the one a valid VERP return
 * path names (the only thing the bounce can be about). */
void trust_fill(const TRUST_EVIDENCE *evidence, BOUNCE_REPORT *report);

/*
 * One verdict per recipient of report (verdicts has report->count
 * entries).  st NULL: no ledger (dry run).  Returns 0, or -1 with err
 * (a store error: SUP_ERR_TEMP retries the transaction).
 */
int trust_judge(enum ingest_trust trust, STORE *st, STORE_TXN *txn, const TRUST_EVIDENCE *evidence,
                const BOUNCE_REPORT *report, TRUST_VERDICT *verdicts, SUP_ERR *err);

#endif
