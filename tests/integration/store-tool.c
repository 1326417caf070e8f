/*
 * store-tool.c: a test-only tool that reads and writes the suppression
 * store through store.h, for the integration tests and the Postfix
 * benchmark: entries with an exact expiry (an already expired one),
 * 100k entries at once, and direct reads of counters and timeline events
 * to check what the milter recorded.
 *
 *   store-tool DIR put ADDR REASON EXPIRES   EXPIRES: epoch, 0 = never, +N/-N from now
 *   store-tool DIR bulk N DOMAIN             N hard-bounce entries n000000@DOMAIN...
 *   store-tool DIR lookup ADDR               prints "suppressed REASON" or "not suppressed"
 *   store-tool DIR counter DAY NAME          prints the counter's value (0 if absent)
 *   store-tool DIR events ADDR               one line per event:
 *                                            type|actor|detail|reason|status|response
 *
 * and, without a store, the signed return paths the milter writes:
 *
 *   store-tool retpath KEYFILE BOUNCE ADDR   checks ADDR with the keys of KEYFILE
 *                                            (BOUNCE: signing.bounce-address, - for
 *                                            none; validity 14 days) and prints
 *                                            "FORM VERDICT ADDRESS": FORM verp, prvs
 *                                            or unsigned, VERDICT as
 *                                            retpath_verdict_name(), ADDRESS the
 *                                            recipient (verp) or sender (prvs) it
 *                                            names, - for none
 *   store-tool DIR ledger MID RCPT           what the ledger says of RCPT in message
 *                                            MID: unknown-message, not-recipient or
 *                                            recipient
 *   store-tool sign KEYFILE BOUNCE ADDR DAYS the signed return path of ADDR as the
 *                                            milter would have made it DAYS days
 *                                            ago: VERP naming ADDR with BOUNCE,
 *                                            prvs of ADDR with BOUNCE "-"
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "retpath.h"
#include "store.h"

#define BULK_BATCH 1000
#define RETPATH_VALIDITY_DAYS 14

static int fail(const char *what, const SUP_ERR *err)
{
    fprintf(stderr, "store-tool: %s: %s\n", what, err->text);
    return sup_err_exit_code(err);
}

static time_t parse_expiry(const char *text, time_t now)
{
    long long value = strtoll(text, NULL, 10);

    if (text[0] == '+' || text[0] == '-')
        return now + (time_t) value;
    return (time_t) value;
}

static void fill_entry(STORE_ENTRY *e, const char *addr, enum store_reason reason,
                       time_t now, time_t expires)
{
    memset(e, 0, sizeof(*e));
    store_copy_text(e->address, sizeof(e->address), addr);
    e->reason = reason;
    store_copy_text(e->source, sizeof(e->source), "store-tool");
    store_copy_text(e->detail, sizeof(e->detail), "test");
    e->first_event = now;
    e->last_event = now;
    e->expires = expires;
    e->count = 1;
}

static int cmd_put(STORE *st, char **argv)
{
    STORE_ENTRY e;
    enum store_reason reason;
    SUP_ERR err;
    time_t now = time(NULL);

    if (store_reason_parse(argv[1], &reason) < 0) {
        fprintf(stderr, "store-tool: unknown reason %s\n", argv[1]);
        return EX_USAGE;
    }
    fill_entry(&e, argv[0], reason, now, parse_expiry(argv[2], now));
    if (store_put(st, NULL, &e, &err) < 0)
        return fail(argv[0], &err);
    return 0;
}

static int put_batch(STORE *st, long first, long count, const char *domain, time_t now)
{
    STORE_TXN *txn;
    STORE_ENTRY e;
    SUP_ERR err;
    char addr[ADDR_MAX + 1];
    long i;
    int attempt;

    for (attempt = 1;; attempt++) {
        if (store_begin(st, &txn, &err) < 0)
            return fail("begin", &err);
        for (i = first; i < first + count; i++) {
            snprintf(addr, sizeof(addr), "n%06ld@%s", i, domain);
            fill_entry(&e, addr, STORE_REASON_HARD_BOUNCE, now, now + 7 * 86400);
            if (store_put(st, txn, &e, &err) < 0)
                break;
        }
        if (i == first + count && store_commit(txn, &err) == 0)
            return 0;
        if (i < first + count)
            store_abort(txn);
        if (err.cls != SUP_ERR_TEMP || attempt >= 5)
            return fail("bulk put", &err);
        store_retry_delay(attempt);
    }
}

static int cmd_bulk(STORE *st, char **argv)
{
    long n = strtol(argv[0], NULL, 10);
    time_t now = time(NULL);
    long done;
    int rc;

    for (done = 0; done < n; done += BULK_BATCH) {
        long count = n - done < BULK_BATCH ? n - done : BULK_BATCH;

        if ((rc = put_batch(st, done, count, argv[1], now)) != 0)
            return rc;
    }
    return 0;
}

static int cmd_lookup(STORE *st, char **argv)
{
    STORE_ENTRY e;
    SUP_ERR err;
    int rc = store_lookup(st, NULL, argv[0], time(NULL), &e, &err);

    if (rc < 0)
        return fail(argv[0], &err);
    if (rc == 1)
        printf("suppressed %s\n", store_reason_name(e.reason));
    else
        printf("not suppressed\n");
    return 0;
}

struct counter_query {
    const char *day;
    const char *name;
    uint64_t value;
};

static int find_counter(const char *day, const char *name, uint64_t value, void *ctx)
{
    struct counter_query *q = ctx;

    if (strcmp(day, q->day) == 0 && strcmp(name, q->name) == 0)
        q->value = value;
    return 0;
}

static int cmd_counter(STORE *st, char **argv)
{
    struct counter_query q = { argv[0], argv[1], 0 };
    SUP_ERR err;

    if (store_counters(st, find_counter, &q, &err) < 0)
        return fail("counters", &err);
    printf("%" PRIu64 "\n", q.value);
    return 0;
}

static int print_event(const STORE_EVENT *ev, void *ctx)
{
    (void) ctx;
    printf("%s|%s|%s|%s|%s|%s\n", store_event_name(ev->type), ev->actor, ev->detail, ev->reason,
           ev->status, ev->response);
    return 0;
}

static int cmd_events(STORE *st, char **argv)
{
    SUP_ERR err;

    if (store_events(st, NULL, argv[0], print_event, NULL, &err) < 0)
        return fail(argv[0], &err);
    return 0;
}

static const char *form_name(enum retpath_form form)
{
    switch (form) {
    case RETPATH_VERP:
        return "verp";
    case RETPATH_PRVS:
        return "prvs";
    case RETPATH_UNSIGNED:
        break;
    }
    return "unsigned";
}

/* store-tool retpath KEYFILE BOUNCE ADDR (argv: KEYFILE BOUNCE ADDR). */
static int cmd_retpath(char **argv)
{
    RETPATH_KEYS keys;
    RETPATH_CHECK check;
    SUP_ERR err;
    const char *bounce = strcmp(argv[1], "-") == 0 ? NULL : argv[1];

    if (retpath_keys_load(argv[0], &keys, &err) < 0)
        return fail(argv[0], &err);
    retpath_verify(&keys, bounce, argv[2], time(NULL), RETPATH_VALIDITY_DAYS, &check);
    printf("%s %s %s\n", form_name(check.form), retpath_verdict_name(check.verdict),
           check.address[0] != '\0' ? check.address : "-");
    return 0;
}

