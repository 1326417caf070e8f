/*
 * reply.h: the text of the SMTP reply that milter-suppress gives a
 * suppressed recipient, expanded from the milter.reject-text template.
 * Used by the RCPT callback (filter.c), by -n, and by the unit tests.
 *
 * Placeholders: %{recipient} (the normalized address), %{reason} (store
 * reason name), %{expiry} (ISO 8601 UTC time or "never"), %{scope} (the
 * tenant whose suppression it is, or "global"), %% (a percent sign).  Any other '%' is taken literally.
 */
#ifndef REPLY_H
#define REPLY_H

#include <stddef.h>
#include <time.h>
#include "sup_err.h"

/*
 * An SMTP reply line is at most 512 octets with CRLF (RFC 5321 4.5.3.1.5);
 * "550 5.1.1 " takes up to 16 and Sendmail prefixes "<recipient>... ",
 * so the visible text is cut well below that.
 */
#define REPLY_TEXT_MAX 400
/* smfi_setreply() wants every '%' doubled: room for the worst case. */
#define REPLY_BUF_SIZE (2 * REPLY_TEXT_MAX + 1)

struct reply_vars {
    const char *recipient;
    const char *reason;
    time_t expires;             /* 0 = never */
    const char *scope;          /* the tenant of the suppression; NULL or "" = "global" */
};

/*
 * Expand tmpl into out (outlen bytes, REPLY_BUF_SIZE is always enough) in
 * the form smfi_setreply() accepts: '%' doubled (libmilter and Sendmail
 * use the text as a format; Postfix undoes the doubling), CR and LF
 * removed, other bytes that are not printable ASCII replaced by '?', at
 * most REPLY_TEXT_MAX visible characters.  Returns the number of visible
 * characters written (0 for an empty result).
 */
size_t reply_expand(const char *tmpl, const struct reply_vars *vars,
                    char *out, size_t outlen);

/* The text as the client sees it: the '%' that reply_expand() doubled
 * undone (for logs, records and the policy protocol, which take text as
 * it is).  out gets at most outlen - 1 bytes. */
void reply_visible(const char *doubled, char *out, size_t outlen);

/* 0 when every %{name} in tmpl is a known placeholder; -1 with err naming
 * the first unknown one (it would be sent literally). */
int reply_check_template(const char *tmpl, SUP_ERR *err);

#endif
