/*
 * main.c: milter-suppress, the daemon that refuses suppressed recipients at
 * RCPT TO for Postfix or Sendmail.
 *
 * Startup: read the configuration, open the listening socket (as root, so
 * it can live in a root-owned directory), drop privileges, go to the
 * background, open the store (a store that does not open is not fatal:
 * lookups get on-store-error and the stats writer retries), write the pid
 * file, then run libmilter.  Afterwards the main thread does nothing but
 * handle signals.
 *
 * Why signals work this way: libmilter starts its own thread that
 * sigwait()s for SIGHUP, SIGTERM and SIGINT and treats all three as "stop",
 * but SIGHUP must mean "reload the configuration" here.  So smfi_main()
 * runs in a second thread created with those signals blocked (libmilter's
 * signal thread inherits the mask), while the main thread keeps them
 * unblocked with ordinary handlers that write the signal number to a pipe.
 * Linux gives a process-directed signal to the thread-group leader first
 * when that thread does not block it, so the handlers here see them and
 * libmilter's sigwait() does not.  The main thread then reads the pipe:
 * SIGHUP reloads, SIGTERM/SIGINT call smfi_stop() and shut down in order
 * (join the milter thread, wait for callbacks to leave the store, flush
 * the counters, close the store, remove the pid file).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "conf.h"
#include "daemonize.h"
#include "filter.h"
#include "listen_socket.h"
#include "live_conf.h"
#include "log.h"
#include "outbox_ship.h"
#include "policy_service.h"
#include "tenant.h"
#include "privs.h"
#include "reply.h"
#include "signing.h"
#include "stats.h"
#include "store.h"
#include "store_link.h"

/* How long shutdown waits for callbacks still inside a store call. */
#define QUIESCE_WAIT_MS 10000
/* Byte the milter thread writes to the signal pipe when smfi_main returns. */
#define MILTER_ENDED 0

struct options {
    const char *config_path;
    bool foreground;
    bool check_only;
    bool debug;
};

/* What was opened at startup and cannot change without a restart. */
struct startup {
    char *store;
    char *socket;
    char *user;
    char *pid_file;
    char *socket_group;
    mode_t socket_mode;
    int syslog_facility;
    char *policy_socket;        /* NULL = no policy service */
    char *policy_group;
    mode_t policy_mode;
};

static int signal_pipe[2] = { -1, -1 };
static int milter_result;

static const char *store_error_action_name(enum store_error_action action)
{
    switch (action) {
    case STORE_ERROR_ACCEPT:
        return "accept";
    case STORE_ERROR_REJECT:
        return "reject";
    case STORE_ERROR_TEMPFAIL:
    default:
        return "tempfail";
    }
}

static void usage(FILE *out)
{
    fprintf(out, "usage: milter-suppress [-c FILE] [-f] [-n] [-d] [-V]\n"
                 "  -c FILE  configuration file (default %s)\n"
                 "  -f       stay in the foreground\n"
                 "  -n       check the configuration and exit\n"
                 "  -d       debug logging, also to stderr\n"
                 "  -V       print the version and exit\n", CONFIG_DEFAULT_PATH);
}

