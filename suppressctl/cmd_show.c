/*
 * cmd_show.c: the read-only views of the suppression list:
 *
 *   suppressctl show ADDRESS [--tenant T] [--json]
 *                                       one address: is it blocked (in the
 *                                       global scope, or T's), why, until
 *                                       when, what the remote server said,
 *                                       the tenants that block it too, and
 *                                       its timeline
 *   suppressctl list [--reason R] [--tenant T] [--all] [--json]
 *                                       every suppressed address (of T's
 *                                       scope only, with --tenant)
 *
 * Both open the store read-only, so they are safe while the milter runs.
 * Human output is aligned columns with ISO 8601 UTC times; --json writes
 * one object (show) or one object per line (list).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "ctl.h"
#include "duration.h"
#include "json.h"

/* ----- show ----- */

/* One address's timeline, read before printing so columns can align. */
struct timeline {
    STORE_EVENT *events;
    size_t count;
    size_t alloc;
};

static int collect_event(const STORE_EVENT *ev, void *ctx)
{
    struct timeline *tl = ctx;
    STORE_EVENT *grown;

    if (tl->count == tl->alloc) {
        tl->alloc = tl->alloc ? tl->alloc * 2 : 16;
        if ((grown = realloc(tl->events, tl->alloc * sizeof(*grown))) == NULL)
            return -1;
        tl->events = grown;
    }
    tl->events[tl->count++] = *ev;
    return 0;
}

static const char *or_dash(const char *s)
{
    return s != NULL && *s != '\0' ? s : "-";
}

static int text_width(const char *s)
{
    return (int) strlen(or_dash(s));
}

static void show_field(const char *label, const char *value)
{
    printf("%-13s", label);
    ctl_print_text(stdout, or_dash(value));
    putchar('\n');
}

/* The tenants whose own scope suppresses an address (store_iterate walks
 * the tenants' scopes first: stop at the first global entry). */
struct tenant_list {
    const char *address;
    time_t now;
    char *names;                /* ", "-separated */
    size_t len, cap;
    bool failed;
};

static int collect_tenant(const STORE_ENTRY *e, void *ctx)
{
    struct tenant_list *tl = ctx;
    size_t need;
    char *grown;

    if (e->tenant[0] == '\0')
        return 1;
    if (strcmp(e->address, tl->address) != 0 || (e->expires != 0 && e->expires <= tl->now))
        return 0;
    need = tl->len + strlen(e->tenant) + 3;
    if (need > tl->cap) {
        if ((grown = realloc(tl->names, need * 2)) == NULL) {
            tl->failed = true;
            return 1;
        }
        tl->names = grown;
        tl->cap = need * 2;
    }
    tl->len += (size_t) sprintf(tl->names + tl->len, "%s%s", tl->len ? ", " : "", e->tenant);
    return 0;
}

static void show_entry_text(const STORE_ENTRY *e)
{
    char buf[CTL_TIME_MAX], count[16];

    show_field("reason:", store_reason_name(e->reason));
    show_field("source:", e->source);
    show_field("detail:", e->detail);
    show_field("status code:", e->status);
    show_field("first event:", time_format_iso(e->first_event, buf, sizeof(buf)));
    show_field("last event:", time_format_iso(e->last_event, buf, sizeof(buf)));
    show_field("expires:", time_format_iso(e->expires, buf, sizeof(buf)));
    snprintf(count, sizeof(count), "%lu", (unsigned long) e->count);
    show_field("count:", count);
    if (e->response[0] == '\0') {
        show_field("response:", NULL);
    } else {
        printf("response:\n");
        ctl_print_block(stdout, e->response, "    ");
    }
}

