/*
 * message.c: one raw message -> BOUNCE_MSG (message.h).
 *
 * Offers ingest.c (and the tests) the decoded view every detector reads:
 * headers, the human-readable text, the flattened body, the DSN groups,
 * the ARF report and the returned message's headers.  GMime does all MIME
 * work (structure, transfer encodings, charsets, RFC 2047); this file only
 * walks the tree GMime builds and picks the parts out.  Nothing here may
 * crash on a broken message: what GMime cannot structure is read as text.
 * The walk's helpers are in decode.c (a part's text), headers.c (header
 * blocks, the flat body) and dsn_part.c (DSN groups), see message_int.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <gmime/gmime.h>

#include "bounce.h"
#include "message.h"
#include "message_int.h"

/* What the walk over the MIME tree collects before it is stored in msg. */
struct walk {
    BOUNCE_MSG *msg;
    GString *flat;
    /* The leaf whose text is the human-readable part of the first
     * multipart/report: taken when the walk decodes it (never twice). */
    GMimeObject *report_leaf;
    char *report_text;
    char *first_plain;          /* first text/plain part */
    char *first_html;           /* first text/html part, reduced to text */
    bool saw_report;            /* a multipart/report, DSN or ARF part of its own */
    /* The first attached message that holds a multipart/report (a bounce
     * forwarded by a filter under a notice of its own), and whether the
     * walk is inside it now. */
    GMimeObject *attached_report;
    bool nested;
};

/* ---- walking the MIME tree ---- */

/* Deepest nesting of containers under object, stopping once over max. */
static int mime_depth(GMimeObject *object, int depth, int max)
{
    int deepest = depth;

    if (max > 0 && depth > max)
        return depth;
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *multipart = GMIME_MULTIPART(object);
        int count = g_mime_multipart_get_count(multipart);

        for (int i = 0; i < count && !(max > 0 && deepest > max); i++) {
            int d = mime_depth(g_mime_multipart_get_part(multipart, i), depth + 1, max);

            if (d > deepest)
                deepest = d;
        }
    } else if (GMIME_IS_MESSAGE_PART(object)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(object));
        GMimeObject *body = inner ? g_mime_message_get_mime_part(inner) : NULL;

        if (body != NULL) {
            int d = mime_depth(body, depth + 1, max);

            if (d > deepest)
                deepest = d;
        }
    }
    return deepest;
}

static void set_returned(BOUNCE_MSG *msg, BOUNCE_FIELDS *fields)
{
    if (msg->returned != NULL || fields->count == 0) {
        fields_free(fields);
        return;
    }
    msg->returned = malloc(sizeof(*msg->returned));
    if (msg->returned == NULL) {
        fields_free(fields);
        return;
    }
    *msg->returned = *fields;
}

static bool is_dsn_type(const char *type)
{
    return strcmp(type, "message/delivery-status") == 0
        || strcmp(type, "message/global-delivery-status") == 0;
}

static bool is_headers_type(const char *type)
{
    return strcmp(type, "text/rfc822-headers") == 0
        || strcmp(type, "text/rfc822-header") == 0      /* a common misspelling */
        || strcmp(type, "message/global-headers") == 0
        || strcmp(type, "message/rfc822-headers") == 0;
}

/*
 * A status or report part (whatever GMime made of it: leaf or message).
 * DSN and ARF fields are machine-readable: their values are taken as they
 * are (an address like "=?utf-8?B?...?=@example.org" is what was sent to,
 * never an encoded word); returned headers are message headers.
 */
static void take_report_part(struct walk *w, const char *type, const char *text)
{
    if (is_dsn_type(type)) {
        parse_dsn(w->msg, text);
        w->saw_report = w->saw_report || !w->nested;
    } else if (strcmp(type, "message/feedback-report") == 0) {
        if (w->msg->feedback == NULL && (w->msg->feedback = calloc(1, sizeof(BOUNCE_FIELDS))))
            fields_parse_raw(text, w->msg->feedback);
        w->saw_report = w->saw_report || !w->nested;
    } else if (is_headers_type(type)) {
        BOUNCE_FIELDS fields = { NULL, 0 };

        fields_parse(text, &fields);
        set_returned(w->msg, &fields);
    }
    flat_add_part(w->flat, type, text);
}

