/*
 * filter.c: the libmilter callbacks.  At RCPT TO the recipient is looked
 * up in the suppression store; a suppressed one is refused with the
 * configured reply (that recipient only), anything else goes on.
 *
 * Mail that Postfix did not receive over SMTP (sendmail(1), pickup) comes
 * to non_smtpd_milters from cleanup(8), which cannot refuse a single
 * recipient: there a suppressed recipient is let through at RCPT and
 * removed at end of message (smfi_delrcpt), so the others are delivered.
 *
 * The verdict itself (lookup, dry-run, on-store-error, counting, logging,
 * the rejection event) is verdict.c's, shared with the policy service;
 * what is left here is libmilter's: the reply, and the removal path.
 * Only RCPT is negotiated, with what connect and MAIL would have told
 * (the client address and port, the sender) asked for as macros of the
 * RCPT stage (smfi_setsymlist), so the MTA waits on us at the option
 * negotiation of each connection, once per recipient, and once at end of
 * message, and sends nothing else: what the least a milter can negotiate
 * costs (tests/bench/postfix-bench.sh, the floor).  Signing keeps MAIL,
 * without a reply, for the sender as the client wrote it; an MTA that
 * does not take macro lists gets connect and MAIL, without a reply.  The
 * actions asked for are removing a recipient and changing
 * the sender: at end of message the return path is signed (signing.c), so
 * that suppress-ingest can tell the bounces of mail we sent from forged
 * ones.  That costs one HMAC and one smfi_chgfrom per message, nothing per
 * recipient but copying the first accepted one.  With the ledger on
 * (ledger.enable) the headers are asked for too, without a reply to each
 * (SMFIP_NR_HDR), for the Message-ID, and the accepted recipients are
 * kept: at end of message they go to the ledger's queue (ledger_queue.h),
 * written by the stats thread.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "filter.h"
#include "ledger_queue.h"
#include "live_conf.h"
#include "log.h"
#include "message_id.h"
#include "reply.h"
#include "signing.h"
#include "stats.h"
#include "store_link.h"
#include "tenant.h"
#include "verdict.h"

/* A recipient to remove at end of message, spelled as the MTA gave it. */
struct removal {
    struct removal *next;
    char rcpt[];
};

struct session {
    char client[INET6_ADDRSTRLEN];      /* "unknown" when the MTA gave none */
    char sender[STORE_ACTOR_MAX];       /* "" = null sender or none yet */
    char sender_given[RETPATH_ADDR_MAX + 1]; /* as the client wrote it, without <> */
    bool can_remove;                    /* the MTA granted SMFIF_DELRCPT */
    bool removal_asked;                 /* milter.remove-non-smtp at negotiation */
    bool can_chgfrom;                   /* the MTA granted SMFIF_CHGFROM */
    bool chgfrom_asked;                 /* signing was on at this connection's negotiation */
    unsigned long accepted;             /* recipients of this message let through */
    char first_accepted[ADDR_MAX + 1];  /* the first of them, normalized; "" = unknown */
    /* For the ledger (ledger.enable at this connection's negotiation). */
    bool ledger_on;
    bool headers_noreply;               /* SMFIP_NR_HDR: header events get no reply */
    char message_id[STORE_MESSAGE_ID_MAX + 1];  /* "" until the header comes */
    char *ledger_rcpts;                 /* accepted recipients, NUL-separated */
    size_t ledger_used, ledger_cap, ledger_count;
    bool cleanup_client;                /* connect looked like Postfix cleanup(8) */
    bool client_by_macro;               /* connect skipped: the client comes as
                                         * macros with each RCPT (and the sender
                                         * too, unless chgfrom_asked kept MAIL) */
    char tenant[STORE_TENANT_MAX];      /* the message's tenant at its last RCPT, "" = none */
    unsigned long rcpts;                /* RCPT events of this message */
    unsigned long removals;             /* entries in remove */
    struct removal *remove;             /* newest first */
};

/* This connection's state, created on first use (connect may be skipped,
 * e.g. after a QUIT_NC the next session starts without negotiation). */
static struct session *session_of(SMFICTX *ctx)
{
    struct session *s = smfi_getpriv(ctx);

    if (s == NULL && (s = calloc(1, sizeof(*s))) != NULL) {
        strcpy(s->client, "unknown");
        smfi_setpriv(ctx, s);
    }
    return s;
}

