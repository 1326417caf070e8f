/*
 * stats_tenants.c: suppressctl stats --by-tenant [--days N] [--json], one
 * row per tenant over the last N days: its own suppressions, the
 * recipients of its mail the milter let through and refused, its hard
 * and soft bounces, complaints, and its bounce rate.  "Aim for zero
 * rejected" and the 5% bounce rate are per-account figures: a hosted
 * service judges each customer by its own.
 *
 * The figures come from the tenants' counters ("tenant/<T>/accepted",
 * ".../rejected", ".../bounce.<class>": store_counter_split) and their
 * scopes' entries; the global counters, which count everything, are not
 * in it (suppressctl stats shows them).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "duration.h"
#include "json.h"

/* Bounces (hard + soft) per accepted recipient above which a list is unhealthy. */
#define BOUNCE_RATE_WARN 0.05
#define DAY_MAX 16

struct tenant_row {
    char name[STORE_TENANT_MAX];
    unsigned long suppressed;   /* active entries of its scope */
    uint64_t accepted, rejected, hard, soft, complaint;
};

struct tenant_table {
    struct tenant_row *rows;
    size_t count, alloc;
    char first_day[DAY_MAX];    /* counters of days before are left out */
    time_t now;
    bool failed;                /* out of memory */
};

static struct tenant_row *row_of(struct tenant_table *t, const char *name)
{
    struct tenant_row *grown;

    for (size_t i = 0; i < t->count; i++)
        if (strcmp(t->rows[i].name, name) == 0)
            return &t->rows[i];
    if (t->count == t->alloc) {
        t->alloc = t->alloc ? t->alloc * 2 : 32;
        if ((grown = realloc(t->rows, t->alloc * sizeof(*grown))) == NULL) {
            t->failed = true;
            return NULL;
        }
        t->rows = grown;
    }
    memset(&t->rows[t->count], 0, sizeof(t->rows[0]));
    snprintf(t->rows[t->count].name, sizeof(t->rows[0].name), "%s", name);
    return &t->rows[t->count++];
}

/* The tenants' scopes come first in the walk: stop at the first global entry. */
static int count_scoped(const STORE_ENTRY *e, void *ctx)
{
    struct tenant_table *t = ctx;
    struct tenant_row *r;

    if (e->tenant[0] == '\0')
        return 1;
    if (e->expires != 0 && e->expires <= t->now)
        return 0;
    if ((r = row_of(t, e->tenant)) == NULL)
        return -1;
    r->suppressed++;
    return 0;
}

static int add_tenant_counter(const char *day, const char *full, uint64_t value, void *ctx)
{
    struct tenant_table *t = ctx;
    char tenant[STORE_TENANT_MAX];
    const char *name;
    struct tenant_row *r;

    if (strcmp(day, t->first_day) < 0)
        return 0;
    store_counter_split(full, tenant, sizeof(tenant), &name);
    if (tenant[0] == '\0')
        return 0;
    if ((r = row_of(t, tenant)) == NULL)
        return -1;
    if (strcmp(name, STORE_CTR_ACCEPTED) == 0)
        r->accepted += value;
    else if (strcmp(name, STORE_CTR_REJECTED) == 0)
        r->rejected += value;
    else if (strcmp(name, STORE_CTR_BOUNCE_PREFIX "hard") == 0)
        r->hard += value;
    else if (strcmp(name, STORE_CTR_BOUNCE_PREFIX "soft") == 0)
        r->soft += value;
    else if (strcmp(name, STORE_CTR_BOUNCE_PREFIX "complaint") == 0)
        r->complaint += value;
    return 0;
}

static int compare_rows(const void *a, const void *b)
{
    return strcmp(((const struct tenant_row *) a)->name, ((const struct tenant_row *) b)->name);
}

/* -1 when nothing was accepted. */
static double rate_of(const struct tenant_row *r)
{
    return r->accepted == 0 ? -1 : (double) (r->hard + r->soft) / (double) r->accepted;
}

