/*
 * ctl_common.c: helpers every suppressctl command uses (see ctl.h):
 * opening the store in the right mode, running a transaction with retries,
 * and printing errors and remote text for a postmaster (the value
 * helpers import shares are in ctl_values.c).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "addr.h"
#include "ctl.h"
#include "duration.h"
#include "json.h"
#include "privs.h"

/* A deadlock under load clears quickly; give up after this many tries. */
#define CTL_TXN_ATTEMPTS 20

int ctl_store_open(const struct ctl *ctl, bool write, STORE **st, SUP_ERR *err)
{
    const char *dir = ctl->cfg->store;
    bool created = false;
    struct stat sb;

    if (dir == NULL || *dir == '\0')
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: no store directory configured (key \"store\")",
                           ctl->cfg->path ? ctl->cfg->path : CONFIG_DEFAULT_PATH);
    if (stat(dir, &sb) < 0) {
        if (errno != ENOENT)
            return sup_err_set(err, errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                               "store %s: %s", dir, strerror(errno));
        if (!write)
            return sup_err_set(err, SUP_ERR_NOTFOUND,
                               "store %s does not exist (nothing suppressed yet?)", dir);
        created = true;
    } else if (!S_ISDIR(sb.st_mode)) {
        return sup_err_set(err, SUP_ERR_CONFIG, "store %s is not a directory", dir);
    }
    /* After the command has opened its own files (import may read one only
     * root can), so that what the store creates belongs to its owner. */
    if (getuid() == 0 && privs_become_owner(dir, err) < 0)
        return -1;
    if (store_open(dir, write ? STORE_CREATE : STORE_RDONLY, st, err) < 0) {
        sup_err_prefix(err, "cannot open store %s", dir);
        return -1;
    }
    if (created && getuid() == 0)
        fprintf(stderr, "%s: warning: created store %s owned by root; "
                "chown -R it to the user milter-suppress runs as\n", ctl->progname, dir);
    return 0;
}

int ctl_txn_run(STORE *st, ctl_txn_fn fn, void *ctx, SUP_ERR *err)
{
    STORE_TXN *txn;
    int attempt, rc;

    for (attempt = 1;; attempt++) {
        if (store_begin(st, &txn, err) < 0)
            rc = -1;
        else if ((rc = fn(st, txn, ctx, err)) < 0)
            store_abort(txn);
        else if (store_commit(txn, err) < 0)
            rc = -1;        /* a failed commit has released the transaction */
        else
            return rc;
        if (err->cls != SUP_ERR_TEMP || attempt >= CTL_TXN_ATTEMPTS)
            return -1;
        store_retry_delay(attempt);
    }
}

int ctl_tenant(const char *tenant, SUP_ERR *err)
{
    if (store_tenant_check(tenant, err) < 0) {
        sup_err_prefix(err, "--tenant");
        return -1;
    }
    return 0;
}

void ctl_print_text(FILE *fp, const char *text)
{
    const unsigned char *p;

    for (p = (const unsigned char *) text; *p != '\0'; p++)
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, fp);
}

void ctl_print_block(FILE *fp, const char *text, const char *indent)
{
    const unsigned char *p;

    fputs(indent, fp);
    for (p = (const unsigned char *) text; *p != '\0'; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue;
        if (*p == '\n' || *p == '\r') {
            if (p[1] != '\0') {
                fputc('\n', fp);
                fputs(indent, fp);
            }
            continue;
        }
        fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, fp);
    }
    fputc('\n', fp);
}

int ctl_fail(const struct ctl *ctl, const SUP_ERR *err)
{
    fprintf(stderr, "%s: %s\n", ctl->progname,
            err->text[0] != '\0' ? err->text : "unknown error");
    return sup_err_exit_code(err);
}

int ctl_option_error(const struct ctl *ctl, const char *command, int ch, char **argv)
{
    const char *opt = optind > 0 ? argv[optind - 1] : "?";

    if (ch == ':')
        return ctl_usage_error(ctl, command, "option %s needs a value", opt);
    if (optopt != 0)
        return ctl_usage_error(ctl, command, "unknown option -%c", optopt);
    return ctl_usage_error(ctl, command, "unknown option %s", opt);
}

void ctl_json_time(FILE *fp, bool *first, const char *key, time_t t)
{
    char buf[CTL_TIME_MAX];

    json_kv_str(fp, first, key, t == 0 ? NULL : time_format_iso(t, buf, sizeof(buf)));
}

void ctl_json_str(FILE *fp, bool *first, const char *key, const char *value)
{
    json_kv_str(fp, first, key, value != NULL && *value != '\0' ? value : NULL);
}