/*
 * What RCPT needs of the earlier stages, asked for as macros of the RCPT
 * stage: the client address and port (cleanup(8)'s non-SMTP mail, and
 * every rejection record), the SASL login (tenants), and the RCPT macros
 * Postfix and Sendmail send by default that filter.c reads; with MAIL
 * skipped, the sender too (records, tenants by sender domain).  Postfix
 * takes a milter's macro lists as replacing all of its defaults, so the
 * queue ID of end of message is asked for again.
 */
#define RCPT_STAGE_MACROS "{rcpt_addr} {rcpt_mailer} {client_addr} {client_port} {auth_authen}"
#define RCPT_SENDER_MACRO "{mail_addr}"
#define EOM_STAGE_MACROS "i"

/* Ask for those macros, with the sender when with_sender and tenant.macro
 * when set; false when the MTA does not take macro lists (it did not
 * offer SMFIF_SETSYMLIST), or does not let connect (and MAIL, with_sender)
 * be skipped. */
static bool ask_rcpt_macros(SMFICTX *ctx, unsigned long mta_actions, unsigned long mta_steps,
                            bool with_sender, const char *tenant_macro)
{
    char list[sizeof(RCPT_STAGE_MACROS) + sizeof(RCPT_SENDER_MACRO) + TENANT_MACRO_MAX + 2];
    unsigned long skipped = SMFIP_NOCONNECT | (with_sender ? SMFIP_NOMAIL : 0);

    if ((mta_actions & SMFIF_SETSYMLIST) == 0 || (mta_steps & skipped) != skipped)
        return false;
    snprintf(list, sizeof(list), "%s%s%s%s", RCPT_STAGE_MACROS,
             with_sender ? " " RCPT_SENDER_MACRO : "", tenant_macro != NULL ? " " : "",
             tenant_macro != NULL ? tenant_macro : "");
    return smfi_setsymlist(ctx, SMFIM_EOM, EOM_STAGE_MACROS) == MI_SUCCESS
           && smfi_setsymlist(ctx, SMFIM_ENVRCPT, list) == MI_SUCCESS;
}

/*
 * Ask the MTA for RCPT only, with the facts of connect and MAIL as RCPT
 * macros (ask_rcpt_macros).  With signing on, MAIL stays: the signed
 * return path keeps the sender as the client wrote it, and Postfix's
 * {mail_addr} is its resolved, lower-cased form.  An MTA that cannot take
 * macro lists gets connect and MAIL, without a reply to either (libmilter
 * answers for us if the MTA does not know the no-reply flags, so
 * returning SMFIS_NOREPLY below is always right once this has run, and it
 * runs for every MTA connection).  The
 * actions are removing a recipient, for non-SMTP mail (an MTA that does
 * not offer it, or milter.remove-non-smtp = false, gets the refusal at
 * RCPT: asking for it costs Postfix work on every message, measured at
 * ~3% of a relay's CPU by postfix-bench.sh), and changing the
 * sender, to sign it (an MTA that does not offer it gets unsigned mail;
 * with signing off it is not asked for).  What is left beyond RCPT is end
 * of message, which no milter can decline.
 */
static sfsistat filter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                                 unsigned long f2, unsigned long f3, unsigned long *pf0,
                                 unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    const unsigned long wanted = SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY
                                 | SMFIP_NOUNKNOWN | SMFIP_NODATA
                                 | SMFIP_NR_CONN | SMFIP_NR_MAIL;
    struct session *s = session_of(ctx);
    struct live_conf *ref = live_conf_acquire();
    bool ledger_on = live_conf_get(ref)->ledger.enable;
    bool signing_on = live_conf_get(ref)->signing.enable;
    bool removal_on = live_conf_get(ref)->milter.remove_non_smtp;
    bool over_tcp = strncmp(live_conf_get(ref)->milter.socket, "inet", 4) == 0;
    const struct tenant_config *tc = &live_conf_get(ref)->tenant;
    bool by_macro = ask_rcpt_macros(ctx, f0, f1, !signing_on,
                                    tc->mode == TENANT_MACRO ? tc->macro : NULL);

    live_conf_release(ref);
    (void) f2;
    (void) f3;
    /* Changing the sender only to sign: with signing off, not asked for. */
    *pf0 = ((removal_on ? SMFIF_DELRCPT : 0) | (signing_on ? SMFIF_CHGFROM : 0)
            | (by_macro ? SMFIF_SETSYMLIST : 0)) & f0;
    *pf1 = wanted & f1;
    if (by_macro)
        *pf1 |= SMFIP_NOCONNECT | (signing_on ? 0 : SMFIP_NOMAIL);
    /*
     * The ledger needs the Message-ID: headers, without a reply to each on
     * a unix socket.  Over TCP a header the milter does not answer is not
     * acknowledged at once either (delayed ACK), and Nagle holds the MTA's
     * next small header until it is: ~40 ms a header.  There the replies
     * are what keeps the headers flowing (measured: postfix-bench.sh).
     */
    if (ledger_on)
        *pf1 = (*pf1 & ~(unsigned long) SMFIP_NOHDRS) | (over_tcp ? 0 : SMFIP_NR_HDR & f1);
    *pf2 = 0;
    *pf3 = 0;
    if (s != NULL) {
        s->can_remove = (*pf0 & SMFIF_DELRCPT) != 0;
        s->removal_asked = removal_on;
        s->can_chgfrom = (*pf0 & SMFIF_CHGFROM) != 0;
        s->chgfrom_asked = signing_on;
        s->ledger_on = ledger_on;
        s->headers_noreply = (*pf1 & SMFIP_NR_HDR) != 0;
        s->client_by_macro = by_macro;
    }
    return SMFIS_CONTINUE;
}

