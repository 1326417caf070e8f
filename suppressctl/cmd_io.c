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
 * and never half a batch.
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
#include "json.h"
#include "jsonl.h"

#include <glib.h>

#define IMPORT_BATCH 1000

/* The columns import knows; export writes all but ttl and note. */
enum column {
    COL_ADDRESS, COL_REASON, COL_EXPIRES, COL_FIRST_EVENT, COL_LAST_EVENT,
    COL_COUNT, COL_SOURCE, COL_DETAIL, COL_STATUS, COL_TENANT, COL_TTL, COL_NOTE,
    NCOLUMNS
};

static const char *const column_names[NCOLUMNS] = {
    "address", "reason", "expires", "first_event", "last_event",
    "count", "source", "detail", "status", "tenant", "ttl", "note",
};

/* The export columns: the first COL_TTL of the list above (tenant only
 * when the store has tenants). */
#define NEXPORT_COLUMNS COL_TTL

/* One input row before conversion: a value per column; NULL = no such
 * column (or key); "" = given but empty (or null). */
struct row_values {
    const char *value[NCOLUMNS];
};

/* One converted row, ready for the store. */
struct import_row {
    STORE_ENTRY entry;          /* entry.tenant: the scope, "" global */
    char note[STORE_DETAIL_MAX];
    long line;
    bool has_first_event;
    bool has_count;
    bool has_status;
};

struct import_job {
    const struct ctl *ctl;
    const char *name;           /* the file as named in messages */
    const char *tenant;         /* --tenant: of the rows that name none; NULL: global */
    STORE *st;
    struct import_row *batch;
    size_t nbatch;
    unsigned long imported;
    unsigned long skipped;
    unsigned long already;      /* rows an earlier run of this input committed */
    char key_prefix[80];        /* "import:SHA256:", "" with --again */
    bool batch_was_done;        /* the batch's key was there (set in its txn) */
};

static int column_by_name(const char *name)
{
    int i;

    for (i = 0; i < NCOLUMNS; i++)
        if (strcmp(column_names[i], name) == 0)
            return i;
    return -1;
}

static const char *column_list(void)
{
    return "address, reason, ttl, expires, note, first_event, last_event, count, "
           "source, detail, status, tenant";
}

/* ----- converting one row ----- */

