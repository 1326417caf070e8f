/*
 * cmd_stats.c: the store as a whole:
 *
 *   suppressctl stats [--days N] [--tenant T] [--json]   how many
 *       addresses are blocked and why; per day the recipients the milter
 *       refused (rejected) and let through (accepted), the bounces the
 *       ingest recorded by class, and the bounce rate, with a warning above
 *       the 5% the sending services call the limit of a healthy list.  With
 *       --tenant, T's scope and T's own counters; --by-tenant: one row per
 *       tenant (stats_tenants.c)
 *   suppressctl purge                       drop expired suppressions,
 *       old timeline events, old bounce identities and old ledger messages
 *
 * The daily figures come from the store's counters (store_counters):
 * "accepted", "rejected" and "bounce.<class>", or a tenant's
 * "tenant/<T>/..." copies of them.
 */
#include "config.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"
#include "duration.h"
#include "json.h"

#define STATS_DAYS_DEFAULT 14
#define STATS_DAYS_MAX 3660
/* Bounces (hard + soft) per accepted recipient above which a list is unhealthy. */
#define STATS_BOUNCE_RATE_WARN 0.05
/* Distinct bounce classes shown; more are added up under "other". */
#define STATS_CLASSES_MAX 16
#define STATS_CLASS_NAME_MAX 32
#define STATS_DAY_MAX 16

/* Suppressions by reason (index: enum store_reason) at `now`. */
struct reason_counts {
    time_t now;
    const char *tenant;         /* the scope counted: NULL global */
    unsigned long in_tenants;   /* global census: active entries of the tenants' scopes */
    unsigned long active[STORE_REASON_MANUAL + 1];
    unsigned long total;
    unsigned long expired;      /* expired but not yet purged */
};

struct day_figures {
    char day[STATS_DAY_MAX];
    uint64_t accepted;
    uint64_t rejected;
    uint64_t bounces[STATS_CLASSES_MAX];
    uint64_t unverified;        /* report recipients not believed (ingest.trust) */
};

struct stats {
    time_t now;
    int ndays;
    struct day_figures *days;   /* oldest first; the last is today */
    struct day_figures total;
    char classes[STATS_CLASSES_MAX][STATS_CLASS_NAME_MAX];
    int nclasses;
    struct reason_counts reasons;
    const char *tenant;         /* --tenant: its counters; NULL the global ones */
};

static int count_entry(const STORE_ENTRY *e, void *ctx)
{
    struct reason_counts *rc = ctx;

    if (strcmp(e->tenant, rc->tenant != NULL ? rc->tenant : "") != 0) {
        if (rc->tenant == NULL && (e->expires == 0 || e->expires > rc->now))
            rc->in_tenants++;
        return 0;
    }
    if (e->expires != 0 && e->expires <= rc->now) {
        rc->expired++;
        return 0;
    }
    if (e->reason >= STORE_REASON_HARD_BOUNCE && e->reason <= STORE_REASON_MANUAL)
        rc->active[e->reason]++;
    rc->total++;
    return 0;
}

/* The column of a bounce class, added on first sight; the last column
 * takes every class beyond the limit. */
static int class_index(struct stats *s, const char *cls)
{
    int i;

    for (i = 0; i < s->nclasses; i++)
        if (strcmp(s->classes[i], cls) == 0)
            return i;
    if (s->nclasses == STATS_CLASSES_MAX) {
        snprintf(s->classes[STATS_CLASSES_MAX - 1], STATS_CLASS_NAME_MAX, "other");
        return STATS_CLASSES_MAX - 1;
    }
    snprintf(s->classes[s->nclasses], STATS_CLASS_NAME_MAX, "%s", cls);
    return s->nclasses++;
}

static int compare_day(const void *key, const void *member)
{
    return strcmp(key, ((const struct day_figures *) member)->day);
}

static int add_counter(const char *day, const char *name, uint64_t value, void *ctx)
{
    struct stats *s = ctx;
    struct day_figures *d;
    char tenant[STORE_TENANT_MAX];

    if ((d = bsearch(day, s->days, (size_t) s->ndays, sizeof(*d), compare_day)) == NULL)
        return 0;
    store_counter_split(name, tenant, sizeof(tenant), &name);
    if (strcmp(tenant, s->tenant != NULL ? s->tenant : "") != 0)
        return 0;
    if (strcmp(name, STORE_CTR_ACCEPTED) == 0)
        d->accepted += value;
    else if (strcmp(name, STORE_CTR_REJECTED) == 0)
        d->rejected += value;
    else if (strcmp(name, STORE_CTR_UNVERIFIED) == 0)
        d->unverified += value;
    else if (strncmp(name, STORE_CTR_BOUNCE_PREFIX, strlen(STORE_CTR_BOUNCE_PREFIX)) == 0)
        d->bounces[class_index(s, name + strlen(STORE_CTR_BOUNCE_PREFIX))] += value;
    return 0;
}

