/*
 * store.h: the suppression store, shared by the milter, the ingest and
 * suppressctl.  Like Postfix's dict layer this is the only interface the
 * programs see; store_env.c and one file per database (store_bdb.h lists
 * them) implement it on a Berkeley DB 5.3 transactional environment (the
 * milter never calls BDB itself).
 *
 * The store holds three kinds of data, keyed by normalized address
 * (addr_normalize()):
 *   - suppressions: one STORE_ENTRY per suppressed address, with its reason
 *     and expiry.  An expired entry is never reported as suppressed (checked
 *     on read) and is removed by store_purge().
 *   - the timeline: STORE_EVENTs per address (bounces, complaints, rejected
 *     attempts, add, unblock...), kept for a bounded time and count.
 *   - daily counters (accepted recipients, rejected attempts, bounces by
 *     class), and the identities of bounce messages already processed.
 *
 * Several processes and threads use one environment at the same time.
 * Functions that take a STORE_TXN run inside that transaction; with a NULL
 * txn they run in their own (auto-commit).  On a deadlock or lock timeout a
 * function returns -1 with err->cls == SUP_ERR_TEMP: abort the transaction
 * and retry it (store_retry_delay() gives a backoff).
 *
 * Return values: 0 success; 1 "found"/"deleted" where documented; -1 error
 * with err set.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "addr.h"
#include "sup_err.h"

typedef struct store STORE;
typedef struct store_txn STORE_TXN;

/* Why an address is suppressed. */
enum store_reason {
    STORE_REASON_HARD_BOUNCE = 1,
    STORE_REASON_SOFT_ESCALATED,    /* soft-bounce-limit soft bounces in the window */
    STORE_REASON_COMPLAINT,
    STORE_REASON_UNSUBSCRIBE,
    STORE_REASON_MANUAL,
};
/* "hard-bounce", "soft-bounce-escalated", "complaint", "unsubscribe", "manual" */
const char *store_reason_name(enum store_reason reason);
int store_reason_parse(const char *name, enum store_reason *reason);  /* 0 or -1 */

#define STORE_SOURCE_MAX 64
#define STORE_DETAIL_MAX 64
#define STORE_STATUS_MAX 16
#define STORE_RESPONSE_MAX 2048     /* remote responses are cut here (bounded) */

/*
 * Tenants: the customers or applications a relay sends for.  Each
 * suppression lives in one scope: the global scope (tenant "", every
 * store before tenants had only it) or one tenant's.  A tenant name is 1
 * to STORE_TENANT_MAX - 1 bytes without control characters or spaces
 * (a SASL login, a domain, a milter macro's value).
 */
#define STORE_TENANT_MAX 64
/* 0, or -1 with err (SUP_ERR_INPUT) naming what is wrong with tenant. */
int store_tenant_check(const char *tenant, SUP_ERR *err);

typedef struct store_entry {
    char address[ADDR_MAX + 1];
    enum store_reason reason;
    char source[STORE_SOURCE_MAX];   /* who decided: "suppress-ingest", "suppressctl", "import" */
    char detail[STORE_DETAIL_MAX];   /* classifier reason ("userunknown") or operator note */
    char status[STORE_STATUS_MAX];   /* last enhanced status code ("5.1.1"), may be empty */
    time_t first_event;              /* when first suppressed */
    time_t last_event;               /* when last (re)suppressed */
    time_t expires;                  /* 0 = never */
    uint32_t count;                  /* suppressing events seen (a later hard bounce adds one) */
    char response[STORE_RESPONSE_MAX]; /* last remote response, may be empty */
    /* The scope the entry was read from: "" global, else the tenant.
     * Set by every read; writes take the scope as an argument. */
    char tenant[STORE_TENANT_MAX];
} STORE_ENTRY;

