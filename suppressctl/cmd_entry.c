/*
 * cmd_entry.c: the commands that change one address by hand:
 *
 *   suppressctl add ADDRESS [--reason R] [--ttl D] [--note TEXT] [--tenant T]
 *   suppressctl remove|unblock ADDRESS [--note TEXT] [--tenant T]
 *
 * Without --tenant they work on the global scope (the address refused for
 * every tenant), with it on that tenant's (store.h, Tenants).
 *
 * Each runs in one transaction that reads the current suppression, writes
 * the new state and records an "add" or "unblock" event in the address's
 * timeline with the invoking user as actor, so `show` can tell later who
 * blocked or unblocked an address and why.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "ctl.h"
#include "duration.h"

/* What add or remove works on, filled by the command and its transaction. */
struct entry_job {
    const struct ctl *ctl;
    char address[ADDR_MAX + 1];
    enum store_reason reason;
    time_t expires;
    const char *note;           /* may be NULL */
    const char *tenant;         /* --tenant, NULL: the global scope */
    /* results */
    int found;                  /* store_get: 1 an entry exists (maybe expired) */
    bool active;                /* it suppressed the address at ctl->now */
    STORE_ENTRY old;
    STORE_ENTRY entry;          /* written by add */
};

static bool entry_active(const STORE_ENTRY *entry, time_t now)
{
    return entry->expires == 0 || entry->expires > now;
}

/* A note goes into the entry's detail field: refuse what would not fit
 * rather than cut an operator's words. */
static int check_note(const char *note, SUP_ERR *err)
{
    if (note != NULL && strlen(note) >= STORE_DETAIL_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "note \"%s\" is %zu bytes; at most %d fit",
                           note, strlen(note), STORE_DETAIL_MAX - 1);
    return 0;
}

static void fill_event(STORE_EVENT *ev, const struct entry_job *job,
                       enum store_event_type type, enum store_reason reason)
{
    memset(ev, 0, sizeof(*ev));
    snprintf(ev->address, sizeof(ev->address), "%s", job->address);
    ev->when = job->ctl->now;
    ev->type = type;
    snprintf(ev->reason, sizeof(ev->reason), "%s", store_reason_name(reason));
    snprintf(ev->actor, sizeof(ev->actor), "%s", job->ctl->actor);
    if (job->note != NULL)
        snprintf(ev->detail, sizeof(ev->detail), "%s", job->note);
    if (job->tenant != NULL)
        snprintf(ev->tenant, sizeof(ev->tenant), "%s", job->tenant);
}

/* " for tenant T" after a report line, or nothing. */
static const char *scope_note(const struct entry_job *job, char *buf, size_t len)
{
    if (job->tenant == NULL)
        return "";
    snprintf(buf, len, " for tenant %s", job->tenant);
    return buf;
}

/*
 * The new entry: a fresh one when the address was not suppressed; else the
 * old one with its history (first event, remote response) kept and the
 * reason, expiry and decider replaced.
 */
static void build_added_entry(struct entry_job *job)
{
    STORE_ENTRY *e = &job->entry;

    if (job->active) {
        *e = job->old;
        e->count++;
        /* A classifier detail explains the old reason, not the new one. */
        if (job->note != NULL || e->reason != job->reason)
            e->detail[0] = '\0';
    } else {
        memset(e, 0, sizeof(*e));
        snprintf(e->address, sizeof(e->address), "%s", job->address);
        e->first_event = job->ctl->now;
        e->count = 1;
    }
    e->reason = job->reason;
    e->expires = job->expires;
    e->last_event = job->ctl->now;
    snprintf(e->source, sizeof(e->source), "%s", CTL_SOURCE_MANUAL);
    if (job->note != NULL)
        snprintf(e->detail, sizeof(e->detail), "%s", job->note);
}

static int add_in_txn(STORE *st, STORE_TXN *txn, void *ctx, SUP_ERR *err)
{
    struct entry_job *job = ctx;
    STORE_EVENT ev;

    if ((job->found = store_get_in(st, txn, job->tenant, job->address, &job->old, err)) < 0)
        return -1;
    job->active = job->found && entry_active(&job->old, job->ctl->now);
    build_added_entry(job);
    if (store_put_in(st, txn, job->tenant, &job->entry, err) < 0)
        return -1;
    fill_event(&ev, job, STORE_EV_ADD, job->reason);
    return store_event_add(st, txn, &ev, job->ctl->cfg->policy.timeline_max_events, err);
}

static void report_added(const struct entry_job *job)
{
    char t1[CTL_TIME_MAX], t2[CTL_TIME_MAX], scope[STORE_TENANT_MAX + 16];

    if (job->active)
        printf("%s was already suppressed%s (%s, expires %s); now %s, expires %s\n",
               job->address, scope_note(job, scope, sizeof(scope)),
               store_reason_name(job->old.reason),
               time_format_iso(job->old.expires, t1, sizeof(t1)),
               store_reason_name(job->reason), time_format_iso(job->expires, t2, sizeof(t2)));
    else
        printf("suppressed %s%s: %s, expires %s\n", job->address,
               scope_note(job, scope, sizeof(scope)),
               store_reason_name(job->reason), time_format_iso(job->expires, t1, sizeof(t1)));
}

/* --ttl: a duration longer than zero, or never. */
static int parse_ttl(const char *text, long *ttl, SUP_ERR *err)
{
    if (duration_parse(text, ttl, err) < 0) {
        sup_err_prefix(err, "--ttl \"%s\"", text);
        return -1;
    }
    if (*ttl == 0)
        return sup_err_set(err, SUP_ERR_INPUT,
                           "--ttl \"%s\": a suppression must last longer than 0 (or \"never\")",
                           text);
    return 0;
}

