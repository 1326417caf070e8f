/*
 * sup_err.h: how library code reports an error to its caller.
 *
 * Library functions never exit or print: they fill a SUP_ERR with a class
 * (which main() maps to a sysexits code or a milter action) and a message
 * that names what was wrong (a file and line, an address, a key).
 */
#ifndef SUP_ERR_H
#define SUP_ERR_H

#include <stddef.h>

enum sup_err_class {
    SUP_OK = 0,
    SUP_ERR_INPUT,      /* bad data from the user or a message: EX_DATAERR */
    SUP_ERR_CONFIG,     /* bad configuration: EX_CONFIG */
    SUP_ERR_NOTFOUND,   /* a named thing does not exist: EX_NOINPUT */
    SUP_ERR_TEMP,       /* try again later (lock, deadlock, busy): EX_TEMPFAIL */
    SUP_ERR_IO,         /* I/O or system error: EX_IOERR */
    SUP_ERR_NOPERM,     /* permission denied: EX_NOPERM */
    SUP_ERR_SOFTWARE,   /* internal error: EX_SOFTWARE */
};

#define SUP_ERR_TEXT_MAX 512

typedef struct sup_err {
    enum sup_err_class cls;
    char text[SUP_ERR_TEXT_MAX];
} SUP_ERR;

/* Set *err (if not NULL) and return -1, so callers can `return sup_err_set(...)`. */
int sup_err_set(SUP_ERR *err, enum sup_err_class cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sup_err_clear(SUP_ERR *err);
/* Prefix the existing message: "context: old message". */
void sup_err_prefix(SUP_ERR *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The sysexits(3) code a program should exit with for this error class. */
int sup_err_exit_code(const SUP_ERR *err);

#endif
