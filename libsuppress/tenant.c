/*
 * tenant.c: the tenant of a message and where a suppression goes (see
 * tenant.h).  No store access: the callers look up and write.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "tenant.h"

#define MACRO_PREFIX "macro:"

int tenant_mode_parse(const char *value, enum tenant_mode *mode, char *macro, size_t macrolen)
{
    const char *name;
    size_t len;

    if (value == NULL)
        return -1;
    if (strcasecmp(value, "none") == 0) {
        *mode = TENANT_NONE;
        return 0;
    }
    if (strcasecmp(value, "sasl-login") == 0) {
        *mode = TENANT_SASL_LOGIN;
        return 0;
    }
    if (strcasecmp(value, "sender-domain") == 0) {
        *mode = TENANT_SENDER_DOMAIN;
        return 0;
    }
    if (strncasecmp(value, MACRO_PREFIX, strlen(MACRO_PREFIX)) != 0)
        return -1;
    name = value + strlen(MACRO_PREFIX);
    len = strlen(name);
    if (len >= 2 && name[0] == '{' && name[len - 1] == '}') {
        name++;
        len -= 2;
    }
    if (len == 0 || len + 3 > macrolen || len + 3 > TENANT_MACRO_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!(name[i] == '_' || (name[i] >= 'a' && name[i] <= 'z')
              || (name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9')))
            return -1;
    if (len == 1)
        snprintf(macro, macrolen, "%s", name);
    else
        snprintf(macro, macrolen, "{%.*s}", (int) len, name);
    *mode = TENANT_MACRO;
    return 0;
}

static const char *const rule_names[] = {
    [TENANT_RULE_GLOBAL] = "global",
    [TENANT_RULE_TENANT_OR_GLOBAL] = "tenant-or-global",
    [TENANT_RULE_TENANT_OR_RECORD] = "tenant-or-record",
};

int tenant_rule_parse(const char *value, enum tenant_rule *rule)
{
    for (size_t i = 0; value != NULL && i < sizeof(rule_names) / sizeof(rule_names[0]); i++) {
        if (strcasecmp(value, rule_names[i]) == 0) {
            *rule = (enum tenant_rule) i;
            return 0;
        }
    }
    return -1;
}

const char *tenant_rule_name(enum tenant_rule rule)
{
    return (unsigned) rule < sizeof(rule_names) / sizeof(rule_names[0]) ? rule_names[rule] : "?";
}

enum tenant_place tenant_place(const struct tenant_config *tc, enum store_reason reason,
                               const char *tenant)
{
    bool known = tenant != NULL && tenant[0] != '\0';
    enum tenant_rule rule;

    if (tc->mode == TENANT_NONE)
        return TENANT_PLACE_GLOBAL;
    switch (reason) {
    case STORE_REASON_HARD_BOUNCE:
        rule = tc->hard_bounce;
        break;
    case STORE_REASON_SOFT_ESCALATED:
        rule = tc->soft_escalated;
        break;
    case STORE_REASON_COMPLAINT:
        rule = tc->complaint;
        break;
    case STORE_REASON_UNSUBSCRIBE:
        rule = tc->unsubscribe;
        break;
    case STORE_REASON_MANUAL:
    default:
        return known ? TENANT_PLACE_TENANT : TENANT_PLACE_GLOBAL;
    }
    if (rule == TENANT_RULE_GLOBAL)
        return TENANT_PLACE_GLOBAL;
    if (known)
        return TENANT_PLACE_TENANT;
    return rule == TENANT_RULE_TENANT_OR_GLOBAL ? TENANT_PLACE_GLOBAL : TENANT_PLACE_RECORD_ONLY;
}

/* A signed return path keeps the sender's domain (prvs=KDDDMMMMMM=local@domain),
 * so its domain needs no undoing; a VERP one carries the recipient, and
 * suppress-ingest takes the sender from the ledger instead. */
static const char *sender_domain(const char *sender)
{
    const char *at = strrchr(sender, '@');

    return at != NULL && at[1] != '\0' ? at + 1 : NULL;
}

static bool take(const char *value, char *out)
{
    SUP_ERR err;

    if (value == NULL || value[0] == '\0' || store_tenant_check(value, &err) < 0)
        return false;
    snprintf(out, STORE_TENANT_MAX, "%s", value);
    return true;
}

bool tenant_of(const struct tenant_config *tc, const char *sender, const char *login,
               const char *macro, char *out)
{
    switch (tc->mode) {
    case TENANT_SASL_LOGIN:
        return take(login, out);
    case TENANT_SENDER_DOMAIN:
        return sender != NULL && take(sender_domain(sender), out);
    case TENANT_MACRO:
        return take(macro, out);
    case TENANT_NONE:
    default:
        return false;
    }
}
