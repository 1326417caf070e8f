/*
 * conf.c: load and validate the configuration file shared by all programs
 * (see conf.h; every key is documented in milter-suppress.conf(5)).
 *
 * libconfuse parses; we validate each value where it is parsed, so that
 * an error names the file, the line and the key.  The result is copied
 * into a plain struct so that the programs never see libconfuse.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <confuse.h>

#include "addr.h"
#include "conf.h"
#include "duration.h"
#include "log.h"
#include "tenant.h"

#define DEFAULT_STORE      LOCALSTATEDIR "/lib/milter-suppress"
#define DEFAULT_SOCKET     "unix:" RUNSTATEDIR "/milter-suppress/milter.sock"
#define DEFAULT_QUARANTINE LOCALSTATEDIR "/spool/milter-suppress/quarantine"
#define DEFAULT_REJECT_TEXT "Recipient address suppressed (%{reason}, expires %{expiry})"

/*
 * libconfuse reports errors through a callback without user data, so the
 * first error of a load is kept here.  Loads are rare (start, SIGHUP) and
 * serialized by conf_lock.
 */
static pthread_mutex_t conf_lock = PTHREAD_MUTEX_INITIALIZER;
static char conf_error_text[SUP_ERR_TEXT_MAX];
static const char *conf_loading_path;

static void conf_error_callback(cfg_t *cfg, const char *fmt, va_list ap)
{
    char message[SUP_ERR_TEXT_MAX];
    const char *file = (cfg != NULL && cfg->filename != NULL) ? cfg->filename : conf_loading_path;

    if (conf_error_text[0] != '\0')
        return;
    vsnprintf(message, sizeof(message), fmt, ap);
    if (cfg != NULL && cfg->line > 0)
        snprintf(conf_error_text, sizeof(conf_error_text), "%s:%d: %s", file, cfg->line, message);
    else
        snprintf(conf_error_text, sizeof(conf_error_text), "%s: %s", file, message);
}

/* The "section.key" name of an option, for messages. */
static const char *opt_display_name(cfg_t *cfg, cfg_opt_t *opt, char *buf, size_t len)
{
    if (cfg != NULL && cfg->name != NULL && strcmp(cfg->name, "root") != 0)
        snprintf(buf, len, "%s.%s", cfg->name, opt->name);
    else
        snprintf(buf, len, "%s", opt->name);
    return buf;
}

static int validate_duration(cfg_t *cfg, cfg_opt_t *opt, bool never_ok)
{
    const char *value = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);
    char name[128];
    long seconds;
    SUP_ERR err;

    if (duration_parse(value, &seconds, &err) < 0) {
        cfg_error(cfg, "%s: %s", opt_display_name(cfg, opt, name, sizeof(name)), err.text);
        return -1;
    }
    if (seconds == DURATION_NEVER && !never_ok) {
        cfg_error(cfg, "%s: \"never\" is not allowed here", opt_display_name(cfg, opt, name, sizeof(name)));
        return -1;
    }
    return 0;
}

static int validate_duration_finite(cfg_t *cfg, cfg_opt_t *opt)
{
    return validate_duration(cfg, opt, false);
}

static int validate_duration_or_never(cfg_t *cfg, cfg_opt_t *opt)
{
    return validate_duration(cfg, opt, true);
}

/* A timeout: finite and at least a second (0 would close at once). */
static int validate_timeout(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, cfg_opt_size(opt) - 1);
    char name[128];
    long seconds;

    if (validate_duration(cfg, opt, false) < 0)
        return -1;
    if (duration_parse(value, &seconds, NULL) == 0 && seconds < 1) {
        cfg_error(cfg, "%s: \"%s\" is shorter than a second", opt_display_name(cfg, opt, name, sizeof(name)),
                  value);
        return -1;
    }
    return 0;
}

/* A value that must be one of a fixed set of words. */
static int validate_word(cfg_t *cfg, cfg_opt_t *opt, const char *const *words)
{
    const char *value = cfg_opt_getnstr(opt, 0);
    char name[128];
    char list[256] = "";
    size_t i;

    for (i = 0; words[i] != NULL; i++) {
        if (strcasecmp(value, words[i]) == 0)
            return 0;
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", words[i]);
    }
    cfg_error(cfg, "%s: \"%s\" is not one of %s", opt_display_name(cfg, opt, name, sizeof(name)), value, list);
    return -1;
}

static const char *const store_error_actions[] = { "accept", "tempfail", "reject", NULL };

static int validate_on_store_error(cfg_t *cfg, cfg_opt_t *opt)
{
    return validate_word(cfg, opt, store_error_actions);
}

static const char *const trust_names[] = { "sent-or-signed", "signed", "sent", "any", NULL };

static int validate_trust(cfg_t *cfg, cfg_opt_t *opt)
{
    return validate_word(cfg, opt, trust_names);
}

static int validate_tenant(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, 0);
    enum tenant_mode mode;
    char macro[TENANT_MACRO_MAX];

    if (tenant_mode_parse(value, &mode, macro, sizeof(macro)) == 0)
        return 0;
    cfg_error(cfg, "tenant: \"%s\" is not one of none, sasl-login, sender-domain, macro:NAME",
              value);
    return -1;
}

