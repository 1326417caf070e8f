/*
 * conf.h: the one configuration file shared by milter-suppress,
 * suppress-ingest and suppressctl (libconfuse syntax).  Documented key by
 * key in milter-suppress.conf(5); keep the two in step.
 *
 * conf_load() validates everything: an unknown key, a bad value or an
 * unreadable file is an error whose text names the file, line and key.
 */
#ifndef CONF_H
#define CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "sup_err.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR "/var"
#endif
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#define CONFIG_DEFAULT_PATH SYSCONFDIR "/milter-suppress/milter-suppress.conf"

enum store_error_action {
    STORE_ERROR_ACCEPT,         /* let the recipient through */
    STORE_ERROR_TEMPFAIL,       /* 451 4.3.0, the client retries */
    STORE_ERROR_REJECT,         /* 550, fail closed */
};

struct milter_config {
    char *socket;               /* "unix:/path", "inet:port@host", "inet6:port@host" */
    mode_t socket_mode;         /* for a unix socket */
    char *socket_group;         /* group of a unix socket, NULL = leave */
    char *user;                 /* drop to this user after opening the socket, NULL = stay */
    char *pid_file;             /* NULL = none */
    char *syslog_facility_name;
    int syslog_facility;        /* LOG_MAIL etc. */
    char *reject_code;          /* "550" */
    char *reject_xcode;         /* "5.1.1" */
    char *reject_text;          /* template: %{recipient} %{reason} %{expiry} %% */
    enum store_error_action on_store_error;
    bool dry_run;               /* log what would be rejected, reject nothing */
    bool remove_non_smtp;       /* ask for SMFIF_DELRCPT: non-SMTP mail's removals */
    long stats_interval;        /* seconds between counter flushes to the store */
    int timeout;                /* libmilter I/O timeout, seconds */
};

struct policy_config {
    long hard_bounce_ttl;       /* seconds; hard bounce suppression length (7d) */
    long soft_escalated_ttl;    /* seconds; suppression after soft bounces escalate (7d) */
    int soft_bounce_limit;      /* soft bounces within the window that escalate (5) */
    long soft_bounce_window;    /* seconds (7d) */
    long complaint_ttl;         /* DURATION_NEVER (default) or seconds */
    long unsubscribe_ttl;       /* DURATION_NEVER (default) or seconds */
    long manual_ttl;            /* default TTL of suppressctl add (DURATION_NEVER) */
    char **never_suppress;      /* reasons (Sisimai names) that never suppress */
    size_t never_suppress_count;
    bool suppress_forwarded;    /* suppress the original recipient of a forwarded failure */
    long timeline_retention;    /* seconds events are kept (90d) */
    int timeline_max_events;    /* events kept per address (100) */
};

/* Which bounces suppress-ingest believes (ingest.trust). */
enum ingest_trust {
    TRUST_SENT_OR_SIGNED,       /* a signed return path, or the ledger has the recipient */
    TRUST_SIGNED,               /* a valid signed return path only */
    TRUST_SENT,                 /* the ledger has the recipient for the quoted Message-ID */
    TRUST_ANY,                  /* every report (no check) */
};

struct ingest_config {
    char *quarantine;           /* directory of messages that could not be processed */
    long max_message_size;      /* bytes; larger messages are quarantined */
    int max_mime_depth;         /* deeper nesting is quarantined */
    long max_line_length;       /* bytes; a message with a longer line is quarantined */
    int max_header_count;       /* header fields; more are quarantined */
    int max_recipients;         /* recipients of one report; more are quarantined */
    char *verp_pattern;         /* e.g. "bounces+%{local}=%{domain}@example.org", NULL = none */
    long seen_retention;        /* seconds message identities are remembered (30d) */
    enum ingest_trust trust;
};

struct signing_config {
    bool enable;                /* the milter signs return paths */
    char *key_file;             /* default: signing.key in the store directory */
    char *bounce_address;       /* VERP base for single-recipient mail, NULL = prvs always */
    char **sign_domains;        /* sender domains signed: "*", "example.com", ".example.com" */
    size_t sign_domains_count;
    long validity;              /* seconds a signed return path is believed (14d) */
};

struct ledger_config {
    bool enable;                /* the milter records the mail it lets through */
    long retention;             /* seconds a message is kept (14d) */
};

/* The policy delegation door of milter-suppress (policy-service section). */
struct policy_service_config {
    char *socket;               /* as milter.socket; NULL = no policy service */
    mode_t socket_mode;         /* for a unix socket */
    char *socket_group;         /* group of a unix socket, NULL = leave */
    long idle_timeout;          /* seconds a connection may wait between requests (10m) */
    long request_timeout;       /* seconds from a request's first byte to its end (10s) */
};