static void show_timeline_text(const struct timeline *tl)
{
    int w_event = 5, w_reason = 6, w_status = 6, w_actor = 5;
    char buf[CTL_TIME_MAX];
    size_t i;

    if (tl->count == 0) {
        printf("timeline:    (no events)\n");
        return;
    }
    for (i = 0; i < tl->count; i++) {
        const STORE_EVENT *ev = &tl->events[i];
        int w;

        if ((w = text_width(store_event_name(ev->type))) > w_event)
            w_event = w;
        if ((w = text_width(ev->reason)) > w_reason)
            w_reason = w;
        if ((w = text_width(ev->status)) > w_status)
            w_status = w;
        if ((w = text_width(ev->actor)) > w_actor)
            w_actor = w;
    }
    printf("timeline:\n  %-20s  %-*s  %-*s  %-*s  %-*s  %s\n", "TIME", w_event, "EVENT",
           w_reason, "REASON", w_status, "STATUS", w_actor, "ACTOR", "DETAIL");
    for (i = 0; i < tl->count; i++) {
        const STORE_EVENT *ev = &tl->events[i];

        printf("  %-20s  %-*s  %-*s  %-*s  ", time_format_iso(ev->when, buf, sizeof(buf)),
               w_event, store_event_name(ev->type), w_reason, or_dash(ev->reason),
               w_status, or_dash(ev->status));
        ctl_print_text(stdout, or_dash(ev->actor));
        printf("%*s  ", w_actor - text_width(ev->actor), "");
        ctl_print_text(stdout, or_dash(ev->detail));
        putchar('\n');
        /* How suppress-ingest checked the report, or why it did not believe it. */
        if (ev->verified[0] != '\0') {
            printf("      %s ", ev->type == STORE_EV_UNVERIFIED ? "not believed:" : "verified:");
            ctl_print_text(stdout, ev->verified);
            putchar('\n');
        }
        /* Which door refused the recipient (milter or policy service). */
        if (ev->type == STORE_EV_REJECTED) {
            printf("      via: ");
            ctl_print_text(stdout, store_event_via(ev));
            putchar('\n');
        }
        if (ev->tenant[0] != '\0') {
            printf("      tenant: ");
            ctl_print_text(stdout, ev->tenant);
            putchar('\n');
        }
        if (ev->response[0] != '\0')
            ctl_print_block(stdout, ev->response, "      ");
    }
}

static void show_json(const char *address, const char *tenant, int found, bool active,
                      const STORE_ENTRY *e, const struct timeline *tl, const char *tenants)
{
    bool first = true;
    size_t i;

    fputc('{', stdout);
    json_kv_str(stdout, &first, "address", address);
    if (tenant != NULL)
        json_kv_str(stdout, &first, "tenant", tenant);
    if (tenants != NULL && tenants[0] != '\0')
        json_kv_str(stdout, &first, "tenants", tenants);
    json_kv_bool(stdout, &first, "suppressed", active);
    json_kv_str(stdout, &first, "state", active ? "suppressed" : found ? "expired" : "absent");
    if (found) {
        ctl_json_str(stdout, &first, "reason", store_reason_name(e->reason));
        ctl_json_str(stdout, &first, "source", e->source);
        ctl_json_str(stdout, &first, "detail", e->detail);
        ctl_json_str(stdout, &first, "status", e->status);
        ctl_json_time(stdout, &first, "first_event", e->first_event);
        ctl_json_time(stdout, &first, "last_event", e->last_event);
        ctl_json_time(stdout, &first, "expires", e->expires);
        json_kv_int(stdout, &first, "count", (long long) e->count);
        ctl_json_str(stdout, &first, "response", e->response);
    }
    fputs(", \"timeline\": [", stdout);
    for (i = 0; i < tl->count; i++) {
        const STORE_EVENT *ev = &tl->events[i];
        bool efirst = true;

        fputs(i ? ", {" : "{", stdout);
        ctl_json_time(stdout, &efirst, "time", ev->when);
        json_kv_str(stdout, &efirst, "event", store_event_name(ev->type));
        ctl_json_str(stdout, &efirst, "reason", ev->reason);
        ctl_json_str(stdout, &efirst, "status", ev->status);
        ctl_json_str(stdout, &efirst, "actor", ev->actor);
        ctl_json_str(stdout, &efirst, "detail", ev->detail);
        ctl_json_str(stdout, &efirst, "response", ev->response);
        ctl_json_str(stdout, &efirst, "verified", ev->verified);
        ctl_json_str(stdout, &efirst, "via", store_event_via(ev));
        if (ev->tenant[0] != '\0')
            json_kv_str(stdout, &efirst, "tenant", ev->tenant);
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
}

static void show_text(const char *address, const char *tenant, int found, bool active,
                      const STORE_ENTRY *e, const struct timeline *tl, const char *tenants)
{
    char buf[CTL_TIME_MAX];

    show_field("address:", address);
    if (tenant != NULL)
        show_field("tenant:", tenant);
    if (active)
        show_field("status:", "suppressed");
    else if (found)
        printf("%-13snot suppressed (expired at %s)\n", "status:",
               time_format_iso(e->expires, buf, sizeof(buf)));
    else
        show_field("status:", "not suppressed (not in the suppression list)");
    if (found)
        show_entry_text(e);
    if (tenants != NULL && tenants[0] != '\0')
        show_field("tenants:", tenants);
    show_timeline_text(tl);
}

int cmd_show(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"tenant", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char address[ADDR_MAX + 1];
    const char *tenant = NULL;
    struct tenant_list tenants = {0};
    struct timeline tl = {0};
    STORE_ENTRY *entry;
    STORE *st = NULL;
    bool json = false, active;
    SUP_ERR err;
    int ch, found, status;

    sup_err_clear(&err);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":jT:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'j':
            json = true;
            break;
        case 'T':
            tenant = optarg;
            break;
        case 'h':
            printf("usage: %s show ADDRESS [--tenant T] [--json]\n", ctl->progname);
            return EX_OK;
        default:
            return ctl_option_error(ctl, "show", ch, argv);
        }
    }
    if (argc - optind != 1)
        return ctl_usage_error(ctl, "show", "expected one address");
    if (ctl_normalize(argv[optind], address, sizeof(address), &err) < 0
        || (tenant != NULL && ctl_tenant(tenant, &err) < 0))
        return ctl_fail(ctl, &err);
    /* STORE_ENTRY holds a 2 KB response: keep it off the stack. */
    if ((entry = calloc(1, sizeof(*entry))) == NULL) {
        sup_err_set(&err, SUP_ERR_SOFTWARE, "out of memory");
        return ctl_fail(ctl, &err);
    }
    if (ctl_store_open(ctl, false, &st, &err) < 0) {
        free(entry);
        return ctl_fail(ctl, &err);
    }
    tenants.address = address;
    tenants.now = ctl->now;
    if ((found = store_get_in(st, NULL, tenant, address, entry, &err)) < 0
        || store_events(st, NULL, address, collect_event, &tl, &err) < 0
        || (tenant == NULL && store_iterate(st, collect_tenant, &tenants, &err) < 0)
        || tenants.failed) {
        if (err.cls == SUP_OK)
            sup_err_set(&err, SUP_ERR_SOFTWARE, "out of memory reading the timeline");
        sup_err_prefix(&err, "show %s", address);
        status = ctl_fail(ctl, &err);
    } else {
        active = found && (entry->expires == 0 || entry->expires > ctl->now);
        if (json)
            show_json(address, tenant, found, active, entry, &tl, tenants.names);
        else
            show_text(address, tenant, found, active, entry, &tl, tenants.names);
        status = active ? EX_OK : CTL_EXIT_NOT_SUPPRESSED;
    }
    store_close(st, NULL);
    free(tenants.names);
    free(tl.events);
    free(entry);
    return status;
}

