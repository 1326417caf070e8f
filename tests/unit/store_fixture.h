/*
 * store_fixture.h: helpers of the store's unit tests (store_fixture.c).
 */
#ifndef STORE_FIXTURE_H
#define STORE_FIXTURE_H

#include "store.h"

extern char *tmp_root;          /* per test, removed by teardown */
extern char *store_dir;         /* tmp_root/store */

/* Check fixtures: a fresh temporary store directory per test. */
void setup(void);
void teardown(void);

/* The directory tree of a store: only files, removed, then the directory. */
char *make_tmpdir(void);
void remove_tree(const char *dir);

/* A handle on store_dir, or the test fails. */
STORE *open_store(int flags);
void close_store(STORE *st);

/* Entries and events with every field set. */
void fill_entry(STORE_ENTRY *e, const char *addr, enum store_reason reason, time_t first,
                time_t expires);
void fill_event(STORE_EVENT *ev, const char *addr, enum store_event_type type,
                time_t when, const char *detail);
void assert_entries_equal(const STORE_ENTRY *a, const STORE_ENTRY *b);
void assert_events_equal(const STORE_EVENT *a, const STORE_EVENT *b);

/* Collect a timeline (collect_event is a store_event_fn on a struct event_list). */
struct event_list {
    STORE_EVENT ev[64];
    int n;
    int stop_at;                /* return 7 from the callback at this count; 0 = never */
};
int collect_event(const STORE_EVENT *ev, void *ctx);
/* A store_entry_fn counting into a long. */
int count_entry(const STORE_ENTRY *e, void *ctx);

const char *__lsan_default_suppressions(void);

#endif
