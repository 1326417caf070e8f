/*
 * check_store_env.c: unit tests of the store's Berkeley DB environment
 * (libsuppress/store_env.c, store_txn.c) in a fresh temporary directory per
 * test: concurrent writers (processes and threads), recovery after a
 * process is killed with a handle still open elsewhere, lock timeouts,
 * checkpoints that remove logs, and a handle inherited through fork.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store.h"
#include "store_record.h"
#include "store_fixture.h"

/* ---- concurrency ---------------------------------------------------- */

#define WORKERS 4
#define ROUNDS 150
#define HOT_ADDRESS "hot@example.com"
#define DAY "2026-05-05"

/* One round's writes, in txn. */
static int writer_round(STORE *st, STORE_TXN *txn, int id, int j, SUP_ERR *err)
{
    STORE_ENTRY e;
    STORE_EVENT ev;
    char addr[64];

    snprintf(addr, sizeof(addr), "w%d-%d@example.com", id, j);
    fill_entry(&e, addr, STORE_REASON_HARD_BOUNCE, j, 0);
    if (store_put(st, txn, &e, err) < 0)
        return -1;
    fill_event(&ev, HOT_ADDRESS, STORE_EV_REJECTED, 1000 + j % 7, addr);
    if (store_event_add(st, txn, &ev, 0, err) < 0)
        return -1;
    if (store_counter_add(st, txn, DAY, "hits", 1, err) < 0)
        return -1;
    fill_event(&ev, addr, STORE_EV_ADD, j, "");
    return store_event_add(st, txn, &ev, 3, err);
}

/* One worker: ROUNDS transactions, each retried on SUP_ERR_TEMP. */
static int writer_work(STORE *st, int id, char *why, size_t whylen)
{
    for (int j = 0; j < ROUNDS; j++) {
        int attempt, rc = -1;
        SUP_ERR err;

        for (attempt = 1; attempt <= 100; attempt++) {
            STORE_TXN *txn;

            if ((rc = store_begin(st, &txn, &err)) == 0) {
                if ((rc = writer_round(st, txn, id, j, &err)) < 0)
                    store_abort(txn);
                else
                    rc = store_commit(txn, &err);  /* ends txn either way */
            }
            if (rc == 0 || err.cls != SUP_ERR_TEMP)
                break;
            store_retry_delay(attempt);
        }
        if (rc != 0) {
            snprintf(why, whylen, "worker %d round %d: %s", id, j, err.text);
            return -1;
        }
    }
    return 0;
}

static int total_counter(const char *day, const char *name, uint64_t value, void *ctx)
{
    if (strcmp(day, DAY) == 0 && strcmp(name, "hits") == 0)
        *(uint64_t *) ctx += value;
    return 0;
}

static int total_counter_killed(const char *day, const char *name, uint64_t value, void *ctx)
{
    if (strcmp(day, DAY) == 0 && strcmp(name, "killed") == 0)
        *(uint64_t *) ctx += value;
    return 0;
}

static void check_totals(STORE *st)
{
    uint64_t hits = 0;
    long entries = 0;
    SUP_ERR err;

    ck_assert_int_eq(store_counters(st, total_counter, &hits, &err), 0);
    ck_assert_uint_eq(hits, WORKERS * ROUNDS);
    ck_assert_int_eq(store_iterate(st, count_entry, &entries, &err), 0);
    ck_assert_int_eq(entries, WORKERS * ROUNDS);
    ck_assert_int_eq(store_event_count(st, NULL, HOT_ADDRESS, STORE_EV_REJECTED, 0, &err),
                     WORKERS * ROUNDS);
}