/* Timeline event types. */
enum store_event_type {
    STORE_EV_HARD_BOUNCE = 1,
    STORE_EV_SOFT_BOUNCE,
    STORE_EV_ESCALATED,         /* soft bounces escalated to a suppression */
    STORE_EV_COMPLAINT,
    STORE_EV_UNSUBSCRIBE,
    STORE_EV_DELAYED,
    STORE_EV_AUTOREPLY,
    STORE_EV_DELIVERED,
    STORE_EV_FORWARDED,         /* a forwarded copy failed; recorded, not suppressed by default */
    STORE_EV_REJECTED,          /* the milter refused a RCPT TO */
    STORE_EV_ADD,               /* suppressctl add / import */
    STORE_EV_UNBLOCK,           /* suppressctl remove */
    STORE_EV_EXPIRED,           /* purge removed an expired suppression */
    STORE_EV_IGNORED,           /* a failure whose reason never suppresses */
    STORE_EV_UNVERIFIED,        /* a report not believed (ingest.trust): suppresses nothing */
};
#define STORE_EV_LAST STORE_EV_UNVERIFIED
/* "hard-bounce", "soft-bounce", "escalated", "complaint", "unsubscribe", "delayed",
 * "autoreply", "delivered", "forwarded", "rejected", "add", "unblock", "expired", "ignored",
 * "unverified" */
const char *store_event_name(enum store_event_type type);
int store_event_parse(const char *name, enum store_event_type *type);

#define STORE_ACTOR_MAX 330
#define STORE_VIA_MAX 16
#define STORE_VIA_MILTER "milter"     /* the libmilter door (milter.socket) */
#define STORE_VIA_POLICY "policy"     /* the policy delegation door (policy-service.socket) */
typedef struct store_event {
    char address[ADDR_MAX + 1];
    time_t when;
    enum store_event_type type;
    char reason[STORE_DETAIL_MAX];   /* classifier or store reason, may be empty */
    char status[STORE_STATUS_MAX];   /* "5.1.1", may be empty */
    char actor[STORE_ACTOR_MAX];     /* sender of a rejected mail, program or user of an add */
    char detail[STORE_DETAIL_MAX * 2]; /* client address, bounce message id, note */
    char response[STORE_RESPONSE_MAX]; /* full remote response (bounded), may be empty */
    /* How suppress-ingest checked the report ("signed VERP", "ledger",
     * "unchecked (trust any)"...) or, for "unverified", why it failed;
     * empty for events that are no report (and for events written before). */
    char verified[STORE_DETAIL_MAX * 2];
    /* Which door of milter-suppress refused the recipient of a "rejected"
     * event: STORE_VIA_MILTER or STORE_VIA_POLICY.  Empty for other
     * events, and in rejections written before it existed, which all came
     * through the milter (store_event_via). */
    char via[STORE_VIA_MAX];
    /* The tenant the event was about (the sender's of a rejected mail,
     * the scope of an add or complaint); "" = none known, and in events
     * written before tenants. */
    char tenant[STORE_TENANT_MAX];
} STORE_EVENT;

/* The via of ev as shown: a rejection without one came through the milter. */
const char *store_event_via(const STORE_EVENT *ev);

/* Daily counter names used by the programs (others may be added). */
#define STORE_CTR_ACCEPTED      "accepted"      /* recipients the milter let through */
#define STORE_CTR_REJECTED      "rejected"      /* recipients the milter refused */
#define STORE_CTR_BOUNCE_PREFIX "bounce."       /* "bounce.hard", "bounce.soft", "bounce.complaint"... */
#define STORE_CTR_UNVERIFIED    "unverified"    /* report recipients not believed (ingest.trust) */
/*
 * A tenant's own counters are named "tenant/<tenant>/<name>" (the global
 * ones stay as they are and still count everything): store_counter_name
 * makes such a name (tenant NULL or "": name itself), store_counter_split
 * takes one apart: *tenant_out "" for a global counter, *name_out the
 * counter name within.  At most STORE_COUNTER_NAME_MAX bytes.
 */
#define STORE_CTR_TENANT_PREFIX "tenant/"
#define STORE_COUNTER_NAME_MAX 160
int store_counter_name(char *buf, size_t buflen, const char *tenant, const char *name,
                       SUP_ERR *err);
void store_counter_split(const char *full, char *tenant_out, size_t tenant_len,
                         const char **name_out);

