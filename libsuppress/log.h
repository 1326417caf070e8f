/*
 * log.h: one logging front end for all programs: syslog, stderr, or both.
 *
 * Library code does not log errors it returns (the caller decides); it may
 * log_debug.  Programs call log_open() once in main().
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>

enum log_dest {
    LOG_TO_STDERR = 1,
    LOG_TO_SYSLOG = 2,
    LOG_ERRORS_TO_STDERR = 4,   /* only warnings and errors on stderr */
};

void log_open(const char *ident, int dest, int syslog_facility);
void log_set_verbose(bool verbose);
/* syslog facility by name ("mail", "local0".."local7", "daemon", "user"); -1 if unknown. */
int log_facility_from_name(const char *name);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
