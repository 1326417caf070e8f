/*
 * suppress-ingest.c: main() of suppress-ingest(8).
 *
 * Reads bounces and complaint reports (files, a Maildir, an mbox, or one
 * message on stdin from a Postfix pipe transport), classifies each failed
 * recipient and updates the suppression store; --dry-run prints what it
 * would do (--json: one object per recipient, for tools and tests).
 * Exit codes are sysexits(3), so Postfix retries on EX_TEMPFAIL.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "conf.h"
#include "ingest.h"
#include "log.h"
#include "mailbox/mailbox.h"
#include "parse/message.h"
#include "privs.h"
#include "store.h"

struct options {
    const char *config;
    bool check_only;
    bool verbose;
    bool dry_run;
    bool json;
    const char *envelope_recipient;
    bool trust_given;
    enum ingest_trust trust;
    const char *maildir;
    const char *mbox;
    char **files;
    int file_count;
};

enum { OPT_DRY_RUN = 256, OPT_JSON, OPT_MAILDIR, OPT_MBOX, OPT_TRUST };

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: suppress-ingest [-c CONF] [-v] [--dry-run [--json]] [--trust T] [-r ADDR] [FILE...]\n"
            "       suppress-ingest [-c CONF] [-v] [--dry-run [--json]] [--trust T] --maildir DIR\n"
            "       suppress-ingest [-c CONF] [-v] [--dry-run [--json]] [--trust T] --mbox FILE\n"
            "       suppress-ingest [-c CONF] -n\n"
            "Without FILE, --maildir or --mbox, reads one message on standard input.\n"
            "  -c, --config FILE     configuration (default %s)\n"
            "  -n, --check-config    check the configuration and exit\n"
            "  -v, --verbose         log details, and log to stderr too\n"
            "      --dry-run         change nothing: print what each message reports\n"
            "      --json            with --dry-run: one JSON object per recipient\n"
            "  -r, --envelope-recipient ADDR  the address the message was delivered to\n"
            "                        (Postfix ${original_recipient}: its signature is checked)\n"
            "      --trust T         which reports to believe, instead of ingest.trust:\n"
            "                        sent-or-signed, signed, sent, any\n"
            "      --maildir DIR     process DIR/new and DIR/cur\n"
            "      --mbox FILE       process the mbox FILE\n"
            "  -h, --help            this text\n", CONFIG_DEFAULT_PATH);
}

static int parse_options(int argc, char **argv, struct options *opt)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "check-config", no_argument, NULL, 'n' },
        { "verbose", no_argument, NULL, 'v' },
        { "dry-run", no_argument, NULL, OPT_DRY_RUN },
        { "json", no_argument, NULL, OPT_JSON },
        { "envelope-recipient", required_argument, NULL, 'r' },
        { "maildir", required_argument, NULL, OPT_MAILDIR },
        { "mbox", required_argument, NULL, OPT_MBOX },
        { "trust", required_argument, NULL, OPT_TRUST },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;

    memset(opt, 0, sizeof(*opt));
    while ((c = getopt_long(argc, argv, "c:nvr:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opt->config = optarg;
            break;
        case 'n':
            opt->check_only = true;
            break;
        case 'v':
            opt->verbose = true;
            break;
        case OPT_DRY_RUN:
            opt->dry_run = true;
            break;
        case OPT_JSON:
            opt->json = true;
            break;
        case 'r':
            opt->envelope_recipient = optarg;
            break;
        case OPT_MAILDIR:
            opt->maildir = optarg;
            break;
        case OPT_MBOX:
            opt->mbox = optarg;
            break;
        case OPT_TRUST:
            if (conf_trust_parse(optarg, &opt->trust) < 0) {
                fprintf(stderr, "suppress-ingest: --trust \"%s\" is not one of sent-or-signed,"
                        " signed, sent, any\n", optarg);
                return -1;
            }
            opt->trust_given = true;
            break;
        case 'h':
            usage(stdout);
            exit(EX_OK);
        default:
            usage(stderr);
            return -1;
        }
    }
    opt->files = argv + optind;
    opt->file_count = argc - optind;
    if ((opt->maildir != NULL) + (opt->mbox != NULL) + (opt->file_count > 0) > 1) {
        fprintf(stderr, "suppress-ingest: give files, --maildir or --mbox, not several\n");
        return -1;
    }
    if (opt->json && !opt->dry_run) {
        fprintf(stderr, "suppress-ingest: --json goes with --dry-run\n");
        return -1;
    }
    return 0;
}

static bool reading_stdin(const struct options *opt)
{
    return opt->maildir == NULL && opt->mbox == NULL && opt->file_count == 0;
}

static int process_inputs(INGEST_CTX *ctx, const struct options *opt, MAILBOX_STATS *stats, SUP_ERR *err)
{
    SUP_ERR first = { SUP_OK, "" };

    if (opt->maildir != NULL)
        return mailbox_process_maildir(ctx, opt->maildir, stats, err);
    if (opt->mbox != NULL)
        return mailbox_process_mbox(ctx, opt->mbox, stats, err);
    if (opt->file_count == 0)
        return mailbox_process_stdin(ctx, stats, err);
    for (int i = 0; i < opt->file_count; i++) {
        SUP_ERR one;

        if (mailbox_process_file(ctx, opt->files[i], stats, &one) < 0) {
            if (first.cls == SUP_OK)
                first = one;        /* run() logs it */
            else
                log_error("%s", one.text);
            if (one.cls == SUP_ERR_TEMP)
                break;
        }
    }
    if (first.cls != SUP_OK) {
        *err = first;
        return -1;
    }
    return 0;
}

