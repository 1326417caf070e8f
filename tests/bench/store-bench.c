/*
 * store-bench.c: measures the suppression store the way the milter uses
 * it.  Loads N entries (big NOSYNC transactions), then times random
 * lookups that hit and that miss, with 1 and 2 threads on one STORE
 * handle, and the relay's common case (99% misses, 2 threads), and prints the figures and the size of the store on disk.
 * With -m it loads nothing: it opens the store in -d, does the lookups and
 * prints its resident memory (VmRSS/VmHWM), which approximates the
 * milter's with that many entries.  With -l it measures the ledger of
 * sent mail instead: N messages recorded as the milter's background
 * writer does (store_ledger_add, LEDGER_BATCH messages per NOSYNC
 * transaction), the size of ledger.db, then store_ledger_check of known
 * and unknown Message-IDs as suppress-ingest does.  With -t it measures
 * the RCPT path with tenants (issue 12): N global entries plus N/10 in
 * the scopes of 100 tenants, then store_lookup (tenant = "none") against
 * store_lookup_tenant (global + the sender's tenant, one index bucket
 * read) on the same store.  After the plain lookups it compares the slots
 * of lookup-slots.db with lookup.db's B-tree on the same handle.  Not a
 * test: it asserts nothing.
 *
 *   store-bench [-n ENTRIES] [-d DIR] [-q LOOKUPS] [-k] [-m | -l | -u | -t]
 *     -n  entries (with -l: messages) to load (default 1000000)
 *     -d  store directory (default: a new one under $TMPDIR, removed after)
 *     -q  lookups per measurement (default 1000000)
 *     -k  keep the store (with -d; needed before a later -m run)
 *     -m  memory mode: use the store already in -d (loaded with the same -n)
 *     -l  ledger mode
 *     -u  upgrade mode: an old store (record version 1, no lookup.db nor slots) of
 *         ENTRIES, then the first open that upgrades it, timed
 *     -t  tenant mode
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store.h"
#include "store_bdb.h"      /* -u writes an old store the way a release before did */
#include "store_record.h"

#define LOAD_TXN_SIZE 10000
#define LEDGER_BATCH  64        /* messages per transaction of the ledger load */
#define ROUNDS 3                /* comparisons: the best of this many, taken in turns */

static long n_entries = 1000000;
static long n_lookups = 1000000;
/* -t: entries in tenants' scopes (n_entries / 10), over TENANTS tenants */
#define TENANTS 100
static long n_scoped;

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void die(const char *what, const SUP_ERR *err)
{
    fprintf(stderr, "store-bench: %s: %s\n", what, err ? err->text : strerror(errno));
    exit(1);
}

/* Entry i's address.  A miss is an address that sorts right next to a hit
 * (another top-level domain), so misses reach random leaf pages too. */
static void address_of(long i, bool hit, char *buf, size_t len)
{
    snprintf(buf, len, "user%ld@d%ld.example.%s", i, i % 1000, hit ? "com" : "net");
}

/*
 * The i-th entry loaded: all of them once, in no order (the addresses of
 * bounces arrive as they come).  In address order instead, B-tree pages
 * split and are left half full behind the insertion points, a layout no
 * real store has.  i * LOAD_STRIDE mod n is a permutation when the stride
 * is a prime that does not divide n.
 */
#define LOAD_STRIDE 2654435761L
static long load_order(long i)
{
    return (long) (((unsigned __int128) i * LOAD_STRIDE) % (unsigned long) n_entries);
}

static void make_entry(long i, time_t now, STORE_ENTRY *e)
{
    memset(e, 0, sizeof(*e));
    address_of(i, true, e->address, sizeof(e->address));
    e->reason = STORE_REASON_HARD_BOUNCE;
    store_copy_text(e->source, sizeof(e->source), "suppress-ingest");
    store_copy_text(e->detail, sizeof(e->detail), "userunknown");
    store_copy_text(e->status, sizeof(e->status), "5.1.1");
    e->first_event = e->last_event = now;
    e->expires = now + 7 * 86400;
    e->count = 1;
    snprintf(e->response, sizeof(e->response),
             "550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table",
             e->address);
}