static int parse_options(int argc, char **argv, struct options *opt)
{
    int ch;

    memset(opt, 0, sizeof(*opt));
    opt->config_path = CONFIG_DEFAULT_PATH;
    while ((ch = getopt(argc, argv, "c:fndVh")) != -1) {
        switch (ch) {
        case 'c':
            opt->config_path = optarg;
            break;
        case 'f':
            opt->foreground = true;
            break;
        case 'n':
            opt->check_only = true;
            break;
        case 'd':
            opt->debug = true;
            break;
        case 'V':
            printf("milter-suppress %s\n", PACKAGE_VERSION);
            exit(EX_OK);
        case 'h':
            usage(stdout);
            exit(EX_OK);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "milter-suppress: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    return 0;
}

/* True when log_* already writes to stderr (-d, or before the config is read). */
static bool log_on_stderr = true;

/* The sockets we created, removed again if startup fails after them. */
static const char *opened_socket;
static const char *opened_policy_socket;

/* Log, tell a waiting parent (daemon mode) or the terminal, and exit. */
static void fatal(int code, const char *what, const SUP_ERR *err)
{
    log_error("%s: %s", what, err->text);
    if (opened_socket != NULL)
        listen_remove(opened_socket);
    if (opened_policy_socket != NULL)
        listen_remove(opened_policy_socket);
    if (daemon_pending()) {
        char text[SUP_ERR_TEXT_MAX + 128];

        snprintf(text, sizeof(text), "%s: %s", what, err->text);
        daemon_failed(code, text);
    } else if (!log_on_stderr) {
        fprintf(stderr, "milter-suppress: %s: %s\n", what, err->text);
    }
    exit(code);
}

/* The config path made absolute, so SIGHUP still finds it after chdir("/"). */
static char *absolute_path(const char *path)
{
    char *abs = realpath(path, NULL);

    if (abs == NULL)
        abs = strdup(path);     /* conf_load will say what is wrong with it */
    if (abs == NULL) {
        fprintf(stderr, "milter-suppress: out of memory\n");
        exit(EX_OSERR);
    }
    return abs;
}

static void warn_template(const struct sup_config *cfg, bool to_stderr)
{
    SUP_ERR err;

    sup_err_clear(&err);
    if (reply_check_template(cfg->milter.reject_text, &err) < 0) {
        log_warn("%s: %s (sent literally)", cfg->path, err.text);
        if (to_stderr)
            fprintf(stderr, "milter-suppress: warning: %s: %s (sent literally)\n",
                    cfg->path, err.text);
    }
    /* The policy protocol carries no milter macros (milter-suppress(8), TENANTS). */
    if (cfg->tenant.mode == TENANT_MACRO && cfg->policy_service.socket != NULL)
        log_warn("%s: tenant = macro:%s: the policy service sees no milter macros; there"
                 " only the global scope is looked up", cfg->path, cfg->tenant.macro);
}

/* -n: exit 0 with "config OK: FILE", or 1 with the error. */
static int check_config(const char *path)
{
    struct sup_config *cfg;
    struct listen_spec ls;
    SUP_ERR err;

    sup_err_clear(&err);
    if (conf_load(path, false, &cfg, &err) < 0) {
        fprintf(stderr, "milter-suppress: %s\n", err.text);
        return 1;
    }
    if (listen_parse(cfg->milter.socket, &ls, &err) < 0) {
        fprintf(stderr, "milter-suppress: %s: %s\n", cfg->path, err.text);
        conf_free(cfg);
        return 1;
    }
    if (cfg->policy_service.socket != NULL
        && listen_parse_key("policy-service.socket", cfg->policy_service.socket, &ls, &err) < 0) {
        fprintf(stderr, "milter-suppress: %s: %s\n", cfg->path, err.text);
        conf_free(cfg);
        return 1;
    }
    warn_template(cfg, true);
    /* A key file that exists must be readable; a missing one is made at start. */
    if (cfg->signing.enable) {
        RETPATH_KEYS keys;
        int rc = retpath_keys_load(cfg->signing.key_file, &keys, &err);

        explicit_bzero(&keys, sizeof(keys));
        if (rc < 0 && err.cls != SUP_ERR_NOTFOUND) {
            fprintf(stderr, "milter-suppress: %s\n", err.text);
            conf_free(cfg);
            return 1;
        }
    }
    printf("config OK: %s\n", path);
    conf_free(cfg);
    return 0;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void remember_startup(const struct sup_config *cfg, struct startup *su)
{
    su->store = dup_or_null(cfg->store);
    su->socket = dup_or_null(cfg->milter.socket);
    su->user = dup_or_null(cfg->milter.user);
    su->pid_file = dup_or_null(cfg->milter.pid_file);
    su->socket_group = dup_or_null(cfg->milter.socket_group);
    su->socket_mode = cfg->milter.socket_mode;
    su->syslog_facility = cfg->milter.syslog_facility;
    su->policy_socket = dup_or_null(cfg->policy_service.socket);
    su->policy_group = dup_or_null(cfg->policy_service.socket_group);
    su->policy_mode = cfg->policy_service.socket_mode;
}

static void forget_startup(struct startup *su)
{
    free(su->store);
    free(su->socket);
    free(su->user);
    free(su->pid_file);
    free(su->socket_group);
    free(su->policy_socket);
    free(su->policy_group);
    memset(su, 0, sizeof(*su));
}

static bool same_string(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}

static void note_restart_needed(const char *path, const char *key, bool changed)
{
    if (changed)
        log_warn("reload of %s: %s changed; this needs a restart, keeping the running value",
                 path, key);
}

/*
 * The key file did not load at a reload: sign on with the keys read
 * before when it is the same file (a rotation half done, a permission
 * being fixed), else go unsigned.  Mail flows either way.
 */
static void keep_running_keys(const struct sup_config *fresh, RETPATH_KEYS *keys,
                              const SUP_ERR *err)
{
    struct live_conf *ref = live_conf_acquire();
    const RETPATH_KEYS *running = live_conf_keys(ref);
    bool same = running != NULL
                && same_string(live_conf_get(ref)->signing.key_file, fresh->signing.key_file);

    log_error("%s; %s", err->text, same ? "signing on with the keys read before"
                                        : "mail goes out unsigned until a reload can read it");
    if (same)
        *keys = *running;
    else
        memset(keys, 0, sizeof(*keys));
    live_conf_release(ref);
}

/* SIGHUP: load the file again; a bad file leaves the running config alone. */
static void reload(const char *path, const struct startup *su)
{
    struct sup_config *fresh;
    RETPATH_KEYS keys;
    SUP_ERR err;

    sup_err_clear(&err);
    if (conf_load(path, false, &fresh, &err) < 0) {
        log_error("reload failed, keeping the running configuration: %s", err.text);
        return;
    }
    if (signing_load_keys(fresh, &keys, &err) < 0)
        keep_running_keys(fresh, &keys, &err);
    note_restart_needed(path, "store", !same_string(su->store, fresh->store));
    note_restart_needed(path, "milter.socket", !same_string(su->socket, fresh->milter.socket));
    note_restart_needed(path, "milter.user", !same_string(su->user, fresh->milter.user));
    note_restart_needed(path, "milter.pid-file",
                        !same_string(su->pid_file, fresh->milter.pid_file));
    note_restart_needed(path, "milter.socket-group",
                        !same_string(su->socket_group, fresh->milter.socket_group));
    note_restart_needed(path, "milter.socket-mode", su->socket_mode != fresh->milter.socket_mode);
    note_restart_needed(path, "milter.syslog-facility",
                        su->syslog_facility != fresh->milter.syslog_facility);
    note_restart_needed(path, "policy-service.socket",
                        !same_string(su->policy_socket, fresh->policy_service.socket));
    note_restart_needed(path, "policy-service.socket-group",
                        !same_string(su->policy_group, fresh->policy_service.socket_group));
    note_restart_needed(path, "policy-service.socket-mode",
                        su->policy_socket != NULL
                        && su->policy_mode != fresh->policy_service.socket_mode);
    warn_template(fresh, false);
    if (fresh->milter.timeout > 0)
        smfi_settimeout(fresh->milter.timeout);     /* for connections from now on */
    live_conf_replace(fresh, &keys);
    explicit_bzero(&keys, sizeof(keys));
    stats_wake();                                   /* a new stats-interval applies now */
    log_info("configuration reloaded from %s", path);
}

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char byte = (unsigned char) sig;
    ssize_t n = write(signal_pipe[1], &byte, 1);

    (void) n;           /* pipe full: a signal is pending anyway */
    errno = saved;
}

static int install_signal_handlers(SUP_ERR *err)
{
    struct sigaction sa;
    const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
    size_t i;

    if (pipe(signal_pipe) < 0)
        return sup_err_set(err, SUP_ERR_IO, "pipe: %s", strerror(errno));
    fcntl(signal_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(signal_pipe[1], F_SETFD, FD_CLOEXEC);
    fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return sup_err_set(err, SUP_ERR_IO, "sigaction: %s", strerror(errno));
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static void *milter_thread_main(void *arg)
{
    unsigned char byte = MILTER_ENDED;
    ssize_t n;

    (void) arg;
    milter_result = smfi_main();
    n = write(signal_pipe[1], &byte, 1);
    (void) n;
    return NULL;
}

/* Start the stats writer, the policy service (when configured) and the
 * libmilter thread with HUP/TERM/INT
 * blocked, so that neither they nor libmilter's signal thread take them. */
static int start_threads(const char *store_dir, pthread_t *milter_thread, SUP_ERR *err)
{
    sigset_t block, old;
    int rc;

    sigemptyset(&block);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    /* On a site of a fleet: the outbox shipper, before the writer that fills it. */
    if ((store_rep_configured() && outbox_ship_start(store_dir, err) < 0)
        || stats_start(store_dir, err) < 0 || policy_service_start(err) < 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return -1;
    }
    rc = pthread_create(milter_thread, NULL, milter_thread_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0)
        return sup_err_set(err, SUP_ERR_IO, "starting the libmilter thread: %s", strerror(rc));
    return 0;
}

static atomic_bool stop_returned;

static void *stop_thread_main(void *arg)
{
    (void) arg;
    smfi_stop();
    atomic_store(&stop_returned, true);
    return NULL;
}

/*
 * smfi_stop() waits for libmilter's accept loop, which sits in poll() for
 * up to 5 seconds holding the lock smfi_stop() needs.  Connecting to our
 * own socket wakes that poll, so the stop takes milliseconds instead.
 */
static void stop_libmilter(const char *socket_spec)
{
    pthread_t stopper;
    int tries;

    if (pthread_create(&stopper, NULL, stop_thread_main, NULL) != 0) {
        smfi_stop();
        return;
    }
    for (tries = 0; tries < 200 && !atomic_load(&stop_returned); tries++) {
        listen_poke(socket_spec);
        usleep(20000);
    }
    pthread_join(stopper, NULL);
}

/* Handle signals until told to stop; returns the exit code. */
static int signal_loop(const char *path, const struct startup *su)
{
    for (;;) {
        unsigned char sig;
        ssize_t n = read(signal_pipe[0], &sig, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error("signal pipe: %s", n < 0 ? strerror(errno) : "closed");
            smfi_stop();
            return EX_SOFTWARE;
        }
        if (sig == SIGHUP) {
            log_info("SIGHUP: reloading %s", path);
            reload(path, su);
        } else if (sig == SIGTERM || sig == SIGINT) {
            log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            stop_libmilter(su->socket);
            return EX_OK;
        } else if (sig == MILTER_ENDED) {
            log_error("libmilter stopped by itself (smfi_main returned %d)", milter_result);
            return milter_result == MI_SUCCESS ? EX_OK : EX_SOFTWARE;
        }
    }
}

static void open_logging(const struct options *opt, const struct sup_config *cfg)
{
    log_open("milter-suppress", LOG_TO_SYSLOG | (opt->debug ? LOG_TO_STDERR : 0),
             cfg->milter.syslog_facility);
    log_set_verbose(opt->debug);
    log_on_stderr = opt->debug;
}

static void setup_libmilter(const struct sup_config *cfg)
{
    SUP_ERR err;

    sup_err_clear(&err);
    if (smfi_register(filter_desc) != MI_SUCCESS) {
        sup_err_set(&err, SUP_ERR_SOFTWARE, "smfi_register failed");
        fatal(EX_SOFTWARE, "libmilter", &err);
    }
    if (cfg->milter.timeout > 0)
        smfi_settimeout(cfg->milter.timeout);
    if (listen_open(cfg->milter.socket, cfg->milter.socket_mode, cfg->milter.socket_group,
                    &err) < 0)
        fatal(sup_err_exit_code(&err), "startup", &err);
    opened_socket = cfg->milter.socket;
}

/* The policy service's socket, as root like the milter's (policy_service.h). */
static void setup_policy_service(const struct sup_config *cfg)
{
    const struct policy_service_config *ps = &cfg->policy_service;
    SUP_ERR err;

    sup_err_clear(&err);
    if (ps->socket == NULL)
        return;
    if (policy_service_open(ps->socket, ps->socket_mode, ps->socket_group, &err) < 0)
        fatal(sup_err_exit_code(&err), "startup", &err);
    opened_policy_socket = ps->socket;
}

static void drop_privileges(const struct sup_config *cfg)
{
    SUP_ERR err;

    sup_err_clear(&err);
    if (cfg->milter.user == NULL || *cfg->milter.user == '\0')
        return;
    if (geteuid() != 0) {
        log_debug("not root: milter.user \"%s\" ignored, running as uid %ld",
                  cfg->milter.user, (long) geteuid());
        return;
    }
    if (privs_drop(cfg->milter.user, &err) < 0)
        fatal(sup_err_exit_code(&err), "dropping privileges", &err);
}

int main(int argc, char **argv)
{
    struct options opt;
    struct sup_config *cfg;
    struct startup su;
    RETPATH_KEYS keys;
    pthread_t milter_thread;
    SUP_ERR err;
    char *path;
    bool quiet;
    int code;

    if (parse_options(argc, argv, &opt) < 0)
        return EX_USAGE;
    if (opt.check_only)
        return check_config(opt.config_path);

    log_open("milter-suppress", LOG_TO_STDERR | LOG_TO_SYSLOG, LOG_MAIL);
    sup_err_clear(&err);
    path = absolute_path(opt.config_path);
    if (conf_load(path, false, &cfg, &err) < 0) {
        log_error("%s", err.text);
        return sup_err_exit_code(&err);
    }
    open_logging(&opt, cfg);
    warn_template(cfg, !log_on_stderr);
    /* The fleet this site belongs to: the store opens as one of its sites. */
    if (store_replication(&cfg->replication, &err) < 0)
        fatal(sup_err_exit_code(&err), "startup", &err);
    remember_startup(cfg, &su);
    /* Early, so that a SIGTERM during startup waits in the pipe for an
     * orderly stop instead of killing us half-started. */
    if (install_signal_handlers(&err) < 0)
        fatal(sup_err_exit_code(&err), "startup", &err);

    setup_libmilter(cfg);
    setup_policy_service(cfg);
    drop_privileges(cfg);
    if (!opt.foreground && daemon_start(&err) < 0)
        fatal(sup_err_exit_code(&err), "going to the background", &err);
    if (store_link_open(cfg->store, &err) < 0)
        log_error("cannot open the store, recipients get on-store-error = %s until it opens "
                  "(retried every %d s): %s", store_error_action_name(cfg->milter.on_store_error),
                  STORE_LINK_RETRY, err.text);
    if (cfg->milter.pid_file != NULL && pidfile_write(cfg->milter.pid_file, &err) < 0)
        fatal(sup_err_exit_code(&err), "pid file", &err);
    /*
     * After dropping privileges, so that a key file made now belongs to
     * milter.user, and after the store, whose directory holds it by
     * default.  Mail must flow without it: unsigned until a reload works.
     */
    if (signing_load_keys(cfg, &keys, &err) < 0)
        log_error("%s; mail goes out unsigned until a reload (SIGHUP) can read it", err.text);

    live_conf_init(cfg, &keys);
    explicit_bzero(&keys, sizeof(keys));
    if (start_threads(su.store, &milter_thread, &err) < 0) {
        pidfile_remove(su.pid_file);
        fatal(sup_err_exit_code(&err), "startup", &err);
    }
    log_info("started: socket %s, %s%s, store %s%s", su.socket,
             su.policy_socket != NULL ? "policy service " : "no policy service",
             su.policy_socket != NULL ? su.policy_socket : "", su.store,
             cfg->milter.dry_run ? " (dry-run: nothing is rejected)" : "");
    daemon_ready();

    code = signal_loop(path, &su);

    pthread_join(milter_thread, NULL);
    listen_remove(su.socket);
    policy_service_stop();      /* its last answer given before the store goes */
    quiet = store_link_quiesce(QUIESCE_WAIT_MS);
    stats_stop();
    outbox_ship_stop();         /* after the last flush, which may fill the outbox */
    sup_err_clear(&err);
    if (!quiet) {
        /* Closing a Berkeley DB environment under a running read would
         * crash; leaving it unclosed only costs a recovery at next open. */
        log_error("callbacks still inside the store after %d ms; exiting without closing it",
                  QUIESCE_WAIT_MS);
        code = EX_SOFTWARE;
    } else if (store_link_close(&err) < 0) {
        log_error("closing the store: %s", err.text);
        if (code == EX_OK)
            code = sup_err_exit_code(&err);
    }
    pidfile_remove(su.pid_file);
    live_conf_shutdown();
    log_info("stopped");
    forget_startup(&su);
    free(path);
    return code;
}