/* store_open flags */
#define STORE_CREATE   0x01     /* create the directory's environment if absent */
#define STORE_NOSYNC   0x02     /* commits do not wait for the disk (milter: no fsync per RCPT) */
#define STORE_RDONLY   0x04     /* open read-only (suppressctl list/show/export/stats); on a
                                 * directory where nothing was ever written: SUP_ERR_NOTFOUND */
/* A process may open the same directory more than once (the handles share
 * one environment); a STORE is not usable across fork(): open it in the child. */

int store_open(const char *dir, int flags, STORE **out, SUP_ERR *err);
/* Close; safe with NULL.  Flushes the log for NOSYNC handles. */
int store_close(STORE *st, SUP_ERR *err);

int store_begin(STORE *st, STORE_TXN **txn, SUP_ERR *err);
/* store_commit ends the transaction whether it succeeds or fails: never
 * store_abort it afterwards. */
int store_commit(STORE_TXN *txn, SUP_ERR *err);
void store_abort(STORE_TXN *txn);
/* Sleep a little before retry number `attempt` (1, 2, ...) of a deadlocked txn. */
void store_retry_delay(int attempt);
/*
 * Run fn in a transaction of its own, committed when fn returns 0 (aborted
 * when it returns -1); a deadlock or lock timeout (SUP_ERR_TEMP) runs the
 * whole of it again, up to `attempts` times, with store_retry_delay().
 */
typedef int (*store_txn_fn)(STORE *st, STORE_TXN *txn, void *ctx, SUP_ERR *err);
int store_in_txn(STORE *st, store_txn_fn fn, void *ctx, int attempts, SUP_ERR *err);

/*
 * Suppressions.  store_lookup returns 1 and fills *entry (if not NULL) when
 * addr is suppressed at `now`; 0 when not (absent or expired); -1 on error.
 * This is the milter's RCPT path: no allocation, one B-tree read.  With a
 * NULL txn it reads uncommitted data, so it never waits for a writer.
 */
int store_lookup(STORE *st, STORE_TXN *txn, const char *addr, time_t now,
                 STORE_ENTRY *entry, SUP_ERR *err);
/* Like store_lookup but also returns expired entries (1 found, 0 absent). */
int store_get(STORE *st, STORE_TXN *txn, const char *addr, STORE_ENTRY *entry, SUP_ERR *err);
/* Writes the global scope (entry->tenant is not read: store_put_in). */
int store_put(STORE *st, STORE_TXN *txn, const STORE_ENTRY *entry, SUP_ERR *err);
/* 1 deleted, 0 was not there. */
int store_delete(STORE *st, STORE_TXN *txn, const char *addr, SUP_ERR *err);

/*
 * The same in one scope: tenant NULL or "" is the global scope (exactly
 * the functions above), else that tenant's.
 */
int store_get_in(STORE *st, STORE_TXN *txn, const char *tenant, const char *addr,
                 STORE_ENTRY *entry, SUP_ERR *err);
int store_put_in(STORE *st, STORE_TXN *txn, const char *tenant, const STORE_ENTRY *entry,
                 SUP_ERR *err);
int store_delete_in(STORE *st, STORE_TXN *txn, const char *tenant, const char *addr,
                    SUP_ERR *err);
/*
 * The RCPT path with a tenant: is addr suppressed at `now` in the global
 * scope or in tenant's?  A global suppression answers first; entry->tenant
 * says which scope refused.  One read of the lookup index answers both
 * (a tenant's entries share the bucket of their address); only a "maybe"
 * reads suppressions.db.  tenant NULL or "": store_lookup.
 */
int store_lookup_tenant(STORE *st, STORE_TXN *txn, const char *tenant, const char *addr,
                        time_t now, STORE_ENTRY *entry, SUP_ERR *err);

/* Iteration callbacks return 0 to go on, non-zero to stop (that value is returned). */
typedef int (*store_entry_fn)(const STORE_ENTRY *entry, void *ctx);
typedef int (*store_event_fn)(const STORE_EVENT *event, void *ctx);
typedef int (*store_counter_fn)(const char *day, const char *name, uint64_t value, void *ctx);