static const char *const tenant_rule_names[] = { "global", "tenant-or-global",
                                                 "tenant-or-record", NULL };

static int validate_tenant_rule(cfg_t *cfg, cfg_opt_t *opt)
{
    return validate_word(cfg, opt, tenant_rule_names);
}

static int validate_facility(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, 0);
    char name[128];

    if (log_facility_from_name(value) >= 0)
        return 0;
    cfg_error(cfg, "%s: unknown syslog facility \"%s\" (mail, daemon, user, local0..local7)",
              opt_display_name(cfg, opt, name, sizeof(name)), value);
    return -1;
}

static int validate_socket(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, 0);
    char name[128];

    if ((strncmp(value, "unix:", 5) == 0 && value[5] == '/')
        || (strncmp(value, "local:", 6) == 0 && value[6] == '/')
        || ((strncmp(value, "inet:", 5) == 0 || strncmp(value, "inet6:", 6) == 0) && strchr(value, '@') != NULL))
        return 0;
    cfg_error(cfg, "%s: \"%s\" is not unix:/path, inet:port@host or inet6:port@host",
              opt_display_name(cfg, opt, name, sizeof(name)), value);
    return -1;
}

/* policy-service.socket: empty (no policy service) or as milter.socket. */
static int validate_optional_socket(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, 0);

    if (value == NULL || *value == '\0')
        return 0;
    return validate_socket(cfg, opt);
}

static int validate_mode(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, 0);
    char name[128];
    char *end;
    long mode = strtol(value, &end, 8);

    if (*value != '\0' && *end == '\0' && mode >= 0 && mode <= 0777)
        return 0;
    cfg_error(cfg, "%s: \"%s\" is not an octal file mode such as 0660", opt_display_name(cfg, opt, name, sizeof(name)),
              value);
    return -1;
}

static int validate_reply_code(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, 0);
    char name[128];

    if (strlen(value) == 3 && (value[0] == '4' || value[0] == '5') && value[1] >= '0' && value[1] <= '9'
        && value[2] >= '0' && value[2] <= '9')
        return 0;
    cfg_error(cfg, "%s: \"%s\" is not a 4xx or 5xx SMTP reply code", opt_display_name(cfg, opt, name, sizeof(name)),
              value);
    return -1;
}

static int validate_xcode(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, 0);
    char name[128];
    unsigned a, b, c;
    int n = 0;

    if (sscanf(value, "%1u.%3u.%3u%n", &a, &b, &c, &n) == 3 && value[n] == '\0' && (a == 4 || a == 5))
        return 0;
    cfg_error(cfg, "%s: \"%s\" is not an enhanced status code such as 5.1.1",
              opt_display_name(cfg, opt, name, sizeof(name)), value);
    return -1;
}

static int validate_reject_text(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, 0);
    char name[128];

    if (*value != '\0' && strlen(value) <= 400)
        return 0;
    cfg_error(cfg, "%s: must be 1 to 400 characters", opt_display_name(cfg, opt, name, sizeof(name)));
    return -1;
}

/* Sizes: bytes, or with k/m/g (1024-based). */
static int parse_size(const char *value, long *bytes)
{
    char *end;
    long n;
    long factor = 1;

    errno = 0;
    n = strtol(value, &end, 10);
    if (errno != 0 || end == value || n <= 0)
        return -1;
    if (*end != '\0') {
        switch (*end == '\0' ? 0 : (end[1] == '\0' ? end[0] | 0x20 : 0)) {
        case 'k':
            factor = 1024L;
            break;
        case 'm':
            factor = 1024L * 1024;
            break;
        case 'g':
            factor = 1024L * 1024 * 1024;
            break;
        default:
            return -1;
        }
    }
    if (n > LONG_MAX / factor)
        return -1;
    *bytes = n * factor;
    return 0;
}

static int validate_size(cfg_t *cfg, cfg_opt_t *opt)
{
    long bytes;
    char name[128];

    if (parse_size(cfg_opt_getnstr(opt, 0), &bytes) == 0)
        return 0;
    cfg_error(cfg, "%s: \"%s\" is not a size such as 10M", opt_display_name(cfg, opt, name, sizeof(name)),
              cfg_opt_getnstr(opt, 0));
    return -1;
}

static int validate_positive_int(cfg_t *cfg, cfg_opt_t *opt)
{
    char name[128];
    long value = cfg_opt_getnint(opt, 0);

    if (value > 0 && value <= 1000000)
        return 0;
    cfg_error(cfg, "%s: %ld is not a number from 1 to 1000000", opt_display_name(cfg, opt, name, sizeof(name)), value);
    return -1;
}

static int validate_reason_list(cfg_t *cfg, cfg_opt_t *opt)
{
    char name[128];
    unsigned i;

    for (i = 0; i < cfg_opt_size(opt); i++) {
        const char *reason = cfg_opt_getnstr(opt, i);
        const char *p;

        for (p = reason; *p != '\0' && *p >= 'a' && *p <= 'z'; p++)
            ;
        if (*reason == '\0' || *p != '\0') {
            cfg_error(cfg, "%s: \"%s\" is not a reason name such as userunknown or blocked",
                      opt_display_name(cfg, opt, name, sizeof(name)), reason);
            return -1;
        }
    }
    return 0;
}