/*
 * Postfix's cleanup(8) hands mail that did not arrive through smtpd(8)
 * (sendmail(1) and pickup, the usual "non_smtpd_milters = $smtpd_milters")
 * to the milter as an emulated session from localhost, 127.0.0.1, client
 * port 0 (cleanup_milter.c, NO_CLIENT_PORT); an SMTP client has its
 * ephemeral port (but see removal_context).  There a recipient cannot be
 * refused: Postfix 3.7 logs
 *   milter-reject: RCPT from localhost[127.0.0.1]: 5.1.1 ...
 *   warning: ...: milter configuration error: can't reject recipient
 *       in non-smtpd(8) submission
 *   warning: ...: message not accepted, try again later
 * and the whole message, other recipients too, stays in the maildrop,
 * retried forever.
 */
bool filter_connect_is_cleanup(const struct sockaddr *client)
{
    const struct sockaddr_in *sin;

    if (client == NULL || client->sa_family != AF_INET)
        return false;
    sin = (const struct sockaddr_in *) (const void *) client;
    return sin->sin_port == 0 && sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
}

/* The same, told by the {client_addr} and {client_port} macros. */
bool filter_macros_are_cleanup(const char *client_addr, const char *client_port)
{
    return client_addr != NULL && client_port != NULL && strcmp(client_addr, "127.0.0.1") == 0
           && strcmp(client_port, "0") == 0;
}

/*
 * The client address as records keep it, from the {client_addr} macro:
 * Postfix and Sendmail write an IPv6 address as "IPv6:2001:db8::1", the
 * connect event as 2001:db8::1.  Anything that is not an address is
 * "unknown".
 */
void filter_client_from_macro(const char *value, char *out, size_t outlen)
{
    unsigned char bin[sizeof(struct in6_addr)];
    const char *ip = value;

    if (ip != NULL && strncasecmp(ip, "IPv6:", 5) == 0)
        ip += 5;
    if (ip == NULL || strlen(ip) >= outlen
        || (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)) {
        snprintf(out, outlen, "unknown");
        return;
    }
    memcpy(out, ip, strlen(ip) + 1);
}

/*
 * The recipient of this RCPT is to be removed at end of message rather
 * than refused.  Both signals must agree, else it is refused as before:
 * the connect from cleanup(8), and no {rcpt_mailer} (cleanup never sends
 * it; smtpd does by default).  The second keeps on the SMTP path an smtpd
 * session that XCLIENT made 127.0.0.1 without a port, which reaches the
 * milter as port 0 too.
 */
static bool removal_context(SMFICTX *ctx, const struct session *s)
{
    static atomic_bool told_no_removal;

    if (s == NULL || !s->cleanup_client)
        return false;
    if (!s->can_remove) {
        /* Postfix defers the whole message: say so once, and why. */
        if (!atomic_exchange(&told_no_removal, true))
            log_warn("a suppressed recipient of mail not received over SMTP is refused at RCPT,"
                     " which Postfix turns into deferring the whole message: %s",
                     s->removal_asked ? "the MTA did not grant removing recipients"
                                      : "milter.remove-non-smtp is false");
        return false;
    }
    if (smfi_getsymval(ctx, "{rcpt_mailer}") != NULL) {
        log_debug("client 127.0.0.1 port 0, but the MTA sent {rcpt_mailer}: "
                  "an SMTP session, refusing at RCPT");
        return false;
    }
    return true;
}