static int copy_field(char *dst, size_t dstlen, const char *value, const char *column,
                      SUP_ERR *err)
{
    if (strlen(value) >= dstlen)
        return sup_err_set(err, SUP_ERR_INPUT, "%s \"%s\" is longer than %zu bytes",
                           column, value, dstlen - 1);
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

static bool given(const char *value)
{
    return value != NULL && *value != '\0';
}

/* When the row's suppression ends: expires (empty = never) or ttl from
 * now, else the policy length for the reason. */
static int row_expiry(const struct import_job *job, const struct row_values *v,
                      struct import_row *row, SUP_ERR *err)
{
    const char *expires = v->value[COL_EXPIRES], *ttl_text = v->value[COL_TTL];
    long ttl;

    if (given(expires) && given(ttl_text))
        return sup_err_set(err, SUP_ERR_INPUT, "both ttl and expires given; use one");
    if (given(ttl_text)) {
        if (duration_parse(ttl_text, &ttl, err) < 0) {
            sup_err_prefix(err, "ttl");
            return -1;
        }
        if (ttl == 0)
            return sup_err_set(err, SUP_ERR_INPUT, "ttl \"%s\": must be longer than 0 (or never)",
                               ttl_text);
        row->entry.expires = ctl_expiry(job->ctl->now, ttl);
    } else if (expires != NULL) {
        row->entry.expires = 0;
        if (*expires != '\0' && ctl_time_parse(expires, &row->entry.expires, err) < 0) {
            sup_err_prefix(err, "expires");
            return -1;
        }
    } else {
        row->entry.expires = ctl_expiry(job->ctl->now, ctl_reason_ttl(job->ctl->cfg,
                                                                       row->entry.reason));
    }
    return 0;
}

static int row_time(const char *value, const char *column, time_t dflt, time_t *out,
                    SUP_ERR *err)
{
    if (!given(value)) {
        *out = dflt;
        return 0;
    }
    if (ctl_time_parse(value, out, err) < 0) {
        sup_err_prefix(err, "%s", column);
        return -1;
    }
    return 0;
}

static int row_count(const char *value, uint32_t *count, SUP_ERR *err)
{
    unsigned long long v;
    char *end;

    errno = 0;
    v = strtoull(value, &end, 10);
    if (*value == '-' || *end != '\0' || errno != 0 || v > UINT32_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "count \"%s\": not a number", value);
    *count = v > 0 ? (uint32_t) v : 1;
    return 0;
}

/* Everything in the row but the address, which the caller has set. */
static int row_fields(const struct import_job *job, const struct row_values *v,
                      struct import_row *row, SUP_ERR *err)
{
    STORE_ENTRY *e = &row->entry;
    const char *reason = v->value[COL_REASON];

    e->reason = STORE_REASON_MANUAL;
    if (given(reason) && store_reason_parse(reason, &e->reason) < 0)
        return sup_err_set(err, SUP_ERR_INPUT, "unknown reason \"%s\"", reason);
    if (row_expiry(job, v, row, err) < 0)
        return -1;
    if (row_time(v->value[COL_FIRST_EVENT], "first_event", job->ctl->now, &e->first_event, err) < 0
        || row_time(v->value[COL_LAST_EVENT], "last_event", job->ctl->now, &e->last_event, err) < 0)
        return -1;
    row->has_first_event = given(v->value[COL_FIRST_EVENT]);
    e->count = 1;
    row->has_count = given(v->value[COL_COUNT]);
    if (row->has_count && row_count(v->value[COL_COUNT], &e->count, err) < 0)
        return -1;
    if (copy_field(e->source, sizeof(e->source),
                   given(v->value[COL_SOURCE]) ? v->value[COL_SOURCE] : CTL_SOURCE_IMPORT,
                   "source", err) < 0)
        return -1;
    row->has_status = given(v->value[COL_STATUS]);
    if (row->has_status && copy_field(e->status, sizeof(e->status), v->value[COL_STATUS],
                                      "status", err) < 0)
        return -1;
    if (given(v->value[COL_NOTE])
        && copy_field(row->note, sizeof(row->note), v->value[COL_NOTE], "note", err) < 0)
        return -1;
    /* The detail column is what export wrote; a note stands in for it. */
    if (copy_field(e->detail, sizeof(e->detail),
                   given(v->value[COL_DETAIL]) ? v->value[COL_DETAIL] : row->note,
                   "detail", err) < 0)
        return -1;
    if (given(v->value[COL_TENANT])) {
        if (store_tenant_check(v->value[COL_TENANT], err) < 0)
            return -1;
        snprintf(e->tenant, sizeof(e->tenant), "%s", v->value[COL_TENANT]);
    } else if (job->tenant != NULL) {
        snprintf(e->tenant, sizeof(e->tenant), "%s", job->tenant);
    }
    return 0;
}

static int row_convert(const struct import_job *job, const struct row_values *v, long line,
                       struct import_row *row, SUP_ERR *err)
{
    const char *address = v->value[COL_ADDRESS];

    memset(row, 0, sizeof(*row));
    row->line = line;
    if (!given(address))
        return sup_err_set(err, SUP_ERR_INPUT, "%s:%ld: no address", job->name, line);
    if (ctl_normalize(address, row->entry.address, sizeof(row->entry.address), err) < 0) {
        sup_err_prefix(err, "%s:%ld", job->name, line);
        return -1;
    }
    if (row_fields(job, v, row, err) < 0) {
        sup_err_prefix(err, "%s:%ld: address \"%s\"", job->name, line, address);
        return -1;
    }
    return 0;
}

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

/* Take one row's values: convert it into the batch (a bad row is reported
 * and skipped) and write the batch when it is full.  -1 only on a store
 * error, which ends the import. */
static int import_values(struct import_job *job, const struct row_values *v, long line,
                         SUP_ERR *err)
{
    SUP_ERR row_err;

    sup_err_clear(&row_err);
    if (row_convert(job, v, line, &job->batch[job->nbatch], &row_err) < 0) {
        fprintf(stderr, "%s: %s\n", job->ctl->progname, row_err.text);
        job->skipped++;
        return 0;
    }
    if (++job->nbatch == IMPORT_BATCH)
        return flush_batch(job, err);
    return 0;
}

static void report_bad_row(struct import_job *job, long line, const char *text)
{
    fprintf(stderr, "%s: %s:%ld: %s\n", job->ctl->progname, job->name, line, text);
    job->skipped++;
}

/* ----- the two input formats ----- */

static char *trim(char *s)
{
    char *end;

    while (*s == ' ' || *s == '\t')
        s++;
    end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
    return s;
}

static bool all_blank(const CSV_READER *r)
{
    size_t i;

    for (i = 0; i < csv_field_count(r); i++)
        if (*trim(csv_field(r, i)) != '\0')
            return false;
    return true;
}

/* The header row: which column each field is.  Errors here end the import. */
static int csv_header(struct import_job *job, CSV_READER *r, int *map, size_t *nmap,
                      SUP_ERR *err)
{
    bool seen[NCOLUMNS] = {false};
    size_t i;
    char name[64], *p;
    int col, rc;

    if ((rc = csv_read(r, err)) <= 0) {
        if (rc == 0)
            return sup_err_set(err, SUP_ERR_INPUT, "%s: no header row", job->name);
        sup_err_prefix(err, "%s:%ld: header", job->name, csv_record_line(r));
        return -1;
    }
    *nmap = csv_field_count(r);
    for (i = 0; i < *nmap; i++) {
        /* Past NCOLUMNS a column must repeat or be unknown: stopped below. */
        snprintf(name, sizeof(name), "%s", csv_field(r, i));
        for (p = name; *p != '\0'; p++)
            *p = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        p = trim(name);
        if ((col = column_by_name(p)) < 0)
            return sup_err_set(err, SUP_ERR_INPUT, "%s:%ld: unknown column \"%s\" (known: %s)",
                               job->name, csv_record_line(r), csv_field(r, i), column_list());
        if (seen[col])
            return sup_err_set(err, SUP_ERR_INPUT, "%s:%ld: column \"%s\" given twice",
                               job->name, csv_record_line(r), p);
        seen[col] = true;
        map[i] = col;
    }
    if (!seen[COL_ADDRESS])
        return sup_err_set(err, SUP_ERR_INPUT, "%s:%ld: no \"address\" column in the header",
                           job->name, csv_record_line(r));
    return 0;
}

static int import_csv(struct import_job *job, FILE *fp, long first_line, SUP_ERR *err)
{
    int map[NCOLUMNS];
    struct row_values v;
    CSV_READER *r;
    size_t nmap = 0, i, nfields;
    SUP_ERR row_err;
    char text[96];
    int rc;

    if ((r = csv_reader_new(fp, first_line)) == NULL)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "out of memory");
    if ((rc = csv_header(job, r, map, &nmap, err)) == 0) {
        for (;;) {
            sup_err_clear(&row_err);
            if ((rc = csv_read(r, &row_err)) == 0)
                break;
            if (rc < 0) {
                if (row_err.cls != SUP_ERR_INPUT) {
                    *err = row_err;
                    sup_err_prefix(err, "%s:%ld", job->name, csv_record_line(r));
                    break;
                }
                report_bad_row(job, csv_record_line(r), row_err.text);
                rc = 0;
                continue;
            }
            nfields = csv_field_count(r);
            if (all_blank(r))
                continue;       /* spreadsheets end with rows of empty cells */
            if (nfields != nmap) {
                snprintf(text, sizeof(text), "%zu fields, the header has %zu", nfields, nmap);
                report_bad_row(job, csv_record_line(r), text);
                continue;
            }
            memset(&v, 0, sizeof(v));
            for (i = 0; i < nfields; i++)
                v.value[map[i]] = trim(csv_field(r, i));
            if ((rc = import_values(job, &v, csv_record_line(r), err)) < 0)
                break;
        }
    }
    csv_reader_free(r);
    return rc < 0 ? -1 : 0;
}

