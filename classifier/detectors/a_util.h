/*
 * a_util.h: text helpers shared by the detectors of group a (postfix, exim,
 * qmail, courier, opensmtpd, dragonfly, messagingserver, domino, notes,
 * powermta, apachejames).
 *
 * These MTAs write their bounces as prose for people, with the remote
 * server's response wrapped over several lines and decorated ("host x[ip]
 * said:", "(in reply to RCPT TO command)").  The helpers split text into
 * lines, join wrapped lines back into one response, find the enhanced
 * status and reply code in it, and read RFC 3464 groups whether GMime found
 * a message/delivery-status part or the MTA inlined the fields in the text.
 */
#ifndef A_UTIL_H
#define A_UTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "bounce.h"

/* A text split into lines (no newline, no trailing CR); one allocation. */
typedef struct a_lines {
    char **line;
    size_t count;
    char *storage;
} A_LINES;

/* Split text into *out.  Returns 0, or -1 when out of memory (out empty). */
int a_lines_split(const char *text, A_LINES *out);
void a_lines_free(A_LINES *lines);

/* A growable string; `failed` is set once an allocation fails. */
typedef struct a_buf {
    char *data;
    size_t len;
    size_t alloc;
    bool failed;
} A_BUF;

/* Append text[0..len) with surrounding space trimmed, separated from what
 * is already there by one space. */
void a_buf_join(A_BUF *buf, const char *text, size_t len);
void a_buf_join_str(A_BUF *buf, const char *text);
/* The string so far ("" when empty); stays owned by buf. */
const char *a_buf_str(const A_BUF *buf);
void a_buf_free(A_BUF *buf);

/* Case-insensitive prefix test; returns the text after the prefix or NULL. */
const char *a_after_prefix(const char *text, const char *prefix);
/* Case-insensitive substring search (strcasestr without _GNU_SOURCE doubts). */
const char *a_find_nocase(const char *text, const char *needle);
/* Is the line empty or only white space? */
bool a_is_blank(const char *line);
/* Does the line start with white space (a wrapped continuation)? */
bool a_is_indented(const char *line);

/*
 * Make one clean line of a server response: white space runs (newlines
 * included) become one space, and the prefixes of a multi-line reply
 * ("550-5.1.1 ... 550-5.1.1 ... 550 5.1.1 ...") are kept once at the
 * start.  Returns a new string (NULL when out of memory or text is NULL).
 */
char *a_response_clean(const char *text);

/* The first enhanced status code ("5.1.1", "4.7.26") in text; out must
 * hold 16 bytes.  Returns false if there is none. */
bool a_find_status(const char *text, char *out);
/* The SMTP reply code a response starts with ("550 ...", "550-...",
 * "550 - ..."); out must hold 4 bytes.  Returns false if none. */
bool a_leading_replycode(const char *text, char *out);

/*
 * Fill status and replycode from the diagnostic where the format gave none
 * or only a generic status (X.0.0), as most MTAs put the remote server's
 * own, more precise code in the response text.
 */
void a_rcpt_codes_from_diagnostic(BOUNCE_RCPT *rcpt);

/* Set the diagnostic from a raw (possibly wrapped) response text. */
void a_rcpt_set_diagnostic(BOUNCE_RCPT *rcpt, const char *raw);

/* The host name after `marker` in a line ("This is the qmail-send program
 * at host.example.org."): a new string without the final dot, or NULL. */
char *a_host_after(const char *line, const char *marker);

/* Host name of a "dns; mx.example.com (more)" MTA field: copy into *field. */
void a_rcpt_set_mta(char **field, const char *value);

/*
 * Set rcpt->reason to the reason the format's own phrase implies, unless
 * the rule table already finds a reason in the diagnostic: the remote
 * server's words, when they say something, are more precise than the MTA's
 * summary of the situation ("sender was rejected").
 */
void a_reason_unless_rules(BOUNCE_RCPT *rcpt, const char *reason);

/*
 * The remote server refused our MAIL FROM (or the sender): the reason is
 * the rule table's unless that names a property of a recipient address
 * (userunknown, hostunknown...), which a refusal of the sender cannot
 * mean; then, and when the rules find nothing, "rejected".
 */
void a_reason_for_sender_refusal(BOUNCE_RCPT *rcpt);

/*
 * The remote server refused the message after DATA although it had
 * accepted the recipient at RCPT TO: "user unknown" then is a filter's
 * verdict on this message, not a fact about the address, so the reason is
 * "filtered" (as Sisimai reads it) and the address is not blocked as
 * unknown.  Other reasons are left to the rule table.
 */
void a_reason_after_data(BOUNCE_RCPT *rcpt);

/* RFC 3464 groups of a bounce, wherever they were. */
typedef struct a_dsn {
    const BOUNCE_FIELDS *per_message;   /* may be empty, never NULL */
    const BOUNCE_FIELDS *rcpt;          /* one group per recipient */
    size_t count;
    /* storage when the groups were read from the text or filtered */
    BOUNCE_FIELDS own_message;
    BOUNCE_FIELDS *own_rcpt;
    bool own_fields;                    /* own_rcpt's fields are ours */
} A_DSN;

/*
 * The delivery-status recipient groups of msg: the message/delivery-status
 * part GMime found, else fields the MTA wrote into the text itself (old or
 * forwarded bounces).  Groups that name no recipient (junk after a broken
 * MIME part) are left out.  Returns the number of recipient groups.
 */
size_t a_dsn_get(const BOUNCE_MSG *msg, A_DSN *dsn);
void a_dsn_free(A_DSN *dsn);

/*
 * Fill a recipient from one RFC 3464 recipient group: recipient (Final-,
 * else Original-Recipient), original recipient, action, status, remote and
 * reporting MTA, diagnostic (without its "smtp;" type), reply code.
 */
void a_rcpt_from_dsn(BOUNCE_RCPT *rcpt, const BOUNCE_FIELDS *group,
                     const BOUNCE_FIELDS *per_message);

/* True when both raw addresses normalize to the same address. */
bool a_same_address(const char *a, const char *b);

/* Any top-level header `name` (every occurrence, e.g. Received) contains
 * `needle` (case-insensitive). */
bool a_header_contains(const BOUNCE_MSG *msg, const char *name, const char *needle);

/* Mark the recipient forwarded when the original differs from the final. */
void a_rcpt_mark_forwarded(BOUNCE_RCPT *rcpt);

#endif
