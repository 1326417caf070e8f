/*
 * cmd_repair.c: suppressctl verify and suppressctl recover, for a store
 * that may be damaged (a truncated or removed log, a corrupted page, lost
 * environment files).
 *
 *   suppressctl verify    says what is wrong, one line per problem, and
 *                         exits 0 when nothing is (EX_DATAERR otherwise)
 *   suppressctl recover   catastrophic recovery from the log, then a
 *                         verify; refused while milter-suppress,
 *                         suppress-ingest or another suppressctl has the
 *                         store open
 *
 * Both work on the files directly (store_verify, store_recover): a store
 * the other commands cannot open is what they are for.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "ctl.h"
#include "privs.h"

static void print_problem(const char *problem, void *ctx)
{
    const struct ctl *ctl = ctx;

    printf("%s: ", ctl->progname);
    ctl_print_text(stdout, problem);
    putchar('\n');
}

/* Only a --help, nothing else. */
static int no_arguments(struct ctl *ctl, const char *command, int argc, char **argv, bool *help)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    *help = false;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (ch == 'h') {
            printf("usage: %s %s\n", ctl->progname, command);
            *help = true;
            return EX_OK;
        }
        return ctl_option_error(ctl, command, ch, argv);
    }
    if (argc - optind != 0)
        return ctl_usage_error(ctl, command, "unexpected argument \"%s\"", argv[optind]);
    return EX_OK;
}

/* Check the store; problems on stdout; 0 sound, EX_DATAERR damaged. */
static int verify_store(struct ctl *ctl)
{
    SUP_ERR err;
    int problems;

    if ((problems = store_verify(ctl->cfg->store, print_problem, ctl, &err)) < 0)
        return ctl_fail(ctl, &err);
    if (problems > 0) {
        printf("%s: store %s: %d problem%s\n", ctl->progname, ctl->cfg->store, problems,
               problems == 1 ? "" : "s");
        return EX_DATAERR;
    }
    printf("store %s: every database and the log are sound\n", ctl->cfg->store);
    return EX_OK;
}

int cmd_verify(struct ctl *ctl, int argc, char **argv)
{
    bool help;
    int status = no_arguments(ctl, "verify", argc, argv, &help);

    if (status != EX_OK || help)
        return status;
    return verify_store(ctl);
}

int cmd_recover(struct ctl *ctl, int argc, char **argv)
{
    SUP_ERR err;
    bool help;
    int status = no_arguments(ctl, "recover", argc, argv, &help);

    if (status != EX_OK || help)
        return status;
    sup_err_clear(&err);
    /* What recovery creates must belong to the store's owner. */
    if (getuid() == 0 && privs_become_owner(ctl->cfg->store, &err) < 0)
        return ctl_fail(ctl, &err);
    if (store_recover(ctl->cfg->store, print_problem, ctl, &err) < 0) {
        sup_err_prefix(&err, "recover");
        return ctl_fail(ctl, &err);
    }
    printf("store %s: a new environment and log started\n", ctl->cfg->store);
    status = verify_store(ctl);
    if (status == EX_DATAERR)
        printf("%s: recovery could not repair this: restore from an export"
               " (see RESTORING in suppressctl(8))\n", ctl->progname);
    return status;
}
