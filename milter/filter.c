/*
 * filter.c: the libmilter callbacks.  At RCPT TO the recipient is looked
 * up in the suppression store; a suppressed one is refused with the
 * configured reply (that recipient only), anything else goes on.
 *
 * The accept path is one B-tree read and one atomic add: no store write,
 * no lock held across I/O.  Rejections, rarer, are queued for the stats
 * writer (stats.c).  Only connect, MAIL and RCPT are negotiated, and
 * connect and MAIL without a reply, so the MTA waits on us at the option
 * negotiation of each connection, once per recipient, and once at end of
 * message.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "filter.h"
#include "live_conf.h"
#include "log.h"
#include "reply.h"
#include "stats.h"
#include "store_link.h"

/* The text of a 451 when the store cannot answer (on-store-error = tempfail). */
#define TEMPFAIL_CODE "451"
#define TEMPFAIL_XCODE "4.3.0"
#define TEMPFAIL_TEXT "Suppression list temporarily unavailable, try again later"

struct session {
    char client[INET6_ADDRSTRLEN];      /* "unknown" when the MTA gave none */
    char sender[STORE_ACTOR_MAX];       /* "" = null sender or none yet */
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
 * Ask the MTA for connect, MAIL and RCPT only, and tell it not to wait for
 * a reply to connect and MAIL (libmilter answers for us if the MTA does
 * not know the no-reply flags, so returning SMFIS_NOREPLY below is always
 * right once this has run, and it runs for every MTA connection).
 */
static sfsistat filter_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
                                 unsigned long f2, unsigned long f3, unsigned long *pf0,
                                 unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
    const unsigned long wanted = SMFIP_NOHELO | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY
                                 | SMFIP_NOUNKNOWN | SMFIP_NODATA
                                 | SMFIP_NR_CONN | SMFIP_NR_MAIL;

    (void) ctx;
    (void) f0;
    (void) f2;
    (void) f3;
    *pf0 = 0;                   /* we never change a message */
    *pf1 = wanted & f1;
    *pf2 = 0;
    *pf3 = 0;
    return SMFIS_CONTINUE;
}

static sfsistat filter_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *hostaddr)
{
    struct session *s = session_of(ctx);
    const void *ip = NULL;

    (void) hostname;
    if (s == NULL || hostaddr == NULL)
        return SMFIS_NOREPLY;
    if (hostaddr->sa_family == AF_INET)
        ip = &((struct sockaddr_in *) (void *) hostaddr)->sin_addr;
    else if (hostaddr->sa_family == AF_INET6)
        ip = &((struct sockaddr_in6 *) (void *) hostaddr)->sin6_addr;
    if (ip == NULL || inet_ntop(hostaddr->sa_family, ip, s->client, sizeof(s->client)) == NULL)
        strcpy(s->client, "unknown");
    return SMFIS_NOREPLY;
}

/* Keep the sender for the rejection record: normalized when it can be,
 * else the raw text without <> and control characters. */
static void remember_sender(struct session *s, const char *arg)
{
    SUP_ERR err;
    size_t len, i, o = 0;

    if (addr_normalize(arg, s->sender, sizeof(s->sender), &err) == 0)
        return;
    if (*arg == '<')
        arg++;
    len = strlen(arg);
    if (len > 0 && arg[len - 1] == '>')
        len--;
    for (i = 0; i < len && o + 1 < sizeof(s->sender); i++)
        s->sender[o++] = (unsigned char) arg[i] < 0x20 || arg[i] == 0x7f ? '?' : arg[i];
    s->sender[o] = '\0';
}

static sfsistat filter_envfrom(SMFICTX *ctx, char **argv)
{
    struct session *s = session_of(ctx);

    if (s != NULL) {
        s->sender[0] = '\0';
        if (argv != NULL && argv[0] != NULL)
            remember_sender(s, argv[0]);
    }
    return SMFIS_NOREPLY;
}

/* Text as the client sees it: the doubled '%' undone. */
static void visible_text(const char *doubled, char *out, size_t outlen)
{
    size_t o = 0;

    for (; *doubled != '\0' && o + 1 < outlen; doubled++) {
        out[o++] = *doubled;
        if (doubled[0] == '%' && doubled[1] == '%')
            doubled++;
    }
    out[o] = '\0';
}

static void set_reply(SMFICTX *ctx, const char *code, const char *xcode, const char *text)
{
    if (smfi_setreply(ctx, (char *) code, (char *) xcode,
                      text[0] != '\0' ? (char *) text : NULL) != MI_SUCCESS)
        log_error("libmilter refused the reply \"%s %s %s\"; the MTA gives its default",
                  code, xcode, text);
}

static void queue_rejection(const struct milter_config *mc, const struct session *s,
                            const char *addr, const char *reason, time_t now,
                            const char *text)
{
    struct stats_rejection rej;
    char visible[REPLY_TEXT_MAX + 1];

    memset(&rej, 0, sizeof(rej));
    rej.when = now;
    store_copy_text(rej.address, sizeof(rej.address), addr);
    store_copy_text(rej.reason, sizeof(rej.reason), reason);
    store_copy_text(rej.status, sizeof(rej.status), mc->reject_xcode);
    store_copy_text(rej.actor, sizeof(rej.actor),
                    s != NULL && s->sender[0] != '\0' ? s->sender : "<>");
    store_copy_text(rej.detail, sizeof(rej.detail), s != NULL ? s->client : "unknown");
    visible_text(text, visible, sizeof(visible));
    snprintf(rej.response, sizeof(rej.response), "%s %s %s", mc->reject_code,
             mc->reject_xcode, visible);
    stats_queue_rejection(&rej);
}

