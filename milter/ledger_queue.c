/*
 * ledger_queue.c: the milter's messages waiting for the ledger of sent
 * mail (ledger_queue.h).
 *
 * A singly linked FIFO under one mutex: the producers (libmilter threads
 * at end of message) append one block each, the one consumer (the stats
 * writer) takes up to LEDGER_BATCH at a time and frees them once the
 * store has them.  No store call happens under the lock.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_queue.h"
#include "log.h"
#include "stats.h"

#define LEDGER_BATCH 64             /* messages per transaction */
#define TXN_ATTEMPTS 5

struct ledger_item {
    struct ledger_item *next;
    time_t when;
    size_t rcpt_count;
    const char *sender;             /* into text */
    const char *tenant;             /* into text, "" = none */
    const char *rcpts;              /* into text: rcpt_count strings */
    char text[];                    /* message id \0 sender \0 tenant \0 rcpts */
};

static pthread_mutex_t queue_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ledger_item *queue_head, **queue_tail = &queue_head;
static size_t queue_len;
static atomic_ulong queue_dropped;

/* The length of rcpt_count strings laid end to end, NULs included. */
static size_t rcpts_size(const char *rcpts, size_t rcpt_count)
{
    const char *p = rcpts;

    for (size_t i = 0; i < rcpt_count; i++)
        p += strlen(p) + 1;
    return (size_t) (p - rcpts);
}

bool ledger_queue_push(const char *message_id, const char *sender, const char *tenant,
                       const char *rcpts, size_t rcpt_count, time_t when)
{
    size_t id_len = strlen(message_id) + 1, sender_len = strlen(sender) + 1;
    size_t tenant_len = strlen(tenant) + 1;
    size_t rcpt_len = rcpts_size(rcpts, rcpt_count);
    struct ledger_item *item = malloc(sizeof(*item) + id_len + sender_len + tenant_len + rcpt_len);
    bool was_empty = false, queued = false;

    if (item != NULL) {
        memcpy(item->text, message_id, id_len);
        memcpy(item->text + id_len, sender, sender_len);
        memcpy(item->text + id_len + sender_len, tenant, tenant_len);
        memcpy(item->text + id_len + sender_len + tenant_len, rcpts, rcpt_len);
        item->sender = item->text + id_len;
        item->tenant = item->text + id_len + sender_len;
        item->rcpts = item->text + id_len + sender_len + tenant_len;
        item->rcpt_count = rcpt_count;
        item->when = when;
        item->next = NULL;
        pthread_mutex_lock(&queue_lock);
        if (queue_len < LEDGER_QUEUE_MAX) {
            was_empty = queue_len == 0;
            *queue_tail = item;
            queue_tail = &item->next;
            queue_len++;
            queued = true;
        }
        pthread_mutex_unlock(&queue_lock);
    }
    if (!queued) {
        free(item);
        atomic_fetch_add(&queue_dropped, 1);
        return false;
    }
    /* Soon in the ledger: a bounce may come back within seconds. */
    if (was_empty)
        stats_wake();
    return true;
}

size_t ledger_queue_length(void)
{
    size_t len;

    pthread_mutex_lock(&queue_lock);
    len = queue_len;
    pthread_mutex_unlock(&queue_lock);
    return len;
}

/* The first n items, left in the queue (only the writer removes). */
static size_t peek(struct ledger_item **batch, size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&queue_lock);
    for (struct ledger_item *it = queue_head; it != NULL && n < max; it = it->next)
        batch[n++] = it;
    pthread_mutex_unlock(&queue_lock);
    return n;
}

static void drop_first(size_t n)
{
    pthread_mutex_lock(&queue_lock);
    while (n-- > 0 && queue_head != NULL) {
        struct ledger_item *it = queue_head;

        queue_head = it->next;
        if (queue_head == NULL)
            queue_tail = &queue_head;
        queue_len--;
        free(it);
    }
    pthread_mutex_unlock(&queue_lock);
}

