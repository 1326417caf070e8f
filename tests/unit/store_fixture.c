/*
 * store_fixture.c: what the store's unit tests (check_store.c,
 * check_store_env.c) share: a fresh store directory per test, handles
 * opened or the test fails, filled-in entries and events, and their
 * comparison.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_fixture.h"

/*
 * For the --enable-sanitizers build: when another process runs recovery,
 * Berkeley DB panics this process's environment and its handles can then
 * only be abandoned (DB->close refuses to run on a panicked environment),
 * so test_live_handle_survives_recovery leaks ~20 KB of Berkeley DB's own
 * allocations, once per recovery.  Anything our code allocates is still
 * checked.  (A plain hook: LeakSanitizer calls it if it is linked in.)
 */
const char *__lsan_default_suppressions(void)
{
    return "leak:__os_malloc\nleak:__os_realloc\nleak:__os_calloc\n";
}

char *make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path;

    if (base == NULL || base[0] == '\0')
        base = "/tmp";
    ck_assert(asprintf(&path, "%s/check_store.XXXXXX", base) > 0);
    ck_assert_msg(mkdtemp(path) != NULL, "mkdtemp %s: %s", path, strerror(errno));
    return path;
}

/* The store directory holds only files: remove them, then it. */
void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[4096];

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (unlink(path) < 0 && errno == EISDIR)
            remove_tree(path);
    }
    closedir(d);
    rmdir(dir);
}

char *tmp_root;          /* per test, removed by teardown */
char *store_dir;         /* tmp_root/store */

void setup(void)
{
    tmp_root = make_tmpdir();
    ck_assert(asprintf(&store_dir, "%s/store", tmp_root) > 0);
}

void teardown(void)
{
    remove_tree(tmp_root);
    free(store_dir);
    free(tmp_root);
}

STORE *open_store(int flags)
{
    STORE *st = NULL;
    SUP_ERR err;

    ck_assert_msg(store_open(store_dir, flags, &st, &err) == 0, "store_open: %s", err.text);
    return st;
}

void close_store(STORE *st)
{
    SUP_ERR err;

    ck_assert_msg(store_close(st, &err) == 0, "store_close: %s", err.text);
}

void fill_entry(STORE_ENTRY *e, const char *addr, enum store_reason reason, time_t first,
                time_t expires)
{
    memset(e, 0, sizeof(*e));
    store_copy_text(e->address, sizeof(e->address), addr);
    e->reason = reason;
    store_copy_text(e->source, sizeof(e->source), "suppress-ingest");
    store_copy_text(e->detail, sizeof(e->detail), "userunknown");
    store_copy_text(e->status, sizeof(e->status), "5.1.1");
    e->first_event = first;
    e->last_event = first + 10;
    e->expires = expires;
    e->count = 3;
    store_copy_text(e->response, sizeof(e->response),
                    "550 5.1.1 <x@example.com>: Recipient address rejected: User unknown");
}

void fill_event(STORE_EVENT *ev, const char *addr, enum store_event_type type,
                time_t when, const char *detail)
{
    memset(ev, 0, sizeof(*ev));
    store_copy_text(ev->address, sizeof(ev->address), addr);
    ev->type = type;
    ev->when = when;
    store_copy_text(ev->reason, sizeof(ev->reason), "userunknown");
    store_copy_text(ev->status, sizeof(ev->status), "5.1.1");
    store_copy_text(ev->actor, sizeof(ev->actor), "sender@example.org");
    store_copy_text(ev->detail, sizeof(ev->detail), detail);
    store_copy_text(ev->response, sizeof(ev->response), "550 5.1.1 no such user");
    store_copy_text(ev->verified, sizeof(ev->verified), "signed VERP");
}

void assert_entries_equal(const STORE_ENTRY *a, const STORE_ENTRY *b)
{
    ck_assert_str_eq(a->address, b->address);
    ck_assert_int_eq(a->reason, b->reason);
    ck_assert_str_eq(a->source, b->source);
    ck_assert_str_eq(a->detail, b->detail);
    ck_assert_str_eq(a->status, b->status);
    ck_assert_int_eq(a->first_event, b->first_event);
    ck_assert_int_eq(a->last_event, b->last_event);
    ck_assert_int_eq(a->expires, b->expires);
    ck_assert_uint_eq(a->count, b->count);
    ck_assert_str_eq(a->response, b->response);
}

void assert_events_equal(const STORE_EVENT *a, const STORE_EVENT *b)
{
    ck_assert_str_eq(a->address, b->address);
    ck_assert_int_eq(a->when, b->when);
    ck_assert_int_eq(a->type, b->type);
    ck_assert_str_eq(a->reason, b->reason);
    ck_assert_str_eq(a->status, b->status);
    ck_assert_str_eq(a->actor, b->actor);
    ck_assert_str_eq(a->detail, b->detail);
    ck_assert_str_eq(a->response, b->response);
    ck_assert_str_eq(a->verified, b->verified);
    ck_assert_str_eq(a->tenant, b->tenant);
}

int collect_event(const STORE_EVENT *ev, void *ctx)
{
    struct event_list *l = ctx;

    if (l->n < 64)
        l->ev[l->n] = *ev;
    l->n++;
    return l->stop_at != 0 && l->n == l->stop_at ? 7 : 0;
}

int count_entry(const STORE_ENTRY *e, void *ctx)
{
    (void) e;
    (*(long *) ctx)++;
    return 0;
}
