/*
 * ctl.h: what the suppressctl command modules share: the run context that
 * main() fills in (configuration, the invoking user, the time), the
 * command entry points, and the helpers every command uses to open the
 * store, run a transaction with retries and print for a postmaster.
 */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#include "conf.h"
#include "store.h"
#include "sup_err.h"

/* Exit status of show/remove when the address is not suppressed. */
#define CTL_EXIT_NOT_SUPPRESSED 1

/* The source recorded in entries that suppressctl writes. */
#define CTL_SOURCE_MANUAL "suppressctl"
#define CTL_SOURCE_IMPORT "import"

/* The largest ISO 8601 time we print, with its NUL ("2026-11-22T16:20:00Z"). */
#define CTL_TIME_MAX 32

struct ctl {
    const char *progname;       /* for messages: "suppressctl" */
    struct sup_config *cfg;     /* loaded and validated */
    const char *actor;          /* invoking user, recorded in timeline events */
    time_t now;                 /* one clock reading per run */
};

/* The commands: each parses its own arguments (argv[0] is the command
 * name) and returns the program's exit status. */
int cmd_add(struct ctl *ctl, int argc, char **argv);
int cmd_remove(struct ctl *ctl, int argc, char **argv);
int cmd_show(struct ctl *ctl, int argc, char **argv);
int cmd_list(struct ctl *ctl, int argc, char **argv);
int cmd_import(struct ctl *ctl, int argc, char **argv);
int cmd_export(struct ctl *ctl, int argc, char **argv);
int cmd_stats(struct ctl *ctl, int argc, char **argv);
/* stats --by-tenant over the last `days` days (stats_tenants.c): an exit status. */
int stats_by_tenant(struct ctl *ctl, int days, bool json);
int cmd_purge(struct ctl *ctl, int argc, char **argv);
int cmd_rotate_key(struct ctl *ctl, int argc, char **argv);
int cmd_verify(struct ctl *ctl, int argc, char **argv);
int cmd_recover(struct ctl *ctl, int argc, char **argv);
int cmd_status(struct ctl *ctl, int argc, char **argv);

/* Open the configured store: read-only for the read commands (a missing
 * store is then a NOTFOUND error), read-write and created if absent for
 * the writers. */
int ctl_store_open(const struct ctl *ctl, bool write, STORE **st, SUP_ERR *err);

/* One unit of work inside a transaction; ctl_txn_run() begins, calls it,
 * commits, and on SUP_ERR_TEMP (deadlock, lock timeout) aborts and calls it
 * again, so fn must be safe to repeat from the start. */
typedef int (*ctl_txn_fn)(STORE *st, STORE_TXN *txn, void *ctx, SUP_ERR *err);
int ctl_txn_run(STORE *st, ctl_txn_fn fn, void *ctx, SUP_ERR *err);

/* Normalize an address from the command line or an import row.  The
 * error names the address as given. */
int ctl_normalize(const char *in, char *out, size_t outlen, SUP_ERR *err);

/* Check --tenant's value (store_tenant_check); the error names the option. */
int ctl_tenant(const char *tenant, SUP_ERR *err);

/* The suppression length policy gives a reason (DURATION_NEVER = never). */
long ctl_reason_ttl(const struct sup_config *cfg, enum store_reason reason);

/* Expiry time for a TTL starting at now: 0 (never) for DURATION_NEVER. */
time_t ctl_expiry(time_t now, long ttl);

/* Parse an expiry or event time: ISO 8601 ("2026-11-22T16:20:00Z",
 * "2026-11-22 16:20:00+02:00", "2026-11-22") or seconds since the epoch. */
int ctl_time_parse(const char *text, time_t *out, SUP_ERR *err);

/* Write text for a terminal: control characters become '?', so a hostile
 * remote response cannot move the cursor or fake lines. */
void ctl_print_text(FILE *fp, const char *text);
/* Write possibly multi-line text, each line after indent, ending in a newline. */
void ctl_print_block(FILE *fp, const char *text, const char *indent);

/* Report a getopt error (ch ':' or '?', opterr = 0) for a command: EX_USAGE. */
int ctl_option_error(const struct ctl *ctl, const char *command, int ch, char **argv);

/* JSON "key": "ISO time", null for 0 (never). */
void ctl_json_time(FILE *fp, bool *first, const char *key, time_t t);
/* JSON "key": "value", null for an empty value. */
void ctl_json_str(FILE *fp, bool *first, const char *key, const char *value);

/* Report an error on stderr as "suppressctl: text" and return its exit code. */
int ctl_fail(const struct ctl *ctl, const SUP_ERR *err);
/* Report a usage error for a command and return EX_USAGE. */
int ctl_usage_error(const struct ctl *ctl, const char *command, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
