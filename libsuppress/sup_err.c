/*
 * sup_err.c: error reporting for library code (see sup_err.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "sup_err.h"

int sup_err_set(SUP_ERR *err, enum sup_err_class cls, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    err->cls = cls;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof(err->text), fmt, ap);
    va_end(ap);
    return -1;
}

void sup_err_clear(SUP_ERR *err)
{
    if (err == NULL)
        return;
    err->cls = SUP_OK;
    err->text[0] = '\0';
}

void sup_err_prefix(SUP_ERR *err, const char *fmt, ...)
{
    char prefix[SUP_ERR_TEXT_MAX];
    char old[SUP_ERR_TEXT_MAX];
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->text, sizeof(old));
    snprintf(err->text, sizeof(err->text), "%s: %s", prefix, old);
}

int sup_err_exit_code(const SUP_ERR *err)
{
    switch (err == NULL ? SUP_ERR_SOFTWARE : err->cls) {
    case SUP_OK:
        return EX_OK;
    case SUP_ERR_INPUT:
        return EX_DATAERR;
    case SUP_ERR_CONFIG:
        return EX_CONFIG;
    case SUP_ERR_NOTFOUND:
        return EX_NOINPUT;
    case SUP_ERR_TEMP:
        return EX_TEMPFAIL;
    case SUP_ERR_IO:
        return EX_IOERR;
    case SUP_ERR_NOPERM:
        return EX_NOPERM;
    case SUP_ERR_SOFTWARE:
    default:
        return EX_SOFTWARE;
    }
}