/* ----- list ----- */

/* A row of the human listing: only what is printed, so 100k rows stay small. */
struct list_row {
    char *address;
    char *tenant;               /* NULL: the global scope */
    enum store_reason reason;
    time_t expires;
    time_t last_event;
    bool expired;
};

struct list_job {
    time_t now;
    bool all;
    bool json;
    bool filter_reason;
    enum store_reason reason;
    const char *tenant;         /* --tenant: that scope only */
    bool any_tenant;            /* a row of a tenant's scope: print the column */
    struct list_row *rows;
    size_t count;
    size_t alloc;
};

static void list_json_row(const STORE_ENTRY *e, bool active)
{
    bool first = true;

    fputc('{', stdout);
    json_kv_str(stdout, &first, "address", e->address);
    if (e->tenant[0] != '\0')
        json_kv_str(stdout, &first, "tenant", e->tenant);
    json_kv_str(stdout, &first, "reason", store_reason_name(e->reason));
    json_kv_bool(stdout, &first, "suppressed", active);
    ctl_json_time(stdout, &first, "expires", e->expires);
    ctl_json_time(stdout, &first, "first_event", e->first_event);
    ctl_json_time(stdout, &first, "last_event", e->last_event);
    json_kv_int(stdout, &first, "count", (long long) e->count);
    ctl_json_str(stdout, &first, "source", e->source);
    ctl_json_str(stdout, &first, "detail", e->detail);
    ctl_json_str(stdout, &first, "status", e->status);
    fputs("}\n", stdout);
}

