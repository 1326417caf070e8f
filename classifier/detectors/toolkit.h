/*
 * toolkit.h: what the bounce-format detectors share.
 *
 * Offers every detector (one file each in detectors/) and detectors.c the
 * jobs they all do on a bounce's text: lines, a growing one-line text,
 * case-insensitive search, header tests, finding addresses, reading the
 * remote server's
 * reply (its reply code, enhanced status, the SMTP command it answered,
 * its lines joined into one), and turning RFC 3464 field groups, from the
 * delivery-status part or written inline in the text, into recipients.
 * Nothing here knows a particular MTA: each detector keeps its markers,
 * layouts and phrases.  Everything here is tolerant: bounces are written
 * by programs of every age, so a helper that does not find what it looks
 * for says so and never fails on junk.
 *
 * The one header detectors include; the code is in toolkit/, by job:
 *   text.c      lines, one-line texts, strings, header tests
 *   address.c   addresses, the recipients of a report
 *   reply.c     reply code, enhanced status, a reply's lines joined
 *   command.c   the SMTP command a failure answered
 *   dsn.c       RFC 3464 field groups into recipients
 */
#ifndef TOOLKIT_H
#define TOOLKIT_H

#include <stdbool.h>
#include <stddef.h>

#include "bounce.h"

/* ---- lines (toolkit/text.c) ---- */

/* A text split into lines (no LF, no trailing CR), writable; one allocation. */
typedef struct text_lines {
    char **line;
    size_t count;
    char *storage;
} TEXT_LINES;

/* Split text (NULL = "") into *out.  0, or -1 when out of memory (out empty). */
int lines_split(const char *text, TEXT_LINES *out);
void lines_free(TEXT_LINES *lines);

/* The first line of text that starts with prefix after blanks: a pointer
 * to the prefix in text, or NULL. */
const char *find_line(const char *text, const char *prefix);
/* The index of the line after the first of lines[from..] that starts with
 * prefix (after blanks), where a format's part of interest begins; the
 * count when no line does. */
size_t lines_after(const TEXT_LINES *lines, size_t from, const char *prefix);

/* ---- a one-line text built from pieces (toolkit/text.c) ---- */

/* A growable string; `failed` is set once an allocation fails. */
typedef struct text_buf {
    char *data;
    size_t len;
    size_t alloc;
    bool failed;
} TEXT_BUF;

/* Append text[0..len) as words: white space runs become one space, and one
 * space separates it from what is already there. */
void buf_join(TEXT_BUF *buf, const char *text, size_t len);
/* buf_join() of a NUL-terminated text; NULL adds nothing. */
void buf_join_str(TEXT_BUF *buf, const char *text);
/* The text so far ("" when empty); stays owned by buf. */
const char *buf_str(const TEXT_BUF *buf);
/* Hand the text over (caller frees); NULL when empty.  buf is left empty. */
char *buf_take(TEXT_BUF *buf);
void buf_free(TEXT_BUF *buf);

/* ---- strings (toolkit/text.c) ---- */

/* The text after `prefix` if text starts with it, else NULL (NULL-safe). */
const char *after_prefix(const char *text, const char *prefix);
/* after_prefix(), ignoring case. */
const char *after_prefix_nocase(const char *text, const char *prefix);
/* Case-insensitive strstr(); NULL when text is NULL. */
const char *find_nocase(const char *text, const char *needle);
/* Does text contain any string of the NULL-terminated list (case-insensitive)? */
bool contains_any(const char *text, const char *const *list);
/* Skip spaces and tabs. */
const char *skip_blank(const char *s);
/* Is the line NULL, empty or only white space? */
bool is_blank(const char *line);
/* Does the line start with white space and hold more (a wrapped continuation)? */
bool is_indented(const char *line);
/* Collapse white space runs into one space and trim, in place; returns s. */
char *squeeze_space(char *s);

/* A phrase of a format's own text and the reason it states. */
typedef struct phrase_reason {
    const char *phrase;
    const char *reason;
} PHRASE_REASON;

/* The reason of the first phrase of table ({NULL, NULL}-terminated) that
 * text contains (case-insensitive), or NULL. */
const char *phrase_reason(const PHRASE_REASON *table, const char *text);

/* The host name after `marker` in a line ("This is the qmail-send program
 * at host.example.org."): a new string without the final dot, or NULL. */
char *host_after(const char *line, const char *marker);

/* ---- headers of the bounce (toolkit/text.c) ---- */