/* "*", a domain, or ".domain" for its subdomains. */
static int validate_domain_list(cfg_t *cfg, cfg_opt_t *opt)
{
    char name[128];

    for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
        const char *d = cfg_opt_getnstr(opt, i);
        const char *p = *d == '.' ? d + 1 : d;

        if (strcmp(d, "*") == 0)
            continue;
        for (; *p != '\0' && (isalnum((unsigned char) *p) || *p == '-' || *p == '.'); p++)
            ;
        if (*d == '\0' || *p != '\0' || d[strlen(d) - 1] == '.') {
            cfg_error(cfg, "%s: \"%s\" is not \"*\", a domain, or .domain for its subdomains",
                      opt_display_name(cfg, opt, name, sizeof(name)), d);
            return -1;
        }
    }
    return 0;
}

/* Up to 365 days: the signed day is kept modulo 1000. */
static int validate_validity(cfg_t *cfg, cfg_opt_t *opt)
{
    long seconds;
    char name[128];

    if (validate_duration(cfg, opt, false) < 0)
        return -1;
    (void) duration_parse(cfg_opt_getnstr(opt, 0), &seconds, NULL);
    if (seconds >= 86400 && seconds <= 365L * 86400)
        return 0;
    cfg_error(cfg, "%s: must be from 1d to 365d", opt_display_name(cfg, opt, name, sizeof(name)));
    return -1;
}

/* ---- replication ---- */

static const char *const rep_role_names[] = { "master", "replica", "elect", NULL };
static const char *const rep_ack_names[] = { "none", "one", "quorum", "all", NULL };

static int validate_rep_role(cfg_t *cfg, cfg_opt_t *opt)
{
    return validate_word(cfg, opt, rep_role_names);
}

static int validate_rep_ack(cfg_t *cfg, cfg_opt_t *opt)
{
    return validate_word(cfg, opt, rep_ack_names);
}

static int validate_rep_priority(cfg_t *cfg, cfg_opt_t *opt)
{
    char name[128];
    long value = cfg_opt_getnint(opt, 0);

    if (value >= 0 && value <= 1000000)
        return 0;
    cfg_error(cfg, "%s: %ld is not a number from 0 to 1000000", opt_display_name(cfg, opt, name, sizeof(name)),
              value);
    return -1;
}

/* outbox-max: megabytes a replica's outbox may hold (store_outbox.h). */
static int validate_rep_outbox_max(cfg_t *cfg, cfg_opt_t *opt)
{
    char name[128];
    long value = cfg_opt_getnint(opt, 0);

    if (value >= 1 && value <= 1000000)
        return 0;
    cfg_error(cfg, "%s: %ld is not a number of megabytes from 1 to 1000000",
              opt_display_name(cfg, opt, name, sizeof(name)), value);
    return -1;
}

/* local: empty (no replication) or an IP address and port. */
static int validate_rep_local(cfg_t *cfg, cfg_opt_t *opt)
{
    const char *value = cfg_opt_getnstr(opt, 0);
    struct rep_site site;
    unsigned char bin[16];
    char name[128];
    SUP_ERR err;

    if (value == NULL || *value == '\0')
        return 0;
    if (conf_rep_site_parse(value, &site, &err) < 0) {
        cfg_error(cfg, "%s: %s", opt_display_name(cfg, opt, name, sizeof(name)), err.text);
        return -1;
    }
    if (inet_pton(AF_INET, site.host, bin) != 1 && inet_pton(AF_INET6, site.host, bin) != 1) {
        cfg_error(cfg, "%s: \"%s\" is not an IP address: the replication address is bound as given",
                  opt_display_name(cfg, opt, name, sizeof(name)), site.host);
        return -1;
    }
    return 0;
}

static int validate_rep_peers(cfg_t *cfg, cfg_opt_t *opt)
{
    struct rep_site site;
    char name[128];
    SUP_ERR err;

    for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
        if (conf_rep_site_parse(cfg_opt_getnstr(opt, i), &site, &err) < 0) {
            cfg_error(cfg, "%s: %s", opt_display_name(cfg, opt, name, sizeof(name)), err.text);
            return -1;
        }
    }
    return 0;
}

int conf_rep_site_parse(const char *text, struct rep_site *site, SUP_ERR *err)
{
    const char *colon, *host = text;
    size_t hlen;
    char *end;
    long port;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':')
            return sup_err_set(err, SUP_ERR_CONFIG, "\"%s\" is not [address]:port", text);
        host = text + 1;
        hlen = (size_t) (close - host);
        colon = close + 1;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || memchr(text, ':', (size_t) (colon - text)) != NULL)
            return sup_err_set(err, SUP_ERR_CONFIG, "\"%s\" is not host:port (an IPv6 address goes in"
                               " brackets: [::1]:7600)", text);
        hlen = (size_t) (colon - text);
    }
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 1 || port > 65535)
        return sup_err_set(err, SUP_ERR_CONFIG, "\"%s\": the port is not a number from 1 to 65535", text);
    if (hlen == 0 || hlen > REP_HOST_MAX)
        return sup_err_set(err, SUP_ERR_CONFIG, "\"%s\": no host, or a host longer than %d characters", text,
                           REP_HOST_MAX);
    for (size_t i = 0; i < hlen; i++)
        if (!isalnum((unsigned char) host[i]) && strchr("-.:_", host[i]) == NULL)
            return sup_err_set(err, SUP_ERR_CONFIG, "\"%s\": the host has a '%c'", text, host[i]);
    memcpy(site->host, host, hlen);
    site->host[hlen] = '\0';
    site->port = (unsigned) port;
    return 0;
}

