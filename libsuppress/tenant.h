/*
 * tenant.h: whose mail it is, for relays that send for several customers
 * or applications (config key tenant, section tenant-scope;
 * milter-suppress.conf(5), TENANTS).  A complaint or unsubscribe about
 * one tenant's mail suppresses the address for that tenant only; a hard
 * bounce describes the address and suppresses it for everybody.
 *
 * Used by the milter's two doors (which tenant is sending), by
 * suppress-ingest (which tenant a report is about, and where its
 * suppression goes) and by suppressctl.
 */
#ifndef TENANT_H
#define TENANT_H

#include <stdbool.h>
#include <stddef.h>
#include "conf.h"
#include "store.h"

#define TENANT_MACRO_MAX 64     /* "{name}" of tenant = "macro:name" */

/* "none", "sasl-login", "sender-domain", "macro:NAME" (NAME with or
 * without braces: macro gets the form libmilter asks for, "{NAME}", or a
 * one-letter macro as it is).  0, or -1 when value is none of them. */
int tenant_mode_parse(const char *value, enum tenant_mode *mode, char *macro, size_t macrolen);
/* "global", "tenant-or-global", "tenant-or-record"; 0 or -1. */
int tenant_rule_parse(const char *value, enum tenant_rule *rule);
const char *tenant_rule_name(enum tenant_rule rule);

/* Where a suppression goes. */
enum tenant_place {
    TENANT_PLACE_GLOBAL,        /* the global scope */
    TENANT_PLACE_TENANT,        /* the tenant's scope */
    TENANT_PLACE_RECORD_ONLY,   /* nowhere: the event is recorded, nothing is suppressed */
};

/*
 * Where a suppression for reason, about tenant (NULL or "": not known),
 * goes under tc.  With tenant = "none" everything is global; a manual
 * entry goes where suppressctl was told (--tenant); the other reasons
 * follow their tenant-scope rule.
 */
enum tenant_place tenant_place(const struct tenant_config *tc, enum store_reason reason,
                               const char *tenant);

/*
 * The tenant of a message from what is known of it: sender (normalized
 * envelope sender, "" for <>) and login (the SMTP AUTH login, NULL when
 * none) and macro (the value of tenant.macro, NULL when not set).  Writes
 * it to out (STORE_TENANT_MAX bytes) and returns true, or returns false
 * when the mode gives none for this message (no login, the null sender,
 * a value that is no tenant name: see store_tenant_check).  For
 * sender-domain a signed (prvs) sender counts as the address it signs.
 */
bool tenant_of(const struct tenant_config *tc, const char *sender, const char *login,
               const char *macro, char *out);

#endif
