/*
 * suppressctl.c: the administrator's front end to the suppression store.
 *
 * main() reads the global options and the configuration, works out who is
 * running the command (recorded in the timeline), and hands the rest of
 * the command line to one command module: cmd_entry.c (add, remove),
 * cmd_show.c (show, list), cmd_io.c (import, export), cmd_stats.c
 * (stats, purge), cmd_keys.c (rotate-key), cmd_repair.c (verify,
 * recover) or cmd_status.c (status).  ctl_common.c holds what they share.
 */
#include "config.h"

#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "ctl.h"
#include "sup_err.h"

struct command {
    const char *name;
    int (*run)(struct ctl *ctl, int argc, char **argv);
    const char *args;           /* usage line after the command name */
    const char *summary;
};

static const struct command commands[] = {
    {"add", cmd_add, "ADDRESS [--reason R] [--ttl D] [--note TEXT]",
     "suppress an address (or change an existing suppression)"},
    {"remove", cmd_remove, "ADDRESS [--note TEXT]",
     "unblock a suppressed address"},
    {"unblock", cmd_remove, "ADDRESS [--note TEXT]",
     "same as remove"},
    {"show", cmd_show, "ADDRESS [--json]",
     "status, last remote response and timeline of an address"},
    {"list", cmd_list, "[--reason R] [--all] [--json]",
     "suppressed addresses (--all: expired ones too)"},
    {"import", cmd_import, "[--again] FILE|-",
     "add suppressions from CSV or JSON lines"},
    {"export", cmd_export, "[--all] [--json]",
     "write suppressions as CSV (or JSON lines)"},
    {"stats", cmd_stats, "[--days N] [--json]",
     "suppressions by reason; daily rejected, accepted, bounces"},
    {"purge", cmd_purge, "",
     "remove expired suppressions and old timeline events"},
    {"rotate-key", cmd_rotate_key, "",
     "a new return-path signing key (then reload the milter)"},
    {"verify", cmd_verify, "",
     "check the store's databases and log; say what is wrong"},
    {"recover", cmd_recover, "",
     "catastrophic recovery of a damaged store (everything stopped)"},
    {"status", cmd_status, "[--json]",
     "replication: this site's role, the master, the other sites"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *fp, const char *progname)
{
    size_t i;

    fprintf(fp, "usage: %s [-c FILE] COMMAND [ARGS]\n"
            "       %s -V | -h\n\ncommands:\n", progname, progname);
    for (i = 0; i < NCOMMANDS; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].args);
    fprintf(fp, "\n  -c FILE  configuration file (default %s)\n"
            "\nreasons: hard-bounce, soft-bounce-escalated, complaint, unsubscribe, manual\n"
            "durations: 90s, 15m, 12h, 7d, 2w, never\n"
            "See suppressctl(8).\n", CONFIG_DEFAULT_PATH);
}

static const struct command *find_command(const char *name)
{
    size_t i;

    for (i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int ctl_usage_error(const struct ctl *ctl, const char *command, const char *fmt, ...)
{
    const struct command *cmd = find_command(command);
    va_list ap;

    fprintf(stderr, "%s: %s: ", ctl->progname, command);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd != NULL)
        fprintf(stderr, "usage: %s %s %s\n", ctl->progname, cmd->name, cmd->args);
    return EX_USAGE;
}

/*
 * Who to record as the actor of an add or unblock: the login behind sudo
 * when root runs us through it, else the user we run as.
 */
static const char *invoking_user(void)
{
    static char name[STORE_ACTOR_MAX];
    const char *sudo_user = getenv("SUDO_USER");
    struct passwd *pw;

    if (getuid() == 0 && sudo_user != NULL && *sudo_user != '\0') {
        snprintf(name, sizeof(name), "%s", sudo_user);
        return name;
    }
    if ((pw = getpwuid(getuid())) != NULL)
        snprintf(name, sizeof(name), "%s", pw->pw_name);
    else
        snprintf(name, sizeof(name), "uid %lu", (unsigned long) getuid());
    return name;
}

int main(int argc, char **argv)
{
    struct ctl ctl = {.progname = "suppressctl"};
    const struct command *cmd;
    const char *config_path = NULL;
    SUP_ERR err;
    int ch, first, status;

    sup_err_clear(&err);
    /* '+': stop at the command name; its options are the command's. */
    while ((ch = getopt(argc, argv, "+c:Vh")) != -1) {
        switch (ch) {
        case 'c':
            config_path = optarg;
            break;
        case 'V':
            printf("suppressctl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
            return EX_OK;
        case 'h':
            usage(stdout, ctl.progname);
            return EX_OK;
        default:
            usage(stderr, ctl.progname);
            return EX_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "%s: no command given\n", ctl.progname);
        usage(stderr, ctl.progname);
        return EX_USAGE;
    }
    if (strcmp(argv[optind], "help") == 0) {
        usage(stdout, ctl.progname);
        return EX_OK;
    }
    if ((cmd = find_command(argv[optind])) == NULL) {
        fprintf(stderr, "%s: unknown command \"%s\"\n", ctl.progname, argv[optind]);
        usage(stderr, ctl.progname);
        return EX_USAGE;
    }

    /* An explicit -c must exist; without it the defaults may stand in. */
    if (conf_load(config_path, config_path == NULL, &ctl.cfg, &err) < 0)
        return ctl_fail(&ctl, &err);
    /* On a site of a fleet the store opens replicated: writes go through
     * this site's replication process, and are refused on a replica. */
    if (store_replication(&ctl.cfg->replication, &err) < 0)
        return ctl_fail(&ctl, &err);
    ctl.actor = invoking_user();
    ctl.now = time(NULL);

    first = optind;
    optind = 0;                 /* glibc: fully re-initialize for the command */
    status = cmd->run(&ctl, argc - first, argv + first);
    conf_free(ctl.cfg);
    return status;
}