START_TEST(test_concurrent_processes)
{
    STORE *st = open_store(STORE_CREATE);
    pid_t pids[WORKERS];
    int status;

    close_store(st);
    for (int i = 0; i < WORKERS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            char why[600] = "";
            SUP_ERR err;
            int rc;

            if (store_open(store_dir, 0, &st, &err) < 0) {
                fprintf(stderr, "worker %d: %s\n", i, err.text);
                _exit(2);
            }
            rc = writer_work(st, i, why, sizeof(why));
            if (rc < 0)
                fprintf(stderr, "%s\n", why);
            if (store_close(st, &err) < 0)
                _exit(3);
            _exit(rc < 0 ? 1 : 0);
        }
    }
    for (int i = 0; i < WORKERS; i++) {
        ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d failed", i);
    }
    st = open_store(STORE_RDONLY);
    check_totals(st);
    close_store(st);
}
END_TEST

struct thread_arg {
    STORE *st;
    int id;
    int rc;
    char why[600];
};

static void *writer_thread(void *p)
{
    struct thread_arg *a = p;

    a->rc = writer_work(a->st, a->id, a->why, sizeof(a->why));
    return NULL;
}

START_TEST(test_concurrent_threads)
{
    STORE *st = open_store(STORE_CREATE | STORE_NOSYNC);
    pthread_t tids[WORKERS];
    struct thread_arg args[WORKERS];

    for (int i = 0; i < WORKERS; i++) {
        args[i] = (struct thread_arg) { st, i, 0, "" };
        ck_assert_int_eq(pthread_create(&tids[i], NULL, writer_thread, &args[i]), 0);
    }
    for (int i = 0; i < WORKERS; i++) {
        pthread_join(tids[i], NULL);
        ck_assert_msg(args[i].rc == 0, "%s", args[i].why);
    }
    check_totals(st);
    close_store(st);
    /* NOSYNC commits are on disk after close */
    st = open_store(0);
    check_totals(st);
    close_store(st);
}
END_TEST

/*
 * Fork a child that commits "before@", counts 1, then opens a transaction
 * writing "during@" and waits; returns its pid once it holds the txn.
 */
static pid_t child_holding_txn(void)
{
    int ready[2];
    char c;
    pid_t pid;

    ck_assert_int_eq(pipe(ready), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        STORE *st;
        STORE_TXN *txn;
        STORE_ENTRY e;
        SUP_ERR err;

        close(ready[0]);
        fill_entry(&e, "before@example.com", STORE_REASON_MANUAL, 1, 0);
        if (store_open(store_dir, STORE_CREATE, &st, &err) < 0
            || store_put(st, NULL, &e, &err) < 0
            || store_counter_add(st, NULL, DAY, "killed", 1, &err) < 0
            || store_begin(st, &txn, &err) < 0)
            _exit(1);
        fill_entry(&e, "during@example.com", STORE_REASON_MANUAL, 1, 0);
        if (store_put(st, txn, &e, &err) < 0
            || store_counter_add(st, txn, DAY, "killed", 1, &err) < 0)
            _exit(1);
        (void) write(ready[1], "x", 1);
        for (;;)
            pause();
    }
    close(ready[1]);
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return pid;
}

static void kill_child(pid_t pid)
{
    int status;

    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
}

START_TEST(test_killed_process_recovered)
{
    STORE *st;
    STORE_ENTRY out;
    uint64_t killed = 0;
    SUP_ERR err;

    kill_child(child_holding_txn());
    /* The dead child still "holds" its locks in the environment; without
     * recovery the read of during@ would wait for the lock timeout. */
    st = open_store(0);
    ck_assert_int_eq(store_get(st, NULL, "before@example.com", &out, &err), 1);
    ck_assert_msg(store_get(st, NULL, "during@example.com", &out, &err) == 0, "%s", err.text);
    ck_assert_int_eq(store_counter_add(st, NULL, DAY, "killed", 0, &err), 0);
    ck_assert_int_eq(store_counters(st, total_counter_killed, &killed, &err), 0);
    ck_assert_uint_eq(killed, 1);
    fill_entry(&out, "after@example.com", STORE_REASON_MANUAL, 1, 0);
    ck_assert_int_eq(store_put(st, NULL, &out, &err), 0);
    close_store(st);
}
END_TEST

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (d == NULL)
        return -1;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

