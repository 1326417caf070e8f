/*
 * ctl_seed.c: test helper for test-suppressctl.sh.  Writes to a store what
 * the milter and the ingest would, so that `suppressctl stats` and `show`
 * can be checked against known figures:
 *
 *   ctl_seed STORE_DIR counter DAY NAME VALUE
 *       add VALUE to the daily counter NAME ("accepted", "rejected",
 *       "bounce.hard", ...) of DAY ("YYYY-MM-DD")
 *   ctl_seed STORE_DIR bounce ADDRESS STATUS RESPONSE
 *       a hard bounce as suppress-ingest records it: the suppression
 *       (7 days, source suppress-ingest, detail userunknown) and the
 *       timeline event with the remote response
 *
 * The store is created if needed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "store.h"
#include "sup_err.h"

static int seed_counter(STORE *st, char **args, SUP_ERR *err)
{
    unsigned long long value;
    char *end;

    value = strtoull(args[2], &end, 10);
    if (*end != '\0')
        return sup_err_set(err, SUP_ERR_INPUT, "bad counter value \"%s\"", args[2]);
    return store_counter_add(st, NULL, args[0], args[1], value, err);
}

static int seed_bounce(STORE *st, char **args, SUP_ERR *err)
{
    STORE_ENTRY entry;
    STORE_EVENT ev;
    time_t now = time(NULL);

    memset(&entry, 0, sizeof(entry));
    snprintf(entry.address, sizeof(entry.address), "%s", args[0]);
    entry.reason = STORE_REASON_HARD_BOUNCE;
    snprintf(entry.source, sizeof(entry.source), "suppress-ingest");
    snprintf(entry.detail, sizeof(entry.detail), "userunknown");
    snprintf(entry.status, sizeof(entry.status), "%s", args[1]);
    entry.first_event = entry.last_event = now;
    entry.expires = now + 7 * 86400;
    entry.count = 1;
    store_copy_text(entry.response, sizeof(entry.response), args[2]);

    memset(&ev, 0, sizeof(ev));
    snprintf(ev.address, sizeof(ev.address), "%s", args[0]);
    ev.when = now;
    ev.type = STORE_EV_HARD_BOUNCE;
    snprintf(ev.reason, sizeof(ev.reason), "userunknown");
    snprintf(ev.status, sizeof(ev.status), "%s", args[1]);
    snprintf(ev.detail, sizeof(ev.detail), "<seed.1@mx.example.net>");
    store_copy_text(ev.response, sizeof(ev.response), args[2]);

    if (store_put(st, NULL, &entry, err) < 0)
        return -1;
    return store_event_add(st, NULL, &ev, 100, err);
}

int main(int argc, char **argv)
{
    STORE *st;
    SUP_ERR err;
    int rc;

    if (argc != 6 || (strcmp(argv[2], "counter") != 0 && strcmp(argv[2], "bounce") != 0)) {
        fprintf(stderr, "usage: %s STORE_DIR counter DAY NAME VALUE\n"
                "       %s STORE_DIR bounce ADDRESS STATUS RESPONSE\n", argv[0], argv[0]);
        return EX_USAGE;
    }
    sup_err_clear(&err);
    if (store_open(argv[1], STORE_CREATE, &st, &err) < 0) {
        fprintf(stderr, "%s: %s\n", argv[0], err.text);
        return sup_err_exit_code(&err);
    }
    rc = strcmp(argv[2], "counter") == 0 ? seed_counter(st, argv + 3, &err)
        : seed_bounce(st, argv + 3, &err);
    if (rc < 0 || store_close(st, &err) < 0) {
        fprintf(stderr, "%s: %s\n", argv[0], err.text);
        if (rc < 0)
            store_close(st, NULL);
        return sup_err_exit_code(&err);
    }
    return EX_OK;
}