/* All entries, expired ones included (callers check expires): the
 * tenants' scopes first, by tenant then address, then the global scope
 * in address order; entry->tenant says which. */
int store_iterate(STORE *st, store_entry_fn fn, void *ctx, SUP_ERR *err);

/*
 * Timeline.  store_event_add keeps at most max_events per address (oldest
 * dropped; 0 = no limit).  store_events walks one address's events oldest
 * first.  store_event_count counts events of `type` for addr since `since`.
 */
int store_event_add(STORE *st, STORE_TXN *txn, const STORE_EVENT *ev, int max_events, SUP_ERR *err);
int store_events(STORE *st, STORE_TXN *txn, const char *addr, store_event_fn fn, void *ctx, SUP_ERR *err);
int store_event_count(STORE *st, STORE_TXN *txn, const char *addr, enum store_event_type type,
                      time_t since, SUP_ERR *err);

/* Daily counters: day is "YYYY-MM-DD" (time_format_day()). */
int store_counter_add(STORE *st, STORE_TXN *txn, const char *day, const char *name,
                      uint64_t delta, SUP_ERR *err);
/* All counters ordered by day then name. */
int store_counters(STORE *st, store_counter_fn fn, void *ctx, SUP_ERR *err);

/* Identities of processed bounce messages (idempotent ingest): 1 seen, 0 not. */
int store_seen(STORE *st, STORE_TXN *txn, const char *message_key, SUP_ERR *err);
int store_mark_seen(STORE *st, STORE_TXN *txn, const char *message_key, time_t when, SUP_ERR *err);

/*
 * The ledger of sent mail: for each message the milter let through, its
 * Message-ID, envelope sender and accepted recipients, so that
 * suppress-ingest believes a failure only for a recipient of a message
 * this relay sent (ingest.trust "sent").  Keyed by Message-ID (without
 * <>, compared exactly); a second message with the same Message-ID adds
 * its recipients to the first (applications resend with one id).  At most
 * STORE_LEDGER_RCPTS_MAX recipients are kept per Message-ID.
 */
#define STORE_MESSAGE_ID_MAX 250
#define STORE_LEDGER_RCPTS_MAX 1000

typedef struct store_ledger_msg {
    const char *message_id;     /* without <> */
    time_t when;                /* accepted at */
    const char *sender;         /* normalized envelope sender, "" for <> */
    const char *const *rcpts;   /* normalized accepted recipients */
    size_t rcpt_count;
    const char *tenant;         /* the message's tenant (tenant.h); NULL or "" = none */
} STORE_LEDGER_MSG;

/* Recipients over STORE_LEDGER_RCPTS_MAX are dropped: 0 is returned and
 * err (class SUP_OK) says how many; err is cleared otherwise. */
int store_ledger_add(STORE *st, STORE_TXN *txn, const STORE_LEDGER_MSG *msg, SUP_ERR *err);

enum store_ledger_answer {
    STORE_LEDGER_UNKNOWN_MESSAGE,   /* no such Message-ID (never sent, or purged) */
    STORE_LEDGER_NOT_RECIPIENT,     /* the message is known; rcpt was not among its recipients */
    STORE_LEDGER_RECIPIENT,         /* rcpt was a recipient of it */
};
/* Look rcpt (normalized) up for message_id: 0 with *answer and, when the
 * message is known, *sent (its time; may be NULL), or -1 with err. */
int store_ledger_check(STORE *st, STORE_TXN *txn, const char *message_id, const char *rcpt,
                       enum store_ledger_answer *answer, time_t *sent, SUP_ERR *err);
/* Who sent message_id: 1 with its sender (ADDR_MAX + 1 bytes) and tenant
 * (STORE_TENANT_MAX bytes, "" when none was recorded), 0 when the ledger
 * does not know it, -1 with err. */
int store_ledger_sender(STORE *st, STORE_TXN *txn, const char *message_id, char *sender,
                        char *tenant, SUP_ERR *err);

/* How long store_purge keeps what ages (seconds; negative: for ever). */
struct store_retention {
    long events;
    long seen;
    long ledger;
};