/*
 * The exit code.  On stdin (Postfix pipe) every failure that is not the
 * message's own fault is EX_TEMPFAIL: Postfix keeps the bounce queued and
 * retries, so it is never lost while the store or the configuration is
 * being fixed.  Unusable messages were quarantined (exit 0).
 */
static int exit_code(const struct options *opt, int rc, const SUP_ERR *err)
{
    if (rc == 0)
        return EX_OK;
    if (reading_stdin(opt) && !opt->dry_run)
        return EX_TEMPFAIL;
    return sup_err_exit_code(err);
}

/*
 * The signing keys, to check the return paths bounces come back to.
 * Without them nothing verifies as signed (the ledger still can vouch):
 * said once per run, not once per message.
 */
static const RETPATH_KEYS *load_keys(const struct sup_config *cfg, enum ingest_trust trust,
                                     RETPATH_KEYS *keys)
{
    SUP_ERR err;

    if (trust == TRUST_ANY || trust == TRUST_SENT)
        return NULL;
    if (retpath_keys_load(cfg->signing.key_file, keys, &err) == 0)
        return keys;
    if (err.cls == SUP_ERR_NOTFOUND)
        log_warn("no signing key file %s yet (milter-suppress makes it when it starts):"
                 " no return path verifies as signed", cfg->signing.key_file);
    else
        log_error("%s: no return path verifies as signed", err.text);
    return NULL;
}

static int run(const struct options *opt, struct sup_config *cfg)
{
    RETPATH_KEYS keys;
    INGEST_CTX ctx;
    MAILBOX_STATS stats;
    STORE *store = NULL;
    SUP_ERR err = { SUP_OK, "" };
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    memset(&stats, 0, sizeof(stats));
    ctx.cfg = cfg;
    ctx.dry_run = opt->dry_run;
    ctx.json = opt->json;
    ctx.out = stdout;
    ctx.envelope_recipient = opt->envelope_recipient;
    ctx.trust = opt->trust_given ? opt->trust : cfg->ingest.trust;
    message_set_verp_pattern(cfg->ingest.verp_pattern);

    if (!opt->dry_run) {
        bool created = access(cfg->store, F_OK) < 0;

        if (privs_become_owner(cfg->store, &err) < 0
            || store_open(cfg->store, STORE_CREATE, &store, &err) < 0) {
            log_error("%s", err.text);
            return exit_code(opt, -1, &err);
        }
        /* The milter must be able to open what root creates here. */
        if (created && geteuid() == 0)
            log_warn("created store %s owned by root; chown -R it to the user milter-suppress runs as",
                     cfg->store);
        ctx.store = store;
        ctx.keys = load_keys(cfg, ctx.trust, &keys);
    }
    rc = process_inputs(&ctx, opt, &stats, &err);
    if (rc < 0)
        log_error("%s", err.text);
    if (!opt->dry_run) {
        SUP_ERR close_err;

        if (store_close(store, &close_err) < 0)
            log_error("%s", close_err.text);
        if (ctx.messages > 1 || opt->verbose || !reading_stdin(opt))
            log_info("%lu messages: %lu applied, %lu duplicates, %lu quarantined (%lu not believed),"
                     " %lu deferred, %lu failed", ctx.messages, stats.applied, stats.duplicates,
                     stats.quarantined, stats.unverified, stats.deferred, stats.failed);
    }
    explicit_bzero(&keys, sizeof(keys));
    fflush(stdout);
    return exit_code(opt, rc, &err);
}

int main(int argc, char **argv)
{
    struct options opt;
    struct sup_config *cfg = NULL;
    SUP_ERR err;
    int dest;
    int code;

    if (parse_options(argc, argv, &opt) < 0)
        return EX_USAGE;
    /* Interactive runs and dry runs talk on stderr.  Under a Postfix pipe
     * (stdin), warnings and errors go to stderr too: pipe(8) puts the
     * command's output in its log line and in the bounce of a failed
     * delivery, the only place an error shows where no syslogd runs. */
    dest = opt.dry_run ? LOG_TO_STDERR : LOG_TO_SYSLOG;
    if (!opt.dry_run && (opt.verbose || opt.check_only || isatty(STDERR_FILENO)))
        dest |= LOG_TO_STDERR;
    else if (!opt.dry_run && reading_stdin(&opt))
        dest |= LOG_ERRORS_TO_STDERR;
    log_open("suppress-ingest", dest, LOG_MAIL);
    log_set_verbose(opt.verbose);

    /* A dry run needs no configuration file: the defaults will do. */
    if (conf_load(opt.config, opt.dry_run && opt.config == NULL, &cfg, &err) < 0) {
        log_error("%s", err.text);
        code = sup_err_exit_code(&err);
        return reading_stdin(&opt) && !opt.dry_run && !opt.check_only ? EX_TEMPFAIL : code;
    }
    /* On a site of a fleet the store opens replicated (the master takes
     * the writes; a replica refuses them, and the message stays queued). */
    if (store_replication(&cfg->replication, &err) < 0) {
        log_error("%s", err.text);
        conf_free(cfg);
        return EX_SOFTWARE;
    }
    if (opt.check_only) {
        log_info("%s: configuration OK", cfg->path ? cfg->path : CONFIG_DEFAULT_PATH);
        conf_free(cfg);
        return EX_OK;
    }
    if ((dest & LOG_TO_SYSLOG) && cfg->milter.syslog_facility >= 0)
        log_open("suppress-ingest", dest, cfg->milter.syslog_facility);

    g_mime_init();
    code = run(&opt, cfg);
    g_mime_shutdown();
    conf_free(cfg);
    return code;
}
