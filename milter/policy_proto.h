/*
 * policy_proto.h: Postfix's policy delegation protocol (SMTPD_POLICY_README)
 * as pure functions over buffers, for the policy service (policy_service.c)
 * and the unit tests: parse one request, format one reply.
 *
 * A request is "name=value" lines, each ending in LF, ended by an empty
 * line; the reply is "action=...", an empty line.  One connection carries
 * many requests, one after the other.
 */
#ifndef POLICY_PROTO_H
#define POLICY_PROTO_H

#include <stddef.h>
#include "sup_err.h"

#define POLICY_LINE_MAX 4096            /* bytes of one line, LF included */
#define POLICY_REQUEST_MAX (64 * 1024)  /* bytes of one request, final empty line included */
#define POLICY_ATTRS_MAX 100            /* attribute lines of one request */
/* The longest reply policy_format_action() writes, with its "\n\n". */
#define POLICY_REPLY_MAX 512

/* The attributes the verdict needs; every other one is skipped. */
struct policy_request {
    char request[POLICY_LINE_MAX];          /* "smtpd_access_policy" */
    char protocol_state[POLICY_LINE_MAX];   /* "RCPT", "DATA", ... */
    char recipient[POLICY_LINE_MAX];        /* as the client wrote it, without <> */
    char sender[POLICY_LINE_MAX];           /* "" = null sender */
    char client_address[POLICY_LINE_MAX];   /* IP address */
    char sasl_username[POLICY_LINE_MAX];    /* the SMTP AUTH login, "" = none */
    unsigned attrs;                         /* attribute lines seen */
};

enum policy_parse_result {
    POLICY_PARSE_ERROR = -1,    /* malformed: err says what; close the connection */
    POLICY_PARSE_MORE = 0,      /* no complete request yet: read more */
    POLICY_PARSE_DONE = 1,      /* *req filled, *used bytes of buf taken */
};

/*
 * Parse the first request in buf (len bytes; more requests may follow).
 * Malformed: a NUL or other control byte (CR only just before LF), a line
 * longer than POLICY_LINE_MAX, a request longer than POLICY_REQUEST_MAX or
 * with more than POLICY_ATTRS_MAX attributes, a line without '=' or with
 * an empty name, a request with no attribute.  Limits are applied to
 * what has arrived so far, so an endless line or request is refused
 * before its end.
 */
enum policy_parse_result policy_parse(const char *buf, size_t len, struct policy_request *req,
                                      size_t *used, SUP_ERR *err);

/*
 * "action=CODE XCODE TEXT\n\n" (or "action=DUNNO\n\n" when code is NULL)
 * into out (POLICY_REPLY_MAX is enough).  text is made safe for the
 * protocol: CR, LF and other control bytes would end the attribute (or
 * start a second one), so each becomes '?'; it is cut to fit.  Returns
 * the length written.
 */
size_t policy_format_action(const char *code, const char *xcode, const char *text,
                            char *out, size_t outlen);

#endif