/* What store_purge removed. */
struct store_purge_result {
    unsigned long expired_entries;
    unsigned long old_events;
    unsigned long old_seen;
    unsigned long old_ledger;
    unsigned long pages_freed;      /* given back to the file system by compaction */
};
/* Remove expired suppressions (recording an "expired" event for each),
 * events, message identities and ledger messages older than now minus
 * their retention; then compact the databases that shrink (pages left
 * part-empty by deletes and by B-tree splits are merged and the free
 * ones given back to the file system), checkpoint and remove unneeded
 * log files.  A
 * negative retention (DURATION_NEVER) keeps everything.  The "expired"
 * event is dated at the entry's expiry. */
int store_purge(STORE *st, time_t now, const struct store_retention *keep,
                struct store_purge_result *result, SUP_ERR *err);

/* The compaction store_purge ends with, alone: pages_freed (may be NULL)
 * says how many pages went back to the file system. */
int store_compact(STORE *st, unsigned long *pages_freed, SUP_ERR *err);

/* Checkpoint the environment and remove log files no longer needed. */
int store_checkpoint(STORE *st, SUP_ERR *err);

/* Copy the remote response into a bounded field, cutting at a UTF-8 boundary. */
void store_copy_text(char *dst, size_t dstlen, const char *src);

/*
 * A store that may be damaged (store_verify.c), for suppressctl verify
 * and recover.  Neither joins the shared environment.
 *
 * store_verify checks the files of the store in dir as they are on disk:
 * each database (DB->verify), and the log (its files there, without a
 * gap, every record readable).  Each problem found is one line to fn.
 * Returns the number of problems (0: sound), or -1 with err when the
 * check could not run.  With writers running, a database being written
 * may be reported: check again, or with them stopped.
 *
 * store_recover runs catastrophic recovery (DB_RECOVER_FATAL) from the
 * log files there (what it did, or why the log could not be replayed, is
 * said to fn), makes the databases independent of that log and starts
 * a new environment and log.  It refuses (SUP_ERR_TEMP) while another
 * process has the store open.  A database DB->verify still finds damaged
 * afterwards is for a restore from an export (suppressctl(8)).
 */
typedef void (*store_problem_fn)(const char *problem, void *ctx);
int store_verify(const char *dir, store_problem_fn fn, void *ctx, SUP_ERR *err);
int store_recover(const char *dir, store_problem_fn fn, void *ctx, SUP_ERR *err);

/*
 * Replication (store_rep.c; the replication section of
 * milter-suppress.conf(5)).  store_replication, before a process's first
 * store_open, makes its environment a site of the fleet rep describes
 * (NULL or a disabled section: a single host).  On a replica a write
 * fails with SUP_ERR_NOPERM and an error naming the master; store_open
 * of a new replica that has not received the store yet fails with
 * SUP_ERR_TEMP.
 */
struct replication_config;
int store_replication(const struct replication_config *rep, SUP_ERR *err);
bool store_rep_configured(void);

/* What suppressctl status shows (store_rep_status). */
#define STORE_REP_ADDRESS_MAX 272
#define STORE_REP_SITES_MAX 64
struct store_rep_site {
    char address[STORE_REP_ADDRESS_MAX];    /* host:port */
    bool connected;             /* this site's replication process talks to it now */
    bool master;                /* it is the master */
};
struct store_rep_status {
    bool replicated;            /* false: a single host (nothing else is filled) */
    bool master;                /* this site is the master now */
    bool synced;                /* caught up with a master once (or master) */
    bool listener;              /* this process is the site's replication process */
    char local[STORE_REP_ADDRESS_MAX];
    char master_address[STORE_REP_ADDRESS_MAX];     /* "" when no master is known */
    unsigned long log_file;     /* this site's log position: the next record's LSN */
    unsigned long log_offset;
    unsigned long log_queued;   /* records received out of order, waiting for a gap */
    unsigned long perm_failed;  /* master commits whose acknowledgements did not come in time */
    unsigned long elections;    /* elections this site held */
    size_t site_count;          /* the other sites */
    struct store_rep_site sites[STORE_REP_SITES_MAX];
};
int store_rep_status(STORE *st, struct store_rep_status *out, SUP_ERR *err);

#endif