static void load(const char *dir)
{
    STORE *st;
    STORE_TXN *txn = NULL;
    STORE_ENTRY *e = malloc(sizeof(*e));
    SUP_ERR err;
    time_t now = time(NULL);
    double t0 = now_seconds(), secs;

    if (store_open(dir, STORE_CREATE | STORE_NOSYNC, &st, &err) < 0)
        die("open", &err);
    for (long i = 0; i < n_entries; i++) {
        if (txn == NULL && store_begin(st, &txn, &err) < 0)
            die("begin", &err);
        make_entry(load_order(i), now, e);
        if (store_put(st, txn, e, &err) < 0)
            die("put", &err);
        if ((i + 1) % LOAD_TXN_SIZE == 0 || i + 1 == n_entries) {
            if (store_commit(txn, &err) < 0)
                die("commit", &err);
            txn = NULL;
        }
    }
    if (store_checkpoint(st, &err) < 0)
        die("checkpoint", &err);
    if (store_close(st, &err) < 0)
        die("close", &err);
    secs = now_seconds() - t0;
    printf("load: %ld entries in %.1f s (%.0f puts/s)\n", n_entries, secs,
           (double) n_entries / secs);
    free(e);
}

/* -t: tenant i % TENANTS's scope holds the miss address of each i < n_scoped
 * (another tenant's complaint about an address not suppressed globally). */
static void tenant_of(long i, char *buf, size_t len)
{
    snprintf(buf, len, "tenant-%ld", i % TENANTS);
}

static void load_scoped(const char *dir)
{
    STORE *st;
    STORE_TXN *txn = NULL;
    STORE_ENTRY *e = malloc(sizeof(*e));
    SUP_ERR err;
    char tenant[STORE_TENANT_MAX];
    time_t now = time(NULL);
    double t0 = now_seconds(), secs;

    if (store_open(dir, STORE_CREATE | STORE_NOSYNC, &st, &err) < 0)
        die("open", &err);
    for (long i = 0; i < n_scoped; i++) {
        if (txn == NULL && store_begin(st, &txn, &err) < 0)
            die("begin", &err);
        make_entry(i, now, e);
        address_of(i, false, e->address, sizeof(e->address));
        e->reason = STORE_REASON_COMPLAINT;
        e->expires = 0;
        tenant_of(i, tenant, sizeof(tenant));
        if (store_put_in(st, txn, tenant, e, &err) < 0)
            die("put", &err);
        if ((i + 1) % LOAD_TXN_SIZE == 0 || i + 1 == n_scoped) {
            if (store_commit(txn, &err) < 0)
                die("commit", &err);
            txn = NULL;
        }
    }
    if (store_checkpoint(st, &err) < 0 || store_close(st, &err) < 0)
        die("close", &err);
    secs = now_seconds() - t0;
    printf("load: %ld entries in %d tenants' scopes in %.1f s\n", n_scoped, TENANTS, secs);
    free(e);
}

struct lookup_job {
    STORE *st;
    int hit_percent;            /* 100: all hits, 0: all misses, 1: the relay's common case */
    bool with_tenant;           /* -t: store_lookup_tenant, a random tenant per lookup */
    unsigned seed;
    long hits;                  /* hits asked for */
    long found;
    long errors;
};

static void *lookup_thread(void *p)
{
    struct lookup_job *job = p;
    STORE_ENTRY e;
    SUP_ERR err;
    char addr[ADDR_MAX + 1];
    uint64_t x = job->seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
    time_t now = time(NULL);
    long found = 0, errors = 0, hits = 0;   /* local: no false sharing between threads */
    char tenant[STORE_TENANT_MAX];

    for (long q = 0; q < n_lookups; q++) {
        /* xorshift64: cheap, so the figure is the store's */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bool hit = (int) ((x >> 40) % 100) < job->hit_percent;

        long i = (long) (x % (uint64_t) n_entries);
        int rc;

        address_of(i, hit, addr, sizeof(addr));
        if (job->with_tenant) {
            long t = (long) ((x >> 20) % TENANTS);

            tenant_of(t, tenant, sizeof(tenant));
            /* a miss address in this tenant's own scope is found too */
            hit = hit || (i < n_scoped && i % TENANTS == t);
            rc = store_lookup_tenant(job->st, NULL, tenant, addr, now, &e, &err);
        } else {
            rc = store_lookup(job->st, NULL, addr, now, &e, &err);
        }
        hits += hit;

        if (rc == 1)
            found++;
        else if (rc < 0)
            errors++;
    }
    job->found = found;
    job->errors = errors;
    job->hits = hits;
    return NULL;
}