bool conf_rep_address_private(const char *host)
{
    unsigned char a[16];

    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127 || a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16)
            || (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254);
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char loopback[16] = { [15] = 1 };

        return memcmp(a, loopback, 16) == 0 || (a[0] & 0xfe) == 0xfc
            || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
    }
    return false;
}

const char *conf_rep_role_name(enum rep_role role)
{
    return (unsigned) role < 3 ? rep_role_names[role] : "?";
}

const char *conf_rep_ack_name(enum rep_ack_policy ack)
{
    return (unsigned) ack < 4 ? rep_ack_names[ack] : "?";
}

static cfg_opt_t milter_opts[] = {
    CFG_STR("socket", DEFAULT_SOCKET, CFGF_NONE),
    CFG_STR("socket-mode", "0660", CFGF_NONE),
    CFG_STR("socket-group", "", CFGF_NONE),
    CFG_STR("user", "", CFGF_NONE),
    CFG_STR("pid-file", "", CFGF_NONE),
    CFG_STR("syslog-facility", "mail", CFGF_NONE),
    CFG_STR("reject-code", "550", CFGF_NONE),
    CFG_STR("reject-xcode", "5.1.1", CFGF_NONE),
    CFG_STR("reject-text", DEFAULT_REJECT_TEXT, CFGF_NONE),
    CFG_STR("on-store-error", "accept", CFGF_NONE),
    CFG_BOOL("dry-run", cfg_false, CFGF_NONE),
    CFG_BOOL("remove-non-smtp", cfg_true, CFGF_NONE),
    CFG_STR("stats-interval", "10s", CFGF_NONE),
    CFG_STR("timeout", "10m", CFGF_NONE),
    CFG_END()
};

static cfg_opt_t policy_opts[] = {
    CFG_STR("hard-bounce-ttl", "7d", CFGF_NONE),
    CFG_STR("soft-escalated-ttl", "7d", CFGF_NONE),
    CFG_INT("soft-bounce-limit", 5, CFGF_NONE),
    CFG_STR("soft-bounce-window", "7d", CFGF_NONE),
    CFG_STR("complaint-ttl", "never", CFGF_NONE),
    CFG_STR("unsubscribe-ttl", "never", CFGF_NONE),
    CFG_STR("manual-ttl", "never", CFGF_NONE),
    CFG_STR_LIST("never-suppress", "{}", CFGF_NONE),
    CFG_BOOL("suppress-forwarded", cfg_false, CFGF_NONE),
    CFG_STR("timeline-retention", "90d", CFGF_NONE),
    CFG_INT("timeline-max-events", 100, CFGF_NONE),
    CFG_END()
};

static cfg_opt_t ingest_opts[] = {
    CFG_STR("quarantine", DEFAULT_QUARANTINE, CFGF_NONE),
    CFG_STR("max-message-size", "10M", CFGF_NONE),
    CFG_INT("max-mime-depth", 20, CFGF_NONE),
    CFG_STR("max-line-length", "256k", CFGF_NONE),
    CFG_INT("max-header-count", 10000, CFGF_NONE),
    CFG_INT("max-recipients", 1000, CFGF_NONE),
    CFG_STR("verp-pattern", "", CFGF_NONE),
    CFG_STR("seen-retention", "30d", CFGF_NONE),
    CFG_STR("trust", "sent-or-signed", CFGF_NONE),
    CFG_END()
};

static cfg_opt_t signing_opts[] = {
    CFG_BOOL("enable", cfg_true, CFGF_NONE),
    CFG_STR("key-file", "", CFGF_NONE),
    CFG_STR("bounce-address", "", CFGF_NONE),
    CFG_STR_LIST("sign-domains", "{\"*\"}", CFGF_NONE),
    CFG_STR("validity", "14d", CFGF_NONE),
    CFG_END()
};

static cfg_opt_t ledger_opts[] = {
    CFG_BOOL("enable", cfg_true, CFGF_NONE),
    CFG_STR("retention", "14d", CFGF_NONE),
    CFG_END()
};

/* Absent or with an empty socket: no policy service. */
static cfg_opt_t policy_service_opts[] = {
    CFG_STR("socket", "", CFGF_NONE),
    CFG_STR("socket-mode", "0660", CFGF_NONE),
    CFG_STR("socket-group", "", CFGF_NONE),
    CFG_STR("idle-timeout", "10m", CFGF_NONE),
    CFG_STR("request-timeout", "10s", CFGF_NONE),
    CFG_END()
};

static cfg_opt_t tenant_scope_opts[] = {
    CFG_STR("hard-bounce", "global", CFGF_NONE),
    CFG_STR("soft-bounce-escalated", "global", CFGF_NONE),
    CFG_STR("complaint", "tenant-or-record", CFGF_NONE),
    CFG_STR("unsubscribe", "tenant-or-record", CFGF_NONE),
    CFG_END()
};

