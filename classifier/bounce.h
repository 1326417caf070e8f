/*
 * bounce.h: the data that flows through suppress-ingest.
 *
 *   mailbox/ -> parse/ (GMime) -> BOUNCE_MSG -> detectors/ -> BOUNCE_REPORT
 *            -> decide/classify.c (reason, class) -> decide/policy.c -> store
 *
 * BOUNCE_MSG is a parsed, decoded view of one bounce or complaint message:
 * detectors read it and never touch GMime.  BOUNCE_REPORT is what they
 * produce: one BOUNCE_RCPT per reported recipient, in message order.
 * The functions declared here are in parse/fields.c (fields_*, bmsg_*)
 * and parse/report.c (the rest).
 */
#ifndef BOUNCE_H
#define BOUNCE_H

#include <stdbool.h>
#include <stddef.h>

/* One "Name: value" header field, value unfolded and RFC 2047-decoded (UTF-8). */
typedef struct bounce_field {
    char *name;
    char *value;
} BOUNCE_FIELD;

/* A block of header-style fields: message headers, or one DSN/ARF group. */
typedef struct bounce_fields {
    BOUNCE_FIELD *items;
    size_t count;
} BOUNCE_FIELDS;

/* First value of field `name` (case-insensitive) or NULL. */
const char *fields_get(const BOUNCE_FIELDS *fields, const char *name);
/* Parse an RFC 822 style header block (unfolds continuation lines, skips
 * lines that are no field and leading empty lines, stops at the first empty
 * line after a field).  Appends to *out.  Returns the number of fields added. */
size_t fields_parse(const char *text, BOUNCE_FIELDS *out);
/* The same for machine-readable blocks (DSN groups, ARF reports): values
 * are not RFC 2047-decoded ("=?utf-8?B?...?=@example.org" is an address),
 * only invalid UTF-8 is repaired. */
size_t fields_parse_raw(const char *text, BOUNCE_FIELDS *out);
void fields_free(BOUNCE_FIELDS *fields);

typedef struct bounce_msg {
    const char *path;            /* file name as given, "-" for stdin (not owned) */
    size_t raw_size;             /* bytes of the raw message */
    BOUNCE_FIELDS headers;       /* top-level headers, decoded */
    char *content_type;          /* top-level "type/subtype", lowercase */
    char *report_type;           /* report-type parameter of multipart/report, lowercase, or NULL */
    /*
     * The human-readable part: for multipart/report the first part, else the
     * first text/plain part (text/html reduced to text when there is none),
     * else the whole body.  Transfer encoding undone, converted to UTF-8,
     * CRLF turned into LF.  Never NULL ("" when empty).
     */
    char *text;
    /*
     * Everything a plain-text bounce may hide its data in: all text parts
     * and message/delivery-status parts in order, each after a line
     * "Content-Type: <type>", and returned messages' headers after
     * "Content-Type: message/rfc822".  Like Sisimai's flattened body, for
     * detectors of MTAs that put the DSN fields in odd places.  Never NULL.
     */
    char *flat;
    /* message/delivery-status (or message/global-delivery-status) part:
     * the per-message group and one group per recipient.  count 0 if none. */
    BOUNCE_FIELDS dsn_message;
    BOUNCE_FIELDS *dsn_rcpts;
    size_t dsn_rcpt_count;
    /* message/feedback-report part (ARF), NULL if none. */
    BOUNCE_FIELDS *feedback;
    /* Headers of the returned original message (message/rfc822,
     * text/rfc822-headers, or message/global-headers part), NULL if none.
     * Detectors of formats that inline the original in `text` parse it
     * themselves with fields_parse(). */
    BOUNCE_FIELDS *returned;
    /* The envelope recipient the bounce was delivered to (Postfix pipe
     * ${original_recipient}, or Delivered-To/X-Original-To), for VERP; may be NULL. */
    char *envelope_recipient;
} BOUNCE_MSG;