/* Lookups per second over all threads, hit_percent of them of suppressed
 * addresses. */
static double measure_with(STORE *st, int hit_percent, int threads, bool with_tenant)
{
    pthread_t tids[8];
    struct lookup_job jobs[8];
    double t0 = now_seconds(), secs;
    long found = 0, errors = 0, hits = 0;

    for (int i = 0; i < threads; i++) {
        jobs[i] = (struct lookup_job) { st, hit_percent, with_tenant,
                                        (unsigned) (i + 1) * 7919u + (unsigned) hit_percent,
                                        0, 0, 0 };
        if (pthread_create(&tids[i], NULL, lookup_thread, &jobs[i]) != 0)
            die("pthread_create", NULL);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        found += jobs[i].found;
        errors += jobs[i].errors;
        hits += jobs[i].hits;
    }
    secs = now_seconds() - t0;
    if (errors > 0 || found != hits)
        fprintf(stderr, "store-bench: %d%% hit lookups: %ld found, %ld errors (expected %ld found)\n",
                hit_percent, found, errors, hits);
    return (double) threads * (double) n_lookups / secs;
}

static double measure(STORE *st, int hit_percent, int threads)
{
    return measure_with(st, hit_percent, threads, false);
}

/* -t: the best of ROUNDS runs of each, taken in turns, so that a burst of
 * load on a shared machine does not fall on one side only. */
static void best_pair(STORE *st, int hit_percent, int threads, double *plain, double *scoped)
{
    *plain = *scoped = 0;
    for (int r = 0; r < ROUNDS; r++) {
        double p = measure_with(st, hit_percent, threads, false);
        double t = measure_with(st, hit_percent, threads, true);

        if (p > *plain)
            *plain = p;
        if (t > *scoped)
            *scoped = t;
    }
}

/* -t: the same store and lookups, without a tenant and with one. */
static void tenant_bench(const char *dir)
{
    static const struct { int hit_percent, threads; const char *what; } runs[] = {
        { 1, 1, "99% miss, 1 thread " }, { 1, 2, "99% miss, 2 threads" },
        { 0, 1, "all miss, 1 thread " }, { 100, 1, "all hit,  1 thread " },
    };
    double plain, scoped;
    STORE *st;
    SUP_ERR err;

    n_scoped = n_entries / 10;
    load(dir);
    load_scoped(dir);
    sync();
    if (store_open(dir, STORE_NOSYNC, &st, &err) < 0)
        die("open", &err);
    (void) measure_with(st, 100, 1, true);      /* warm-up: both paths see one cache */
    printf("best of %d, lookups/s (time per lookup and thread):\n", ROUNDS);
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        best_pair(st, runs[i].hit_percent, runs[i].threads, &plain, &scoped);
        printf("  %s  tenant = none %8.0f (%.2f us)   with a tenant %8.0f (%.2f us)   %+.0f%%\n",
               runs[i].what, plain, 1e6 * runs[i].threads / plain, scoped,
               1e6 * runs[i].threads / scoped, 100.0 * (plain / scoped - 1.0));
    }
    if (store_close(st, &err) < 0)
        die("close", &err);
}

/*
 * The RCPT path read through lookup-slots.db (one queue page) against the
 * same lookups through lookup.db's B-tree, as the release before read it:
 * the best of ROUNDS, taken in turns on one handle and one cache.
 */
static void compare_slots(STORE *st)
{
    static const struct { int hit_percent, threads; const char *what; } runs[] = {
        { 0, 1, "miss, 1 thread     " }, { 0, 2, "miss, 2 threads    " },
        { 1, 2, "99% miss, 2 threads" },
    };
    bool slots = st->index.slots;

    if (!slots)
        return;
    printf("slots against lookup.db's B-tree, best of %d, lookups/s:\n", ROUNDS);
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        double with = 0, without = 0;

        for (int r = 0; r < ROUNDS; r++) {
            double v;

            st->index.slots = true;
            if ((v = measure(st, runs[i].hit_percent, runs[i].threads)) > with)
                with = v;
            st->index.slots = false;
            if ((v = measure(st, runs[i].hit_percent, runs[i].threads)) > without)
                without = v;
        }
        printf("  %s  slots %8.0f   B-tree %8.0f   ratio %.2f\n", runs[i].what, with, without,
               with / without);
    }
    st->index.slots = slots;
}