static void walk_leaf(struct walk *w, GMimePart *part, const char *type)
{
    char *text;

    if (strncmp(type, "text/", 5) != 0 && strncmp(type, "message/", 8) != 0)
        return;                 /* attachments: images, archives... */
    text = part_text(part);
    if (strcmp(type, "text/html") == 0) {
        char *reduced = html_to_text(text);

        g_free(text);
        text = reduced;
        if (w->first_html == NULL && !w->nested)
            w->first_html = g_strdup(text);
        flat_add_part(w->flat, type, text);
    } else if (strcmp(type, "message/rfc822") == 0 || strcmp(type, "message/global") == 0) {
        /* A returned message GMime did not parse (e.g. base64-encoded). */
        BOUNCE_FIELDS fields = { NULL, 0 };

        fields_parse(text, &fields);
        g_string_append(w->flat, "Content-Type: message/rfc822\n");
        flat_add_fields(w->flat, &fields);
        set_returned(w->msg, &fields);
    } else if (strncmp(type, "message/", 8) == 0 || is_headers_type(type)) {
        take_report_part(w, type, text);
    } else {
        if (strcmp(type, "text/plain") == 0 && w->first_plain == NULL && !w->nested)
            w->first_plain = g_strdup(text);
        flat_add_part(w->flat, type, text);
    }
    if (GMIME_OBJECT(part) == w->report_leaf) {
        w->report_text = text;
        w->report_leaf = NULL;
        return;
    }
    g_free(text);
}

static char *lower_mime_type(GMimeObject *object)
{
    GMimeContentType *ct = g_mime_object_get_content_type(object);
    char *type = ct ? g_mime_content_type_get_mime_type(ct) : NULL;

    if (type == NULL)
        return g_strdup("text/plain");
    for (char *p = type; *p; p++)
        *p = (char) g_ascii_tolower(*p);
    return type;
}

static bool object_is_type(GMimeObject *object, const char *type)
{
    char *lower = lower_mime_type(object);
    bool is = strcmp(lower, type) == 0;

    g_free(lower);
    return is;
}

/* The first multipart/report in object's tree (not inside attached messages). */
static GMimeObject *find_report(GMimeObject *object)
{
    GMimeMultipart *multipart;

    if (object == NULL || !GMIME_IS_MULTIPART(object))
        return NULL;
    if (object_is_type(object, "multipart/report"))
        return object;
    multipart = GMIME_MULTIPART(object);
    for (int i = 0; i < g_mime_multipart_get_count(multipart); i++) {
        GMimeObject *found = find_report(g_mime_multipart_get_part(multipart, i));

        if (found != NULL)
            return found;
    }
    return NULL;
}

static void walk_object(struct walk *w, GMimeObject *object);

static void walk_message_part(struct walk *w, GMimeMessagePart *part, const char *type)
{
    GMimeMessage *inner = g_mime_message_part_get_message(part);
    GMimeObject *body;

    if (inner == NULL)
        return;
    if (is_dsn_type(type) || strcmp(type, "message/feedback-report") == 0 || is_headers_type(type)) {
        /* GMime parsed a status part as a message: write it back as text. */
        char *text = object_text(GMIME_OBJECT(inner));

        take_report_part(w, type, text);
        g_free(text);
        return;
    }
    /* The returned message: its headers only, never its body's text. */
    BOUNCE_FIELDS fields = { NULL, 0 };

    body = g_mime_message_get_mime_part(inner);
    object_headers(GMIME_OBJECT(inner), &fields);
    if (body != NULL)
        add_content_headers(body, &fields);
    g_string_append(w->flat, "Content-Type: message/rfc822\n");
    flat_add_fields(w->flat, &fields);
    set_returned(w->msg, &fields);
    if (!w->nested && w->attached_report == NULL)
        w->attached_report = find_report(body);
}