/* Absent (no key set): one host, no replication. */
static cfg_opt_t replication_opts[] = {
    CFG_STR("local", "", CFGF_NONE),
    CFG_STR_LIST("peers", "{}", CFGF_NONE),
    CFG_STR("role", "replica", CFGF_NONE),
    CFG_INT("priority", 100, CFGF_NONE),
    CFG_STR("ack-policy", "one", CFGF_NONE),
    CFG_BOOL("allow-public", cfg_false, CFGF_NONE),
    CFG_INT("outbox-max", 100, CFGF_NONE),
    CFG_END()
};

static cfg_opt_t top_opts[] = {
    CFG_STR("store", DEFAULT_STORE, CFGF_NONE),
    CFG_STR("tenant", "none", CFGF_NONE),
    CFG_SEC("tenant-scope", tenant_scope_opts, CFGF_NONE),
    CFG_SEC("milter", milter_opts, CFGF_NONE),
    CFG_SEC("policy", policy_opts, CFGF_NONE),
    CFG_SEC("ingest", ingest_opts, CFGF_NONE),
    CFG_SEC("signing", signing_opts, CFGF_NONE),
    CFG_SEC("ledger", ledger_opts, CFGF_NONE),
    CFG_SEC("policy-service", policy_service_opts, CFGF_NONE),
    CFG_SEC("replication", replication_opts, CFGF_NONE),
    CFG_END()
};

static const struct {
    const char *path;
    cfg_validate_callback_t check;
} validators[] = {
    { "milter|socket", validate_socket },
    { "milter|socket-mode", validate_mode },
    { "milter|syslog-facility", validate_facility },
    { "milter|reject-code", validate_reply_code },
    { "milter|reject-xcode", validate_xcode },
    { "milter|reject-text", validate_reject_text },
    { "milter|on-store-error", validate_on_store_error },
    { "milter|stats-interval", validate_duration_finite },
    { "milter|timeout", validate_duration_finite },
    { "policy|hard-bounce-ttl", validate_duration_or_never },
    { "policy|soft-escalated-ttl", validate_duration_or_never },
    { "policy|soft-bounce-limit", validate_positive_int },
    { "policy|soft-bounce-window", validate_duration_finite },
    { "policy|complaint-ttl", validate_duration_or_never },
    { "policy|unsubscribe-ttl", validate_duration_or_never },
    { "policy|manual-ttl", validate_duration_or_never },
    { "policy|never-suppress", validate_reason_list },
    { "policy|timeline-retention", validate_duration_finite },
    { "policy|timeline-max-events", validate_positive_int },
    { "ingest|max-message-size", validate_size },
    { "ingest|max-mime-depth", validate_positive_int },
    { "ingest|max-line-length", validate_size },
    { "ingest|max-header-count", validate_positive_int },
    { "ingest|max-recipients", validate_positive_int },
    { "ingest|seen-retention", validate_duration_finite },
    { "ingest|trust", validate_trust },
    { "signing|sign-domains", validate_domain_list },
    { "signing|validity", validate_validity },
    { "ledger|retention", validate_duration_finite },
    { "policy-service|socket", validate_optional_socket },
    { "policy-service|socket-mode", validate_mode },
    { "policy-service|idle-timeout", validate_timeout },
    { "policy-service|request-timeout", validate_timeout },
    { "tenant", validate_tenant },
    { "tenant-scope|hard-bounce", validate_tenant_rule },
    { "tenant-scope|soft-bounce-escalated", validate_tenant_rule },
    { "tenant-scope|complaint", validate_tenant_rule },
    { "tenant-scope|unsubscribe", validate_tenant_rule },
    { "replication|local", validate_rep_local },
    { "replication|peers", validate_rep_peers },
    { "replication|role", validate_rep_role },
    { "replication|priority", validate_rep_priority },
    { "replication|ack-policy", validate_rep_ack },
    { "replication|outbox-max", validate_rep_outbox_max },
};

/* Copy a string option; "" becomes NULL when empty_is_null. */
static char *copy_str(cfg_t *sec, const char *key, bool empty_is_null)
{
    const char *value = cfg_getstr(sec, key);

    if (value == NULL || (empty_is_null && *value == '\0'))
        return NULL;
    return strdup(value);
}

/* Already validated: cannot fail. */
static long get_duration(cfg_t *sec, const char *key)
{
    long seconds = 0;

    (void) duration_parse(cfg_getstr(sec, key), &seconds, NULL);
    return seconds;
}

static void copy_milter(cfg_t *sec, struct milter_config *m)
{
    long mode = strtol(cfg_getstr(sec, "socket-mode"), NULL, 8);
    const char *action = cfg_getstr(sec, "on-store-error");

    m->socket = copy_str(sec, "socket", false);
    m->socket_mode = (mode_t) mode;
    m->socket_group = copy_str(sec, "socket-group", true);
    m->user = copy_str(sec, "user", true);
    m->pid_file = copy_str(sec, "pid-file", true);
    m->syslog_facility_name = copy_str(sec, "syslog-facility", false);
    m->syslog_facility = log_facility_from_name(m->syslog_facility_name);
    m->reject_code = copy_str(sec, "reject-code", false);
    m->reject_xcode = copy_str(sec, "reject-xcode", false);
    m->reject_text = copy_str(sec, "reject-text", false);
    m->on_store_error = strcasecmp(action, "reject") == 0     ? STORE_ERROR_REJECT
                        : strcasecmp(action, "tempfail") == 0 ? STORE_ERROR_TEMPFAIL
                                                              : STORE_ERROR_ACCEPT;
    m->dry_run = cfg_getbool(sec, "dry-run");
    m->remove_non_smtp = cfg_getbool(sec, "remove-non-smtp");
    m->stats_interval = get_duration(sec, "stats-interval");
    m->timeout = (int) get_duration(sec, "timeout");
}