/* Does any top-level header `name` (every occurrence) contain needle (case-insensitive)? */
bool header_contains(const BOUNCE_MSG *msg, const char *name, const char *needle);
/* Does the first header `name` start with prefix (case-insensitive, after blanks)? */
bool header_starts(const BOUNCE_MSG *msg, const char *name, const char *prefix);
/* Is the first header `name` equal to value (case-insensitive, trimmed)? */
bool header_is(const BOUNCE_MSG *msg, const char *name, const char *value);

/* ---- addresses (toolkit/address.c) ---- */

/* The first "<local@domain>" in s: start (after '<') and length. */
bool find_angle_address(const char *s, const char **start, size_t *len);
/* The first bare "local@domain" in s, without surrounding punctuation:
 * start and length. */
bool find_bare_address(const char *s, const char **start, size_t *len);
/* The first e-mail address in text[0..len), without surrounding punctuation,
 * copied into out (outlen bytes).  False if none fits. */
bool find_address(const char *text, size_t len, char *out, size_t outlen);
/* Is the whole line (blank-trimmed, optionally in <>) one address? */
bool is_address_line(const char *s);
/* The first address on a line of a bounce's text ("<a@x>", "a@x:", "To:
 * a@x"), normalized into out, that is not the bounce's own: not its From
 * or To (ourselves), not a MAILER-DAEMON or postmaster.  False if none. */
bool line_foreign_address(const BOUNCE_MSG *msg, const char *line, char *out, size_t outlen);
/* Mark the recipient forwarded when its original differs from it. */
void rcpt_mark_forwarded(BOUNCE_RCPT *rcpt);
/* Do both raw addresses normalize to the same address? */
bool same_address(const char *a, const char *b);
/* The recipient of report, from index `from` on, whose address is addr
 * (compared normalized), or NULL. */
BOUNCE_RCPT *report_find(BOUNCE_REPORT *report, size_t from, const char *addr);
/* Set the action of the recipients from index `from` on that have none. */
void report_default_action(BOUNCE_REPORT *report, size_t from, const char *action);
/*
 * The end of a bounce detector's parse(): complete the codes of the
 * recipients it added (index `first` on) from their diagnostics, call the
 * report a bounce if it added any, and return how many: parse()'s result.
 */
int report_finish(BOUNCE_REPORT *report, size_t first);

/*
 * Which of a text's `count` per-recipient entries belongs to the index-th
 * of `total` DSN recipients: the entry at the same position if it is about
 * rcpt, else the first one that is, else the one at the same position when
 * the counts agree (the text may name another address).  is_about(entries,
 * i, rcpt) says whether entry i names rcpt.  Returns the entry's index, or
 * count when none.
 */
size_t entry_for_rcpt(const void *entries, size_t count, const BOUNCE_RCPT *rcpt,
                      size_t index, size_t total,
                      bool (*is_about)(const void *entries, size_t i, const BOUNCE_RCPT *rcpt));

/* ---- the remote server's reply (toolkit/reply.c, toolkit/command.c) ---- */

/* The first enhanced status code ("5.1.1", "4.7.0") in text, not part of an
 * IP address or a longer number: its length (0 if none), start in *found. */
size_t text_find_status(const char *text, const char **found);
/* The SMTP reply code (2xx-5xx) at the start of text, after blanks and an
 * opening '<', '"' or '(', if there is one. */
bool text_leading_replycode(const char *text, char code[4]);
/* Fill replycode and status from the diagnostic where the detector left
 * them out (or left a vague "5.0.0" while the text says "5.1.1"). */
void rcpt_complete_codes(BOUNCE_RCPT *rcpt);
/*
 * One clean line of a server response: white space runs (newlines
 * included) become one space, and the prefixes a multi-line reply repeats
 * ("550-5.1.1 a 550-5.1.1 b 550 5.1.1 c") stand once at the start ("550
 * 5.1.1 a b c").  A new string, or NULL when text is NULL or out of memory.
 */
char *response_clean(const char *text);
/*
 * Join the multi-line reply that starts at lines[first] ("550-5.7.1 a",
 * "550 5.7.1 b") into one clean line; `strip` is a prefix each line carries
 * ("<<< " in a transcript, "" for none).  *used gets the number of lines it
 * spans.  A new string, or NULL if lines[first] is no reply.
 */
char *reply_join_lines(char *const *lines, size_t count, size_t first, const char *strip,
                       size_t *used);
