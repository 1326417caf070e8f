/*
 * import_rows.c: suppressctl import's reader (import_rows.h): the header
 * row or JSON keys name the columns, each row is checked and converted
 * (address normalized, reason known, times and counts parsed, the expiry
 * from ttl, expires or the policy) and handed to the caller.  The store
 * is the caller's (cmd_io.c).
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "addr.h"
#include "csv.h"
#include "ctl.h"
#include "duration.h"
#include "import_rows.h"
#include "jsonl.h"

const char *const import_columns[NCOLUMNS] = {
    "address", "reason", "expires", "first_event", "last_event",
    "count", "source", "detail", "status", "tenant", "ttl", "note",
};

/* One input row before conversion: a value per column; NULL = no such
 * column (or key); "" = given but empty (or null). */
struct row_values {
    const char *value[NCOLUMNS];
};

static int column_by_name(const char *name)
{
    int i;

    for (i = 0; i < NCOLUMNS; i++)
        if (strcmp(import_columns[i], name) == 0)
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
static int row_expiry(const IMPORT_READER *rd, const struct row_values *v,
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
        row->entry.expires = ctl_expiry(rd->ctl->now, ttl);
    } else if (expires != NULL) {
        row->entry.expires = 0;
        if (*expires != '\0' && ctl_time_parse(expires, &row->entry.expires, err) < 0) {
            sup_err_prefix(err, "expires");
            return -1;
        }
    } else {
        row->entry.expires = ctl_expiry(rd->ctl->now, ctl_reason_ttl(rd->ctl->cfg,
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
static int row_fields(const IMPORT_READER *rd, const struct row_values *v,
                      struct import_row *row, SUP_ERR *err)
{
    STORE_ENTRY *e = &row->entry;
    const char *reason = v->value[COL_REASON];

    e->reason = STORE_REASON_MANUAL;
    if (given(reason) && store_reason_parse(reason, &e->reason) < 0)
        return sup_err_set(err, SUP_ERR_INPUT, "unknown reason \"%s\"", reason);
    if (row_expiry(rd, v, row, err) < 0)
        return -1;
    if (row_time(v->value[COL_FIRST_EVENT], "first_event", rd->ctl->now, &e->first_event, err) < 0
        || row_time(v->value[COL_LAST_EVENT], "last_event", rd->ctl->now, &e->last_event, err) < 0)
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
    } else if (rd->tenant != NULL) {
        snprintf(e->tenant, sizeof(e->tenant), "%s", rd->tenant);
    }
    return 0;
}

static int row_convert(const IMPORT_READER *rd, const struct row_values *v, long line,
                       struct import_row *row, SUP_ERR *err)
{
    const char *address = v->value[COL_ADDRESS];

    memset(row, 0, sizeof(*row));
    row->line = line;
    if (!given(address))
        return sup_err_set(err, SUP_ERR_INPUT, "%s:%ld: no address", rd->name, line);
    if (ctl_normalize(address, row->entry.address, sizeof(row->entry.address), err) < 0) {
        sup_err_prefix(err, "%s:%ld", rd->name, line);
        return -1;
    }
    if (row_fields(rd, v, row, err) < 0) {
        sup_err_prefix(err, "%s:%ld: address \"%s\"", rd->name, line, address);
        return -1;
    }
    return 0;
}

/* Take one row's values: convert it and hand it to the caller (a bad
 * row is reported and skipped).  -1 only when the caller's take()
 * fails (a store error), which ends the import. */
static int import_values(IMPORT_READER *rd, const struct row_values *v, long line,
                         SUP_ERR *err)
{
    struct import_row row;
    SUP_ERR row_err;

    sup_err_clear(&row_err);
    if (row_convert(rd, v, line, &row, &row_err) < 0) {
        fprintf(rd->diag, "%s: %s\n", rd->ctl->progname, row_err.text);
        rd->skipped++;
        return 0;
    }
    return rd->take(rd->take_ctx, &row, err);
}

static void report_bad_row(IMPORT_READER *rd, long line, const char *text)
{
    fprintf(rd->diag, "%s: %s:%ld: %s\n", rd->ctl->progname, rd->name, line, text);
    rd->skipped++;
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
static int csv_header(IMPORT_READER *rd, CSV_READER *r, int *map, size_t *nmap,
                      SUP_ERR *err)
{
    bool seen[NCOLUMNS] = {false};
    size_t i;
    char name[64], *p;
    int col, rc;

    if ((rc = csv_read(r, err)) <= 0) {
        if (rc == 0)
            return sup_err_set(err, SUP_ERR_INPUT, "%s: no header row", rd->name);
        sup_err_prefix(err, "%s:%ld: header", rd->name, csv_record_line(r));
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
                               rd->name, csv_record_line(r), csv_field(r, i), column_list());
        if (seen[col])
            return sup_err_set(err, SUP_ERR_INPUT, "%s:%ld: column \"%s\" given twice",
                               rd->name, csv_record_line(r), p);
        seen[col] = true;
        map[i] = col;
    }
    if (!seen[COL_ADDRESS])
        return sup_err_set(err, SUP_ERR_INPUT, "%s:%ld: no \"address\" column in the header",
                           rd->name, csv_record_line(r));
    return 0;
}

static int import_csv(IMPORT_READER *rd, FILE *fp, long first_line, SUP_ERR *err)
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
    if ((rc = csv_header(rd, r, map, &nmap, err)) == 0) {
        for (;;) {
            sup_err_clear(&row_err);
            if ((rc = csv_read(r, &row_err)) == 0)
                break;
            if (rc < 0) {
                if (row_err.cls != SUP_ERR_INPUT) {
                    *err = row_err;
                    sup_err_prefix(err, "%s:%ld", rd->name, csv_record_line(r));
                    break;
                }
                report_bad_row(rd, csv_record_line(r), row_err.text);
                rc = 0;
                continue;
            }
            nfields = csv_field_count(r);
            if (all_blank(r))
                continue;       /* spreadsheets end with rows of empty cells */
            if (nfields != nmap) {
                snprintf(text, sizeof(text), "%zu fields, the header has %zu", nfields, nmap);
                report_bad_row(rd, csv_record_line(r), text);
                continue;
            }
            memset(&v, 0, sizeof(v));
            for (i = 0; i < nfields; i++)
                v.value[map[i]] = trim(csv_field(r, i));
            if ((rc = import_values(rd, &v, csv_record_line(r), err)) < 0)
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

static int import_jsonl(IMPORT_READER *rd, FILE *fp, long first_line, SUP_ERR *err)
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
            report_bad_row(rd, lineno, "NUL byte in the input");
            continue;
        }
        sup_err_clear(&row_err);
        if (jsonl_parse(line, &obj, &row_err) < 0 || json_values(&obj, &v, &row_err) < 0) {
            report_bad_row(rd, lineno, row_err.text);
            continue;
        }
        if ((rc = import_values(rd, &v, lineno, err)) < 0)
            break;
    }
    if (rc == 0 && ferror(fp))
        rc = sup_err_set(err, SUP_ERR_IO, "%s: line %ld: read error: %s", rd->name, lineno + 1,
                         strerror(errno));
    jsonl_free(&obj);
    free(line);
    return rc;
}

/* The format by the first character (import_rows.h). */
int import_sniff_format(FILE *fp, long *line)
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

int import_read_rows(IMPORT_READER *rd, FILE *fp, int first, long first_line, SUP_ERR *err)
{
    return first == '{' ? import_jsonl(rd, fp, first_line, err) : import_csv(rd, fp, first_line, err);
}