static sfsistat refuse_suppressed(SMFICTX *ctx, const struct milter_config *mc,
                                  const struct session *s, const char *addr,
                                  const STORE_ENTRY *entry, time_t now)
{
    const char *reason = store_reason_name(entry->reason);
    struct reply_vars vars = { addr, reason, entry->expires };
    char text[REPLY_BUF_SIZE];
    const char *sender = s != NULL ? s->sender : "";
    const char *client = s != NULL ? s->client : "unknown";

    if (mc->dry_run) {
        log_info("would reject (dry-run): from=<%s> to=<%s> reason=%s client=[%s]",
                 sender, addr, reason, client);
        stats_count_accepted(now);
        return SMFIS_CONTINUE;
    }
    reply_expand(mc->reject_text, &vars, text, sizeof(text));
    set_reply(ctx, mc->reject_code, mc->reject_xcode, text);
    log_info("reject: from=<%s> to=<%s> reason=%s client=[%s]", sender, addr, reason, client);
    stats_count_rejected(now);
    queue_rejection(mc, s, addr, reason, now, text);
    return SMFIS_REJECT;
}

static sfsistat on_store_error(SMFICTX *ctx, const struct milter_config *mc,
                               const char *addr, const SUP_ERR *err, time_t now)
{
    struct reply_vars vars = { addr, "store-error", 0 };
    char text[REPLY_BUF_SIZE];

    switch (mc->on_store_error) {
    case STORE_ERROR_ACCEPT:
        log_error("store lookup of <%s> failed, accepting (on-store-error = accept): %s",
                  addr, err->text);
        stats_count_accepted(now);
        return SMFIS_CONTINUE;
    case STORE_ERROR_REJECT:
        log_error("store lookup of <%s> failed, rejecting (on-store-error = reject): %s",
                  addr, err->text);
        reply_expand(mc->reject_text, &vars, text, sizeof(text));
        set_reply(ctx, mc->reject_code, mc->reject_xcode, text);
        return SMFIS_REJECT;
    case STORE_ERROR_TEMPFAIL:
    default:
        log_error("store lookup of <%s> failed, answering %s (on-store-error = tempfail): %s",
                  addr, TEMPFAIL_CODE, err->text);
        set_reply(ctx, TEMPFAIL_CODE, TEMPFAIL_XCODE, TEMPFAIL_TEXT);
        return SMFIS_TEMPFAIL;
    }
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

static sfsistat filter_envrcpt(SMFICTX *ctx, char **argv)
{
    struct session *s = session_of(ctx);
    char addr[ADDR_MAX + 1];
    STORE_ENTRY entry;
    SUP_ERR err;
    struct live_conf *ref;
    const struct milter_config *mc;
    time_t now;
    sfsistat verdict;
    int found;

    now = time(NULL);
    if (!recipient_address(ctx, argv, addr, sizeof(addr))) {
        stats_count_accepted(now);
        return SMFIS_CONTINUE;
    }
    ref = live_conf_acquire();
    mc = &live_conf_get(ref)->milter;
    sup_err_clear(&err);
    found = store_link_lookup(addr, now, &entry, &err);
    if (found < 0) {
        verdict = on_store_error(ctx, mc, addr, &err, now);
    } else if (found == 0) {
        stats_count_accepted(now);
        verdict = SMFIS_CONTINUE;
    } else {
        verdict = refuse_suppressed(ctx, mc, s, addr, &entry, now);
    }
    live_conf_release(ref);
    return verdict;
}

/* The message ended early (RSET, lost connection): forget its sender. */
static sfsistat filter_abort(SMFICTX *ctx)
{
    struct session *s = smfi_getpriv(ctx);

    if (s != NULL)
        s->sender[0] = '\0';
    return SMFIS_CONTINUE;
}

/* May come without connect (MTA gave up early): priv can be NULL. */
static sfsistat filter_close(SMFICTX *ctx)
{
    struct session *s = smfi_getpriv(ctx);

    if (s != NULL) {
        smfi_setpriv(ctx, NULL);
        free(s);
    }
    return SMFIS_CONTINUE;
}

struct smfiDesc filter_desc = {
    .xxfi_name = "milter-suppress",
    .xxfi_version = SMFI_VERSION,
    .xxfi_flags = 0,
    .xxfi_connect = filter_connect,
    .xxfi_helo = NULL,
    .xxfi_envfrom = filter_envfrom,
    .xxfi_envrcpt = filter_envrcpt,
    .xxfi_header = NULL,
    .xxfi_eoh = NULL,
    .xxfi_body = NULL,
    .xxfi_eom = NULL,
    .xxfi_abort = filter_abort,
    .xxfi_close = filter_close,
    .xxfi_unknown = NULL,
    .xxfi_data = NULL,
    .xxfi_negotiate = filter_negotiate,
};
