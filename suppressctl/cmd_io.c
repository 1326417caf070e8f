/*
 * cmd_io.c: moving suppression lists in and out of the store in bulk:
 *
 *   suppressctl import [--tenant T] FILE|-     CSV with a header row, or JSON lines
 *   suppressctl export [--tenant T] [--all] [--json]
 *
 * What export writes, import reads back (the same columns), so a list can
 * be moved between hosts or kept under version control.  Import checks
 * every row, reports each bad one as FILE:LINE with what is wrong, and
 * imports the rest: in transactions of IMPORT_BATCH rows, each retried
 * whole when the store reports a deadlock, so a large list goes in fast
 * and never half a batch.  Reading and checking the rows is
 * import_rows.c's; this file writes them.
 *
 * An import killed half-way (or stopped by a store error) is run again as
 * it was: each batch is remembered in the store, in its own transaction,
 * as "import:SHA256:LINE" (the input's SHA-256 and the batch's first
 * line, a key of the seen database, purged after ingest.seen-retention),
 * so the batches of the same input already committed are passed over and
 * the end state is that of one import.  --again imports them anyway.
 *
 * Tenants (store.h): a row's tenant column (empty: the global scope) says
 * which scope it goes to; import --tenant T is the tenant of rows that
 * give none.  Export writes the tenant column only when the store has a
 * tenant's entry, so a store without tenants exports as it always did.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "addr.h"
#include "csv.h"
#include "ctl.h"
#include "duration.h"
#include "import_rows.h"
#include "json.h"

#include <glib.h>

#define IMPORT_BATCH 1000

struct import_job {
    const struct ctl *ctl;
    const char *name;           /* the file as named in messages */
    const char *tenant;         /* --tenant: of the rows that name none; NULL: global */
    STORE *st;
    struct import_row *batch;
    size_t nbatch;
    unsigned long imported;
    unsigned long already;      /* rows an earlier run of this input committed */
    char key_prefix[80];        /* "import:SHA256:", "" with --again */
    bool batch_was_done;        /* the batch's key was there (set in its txn) */
};

/* ----- writing a batch ----- */

/*
 * An address already in the store keeps what the row does not say: when
 * it was first suppressed, how often, and the last remote response.
 */
static void merge_existing(const STORE_ENTRY *old, bool old_active, const struct import_row *row,
                           STORE_ENTRY *e)
{
    if (!row->has_first_event)
        e->first_event = old->first_event;
    if (!row->has_count)
        e->count = old_active ? old->count + 1 : 1;
    if (!row->has_status)
        memcpy(e->status, old->status, sizeof(e->status));
    memcpy(e->response, old->response, sizeof(e->response));
}

static int import_one(struct import_job *job, STORE_TXN *txn, const struct import_row *row,
                      STORE_ENTRY *scratch, SUP_ERR *err)
{
    STORE_EVENT ev;
    int found;

    const char *scope = row->entry.tenant;

    if ((found = store_get_in(job->st, txn, scope, row->entry.address, scratch, err)) < 0)
        return -1;
    if (found) {
        bool active = scratch->expires == 0 || scratch->expires > job->ctl->now;
        STORE_ENTRY old = *scratch;

        *scratch = row->entry;
        merge_existing(&old, active, row, scratch);
    } else {
        *scratch = row->entry;
    }
    if (store_put_in(job->st, txn, scope, scratch, err) < 0)
        return -1;

    memset(&ev, 0, sizeof(ev));
    memcpy(ev.address, row->entry.address, sizeof(ev.address));
    memcpy(ev.tenant, scope, sizeof(ev.tenant));
    ev.when = job->ctl->now;
    ev.type = STORE_EV_ADD;
    snprintf(ev.reason, sizeof(ev.reason), "%s", store_reason_name(row->entry.reason));
    snprintf(ev.actor, sizeof(ev.actor), "%s", job->ctl->actor);
    if (row->note[0] != '\0')
        snprintf(ev.detail, sizeof(ev.detail), "%s", row->note);
    else
        snprintf(ev.detail, sizeof(ev.detail), "import %.100s:%ld", job->name, row->line);
    return store_event_add(job->st, txn, &ev, job->ctl->cfg->policy.timeline_max_events, err);
}