/*
 * The leaf whose text is the human-readable part of a multipart/report's
 * first part: the first text/plain (or other non-HTML branch) in order,
 * else the first HTML one; NULL if there is none.
 */
static GMimeObject *report_text_leaf(GMimeObject *object)
{
    if (GMIME_IS_MULTIPART(object)) {
        GMimeMultipart *multipart = GMIME_MULTIPART(object);
        GMimeObject *html = NULL;

        for (int i = 0; i < g_mime_multipart_get_count(multipart); i++) {
            GMimeObject *sub = g_mime_multipart_get_part(multipart, i);
            GMimeObject *found = report_text_leaf(sub);

            if (found == NULL)
                continue;
            if (!object_is_type(sub, "text/html"))
                return found;
            if (html == NULL)
                html = found;
        }
        return html;
    }
    if (GMIME_IS_PART(object)
        && (object_is_type(object, "text/plain") || object_is_type(object, "text/html")))
        return object;
    return NULL;
}

static void walk_multipart(struct walk *w, GMimeMultipart *multipart, const char *type)
{
    int count = g_mime_multipart_get_count(multipart);

    if (count == 0) {
        /* A broken boundary: GMime found no parts, the text is all prologue. */
        const char *prologue = g_mime_multipart_get_prologue(multipart);

        if (prologue != NULL && w->first_plain == NULL && !w->nested) {
            w->first_plain = utf8_text(prologue, strlen(prologue));
            flat_add_part(w->flat, "text/plain", w->first_plain);
        }
        return;
    }
    if (strcmp(type, "multipart/report") == 0 && !w->nested) {
        w->saw_report = true;
        if (w->report_text == NULL && w->report_leaf == NULL)
            w->report_leaf = report_text_leaf(g_mime_multipart_get_part(multipart, 0));
    }
    for (int i = 0; i < count; i++)
        walk_object(w, g_mime_multipart_get_part(multipart, i));
}

/*
 * A bounce forwarded as an attachment under a filter's own notice: when
 * the message has no report of its own, the attached message's
 * multipart/report gives the DSN groups and the returned message's
 * headers (those of the original, not of the attached bounce).  The
 * notice stays the human-readable text.
 */
static void walk_attached_report(struct walk *w)
{
    BOUNCE_MSG *msg = w->msg;
    BOUNCE_FIELDS *attached_headers = msg->returned;

    msg->returned = NULL;
    w->nested = true;
    walk_object(w, w->attached_report);
    w->nested = false;
    if (msg->returned == NULL) {
        msg->returned = attached_headers;
    } else {
        fields_free(attached_headers);
        free(attached_headers);
    }
}

static void walk_object(struct walk *w, GMimeObject *object)
{
    char *type = lower_mime_type(object);

    if (GMIME_IS_MULTIPART(object))
        walk_multipart(w, GMIME_MULTIPART(object), type);
    else if (GMIME_IS_MESSAGE_PART(object))
        walk_message_part(w, GMIME_MESSAGE_PART(object), type);
    else if (GMIME_IS_PART(object))
        walk_leaf(w, GMIME_PART(object), type);
    g_free(type);
}

/* ---- limits ---- */

/* The longest line of raw[0..len) (without its LF, or CR LF) and the
 * fields of its header block (lines up to the first empty one that do
 * not start with white space).  One pass, before GMime sees anything. */
static void raw_shape(const char *raw, size_t len, size_t *longest, size_t *fields)
{
    const char *p = raw, *end = raw + len;
    bool in_header = true;

    *longest = 0;
    *fields = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        const char *eol = nl != NULL ? nl : end;
        size_t n = (size_t) (eol - p);

        if (n > 0 && nl != NULL && eol[-1] == '\r')
            n--;
        if (n > *longest)
            *longest = n;
        if (in_header) {
            if (n == 0)
                in_header = false;
            else if (*p != ' ' && *p != '\t')
                (*fields)++;
        }
        p = nl != NULL ? nl + 1 : end;
    }
}

