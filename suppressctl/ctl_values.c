/*
 * ctl_values.c: the value helpers of ctl.h that need no store: address
 * normalization with a message that names the input, the suppression
 * length for a reason, expiry arithmetic.  In libctlformats.a with the
 * import row reader (import_rows.c), which uses them, so the unit tests
 * and the fuzz harness link them without the rest of suppressctl.
 */
#include "config.h"

#include <string.h>

#include "addr.h"
#include "ctl.h"
#include "duration.h"

int ctl_normalize(const char *in, char *out, size_t outlen, SUP_ERR *err)
{
    if (addr_normalize(in, out, outlen, err) < 0) {
        /* The library text says what is wrong; make sure the input is named. */
        if (strstr(err->text, in) == NULL || *in == '\0')
            sup_err_prefix(err, "address \"%s\"", in);
        if (err->cls == SUP_OK || err->cls == SUP_ERR_SOFTWARE)
            err->cls = SUP_ERR_INPUT;
        return -1;
    }
    return 0;
}

long ctl_reason_ttl(const struct sup_config *cfg, enum store_reason reason)
{
    switch (reason) {
    case STORE_REASON_HARD_BOUNCE:
        return cfg->policy.hard_bounce_ttl;
    case STORE_REASON_SOFT_ESCALATED:
        return cfg->policy.soft_escalated_ttl;
    case STORE_REASON_COMPLAINT:
        return cfg->policy.complaint_ttl;
    case STORE_REASON_UNSUBSCRIBE:
        return cfg->policy.unsubscribe_ttl;
    case STORE_REASON_MANUAL:
    default:
        return cfg->policy.manual_ttl;
    }
}

time_t ctl_expiry(time_t now, long ttl)
{
    return ttl == DURATION_NEVER ? 0 : now + (time_t) ttl;
}