static int import_batch_txn(STORE *st, STORE_TXN *txn, void *ctx, SUP_ERR *err)
{
    struct import_job *job = ctx;
    STORE_ENTRY *scratch;
    char key[sizeof(job->key_prefix) + 24];
    size_t i;
    int rc = 0;

    job->batch_was_done = false;
    if (job->key_prefix[0] != '\0') {
        snprintf(key, sizeof(key), "%s%ld", job->key_prefix, job->batch[0].line);
        if ((rc = store_seen(st, txn, key, err)) < 0)
            return -1;
        if (rc == 1) {
            job->batch_was_done = true;
            return 0;
        }
        if (store_mark_seen(st, txn, key, job->ctl->now, err) < 0)
            return -1;
        rc = 0;
    }
    if ((scratch = malloc(sizeof(*scratch))) == NULL)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "out of memory");
    for (i = 0; i < job->nbatch && rc == 0; i++) {
        if ((rc = import_one(job, txn, &job->batch[i], scratch, err)) < 0)
            sup_err_prefix(err, "%s:%ld: address %s", job->name, job->batch[i].line,
                           job->batch[i].entry.address);
    }
    free(scratch);
    return rc;
}

static int flush_batch(struct import_job *job, SUP_ERR *err)
{
    if (job->nbatch == 0)
        return 0;
    if (ctl_txn_run(job->st, import_batch_txn, job, err) < 0)
        return -1;
    if (job->batch_was_done)
        job->already += job->nbatch;
    else
        job->imported += job->nbatch;
    job->nbatch = 0;
    return 0;
}

/* A converted row from the reader (import_rows.c) into the batch; the
 * batch is written when it is full.  -1 only on a store error. */
static int take_row(void *ctx, const struct import_row *row, SUP_ERR *err)
{
    struct import_job *job = ctx;

    job->batch[job->nbatch] = *row;
    if (++job->nbatch == IMPORT_BATCH)
        return flush_batch(job, err);
    return 0;
}

/*
 * The key prefix of this input, "import:SHA256:".  Reads all of fp and
 * leaves it at its start: standard input is first copied to a temporary
 * file (*fp then is that file).
 */
static int input_identity(FILE **fp, struct import_job *job, SUP_ERR *err)
{
    GChecksum *sum = g_checksum_new(G_CHECKSUM_SHA256);
    FILE *copy = NULL;
    char buf[65536];
    size_t n;

    if (*fp == stdin && (copy = tmpfile()) == NULL) {
        g_checksum_free(sum);
        return sup_err_set(err, SUP_ERR_IO, "cannot make a temporary copy of stdin: %s",
                           strerror(errno));
    }
    while ((n = fread(buf, 1, sizeof(buf), *fp)) > 0) {
        g_checksum_update(sum, (const guchar *) buf, n);
        if (copy != NULL && fwrite(buf, 1, n, copy) != n)
            break;
    }
    if (ferror(*fp) || (copy != NULL && (ferror(copy) || fflush(copy) != 0))) {
        int e = errno;

        g_checksum_free(sum);
        if (copy != NULL)
            fclose(copy);
        return sup_err_set(err, SUP_ERR_IO, "%s: read error: %s", job->name, strerror(e));
    }
    snprintf(job->key_prefix, sizeof(job->key_prefix), "import:%s:", g_checksum_get_string(sum));
    g_checksum_free(sum);
    if (copy != NULL)
        *fp = copy;
    rewind(*fp);
    return 0;
}