static int add_item(STORE *st, STORE_TXN *txn, const struct ledger_item *it, SUP_ERR *err)
{
    const char *rcpt_ptrs[STORE_LEDGER_RCPTS_MAX];
    const char *p = it->rcpts;
    size_t n = it->rcpt_count < STORE_LEDGER_RCPTS_MAX ? it->rcpt_count : STORE_LEDGER_RCPTS_MAX;
    STORE_LEDGER_MSG msg = { it->text, it->when, it->sender, rcpt_ptrs, n, it->tenant };

    for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
        rcpt_ptrs[i] = p;
    if (store_ledger_add(st, txn, &msg, err) < 0)
        return -1;
    if (err->text[0] != '\0')      /* recipients over the cap of one Message-ID */
        log_info("%s", err->text);
    return 0;
}

struct batch {
    struct ledger_item *const *items;
    size_t count;
};

static int add_batch(STORE *st, STORE_TXN *txn, void *ctx, SUP_ERR *err)
{
    const struct batch *b = ctx;

    for (size_t i = 0; i < b->count; i++)
        if (add_item(st, txn, b->items[i], err) < 0)
            return -1;
    return 0;
}

/* One batch in one transaction, retried on deadlock. */
static int write_batch(STORE *st, struct ledger_item *const *items, size_t n, SUP_ERR *err)
{
    struct batch b = { items, n };

    return store_in_txn(st, add_batch, &b, TXN_ATTEMPTS, err);
}

/*
 * On a replica (stats.c): the first messages, up to max_bytes of batch,
 * go into b and stay queued until ledger_queue_drop says the outbox has
 * them.  A message the batch refuses (a field too long) is logged and
 * counted in *refused: the caller drops it with the others.
 */
size_t ledger_queue_into_batch(STORE_BATCH *b, size_t max_bytes, size_t *refused)
{
    struct ledger_item *batch[LEDGER_BATCH];
    const char *rcpt_ptrs[STORE_LEDGER_RCPTS_MAX];
    size_t n = peek(batch, LEDGER_BATCH), done = 0;
    SUP_ERR err;

    for (; done < n && store_batch_bytes(b) < max_bytes; done++) {
        const struct ledger_item *it = batch[done];
        size_t count = it->rcpt_count < STORE_LEDGER_RCPTS_MAX ? it->rcpt_count
            : STORE_LEDGER_RCPTS_MAX;
        STORE_LEDGER_MSG msg = { it->text, it->when, it->sender, rcpt_ptrs, count, it->tenant };
        const char *p = it->rcpts;

        for (size_t i = 0; i < count; i++, p += strlen(p) + 1)
            rcpt_ptrs[i] = p;
        sup_err_clear(&err);
        if (store_batch_add_ledger(b, &msg, &err) < 0) {
            log_error("not recording a message in the ledger: %s", err.text);
            (*refused)++;
        }
    }
    return done;
}

void ledger_queue_drop(size_t n)
{
    drop_first(n);
}

int ledger_queue_flush(STORE *st, SUP_ERR *err)
{
    struct ledger_item *batch[LEDGER_BATCH];
    unsigned long dropped = atomic_exchange(&queue_dropped, 0);
    size_t n;

    if (dropped > 0)
        log_warn("ledger queue full (%d): %lu messages were not recorded in the ledger",
                 LEDGER_QUEUE_MAX, dropped);
    while ((n = peek(batch, LEDGER_BATCH)) > 0) {
        if (write_batch(st, batch, n, err) == 0) {
            drop_first(n);
            continue;
        }
        if (err->cls != SUP_ERR_INPUT)
            return -1;          /* the store is unwell: keep them for later */
        /* One message the store refuses must not block the others. */
        for (size_t i = 0; i < n; i++) {
            sup_err_clear(err);
            if (write_batch(st, &batch[i], 1, err) < 0) {
                if (err->cls != SUP_ERR_INPUT)
                    return -1;
                log_error("not recording a message in the ledger: %s", err->text);
            }
            drop_first(1);
        }
        sup_err_clear(err);
    }
    return 0;
}