/* Top-level header (first occurrence) or NULL. */
const char *bmsg_header(const BOUNCE_MSG *msg, const char *name);
/* Header of the returned original message or NULL. */
const char *bmsg_returned_header(const BOUNCE_MSG *msg, const char *name);

enum bounce_class {
    CLASS_UNKNOWN = 0,
    CLASS_HARD,         /* permanent: the response says it will not go away */
    CLASS_SOFT,         /* temporary */
    CLASS_COMPLAINT,
    CLASS_DELAYED,      /* a warning, delivery still being tried */
    CLASS_AUTOREPLY,
    CLASS_DELIVERED,
};
/* "unknown", "hard", "soft", "complaint", "delayed", "autoreply", "delivered" */
const char *bounce_class_name(enum bounce_class cls);

typedef struct bounce_rcpt {
    char *recipient;            /* failed (final) recipient, normalized when it parses; NULL if unknown */
    char *original_recipient;   /* the address we sent to when it differs or is known; NULL otherwise */
    char *action;               /* "failed", "delayed", "delivered", "relayed", "expanded"; NULL = failed */
    char *status;               /* enhanced status "5.1.1", or NULL */
    char *replycode;            /* SMTP reply code "550", or NULL */
    /* The SMTP command the remote server answered with this failure:
     * "CONN", "HELO" (also EHLO), "MAIL", "RCPT", "DATA" (after the
     * message), or NULL when the format does not say.  classify() reads it:
     * "user unknown" after DATA is a content filter speaking, not a
     * missing mailbox. */
    char *command;
    char *diagnostic;           /* the remote server's full response (or the MTA's explanation), one line, or NULL */
    char *reporting_mta;        /* host name, or NULL */
    char *remote_mta;           /* host name, or NULL */
    char *feedback_type;        /* ARF Feedback-Type ("abuse", "opt-out"...), or NULL */
    /* Set by a detector when its format states the reason structurally
     * (e.g. SES bounceSubType); otherwise classify() derives it.  A static
     * string: one of the Sisimai reason names. */
    const char *reason;
    enum bounce_class cls;      /* set by classify() */
    bool forwarded;             /* the failing address is not the one we sent to */
} BOUNCE_RCPT;

enum report_kind {
    REPORT_NONE = 0,            /* not a bounce, complaint or auto-reply */
    REPORT_BOUNCE,              /* delivery status notification (failed/delayed/...) */
    REPORT_COMPLAINT,           /* ARF feedback report */
    REPORT_AUTOREPLY,           /* RFC 3834 auto-reply, vacation */
};

typedef struct bounce_report {
    enum report_kind kind;
    const char *detector;       /* name of the detector that produced it (static) */
    BOUNCE_RCPT *rcpts;
    size_t count;
    size_t alloc;
} BOUNCE_REPORT;

/* Append a zeroed recipient; returns it (NULL on allocation failure). */
BOUNCE_RCPT *report_add(BOUNCE_REPORT *report);
/* Replace *field with a copy of value (NULL clears); trims surrounding space. */
void rcpt_set(char **field, const char *value);
/* Replace *field with a copy of value[0..len). */
void rcpt_setn(char **field, const char *value, size_t len);
/* Set rcpt->recipient (or original_recipient) from raw text: strips <>,
 * "rfc822;" and normalizes with addr_normalize(); keeps the raw text
 * (lowercased) if it does not parse.  Returns 0 if it normalized. */
int rcpt_set_address(char **field, const char *raw);
void report_clear(BOUNCE_REPORT *report);   /* free recipients, keep nothing */
/* Drop the recipients after the first `keep` (a detector that gave up). */
void report_truncate(BOUNCE_REPORT *report, size_t keep);
/* The first address of an address-list header value ("A <a@x>, b@y",
 * "a@x (comment)"), normalized into out (ADDR_MAX + 1).  0 or -1. */
int header_first_address(const char *value, char *out, size_t outlen);

#endif