/* The limits GMime's parse would otherwise pay for: line length, header count. */
static int check_raw_limits(const char *raw, size_t len, const char *path,
                            const MESSAGE_LIMITS *limits, SUP_ERR *err)
{
    size_t longest, fields;

    if (limits->max_line == 0 && limits->max_headers <= 0)
        return 0;
    raw_shape(raw, len, &longest, &fields);
    if (limits->max_line > 0 && longest > limits->max_line)
        return sup_err_set(err, SUP_ERR_INPUT, "%s: a line of %zu bytes, longer than ingest.max-line-length (%zu)",
                           path, longest, limits->max_line);
    if (limits->max_headers > 0 && fields > (size_t) limits->max_headers)
        return sup_err_set(err, SUP_ERR_INPUT, "%s: %zu header fields, more than ingest.max-header-count (%d)",
                           path, fields, limits->max_headers);
    return 0;
}

/* The limits on what the parse found: the DSN's recipients, the returned
 * message's header fields (those of an attached message, which the raw
 * scan does not see). */
static int check_parsed_limits(const BOUNCE_MSG *msg, const char *path, const MESSAGE_LIMITS *limits,
                               SUP_ERR *err)
{
    if (limits->max_recipients > 0 && msg->dsn_rcpt_count > (size_t) limits->max_recipients)
        return sup_err_set(err, SUP_ERR_INPUT, "%s: %zu recipients in the delivery status, more than"
                           " ingest.max-recipients (%d)", path, msg->dsn_rcpt_count, limits->max_recipients);
    if (limits->max_headers > 0 && msg->returned != NULL && msg->returned->count > (size_t) limits->max_headers)
        return sup_err_set(err, SUP_ERR_INPUT, "%s: %zu header fields in the returned message, more than"
                           " ingest.max-header-count (%d)", path, msg->returned->count, limits->max_headers);
    return 0;
}

/* ---- putting it together ---- */

/* Skip an mbox "From " envelope line at the start of a single message. */
static size_t skip_from_line(const char *raw, size_t len)
{
    const char *eol;

    if (len < 5 || strncmp(raw, "From ", 5) != 0)
        return 0;
    eol = memchr(raw, '\n', len);
    return eol ? (size_t) (eol - raw) + 1 : len;
}

/* The body after the header block of raw text (for degraded parsing). */
static const char *raw_body(const char *raw, size_t len, size_t *body_len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (raw[i] == '\n' && (raw[i + 1] == '\n'
                               || (raw[i + 1] == '\r' && i + 2 < len && raw[i + 2] == '\n'))) {
            size_t start = i + (raw[i + 1] == '\n' ? 2 : 3);

            *body_len = len - start;
            return raw + start;
        }
    }
    *body_len = 0;
    return raw + len;
}

static void set_envelope_recipient(BOUNCE_MSG *msg, const char *given)
{
    const char *value = given;

    if (value == NULL || *value == '\0')
        value = bmsg_header(msg, "Delivered-To");
    if (value == NULL || *value == '\0')
        value = bmsg_header(msg, "X-Original-To");
    if (value != NULL && *value != '\0')
        msg->envelope_recipient = g_strstrip(g_strdup(value));
}

/* Store the collected text and flat body, choosing `text` as bounce.h says. */
static void finish_walk(struct walk *w, const char *raw, size_t len)
{
    BOUNCE_MSG *msg = w->msg;

    if (w->report_text != NULL && *w->report_text != '\0') {
        msg->text = w->report_text;
        w->report_text = NULL;
    } else if (w->first_plain != NULL) {
        msg->text = w->first_plain;
        w->first_plain = NULL;
    } else if (w->first_html != NULL) {
        msg->text = w->first_html;
        w->first_html = NULL;
    } else {
        size_t body_len;
        const char *body = raw_body(raw, len, &body_len);

        msg->text = utf8_text(body, body_len);
        if (w->flat->len == 0)
            flat_add_part(w->flat, "text/plain", msg->text);
    }
    msg->flat = g_string_free(w->flat, FALSE);
    w->flat = NULL;
    g_free(w->report_text);
    g_free(w->first_plain);
    g_free(w->first_html);
}