static int copy_policy(cfg_t *sec, struct policy_config *p)
{
    unsigned i;

    p->hard_bounce_ttl = get_duration(sec, "hard-bounce-ttl");
    p->soft_escalated_ttl = get_duration(sec, "soft-escalated-ttl");
    p->soft_bounce_limit = (int) cfg_getint(sec, "soft-bounce-limit");
    p->soft_bounce_window = get_duration(sec, "soft-bounce-window");
    p->complaint_ttl = get_duration(sec, "complaint-ttl");
    p->unsubscribe_ttl = get_duration(sec, "unsubscribe-ttl");
    p->manual_ttl = get_duration(sec, "manual-ttl");
    p->suppress_forwarded = cfg_getbool(sec, "suppress-forwarded");
    p->timeline_retention = get_duration(sec, "timeline-retention");
    p->timeline_max_events = (int) cfg_getint(sec, "timeline-max-events");
    p->never_suppress_count = cfg_size(sec, "never-suppress");
    p->never_suppress = calloc(p->never_suppress_count + 1, sizeof(char *));
    if (p->never_suppress == NULL)
        return -1;
    for (i = 0; i < p->never_suppress_count; i++)
        if ((p->never_suppress[i] = strdup(cfg_getnstr(sec, "never-suppress", i))) == NULL)
            return -1;
    return 0;
}

static void copy_ingest(cfg_t *sec, struct ingest_config *in)
{
    in->quarantine = copy_str(sec, "quarantine", false);
    (void) parse_size(cfg_getstr(sec, "max-message-size"), &in->max_message_size);
    in->max_mime_depth = (int) cfg_getint(sec, "max-mime-depth");
    (void) parse_size(cfg_getstr(sec, "max-line-length"), &in->max_line_length);
    in->max_header_count = (int) cfg_getint(sec, "max-header-count");
    in->max_recipients = (int) cfg_getint(sec, "max-recipients");
    in->verp_pattern = copy_str(sec, "verp-pattern", true);
    in->seen_retention = get_duration(sec, "seen-retention");
    (void) conf_trust_parse(cfg_getstr(sec, "trust"), &in->trust);
}

static int copy_signing(cfg_t *sec, const char *store, struct signing_config *s)
{
    s->enable = cfg_getbool(sec, "enable");
    s->key_file = copy_str(sec, "key-file", true);
    if (s->key_file == NULL && asprintf(&s->key_file, "%s/signing.key", store) < 0)
        s->key_file = NULL;
    s->bounce_address = copy_str(sec, "bounce-address", true);
    s->validity = get_duration(sec, "validity");
    s->sign_domains_count = cfg_size(sec, "sign-domains");
    s->sign_domains = calloc(s->sign_domains_count + 1, sizeof(char *));
    if (s->sign_domains == NULL || s->key_file == NULL)
        return -1;
    for (size_t i = 0; i < s->sign_domains_count; i++)
        if ((s->sign_domains[i] = strdup(cfg_getnstr(sec, "sign-domains", (unsigned) i))) == NULL)
            return -1;
    return 0;
}

static int copy_tenant(cfg_t *cfg, struct tenant_config *t)
{
    cfg_t *sec = cfg_getsec(cfg, "tenant-scope");
    char macro[TENANT_MACRO_MAX] = "";

    (void) tenant_mode_parse(cfg_getstr(cfg, "tenant"), &t->mode, macro, sizeof(macro));
    if (t->mode == TENANT_MACRO && (t->macro = strdup(macro)) == NULL)
        return -1;
    (void) tenant_rule_parse(cfg_getstr(sec, "hard-bounce"), &t->hard_bounce);
    (void) tenant_rule_parse(cfg_getstr(sec, "soft-bounce-escalated"), &t->soft_escalated);
    (void) tenant_rule_parse(cfg_getstr(sec, "complaint"), &t->complaint);
    (void) tenant_rule_parse(cfg_getstr(sec, "unsubscribe"), &t->unsubscribe);
    return 0;
}

