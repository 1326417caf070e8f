/*
 * store_record.c: the versioned tag-length-value encoding of suppression
 * entries and timeline events (format in store_record.h), the names of
 * reasons and event types, and the bounded UTF-8-safe text copy.  Used by
 * the store_*.c files; nothing here touches Berkeley DB.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "store.h"
#include "store_record.h"
#include "store_squeeze.h"

/* ---- names ---------------------------------------------------------- */

static const char *const reason_names[] = {
    [STORE_REASON_HARD_BOUNCE] = "hard-bounce",
    [STORE_REASON_SOFT_ESCALATED] = "soft-bounce-escalated",
    [STORE_REASON_COMPLAINT] = "complaint",
    [STORE_REASON_UNSUBSCRIBE] = "unsubscribe",
    [STORE_REASON_MANUAL] = "manual",
};
#define REASON_COUNT (sizeof(reason_names) / sizeof(reason_names[0]))

static const char *const event_names[] = {
    [STORE_EV_HARD_BOUNCE] = "hard-bounce",
    [STORE_EV_SOFT_BOUNCE] = "soft-bounce",
    [STORE_EV_ESCALATED] = "escalated",
    [STORE_EV_COMPLAINT] = "complaint",
    [STORE_EV_UNSUBSCRIBE] = "unsubscribe",
    [STORE_EV_DELAYED] = "delayed",
    [STORE_EV_AUTOREPLY] = "autoreply",
    [STORE_EV_DELIVERED] = "delivered",
    [STORE_EV_FORWARDED] = "forwarded",
    [STORE_EV_REJECTED] = "rejected",
    [STORE_EV_ADD] = "add",
    [STORE_EV_UNBLOCK] = "unblock",
    [STORE_EV_EXPIRED] = "expired",
    [STORE_EV_IGNORED] = "ignored",
    [STORE_EV_UNVERIFIED] = "unverified",
};
#define EVENT_COUNT (sizeof(event_names) / sizeof(event_names[0]))

/* A value written by a newer release may be unknown here: name it "unknown"
 * rather than fail, so old readers still show the rest of the record. */
const char *store_reason_name(enum store_reason reason)
{
    if ((unsigned) reason < REASON_COUNT && reason_names[reason] != NULL)
        return reason_names[reason];
    return "unknown";
}

int store_reason_parse(const char *name, enum store_reason *reason)
{
    for (unsigned i = 1; name != NULL && i < REASON_COUNT; i++) {
        if (strcmp(name, reason_names[i]) == 0) {
            *reason = (enum store_reason) i;
            return 0;
        }
    }
    return -1;
}

const char *store_event_name(enum store_event_type type)
{
    if ((unsigned) type < EVENT_COUNT && event_names[type] != NULL)
        return event_names[type];
    return "unknown";
}

int store_event_parse(const char *name, enum store_event_type *type)
{
    for (unsigned i = 1; name != NULL && i < EVENT_COUNT; i++) {
        if (strcmp(name, event_names[i]) == 0) {
            *type = (enum store_event_type) i;
            return 0;
        }
    }
    return -1;
}

const char *store_event_via(const STORE_EVENT *ev)
{
    if (ev->via[0] != '\0')
        return ev->via;
    return ev->type == STORE_EV_REJECTED ? STORE_VIA_MILTER : "";
}

/* ---- bounded text --------------------------------------------------- */