/* Whose the mail is (tenant): see tenant.h. */
enum tenant_mode {
    TENANT_NONE,                /* one list for everybody (the default) */
    TENANT_SASL_LOGIN,          /* the SMTP AUTH login ({auth_authen}, sasl_username) */
    TENANT_SENDER_DOMAIN,       /* the envelope sender's domain */
    TENANT_MACRO,               /* a milter macro the postmaster sets (tenant.macro) */
};

/* Where a suppression of one reason goes (tenant-scope section). */
enum tenant_rule {
    TENANT_RULE_GLOBAL,         /* the global scope: refused for every tenant */
    TENANT_RULE_TENANT_OR_GLOBAL, /* the tenant's; global when the tenant is not known */
    TENANT_RULE_TENANT_OR_RECORD, /* the tenant's; only recorded when it is not known */
};

struct tenant_config {
    enum tenant_mode mode;
    char *macro;                /* TENANT_MACRO: the macro as libmilter names it, "{name}" */
    enum tenant_rule hard_bounce;
    enum tenant_rule soft_escalated;
    enum tenant_rule complaint;
    enum tenant_rule unsubscribe;
};

/*
 * The replication section: a fleet of sites sharing one store through
 * Berkeley DB's replication manager (store_rep.c).  Absent: one host.
 */
enum rep_role {
    REP_ROLE_MASTER,            /* this site is the master */
    REP_ROLE_REPLICA,           /* this site is a replica (a client), never master */
    REP_ROLE_ELECT,             /* elections among the electable sites decide */
};

enum rep_ack_policy {
    REP_ACK_NONE,               /* a master commit waits for no replica */
    REP_ACK_ONE,                /* ... for one replica */
    REP_ACK_QUORUM,             /* ... for enough for a majority (DB_REPMGR_ACKS_QUORUM) */
    REP_ACK_ALL,                /* ... for every replica */
};

#define REP_HOST_MAX 255
struct rep_site {
    char host[REP_HOST_MAX + 1];    /* an IP address, or a host name for a peer */
    unsigned port;
};

struct replication_config {
    bool enable;                /* the section is there */
    struct rep_site local;      /* this site's replication address */
    struct rep_site *peers;     /* at least one */
    size_t peer_count;
    enum rep_role role;
    int priority;               /* for elections; 0 for a replica */
    enum rep_ack_policy ack_policy;
    bool allow_public;          /* local may be a public address */
    long outbox_max_mb;         /* a replica's outbox holds at most this (store_outbox.h) */
};

struct sup_config {
    char *path;                 /* the file this came from */
    char *store;                /* directory of the Berkeley DB environment */
    struct milter_config milter;
    struct policy_config policy;
    struct ingest_config ingest;
    struct signing_config signing;
    struct ledger_config ledger;
    struct policy_service_config policy_service;
    struct tenant_config tenant;    /* tenant = ..., section tenant-scope */
    struct replication_config replication;
};

/* Load and validate path (NULL = CONFIG_DEFAULT_PATH).  A missing file is
 * an error unless allow_missing, in which case the defaults are used. */
int conf_load(const char *path, bool allow_missing, struct sup_config **out, SUP_ERR *err);
void conf_free(struct sup_config *cfg);
/* True when reason (a Sisimai reason name) is listed in policy.never-suppress. */
bool conf_never_suppresses(const struct sup_config *cfg, const char *reason);
/* True when mail from this sender domain is to be signed (signing.sign-domains). */
bool conf_signs_domain(const struct sup_config *cfg, const char *domain);
/* "sent-or-signed", "signed", "sent", "any" */
const char *conf_trust_name(enum ingest_trust trust);
/* The inverse; -1 if name is none of them. */
int conf_trust_parse(const char *name, enum ingest_trust *trust);
/* "master", "replica", "elect"; "none", "one", "quorum", "all" */
const char *conf_rep_role_name(enum rep_role role);
const char *conf_rep_ack_name(enum rep_ack_policy ack);
/* "host:port" or "[v6 address]:port" into site; -1 with err if not. */
int conf_rep_site_parse(const char *text, struct rep_site *site, SUP_ERR *err);
/* True when host is an IP address on loopback or a private network
 * (127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, ::1, fc00::/7, fe80::/10). */
bool conf_rep_address_private(const char *host);

#endif