/*
 * Bytes the store directory takes on disk (sparse regions count what is
 * used): database files and everything, in MB; with `list`, each file of
 * a MB or more is printed too.
 */
static void disk_walk(const char *dir, bool list, double *db_mb, double *all_mb)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct stat sb;
    char path[4096];

    *db_mb = *all_mb = 0;
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        double mb;

        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (de->d_name[0] == '.' || stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
            continue;
        mb = (double) sb.st_blocks * 512 / 1048576;
        *all_mb += mb;
        if (strstr(de->d_name, ".db") != NULL && strncmp(de->d_name, "__db", 4) != 0)
            *db_mb += mb;
        if (list && mb >= 1.0)
            printf("  %-18s %8.1f MB\n", de->d_name, mb);
    }
    closedir(d);
}

static void disk_usage(const char *dir, double *db_mb, double *all_mb)
{
    disk_walk(dir, false, db_mb, all_mb);
}

static void print_files(const char *dir)
{
    double db_mb, all_mb;

    disk_walk(dir, true, &db_mb, &all_mb);
}

static void print_memory(const char *when)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmRSS:", 6) == 0 || strncmp(line, "VmHWM:", 6) == 0
            || strncmp(line, "RssAnon:", 8) == 0 || strncmp(line, "RssFile:", 8) == 0
            || strncmp(line, "RssShmem:", 9) == 0)
            printf("%s %s", when, line);
    fclose(f);
}

/* ---- the ledger (-l) ------------------------------------------------ */

/*
 * Message i: "<i.timestamp@mx.bench.example>" as its header has it, a
 * thousand messages a second; the ledger's key is without the <>.  An
 * unknown Message-ID differs in the host only, so it sorts next to a
 * known one and a check reaches a random leaf page too.
 */
static void message_id_of(long i, time_t t0, bool known, char *buf, size_t len)
{
    char header[STORE_MESSAGE_ID_MAX + 3];

    snprintf(header, sizeof(header), "<%ld.%ld@mx.bench.%s>", i, (long) (t0 + i / 1000),
             known ? "example" : "invalid");
    snprintf(buf, len, "%.*s", (int) strlen(header) - 2, header + 1);
}

/* Message i goes to 1-3 recipients; recipient k of message i. */
static size_t rcpt_count_of(long i)
{
    return 1 + (size_t) (i % 3);
}

static void rcpt_of(long i, size_t k, char *buf, size_t len)
{
    snprintf(buf, len, "user%ld@d%ld.example.com", i * 3 + (long) k, (i * 3 + (long) k) % 1000);
}

static void ledger_load(const char *dir, time_t t0)
{
    char id[STORE_MESSAGE_ID_MAX + 1], rbuf[3][ADDR_MAX + 1];
    const char *rcpts[3] = { rbuf[0], rbuf[1], rbuf[2] };
    STORE_LEDGER_MSG m = { id, 0, "newsletter@bench.example", rcpts, 0, NULL };
    STORE_TXN *txn = NULL;
    STORE *st;
    SUP_ERR err;
    double start = now_seconds(), secs;

    if (store_open(dir, STORE_CREATE | STORE_NOSYNC, &st, &err) < 0)
        die("open", &err);
    for (long i = 0; i < n_entries; i++) {
        if (txn == NULL && store_begin(st, &txn, &err) < 0)
            die("begin", &err);
        message_id_of(i, t0, true, id, sizeof(id));
        m.when = t0 + i / 1000;
        m.rcpt_count = rcpt_count_of(i);
        for (size_t k = 0; k < m.rcpt_count; k++)
            rcpt_of(i, k, rbuf[k], sizeof(rbuf[k]));
        if (store_ledger_add(st, txn, &m, &err) < 0)
            die("ledger add", &err);
        if ((i + 1) % LEDGER_BATCH == 0 || i + 1 == n_entries) {
            if (store_commit(txn, &err) < 0)
                die("commit", &err);
            txn = NULL;
        }
    }
    secs = now_seconds() - start;
    printf("ledger: %ld messages in %.1f s (%.0f messages/s written, %d per transaction,"
           " NOSYNC)\n", n_entries, secs, (double) n_entries / secs, LEDGER_BATCH);
    start = now_seconds();
    if (store_checkpoint(st, &err) < 0)
        die("checkpoint", &err);
    if (store_close(st, &err) < 0)
        die("close", &err);
    printf("ledger: checkpoint and close after the load: %.1f s\n", now_seconds() - start);
}