void store_copy_bytes(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    size_t n = srclen;

    if (dstlen == 0)
        return;
    if (n > dstlen - 1) {
        n = dstlen - 1;
        /*
         * src[n] is the first byte left out.  If it continues a UTF-8
         * sequence, back up to exclude that character's lead byte too.  A
         * sequence is at most 4 bytes, so give up after 3: the text is not
         * UTF-8 and any cut is as good as another.
         */
        for (int back = 0; back < 3 && n > 0; back++) {
            if (((unsigned char) src[n] & 0xC0) != 0x80)
                break;
            n--;
        }
        if (((unsigned char) src[n] & 0xC0) == 0x80)
            n = dstlen - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

void store_copy_text(char *dst, size_t dstlen, const char *src)
{
    if (src == NULL)
        src = "";
    store_copy_bytes(dst, dstlen, src, strlen(src));
}

/* ---- encoding ------------------------------------------------------- */

struct writer {
    unsigned char *buf;
    size_t size;
    size_t len;
};

static int put_field(struct writer *w, unsigned tag, const void *value, size_t len)
{
    if (len > 0xFFFF || w->size - w->len < 3 + len)
        return -1;
    w->buf[w->len++] = (unsigned char) tag;
    w->buf[w->len++] = (unsigned char) (len >> 8);
    w->buf[w->len++] = (unsigned char) len;
    memcpy(w->buf + w->len, value, len);
    w->len += len;
    return 0;
}

static int put_u32(struct writer *w, unsigned tag, uint32_t v)
{
    unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };

    return put_field(w, tag, b, sizeof(b));
}

static int put_time(struct writer *w, unsigned tag, time_t t)
{
    uint64_t v = (uint64_t) (int64_t) t;
    unsigned char b[8];

    for (int i = 7; i >= 0; i--, v >>= 8)
        b[i] = (unsigned char) v;
    return put_field(w, tag, b, sizeof(b));
}

/* Empty strings are not written: absent means empty. */
static int put_string(struct writer *w, unsigned tag, const char *s, size_t arraylen,
                      const char *field, const char *address, SUP_ERR *err)
{
    size_t len = strnlen(s, arraylen);

    if (len == arraylen)
        return sup_err_set(err, SUP_ERR_INPUT, "%.*s: %s is not terminated within %zu bytes",
                           ADDR_MAX, address, field, arraylen);
    if (len == 0)
        return 0;
    if (put_field(w, tag, s, len) < 0)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "%.*s: record too large at %s",
                           ADDR_MAX, address, field);
    return 0;
}

static int start_record(struct writer *w, unsigned char *buf, size_t buflen)
{
    w->buf = buf;
    w->size = buflen;
    w->len = 0;
    if (buflen < 1)
        return -1;
    buf[w->len++] = STORE_RECORD_VERSION;
    return 0;
}

#define PUT_STRING(w, tag, s, name, addr) \
    put_string((w), (tag), (s), sizeof(s), (name), (addr), err)

int store_record_encode_entry_v1(const STORE_ENTRY *e, unsigned char *buf, size_t buflen,
                                 size_t *len, SUP_ERR *err)
{
    struct writer w;

    if (start_record(&w, buf, buflen) < 0
        || put_u32(&w, STORE_ENTRY_TAG_REASON, (uint32_t) e->reason) < 0
        || put_time(&w, STORE_ENTRY_TAG_FIRST, e->first_event) < 0
        || put_time(&w, STORE_ENTRY_TAG_LAST, e->last_event) < 0
        || put_time(&w, STORE_ENTRY_TAG_EXPIRES, e->expires) < 0
        || put_u32(&w, STORE_ENTRY_TAG_COUNT, e->count) < 0)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "record buffer of %zu bytes too small", buflen);
    if (PUT_STRING(&w, STORE_ENTRY_TAG_SOURCE, e->source, "source", e->address) < 0
        || PUT_STRING(&w, STORE_ENTRY_TAG_DETAIL, e->detail, "detail", e->address) < 0
        || PUT_STRING(&w, STORE_ENTRY_TAG_STATUS, e->status, "status", e->address) < 0
        || PUT_STRING(&w, STORE_ENTRY_TAG_RESPONSE, e->response, "response", e->address) < 0)
        return -1;
    *len = w.len;
    return 0;
}

