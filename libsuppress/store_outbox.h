/*
 * store_outbox.h: what a replica's milter records, on its way to the
 * master (the replication section of milter-suppress.conf(5)).
 *
 * A replica cannot write into its replica of the store.  Its milter
 * puts each flush of its statistics writer (counter deltas, rejection
 * events, ledger messages) into one batch (STORE_BATCH, store_batch.c),
 * and the batch into the outbox, a spool directory beside the store
 * (<store>/outbox/, store_outbox.c); a shipping thread sends the oldest
 * batch to the master (store_ship.c), which applies it in one
 * transaction, once, and answers; only then is the file deleted.
 *
 * The programs see this header only; Berkeley DB stays in store_ship.c.
 */
#ifndef STORE_OUTBOX_H
#define STORE_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

/* ---- one batch (store_batch.c) ----------------------------------------- */

/*
 * The file (and message) format, version 1, all integers big-endian:
 *
 *   "MSOB" | version(1) | site id(16) | be64 seq | be64 created | be32 records
 *   | records | be32 CRC-32 of everything before it
 *
 * record: type(1) | be32 body length | body, of type
 *   1 counter  str day | str name | be64 delta
 *   2 event    type(1) | be64 when | str address | str reason | str status | str actor
 *              | str detail | str response | str via | str tenant
 *   3 ledger   be64 when | str message id | str sender | str tenant
 *              | be32 n | n x str recipient
 * str: be16 length | bytes (no NUL, shorter than the field it fills).
 *
 * A batch is parsed strictly: the wrong magic or version, a bad CRC, a
 * field longer than its place, a body not used up exactly, a record
 * count that does not match, or bytes after the end all refuse it whole
 * (SUP_ERR_INPUT naming what was wrong).
 */
#define STORE_BATCH_VERSION 1
#define STORE_SITE_ID_BYTES 16
#define STORE_BATCH_MAX_BYTES (4u * 1024 * 1024)   /* a batch is cut before this */

typedef struct store_batch STORE_BATCH;

STORE_BATCH *store_batch_new(void);             /* NULL when out of memory */
void store_batch_free(STORE_BATCH *b);          /* safe with NULL */
/* Append one record; -1 with err (SUP_ERR_INPUT: a field too long;
 * SUP_ERR_IO: out of memory).  A record that fails adds nothing. */
int store_batch_add_counter(STORE_BATCH *b, const char *day, const char *name, uint64_t delta,
                            SUP_ERR *err);
int store_batch_add_event(STORE_BATCH *b, const STORE_EVENT *ev, SUP_ERR *err);
int store_batch_add_ledger(STORE_BATCH *b, const STORE_LEDGER_MSG *msg, SUP_ERR *err);
size_t store_batch_records(const STORE_BATCH *b);
size_t store_batch_bytes(const STORE_BATCH *b); /* of the records so far */

/* The whole batch as it is stored and sent, in a buffer the caller frees. */
int store_batch_encode(const STORE_BATCH *b, const unsigned char site[STORE_SITE_ID_BYTES],
                       uint64_t seq, time_t created, unsigned char **out, size_t *len,
                       SUP_ERR *err);

struct store_batch_head {
    unsigned char site[STORE_SITE_ID_BYTES];
    uint64_t seq;
    time_t created;
    uint32_t records;
};
/* What a parse hands each record to; a NULL function skips its kind.
 * They return 0 to go on, -1 with err to stop (returned). */
struct store_batch_visitor {
    int (*counter)(const char *day, const char *name, uint64_t delta, void *ctx, SUP_ERR *err);
    int (*event)(const STORE_EVENT *ev, void *ctx, SUP_ERR *err);
    int (*ledger)(const STORE_LEDGER_MSG *msg, void *ctx, SUP_ERR *err);
};
/* Check all of buf, fill *head; then (v not NULL) visit every record in
 * order.  Nothing is visited from a batch that fails the check. */
int store_batch_parse(const unsigned char *buf, size_t len, struct store_batch_head *head,
                      const struct store_batch_visitor *v, void *ctx, SUP_ERR *err);
/* A site id as 32 lowercase hex digits (buf: at least 33 bytes). */
void store_site_id_hex(const unsigned char site[STORE_SITE_ID_BYTES], char *buf);

/* ---- the spool directory (store_outbox.c) ------------------------------ */