int cmd_import(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"again", no_argument, NULL, 'a'},
        {"tenant", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct import_job job = {.ctl = ctl};
    IMPORT_READER reader = {.ctl = ctl, .diag = stderr, .take = take_row, .take_ctx = &job};
    bool again = false;
    const char *path;
    FILE *fp, *input;
    SUP_ERR err;
    long first_line;
    int ch, c, rc, status;

    sup_err_clear(&err);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":T:h", opts, NULL)) != -1) {
        if (ch == 'a') {
            again = true;
            continue;
        }
        if (ch == 'T') {
            if (ctl_tenant(optarg, &err) < 0)
                return ctl_fail(ctl, &err);
            job.tenant = reader.tenant = optarg;
            continue;
        }
        if (ch == 'h') {
            printf("usage: %s import [--again] [--tenant T] FILE|-\n", ctl->progname);
            return EX_OK;
        }
        return ctl_option_error(ctl, "import", ch, argv);
    }
    if (argc - optind != 1)
        return ctl_usage_error(ctl, "import", "expected one file (- for standard input)");
    path = argv[optind];
    if (strcmp(path, "-") == 0) {
        fp = stdin;
        job.name = reader.name = "stdin";
    } else if ((fp = fopen(path, "r")) == NULL) {
        sup_err_set(&err, errno == ENOENT ? SUP_ERR_NOTFOUND
                    : errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                    "cannot open %s: %s", path, strerror(errno));
        return ctl_fail(ctl, &err);
    } else {
        job.name = reader.name = path;
    }

    status = EX_OK;
    input = fp;
    if ((job.batch = malloc(IMPORT_BATCH * sizeof(*job.batch))) == NULL) {
        sup_err_set(&err, SUP_ERR_SOFTWARE, "out of memory");
        status = ctl_fail(ctl, &err);
    } else if (!again && input_identity(&input, &job, &err) < 0) {
        status = ctl_fail(ctl, &err);
    } else if ((c = import_sniff_format(input, &first_line)) != EOF) {
        if (ctl_store_open(ctl, true, &job.st, &err) < 0) {
            status = ctl_fail(ctl, &err);
        } else {
            rc = import_read_rows(&reader, input, c, first_line, &err);
            if (rc == 0)
                rc = flush_batch(&job, &err);
            if (rc < 0)
                status = ctl_fail(ctl, &err);
            if (store_close(job.st, &err) < 0 && status == EX_OK)
                status = ctl_fail(ctl, &err);
        }
    }
    if (input != fp)
        fclose(input);
    if (fp != stdin)
        fclose(fp);
    free(job.batch);
    if (status == EX_OK || job.imported > 0 || reader.skipped > 0)
        printf("imported %lu, skipped %lu\n", job.imported, reader.skipped);
    if (job.already > 0)
        printf("%lu rows were imported from this same input before (an interrupted or"
               " earlier run), left as they are; --again imports them again\n", job.already);
    if (status == EX_OK && reader.skipped > 0)
        status = EX_DATAERR;
    return status;
}

/* ----- export ----- */

struct export_job {
    time_t now;
    bool all;
    bool json;
    const char *tenant;         /* --tenant: that scope only */
    bool tenant_column;         /* the store has tenants: CSV gets the column */
    unsigned long count;
};

/* Is the first entry a tenant's?  Their scopes sort first. */
static int first_is_tenant(const STORE_ENTRY *e, void *ctx)
{
    *(bool *) ctx = e->tenant[0] != '\0';
    return 1;
}

