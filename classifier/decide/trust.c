/*
 * decide/trust.c: whether a report is believed, recipient by recipient
 * (trust.h), so that a forged bounce suppresses nobody.
 *
 * The reasons written here end up in the timeline ("verified" of each
 * event) and in the quarantine's .reason file: short, and saying which
 * check failed, so a postmaster can tell a forgery from a misrouted or
 * very late bounce.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "message_id.h"
#include "tenant.h"
#include "trust.h"

#define SECONDS_PER_DAY 86400

/* ---- gathering ------------------------------------------------------ */

/*
 * The Message-ID of the message the report is about: the returned
 * headers' when there is such a part, else the first "Message-ID:" line of
 * the body that is not the report's own (detectors of formats that inline
 * the original headers in the text).
 */
static void quoted_message_id(const BOUNCE_MSG *msg, char *out, size_t outlen)
{
    const char *own = bmsg_header(msg, "Message-ID");
    char own_id[STORE_MESSAGE_ID_MAX + 1] = "";
    const char *returned = bmsg_returned_header(msg, "Message-ID");

    out[0] = '\0';
    if (returned != NULL && message_id_clean(returned, out, outlen))
        return;
    if (own != NULL)
        (void) message_id_clean(own, own_id, sizeof(own_id));
    for (const char *line = msg->flat; line != NULL && *line != '\0';) {
        const char *next = strchr(line, '\n');

        while (*line == ' ' || *line == '\t' || *line == '>')
            line++;
        if (strncasecmp(line, "Message-ID:", 11) == 0 && message_id_clean(line + 11, out, outlen)
            && strcmp(out, own_id) != 0)
            return;
        out[0] = '\0';
        line = next != NULL ? next + 1 : NULL;
    }
}

void trust_gather(const struct sup_config *cfg, const RETPATH_KEYS *keys, const BOUNCE_MSG *msg,
                  time_t now, TRUST_EVIDENCE *evidence)
{
    static const RETPATH_KEYS no_keys;

    memset(evidence, 0, sizeof(*evidence));
    retpath_verify(keys != NULL ? keys : &no_keys, cfg->signing.bounce_address,
                   msg->envelope_recipient, now, (int) (cfg->signing.validity / SECONDS_PER_DAY),
                   &evidence->signature);
    quoted_message_id(msg, evidence->message_id, sizeof(evidence->message_id));
    evidence->tenant_mode = cfg->tenant.mode;
}

static bool verp_valid(const TRUST_EVIDENCE *evidence)
{
    return evidence->signature.form == RETPATH_VERP
           && evidence->signature.verdict == RETPATH_VALID;
}

void trust_fill(const TRUST_EVIDENCE *evidence, BOUNCE_REPORT *report)
{
    if (!verp_valid(evidence))
        return;
    for (size_t i = 0; i < report->count; i++) {
        BOUNCE_RCPT *r = &report->rcpts[i];

        if (r->recipient == NULL || strchr(r->recipient, '@') == NULL)
            rcpt_set_address(&r->recipient, evidence->signature.address);
    }
}

/* ---- judging -------------------------------------------------------- */

/* The recipient's addresses, normalized: the failed one and, when it was
 * forwarded, the one we sent to ("" when absent or unusable). */
struct rcpt_addrs {
    char final[ADDR_MAX + 1];
    char original[ADDR_MAX + 1];
};

static void addrs_of(const BOUNCE_RCPT *r, struct rcpt_addrs *a)
{
    a->final[0] = a->original[0] = '\0';
    if (r->recipient == NULL || addr_normalize(r->recipient, a->final, sizeof(a->final), NULL) < 0)
        a->final[0] = '\0';
    if (r->original_recipient == NULL
        || addr_normalize(r->original_recipient, a->original, sizeof(a->original), NULL) < 0)
        a->original[0] = '\0';
}

static bool is_one_of(const char *addr, const struct rcpt_addrs *a)
{
    return (a->final[0] != '\0' && strcmp(addr, a->final) == 0)
           || (a->original[0] != '\0' && strcmp(addr, a->original) == 0);
}

/* What the ledger says of the quoted message and either address. */
static int ledger_answer(STORE *st, STORE_TXN *txn, const char *message_id,
                         const struct rcpt_addrs *a, enum store_ledger_answer *answer, SUP_ERR *err)
{
    const char *const which[] = { a->final, a->original };

    *answer = STORE_LEDGER_UNKNOWN_MESSAGE;
    if (st == NULL || message_id[0] == '\0')
        return 0;
    for (size_t i = 0; i < 2 && *answer != STORE_LEDGER_RECIPIENT; i++) {
        if (which[i][0] == '\0')
            continue;
        if (store_ledger_check(st, txn, message_id, which[i], answer, NULL, err) < 0)
            return -1;
    }
    return 0;
}

static void describe_signature(const RETPATH_CHECK *sig, char *out, size_t outlen)
{
    switch (sig->verdict) {
    case RETPATH_EXPIRED:
        snprintf(out, outlen, "signature expired (%d days old)", sig->age_days);
        break;
    case RETPATH_UNKNOWN_KEY:
        snprintf(out, outlen, "signed with an unknown key");
        break;
    default:
        snprintf(out, outlen, "%s", retpath_verdict_name(sig->verdict));
        break;
    }
}