/* When GMime cannot make a message of it: headers by hand, body as text. */
static void degrade_to_text(BOUNCE_MSG *msg, const char *raw, size_t len)
{
    char *text = utf8_text(raw, len);
    size_t body_len;
    const char *body = raw_body(raw, len, &body_len);

    fields_parse(text, &msg->headers);
    g_free(text);
    msg->content_type = g_strdup("text/plain");
    msg->text = utf8_text(body, body_len);
    msg->flat = g_strdup_printf("Content-Type: text/plain\n%s", msg->text);
}

/*
 * The top-level entity is parsed as a MIME part, not a GMimeMessage: it
 * has the same structure, and its header list holds every header in
 * order, but GMime skips what a GMimeMessage adds on top (address lists,
 * dates and references parsed into objects nobody here reads), about a
 * fifth of the parse.  Attached messages are still GMimeMessages.
 */
int message_parse(const char *raw, size_t len, const char *path,
                  const char *envelope_recipient, const MESSAGE_LIMITS *limits,
                  BOUNCE_MSG *msg, SUP_ERR *err)
{
    GMimeStream *stream;
    GMimeParser *parser;
    GMimeObject *body;
    size_t skip;
    int rc = 0;

    memset(msg, 0, sizeof(*msg));
    msg->path = path;
    msg->raw_size = len;
    if (limits != NULL && limits->max_size > 0 && len > limits->max_size)
        return sup_err_set(err, SUP_ERR_INPUT, "%s: message too large (%zu bytes, ingest.max-message-size is %zu)",
                           path, len, limits->max_size);
    skip = skip_from_line(raw, len);
    raw += skip;
    len -= skip;
    if (limits != NULL && check_raw_limits(raw, len, path, limits, err) < 0)
        return -1;

    stream = g_mime_stream_mem_new_with_buffer(raw, len);
    parser = g_mime_parser_new_with_stream(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    body = g_mime_parser_construct_part(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);

    if (body == NULL) {
        degrade_to_text(msg, raw, len);
    } else if (limits != NULL && limits->max_depth > 0
               && mime_depth(body, 1, limits->max_depth) > limits->max_depth) {
        rc = sup_err_set(err, SUP_ERR_INPUT, "%s: MIME structure nested deeper than ingest.max-mime-depth (%d)",
                         path, limits->max_depth);
    } else {
        struct walk w = { .msg = msg, .flat = g_string_sized_new(len / 2 + 64) };
        GMimeContentType *ct = g_mime_object_get_content_type(body);
        const char *report_type = ct ? g_mime_content_type_get_parameter(ct, "report-type") : NULL;

        object_headers(body, &msg->headers);
        msg->content_type = lower_mime_type(body);
        if (report_type != NULL)
            msg->report_type = g_ascii_strdown(report_type, -1);
        walk_object(&w, body);
        if (w.attached_report != NULL && !w.saw_report)
            walk_attached_report(&w);
        finish_walk(&w, raw, len);
        if (limits != NULL)
            rc = check_parsed_limits(msg, path, limits, err);
    }
    if (body != NULL)
        g_object_unref(body);
    if (rc == 0)
        set_envelope_recipient(msg, envelope_recipient);
    if (msg->text == NULL)
        msg->text = g_strdup("");
    if (msg->flat == NULL)
        msg->flat = g_strdup("");
    return rc;
}

void message_free(BOUNCE_MSG *msg)
{
    if (msg == NULL)
        return;
    fields_free(&msg->headers);
    g_free(msg->content_type);
    g_free(msg->report_type);
    g_free(msg->text);
    g_free(msg->flat);
    fields_free(&msg->dsn_message);
    for (size_t i = 0; i < msg->dsn_rcpt_count; i++)
        fields_free(&msg->dsn_rcpts[i]);
    free(msg->dsn_rcpts);
    fields_free(msg->feedback);
    free(msg->feedback);
    fields_free(msg->returned);
    free(msg->returned);
    g_free(msg->envelope_recipient);
    memset(msg, 0, sizeof(*msg));
}