/* Set the diagnostic to response_clean(raw) (nothing when that is empty)
 * and complete the codes from it. */
void rcpt_set_response(BOUNCE_RCPT *rcpt, const char *raw);
/*
 * The SMTP command a bounce text says the failure answered: "(in reply to
 * RCPT TO command)", "after end of data", ">>> MAIL From:<x>", "but sender
 * was rejected", "(state 14)"...  "CONN", "HELO", "MAIL", "RCPT", "DATA",
 * or NULL when the text names none (the earliest phrase in the text wins).
 */
const char *smtp_command_in(const char *text);
/* Set rcpt->command from smtp_command_in(text), unless it is set already. */
void rcpt_set_command(BOUNCE_RCPT *rcpt, const char *text);
/* The command of an SMTP verb a format names as such ("DATA", "RCPT TO",
 * "EHLO" under m-FILTER's "-------SMTP command"), in bounce.h's names, or
 * NULL (QUIT, AUTH, no verb). */
const char *smtp_command_named(const char *verb);

/*
 * Set rcpt->reason to the reason a format's own phrase implies, unless it
 * has one or the rule table finds one in the diagnostic: the remote
 * server's words, when they say something, are more precise than the
 * MTA's summary of the situation.
 */
void rcpt_reason_unless_rules(BOUNCE_RCPT *rcpt, const char *reason);
/* ---- RFC 3464 fields (toolkit/dsn.c) ---- */

/* A "type; value" field's value without its type ("dns; mx.example" ->
 * "mx.example", "smtp; 550 x" -> "550 x"); NULL stays NULL. */
const char *dsn_value(const char *value);
/* Set *field to the host name of an MTA field ("dns; mx.example.com.
 * (192.0.2.1...)" -> "mx.example.com"); NULL or empty sets nothing. */
void rcpt_set_host(char **field, const char *value);

/* The DSN field groups of a bounce, wherever they were. */
typedef struct dsn_groups {
    const BOUNCE_FIELDS *per_message;   /* may be empty, never NULL */
    const BOUNCE_FIELDS *rcpt;          /* one group per recipient, each naming one */
    size_t count;
    BOUNCE_FIELDS own_message;          /* storage of groups read from text */
    BOUNCE_FIELDS *own_rcpt;
    bool own_fields;                    /* own_rcpt's fields are ours to free */
} DSN_GROUPS;

/* The recipient groups of msg's delivery-status part (those that name a
 * recipient), else the fields written into the text: `lines` when the
 * detector has them (its own cleaned-up copy), else msg->text.  Returns
 * the count. */
size_t dsn_groups_of(const BOUNCE_MSG *msg, const TEXT_LINES *lines, DSN_GROUPS *dsn);
/*
 * DSN fields written as text (old bounces without MIME, quoted forwards)
 * in lines[from..]: fields before the first recipient field are the
 * per-message group; a Final- or Original-Recipient starts a group unless
 * it completes the current one (the pair comes in either order).  Reading
 * stops at a returned message ("Content-Type: message/rfc822").  Returns
 * the number of recipient groups.
 */
size_t dsn_groups_in_lines(const TEXT_LINES *lines, size_t from, DSN_GROUPS *dsn);
void dsn_groups_free(DSN_GROUPS *dsn);
/*
 * Fill rcpt from one recipient group (and Reporting-MTA from per_message,
 * may be NULL): recipient (Final-, X-Actual-, else Original-Recipient),
 * original recipient and forwarded, action, status (a comment or reply
 * written in Status serves as diagnostic when there is no other), MTAs,
 * the diagnostic (without its "smtp;" type; "X-Unix; 255" keeps it) and
 * the codes in it.  Fields the group lacks are left as they were.
 */
void rcpt_from_dsn(BOUNCE_RCPT *rcpt, const BOUNCE_FIELDS *group, const BOUNCE_FIELDS *per_message);
/* One recipient per group of dsn, filled by rcpt_from_dsn().  Returns the
 * number added. */
int rcpts_from_dsn(const DSN_GROUPS *dsn, BOUNCE_REPORT *report);
/* The same for the groups of msg's delivery-status part that name a
 * recipient (none when there is no such part). */
int rcpts_from_dsn_part(const BOUNCE_MSG *msg, BOUNCE_REPORT *report);
/* One recipient per address of a comma-separated list (X-Failed-Recipients)
 * that the report does not hold yet.  Returns the number added. */
int rcpts_from_list(const char *list, BOUNCE_REPORT *report);

#endif