/* Validated already; the section is there when any key of it was set. */
static int copy_replication(cfg_t *sec, struct replication_config *r)
{
    static const char *const keys[] = { "local", "peers", "role", "priority", "ack-policy", "allow-public" };
    SUP_ERR ignored;

    r->enable = false;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        cfg_opt_t *opt = cfg_getopt(sec, keys[i]);

        if (opt != NULL && (opt->flags & CFGF_MODIFIED))
            r->enable = true;
    }
    if (!r->enable)
        return 0;
    if (*cfg_getstr(sec, "local") != '\0')
        (void) conf_rep_site_parse(cfg_getstr(sec, "local"), &r->local, &ignored);
    r->peer_count = cfg_size(sec, "peers");
    if ((r->peers = calloc(r->peer_count + 1, sizeof(*r->peers))) == NULL)
        return -1;
    for (size_t i = 0; i < r->peer_count; i++)
        (void) conf_rep_site_parse(cfg_getnstr(sec, "peers", (unsigned) i), &r->peers[i], &ignored);
    for (int i = 0; rep_role_names[i] != NULL; i++)
        if (strcasecmp(cfg_getstr(sec, "role"), rep_role_names[i]) == 0)
            r->role = (enum rep_role) i;
    for (int i = 0; rep_ack_names[i] != NULL; i++)
        if (strcasecmp(cfg_getstr(sec, "ack-policy"), rep_ack_names[i]) == 0)
            r->ack_policy = (enum rep_ack_policy) i;
    r->priority = (int) cfg_getint(sec, "priority");
    r->allow_public = cfg_getbool(sec, "allow-public");
    r->outbox_max_mb = (long) cfg_getint(sec, "outbox-max");
    return 0;
}

static int copy_config(cfg_t *cfg, const char *path, struct sup_config *out)
{
    cfg_t *sec;

    out->path = strdup(path);
    out->store = copy_str(cfg, "store", false);
    copy_milter(cfg_getsec(cfg, "milter"), &out->milter);
    if (copy_policy(cfg_getsec(cfg, "policy"), &out->policy) < 0)
        return -1;
    copy_ingest(cfg_getsec(cfg, "ingest"), &out->ingest);
    if (out->store == NULL || copy_signing(cfg_getsec(cfg, "signing"), out->store, &out->signing) < 0)
        return -1;
    out->ledger.enable = cfg_getbool(cfg_getsec(cfg, "ledger"), "enable");
    out->ledger.retention = get_duration(cfg_getsec(cfg, "ledger"), "retention");
    sec = cfg_getsec(cfg, "policy-service");
    out->policy_service.socket = copy_str(sec, "socket", true);
    out->policy_service.socket_mode = (mode_t) strtol(cfg_getstr(sec, "socket-mode"), NULL, 8);
    out->policy_service.socket_group = copy_str(sec, "socket-group", true);
    out->policy_service.idle_timeout = get_duration(sec, "idle-timeout");
    out->policy_service.request_timeout = get_duration(sec, "request-timeout");
    if (copy_tenant(cfg, &out->tenant) < 0)
        return -1;
    if (copy_replication(cfg_getsec(cfg, "replication"), &out->replication) < 0)
        return -1;
    if (out->path == NULL || out->store == NULL || out->milter.socket == NULL || out->milter.reject_text == NULL
        || out->ingest.quarantine == NULL)
        return -1;
    return 0;
}

/*
 * Berkeley DB's replication traffic has neither encryption nor
 * authentication: a site listens on a private address unless the
 * operator says otherwise.
 */
static int check_replication(const struct sup_config *c, SUP_ERR *err)
{
    const struct replication_config *r = &c->replication;

    if (!r->enable)
        return 0;
    if (r->local.host[0] == '\0')
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: replication.local: this site's address (ip:port) is"
                           " required in a replication section", c->path);
    if (r->peer_count == 0)
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: replication.peers: at least one other site is"
                           " required", c->path);
    for (size_t i = 0; i < r->peer_count; i++)
        if (strcasecmp(r->peers[i].host, r->local.host) == 0 && r->peers[i].port == r->local.port)
            return sup_err_set(err, SUP_ERR_CONFIG, "%s: replication.peers: %s:%u is this site"
                               " (replication.local)", c->path, r->local.host, r->local.port);
    if (!r->allow_public && !conf_rep_address_private(r->local.host))
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: replication.local: %s is not a loopback or private"
                           " address; replication traffic is neither encrypted nor authenticated: bind it"
                           " to a private network or a tunnel, or set allow-public = true if you know",
                           c->path, r->local.host);
    if (r->role == REP_ROLE_ELECT && r->priority == 0)
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: replication.priority: 0 cannot win an election;"
                           " use role = \"replica\" for a site that is never master, or a priority"
                           " above 0", c->path);
    return 0;
}

/* Checks across keys, once everything is parsed. */
static int check_consistency(const struct sup_config *c, SUP_ERR *err)
{
    if (check_replication(c, err) < 0)
        return -1;
    if (c->store[0] != '/')
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: store: \"%s\" must be an absolute path", c->path, c->store);
    if (c->milter.reject_code[0] != c->milter.reject_xcode[0])
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: milter.reject-xcode \"%s\" does not match reject-code \"%s\"",
                           c->path, c->milter.reject_xcode, c->milter.reject_code);
    if (c->policy_service.socket != NULL && strcmp(c->policy_service.socket, c->milter.socket) == 0)
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: policy-service.socket: \"%s\" is milter.socket too",
                           c->path, c->policy_service.socket);
    if (c->ingest.quarantine[0] != '/')
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: ingest.quarantine: \"%s\" must be an absolute path", c->path,
                           c->ingest.quarantine);
    if (c->signing.key_file[0] != '/')
        return sup_err_set(err, SUP_ERR_CONFIG, "%s: signing.key-file: \"%s\" must be an absolute path", c->path,
                           c->signing.key_file);
    if (c->signing.bounce_address != NULL) {
        char addr[ADDR_MAX + 1];
        SUP_ERR aerr;

        if (addr_normalize(c->signing.bounce_address, addr, sizeof(addr), &aerr) < 0
            || strchr(addr, '"') != NULL || strlen(addr) > 64)
            return sup_err_set(err, SUP_ERR_CONFIG, "%s: signing.bounce-address: \"%s\" is not a plain address"
                               " of at most 64 characters", c->path, c->signing.bounce_address);
    }
    return 0;
}