/* What this message's RCPTs left: forgotten at a new MAIL and at its end. */
static void forget_removals(struct session *s)
{
    struct removal *r, *next;

    for (r = s->remove; r != NULL; r = next) {
        next = r->next;
        free(r);
    }
    s->remove = NULL;
    s->removals = 0;
    s->rcpts = 0;
    s->accepted = 0;
    s->first_accepted[0] = '\0';
    s->message_id[0] = '\0';
    s->ledger_used = s->ledger_count = 0;
}

/* Keep addr for the ledger (up to what the ledger keeps per message). */
static void keep_for_ledger(struct session *s, const char *addr)
{
    size_t len = strlen(addr) + 1;

    if (s->ledger_count >= STORE_LEDGER_RCPTS_MAX)
        return;
    if (s->ledger_cap - s->ledger_used < len) {
        size_t cap = s->ledger_cap ? s->ledger_cap * 2 : 1024;
        char *grown;

        while (cap - s->ledger_used < len)
            cap *= 2;
        if ((grown = realloc(s->ledger_rcpts, cap)) == NULL)
            return;             /* the ledger misses one: its bounce needs a signature */
        s->ledger_rcpts = grown;
        s->ledger_cap = cap;
    }
    memcpy(s->ledger_rcpts + s->ledger_used, addr, len);
    s->ledger_used += len;
    s->ledger_count++;
}

/* A recipient let through (addr normalized, NULL when it did not parse;
 * verdict.c counted it): the first one kept for a VERP return path. */
static void note_accepted(struct session *s, const char *addr)
{
    if (s == NULL)
        return;
    if (s->accepted++ == 0 && addr != NULL)
        store_copy_text(s->first_accepted, sizeof(s->first_accepted), addr);
    if (s->ledger_on && addr != NULL)
        keep_for_ledger(s, addr);
}

/* Remember rcpt for filter_eom; false when out of memory. */
static bool remember_removal(struct session *s, const char *rcpt)
{
    size_t len = strlen(rcpt);
    struct removal *r = malloc(sizeof(*r) + len + 1);

    if (r == NULL)
        return false;
    memcpy(r->rcpt, rcpt, len + 1);
    r->next = s->remove;
    s->remove = r;
    s->removals++;
    return true;
}

static sfsistat filter_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
    struct session *s = session_of(ctx);
    const void *ip = NULL;

    (void) hostname;
    if (s == NULL)
        return SMFIS_NOREPLY;
    s->cleanup_client = filter_connect_is_cleanup(hostaddr);
    if (hostaddr == NULL)
        return SMFIS_NOREPLY;
    if (hostaddr->sa_family == AF_INET)
        ip = &((struct sockaddr_in *) (void *) hostaddr)->sin_addr;
    else if (hostaddr->sa_family == AF_INET6)
        ip = &((struct sockaddr_in6 *) (void *) hostaddr)->sin6_addr;
    if (ip == NULL || inet_ntop(hostaddr->sa_family, ip, s->client, sizeof(s->client)) == NULL)
        strcpy(s->client, "unknown");
    return SMFIS_NOREPLY;
}

/* A new message's sender, as MAIL gave it or as {mail_addr} tells it
 * (NULL: none known). */
static void take_sender(struct session *s, const char *sender)
{
    s->sender[0] = '\0';
    s->tenant[0] = '\0';
    s->sender_given[0] = '\0';
    if (sender != NULL)
        verdict_sender(sender, s->sender, sizeof(s->sender), s->sender_given,
                       sizeof(s->sender_given));
}

static sfsistat filter_envfrom(SMFICTX *ctx, char **argv)
{
    struct session *s = session_of(ctx);

    if (s != NULL) {
        forget_removals(s);     /* a new message on the same connection */
        take_sender(s, argv != NULL ? argv[0] : NULL);
    }
    return SMFIS_NOREPLY;
}

/*
 * With connect (and MAIL) skipped, take what they would have told from
 * the macros of this RCPT.  At every RCPT, not only a message's first:
 * nothing marks where a message begins when MAIL is skipped (a message
 * whose recipients were all refused ends with no abort to the milter), and
 * a sender or tenant left from the message before must never be used.
 */