/*
 * <store>/outbox/ holds
 *   site-id            this site's random id, made once (a site rebuilt
 *                      with a new store gets a new one)
 *   seq                the high-water mark of sequence numbers, written
 *                      and fsync'd before any number below it is used
 *   dropped            batches refused because the outbox was full
 *   <seq>.batch        a batch waiting (16 hex digits: names sort by seq)
 *   <seq>.bad          one that failed to parse or the master refused:
 *                      kept for a person, never sent again
 * A batch is written to a temporary file, fsync'd, renamed and the
 * directory fsync'd: after a crash a batch is there whole or not at all.
 * One process (the site's milter) writes an outbox at a time.
 */
#define STORE_OUTBOX_DIR "outbox"

typedef struct store_outbox STORE_OUTBOX;

/* Open (creating it) the outbox of the store in store_dir, holding at
 * most max_bytes of batches.  0, or -1 with err. */
int store_outbox_open(const char *store_dir, uint64_t max_bytes, STORE_OUTBOX **out,
                      SUP_ERR *err);
void store_outbox_close(STORE_OUTBOX *ob);      /* safe with NULL */
void store_outbox_set_max(STORE_OUTBOX *ob, uint64_t max_bytes);
const unsigned char *store_outbox_site(const STORE_OUTBOX *ob);
/* Store b as the next batch: 0 stored, 1 dropped (the outbox is full:
 * counted in "dropped"), -1 with err (nothing stored). */
int store_outbox_put(STORE_OUTBOX *ob, const STORE_BATCH *b, SUP_ERR *err);
/* The oldest waiting batch: 1 with its bytes in *buf (the caller frees)
 * and its sequence number, 0 when none waits, -1 with err. */
int store_outbox_oldest(STORE_OUTBOX *ob, unsigned char **buf, size_t *len, uint64_t *seq,
                        SUP_ERR *err);
/* The master has it: delete it.  0, or -1 with err. */
int store_outbox_done(STORE_OUTBOX *ob, uint64_t seq, SUP_ERR *err);
/* Never to be sent: renamed <seq>.bad, kept.  0, or -1 with err. */
int store_outbox_set_aside(STORE_OUTBOX *ob, uint64_t seq, SUP_ERR *err);

/* What suppressctl status shows, read from the directory alone. */
struct store_outbox_status {
    bool exists;                /* the outbox directory is there */
    char site[2 * STORE_SITE_ID_BYTES + 1];     /* "" when no id was made yet */
    unsigned long batches;      /* waiting */
    uint64_t bytes;             /* their size */
    time_t oldest;              /* when the oldest was written; 0 when none */
    unsigned long dropped;      /* refused since the outbox was made (full) */
    unsigned long set_aside;    /* .bad files */
};
int store_outbox_status(const char *store_dir, struct store_outbox_status *st, SUP_ERR *err);

/* ---- shipping (store_ship.c) ------------------------------------------- */

enum store_ship_result {
    STORE_SHIP_APPLIED,         /* the master (or this site, master now) applied it */
    STORE_SHIP_DUPLICATE,       /* it had been applied already: nothing done again */
    STORE_SHIP_RETRY,           /* no master, no answer, or the master cannot now: later */
    STORE_SHIP_REFUSED,         /* the master says the batch is bad: set it aside */
};

/*
 * Send one encoded batch to the master and wait up to timeout_ms for its
 * answer; if this site is the master, apply it here instead.  Returns
 * the result (err says why for RETRY and REFUSED), never -1.
 */
enum store_ship_result store_ship_send(STORE *st, const unsigned char *buf, size_t len,
                                       long timeout_ms, SUP_ERR *err);
/*
 * Apply an encoded batch to this store (the master) in one transaction,
 * with its site's mark: a batch whose sequence number is not above the
 * site's last applied one is a DUPLICATE.  Rejection events are kept at
 * most max_events per address (policy.timeline-max-events).
 */
enum store_ship_result store_ship_apply(STORE *st, const unsigned char *buf, size_t len,
                                        int max_events, SUP_ERR *err);
/*
 * The store the master applies batches with, when they come in over
 * replication (the replication process's message threads); NULL stops
 * applying (batches are answered "later").  st must stay open until
 * store_ship_serve(NULL) returned.
 */
void store_ship_serve(STORE *st, int max_events);

/* The sites whose batches this store has applied, and the last
 * sequence number of each (fn returns 0 to go on). */
typedef int (*store_ship_mark_fn)(const char *site_hex, uint64_t seq, time_t when, void *ctx);
int store_ship_marks(STORE *st, store_ship_mark_fn fn, void *ctx, SUP_ERR *err);

/* This site is a replica (or between masters) now: its writes would be
 * refused.  False for a store that is not replicated. */
bool store_is_replica(STORE *st);

#endif