/* store_ledger_check per second, of known Message-IDs (and one of their
 * recipients) or of unknown ones; 1 thread, no transaction. */
static double ledger_measure(STORE *st, time_t t0, bool known)
{
    char id[STORE_MESSAGE_ID_MAX + 1], rcpt[ADDR_MAX + 1];
    enum store_ledger_answer want = known ? STORE_LEDGER_RECIPIENT
        : STORE_LEDGER_UNKNOWN_MESSAGE, a;
    uint64_t x = (known ? 7919u : 7932u) * UINT64_C(0x9E3779B97F4A7C15) + 1;
    long wrong = 0, errors = 0;
    time_t sent;
    SUP_ERR err;
    double start = now_seconds();

    for (long q = 0; q < n_lookups; q++) {
        long i;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        i = (long) (x % (uint64_t) n_entries);
        message_id_of(i, t0, known, id, sizeof(id));
        rcpt_of(i, (size_t) (x >> 32) % rcpt_count_of(i), rcpt, sizeof(rcpt));
        if (store_ledger_check(st, NULL, id, rcpt, &a, &sent, &err) < 0)
            errors++;
        else if (a != want)
            wrong++;
    }
    if (errors > 0 || wrong > 0)
        fprintf(stderr, "store-bench: %s checks: %ld errors, %ld wrong answers\n",
                known ? "known" : "unknown", errors, wrong);
    return (double) n_lookups / (now_seconds() - start);
}

static void ledger_bench(const char *dir)
{
    time_t t0 = time(NULL);
    char path[4096];
    struct stat sb;
    STORE *st;
    SUP_ERR err;

    ledger_load(dir, t0);
    sync();
    snprintf(path, sizeof(path), "%s/ledger.db", dir);
    if (stat(path, &sb) < 0)
        die(path, NULL);
    printf("ledger.db: %lld bytes (%.1f MB), %.0f bytes per message; on disk %lld bytes\n",
           (long long) sb.st_size, (double) sb.st_size / 1048576,
           (double) sb.st_size / (double) n_entries, (long long) sb.st_blocks * 512);
    if (store_open(dir, STORE_NOSYNC, &st, &err) < 0)
        die("open", &err);
    (void) ledger_measure(st, t0, true);        /* warm-up */
    printf("checks/s, known Message-ID,   1 thread: %.0f\n", ledger_measure(st, t0, true));
    printf("checks/s, unknown Message-ID, 1 thread: %.0f\n", ledger_measure(st, t0, false));
    if (store_close(st, &err) < 0)
        die("close", &err);
}

/*
 * The store as the release with lookup.db but before its slots left it
 * (index state "built", no lookup-slots.db), then the first open by a
 * writer, which fills the slots from lookup.db, timed.
 */
static void slots_upgrade_bench(const char *dir)
{
    unsigned char kbuf[KEY_MAX], buf[64 + KEY_MAX];
    STORE *st;
    SUP_ERR err;
    DBT key, data;
    double t0;
    int ret;

    if (store_open(dir, STORE_NOSYNC, &st, &err) < 0)
        die("open", &err);
    dbt_key(&key, kbuf, "index-meta");
    dbt_out(&data, buf, sizeof(buf));
    if ((ret = st->db[DBI_INDEX]->get(st->db[DBI_INDEX], NULL, &key, &data, 0)) == 0) {
        buf[2] = 1;             /* INDEX_BUILT: lookup.db complete, no slots */
        dbt_key(&key, kbuf, "index-meta");
        dbt_in(&data, buf, data.size);
        ret = st->db[DBI_INDEX]->put(st->db[DBI_INDEX], NULL, &key, &data, DB_AUTO_COMMIT);
    }
    if (ret == 0) {
        (void) st->db[DBI_SLOTS]->close(st->db[DBI_SLOTS], 0);
        st->db[DBI_SLOTS] = NULL;
        ret = st->env->dbenv->dbremove(st->env->dbenv, NULL, store_db_files[DBI_SLOTS], NULL,
                                       DB_AUTO_COMMIT);
    }
    if (ret != 0) {
        fprintf(stderr, "store-bench: making a store without slots: %s\n", db_strerror(ret));
        exit(1);
    }
    if (store_checkpoint(st, &err) < 0 || store_close(st, &err) < 0)
        die("close", &err);
    t0 = now_seconds();
    if (store_open(dir, STORE_NOSYNC, &st, &err) < 0)
        die("slots upgrade", &err);
    printf("upgrade of a store with lookup.db but no slots (first open by a writer fills"
           " lookup-slots.db): %.1f s, slots %s\n", now_seconds() - t0,
           st->index.slots ? "in use" : "NOT in use");
    if (store_close(st, &err) < 0)
        die("close", &err);
}

