/*
 * b_util.h: text helpers shared by the detectors of group b (sendmail,
 * the Japanese carriers, the mail filters and gateways...).
 *
 * These formats are mostly plain text: a detector splits the text into
 * lines, finds the recipients, and joins the remote server's response into
 * one line.  The helpers here do the parts they all repeat: line splitting,
 * SMTP reply and status code extraction, joining multi-line SMTP replies,
 * and reading RFC 3464 fields, from a delivery-status part or from plain
 * text where old MTAs write them inline.
 */
#ifndef B_UTIL_H
#define B_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "bounce.h"

/* A text split into lines: LF separated, CR removed, each NUL-terminated. */
typedef struct b_lines {
    char **v;
    size_t n;
} B_LINES;

/* Split text into *lines.  Returns 0, or -1 when out of memory. */
int b_lines_split(const char *text, B_LINES *lines);
void b_lines_free(B_LINES *lines);

/* Growable text; b_text_add() separates the pieces by one space. */
typedef struct b_text {
    char *s;
    size_t len;
    size_t alloc;
} B_TEXT;

int b_text_add(B_TEXT *text, const char *piece);
int b_text_addn(B_TEXT *text, const char *piece, size_t len);
void b_text_free(B_TEXT *text);

bool b_prefix(const char *s, const char *prefix);
bool b_prefix_ci(const char *s, const char *prefix);
/* Case-insensitive strstr. */
const char *b_strcasestr(const char *haystack, const char *needle);
/* Skip spaces and tabs. */
const char *b_skip_blank(const char *s);
/* True for an empty or all-blank line. */
bool b_blank(const char *s);
/* Collapse every run of white space into one space and trim; in place. */
char *b_squeeze(char *s);

/* True if any header `name` of the bounce contains needle (case-insensitive). */
bool b_header_has(const BOUNCE_MSG *msg, const char *name, const char *needle);
/* True if the first header `name` starts with prefix (case-insensitive). */
bool b_header_prefix(const BOUNCE_MSG *msg, const char *name, const char *prefix);
/* True if the first header `name` equals value (case-insensitive, trimmed). */
bool b_header_is(const BOUNCE_MSG *msg, const char *name, const char *value);

/* The first "<local@domain>" in s: start of the address (after '<') and its
 * length.  Returns false when there is none. */
bool b_angle_address(const char *s, const char **start, size_t *len);
/* The first bare "local@domain" token in s (stops at space, <>()[]",;).
 * A trailing '.' or ':' is not part of it.  Returns false when none. */
bool b_bare_address(const char *s, const char **start, size_t *len);
/* True if the whole of s (blank-trimmed, optional <>) is one address. */
bool b_is_address_line(const char *s);

/* The first enhanced status code (RFC 3463: "5.1.1", "4.7.26") in text,
 * copied into out (room for 16 bytes).  Returns false when none. */
bool b_find_status(const char *text, char out[16]);
/* The SMTP reply code at the start of text ("550 ...", "550-..."),
 * copied into out (4 bytes).  Returns false when none. */
bool b_leading_replycode(const char *text, char out[4]);
/* Fill rcpt->replycode and rcpt->status from rcpt->diagnostic when they are
 * missing, or when the status is only "X.0.0" and the text says more. */
void b_fill_codes(BOUNCE_RCPT *rcpt);

/*
 * Join the SMTP reply that starts at lines[first] ("550-5.7.1 a",
 * "550-5.7.1 b", "550 5.7.1 c") into one line "550 5.7.1 a b c".  strip is
 * a prefix every line carries before the reply ("<<< " in a sendmail
 * transcript, "" for none).  *used receives the number of lines consumed.
 * Returns a new string, or NULL if lines[first] is no reply.
 */
char *b_join_reply(char *const *lines, size_t count, size_t first,
                   const char *strip, size_t *used);

/*
 * RFC 3464 fields.  A group is a BOUNCE_FIELDS as bounce.h defines it;
 * b_dsn_apply() copies one recipient group (and the per-message group, for
 * Reporting-MTA) into rcpt: recipient, original_recipient (and forwarded
 * when it differs), action, status, remote_mta, reporting_mta, diagnostic
 * (without the "smtp;" type; other types, "X-Unix; 255", are kept), codes.
 * Values already set in rcpt are kept unless the group has one.
 */
void b_dsn_apply(BOUNCE_RCPT *rcpt, const BOUNCE_FIELDS *group,
                 const BOUNCE_FIELDS *per_message);
/* True when a Diagnostic-Code has a type other than SMTP ("X-Unix; 255"). */
bool b_dsn_type_is_other(const char *value);
/* The value of a "type; value" field without its type ("dns; mx.example"
 * -> "mx.example").  Points into value. */
const char *b_dsn_value(const char *value);

/* DSN groups found in plain text lines (old bounces without MIME, quoted
 * forwards): fields before the first recipient field go to per_message,
 * a Final-Recipient or Original-Recipient starts a group unless it completes
 * the current one (the pair comes in either order).
 * Reading stops at an inlined returned message ("Content-Type:
 * message/rfc822" or "text/rfc822-headers").  Returns the number of groups
 * (0 = none, *groups NULL). */
size_t b_dsn_from_lines(const B_LINES *lines, size_t from,
                        BOUNCE_FIELDS *per_message, BOUNCE_FIELDS **groups);
void b_dsn_groups_free(BOUNCE_FIELDS *groups, size_t count);

/* Remove the recipients appended after the first `keep` (a parse that
 * gave up after all). */
void b_report_drop(BOUNCE_REPORT *report, size_t keep);

/* The recipient of report whose address equals addr (normalized), or NULL. */
BOUNCE_RCPT *b_report_find(BOUNCE_REPORT *report, size_t from, const char *addr);

#endif