int store_record_encode_event(const STORE_EVENT *ev, unsigned char *buf, size_t buflen,
                              size_t *len, SUP_ERR *err)
{
    struct writer w;

    if (start_record(&w, buf, buflen) < 0
        || put_u32(&w, STORE_EVENT_TAG_TYPE, (uint32_t) ev->type) < 0)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "record buffer of %zu bytes too small", buflen);
    if (PUT_STRING(&w, STORE_EVENT_TAG_REASON, ev->reason, "reason", ev->address) < 0
        || PUT_STRING(&w, STORE_EVENT_TAG_STATUS, ev->status, "status", ev->address) < 0
        || PUT_STRING(&w, STORE_EVENT_TAG_ACTOR, ev->actor, "actor", ev->address) < 0
        || PUT_STRING(&w, STORE_EVENT_TAG_DETAIL, ev->detail, "detail", ev->address) < 0
        || PUT_STRING(&w, STORE_EVENT_TAG_RESPONSE, ev->response, "response", ev->address) < 0
        || PUT_STRING(&w, STORE_EVENT_TAG_VERIFIED, ev->verified, "verified", ev->address) < 0
        || PUT_STRING(&w, STORE_EVENT_TAG_VIA, ev->via, "via", ev->address) < 0
        || PUT_STRING(&w, STORE_EVENT_TAG_TENANT, ev->tenant, "tenant", ev->address) < 0)
        return -1;
    *len = w.len;
    return 0;
}

/* ---- decoding ------------------------------------------------------- */

struct field {
    unsigned tag;
    const unsigned char *value;
    size_t len;
};

struct reader {
    const unsigned char *buf;
    size_t len;
    size_t pos;
};

static int start_reading(struct reader *r, const unsigned char *buf, size_t len,
                         const char *kind, SUP_ERR *err)
{
    if (len == 0)
        return sup_err_set(err, SUP_ERR_IO, "%s record is empty", kind);
    if (buf[0] != STORE_RECORD_VERSION)
        return sup_err_set(err, SUP_ERR_IO,
                           "%s record has format version %u, this program reads version %u"
                           " (written by a newer milter-suppress, or damaged)",
                           kind, buf[0], STORE_RECORD_VERSION);
    r->buf = buf;
    r->len = len;
    r->pos = 1;
    return 0;
}

/* 1 with the next field, 0 at the end, -1 if the record is cut short. */
static int next_field(struct reader *r, struct field *f, const char *kind, SUP_ERR *err)
{
    size_t left = r->len - r->pos;

    if (left == 0)
        return 0;
    if (left < 3)
        return sup_err_set(err, SUP_ERR_IO, "%s record truncated at byte %zu (field header)",
                           kind, r->pos);
    f->tag = r->buf[r->pos];
    f->len = ((size_t) r->buf[r->pos + 1] << 8) | r->buf[r->pos + 2];
    if (f->len > left - 3)
        return sup_err_set(err, SUP_ERR_IO,
                           "%s record truncated at byte %zu: field %u claims %zu bytes, %zu left",
                           kind, r->pos, f->tag, f->len, left - 3);
    f->value = r->buf + r->pos + 3;
    r->pos += 3 + f->len;
    return 1;
}

static int get_u32(const struct field *f, uint32_t *v, const char *kind, SUP_ERR *err)
{
    if (f->len != 4)
        return sup_err_set(err, SUP_ERR_IO, "%s record: field %u has %zu bytes, expected 4",
                           kind, f->tag, f->len);
    *v = ((uint32_t) f->value[0] << 24) | ((uint32_t) f->value[1] << 16)
        | ((uint32_t) f->value[2] << 8) | f->value[3];
    return 0;
}

static int get_time(const struct field *f, time_t *t, const char *kind, SUP_ERR *err)
{
    uint64_t v = 0;

    if (f->len != 8)
        return sup_err_set(err, SUP_ERR_IO, "%s record: field %u has %zu bytes, expected 8",
                           kind, f->tag, f->len);
    for (int i = 0; i < 8; i++)
        v = (v << 8) | f->value[i];
    *t = (time_t) (int64_t) v;
    return 0;
}

static int get_string(const struct field *f, char *dst, size_t dstlen, const char *kind,
                      SUP_ERR *err)
{
    if (memchr(f->value, '\0', f->len) != NULL)
        return sup_err_set(err, SUP_ERR_IO, "%s record: field %u contains a NUL byte",
                           kind, f->tag);
    /* A newer release may allow longer text: keep what fits. */
    store_copy_bytes(dst, dstlen, (const char *) f->value, f->len);
    return 0;
}

static void clear_entry(STORE_ENTRY *e)
{
    e->reason = 0;
    e->source[0] = e->detail[0] = e->status[0] = e->response[0] = '\0';
    e->first_event = e->last_event = e->expires = 0;
    e->count = 0;
}

