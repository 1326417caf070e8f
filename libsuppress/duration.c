/*
 * duration.c: durations and times as the config file, the command line
 * and the programs' output write them (see duration.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duration.h"

static const struct unit {
    char suffix;
    long seconds;
} units[] = {
    { 'w', 7 * 86400L }, { 'd', 86400L }, { 'h', 3600L }, { 'm', 60L }, { 's', 1L },
};

int duration_parse(const char *text, long *seconds, SUP_ERR *err)
{
    const char *p = text;
    long total = 0;

    if (text == NULL || *text == '\0')
        return sup_err_set(err, SUP_ERR_INPUT, "empty duration");
    if (strcasecmp(text, "never") == 0 || strcasecmp(text, "permanent") == 0) {
        *seconds = DURATION_NEVER;
        return 0;
    }
    /* One or more <number><unit> terms ("1d12h"); a bare number is seconds. */
    while (*p != '\0') {
        char *end;
        long value;
        long factor = 1;
        size_t i;

        if (!isdigit((unsigned char) *p))
            return sup_err_set(err, SUP_ERR_INPUT,
                               "duration \"%s\": expected a number with s, m, h, d or w, or \"never\"", text);
        errno = 0;
        value = strtol(p, &end, 10);
        if (errno != 0)
            return sup_err_set(err, SUP_ERR_INPUT, "duration \"%s\": number out of range", text);
        p = end;
        if (*p != '\0') {
            for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
                if (tolower((unsigned char) *p) == units[i].suffix)
                    break;
            if (i == sizeof(units) / sizeof(units[0]))
                return sup_err_set(err, SUP_ERR_INPUT,
                                   "duration \"%s\": unknown unit '%c' (use s, m, h, d or w)", text, *p);
            factor = units[i].seconds;
            p++;
        }
        if (value > (LONG_MAX - total) / factor)
            return sup_err_set(err, SUP_ERR_INPUT, "duration \"%s\": too long", text);
        total += value * factor;
    }
    *seconds = total;
    return 0;
}

const char *duration_format(long seconds, char *buf, size_t len)
{
    size_t i;

    if (seconds == DURATION_NEVER) {
        snprintf(buf, len, "never");
        return buf;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (seconds != 0 && seconds % units[i].seconds == 0) {
            snprintf(buf, len, "%ld%c", seconds / units[i].seconds, units[i].suffix);
            return buf;
        }
    }
    snprintf(buf, len, "%lds", seconds);
    return buf;
}

const char *time_format_iso(time_t t, char *buf, size_t len)
{
    struct tm tm;

    if (t == 0) {
        snprintf(buf, len, "never");
        return buf;
    }
    if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "%lld", (long long) t);
    return buf;
}

const char *time_format_day(time_t t, char *buf, size_t len)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, len, "1970-01-01");
    return buf;
}
