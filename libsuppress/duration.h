/*
 * duration.h: parse and print the durations used in the config file and on
 * command lines: "90s", "15m", "12h", "7d", "2w", "0" (a bare number is
 * seconds), and "never"/"permanent" for no expiry.
 */
#ifndef DURATION_H
#define DURATION_H

#include <time.h>
#include "sup_err.h"

#define DURATION_NEVER ((long) -1)

/* Returns 0 and sets *seconds (DURATION_NEVER for never/permanent) or -1. */
int duration_parse(const char *text, long *seconds, SUP_ERR *err);
/* Format seconds as the shortest exact unit ("7d", "36h", "never"). */
const char *duration_format(long seconds, char *buf, size_t len);
/* Format a time as ISO 8601 UTC ("2026-11-22T16:20:00Z"); 0 -> "never". */
const char *time_format_iso(time_t t, char *buf, size_t len);
/* The UTC day of t as "YYYY-MM-DD" (the key of daily counters). */
const char *time_format_day(time_t t, char *buf, size_t len);

#endif
