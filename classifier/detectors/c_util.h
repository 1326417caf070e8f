/*
 * c_util.h: helpers shared by the detectors of group c (providers: Amazon
 * SES, Gmail, Office 365, Exchange, Yahoo, Yandex, Zoho, Mail.ru, GMX,
 * SendGrid, Verizon...).
 *
 * Offers them what bounce.h does not: walking a text line by line, joining
 * the lines of one server response into one line, finding the reply code
 * and enhanced status code in a response, turning DSN field groups (from
 * the message/delivery-status part or inlined in the text) into
 * recipients, and the Exchange NDR parser that Office 365 and on-premises
 * Exchange share.  Nothing here decides a reason from free text: that is
 * the rule table's job (rules.c).
 */
#ifndef C_UTIL_H
#define C_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "bounce.h"

/* ---- lines ---- */

/* Next line of *cursor (without its LF or CR); advances *cursor.  Returns
 * NULL when the text is used up. */
const char *c_next_line(const char **cursor, size_t *len);
/* True if line[0..len) starts with prefix (case-insensitive when nocase). */
bool c_line_starts(const char *line, size_t len, const char *prefix, bool nocase);
/* True if line[0..len) contains needle (case-insensitive). */
bool c_line_contains(const char *line, size_t len, const char *needle);
/* True if line[0..len) is empty or only white space. */
bool c_line_blank(const char *line, size_t len);
/* The first line of text starting with prefix (after leading white space
 * when skip_space), as a pointer to that line, or NULL. */
const char *c_find_line(const char *text, const char *prefix, bool skip_space);

/* ---- one-line text built from pieces ---- */

typedef struct c_buf {
    char *data;
    size_t len;
    size_t alloc;
} C_BUF;

/* Append text[0..len) as words: runs of white space become one space and
 * a space separates it from what is already there. */
void c_buf_words(C_BUF *buf, const char *text, size_t len);
/* Hand the text over (caller frees); NULL if nothing was added. */
char *c_buf_take(C_BUF *buf);
void c_buf_free(C_BUF *buf);

/* ---- SMTP replies ---- */

/* The SMTP reply code ([245]xx) that text starts with, followed by space,
 * '-', ':' or the end.  Returns false if there is none. */
bool c_reply_code_at(const char *text, char code[4]);
/*
 * Set rcpt->diagnostic from text[0..len): continuation lines of a
 * multi-line reply ("550-5.1.1 a" / "550 5.1.1 b") become one response
 * ("550 5.1.1 a b"), white space is collapsed.  Then fill replycode and
 * status from it where missing or vague (rcpt_complete_codes()).
 */
void c_set_response(BOUNCE_RCPT *rcpt, const char *text, size_t len);

/* ---- headers ---- */

/* True if any top-level header `name` contains needle (case-insensitive). */
bool c_header_has(const BOUNCE_MSG *msg, const char *name, const char *needle);
/* True if header `name` is present at the top level. */
bool c_header_present(const BOUNCE_MSG *msg, const char *name);

/* ---- recipients ---- */

/* "dns; mx.example.com" -> "mx.example.com", "smtp;550 x" -> "550 x": the
 * value after an RFC 3464 type prefix (pointer into value). */
const char *c_skip_type(const char *value);
/*
 * One recipient per DSN group that names one (Final-Recipient, else
 * Original-Recipient), in order, with action, status, remote and reporting
 * MTA and the diagnostic (codes completed from it).  permsg is the
 * per-message group (may be NULL).  Returns the number added.
 */
int c_rcpts_from_groups(const BOUNCE_FIELDS *permsg, const BOUNCE_FIELDS *groups,
                        size_t ngroups, BOUNCE_REPORT *report);
/* c_rcpts_from_groups() over msg's message/delivery-status part. */
int c_rcpts_from_dsn(const BOUNCE_MSG *msg, BOUNCE_REPORT *report);
/* The same for DSN fields written into a text part (blank-line separated
 * groups, as Amazon WorkMail does); text starts at the first group. */
int c_rcpts_from_text_dsn(const char *text, BOUNCE_REPORT *report);
/* One recipient per address of a comma-separated list (X-Failed-Recipients)
 * that is not already in the report.  Returns the number added. */
int c_rcpts_from_list(const char *list, BOUNCE_REPORT *report);
/* The recipient whose address is addr (compared normalized), or NULL. */
BOUNCE_RCPT *c_report_find(BOUNCE_REPORT *report, const char *addr);
/* Move every recipient of src to the end of dst (src is left empty). */
void c_report_move(BOUNCE_REPORT *dst, BOUNCE_REPORT *src);
/* The first e-mail address in text[0..len) (between <> if any), copied
 * into out; false if none. */
bool c_find_address(const char *text, size_t len, char *out, size_t outlen);

/* ---- Microsoft Exchange NDRs (Exchange 2007 and later, Office 365) ---- */

/*
 * Parse an Exchange non-delivery report: recipients from the DSN part if
 * there is one, else from the text; the remote server's response from the
 * "Diagnostic information for administrators" section ("Remote Server
 * returned '...'", "#550 5.1.1 ... ##") when it says more than the DSN.
 * Returns the number of recipients added (0: not an Exchange NDR).
 */
int c_exchange_parse(const BOUNCE_MSG *msg, BOUNCE_REPORT *report);
/* True if text has the marks of an Exchange NDR ("Generating server:",
 * "Diagnostic information for administrators", "Remote Server returned",
 * localized variants, or a resolver code). */
bool c_exchange_markers(const char *text);
/* The reason an Exchange resolver/queue code in the response states
 * ("RESOLVER.ADR.RecipNotFound" -> userunknown), or NULL. */
const char *c_exchange_reason(const char *diagnostic);

/* ---- Amazon SES (SES sending and WorkMail write the same DSNs) ---- */

/*
 * SES wraps the remote response in its own words: "5.1.0 - Unknown address
 * error 550-'5.2.2 <x>... Mailbox Full' (delivery attempts: 0)" and
 * "Message expired: unable to deliver in 840 minutes.<421 4.4.2 Connection
 * timed out>".  Take the server's response out of the wrapper, and set the
 * reason "expired" that the second wrapper states.
 */
void c_ses_refine(BOUNCE_RCPT *rcpt);

#endif