/* ---- the upgrade (-u) ---------------------------------------------- */

/*
 * A store as the release before the lookup index left it: N entries in
 * record version 1, no lookup.db.  Then the first open by a writer, which
 * builds the index and rewrites the records, timed.
 */
static void upgrade_bench(const char *dir)
{
    unsigned char buf[STORE_RECORD_MAX];
    STORE_ENTRY *e = malloc(sizeof(*e));
    time_t now = time(NULL);
    double db_mb, all_mb, t0;
    DB_TXN *tid = NULL;
    STORE *st;
    SUP_ERR err;
    size_t len;
    DBT key, data;
    int ret;

    if (store_open(dir, STORE_CREATE | STORE_NOSYNC, &st, &err) < 0)
        die("open", &err);
    t0 = now_seconds();
    for (long i = 0; i < n_entries; i++) {
        if (tid == NULL && st->env->dbenv->txn_begin(st->env->dbenv, NULL, &tid,
                                                     DB_TXN_WRITE_NOSYNC) != 0)
            die("txn_begin", NULL);
        make_entry(load_order(i), now, e);
        if (store_record_encode_entry_v1(e, buf, sizeof(buf), &len, &err) < 0)
            die("encode", &err);
        dbt_in(&key, e->address, strlen(e->address));
        dbt_in(&data, buf, len);
        if ((ret = st->db[DBI_ENTRIES]->put(st->db[DBI_ENTRIES], tid, &key, &data, 0)) != 0) {
            fprintf(stderr, "store-bench: put: %s\n", db_strerror(ret));
            exit(1);
        }
        if ((i + 1) % LOAD_TXN_SIZE == 0 || i + 1 == n_entries) {
            if (tid->commit(tid, 0) != 0)
                die("commit", NULL);
            tid = NULL;
        }
    }
    for (int dbi = DBI_INDEX; dbi <= DBI_SLOTS; dbi++) {
        (void) st->db[dbi]->close(st->db[dbi], 0);
        st->db[dbi] = NULL;
        if ((ret = st->env->dbenv->dbremove(st->env->dbenv, NULL, store_db_files[dbi], NULL,
                                            DB_AUTO_COMMIT)) != 0) {
            fprintf(stderr, "store-bench: dbremove: %s\n", db_strerror(ret));
            exit(1);
        }
    }
    if (store_checkpoint(st, &err) < 0 || store_close(st, &err) < 0)
        die("close", &err);
    printf("old store (record version 1, no lookup.db): %ld entries written in %.1f s\n",
           n_entries, now_seconds() - t0);
    disk_usage(dir, &db_mb, &all_mb);
    printf("on disk before the upgrade: databases %.1f MB\n", db_mb);
    t0 = now_seconds();
    if (store_open(dir, STORE_NOSYNC, &st, &err) < 0)
        die("upgrade", &err);
    printf("upgrade (first open by a writer: index built, records rewritten): %.1f s\n",
           now_seconds() - t0);
    if (store_compact(st, NULL, &err) < 0 || store_checkpoint(st, &err) < 0
        || store_close(st, &err) < 0)
        die("compact", &err);
    disk_usage(dir, &db_mb, &all_mb);
    printf("on disk after the upgrade and a purge's compaction: databases %.1f MB\n", db_mb);
    print_files(dir);
    slots_upgrade_bench(dir);
    free(e);
}