static int class_named(const struct stats *s, const char *cls)
{
    int i;

    for (i = 0; i < s->nclasses; i++)
        if (strcmp(s->classes[i], cls) == 0)
            return i;
    return -1;
}

/* Bounces that count against the list: hard and soft.  -1 if nothing was accepted. */
static double bounce_rate(const struct stats *s, const struct day_figures *d)
{
    int hard = class_named(s, "hard"), soft = class_named(s, "soft");
    uint64_t bounces = 0;

    if (d->accepted == 0)
        return -1;
    if (hard >= 0)
        bounces += d->bounces[hard];
    if (soft >= 0)
        bounces += d->bounces[soft];
    return (double) bounces / (double) d->accepted;
}

/* Hard and soft first (they make the rate), then the others by name. */
static bool class_before(const char *a, const char *b)
{
    int rank_a = strcmp(a, "hard") == 0 ? 0 : strcmp(a, "soft") == 0 ? 1 : 2;
    int rank_b = strcmp(b, "hard") == 0 ? 0 : strcmp(b, "soft") == 0 ? 1 : 2;

    return rank_a != rank_b ? rank_a < rank_b : strcmp(a, b) < 0;
}

static void swap_classes(struct stats *s, int i, int j)
{
    char name[STATS_CLASS_NAME_MAX];
    uint64_t v;
    int d;

    memcpy(name, s->classes[i], sizeof(name));
    memcpy(s->classes[i], s->classes[j], sizeof(name));
    memcpy(s->classes[j], name, sizeof(name));
    for (d = 0; d < s->ndays; d++) {
        v = s->days[d].bounces[i];
        s->days[d].bounces[i] = s->days[d].bounces[j];
        s->days[d].bounces[j] = v;
    }
}

/* Show hard and soft even before the ingest has counted any. */
static void order_classes(struct stats *s)
{
    int i, j;

    if (class_named(s, "hard") < 0 && s->nclasses < STATS_CLASSES_MAX)
        snprintf(s->classes[s->nclasses++], STATS_CLASS_NAME_MAX, "hard");
    if (class_named(s, "soft") < 0 && s->nclasses < STATS_CLASSES_MAX)
        snprintf(s->classes[s->nclasses++], STATS_CLASS_NAME_MAX, "soft");
    for (i = 0; i < s->nclasses; i++)
        for (j = i + 1; j < s->nclasses; j++)
            if (class_before(s->classes[j], s->classes[i]))
                swap_classes(s, i, j);
}

static void sum_days(struct stats *s)
{
    int d, c;

    memset(&s->total, 0, sizeof(s->total));
    snprintf(s->total.day, sizeof(s->total.day), "total");
    for (d = 0; d < s->ndays; d++) {
        s->total.accepted += s->days[d].accepted;
        s->total.rejected += s->days[d].rejected;
        s->total.unverified += s->days[d].unverified;
        for (c = 0; c < s->nclasses; c++)
            s->total.bounces[c] += s->days[d].bounces[c];
    }
}

static void format_rate(double rate, char *buf, size_t len)
{
    if (rate < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "%.2f%%%s", rate * 100, rate > STATS_BOUNCE_RATE_WARN ? " *" : "");
}

static void print_day_row(const struct stats *s, const struct day_figures *d)
{
    char rate[32];
    int c;

    printf("%-10s  %10llu  %10llu", d->day, (unsigned long long) d->accepted,
           (unsigned long long) d->rejected);
    for (c = 0; c < s->nclasses; c++)
        printf("  %*llu", (int) (strlen(s->classes[c]) > 6 ? strlen(s->classes[c]) : 6),
               (unsigned long long) d->bounces[c]);
    format_rate(bounce_rate(s, d), rate, sizeof(rate));
    printf("  %11s\n", rate);
}

static const char *days_word(int n)
{
    return n == 1 ? "day" : "days";
}

