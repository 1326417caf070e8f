/*
 * import_rows.h: reading the input of suppressctl import (CSV with a
 * header row, or JSON lines: what export writes) into rows ready for the
 * store, each checked and converted, without the store itself.
 *
 * cmd_io.c writes the rows in batches; the unit tests and the fuzz
 * harness (tests/fuzz/fuzz_import.c) read the same way.  A bad row is
 * reported on diag as "PROG: NAME:LINE: what is wrong" and skipped.
 */
#ifndef IMPORT_ROWS_H
#define IMPORT_ROWS_H

#include <stdbool.h>
#include <stdio.h>

#include "ctl.h"
#include "store.h"
#include "sup_err.h"

/* The columns import knows; export writes all but ttl and note. */
enum column {
    COL_ADDRESS, COL_REASON, COL_EXPIRES, COL_FIRST_EVENT, COL_LAST_EVENT,
    COL_COUNT, COL_SOURCE, COL_DETAIL, COL_STATUS, COL_TENANT, COL_TTL, COL_NOTE,
    NCOLUMNS
};

extern const char *const import_columns[NCOLUMNS];

/* The export columns: the first COL_TTL of the list above (tenant only
 * when the store has tenants). */
#define NEXPORT_COLUMNS COL_TTL

/* One converted row, ready for the store. */
struct import_row {
    STORE_ENTRY entry;          /* entry.tenant: the scope, "" global */
    char note[STORE_DETAIL_MAX];
    long line;
    bool has_first_event;
    bool has_count;
    bool has_status;
};

/* Receives each good row; -1 (with err) ends the reading. */
typedef int (*import_take_fn)(void *ctx, const struct import_row *row, SUP_ERR *err);

typedef struct import_reader {
    const struct ctl *ctl;      /* progname, cfg (policy lengths), now */
    const char *name;           /* the input as named in messages */
    const char *tenant;         /* import --tenant: of the rows that name none; NULL: global */
    FILE *diag;                 /* where bad rows are reported (stderr) */
    import_take_fn take;
    void *take_ctx;
    unsigned long skipped;      /* bad rows so far */
} IMPORT_READER;

/*
 * Skip a byte order mark and leading blank lines, and tell the format by
 * the first character: '{' is JSON lines, anything else CSV.  Returns that
 * character (pushed back), EOF for an empty input; *line is where it is.
 */
int import_sniff_format(FILE *fp, long *line);

/*
 * Read every row of fp, in the format import_sniff_format() told by
 * first, starting at first_line.  Returns 0, or -1 with err when the
 * header row is unusable, the input cannot be read, or take() failed.
 */
int import_read_rows(IMPORT_READER *rd, FILE *fp, int first, long first_line, SUP_ERR *err);

#endif
