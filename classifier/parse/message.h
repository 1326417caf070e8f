/*
 * message.h: turn one raw message into a BOUNCE_MSG (GMime does the MIME
 * work: structure, transfer encodings, charsets, RFC 2047).
 *
 * Used by ingest.c for every message it reads and by the unit tests.
 * Call g_mime_init() once before the first message_parse().
 * message_parse() is message.c's (with decode.c, headers.c, dsn_part.c:
 * message_int.h); the VERP functions are verp.c's.
 */
#ifndef MESSAGE_H
#define MESSAGE_H

#include <stddef.h>
#include "bounce.h"
#include "sup_err.h"

/* What bounds the work on one message (ingest.max-*); 0 = no limit. */
typedef struct message_limits {
    size_t max_size;        /* bytes */
    int max_depth;          /* MIME nesting (multiparts, attached messages) */
    size_t max_line;        /* bytes of one line, its CR LF not counted */
    int max_headers;        /* fields of the message's header, or of the returned message's */
    int max_recipients;     /* recipient groups of a DSN, recipients of a report */
} MESSAGE_LIMITS;

/*
 * Parse raw[0..len) into *msg (zeroed first).  path is remembered as
 * msg->path (not copied).  envelope_recipient, when not NULL, overrides the
 * Delivered-To/X-Original-To headers.  A leading mbox "From " line is
 * skipped.  A broken MIME structure degrades to plain text; exceeding a
 * limit is an error (SUP_ERR_INPUT, text naming the limit and its config
 * key): the size, line length and header count are checked before GMime
 * parses anything, the depth before the walk over the parts, the DSN's
 * recipients and the returned message's header fields after it (before
 * any detector runs).  Returns 0 or
 * -1 with err set; msg is always safe to message_free().
 */
int message_parse(const char *raw, size_t len, const char *path,
                  const char *envelope_recipient, const MESSAGE_LIMITS *limits,
                  BOUNCE_MSG *msg, SUP_ERR *err);
void message_free(BOUNCE_MSG *msg);

/*
 * VERP: the address a bounce or complaint was about, encoded in the
 * envelope recipient it came back to.  The pattern (ingest.verp-pattern,
 * e.g. "bounces+%{local}=%{domain}@example.org") is set once by main();
 * NULL disables it.  message_verp_recipient() decodes msg's envelope
 * recipient into out (ADDR_MAX + 1, normalized): 0, or -1 if there is no
 * pattern, no envelope recipient, or it does not match.
 */
void message_set_verp_pattern(const char *pattern);
int message_verp_recipient(const BOUNCE_MSG *msg, char *out, size_t outlen);
int verp_decode(const char *pattern, const char *envelope, char *out, size_t outlen);

#endif