static void print_stats_text(const struct stats *s)
{
    double total_rate = bounce_rate(s, &s->total);
    int d, c, days_over = 0;
    char upper[STATS_CLASS_NAME_MAX];
    size_t k;

    if (s->tenant != NULL)
        printf("tenant: %s (its own suppressions; the global ones refuse its mail too)\n",
               s->tenant);
    printf("suppressed now: %lu\n", s->reasons.total);
    for (c = STORE_REASON_HARD_BOUNCE; c <= STORE_REASON_MANUAL; c++)
        printf("  %-22s %10lu\n", store_reason_name((enum store_reason) c), s->reasons.active[c]);
    if (s->reasons.expired > 0)
        printf("expired, awaiting purge: %lu\n", s->reasons.expired);
    if (s->reasons.in_tenants > 0)
        printf("suppressed for one tenant only: %lu (stats --by-tenant)\n",
               s->reasons.in_tenants);

    printf("\nlast %d %s (UTC)\n%-10s  %10s  %10s", s->ndays, days_word(s->ndays),
           "DAY", "ACCEPTED", "REJECTED");
    for (c = 0; c < s->nclasses; c++) {
        for (k = 0; k + 1 < sizeof(upper) && s->classes[c][k] != '\0'; k++)
            upper[k] = (char) (s->classes[c][k] >= 'a' && s->classes[c][k] <= 'z'
                               ? s->classes[c][k] - 'a' + 'A' : s->classes[c][k]);
        upper[k] = '\0';
        printf("  %6s", upper);
    }
    printf("  %11s\n", "BOUNCE-RATE");
    for (d = 0; d < s->ndays; d++) {
        print_day_row(s, &s->days[d]);
        if (bounce_rate(s, &s->days[d]) > STATS_BOUNCE_RATE_WARN)
            days_over++;
    }
    print_day_row(s, &s->total);
    if (s->total.unverified > 0)
        printf("\nreports not believed (ingest.trust): %llu recipients, suppressing nobody;"
               " the messages are in the quarantine\n", (unsigned long long) s->total.unverified);

    if (total_rate > STATS_BOUNCE_RATE_WARN)
        printf("\nwarning: bounce rate %.2f%% over the last %d %s is above %.0f%% "
               "(hard + soft bounces per accepted recipient); clean the list\n",
               total_rate * 100, s->ndays, days_word(s->ndays), STATS_BOUNCE_RATE_WARN * 100);
    else if (days_over > 0)
        printf("\nwarning: bounce rate above %.0f%% on %d of the last %d days (marked *)\n",
               STATS_BOUNCE_RATE_WARN * 100, days_over, s->ndays);
}

static void print_json_figures(const struct stats *s, const struct day_figures *d, bool *first)
{
    double rate = bounce_rate(s, d);
    bool bfirst = true;
    int c;

    json_kv_int(stdout, first, "accepted", (long long) d->accepted);
    json_kv_int(stdout, first, "rejected", (long long) d->rejected);
    json_kv_int(stdout, first, "unverified", (long long) d->unverified);
    fputs(", \"bounces\": {", stdout);
    for (c = 0; c < s->nclasses; c++)
        json_kv_int(stdout, &bfirst, s->classes[c], (long long) d->bounces[c]);
    fputc('}', stdout);
    if (rate < 0)
        fputs(", \"bounce_rate\": null", stdout);
    else
        printf(", \"bounce_rate\": %.6f", rate);
}

static void print_stats_json(const struct stats *s)
{
    bool first = true, rfirst = true;
    int d, c;

    fputc('{', stdout);
    if (s->tenant != NULL) {
        json_kv_str(stdout, &first, "tenant", s->tenant);
        fputs(", ", stdout);
    }
    fputs("\"suppressed\": {", stdout);
    json_kv_int(stdout, &rfirst, "total", (long long) s->reasons.total);
    for (c = STORE_REASON_HARD_BOUNCE; c <= STORE_REASON_MANUAL; c++)
        json_kv_int(stdout, &rfirst, store_reason_name((enum store_reason) c),
                    (long long) s->reasons.active[c]);
    fputs("}", stdout);
    first = false;
    json_kv_int(stdout, &first, "expired", (long long) s->reasons.expired);
    if (s->tenant == NULL)
        json_kv_int(stdout, &first, "in_tenants", (long long) s->reasons.in_tenants);
    fputs(", \"days\": [", stdout);
    for (d = 0; d < s->ndays; d++) {
        bool dfirst = true;

        fputs(d ? ", {" : "{", stdout);
        json_kv_str(stdout, &dfirst, "day", s->days[d].day);
        print_json_figures(s, &s->days[d], &dfirst);
        fputc('}', stdout);
    }
    fputs("], \"total\": {", stdout);
    {
        bool tfirst = true;

        json_kv_int(stdout, &tfirst, "days", s->ndays);
        print_json_figures(s, &s->total, &tfirst);
    }
    fputc('}', stdout);
    printf(", \"bounce_rate_limit\": %.2f", STATS_BOUNCE_RATE_WARN);
    json_kv_bool(stdout, &first, "warning", bounce_rate(s, &s->total) > STATS_BOUNCE_RATE_WARN);
    fputs("}\n", stdout);
}

static int parse_days(const char *text, int *days)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (*text == '\0' || *end != '\0' || v < 1 || v > STATS_DAYS_MAX)
        return -1;
    *days = (int) v;
    return 0;
}

