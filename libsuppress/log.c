/*
 * log.c: logging to syslog and/or stderr for all programs (see log.h).
 *
 * A daemon logs to syslog; a command run by hand logs to stderr; "-f -d"
 * does both.  Messages are single lines: CR/LF in text that came from a
 * message or a remote server are replaced so a log line cannot be forged.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "log.h"

static int log_dest = LOG_TO_STDERR;
static const char *log_ident = "milter-suppress";
static bool log_verbose;

static const struct {
    const char *name;
    int facility;
} facilities[] = {
    { "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
    { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
    { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
    { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

void log_open(const char *ident, int dest, int syslog_facility)
{
    log_ident = ident;
    log_dest = dest;
    if (dest & LOG_TO_SYSLOG)
        openlog(ident, LOG_PID | LOG_NDELAY, syslog_facility);
}

void log_set_verbose(bool verbose)
{
    log_verbose = verbose;
}

int log_facility_from_name(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
        if (strcasecmp(name, facilities[i].name) == 0)
            return facilities[i].facility;
    return -1;
}

static bool log_to_stderr(int priority)
{
    return (log_dest & LOG_TO_STDERR) || ((log_dest & LOG_ERRORS_TO_STDERR) && priority <= LOG_WARNING);
}

static void log_emit(int priority, const char *label, const char *fmt, va_list ap)
{
    char line[2048];
    char *p;

    vsnprintf(line, sizeof(line), fmt, ap);
    for (p = line; *p != '\0'; p++)
        if (*p == '\r' || *p == '\n')
            *p = ' ';
    if (log_dest & LOG_TO_SYSLOG)
        syslog(priority, "%s%s", label, line);
    if (log_to_stderr(priority))
        fprintf(stderr, "%s: %s%s\n", log_ident, label, line);
}

#define LOG_FUNCTION(name, priority, label, guard)  \
    void name(const char *fmt, ...)                 \
    {                                               \
        va_list ap;                                 \
        if (!(guard))                               \
            return;                                 \
        va_start(ap, fmt);                          \
        log_emit(priority, label, fmt, ap);         \
        va_end(ap);                                 \
    }

LOG_FUNCTION(log_info, LOG_INFO, "", true)
LOG_FUNCTION(log_warn, LOG_WARNING, "warning: ", true)
LOG_FUNCTION(log_error, LOG_ERR, "error: ", true)
LOG_FUNCTION(log_debug, LOG_DEBUG, "debug: ", log_verbose)