/* A JSON value as a column value: strings and numbers as text, null as
 * empty; true/false fit no column. */
static int json_values(const JSONL_OBJECT *obj, struct row_values *v, SUP_ERR *err)
{
    size_t i;
    int col;

    memset(v, 0, sizeof(*v));
    for (i = 0; i < obj->count; i++) {
        const struct jsonl_member *m = &obj->members[i];

        if ((col = column_by_name(m->key)) < 0)
            return sup_err_set(err, SUP_ERR_INPUT, "unknown key \"%s\" (known: %s)",
                               m->key, column_list());
        if (m->type == JSONL_BOOL)
            return sup_err_set(err, SUP_ERR_INPUT, "key \"%s\": true/false is not a value "
                               "for it", m->key);
        v->value[col] = m->value != NULL ? m->value : "";
    }
    return 0;
}

static int import_jsonl(struct import_job *job, FILE *fp, long first_line, SUP_ERR *err)
{
    JSONL_OBJECT obj = {0};
    struct row_values v;
    char *line = NULL;
    size_t size = 0;
    ssize_t len;
    long lineno = first_line - 1;
    SUP_ERR row_err;
    int rc = 0;

    while ((len = getline(&line, &size, fp)) >= 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t) len)
            continue;
        if (memchr(line, '\0', (size_t) len) != NULL) {
            report_bad_row(job, lineno, "NUL byte in the input");
            continue;
        }
        sup_err_clear(&row_err);
        if (jsonl_parse(line, &obj, &row_err) < 0 || json_values(&obj, &v, &row_err) < 0) {
            report_bad_row(job, lineno, row_err.text);
            continue;
        }
        if ((rc = import_values(job, &v, lineno, err)) < 0)
            break;
    }
    if (rc == 0 && ferror(fp))
        rc = sup_err_set(err, SUP_ERR_IO, "%s: line %ld: read error: %s", job->name, lineno + 1,
                         strerror(errno));
    jsonl_free(&obj);
    free(line);
    return rc;
}