int cmd_stats(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"days", required_argument, NULL, 'd'},
        {"json", no_argument, NULL, 'j'},
        {"tenant", required_argument, NULL, 'T'},
        {"by-tenant", no_argument, NULL, 'B'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct reason_counts census;
    struct stats *s;
    STORE *st = NULL;
    const char *tenant = NULL;
    bool json = false, by_tenant = false;
    SUP_ERR err;
    int ch, d, days = STATS_DAYS_DEFAULT, status = EX_OK;

    sup_err_clear(&err);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":d:jT:Bh", opts, NULL)) != -1) {
        switch (ch) {
        case 'T':
            if (ctl_tenant(optarg, &err) < 0)
                return ctl_fail(ctl, &err);
            tenant = optarg;
            break;
        case 'B':
            by_tenant = true;
            break;
        case 'd':
            if (parse_days(optarg, &days) < 0)
                return ctl_usage_error(ctl, "stats", "--days \"%s\": expected 1 to %d",
                                       optarg, STATS_DAYS_MAX);
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            printf("usage: %s stats [--days N] [--tenant T | --by-tenant] [--json]\n",
                   ctl->progname);
            return EX_OK;
        default:
            return ctl_option_error(ctl, "stats", ch, argv);
        }
    }
    if (argc - optind != 0)
        return ctl_usage_error(ctl, "stats", "unexpected argument \"%s\"", argv[optind]);
    if (tenant != NULL && by_tenant)
        return ctl_usage_error(ctl, "stats", "--tenant and --by-tenant: one or the other");
    if (by_tenant)
        return stats_by_tenant(ctl, days, json);

    if ((s = calloc(1, sizeof(*s))) == NULL
        || (s->days = calloc((size_t) days, sizeof(*s->days))) == NULL) {
        free(s);
        sup_err_set(&err, SUP_ERR_SOFTWARE, "out of memory");
        return ctl_fail(ctl, &err);
    }
    s->now = ctl->now;
    s->ndays = days;
    s->tenant = tenant;
    for (d = 0; d < days; d++)
        time_format_day(ctl->now - (time_t) (days - 1 - d) * 86400, s->days[d].day,
                        sizeof(s->days[d].day));

    memset(&census, 0, sizeof(census));
    census.now = ctl->now;
    census.tenant = tenant;
    if (ctl_store_open(ctl, false, &st, &err) < 0) {
        status = ctl_fail(ctl, &err);
    } else if (store_iterate(st, count_entry, &census, &err) < 0
               || store_counters(st, add_counter, s, &err) < 0) {
        sup_err_prefix(&err, "stats");
        status = ctl_fail(ctl, &err);
    } else {
        s->reasons = census;
        order_classes(s);
        sum_days(s);
        if (json)
            print_stats_json(s);
        else
            print_stats_text(s);
    }
    store_close(st, NULL);
    free(s->days);
    free(s);
    return status;
}

int cmd_purge(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct store_purge_result res;
    const struct store_retention keep = {
        ctl->cfg->policy.timeline_retention, ctl->cfg->ingest.seen_retention,
        ctl->cfg->ledger.retention,
    };
    char events_age[32], seen_age[32], ledger_age[32];
    STORE *st = NULL;
    SUP_ERR err;
    int ch, attempt, rc, status = EX_OK;

    sup_err_clear(&err);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (ch == 'h') {
            printf("usage: %s purge\n", ctl->progname);
            return EX_OK;
        }
        return ctl_option_error(ctl, "purge", ch, argv);
    }
    if (argc - optind != 0)
        return ctl_usage_error(ctl, "purge", "unexpected argument \"%s\"", argv[optind]);

    if (ctl_store_open(ctl, true, &st, &err) < 0)
        return ctl_fail(ctl, &err);
    for (attempt = 1;; attempt++) {
        memset(&res, 0, sizeof(res));
        rc = store_purge(st, ctl->now, &keep, &res, &err);
        if (rc == 0 || err.cls != SUP_ERR_TEMP || attempt >= 20)
            break;
        store_retry_delay(attempt);
    }
    if (rc < 0) {
        sup_err_prefix(&err, "purge");
        status = ctl_fail(ctl, &err);
    } else {
        printf("purged %lu expired suppressions, %lu timeline events older than %s, "
               "%lu bounce identities older than %s\n",
               res.expired_entries, res.old_events,
               duration_format(ctl->cfg->policy.timeline_retention, events_age, sizeof(events_age)),
               res.old_seen,
               duration_format(ctl->cfg->ingest.seen_retention, seen_age, sizeof(seen_age)));
        printf("purged %lu ledger messages older than %s\n", res.old_ledger,
               duration_format(ctl->cfg->ledger.retention, ledger_age, sizeof(ledger_age)));
        printf("compacted: %lu pages given back to the file system\n", res.pages_freed);
    }
    if (store_close(st, &err) < 0 && status == EX_OK)
        status = ctl_fail(ctl, &err);
    return status;
}