/*
 * A process that stays up (the milter) while another dies and a third
 * runs recovery: recovery panics the environment under the survivor, whose
 * next call must reopen it transparently.  A transaction it had open is
 * dead and reports SUP_ERR_TEMP (retry), and no handles leak.
 */
START_TEST(test_live_handle_survives_recovery)
{
    STORE *st = open_store(STORE_CREATE | STORE_NOSYNC);
    STORE_ENTRY e, out;
    STORE_TXN *old_txn, *txn;
    SUP_ERR err;
    pid_t pid;
    int status, fds_before, fds_after;

    fill_entry(&e, "one@example.com", STORE_REASON_MANUAL, 1, 0);
    ck_assert_int_eq(store_put(st, NULL, &e, &err), 0);
    ck_assert_int_eq(store_begin(st, &old_txn, &err), 0);
    fds_before = count_fds();

    kill_child(child_holding_txn());
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        STORE *c;

        fill_entry(&e, "two@example.com", STORE_REASON_MANUAL, 1, 0);
        if (store_open(store_dir, 0, &c, &err) < 0 || store_put(c, NULL, &e, &err) < 0
            || store_close(c, &err) < 0) {
            fprintf(stderr, "recovering child: %s\n", err.text);
            _exit(1);
        }
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* the survivor carries on */
    ck_assert_msg(store_lookup(st, NULL, "two@example.com", 5, &out, &err) == 1, "%s", err.text);
    ck_assert_int_eq(store_lookup(st, NULL, "one@example.com", 5, &out, &err), 1);
    ck_assert_int_eq(store_lookup(st, NULL, "before@example.com", 5, &out, &err), 1);
    ck_assert_int_eq(store_lookup(st, NULL, "during@example.com", 5, &out, &err), 0);
    /* its old transaction is gone: retry it */
    ck_assert_int_eq(store_put(st, old_txn, &e, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_TEMP);
    ck_assert_ptr_nonnull(strstr(err.text, "recovered"));
    store_abort(old_txn);
    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    fill_entry(&e, "three@example.com", STORE_REASON_MANUAL, 1, 0);
    ck_assert_int_eq(store_put(st, txn, &e, &err), 0);
    ck_assert_int_eq(store_commit(txn, &err), 0);
    fds_after = count_fds();
    ck_assert_msg(fds_after <= fds_before, "fds %d before, %d after", fds_before, fds_after);
    close_store(st);

    st = open_store(STORE_RDONLY);
    ck_assert_int_eq(store_get(st, NULL, "three@example.com", &out, &err), 1);
    close_store(st);
}
END_TEST

/* A lock held by another process makes a transaction fail with
 * SUP_ERR_TEMP after the lock timeout instead of waiting for ever, and
 * does not hold up lookups at all. */
START_TEST(test_lock_timeout)
{
    STORE *st = open_store(STORE_CREATE);
    STORE_ENTRY e;
    STORE_TXN *txn;
    SUP_ERR err;
    int ready[2], release[2], status;
    char c;
    pid_t pid;

    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(release), 0);
    fill_entry(&e, "locked@example.com", STORE_REASON_MANUAL, 1, 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        STORE *cs;
        STORE_TXN *ct;

        close(ready[0]);
        close(release[1]);
        if (store_open(store_dir, 0, &cs, &err) < 0 || store_begin(cs, &ct, &err) < 0
            || store_put(cs, ct, &e, &err) < 0)
            _exit(1);
        (void) write(ready[1], "x", 1);
        (void) read(release[0], &c, 1);
        store_abort(ct);
        _exit(store_close(cs, &err) < 0 ? 1 : 0);
    }
    close(ready[1]);
    close(release[0]);
    ck_assert_int_eq(read(ready[0], &c, 1), 1);

    ck_assert_int_eq(store_begin(st, &txn, &err), 0);
    ck_assert_int_eq(store_put(st, txn, &e, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_TEMP);
    ck_assert_ptr_nonnull(strstr(err.text, "busy"));
    store_abort(txn);
    /* the milter's lookup does not wait for the writer (read uncommitted) */
    ck_assert_msg(store_lookup(st, NULL, "locked@example.com", 5, NULL, &err) == 1, "%s",
                  err.text);
    ck_assert_int_eq(store_lookup(st, NULL, "other@example.com", 5, NULL, &err), 0);

    close(release[1]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(store_put(st, NULL, &e, &err), 0);
    close_store(st);
}
END_TEST

static int count_logs(void)
{
    DIR *d = opendir(store_dir);
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "log.", 4) == 0;
    closedir(d);
    return n;
}

/* The environment does not grow without bound: a checkpoint lets the log
 * files it no longer needs go. */
START_TEST(test_checkpoint_removes_logs)
{
    STORE *st = open_store(STORE_CREATE | STORE_NOSYNC);
    STORE_ENTRY e;
    STORE_TXN *txn = NULL;
    SUP_ERR err;
    int i;

    /*
     * Write until a second log file exists.  The count is looked at after
     * every commit, not once at the end: the watchdog's own checkpoint
     * (after AUTO_CHECKPOINT_KB of log) may remove old files meanwhile,
     * more so in a slow (sanitized) build.
     */
    for (i = 0; i < 1000000 && count_logs() < 2; i++) {
        char addr[64];

        if (txn == NULL)
            ck_assert_int_eq(store_begin(st, &txn, &err), 0);
        snprintf(addr, sizeof(addr), "log%d@example.com", i);
        fill_entry(&e, addr, STORE_REASON_HARD_BOUNCE, i, 0);
        ck_assert_int_eq(store_put(st, txn, &e, &err), 0);
        if (i % 2000 == 1999) {
            ck_assert_int_eq(store_commit(txn, &err), 0);
            txn = NULL;
        }
    }
    if (txn != NULL)
        ck_assert_int_eq(store_commit(txn, &err), 0);
    ck_assert_msg(count_logs() >= 2, "no second log file after %d entries", i);
    ck_assert_msg(store_checkpoint(st, &err) == 0, "%s", err.text);
    ck_assert_int_eq(count_logs(), 1);
    close_store(st);
}
END_TEST

/* A child inherits the parent's handle through fork: closing it there
 * must leave the parent's environment alone. */
START_TEST(test_fork_inherited_handle)
{
    STORE *st = open_store(STORE_CREATE);
    STORE_ENTRY e, out;
    SUP_ERR err;
    pid_t pid;
    int status;

    fill_entry(&e, "fork@example.com", STORE_REASON_MANUAL, 1, 0);
    ck_assert_int_eq(store_put(st, NULL, &e, &err), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        STORE *mine;

        /* the inherited handle is let go; the child opens its own */
        if (store_close(st, &err) < 0 || store_open(store_dir, 0, &mine, &err) < 0
            || store_get(mine, NULL, "fork@example.com", &out, &err) != 1
            || store_close(mine, &err) < 0)
            _exit(1);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_int_eq(store_get(st, NULL, "fork@example.com", &out, &err), 1);
    close_store(st);
}
END_TEST

static Suite *store_env_suite(void)
{
    Suite *s = suite_create("store environment");
    TCase *tc;

    tc = tcase_create("environment");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_checkpoint_removes_logs);
    tcase_add_test(tc, test_fork_inherited_handle);
    suite_add_tcase(s, tc);

    tc = tcase_create("concurrency");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_concurrent_processes);
    tcase_add_test(tc, test_concurrent_threads);
    tcase_add_test(tc, test_killed_process_recovered);
    tcase_add_test(tc, test_live_handle_survives_recovery);
    tcase_add_test(tc, test_lock_timeout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_env_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
