/*
 * csv.c: an RFC 4180 CSV reader and field writer (see csv.h), used by
 * suppressctl import and export.
 *
 * The reader is a small state machine over getc(): the fields of a record
 * are collected NUL-separated in one growing buffer, so a record costs no
 * allocation once the buffer has grown to the longest record.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"

struct csv_reader {
    FILE *fp;
    long line;                  /* line of the next character */
    long record_line;           /* line the last record started on */
    char *buf;                  /* fields, NUL-separated */
    size_t len;
    size_t size;
    size_t *offsets;            /* start of each field in buf */
    size_t nfields;
    size_t fields_alloc;
};

enum csv_state {
    CSV_FIELD_START,            /* at the start of a field */
    CSV_UNQUOTED,               /* inside an unquoted field */
    CSV_QUOTED,                 /* inside a quoted field */
    CSV_QUOTE_SEEN,             /* a quote inside a quoted field: end or doubled */
};

CSV_READER *csv_reader_new(FILE *fp, long first_line)
{
    CSV_READER *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->fp = fp;
    r->line = first_line;
    return r;
}

void csv_reader_free(CSV_READER *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r->offsets);
    free(r);
}

size_t csv_field_count(const CSV_READER *r)
{
    return r->nfields;
}

char *csv_field(const CSV_READER *r, size_t i)
{
    return i < r->nfields ? r->buf + r->offsets[i] : NULL;
}

long csv_record_line(const CSV_READER *r)
{
    return r->record_line;
}

static int put_char(CSV_READER *r, char c)
{
    char *grown;
    size_t size;

    if (r->len + 1 >= r->size) {
        size = r->size ? r->size * 2 : 1024;
        if ((grown = realloc(r->buf, size)) == NULL)
            return -1;
        r->buf = grown;
        r->size = size;
    }
    r->buf[r->len++] = c;
    return 0;
}

static int start_field(CSV_READER *r)
{
    size_t *grown;
    size_t alloc;

    if (r->nfields == r->fields_alloc) {
        alloc = r->fields_alloc ? r->fields_alloc * 2 : 16;
        if ((grown = realloc(r->offsets, alloc * sizeof(*grown))) == NULL)
            return -1;
        r->offsets = grown;
        r->fields_alloc = alloc;
    }
    r->offsets[r->nfields++] = r->len;
    return 0;
}

static int end_field(CSV_READER *r)
{
    return put_char(r, '\0');
}

/* Drop the rest of a bad record's line so reading resumes on the next one. */
static void skip_line(CSV_READER *r, int c)
{
    while (c != '\n' && c != EOF)
        c = getc(r->fp);
    if (c == '\n')
        r->line++;
}

/* CR LF and a lone CR end a record like LF does. */
static void eat_lf_after_cr(CSV_READER *r, int c)
{
    int next;

    if (c == '\r' && (next = getc(r->fp)) != '\n' && next != EOF)
        ungetc(next, r->fp);
    r->line++;
}

/* Report the bad record at the line where it went wrong and skip that line. */
static int bad_record(CSV_READER *r, int c, SUP_ERR *err, const char *what)
{
    r->record_line = r->line;
    skip_line(r, c);
    return sup_err_set(err, SUP_ERR_INPUT, "field %zu: %s", r->nfields, what);
}

int csv_read(CSV_READER *r, SUP_ERR *err)
{
    enum csv_state state = CSV_FIELD_START;
    int c;

    r->len = 0;
    r->nfields = 0;
    r->record_line = r->line;
    for (;;) {
        c = getc(r->fp);
        if (c == '\0')
            return bad_record(r, c, err, "NUL byte in the input");
        if (r->len >= CSV_RECORD_MAX)
            return bad_record(r, c, err, "record too long");
        switch (state) {
        case CSV_FIELD_START:
            if (c == EOF || c == '\n' || c == '\r') {
                if (r->nfields > 0) {       /* after a comma: a last, empty field */
                    if (start_field(r) < 0 || end_field(r) < 0)
                        goto nomem;
                } else if (c != EOF) {      /* a blank line: not a record */
                    eat_lf_after_cr(r, c);
                    r->record_line = r->line;
                    continue;
                }
                goto end_record;
            }
            if (start_field(r) < 0)
                goto nomem;
            if (c == '"') {
                state = CSV_QUOTED;
            } else if (c == ',') {
                if (end_field(r) < 0)
                    goto nomem;
            } else {
                if (put_char(r, (char) c) < 0)
                    goto nomem;
                state = CSV_UNQUOTED;
            }
            break;
        case CSV_UNQUOTED:
            if (c == EOF || c == '\n' || c == '\r') {
                if (end_field(r) < 0)
                    goto nomem;
                goto end_record;
            }
            if (c == ',') {
                if (end_field(r) < 0)
                    goto nomem;
                state = CSV_FIELD_START;
            } else if (c == '"') {
                return bad_record(r, c, err, "a quote inside an unquoted field "
                                  "(quote the whole field and double the quote)");
            } else if (put_char(r, (char) c) < 0) {
                goto nomem;
            }
            break;
        case CSV_QUOTED:
            if (c == EOF) {
                return sup_err_set(err, SUP_ERR_INPUT, "field %zu: "
                                   "quote opened here never closed before the end of the input",
                                   r->nfields);
            }
            if (c == '"') {
                state = CSV_QUOTE_SEEN;
                break;
            }
            if (c == '\n')
                r->line++;
            if (put_char(r, (char) c) < 0)
                goto nomem;
            break;
        case CSV_QUOTE_SEEN:
            if (c == '"') {
                if (put_char(r, '"') < 0)
                    goto nomem;
                state = CSV_QUOTED;
            } else if (c == ',') {
                if (end_field(r) < 0)
                    goto nomem;
                state = CSV_FIELD_START;
            } else if (c == EOF || c == '\n' || c == '\r') {
                if (end_field(r) < 0)
                    goto nomem;
                goto end_record;
            } else {
                return bad_record(r, c, err, "text after the closing quote");
            }
            break;
        }
    }

end_record:
    if (ferror(r->fp))
        return sup_err_set(err, SUP_ERR_IO, "line %ld: read error", r->line);
    if (c != EOF)
        eat_lf_after_cr(r, c);
    return r->nfields > 0 ? 1 : 0;

nomem:
    return sup_err_set(err, SUP_ERR_SOFTWARE, "line %ld: out of memory", r->line);
}

void csv_write_field(FILE *fp, const char *s)
{
    const char *p;

    if (s == NULL || strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s != NULL ? s : "", fp);
        return;
    }
    fputc('"', fp);
    for (p = s; *p != '\0'; p++) {
        if (*p == '"')
            fputc('"', fp);
        fputc(*p, fp);
    }
    fputc('"', fp);
}
