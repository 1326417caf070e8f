/*
 * verdict.h: the RCPT verdict of milter-suppress, the same for both doors
 * (the libmilter callbacks of filter.c and the policy delegation service
 * of policy_service.c): look the recipient up in the store, apply
 * dry-run and on-store-error, and do the counting, logging and the
 * queueing of the rejection event (stats.h).  The doors only turn the
 * result into their protocol's reply.
 */
#ifndef VERDICT_H
#define VERDICT_H

#include <stdbool.h>
#include <time.h>
#include "conf.h"
#include "reply.h"
#include "store.h"

/* The reply when the store cannot answer (on-store-error = tempfail). */
#define VERDICT_TEMPFAIL_CODE "451"
#define VERDICT_TEMPFAIL_XCODE "4.3.0"
#define VERDICT_TEMPFAIL_TEXT "Suppression list temporarily unavailable, try again later"

enum verdict_action {
    VERDICT_ACCEPT,             /* let the recipient through */
    VERDICT_REJECT,             /* refuse it: code, xcode, text */
    VERDICT_TEMPFAIL,           /* refuse it for now: code, xcode, text */
    VERDICT_REMOVED,            /* the door removes it later (request.remove said yes) */
};

struct verdict_request {
    const char *addr;           /* the recipient normalized; NULL = did not parse */
    const char *sender;         /* for the record: "" = null sender or none */
    const char *client;         /* client IP address, "unknown" when not known */
    const char *via;            /* STORE_VIA_MILTER or STORE_VIA_POLICY */
    /* Whose mail it is (tenant.h): its scope is looked up after the
     * global one.  NULL or "" = none (tenant = "none", or not known). */
    const char *tenant;
    /*
     * Optional (NULL = never): asked when the recipient is to be refused
     * whether the door will instead remove it from the message later (the
     * milter, for mail not received over SMTP: filter.c).  True = taken:
     * the verdict is VERDICT_REMOVED.
     */
    bool (*remove)(void *ctx);
    void *remove_ctx;
};

struct verdict {
    enum verdict_action action;
    const char *code;           /* REJECT/TEMPFAIL: "550", "451" (static or config) */
    const char *xcode;          /* "5.1.1", "4.3.0" */
    /* REJECT/TEMPFAIL: the text with '%' doubled, as reply_expand() makes
     * it for smfi_setreply() (reply_visible() undoes that). */
    char text[REPLY_BUF_SIZE];
};

/*
 * Decide for req at time now under mc (a configuration the caller holds a
 * live_conf reference to for as long as it uses out->code and ->xcode).
 * Counts the recipient as accepted or rejected, logs a refusal and queues
 * its rejection event.
 */
void verdict_check(const struct milter_config *mc, const struct verdict_request *req,
                   time_t now, struct verdict *out);

/*
 * The sender for the rejection record, from the MAIL FROM argument (or
 * Postfix's policy "sender" attribute): normalized when it can be, else
 * the raw text without <> and control characters, at most outlen - 1
 * bytes.  given (may be NULL) gets the text as written without <>.
 */
void verdict_sender(const char *arg, char *out, size_t outlen, char *given, size_t givenlen);

#endif
