/*
 * ingest-probe.c: a test tool for test-ingest.sh that looks into a real
 * store, or holds a lock on it, through the store interface (store.h).
 *
 *   ingest-probe DIR entry ADDR        "REASON EXPIRES COUNT" (exit 1 if absent)
 *   ingest-probe DIR events ADDR       the number of timeline events
 *   ingest-probe DIR seen KEY          1 or 0
 *   ingest-probe DIR counter NAME      the sum of a daily counter over all days
 *   ingest-probe DIR hold ADDR SECONDS write-lock ADDR's entry in an open
 *                                      transaction, print "held", sleep, abort
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "store.h"

static int count_event(const STORE_EVENT *ev, void *ctx)
{
    (void) ev;
    (*(long *) ctx)++;
    return 0;
}

struct counter_sum {
    const char *name;
    unsigned long long sum;
};

static int add_counter(const char *day, const char *name, uint64_t value, void *ctx)
{
    struct counter_sum *c = ctx;

    (void) day;
    if (strcmp(name, c->name) == 0)
        c->sum += value;
    return 0;
}

static int hold(STORE *st, const char *addr, int seconds, SUP_ERR *err)
{
    STORE_TXN *txn;
    STORE_ENTRY e;

    memset(&e, 0, sizeof(e));
    snprintf(e.address, sizeof(e.address), "%s", addr);
    e.reason = STORE_REASON_MANUAL;
    snprintf(e.source, sizeof(e.source), "ingest-probe");
    if (store_begin(st, &txn, err) < 0)
        return -1;
    if (store_put(st, txn, &e, err) < 0) {
        store_abort(txn);
        return -1;
    }
    printf("held\n");
    fflush(stdout);
    sleep((unsigned) seconds);
    store_abort(txn);
    return 0;
}

int main(int argc, char **argv)
{
    STORE *st;
    SUP_ERR err;
    const char *cmd;
    int rc = 0;

    if (argc < 4) {
        fprintf(stderr, "usage: ingest-probe DIR entry|events|seen|counter|hold ARG [SECONDS]\n");
        return EX_USAGE;
    }
    cmd = argv[2];
    if (store_open(argv[1], strcmp(cmd, "hold") == 0 ? 0 : STORE_RDONLY, &st, &err) < 0) {
        fprintf(stderr, "ingest-probe: %s\n", err.text);
        return sup_err_exit_code(&err);
    }
    if (strcmp(cmd, "entry") == 0) {
        STORE_ENTRY e;

        rc = store_get(st, NULL, argv[3], &e, &err);
        if (rc == 1)
            printf("%s %lld %u\n", store_reason_name(e.reason), (long long) e.expires, e.count);
        rc = rc == 1 ? 0 : rc == 0 ? 1 : -1;
    } else if (strcmp(cmd, "events") == 0) {
        long n = 0;

        rc = store_events(st, NULL, argv[3], count_event, &n, &err);
        if (rc == 0)
            printf("%ld\n", n);
    } else if (strcmp(cmd, "seen") == 0) {
        rc = store_seen(st, NULL, argv[3], &err);
        if (rc >= 0) {
            printf("%d\n", rc);
            rc = 0;
        }
    } else if (strcmp(cmd, "counter") == 0) {
        struct counter_sum c = { argv[3], 0 };

        rc = store_counters(st, add_counter, &c, &err);
        if (rc == 0)
            printf("%llu\n", c.sum);
    } else if (strcmp(cmd, "hold") == 0 && argc == 5) {
        rc = hold(st, argv[3], atoi(argv[4]), &err);
    } else {
        fprintf(stderr, "ingest-probe: unknown command %s\n", cmd);
        rc = -1;
        err.cls = SUP_ERR_SOFTWARE;
        snprintf(err.text, sizeof(err.text), "usage");
    }
    if (rc < 0)
        fprintf(stderr, "ingest-probe: %s\n", err.text);
    store_close(st, NULL);
    return rc < 0 ? sup_err_exit_code(&err) : rc;
}