static int list_entry(const STORE_ENTRY *e, void *ctx)
{
    struct list_job *job = ctx;
    bool active = e->expires == 0 || e->expires > job->now;
    struct list_row *grown;

    if (!active && !job->all)
        return 0;
    if (job->filter_reason && e->reason != job->reason)
        return 0;
    if (job->tenant != NULL && strcmp(e->tenant, job->tenant) != 0)
        return e->tenant[0] == '\0' ? 1 : 0;     /* the tenants' scopes come first */
    if (job->json) {
        list_json_row(e, active);
        return 0;
    }
    if (job->count == job->alloc) {
        job->alloc = job->alloc ? job->alloc * 2 : 256;
        if ((grown = realloc(job->rows, job->alloc * sizeof(*grown))) == NULL)
            return -1;
        job->rows = grown;
    }
    if ((job->rows[job->count].address = strdup(e->address)) == NULL)
        return -1;
    job->rows[job->count].tenant = NULL;
    if (e->tenant[0] != '\0') {
        if ((job->rows[job->count].tenant = strdup(e->tenant)) == NULL) {
            free(job->rows[job->count].address);
            return -1;
        }
        job->any_tenant = true;
    }
    job->rows[job->count].reason = e->reason;
    job->rows[job->count].expires = e->expires;
    job->rows[job->count].last_event = e->last_event;
    job->rows[job->count].expired = !active;
    job->count++;
    return 0;
}

static void list_format_expires(const struct list_row *r, char *buf, size_t len)
{
    char t[CTL_TIME_MAX];

    snprintf(buf, len, "%s%s", time_format_iso(r->expires, t, sizeof(t)),
             r->expired ? " (expired)" : "");
}

static void list_print(const struct list_job *job)
{
    char expires[CTL_TIME_MAX + 16], last[CTL_TIME_MAX];
    int w_addr = 1, w_reason = 1, w_expires = 1, w_tenant = 1, w;
    size_t i;

    for (i = 0; i < job->count; i++) {
        if ((w = (int) strlen(job->rows[i].address)) > w_addr)
            w_addr = w;
        if (job->rows[i].tenant != NULL && (w = (int) strlen(job->rows[i].tenant)) > w_tenant)
            w_tenant = w;
        if ((w = (int) strlen(store_reason_name(job->rows[i].reason))) > w_reason)
            w_reason = w;
        list_format_expires(&job->rows[i], expires, sizeof(expires));
        if ((w = (int) strlen(expires)) > w_expires)
            w_expires = w;
    }
    for (i = 0; i < job->count; i++) {
        const struct list_row *r = &job->rows[i];

        list_format_expires(r, expires, sizeof(expires));
        /* The tenant's column only when some row is a tenant's: a store
         * without tenants lists as it always did. */
        if (job->any_tenant)
            printf("%-*s  ", w_tenant, r->tenant != NULL ? r->tenant : "-");
        printf("%-*s  %-*s  %-*s  %s\n", w_addr, r->address, w_reason,
               store_reason_name(r->reason), w_expires, expires,
               time_format_iso(r->last_event, last, sizeof(last)));
    }
}

int cmd_list(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"all", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"tenant", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct list_job job = {.now = ctl->now};
    STORE *st = NULL;
    SUP_ERR err;
    int ch, status = EX_OK;
    size_t i;

    sup_err_clear(&err);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":r:ajT:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'T':
            if (ctl_tenant(optarg, &err) < 0)
                return ctl_fail(ctl, &err);
            job.tenant = optarg;
            break;
        case 'r':
            if (store_reason_parse(optarg, &job.reason) < 0)
                return ctl_usage_error(ctl, "list", "unknown reason \"%s\" (hard-bounce, "
                                       "soft-bounce-escalated, complaint, unsubscribe, manual)",
                                       optarg);
            job.filter_reason = true;
            break;
        case 'a':
            job.all = true;
            break;
        case 'j':
            job.json = true;
            break;
        case 'h':
            printf("usage: %s list [--reason R] [--tenant T] [--all] [--json]\n", ctl->progname);
            return EX_OK;
        default:
            return ctl_option_error(ctl, "list", ch, argv);
        }
    }
    if (argc - optind != 0)
        return ctl_usage_error(ctl, "list", "unexpected argument \"%s\"", argv[optind]);

    if (ctl_store_open(ctl, false, &st, &err) < 0)
        return ctl_fail(ctl, &err);
    /* list_entry stops the walk (1) past a --tenant's scope, -1 is out of memory. */
    if (store_iterate(st, list_entry, &job, &err) < 0) {
        if (err.cls == SUP_OK)
            sup_err_set(&err, SUP_ERR_SOFTWARE, "out of memory listing the store");
        sup_err_prefix(&err, "list");
        status = ctl_fail(ctl, &err);
    } else {
        list_print(&job);
    }
    store_close(st, NULL);
    for (i = 0; i < job.count; i++) {
        free(job.rows[i].address);
        free(job.rows[i].tenant);
    }
    free(job.rows);
    if (status == EX_OK && fflush(stdout) != 0) {
        sup_err_set(&err, SUP_ERR_IO, "writing the list: %m");
        status = ctl_fail(ctl, &err);
    }
    return status;
}
