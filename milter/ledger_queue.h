/*
 * ledger_queue.h: the messages the milter let through, on their way to the
 * ledger of sent mail (store.h, ledger section of milter-suppress.conf(5)).
 *
 * At end of message filter.c hands over the Message-ID, the sender and
 * the accepted recipients (one allocation, one short lock); the stats
 * writer thread writes them to the store in batches, never on the SMTP
 * path.  The queue is bounded: past LEDGER_QUEUE_MAX waiting messages new
 * ones are dropped, counted and logged (their bounces can then only be
 * believed by their signature).
 */
#ifndef LEDGER_QUEUE_H
#define LEDGER_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "store.h"
#include "store_outbox.h"

#define LEDGER_QUEUE_MAX 4096       /* messages waiting for the writer */

/* Queue one message; tenant is "" when none is known; rcpts is rcpt_count NUL-terminated addresses laid end
 * to end.  False when it was dropped (queue full, out of memory).  Wakes
 * the writer when the queue was empty. */
bool ledger_queue_push(const char *message_id, const char *sender, const char *tenant,
                       const char *rcpts, size_t rcpt_count, time_t when);

/* Write everything queued (the writer thread).  What the store does not
 * take stays queued for the next flush, except a message it refuses as
 * bad input (logged and dropped).  0, or -1 with err. */
int ledger_queue_flush(STORE *st, SUP_ERR *err);

/* On a replica, where the writer puts them into the outbox's batch
 * (stats.c, store_outbox.h): copy the first messages, up to max_bytes of
 * batch, into b (those the batch refuses are logged and counted in
 * *refused) and return how many were taken; they leave the queue when
 * ledger_queue_drop is called, once the outbox has the batch. */
size_t ledger_queue_into_batch(STORE_BATCH *b, size_t max_bytes, size_t *refused);
void ledger_queue_drop(size_t n);

/* Messages waiting now (tests). */
size_t ledger_queue_length(void);

#endif