static void take_envelope_macros(SMFICTX *ctx, struct session *s)
{
    const char *addr = smfi_getsymval(ctx, "{client_addr}");

    s->cleanup_client = filter_macros_are_cleanup(addr, smfi_getsymval(ctx, "{client_port}"));
    filter_client_from_macro(addr, s->client, sizeof(s->client));
    if (!s->chgfrom_asked)      /* MAIL was skipped too (filter_negotiate) */
        take_sender(s, smfi_getsymval(ctx, RCPT_SENDER_MACRO));
}

static void set_reply(SMFICTX *ctx, const char *code, const char *xcode, const char *text)
{
    if (smfi_setreply(ctx, (char *) code, (char *) xcode,
                      text[0] != '\0' ? (char *) text : NULL) != MI_SUCCESS)
        log_error("libmilter refused the reply \"%s %s %s\"; the MTA gives its default",
                  code, xcode, text);
}

/*
 * The recipient to look up, normalized.  Normally the RCPT TO argument;
 * when that does not parse (Postfix accepts "RCPT TO:<<a@b>>" and
 * delivers to a@b), the address the MTA itself parsed out of it, which
 * Postfix and Sendmail pass as the {rcpt_addr} macro by default.  Without
 * this a malformed but deliverable RCPT TO would slip past the list.
 */
static bool recipient_address(SMFICTX *ctx, char **argv, char *addr, size_t len)
{
    const char *raw = argv != NULL ? argv[0] : NULL;
    const char *parsed;
    SUP_ERR err;

    sup_err_clear(&err);
    if (raw != NULL && addr_normalize(raw, addr, len, &err) == 0)
        return true;
    parsed = smfi_getsymval(ctx, "{rcpt_addr}");
    if (parsed != NULL && addr_normalize(parsed, addr, len, NULL) == 0) {
        log_debug("recipient %s checked as %s (the MTA's {rcpt_addr})", raw, addr);
        return true;
    }
    log_debug("recipient not checked: %s", err.text);
    return false;
}

/* What verdict.c asks before refusing: will this recipient be removed at
 * end of message instead (non-SMTP mail)?  Out of memory it is refused as
 * before (the message waits in the queue and is tried again). */
struct removal_ask {
    SMFICTX *ctx;
    struct session *s;
    const char *rcpt;
    const char *addr;
};

static bool take_for_removal(void *arg)
{
    struct removal_ask *ask = arg;

    if (ask->rcpt == NULL || !removal_context(ask->ctx, ask->s))
        return false;
    if (!remember_removal(ask->s, ask->rcpt)) {
        log_error("out of memory keeping <%s> for removal; refusing it at RCPT instead",
                  ask->addr);
        return false;
    }
    return true;
}

/*
 * Whose mail this is (tenant.h), asked at each RCPT: the MTA sends
 * {auth_authen} with MAIL (Postfix's milter_mail_macros, Sendmail's
 * Milter.macros.envfrom have it by default), and libmilter keeps the
 * macros of every earlier stage, so a tenant.macro the postmaster sets at
 * connect ({daemon_name}), MAIL or RCPT is there.
 */
static const char *session_tenant(SMFICTX *ctx, struct session *s,
                                  const struct tenant_config *tc)
{
    const char *login = NULL, *macro = NULL;

    if (s == NULL)
        return NULL;
    if (tc->mode == TENANT_SASL_LOGIN)
        login = smfi_getsymval(ctx, "{auth_authen}");
    else if (tc->mode == TENANT_MACRO && tc->macro != NULL)
        macro = smfi_getsymval(ctx, tc->macro);
    if (!tenant_of(tc, s->sender, login, macro, s->tenant)) {
        const char *raw = login != NULL ? login : macro;

        /* A login or macro value that is no tenant name: say so, and look
         * up the global scope only. */
        if (raw != NULL && raw[0] != '\0')
            log_warn("tenant: \"%.80s\" (%s) is no tenant name (a space, a control character"
                     " or more than %d bytes): only the global scope is looked up", raw,
                     login != NULL ? "{auth_authen}" : tc->macro, STORE_TENANT_MAX - 1);
        s->tenant[0] = '\0';
    }
    return s->tenant[0] != '\0' ? s->tenant : NULL;
}