static void print_text(const struct tenant_table *t, int days)
{
    int w = 6;
    char rate[32];

    printf("last %d %s (UTC), per tenant\n", days, days == 1 ? "day" : "days");
    if (t->count == 0) {
        printf("(no tenant has counters or suppressions of its own: is tenant set in the"
               " config?)\n");
        return;
    }
    for (size_t i = 0; i < t->count; i++)
        if ((int) strlen(t->rows[i].name) > w)
            w = (int) strlen(t->rows[i].name);
    printf("%-*s  %10s  %10s  %10s  %8s  %8s  %9s  %11s\n", w, "TENANT", "SUPPRESSED",
           "ACCEPTED", "REJECTED", "HARD", "SOFT", "COMPLAINT", "BOUNCE-RATE");
    for (size_t i = 0; i < t->count; i++) {
        const struct tenant_row *r = &t->rows[i];
        double rt = rate_of(r);

        if (rt < 0)
            snprintf(rate, sizeof(rate), "-");
        else
            snprintf(rate, sizeof(rate), "%.2f%%%s", rt * 100, rt > BOUNCE_RATE_WARN ? " *" : "");
        printf("%-*s  %10lu  %10llu  %10llu  %8llu  %8llu  %9llu  %11s\n", w, r->name,
               r->suppressed, (unsigned long long) r->accepted,
               (unsigned long long) r->rejected, (unsigned long long) r->hard,
               (unsigned long long) r->soft, (unsigned long long) r->complaint, rate);
    }
    printf("\nthe global suppressions (hard bounces...) refuse every tenant's mail;"
           " * marks a bounce rate above %.0f%%\n", BOUNCE_RATE_WARN * 100);
}

static void print_json(const struct tenant_table *t, int days)
{
    printf("{\"days\": %d, \"bounce_rate_limit\": %.2f, \"tenants\": [", days, BOUNCE_RATE_WARN);
    for (size_t i = 0; i < t->count; i++) {
        const struct tenant_row *r = &t->rows[i];
        bool first = true, bfirst = true;
        double rt = rate_of(r);

        fputs(i ? ", {" : "{", stdout);
        json_kv_str(stdout, &first, "tenant", r->name);
        json_kv_int(stdout, &first, "suppressed", (long long) r->suppressed);
        json_kv_int(stdout, &first, "accepted", (long long) r->accepted);
        json_kv_int(stdout, &first, "rejected", (long long) r->rejected);
        fputs(", \"bounces\": {", stdout);
        json_kv_int(stdout, &bfirst, "hard", (long long) r->hard);
        json_kv_int(stdout, &bfirst, "soft", (long long) r->soft);
        json_kv_int(stdout, &bfirst, "complaint", (long long) r->complaint);
        fputc('}', stdout);
        if (rt < 0)
            fputs(", \"bounce_rate\": null", stdout);
        else
            printf(", \"bounce_rate\": %.6f", rt);
        fputc('}', stdout);
    }
    fputs("]}\n", stdout);
}

int stats_by_tenant(struct ctl *ctl, int days, bool json)
{
    struct tenant_table t = {.now = ctl->now};
    STORE *st = NULL;
    SUP_ERR err;
    int status = EX_OK;

    sup_err_clear(&err);
    time_format_day(ctl->now - (time_t) (days - 1) * 86400, t.first_day, sizeof(t.first_day));
    if (ctl_store_open(ctl, false, &st, &err) < 0)
        return ctl_fail(ctl, &err);
    if (store_iterate(st, count_scoped, &t, &err) < 0
        || store_counters(st, add_tenant_counter, &t, &err) < 0 || t.failed) {
        if (t.failed)
            sup_err_set(&err, SUP_ERR_SOFTWARE, "out of memory");
        sup_err_prefix(&err, "stats --by-tenant");
        status = ctl_fail(ctl, &err);
    } else {
        qsort(t.rows, t.count, sizeof(t.rows[0]), compare_rows);
        if (json)
            print_json(&t, days);
        else
            print_text(&t, days);
    }
    store_close(st, NULL);
    free(t.rows);
    return status;
}
