/*
 * policy_proto.c: parse one Postfix policy request, format one reply (see
 * policy_proto.h).  No I/O and no state: the caller keeps the buffer.
 *
 * Unknown attribute names are not an error.  SMTPD_POLICY_README says a
 * policy server must ignore attributes it does not know, and Postfix adds
 * new ones from version to version (ccert_*, policy_context, compatibility
 * attributes...): refusing them would break at the next Postfix upgrade.
 * What is refused is malformed input, which cannot come from smtpd.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "policy_proto.h"

/* Where the value of a known attribute goes, or NULL to skip it. */
static char *slot_of(struct policy_request *req, const char *name, size_t len)
{
    static const struct {
        const char *name;
        size_t offset;
    } known[] = {
        { "request", offsetof(struct policy_request, request) },
        { "protocol_state", offsetof(struct policy_request, protocol_state) },
        { "recipient", offsetof(struct policy_request, recipient) },
        { "sender", offsetof(struct policy_request, sender) },
        { "client_address", offsetof(struct policy_request, client_address) },
        { "sasl_username", offsetof(struct policy_request, sasl_username) },
    };
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strlen(known[i].name) == len && memcmp(known[i].name, name, len) == 0)
            return (char *) req + known[i].offset;
    return NULL;
}

/* A byte that cannot be in a line: control characters but TAB. */
static bool binary_byte(unsigned char ch)
{
    return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

/* One complete line (without its LF, and a CR before it); 0 or -1 + err. */
static int take_line(struct policy_request *req, const char *line, size_t len, SUP_ERR *err)
{
    const char *eq = memchr(line, '=', len);
    char *slot;

    if (eq == NULL)
        return sup_err_set(err, SUP_ERR_INPUT, "attribute line %u has no '=' (\"%.*s\")",
                           req->attrs + 1, (int) (len > 40 ? 40 : len), line);
    if (eq == line)
        return sup_err_set(err, SUP_ERR_INPUT, "attribute line %u has an empty name",
                           req->attrs + 1);
    if (++req->attrs > POLICY_ATTRS_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "more than %d attributes in one request",
                           POLICY_ATTRS_MAX);
    if ((slot = slot_of(req, line, (size_t) (eq - line))) != NULL) {
        size_t vlen = len - (size_t) (eq + 1 - line);

        /* vlen < POLICY_LINE_MAX: the line was checked against it. */
        memcpy(slot, eq + 1, vlen);
        slot[vlen] = '\0';
    }
    return 0;
}

enum policy_parse_result policy_parse(const char *buf, size_t len, struct policy_request *req,
                                      size_t *used, SUP_ERR *err)
{
    size_t pos = 0;

    memset(req, 0, sizeof(*req));
    *used = 0;
    while (pos < len) {
        size_t start = pos, end;
        const char *nl;

        /* The line so far: no binary byte, not too long, even unfinished. */
        nl = memchr(buf + start, '\n', len - start);
        end = nl != NULL ? (size_t) (nl - buf) : len;
        if (end - start + (nl != NULL) > POLICY_LINE_MAX - (nl == NULL))
            return sup_err_set(err, SUP_ERR_INPUT, "line %u longer than %d bytes",
                               req->attrs + 1, POLICY_LINE_MAX);
        if (end + (nl != NULL) > POLICY_REQUEST_MAX)
            return sup_err_set(err, SUP_ERR_INPUT, "request longer than %d bytes",
                               POLICY_REQUEST_MAX);
        for (pos = start; pos < end; pos++) {
            unsigned char ch = (unsigned char) buf[pos];

            if (ch == '\r' && nl != NULL && pos + 1 == end)
                break;          /* CRLF: tolerated */
            if (binary_byte(ch))
                return sup_err_set(err, SUP_ERR_INPUT,
                                   "binary byte 0x%02x in line %u", ch, req->attrs + 1);
        }
        if (nl == NULL)
            return POLICY_PARSE_MORE;
        if (pos == start) {
            /* The empty line: the end of the request. */
            if (req->attrs == 0)
                return sup_err_set(err, SUP_ERR_INPUT, "empty request (no attributes)");
            *used = end + 1;
            return POLICY_PARSE_DONE;
        }
        if (take_line(req, buf + start, pos - start, err) < 0)
            return POLICY_PARSE_ERROR;
        pos = end + 1;
    }
    return POLICY_PARSE_MORE;
}

size_t policy_format_action(const char *code, const char *xcode, const char *text,
                            char *out, size_t outlen)
{
    size_t o, room;
    int n;

    if (outlen < 16)
        return 0;
    if (code == NULL) {
        n = snprintf(out, outlen, "action=DUNNO\n\n");
        return (size_t) n;
    }
    n = snprintf(out, outlen - 2, "action=%s %s ", code, xcode != NULL ? xcode : "");
    if (n < 0 || (size_t) n >= outlen - 2)
        return 0;
    o = (size_t) n;
    room = outlen - 3;          /* the final "\n\n" and the NUL */
    for (; text != NULL && *text != '\0' && o < room; text++)
        out[o++] = binary_byte((unsigned char) *text) ? '?' : *text;
    while (o > 0 && out[o - 1] == ' ')
        o--;                    /* no trailing blank when the text is empty */
    out[o++] = '\n';
    out[o++] = '\n';
    out[o] = '\0';
    return o;
}