static sfsistat filter_envrcpt(SMFICTX *ctx, char **argv)
{
    struct session *s = session_of(ctx);
    char addr[ADDR_MAX + 1];
    struct live_conf *ref;
    struct verdict v;
    struct removal_ask ask;
    struct verdict_request req;
    sfsistat result;

    if (s != NULL && s->client_by_macro)
        take_envelope_macros(ctx, s);
    if (s != NULL)
        s->rcpts++;
    ask.ctx = ctx;
    ask.s = s;
    ask.rcpt = argv != NULL ? argv[0] : NULL;
    ask.addr = addr;
    memset(&req, 0, sizeof(req));
    req.addr = recipient_address(ctx, argv, addr, sizeof(addr)) ? addr : NULL;
    req.sender = s != NULL ? s->sender : "";
    req.client = s != NULL ? s->client : "unknown";
    req.via = STORE_VIA_MILTER;
    req.remove = take_for_removal;
    req.remove_ctx = &ask;
    ref = live_conf_acquire();
    if (live_conf_get(ref)->tenant.mode != TENANT_NONE)
        req.tenant = session_tenant(ctx, s, &live_conf_get(ref)->tenant);
    verdict_check(&live_conf_get(ref)->milter, &req, time(NULL), &v);
    switch (v.action) {
    case VERDICT_ACCEPT:
        note_accepted(s, req.addr);
        result = SMFIS_CONTINUE;
        break;
    case VERDICT_REMOVED:
        result = SMFIS_CONTINUE;
        break;
    case VERDICT_TEMPFAIL:
        set_reply(ctx, v.code, v.xcode, v.text);
        result = SMFIS_TEMPFAIL;
        break;
    case VERDICT_REJECT:
    default:
        set_reply(ctx, v.code, v.xcode, v.text);
        result = SMFIS_REJECT;
        break;
    }
    live_conf_release(ref);         /* v.code and v.xcode may point into it */
    return result;
}

/*
 * Remove the recipients kept at RCPT.  If one cannot be removed the
 * message is tempfailed (held and tried again) rather than delivered to
 * it.
 *
 * When every recipient is removed, Postfix 3.7 (tested) queues the message
 * with its recipients marked deleted and qmgr(8) drops it at once
 * ("QUEUEID: removed"): nothing is delivered, bounced or left in the
 * queue.  That is already right, so there is no SMFIS_DISCARD here: a
 * discard would also drop recipients that another milter adds at end of
 * message.  The log line says why the message went nowhere.
 */
static sfsistat remove_recipients(SMFICTX *ctx, struct session *s, const char *queue_id)
{
    struct removal *r;
    bool failed = false;

    for (r = s->remove; r != NULL; r = r->next) {
        if (smfi_delrcpt(ctx, r->rcpt) == MI_SUCCESS) {
            log_info("%s: removed recipient <%s> (suppressed, non-SMTP submission)",
                     queue_id, r->rcpt);
        } else {
            log_error("%s: libmilter could not remove recipient <%s>; "
                      "holding the message (tempfail)", queue_id, r->rcpt);
            failed = true;
        }
    }
    if (!failed && s->removals >= s->rcpts)
        log_info("%s: all %lu recipients removed; the message goes nowhere",
                 queue_id, s->removals);
    if (failed) {
        set_reply(ctx, VERDICT_TEMPFAIL_CODE, VERDICT_TEMPFAIL_XCODE,
                  "Could not remove a suppressed recipient");
        return SMFIS_TEMPFAIL;
    }
    return SMFIS_CONTINUE;
}

/*
 * Give the message its signed return path (signing.h).  Mail that cannot
 * be signed goes on unsigned: its bounces are then believed only through
 * the ledger, or with ingest.trust = any.
 */
