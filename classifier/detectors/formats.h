/*
 * formats.h: the format parsers that more than one detector needs.
 *
 * Offers the Exchange non-delivery report (exchange_ndr.c) to
 * exchange2007.c and office365.c, and the Amazon SES response wrapper
 * (amazonses.c) to amazonses.c and amazonworkmail.c, which write the
 * same DSNs.
 */
#ifndef FORMATS_H
#define FORMATS_H

#include <stdbool.h>

#include "bounce.h"

/*
 * Parse an Exchange non-delivery report: recipients from the DSN part if
 * there is one, else from the text; the remote server's response from the
 * "Diagnostic information for administrators" section when it says more
 * than the DSN.  Returns the number of recipients added (0: no Exchange NDR).
 */
int exchange_ndr_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report);
/* Does text have the marks of an Exchange NDR ("Generating server:",
 * "Diagnostic information for administrators", "Remote Server returned",
 * localized variants, or a resolver code)? */
bool exchange_ndr_markers(const char *text);
/* The reason an Exchange resolver or queue code in a response states
 * ("RESOLVER.ADR.RecipNotFound" -> userunknown), or NULL. */
const char *exchange_ndr_reason(const char *diagnostic);

/*
 * SES wraps the remote response in its own words: "5.1.0 - Unknown address
 * error 550-'5.2.2 <x>... Mailbox Full' (delivery attempts: 0)" and
 * "Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection
 * timed out>".  Take the server's response out of the wrapper, and set the
 * reason "expired" that the second wrapper states.
 */
void ses_refine_response(BOUNCE_RCPT *rcpt);

#endif
