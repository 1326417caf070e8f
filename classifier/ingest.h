/*
 * ingest.h: one message through suppress-ingest's pipeline.
 *
 *   ingest_message(): parse -> detect -> classify -> policy, all store
 *   effects of the message in one transaction, idempotent by message
 *   identity (ingest.c).
 *   ingest_batch_*(): the same for a mailbox's messages, many of them per
 *   transaction (group commit) (ingest.c).
 *   output_*(): the --dry-run --json lines (output.c).
 */
#ifndef INGEST_H
#define INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "bounce.h"
#include "conf.h"
#include "retpath.h"
#include "sup_err.h"

struct store;

/* ---- JSON dry-run output (output.c) ---- */

/* One line per recipient; `file` is the name shown ("-" for stdin). */
void output_report_json(FILE *fp, const char *file, const BOUNCE_REPORT *report);
/* The line for a message that is no report: {"file": ..., "class": "none"}. */
void output_none_json(FILE *fp, const char *file);
/* The line for a message that could not be parsed at all. */
void output_error_json(FILE *fp, const char *file, const char *error);

/* ---- one message (ingest.c) ---- */

enum ingest_outcome {
    INGEST_APPLIED,         /* effects committed to the store */
    INGEST_DUPLICATE,       /* seen before: nothing changed */
    INGEST_NOT_REPORT,      /* no bounce, complaint or auto-reply: quarantine */
    INGEST_REJECTED,        /* malformed or over a limit: quarantine */
    INGEST_QUEUED,          /* waits in a batch: its outcome comes later */
    INGEST_DEFERRED,        /* nothing committed: leave it for a retry */
    INGEST_UNVERIFIED,      /* committed as "unverified" (not believed): quarantine, err says why */
};

typedef struct ingest_ctx {
    const struct sup_config *cfg;
    struct store *store;        /* NULL in dry-run mode */
    bool dry_run;
    bool json;                  /* dry run: print JSON lines */
    FILE *out;                  /* where dry-run output goes */
    const char *envelope_recipient; /* -r, for VERP; NULL = from the headers */
    enum ingest_trust trust;    /* ingest.trust, or --trust */
    const RETPATH_KEYS *keys;   /* the signing keys; NULL: none could be read */
    unsigned long messages;     /* counters for the summary line */
    unsigned long recipients;
    unsigned long suppressed;
} INGEST_CTX;

/*
 * Process one raw message.  On success returns 0 and sets *outcome; the
 * reason text of a quarantine outcome is in err->text (class SUP_OK is not
 * used: INGEST_NOT_REPORT/INGEST_REJECTED come with err filled, cls
 * SUP_ERR_INPUT).  Returns -1 on a failure that must leave the message
 * where it is (store busy: SUP_ERR_TEMP; I/O).
 */
int ingest_message(INGEST_CTX *ctx, const char *name, const char *raw, size_t len,
                   enum ingest_outcome *outcome, SUP_ERR *err);

/*
 * Group commit, for mailboxes: the store effects of up to
 * INGEST_BATCH_MAX messages, or of those read within INGEST_BATCH_SECONDS,
 * go into one transaction (one disk flush instead of one per message).
 * A message is still never removed before its effects are committed: its
 * outcome reaches the batch's callback only after the commit.  A deadlock
 * retries the whole batch; a message whose effects fail is taken out (the
 * messages before it are committed without it), so one bad message never
 * holds back the others.
 */
#define INGEST_BATCH_MAX 100
#define INGEST_BATCH_SECONDS 1

typedef struct ingest_batch INGEST_BATCH;

/*
 * The outcome of a queued message: INGEST_APPLIED, INGEST_DUPLICATE,
 * INGEST_UNVERIFIED (committed; quarantine it, err->text says why), or
 * INGEST_DEFERRED with err saying why (SUP_ERR_TEMP: the store is busy).
 * run is the pointer given to ingest_batch_new(), item the one given with
 * the message.
 */
typedef void (*ingest_done_fn)(void *run, void *item, enum ingest_outcome outcome,
                               const SUP_ERR *err);

INGEST_BATCH *ingest_batch_new(INGEST_CTX *ctx, ingest_done_fn done, void *run);
/*
 * Analyze one message.  *outcome is INGEST_QUEUED when its effects wait
 * in the batch (the callback tells the rest, maybe during this call or a
 * later one); otherwise the message has no store effects and *outcome
 * says what it is, as ingest_message() does (dry run: INGEST_APPLIED or
 * INGEST_NOT_REPORT).  Commits the batch when it is full or old enough.
 * Returns 0, or -1 with err when the store is busy (SUP_ERR_TEMP): the
 * caller stops reading messages; all queued ones were told
 * INGEST_DEFERRED.
 */
int ingest_batch_add(INGEST_BATCH *batch, const char *name, const char *raw, size_t len,
                     void *item, enum ingest_outcome *outcome, SUP_ERR *err);
/* Commit what is queued now.  0, or -1 as for ingest_batch_add(). */
int ingest_batch_flush(INGEST_BATCH *batch, SUP_ERR *err);
/* Free the batch; messages still queued are told INGEST_DEFERRED. */
void ingest_batch_free(INGEST_BATCH *batch);

#endif