/*
 * Skip a byte order mark and leading blank lines, and tell the format by
 * the first character: '{' is JSON lines, anything else CSV.  Returns that
 * character (pushed back), EOF for an empty input; *line is where it is.
 */
static int sniff_format(FILE *fp, long *line)
{
    int c;

    *line = 1;
    if ((c = getc(fp)) == 0xEF) {
        if (getc(fp) != 0xBB || getc(fp) != 0xBF)
            return '?';         /* not UTF-8 text: let the CSV reader say where */
        c = getc(fp);
    }
    for (; c == ' ' || c == '\t' || c == '\r' || c == '\n'; c = getc(fp))
        if (c == '\n')
            (*line)++;
    if (c != EOF)
        ungetc(c, fp);
    return c;
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
            job.tenant = optarg;
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
        job.name = "stdin";
    } else if ((fp = fopen(path, "r")) == NULL) {
        sup_err_set(&err, errno == ENOENT ? SUP_ERR_NOTFOUND
                    : errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                    "cannot open %s: %s", path, strerror(errno));
        return ctl_fail(ctl, &err);
    } else {
        job.name = path;
    }

    status = EX_OK;
    input = fp;
    if ((job.batch = malloc(IMPORT_BATCH * sizeof(*job.batch))) == NULL) {
        sup_err_set(&err, SUP_ERR_SOFTWARE, "out of memory");
        status = ctl_fail(ctl, &err);
    } else if (!again && input_identity(&input, &job, &err) < 0) {
        status = ctl_fail(ctl, &err);
    } else if ((c = sniff_format(input, &first_line)) != EOF) {
        if (ctl_store_open(ctl, true, &job.st, &err) < 0) {
            status = ctl_fail(ctl, &err);
        } else {
            rc = c == '{' ? import_jsonl(&job, input, first_line, &err)
                : import_csv(&job, input, first_line, &err);
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
    if (status == EX_OK || job.imported > 0 || job.skipped > 0)
        printf("imported %lu, skipped %lu\n", job.imported, job.skipped);
    if (job.already > 0)
        printf("%lu rows were imported from this same input before (an interrupted or"
               " earlier run), left as they are; --again imports them again\n", job.already);
    if (status == EX_OK && job.skipped > 0)
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
                printf("%s%s", i ? "," : "", column_names[i]);
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