/* The signature check for one recipient: true if it vouches for it. */
static bool signature_vouches(const TRUST_EVIDENCE *ev, const struct rcpt_addrs *a,
                              enum store_ledger_answer ledger, char *why, size_t whylen)
{
    const RETPATH_CHECK *sig = &ev->signature;

    if (sig->form == RETPATH_UNSIGNED || sig->verdict != RETPATH_VALID) {
        describe_signature(sig, why, whylen);
        return false;
    }
    if (sig->form == RETPATH_VERP) {
        if (is_one_of(sig->address, a)) {
            snprintf(why, whylen, "signed VERP");
            return true;
        }
        snprintf(why, whylen, "signed VERP names <%s>", sig->address);
        return false;
    }
    /* BATV names the sender, not the recipients: the ledger may know better. */
    if (ledger == STORE_LEDGER_NOT_RECIPIENT) {
        snprintf(why, whylen, "signed BATV, but not a recipient of the quoted message");
        return false;
    }
    snprintf(why, whylen, "signed BATV");
    return true;
}

static bool ledger_vouches(const TRUST_EVIDENCE *ev, enum store_ledger_answer ledger, char *why,
                           size_t whylen)
{
    if (ledger == STORE_LEDGER_RECIPIENT) {
        snprintf(why, whylen, "ledger");
        return true;
    }
    snprintf(why, whylen, "%s", ledger == STORE_LEDGER_NOT_RECIPIENT
             ? "not a recipient of the quoted message"
             : ev->message_id[0] == '\0' ? "no quoted Message-ID" : "quoted Message-ID not in the ledger");
    return false;
}

static int judge_one(enum ingest_trust trust, STORE *st, STORE_TXN *txn, const TRUST_EVIDENCE *ev,
                     const BOUNCE_RCPT *r, TRUST_VERDICT *v, SUP_ERR *err)
{
    char sig_why[STORE_DETAIL_MAX * 2] = "", ledger_why[STORE_DETAIL_MAX * 2] = "";
    enum store_ledger_answer ledger;
    struct rcpt_addrs a;
    bool by_signature, by_ledger;

    if (trust == TRUST_ANY) {
        v->believed = true;
        snprintf(v->how, sizeof(v->how), "unchecked (trust any)");
        return 0;
    }
    addrs_of(r, &a);
    if (ledger_answer(st, txn, ev->message_id, &a, &ledger, err) < 0)
        return -1;
    by_signature = trust != TRUST_SENT && signature_vouches(ev, &a, ledger, sig_why, sizeof(sig_why));
    by_ledger = trust != TRUST_SIGNED && ledger_vouches(ev, ledger, ledger_why, sizeof(ledger_why));
    v->believed = by_signature || by_ledger;
    if (by_signature || trust == TRUST_SIGNED)
        snprintf(v->how, sizeof(v->how), "%s", sig_why);
    else if (by_ledger || trust == TRUST_SENT)
        snprintf(v->how, sizeof(v->how), "%s", ledger_why);
    else if (ledger == STORE_LEDGER_NOT_RECIPIENT && ev->signature.verdict == RETPATH_VALID)
        snprintf(v->how, sizeof(v->how), "%s", sig_why);   /* it says it all */
    else
        snprintf(v->how, sizeof(v->how), "%s; %s", sig_why, ledger_why);
    return 0;
}

/* The tenant of one recipient's report (trust.h, TRUST_VERDICT). */
static int tenant_one(STORE *st, STORE_TXN *txn, const TRUST_EVIDENCE *ev, const BOUNCE_RCPT *r,
                      TRUST_VERDICT *v, SUP_ERR *err)
{
    const struct tenant_config by_sender = { .mode = TENANT_SENDER_DOMAIN };
    char sender[ADDR_MAX + 1], recorded[STORE_TENANT_MAX];
    enum store_ledger_answer ledger;
    struct rcpt_addrs a;
    int known;

    v->tenant[0] = '\0';
    if (ev->tenant_mode == TENANT_NONE)
        return 0;
    addrs_of(r, &a);
    if (ledger_answer(st, txn, ev->message_id, &a, &ledger, err) < 0)
        return -1;
    if (ledger == STORE_LEDGER_RECIPIENT) {
        if ((known = store_ledger_sender(st, txn, ev->message_id, sender, recorded, err)) < 0)
            return -1;
        if (known && recorded[0] != '\0') {
            store_copy_text(v->tenant, sizeof(v->tenant), recorded);
            return 0;
        }
        if (known && ev->tenant_mode == TENANT_SENDER_DOMAIN
            && tenant_of(&by_sender, sender, NULL, NULL, v->tenant))
            return 0;
        v->tenant[0] = '\0';
    }
    if (ev->tenant_mode == TENANT_SENDER_DOMAIN && ev->signature.form == RETPATH_PRVS
        && ev->signature.verdict == RETPATH_VALID
        && !tenant_of(&by_sender, ev->signature.address, NULL, NULL, v->tenant))
        v->tenant[0] = '\0';
    return 0;
}

int trust_judge(enum ingest_trust trust, STORE *st, STORE_TXN *txn, const TRUST_EVIDENCE *evidence,
                const BOUNCE_REPORT *report, TRUST_VERDICT *verdicts, SUP_ERR *err)
{
    for (size_t i = 0; i < report->count; i++)
        if (judge_one(trust, st, txn, evidence, &report->rcpts[i], &verdicts[i], err) < 0
            || tenant_one(st, txn, evidence, &report->rcpts[i], &verdicts[i], err) < 0)
            return -1;
    return 0;
}