static void export_csv_row(const STORE_ENTRY *e, bool tenant_column)
{
    char t[CTL_TIME_MAX];

    csv_write_field(stdout, e->address);
    putchar(',');
    csv_write_field(stdout, store_reason_name(e->reason));
    putchar(',');
    csv_write_field(stdout, e->expires ? time_format_iso(e->expires, t, sizeof(t)) : "");
    putchar(',');
    csv_write_field(stdout, e->first_event ? time_format_iso(e->first_event, t, sizeof(t)) : "");
    putchar(',');
    csv_write_field(stdout, e->last_event ? time_format_iso(e->last_event, t, sizeof(t)) : "");
    printf(",%lu,", (unsigned long) e->count);
    csv_write_field(stdout, e->source);
    putchar(',');
    csv_write_field(stdout, e->detail);
    putchar(',');
    csv_write_field(stdout, e->status);
    if (tenant_column) {
        putchar(',');
        csv_write_field(stdout, e->tenant);
    }
    putchar('\n');
}

static void export_json_row(const STORE_ENTRY *e)
{
    bool first = true;

    fputc('{', stdout);
    json_kv_str(stdout, &first, "address", e->address);
    json_kv_str(stdout, &first, "reason", store_reason_name(e->reason));
    ctl_json_time(stdout, &first, "expires", e->expires);
    ctl_json_time(stdout, &first, "first_event", e->first_event);
    ctl_json_time(stdout, &first, "last_event", e->last_event);
    json_kv_int(stdout, &first, "count", (long long) e->count);
    ctl_json_str(stdout, &first, "source", e->source);
    ctl_json_str(stdout, &first, "detail", e->detail);
    ctl_json_str(stdout, &first, "status", e->status);
    if (e->tenant[0] != '\0')
        json_kv_str(stdout, &first, "tenant", e->tenant);
    fputs("}\n", stdout);
}

static int export_entry(const STORE_ENTRY *e, void *ctx)
{
    struct export_job *job = ctx;

    if (job->tenant != NULL && strcmp(e->tenant, job->tenant) != 0)
        return e->tenant[0] == '\0' ? 2 : 0;      /* past the tenants' scopes */
    if (!job->all && e->expires != 0 && e->expires <= job->now)
        return 0;
    if (job->json)
        export_json_row(e);
    else
        export_csv_row(e, job->tenant_column);
    job->count++;
    /* A closed pipe or a full disk: stop rather than walk the whole store. */
    return ferror(stdout) ? 1 : 0;
}

int cmd_export(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"tenant", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct export_job job = {.now = ctl->now};
    STORE *st = NULL;
    SUP_ERR err;
    int ch, i, rc, status = EX_OK;

    sup_err_clear(&err);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":ajT:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'a':
            job.all = true;
            break;
        case 'j':
            job.json = true;
            break;
        case 'T':
            if (ctl_tenant(optarg, &err) < 0)
                return ctl_fail(ctl, &err);
            job.tenant = optarg;
            break;
        case 'h':
            printf("usage: %s export [--tenant T] [--all] [--json]\n", ctl->progname);
            return EX_OK;
        default:
            return ctl_option_error(ctl, "export", ch, argv);
        }
    }
    if (argc - optind != 0)
        return ctl_usage_error(ctl, "export", "unexpected argument \"%s\"", argv[optind]);

    if (ctl_store_open(ctl, false, &st, &err) < 0)
        return ctl_fail(ctl, &err);
    if (!job.json && store_iterate(st, first_is_tenant, &job.tenant_column, &err) < 0) {
        sup_err_prefix(&err, "export");
        store_close(st, NULL);
        return ctl_fail(ctl, &err);
    }
    if (!job.json) {
        for (i = 0; i < NEXPORT_COLUMNS; i++)
            if (i != COL_TENANT || job.tenant_column)
                printf("%s%s", i ? "," : "", import_columns[i]);
        putchar('\n');
    }
    if ((rc = store_iterate(st, export_entry, &job, &err)) < 0) {
        sup_err_prefix(&err, "export");
        status = ctl_fail(ctl, &err);
    }
    store_close(st, NULL);
    if (status == EX_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        sup_err_set(&err, SUP_ERR_IO, "export: writing the output: %s", strerror(errno));
        status = ctl_fail(ctl, &err);
    }
    return status;
}