static int decode_entry_v1(const unsigned char *buf, size_t len, STORE_ENTRY *e, SUP_ERR *err)
{
    static const char kind[] = "suppression";
    struct reader r;
    struct field f;
    uint32_t u;
    bool have_reason = false;
    int rc;

    if (start_reading(&r, buf, len, kind, err) < 0)
        return -1;
    clear_entry(e);
    while ((rc = next_field(&r, &f, kind, err)) > 0) {
        switch (f.tag) {
        case STORE_ENTRY_TAG_REASON:
            rc = get_u32(&f, &u, kind, err);
            e->reason = (enum store_reason) u;
            have_reason = true;
            break;
        case STORE_ENTRY_TAG_SOURCE:
            rc = get_string(&f, e->source, sizeof(e->source), kind, err);
            break;
        case STORE_ENTRY_TAG_DETAIL:
            rc = get_string(&f, e->detail, sizeof(e->detail), kind, err);
            break;
        case STORE_ENTRY_TAG_STATUS:
            rc = get_string(&f, e->status, sizeof(e->status), kind, err);
            break;
        case STORE_ENTRY_TAG_FIRST:
            rc = get_time(&f, &e->first_event, kind, err);
            break;
        case STORE_ENTRY_TAG_LAST:
            rc = get_time(&f, &e->last_event, kind, err);
            break;
        case STORE_ENTRY_TAG_EXPIRES:
            rc = get_time(&f, &e->expires, kind, err);
            break;
        case STORE_ENTRY_TAG_COUNT:
            rc = get_u32(&f, &e->count, kind, err);
            break;
        case STORE_ENTRY_TAG_RESPONSE:
            rc = get_string(&f, e->response, sizeof(e->response), kind, err);
            break;
        default:
            rc = 0;             /* a field from a newer release */
            break;
        }
        if (rc < 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    if (!have_reason)
        return sup_err_set(err, SUP_ERR_IO, "%s record has no reason field", kind);
    return 0;
}

int store_record_decode_event(const unsigned char *buf, size_t len, STORE_EVENT *ev,
                              SUP_ERR *err)
{
    static const char kind[] = "event";
    struct reader r;
    struct field f;
    uint32_t u;
    bool have_type = false;
    int rc;

    if (start_reading(&r, buf, len, kind, err) < 0)
        return -1;
    ev->type = 0;
    ev->reason[0] = ev->status[0] = ev->actor[0] = ev->detail[0] = ev->response[0] = '\0';
    ev->verified[0] = ev->via[0] = ev->tenant[0] = '\0';
    while ((rc = next_field(&r, &f, kind, err)) > 0) {
        switch (f.tag) {
        case STORE_EVENT_TAG_TYPE:
            rc = get_u32(&f, &u, kind, err);
            ev->type = (enum store_event_type) u;
            have_type = true;
            break;
        case STORE_EVENT_TAG_REASON:
            rc = get_string(&f, ev->reason, sizeof(ev->reason), kind, err);
            break;
        case STORE_EVENT_TAG_STATUS:
            rc = get_string(&f, ev->status, sizeof(ev->status), kind, err);
            break;
        case STORE_EVENT_TAG_ACTOR:
            rc = get_string(&f, ev->actor, sizeof(ev->actor), kind, err);
            break;
        case STORE_EVENT_TAG_DETAIL:
            rc = get_string(&f, ev->detail, sizeof(ev->detail), kind, err);
            break;
        case STORE_EVENT_TAG_RESPONSE:
            rc = get_string(&f, ev->response, sizeof(ev->response), kind, err);
            break;
        case STORE_EVENT_TAG_VERIFIED:
            rc = get_string(&f, ev->verified, sizeof(ev->verified), kind, err);
            break;
        case STORE_EVENT_TAG_VIA:
            rc = get_string(&f, ev->via, sizeof(ev->via), kind, err);
            break;
        case STORE_EVENT_TAG_TENANT:
            rc = get_string(&f, ev->tenant, sizeof(ev->tenant), kind, err);
            break;
        default:
            rc = 0;
            break;
        }
        if (rc < 0)
            return -1;
    }
    if (rc < 0)
        return -1;
    if (!have_type)
        return sup_err_set(err, SUP_ERR_IO, "%s record has no type field", kind);
    return 0;
}

/* ---- suppression records, version 2 ----------------------------------
 *
 *   2 | reason(1) | flags(1) | count | first | last - first
 *     | [expires - last, if flags & ENTRY_HAS_EXPIRY] | form(1) | texts
 *
 * Numbers are varints (7 bits a byte, low first); the times and their
 * differences zigzag-encoded, so a date is 5 bytes and "the same moment"
 * one.  texts are fields tag(1) | varint length | bytes: source, detail,
 * status and the response, the response with each mention of the
 * address (the record's key) replaced by byte 1 when it has no byte 1 of
 * its own.  form 0: varint length, then texts as they are; form N > 0: deflated with
 * store_squeeze's dictionary N.  A record is ~25 bytes where version 1
 * took ~180.
 */

#define ENTRY_HAS_EXPIRY 0x01
#define ENTRY_FLAGS_KNOWN ENTRY_HAS_EXPIRY
#define ADDRESS_MARK     '\001'
#define TEXTS_MAX        (STORE_RECORD_MAX)

enum entry_text_tag {
    TEXT_SOURCE = 1,
    TEXT_DETAIL = 2,
    TEXT_STATUS = 3,
    TEXT_RESPONSE = 4,          /* verbatim */
    TEXT_RESPONSE_MARKED = 5,   /* the address replaced by ADDRESS_MARK */
};

static uint64_t zigzag(int64_t v)
{
    return ((uint64_t) v << 1) ^ (uint64_t) (v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
    return (int64_t) (v >> 1) ^ -(int64_t) (v & 1);
}

/* a - b, and b + d, in wrapping arithmetic: exact for every pair of times */
static int64_t time_diff(time_t a, time_t b)
{
    return (int64_t) ((uint64_t) (int64_t) a - (uint64_t) (int64_t) b);
}

static time_t time_add(time_t b, int64_t d)
{
    return (time_t) (int64_t) ((uint64_t) (int64_t) b + (uint64_t) d);
}

static int put_varint(struct writer *w, uint64_t v)
{
    do {
        if (w->len == w->size)
            return -1;
        w->buf[w->len++] = (unsigned char) ((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return 0;
}

static int put_text(struct writer *w, unsigned tag, const void *value, size_t len)
{
    if (len == 0)
        return 0;
    if (w->len == w->size)
        return -1;
    w->buf[w->len++] = (unsigned char) tag;
    if (put_varint(w, len) < 0 || w->size - w->len < len)
        return -1;
    memcpy(w->buf + w->len, value, len);
    w->len += len;
    return 0;
}

/* The response, with the address's mentions marked when that is lossless. */
static int put_response(struct writer *w, const char *response, const char *address)
{
    size_t alen = strlen(address), rlen = strlen(response);
    char marked[STORE_RESPONSE_MAX];
    const char *p = response, *hit;
    size_t n = 0;

    if (alen == 0 || memchr(response, ADDRESS_MARK, rlen) != NULL
        || strstr(response, address) == NULL)
        return put_text(w, TEXT_RESPONSE, response, rlen);
    while ((hit = strstr(p, address)) != NULL) {
        memcpy(marked + n, p, (size_t) (hit - p));
        n += (size_t) (hit - p);
        marked[n++] = ADDRESS_MARK;
        p = hit + alen;
    }
    memcpy(marked + n, p, strlen(p));
    n += strlen(p);
    return put_text(w, TEXT_RESPONSE_MARKED, marked, n);
}

static int check_terminated(const char *s, size_t arraylen, const char *field,
                            const char *address, SUP_ERR *err)
{
    if (strnlen(s, arraylen) == arraylen)
        return sup_err_set(err, SUP_ERR_INPUT, "%.*s: %s is not terminated within %zu bytes",
                           ADDR_MAX, address, field, arraylen);
    return 0;
}

#define CHECK_TERMINATED(e, f) check_terminated((e)->f, sizeof((e)->f), #f, (e)->address, err)

static int encode_texts(const STORE_ENTRY *e, unsigned char *buf, size_t *len)
{
    struct writer t = { buf, TEXTS_MAX, 0 };

    if (put_text(&t, TEXT_SOURCE, e->source, strlen(e->source)) < 0
        || put_text(&t, TEXT_DETAIL, e->detail, strlen(e->detail)) < 0
        || put_text(&t, TEXT_STATUS, e->status, strlen(e->status)) < 0
        || put_response(&t, e->response, e->address) < 0)
        return -1;
    *len = t.len;
    return 0;
}

int store_record_encode_entry(const STORE_ENTRY *e, unsigned char *buf, size_t buflen,
                              size_t *len, SUP_ERR *err)
{
    unsigned char texts[TEXTS_MAX];
    struct writer w = { buf, buflen, 0 };
    size_t tlen, zlen;
    int squeezed;

    if (CHECK_TERMINATED(e, address) < 0 || CHECK_TERMINATED(e, source) < 0
        || CHECK_TERMINATED(e, detail) < 0 || CHECK_TERMINATED(e, status) < 0
        || CHECK_TERMINATED(e, response) < 0)
        return -1;
    if ((unsigned) e->reason > 0xFF)
        return sup_err_set(err, SUP_ERR_INPUT, "%s: invalid suppression reason %d",
                           e->address, (int) e->reason);
    if (encode_texts(e, texts, &tlen) < 0 || buflen < 3)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "%s: record too large", e->address);
    buf[w.len++] = STORE_ENTRY_VERSION;
    buf[w.len++] = (unsigned char) e->reason;
    buf[w.len++] = e->expires != 0 ? ENTRY_HAS_EXPIRY : 0;
    if (put_varint(&w, e->count) < 0 || put_varint(&w, zigzag((int64_t) e->first_event)) < 0
        || put_varint(&w, zigzag(time_diff(e->last_event, e->first_event))) < 0
        || (e->expires != 0 && put_varint(&w, zigzag(time_diff(e->expires, e->last_event))) < 0)
        || w.len == w.size)
        return sup_err_set(err, SUP_ERR_SOFTWARE, "record buffer of %zu bytes too small", buflen);
    squeezed = store_squeeze(texts, tlen, buf + w.len + 1, w.size - w.len - 1, &zlen);
    if (squeezed < 0)
        return sup_err_set(err, SUP_ERR_IO, "%s: out of memory compressing the record",
                           e->address);
    if (squeezed == 0) {
        buf[w.len++] = STORE_SQUEEZE_DICT;
        w.len += zlen;
    } else {
        /* raw: its length first, so a record cut between two texts shows */
        buf[w.len++] = 0;
        if (put_varint(&w, tlen) < 0 || w.size - w.len < tlen)
            return sup_err_set(err, SUP_ERR_SOFTWARE, "%s: record too large", e->address);
        memcpy(buf + w.len, texts, tlen);
        w.len += tlen;
    }
    *len = w.len;
    return 0;
}

static int damaged(SUP_ERR *err, const char *what, size_t pos)
{
    return sup_err_set(err, SUP_ERR_IO, "suppression record truncated or damaged at byte %zu"
                       " (%s)", pos, what);
}

static int get_varint(struct reader *r, uint64_t *v, const char *what, SUP_ERR *err)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        unsigned char b;

        if (r->pos == r->len)
            return damaged(err, what, r->pos);
        b = r->buf[r->pos++];
        if (shift == 63 && (b & 0x7E) != 0)
            return damaged(err, what, r->pos - 1);
        *v |= (uint64_t) (b & 0x7F) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return damaged(err, what, r->pos);
}

/* The response as written: with the marks put back to the address. */
static void restore_response(STORE_ENTRY *e, const unsigned char *v, size_t len)
{
    char out[STORE_RESPONSE_MAX * 2];
    size_t alen = strlen(e->address), n = 0;

    for (size_t i = 0; i < len && n < sizeof(out); i++) {
        if (v[i] != ADDRESS_MARK) {
            out[n++] = (char) v[i];
            continue;
        }
        size_t take = alen < sizeof(out) - n ? alen : sizeof(out) - n;

        memcpy(out + n, e->address, take);
        n += take;
    }
    store_copy_bytes(e->response, sizeof(e->response), out, n);
}

static int decode_texts(const unsigned char *t, size_t tlen, STORE_ENTRY *e, SUP_ERR *err)
{
    struct reader r = { t, tlen, 0 };

    while (r.pos < r.len) {
        unsigned tag = r.buf[r.pos++];
        uint64_t len;
        const unsigned char *v;

        if (get_varint(&r, &len, "text length", err) < 0)
            return -1;
        if (len > r.len - r.pos)
            return damaged(err, "text longer than the record", r.pos);
        v = r.buf + r.pos;
        r.pos += (size_t) len;
        if (memchr(v, '\0', (size_t) len) != NULL)
            return sup_err_set(err, SUP_ERR_IO, "suppression record: text %u contains a NUL byte",
                               tag);
        switch (tag) {
        case TEXT_SOURCE:
            store_copy_bytes(e->source, sizeof(e->source), (const char *) v, (size_t) len);
            break;
        case TEXT_DETAIL:
            store_copy_bytes(e->detail, sizeof(e->detail), (const char *) v, (size_t) len);
            break;
        case TEXT_STATUS:
            store_copy_bytes(e->status, sizeof(e->status), (const char *) v, (size_t) len);
            break;
        case TEXT_RESPONSE:
            store_copy_bytes(e->response, sizeof(e->response), (const char *) v, (size_t) len);
            break;
        case TEXT_RESPONSE_MARKED:
            restore_response(e, v, (size_t) len);
            break;
        default:
            break;              /* a text from a newer release */
        }
    }
    return 0;
}

static int decode_entry_v2(const unsigned char *buf, size_t len, STORE_ENTRY *e, SUP_ERR *err)
{
    struct reader r = { buf, len, 1 };
    unsigned char texts[TEXTS_MAX];
    uint64_t count, first, last, expires = 0;
    unsigned flags, form;
    size_t tlen;

    if (len < 3)
        return damaged(err, "header", len);
    clear_entry(e);
    e->reason = (enum store_reason) buf[1];
    flags = buf[2];
    r.pos = 3;
    if (flags & ~ENTRY_FLAGS_KNOWN)
        return sup_err_set(err, SUP_ERR_IO, "suppression record has unknown flags 0x%02x", flags);
    if (get_varint(&r, &count, "count", err) < 0 || get_varint(&r, &first, "first", err) < 0
        || get_varint(&r, &last, "last", err) < 0
        || ((flags & ENTRY_HAS_EXPIRY) && get_varint(&r, &expires, "expires", err) < 0))
        return -1;
    if (count > UINT32_MAX)
        return damaged(err, "count", r.pos);
    if (r.pos == r.len)
        return damaged(err, "text form", r.pos);
    e->count = (uint32_t) count;
    e->first_event = (time_t) unzigzag(first);
    e->last_event = time_add(e->first_event, unzigzag(last));
    e->expires = (flags & ENTRY_HAS_EXPIRY) ? time_add(e->last_event, unzigzag(expires)) : 0;
    form = buf[r.pos++];
    if (form == 0) {
        uint64_t raw;

        if (get_varint(&r, &raw, "text length", err) < 0)
            return -1;
        if (raw != len - r.pos)
            return damaged(err, "texts", r.pos);
        return decode_texts(buf + r.pos, len - r.pos, e, err);
    }
    if (store_unsqueeze(form, buf + r.pos, len - r.pos, texts, sizeof(texts), &tlen) < 0)
        return sup_err_set(err, SUP_ERR_IO, "suppression record: its texts (dictionary %u)"
                           " cannot be inflated", form);
    return decode_texts(texts, tlen, e, err);
}

int store_record_decode_entry(const unsigned char *buf, size_t len, STORE_ENTRY *e,
                              SUP_ERR *err)
{
    if (len > 0 && buf[0] == STORE_ENTRY_VERSION)
        return decode_entry_v2(buf, len, e, err);
    return decode_entry_v1(buf, len, e, err);
}