static void sign_return_path(SMFICTX *ctx, const struct session *s, const char *queue_id)
{
    static atomic_bool told_no_chgfrom;
    struct live_conf *ref = live_conf_acquire();
    const struct sup_config *cfg = live_conf_get(ref);
    char signed_path[RETPATH_ADDR_MAX + 1];
    SUP_ERR err;
    int rc;

    sup_err_clear(&err);
    rc = signing_return_path(cfg, live_conf_keys(ref), s->sender_given, s->accepted,
                             s->first_accepted[0] != '\0' ? s->first_accepted : NULL,
                             time(NULL), signed_path, sizeof(signed_path), &err);
    live_conf_release(ref);
    if (rc < 0) {
        log_warn("%s: return path <%s> left unsigned: %s", queue_id, s->sender_given, err.text);
    } else if (rc == 1 && !s->chgfrom_asked) {
        /* Signing came on (SIGHUP) after this connection was negotiated. */
        log_debug("%s: return path <%s> left unsigned: signing was off when this MTA "
                  "connection began", queue_id, s->sender_given);
    } else if (rc == 1 && !s->can_chgfrom) {
        if (!atomic_exchange(&told_no_chgfrom, true))
            log_warn("the MTA does not let milters change the sender (Postfix: milter_protocol"
                     " = 6; Sendmail 8.14 or later): mail goes out unsigned");
    } else if (rc == 1 && smfi_chgfrom(ctx, signed_path, NULL) != MI_SUCCESS) {
        log_error("%s: libmilter could not change the sender to <%s>; mail goes out unsigned",
                  queue_id, signed_path);
    } else if (rc == 1) {
        /* The MTA logs only one of the two.  At debug: a line per message
         * at info costs more than the signing itself (signing-bench.sh). */
        log_debug("%s: return path <%s> signed as <%s>", queue_id, s->sender_given, signed_path);
    }
}

/* The Message-ID, for the ledger (asked for only when it is on). */
static sfsistat filter_header(SMFICTX *ctx, char *name, char *value)
{
    struct session *s = session_of(ctx);

    if (s == NULL)
        return SMFIS_CONTINUE;
    if (s->message_id[0] == '\0' && strcasecmp(name, "Message-ID") == 0
        && !message_id_clean(value, s->message_id, sizeof(s->message_id)))
        s->message_id[0] = '\0';
    return s->headers_noreply ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/* Hand the message to the ledger's writer. */
static void record_in_ledger(const struct session *s, const char *queue_id)
{
    if (!s->ledger_on || s->ledger_count == 0)
        return;
    if (s->message_id[0] == '\0') {
        log_debug("%s: no Message-ID: not recorded in the ledger", queue_id);
        return;
    }
    if (!ledger_queue_push(s->message_id, s->sender, s->tenant, s->ledger_rcpts, s->ledger_count,
                           time(NULL)))
        log_debug("%s: the ledger's queue is full: <%s> not recorded", queue_id, s->message_id);
}

/* End of message: the removals kept at RCPT, then the signed return path. */
static sfsistat filter_eom(SMFICTX *ctx)
{
    struct session *s = smfi_getpriv(ctx);
    const char *queue_id;
    sfsistat verdict = SMFIS_CONTINUE;

    if (s == NULL)
        return SMFIS_CONTINUE;
    if ((queue_id = smfi_getsymval(ctx, "i")) == NULL)
        queue_id = "NOQUEUE";
    if (s->remove != NULL)
        verdict = remove_recipients(ctx, s, queue_id);
    if (verdict == SMFIS_CONTINUE) {
        sign_return_path(ctx, s, queue_id);
        record_in_ledger(s, queue_id);
    }
    forget_removals(s);
    return verdict;
}

/* The message ended early (RSET, lost connection): forget its sender and
 * the recipients kept for removal. */
static sfsistat filter_abort(SMFICTX *ctx)
{
    struct session *s = smfi_getpriv(ctx);

    if (s != NULL) {
        s->sender[0] = '\0';
        s->sender_given[0] = '\0';
        s->tenant[0] = '\0';
        forget_removals(s);
    }
    return SMFIS_CONTINUE;
}

/* May come without connect (MTA gave up early): priv can be NULL. */
static sfsistat filter_close(SMFICTX *ctx)
{
    struct session *s = smfi_getpriv(ctx);

    if (s != NULL) {
        smfi_setpriv(ctx, NULL);
        forget_removals(s);
        free(s->ledger_rcpts);
        free(s);
    }
    return SMFIS_CONTINUE;
}

struct smfiDesc filter_desc = {
    .xxfi_name = "milter-suppress",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = SMFIF_DELRCPT | SMFIF_CHGFROM,
    .xxfi_connect = filter_connect,
    .xxfi_helo = NULL,
    .xxfi_envfrom = filter_envfrom,
    .xxfi_envrcpt = filter_envrcpt,
    .xxfi_header = filter_header,
    .xxfi_eoh = NULL,
    .xxfi_body = NULL,
    .xxfi_eom = filter_eom,
    .xxfi_abort = filter_abort,
    .xxfi_close = filter_close,
    .xxfi_unknown = NULL,
    .xxfi_data = NULL,
    .xxfi_negotiate = filter_negotiate,
};
