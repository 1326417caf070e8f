/*
 * csv.h: reading and writing RFC 4180 CSV, for suppressctl import/export.
 *
 * The reader returns one record at a time: fields may be quoted, a quote
 * inside a quoted field is doubled, quoted fields may span lines, records
 * end in CRLF or LF, blank lines are skipped (a UTF-8 byte order mark is
 * the caller's to skip: suppressctl import does when it detects the format).
 * A malformed record is reported with its line and skipped to the end of
 * that line, so the caller can report it and read on.
 */
#ifndef CSV_H
#define CSV_H

#include <stddef.h>
#include <stdio.h>
#include "sup_err.h"

/* Records longer than this are refused (a suppression row is < 4 KB). */
#define CSV_RECORD_MAX (64 * 1024)

typedef struct csv_reader CSV_READER;

/* Read from fp, whose next character is on line first_line.  NULL if out
 * of memory.  The caller keeps ownership of fp. */
CSV_READER *csv_reader_new(FILE *fp, long first_line);
void csv_reader_free(CSV_READER *r);

/* 1: a record was read; 0: end of input; -1: a bad record (err text
 * "field N: what is wrong", class SUP_ERR_INPUT, at csv_record_line())
 * or a read error (SUP_ERR_IO, reading cannot go on). */
int csv_read(CSV_READER *r, SUP_ERR *err);
/* The last record read: its fields (the caller may change them in place;
 * valid until the next csv_read) and the line it started on. */
size_t csv_field_count(const CSV_READER *r);
char *csv_field(const CSV_READER *r, size_t i);
long csv_record_line(const CSV_READER *r);

/* Write s as one field, quoted when it holds a comma, quote, CR or LF. */
void csv_write_field(FILE *fp, const char *s);

#endif