int cmd_add(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"reason", required_argument, NULL, 'r'},
        {"ttl", required_argument, NULL, 't'},
        {"note", required_argument, NULL, 'n'},
        {"tenant", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct entry_job job = {.ctl = ctl, .reason = STORE_REASON_MANUAL};
    const char *reason_text = NULL, *ttl_text = NULL;
    STORE *st = NULL;
    SUP_ERR err;
    long ttl;
    int ch, status;

    sup_err_clear(&err);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":r:t:n:T:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'T':
            job.tenant = optarg;
            break;
        case 'r':
            reason_text = optarg;
            break;
        case 't':
            ttl_text = optarg;
            break;
        case 'n':
            job.note = optarg;
            break;
        case 'h':
            printf("usage: %s add ADDRESS [--reason R] [--ttl D] [--note TEXT] [--tenant T]\n",
                   ctl->progname);
            return EX_OK;
        default:
            return ctl_option_error(ctl, "add", ch, argv);
        }
    }
    if (argc - optind != 1)
        return ctl_usage_error(ctl, "add", "expected one address");
    if (reason_text != NULL && store_reason_parse(reason_text, &job.reason) < 0)
        return ctl_usage_error(ctl, "add", "unknown reason \"%s\" (hard-bounce, "
                               "soft-bounce-escalated, complaint, unsubscribe, manual)",
                               reason_text);
    if (ctl_normalize(argv[optind], job.address, sizeof(job.address), &err) < 0
        || check_note(job.note, &err) < 0
        || (job.tenant != NULL && ctl_tenant(job.tenant, &err) < 0))
        return ctl_fail(ctl, &err);
    if (ttl_text != NULL) {
        if (parse_ttl(ttl_text, &ttl, &err) < 0)
            return ctl_fail(ctl, &err);
    } else {
        ttl = ctl_reason_ttl(ctl->cfg, job.reason);
    }
    job.expires = ctl_expiry(ctl->now, ttl);

    if (ctl_store_open(ctl, true, &st, &err) < 0)
        return ctl_fail(ctl, &err);
    if (ctl_txn_run(st, add_in_txn, &job, &err) < 0) {
        sup_err_prefix(&err, "add %s", job.address);
        status = ctl_fail(ctl, &err);
    } else {
        report_added(&job);
        status = EX_OK;
    }
    if (store_close(st, &err) < 0 && status == EX_OK)
        status = ctl_fail(ctl, &err);
    return status;
}

static int remove_in_txn(STORE *st, STORE_TXN *txn, void *ctx, SUP_ERR *err)
{
    struct entry_job *job = ctx;
    STORE_EVENT ev;

    if ((job->found = store_get_in(st, txn, job->tenant, job->address, &job->old, err)) < 0)
        return -1;
    job->active = job->found && entry_active(&job->old, job->ctl->now);
    /* An expired entry no longer blocks anything; purge records its end. */
    if (!job->active)
        return 0;
    if (store_delete_in(st, txn, job->tenant, job->address, err) < 0)
        return -1;
    fill_event(&ev, job, STORE_EV_UNBLOCK, job->old.reason);
    return store_event_add(st, txn, &ev, job->ctl->cfg->policy.timeline_max_events, err);
}

int cmd_remove(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"note", required_argument, NULL, 'n'},
        {"tenant", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct entry_job job = {.ctl = ctl};
    char t1[CTL_TIME_MAX], t2[CTL_TIME_MAX], scope[STORE_TENANT_MAX + 16];
    STORE *st = NULL;
    SUP_ERR err;
    int ch, status;

    sup_err_clear(&err);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":n:T:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            job.note = optarg;
            break;
        case 'T':
            job.tenant = optarg;
            break;
        case 'h':
            printf("usage: %s %s ADDRESS [--note TEXT] [--tenant T]\n", ctl->progname, argv[0]);
            return EX_OK;
        default:
            return ctl_option_error(ctl, argv[0], ch, argv);
        }
    }
    if (argc - optind != 1)
        return ctl_usage_error(ctl, argv[0], "expected one address");
    if (ctl_normalize(argv[optind], job.address, sizeof(job.address), &err) < 0
        || check_note(job.note, &err) < 0
        || (job.tenant != NULL && ctl_tenant(job.tenant, &err) < 0))
        return ctl_fail(ctl, &err);

    if (ctl_store_open(ctl, true, &st, &err) < 0)
        return ctl_fail(ctl, &err);
    if (ctl_txn_run(st, remove_in_txn, &job, &err) < 0) {
        sup_err_prefix(&err, "%s %s", argv[0], job.address);
        status = ctl_fail(ctl, &err);
    } else if (!job.active) {
        if (job.found)
            fprintf(stderr, "%s: %s is not suppressed%s (%s expired at %s)\n", ctl->progname,
                    job.address, scope_note(&job, scope, sizeof(scope)),
                    store_reason_name(job.old.reason),
                    time_format_iso(job.old.expires, t1, sizeof(t1)));
        else
            fprintf(stderr, "%s: %s is not suppressed%s\n", ctl->progname, job.address,
                    scope_note(&job, scope, sizeof(scope)));
        status = CTL_EXIT_NOT_SUPPRESSED;
    } else {
        printf("unblocked %s%s (was %s since %s, expires %s)\n", job.address,
               scope_note(&job, scope, sizeof(scope)),
               store_reason_name(job.old.reason),
               time_format_iso(job.old.first_event, t1, sizeof(t1)),
               time_format_iso(job.old.expires, t2, sizeof(t2)));
        status = EX_OK;
    }
    if (store_close(st, &err) < 0 && status == EX_OK)
        status = ctl_fail(ctl, &err);
    return status;
}
