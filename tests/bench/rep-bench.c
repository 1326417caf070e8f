/*
 * rep-bench.c: the two halves of tests/bench/rep-bench.sh, each a process
 * of one site of a replicated store (its config names the site):
 *
 *   rep-bench write CONF N PREFIX    on the master: N store_put commits of
 *                                    PREFIX<i>@bench.example, one after the
 *                                    other; prints "i commit_end_ns" per
 *                                    write, then writes/s on stderr
 *   rep-bench watch CONF N PREFIX    on a replica: waits for each address
 *                                    in turn and prints "i visible_ns"
 *   rep-bench lookups CONF N PREFIX  lookups/s: 1M lookups of the N addresses
 *                                    PREFIX<i>@bench.example (all present)
 *
 * Both halves read CLOCK_REALTIME on one machine, so the script can
 * subtract.  Writes are committed in order and a replica applies them in
 * order, so the watcher polls only the next address (every 50 us).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "store.h"

#define WATCH_POLL_US 50
#define WATCH_GIVE_UP_S 120
#define LOOKUPS 1000000

static long long now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void address(char *buf, size_t len, const char *prefix, long i)
{
    snprintf(buf, len, "%s%ld@bench.example", prefix, i);
}

static int die(const char *what, const SUP_ERR *err)
{
    fprintf(stderr, "rep-bench: %s: %s\n", what, err->text);
    return 1;
}

static int run_write(STORE *st, long n, const char *prefix)
{
    STORE_ENTRY e;
    SUP_ERR err;
    long long t0 = now_ns();

    memset(&e, 0, sizeof(e));
    e.reason = STORE_REASON_MANUAL;
    snprintf(e.source, sizeof(e.source), "rep-bench");
    e.first_event = e.last_event = time(NULL);
    e.count = 1;
    for (long i = 0; i < n; i++) {
        address(e.address, sizeof(e.address), prefix, i);
        for (int attempt = 1;; attempt++) {
            if (store_put(st, NULL, &e, &err) == 0)
                break;
            if (err.cls != SUP_ERR_TEMP || attempt > 20)
                return die("store_put", &err);
            store_retry_delay(attempt);
        }
        printf("%ld %lld\n", i, now_ns());
    }
    fprintf(stderr, "rep-bench: %ld writes in %.2f s: %.0f writes/s\n", n,
            (double) (now_ns() - t0) / 1e9, (double) n * 1e9 / (double) (now_ns() - t0));
    return 0;
}

static int run_watch(STORE *st, long n, const char *prefix)
{
    char addr[ADDR_MAX + 1];
    SUP_ERR err;
    long long give_up = now_ns() + WATCH_GIVE_UP_S * 1000000000LL;

    for (long i = 0; i < n; i++) {
        int rc;

        address(addr, sizeof(addr), prefix, i);
        while ((rc = store_lookup(st, NULL, addr, time(NULL), NULL, &err)) == 0) {
            if (now_ns() > give_up) {
                fprintf(stderr, "rep-bench: %s did not arrive in %d s\n", addr, WATCH_GIVE_UP_S);
                return 1;
            }
            usleep(WATCH_POLL_US);
        }
        if (rc < 0)
            return die("store_lookup", &err);
        printf("%ld %lld\n", i, now_ns());
    }
    return 0;
}

static int run_lookups(STORE *st, long n, const char *prefix)
{
    char addr[ADDR_MAX + 1];
    SUP_ERR err;
    long long t0 = now_ns();
    long found = 0;

    for (long i = 0; i < LOOKUPS; i++) {
        int rc;

        address(addr, sizeof(addr), prefix, i % n);
        if ((rc = store_lookup(st, NULL, addr, time(NULL), NULL, &err)) < 0)
            return die("store_lookup", &err);
        found += rc;
    }
    printf("%.0f lookups/s (%ld of %d found)\n", (double) LOOKUPS * 1e9 / (double) (now_ns() - t0),
           found, LOOKUPS);
    return 0;
}

int main(int argc, char **argv)
{
    struct sup_config *cfg;
    STORE *st = NULL;
    SUP_ERR err;
    long n;
    int rc;

    if (argc != 5 || (n = atol(argv[3])) <= 0) {
        fprintf(stderr, "usage: rep-bench write|watch|lookups CONF N PREFIX\n");
        return 2;
    }
    if (conf_load(argv[2], false, &cfg, &err) < 0)
        return die("config", &err);
    if (store_replication(&cfg->replication, &err) < 0)
        return die("replication", &err);
    for (int attempt = 1;; attempt++) {
        if (store_open(cfg->store, strcmp(argv[1], "write") == 0 ? STORE_CREATE : 0, &st, &err) == 0)
            break;
        if (err.cls != SUP_ERR_TEMP || attempt > 100)
            return die("store_open", &err);
        usleep(100000);
    }
    if (strcmp(argv[1], "write") == 0)
        rc = run_write(st, n, argv[4]);
    else if (strcmp(argv[1], "watch") == 0)
        rc = run_watch(st, n, argv[4]);
    else
        rc = run_lookups(st, n, argv[4]);
    fflush(stdout);
    (void) store_close(st, &err);
    conf_free(cfg);
    return rc;
}
