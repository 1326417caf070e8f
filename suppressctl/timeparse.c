/*
 * timeparse.c: reading the times postmasters and other tools write, for
 * the expires/first_event/last_event columns of suppressctl import:
 *
 *   2026-11-22T16:20:00Z           what suppressctl export writes
 *   2026-11-22T16:20:00.250+02:00  fractions are dropped; offsets applied
 *   2026-11-22 16:20:00            a space for the T; no zone means UTC
 *   2026-11-22                     midnight UTC
 *   1795364400                     seconds since the epoch
 *
 * Anything else, or an impossible date (2026-02-30), is an error naming
 * the text.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"

/* Read exactly n digits at *p into *value and advance. */
static int read_digits(const char **p, int n, int *value)
{
    int v = 0;

    while (n-- > 0) {
        if (!isdigit((unsigned char) **p))
            return -1;
        v = v * 10 + (**p - '0');
        (*p)++;
    }
    *value = v;
    return 0;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

    return month == 2 && leap ? 29 : days[month - 1];
}

static int parse_epoch(const char *text, time_t *out, SUP_ERR *err)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || v < 0)
        return sup_err_set(err, SUP_ERR_INPUT, "time \"%s\": not a number of seconds", text);
    *out = (time_t) v;
    return 0;
}

/* "Z", "+HH:MM", "+HHMM", "+HH" or "-..."; seconds east of UTC into *offset. */
static int parse_zone(const char *p, long *offset)
{
    int sign, hh, mm = 0;

    if (*p == '\0' || strcmp(p, "Z") == 0 || strcmp(p, "z") == 0) {
        *offset = 0;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    sign = *p++ == '-' ? -1 : 1;
    if (read_digits(&p, 2, &hh) < 0 || hh > 23)
        return -1;
    if (*p == ':')
        p++;
    if (*p != '\0' && (read_digits(&p, 2, &mm) < 0 || mm > 59))
        return -1;
    if (*p != '\0')
        return -1;
    *offset = sign * (hh * 3600L + mm * 60L);
    return 0;
}

int ctl_time_parse(const char *text, time_t *out, SUP_ERR *err)
{
    const char *p = text;
    struct tm tm;
    int year, month, day, hour = 0, min = 0, sec = 0;
    long offset = 0;
    time_t t;

    if (*text != '\0' && strspn(text, "0123456789") == strlen(text))
        return parse_epoch(text, out, err);

    if (read_digits(&p, 4, &year) < 0 || *p++ != '-'
        || read_digits(&p, 2, &month) < 0 || *p++ != '-'
        || read_digits(&p, 2, &day) < 0)
        goto bad;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (read_digits(&p, 2, &hour) < 0 || *p++ != ':'
            || read_digits(&p, 2, &min) < 0)
            goto bad;
        if (*p == ':') {
            p++;
            if (read_digits(&p, 2, &sec) < 0)
                goto bad;
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char) *p))
                    goto bad;
                while (isdigit((unsigned char) *p))
                    p++;
            }
        }
        if (parse_zone(p, &offset) < 0)
            goto bad;
    } else if (*p != '\0') {
        goto bad;
    }
    if (year < 1970 || month < 1 || month > 12 || day < 1
        || day > days_in_month(year, month) || hour > 23 || min > 59 || sec > 60)
        return sup_err_set(err, SUP_ERR_INPUT, "time \"%s\": no such date or time", text);

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t) -1 || t - offset < 0)
        return sup_err_set(err, SUP_ERR_INPUT, "time \"%s\": out of range", text);
    *out = t - offset;
    return 0;

bad:
    return sup_err_set(err, SUP_ERR_INPUT,
                       "time \"%s\": expected ISO 8601 (2026-11-22T16:20:00Z) or epoch seconds",
                       text);
}