static int cmd_ledger(STORE *st, char **argv)
{
    static const char *const names[] = {
        [STORE_LEDGER_UNKNOWN_MESSAGE] = "unknown-message",
        [STORE_LEDGER_NOT_RECIPIENT] = "not-recipient",
        [STORE_LEDGER_RECIPIENT] = "recipient",
    };
    enum store_ledger_answer answer;
    SUP_ERR err;

    if (store_ledger_check(st, NULL, argv[0], argv[1], &answer, NULL, &err) < 0)
        return fail("ledger", &err);
    printf("%s\n", names[answer]);
    return 0;
}

/* store-tool sign KEYFILE BOUNCE ADDR DAYS (argv: KEYFILE BOUNCE ADDR DAYS). */
static int cmd_sign(char **argv)
{
    char out[RETPATH_ADDR_MAX + 1];
    RETPATH_KEYS keys;
    SUP_ERR err;
    time_t when = time(NULL) - (time_t) atol(argv[3]) * 86400;
    int rc;

    if (retpath_keys_load(argv[0], &keys, &err) < 0)
        return fail(argv[0], &err);
    if (strcmp(argv[1], "-") == 0)
        rc = retpath_sign_prvs(&keys, argv[2], when, out, sizeof(out), &err);
    else
        rc = retpath_sign_verp(&keys, argv[1], argv[2], when, out, sizeof(out), &err);
    if (rc < 0)
        return fail(argv[2], &err);
    printf("%s\n", out);
    return 0;
}

static const struct {
    const char *name;
    int argc;
    int (*run)(STORE *st, char **argv);
    bool writes;
} commands[] = {
    { "put", 3, cmd_put, true },
    { "bulk", 2, cmd_bulk, true },
    { "lookup", 1, cmd_lookup, false },
    { "counter", 2, cmd_counter, false },
    { "events", 1, cmd_events, false },
    { "ledger", 2, cmd_ledger, false },
};

int main(int argc, char **argv)
{
    STORE *st;
    SUP_ERR err;
    size_t i;
    int rc;

    if (argc == 5 && strcmp(argv[1], "retpath") == 0)
        return cmd_retpath(argv + 2);
    if (argc == 6 && strcmp(argv[1], "sign") == 0)
        return cmd_sign(argv + 2);
    for (i = 0; argc >= 3 && i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[2], commands[i].name) != 0 || argc - 3 != commands[i].argc)
            continue;
        if (store_open(argv[1], commands[i].writes ? STORE_CREATE : STORE_RDONLY, &st, &err) < 0)
            return fail(argv[1], &err);
        rc = commands[i].run(st, argv + 3);
        if (store_close(st, &err) < 0 && rc == 0)
            rc = fail("close", &err);
        return rc;
    }
    fprintf(stderr, "usage: store-tool DIR put ADDR REASON EXPIRES | bulk N DOMAIN | "
                    "lookup ADDR | counter DAY NAME | events ADDR | ledger MID RCPT\n"
                    "       store-tool retpath KEYFILE BOUNCE|- ADDR\n"
                    "       store-tool sign KEYFILE BOUNCE|- ADDR DAYS\n");
    return EX_USAGE;
}