static void remove_store(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[4096];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (de->d_name[0] != '.')
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    char tmpl[4096];
    bool keep = false, memory_mode = false, ledger_mode = false, upgrade_mode = false;
    bool tenant_mode = false;
    STORE *st;
    SUP_ERR err;
    double db_mb, all_mb, t0;
    int c;

    while ((c = getopt(argc, argv, "n:d:q:kmlut")) != -1) {
        switch (c) {
        case 'n':
            n_entries = atol(optarg);
            break;
        case 'd':
            dir = optarg;
            break;
        case 'q':
            n_lookups = atol(optarg);
            break;
        case 'k':
            keep = true;
            break;
        case 'm':
            memory_mode = true;
            break;
        case 'l':
            ledger_mode = true;
            break;
        case 'u':
            upgrade_mode = true;
            break;
        case 't':
            tenant_mode = true;
            break;
        default:
            fprintf(stderr, "usage: store-bench [-n ENTRIES] [-d DIR] [-q LOOKUPS] [-k]"
                            " [-m | -l | -u | -t]\n");
            return 2;
        }
    }
    if (n_entries < 1 || n_lookups < 1 || (memory_mode && dir == NULL)
        || (memory_mode && ledger_mode)) {
        fprintf(stderr, "store-bench: -n and -q must be positive; -m needs -d and excludes -l\n");
        return 2;
    }
    if (dir == NULL) {
        const char *base = getenv("TMPDIR");

        snprintf(tmpl, sizeof(tmpl), "%s/store-bench.XXXXXX", base && *base ? base : "/tmp");
        if (mkdtemp(tmpl) == NULL)
            die("mkdtemp", NULL);
        dir = tmpl;
    }
    printf("%s: %ld  lookups per run: %ld  store: %s\n", ledger_mode ? "messages" : "entries",
           n_entries, n_lookups, dir);

    if (tenant_mode) {
        tenant_bench(dir);
        if (!keep || dir == tmpl)
            remove_store(dir);
        return 0;
    }
    if (upgrade_mode) {
        upgrade_bench(dir);
        if (!keep || dir == tmpl)
            remove_store(dir);
        return 0;
    }
    if (ledger_mode) {
        ledger_bench(dir);
        if (!keep || dir == tmpl)
            remove_store(dir);
        return 0;
    }

    if (memory_mode) {
        print_memory("before open:");
        t0 = now_seconds();
        if (store_open(dir, 0, &st, &err) < 0)
            die("open", &err);
        printf("open: %.3f s\n", now_seconds() - t0);
        printf("lookups/s, 99%% miss, 2 threads: %.0f\n", measure(st, 1, 2));
        print_memory("after lookups:");
        compare_slots(st);
        store_close(st, &err);
        return 0;
    }

    load(dir);
    /* Let the kernel write the load out first: its writeback is not a
     * cost of lookups, and would make the first figure depend on timing. */
    t0 = now_seconds();
    sync();
    printf("sync after load: %.1f s\n", now_seconds() - t0);
    if (store_open(dir, STORE_NOSYNC, &st, &err) < 0)
        die("open", &err);
    /* one warm-up pass so both thread counts see the same cache */
    (void) measure(st, 100, 1);
    printf("lookups/s, hit,  1 thread:  %.0f\n", measure(st, 100, 1));
    printf("lookups/s, miss, 1 thread:  %.0f\n", measure(st, 0, 1));
    printf("lookups/s, hit,  2 threads: %.0f\n", measure(st, 100, 2));
    printf("lookups/s, miss, 2 threads: %.0f\n", measure(st, 0, 2));
    printf("lookups/s, 99%% miss, 2 threads: %.0f\n", measure(st, 1, 2));
    compare_slots(st);
    if (store_close(st, &err) < 0)
        die("close", &err);
    disk_usage(dir, &db_mb, &all_mb);
    printf("on disk after the load: databases %.1f MB, whole environment %.1f MB\n", db_mb,
           all_mb);
    print_files(dir);
    /* What the daily purge leaves: the same entries, compacted. */
    {
        unsigned long freed;

        t0 = now_seconds();
        if (store_open(dir, STORE_NOSYNC, &st, &err) < 0 || store_compact(st, &freed, &err) < 0
            || store_checkpoint(st, &err) < 0 || store_close(st, &err) < 0)
            die("compact", &err);
        printf("compact (as purge does): %.1f s, %lu pages freed\n", now_seconds() - t0, freed);
    }
    disk_usage(dir, &db_mb, &all_mb);
    printf("on disk after purge's compaction: databases %.1f MB, whole environment %.1f MB\n",
           db_mb, all_mb);
    print_files(dir);
    if (!keep || dir == tmpl)
        remove_store(dir);
    return 0;
}