static int parse_file(cfg_t *cfg, const char *path, bool allow_missing, SUP_ERR *err)
{
    int rc;

    if (allow_missing && access(path, F_OK) != 0 && errno == ENOENT)
        return 0;
    rc = cfg_parse(cfg, path);
    if (rc == CFG_FILE_ERROR)
        return sup_err_set(err, errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_CONFIG, "cannot read config file %s: %s",
                           path, strerror(errno));
    if (rc != CFG_SUCCESS)
        return sup_err_set(err, SUP_ERR_CONFIG, "%s",
                           conf_error_text[0] ? conf_error_text : "config file has a syntax error");
    return 0;
}

int conf_load(const char *path, bool allow_missing, struct sup_config **out, SUP_ERR *err)
{
    struct sup_config *result;
    cfg_t *cfg;
    size_t i;
    int rc = -1;

    if (path == NULL)
        path = CONFIG_DEFAULT_PATH;
    *out = NULL;
    if ((result = calloc(1, sizeof(*result))) == NULL)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "out of memory");
    pthread_mutex_lock(&conf_lock);
    conf_error_text[0] = '\0';
    conf_loading_path = path;
    if ((cfg = cfg_init(top_opts, CFGF_NONE)) == NULL) {
        sup_err_set(err, SUP_ERR_SOFTWARE, "out of memory");
        goto done;
    }
    cfg_set_error_function(cfg, conf_error_callback);
    for (i = 0; i < sizeof(validators) / sizeof(validators[0]); i++)
        cfg_set_validate_func(cfg, validators[i].path, validators[i].check);
    if (parse_file(cfg, path, allow_missing, err) < 0)
        goto done;
    if (copy_config(cfg, path, result) < 0) {
        sup_err_set(err, SUP_ERR_SOFTWARE, "out of memory loading %s", path);
        goto done;
    }
    if (check_consistency(result, err) < 0)
        goto done;
    *out = result;
    result = NULL;
    rc = 0;
done:
    if (cfg != NULL)
        cfg_free(cfg);
    pthread_mutex_unlock(&conf_lock);
    conf_free(result);
    return rc;
}

void conf_free(struct sup_config *c)
{
    size_t i;

    if (c == NULL)
        return;
    free(c->path);
    free(c->store);
    free(c->milter.socket);
    free(c->milter.socket_group);
    free(c->milter.user);
    free(c->milter.pid_file);
    free(c->milter.syslog_facility_name);
    free(c->milter.reject_code);
    free(c->milter.reject_xcode);
    free(c->milter.reject_text);
    if (c->policy.never_suppress != NULL)
        for (i = 0; i < c->policy.never_suppress_count; i++)
            free(c->policy.never_suppress[i]);
    free(c->policy.never_suppress);
    free(c->ingest.quarantine);
    free(c->ingest.verp_pattern);
    if (c->signing.sign_domains != NULL)
        for (i = 0; i < c->signing.sign_domains_count; i++)
            free(c->signing.sign_domains[i]);
    free(c->signing.sign_domains);
    free(c->signing.key_file);
    free(c->signing.bounce_address);
    free(c->policy_service.socket);
    free(c->policy_service.socket_group);
    free(c->tenant.macro);
    free(c->replication.peers);
    free(c);
}

bool conf_never_suppresses(const struct sup_config *c, const char *reason)
{
    size_t i;

    if (reason == NULL)
        return false;
    for (i = 0; i < c->policy.never_suppress_count; i++)
        if (strcmp(c->policy.never_suppress[i], reason) == 0)
            return true;
    return false;
}

bool conf_signs_domain(const struct sup_config *c, const char *domain)
{
    size_t dlen = domain != NULL ? strlen(domain) : 0;

    if (!c->signing.enable || dlen == 0)
        return false;
    for (size_t i = 0; i < c->signing.sign_domains_count; i++) {
        const char *d = c->signing.sign_domains[i];
        size_t len = strlen(d);

        if (strcmp(d, "*") == 0 || strcasecmp(d, domain) == 0)
            return true;
        /* ".example.com": its subdomains */
        if (d[0] == '.' && dlen > len && strcasecmp(domain + dlen - len, d) == 0)
            return true;
    }
    return false;
}

const char *conf_trust_name(enum ingest_trust trust)
{
    return (unsigned) trust < sizeof(trust_names) / sizeof(trust_names[0]) - 1 ? trust_names[trust] : "?";
}

int conf_trust_parse(const char *name, enum ingest_trust *trust)
{
    static const enum ingest_trust values[] = { TRUST_SENT_OR_SIGNED, TRUST_SIGNED, TRUST_SENT, TRUST_ANY };

    for (size_t i = 0; name != NULL && trust_names[i] != NULL; i++) {
        if (strcasecmp(name, trust_names[i]) == 0) {
            *trust = values[i];
            return 0;
        }
    }
    return -1;
}
