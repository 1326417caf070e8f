/*
 * store_batch.c: one batch of a replica's records for the master
 * (store_outbox.h gives the format): built record by record by the
 * milter's statistics writer, encoded for the outbox and the wire, and
 * parsed strictly by the master before anything of it is applied.  No
 * Berkeley DB here: the unit tests take it apart alone.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store.h"
#include "store_outbox.h"

#define MAGIC "MSOB"
#define HEAD_BYTES (4 + 1 + STORE_SITE_ID_BYTES + 8 + 8 + 4)
#define CRC_BYTES 4
#define REC_HEAD_BYTES 5

enum rec_type { REC_COUNTER = 1, REC_EVENT = 2, REC_LEDGER = 3 };

struct store_batch {
    unsigned char *buf;         /* the records, encoded */
    size_t len, cap;
    size_t records;
};

/* ---- byte order (no store_bdb.h: this file does not know Berkeley DB) --- */

static void put_u16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char) (v >> 8);
    p[1] = (unsigned char) v;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char) v;
}

static uint64_t get_uint(const unsigned char *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- building ---------------------------------------------------------- */

STORE_BATCH *store_batch_new(void)
{
    return calloc(1, sizeof(STORE_BATCH));
}

void store_batch_free(STORE_BATCH *b)
{
    if (b == NULL)
        return;
    free(b->buf);
    free(b);
}

size_t store_batch_records(const STORE_BATCH *b)
{
    return b->records;
}

size_t store_batch_bytes(const STORE_BATCH *b)
{
    return b->len;
}

/* One record being appended: written at b->len + its offset, committed
 * to the batch by rec_end only. */
struct rec {
    STORE_BATCH *b;
    size_t start, at;
    SUP_ERR *err;
    int failed;
};

static int rec_room(struct rec *r, size_t n)
{
    STORE_BATCH *b = r->b;
    size_t need = r->at + n;
    unsigned char *p;
    size_t cap;

    if (r->failed)
        return -1;
    if (need > STORE_BATCH_MAX_BYTES) {
        r->failed = 1;
        return sup_err_set(r->err, SUP_ERR_INPUT, "record larger than a batch (%u bytes)",
                           STORE_BATCH_MAX_BYTES);
    }
    if (need <= b->cap)
        return 0;
    for (cap = b->cap ? b->cap : 4096; cap < need; cap *= 2)
        ;
    if ((p = realloc(b->buf, cap)) == NULL) {
        r->failed = 1;
        return sup_err_set(r->err, SUP_ERR_IO, "out of memory building a batch");
    }
    b->buf = p;
    b->cap = cap;
    return 0;
}

static void rec_begin(struct rec *r, STORE_BATCH *b, enum rec_type type, SUP_ERR *err)
{
    r->b = b;
    r->start = r->at = b->len;
    r->err = err;
    r->failed = 0;
    if (rec_room(r, REC_HEAD_BYTES) == 0) {
        b->buf[r->at] = (unsigned char) type;
        r->at += REC_HEAD_BYTES;
    }
}

static void rec_int(struct rec *r, uint64_t v, int bytes)
{
    if (rec_room(r, (size_t) bytes) < 0)
        return;
    if (bytes == 1)
        r->b->buf[r->at] = (unsigned char) v;
    else if (bytes == 4)
        put_u32(r->b->buf + r->at, (uint32_t) v);
    else
        put_u64(r->b->buf + r->at, v);
    r->at += (size_t) bytes;
}

/* A string for a field of `room` bytes (its NUL included). */
static void rec_str(struct rec *r, const char *what, const char *s, size_t room)
{
    size_t len = s != NULL ? strnlen(s, room) : 0;

    if (r->failed)
        return;
    if (len >= room) {
        r->failed = 1;
        sup_err_set(r->err, SUP_ERR_INPUT, "%s longer than %zu bytes", what, room - 1);
        return;
    }
    if (rec_room(r, 2 + len) < 0)
        return;
    put_u16(r->b->buf + r->at, (uint16_t) len);
    memcpy(r->b->buf + r->at + 2, s, len);
    r->at += 2 + len;
}

static int rec_end(struct rec *r)
{
    if (r->failed)
        return -1;
    put_u32(r->b->buf + r->start + 1, (uint32_t) (r->at - r->start - REC_HEAD_BYTES));
    r->b->len = r->at;
    r->b->records++;
    return 0;
}

int store_batch_add_counter(STORE_BATCH *b, const char *day, const char *name, uint64_t delta,
                            SUP_ERR *err)
{
    struct rec r;

    rec_begin(&r, b, REC_COUNTER, err);
    rec_str(&r, "counter day", day, 16);
    rec_str(&r, "counter name", name, STORE_COUNTER_NAME_MAX + 1);
    rec_int(&r, delta, 8);
    return rec_end(&r);
}

int store_batch_add_event(STORE_BATCH *b, const STORE_EVENT *ev, SUP_ERR *err)
{
    struct rec r;

    rec_begin(&r, b, REC_EVENT, err);
    rec_int(&r, (uint64_t) ev->type, 1);
    rec_int(&r, (uint64_t) (int64_t) ev->when, 8);
    rec_str(&r, "event address", ev->address, sizeof(ev->address));
    rec_str(&r, "event reason", ev->reason, sizeof(ev->reason));
    rec_str(&r, "event status", ev->status, sizeof(ev->status));
    rec_str(&r, "event actor", ev->actor, sizeof(ev->actor));
    rec_str(&r, "event detail", ev->detail, sizeof(ev->detail));
    rec_str(&r, "event response", ev->response, sizeof(ev->response));
    rec_str(&r, "event via", ev->via, sizeof(ev->via));
    rec_str(&r, "event tenant", ev->tenant, sizeof(ev->tenant));
    return rec_end(&r);
}

int store_batch_add_ledger(STORE_BATCH *b, const STORE_LEDGER_MSG *msg, SUP_ERR *err)
{
    struct rec r;

    rec_begin(&r, b, REC_LEDGER, err);
    rec_int(&r, (uint64_t) (int64_t) msg->when, 8);
    rec_str(&r, "Message-ID", msg->message_id, STORE_MESSAGE_ID_MAX + 1);
    rec_str(&r, "ledger sender", msg->sender, ADDR_MAX + 1);
    rec_str(&r, "ledger tenant", msg->tenant, STORE_TENANT_MAX);
    if (msg->rcpt_count > STORE_LEDGER_RCPTS_MAX && !r.failed) {
        r.failed = 1;
        sup_err_set(err, SUP_ERR_INPUT, "more than %d ledger recipients", STORE_LEDGER_RCPTS_MAX);
    }
    rec_int(&r, msg->rcpt_count, 4);
    for (size_t i = 0; i < msg->rcpt_count && !r.failed; i++)
        rec_str(&r, "ledger recipient", msg->rcpts[i], ADDR_MAX + 1);
    return rec_end(&r);
}

int store_batch_encode(const STORE_BATCH *b, const unsigned char site[STORE_SITE_ID_BYTES],
                       uint64_t seq, time_t created, unsigned char **out, size_t *len,
                       SUP_ERR *err)
{
    size_t total = HEAD_BYTES + b->len + CRC_BYTES;
    unsigned char *p = malloc(total);

    if (p == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory encoding a batch");
    memcpy(p, MAGIC, 4);
    p[4] = STORE_BATCH_VERSION;
    memcpy(p + 5, site, STORE_SITE_ID_BYTES);
    put_u64(p + 5 + STORE_SITE_ID_BYTES, seq);
    put_u64(p + 13 + STORE_SITE_ID_BYTES, (uint64_t) (int64_t) created);
    put_u32(p + 21 + STORE_SITE_ID_BYTES, (uint32_t) b->records);
    if (b->len > 0)
        memcpy(p + HEAD_BYTES, b->buf, b->len);
    put_u32(p + HEAD_BYTES + b->len,
            (uint32_t) crc32(0L, p, (uInt) (HEAD_BYTES + b->len)));
    *out = p;
    *len = total;
    return 0;
}

void store_site_id_hex(const unsigned char site[STORE_SITE_ID_BYTES], char *buf)
{
    for (int i = 0; i < STORE_SITE_ID_BYTES; i++)
        snprintf(buf + 2 * i, 3, "%02x", site[i]);
}

/* ---- parsing ----------------------------------------------------------- */

/* A cursor over one record's body. */
struct rd {
    const unsigned char *p, *end;
    SUP_ERR *err;
    int failed;
    uint32_t record;            /* its number, for the errors */
};

static int rd_fail(struct rd *r, const char *why)
{
    if (!r->failed)
        sup_err_set(r->err, SUP_ERR_INPUT, "batch record %u: %s", r->record + 1, why);
    r->failed = 1;
    return -1;
}

static uint64_t rd_int(struct rd *r, int bytes)
{
    uint64_t v;

    if (r->failed)
        return 0;
    if (r->end - r->p < bytes) {
        rd_fail(r, "cut short");
        return 0;
    }
    v = get_uint(r->p, bytes);
    r->p += bytes;
    return v;
}

/* A string into dst (room bytes, NUL-terminated). */
static void rd_str(struct rd *r, const char *what, char *dst, size_t room)
{
    size_t len;
    char why[96];

    dst[0] = '\0';
    len = (size_t) rd_int(r, 2);
    if (r->failed)
        return;
    if ((size_t) (r->end - r->p) < len) {
        rd_fail(r, "cut short");
        return;
    }
    if (len >= room) {
        snprintf(why, sizeof(why), "%s longer than %zu bytes", what, room - 1);
        rd_fail(r, why);
        return;
    }
    if (memchr(r->p, '\0', len) != NULL) {
        snprintf(why, sizeof(why), "%s holds a NUL byte", what);
        rd_fail(r, why);
        return;
    }
    memcpy(dst, r->p, len);
    dst[len] = '\0';
    r->p += len;
}

static int rd_done(struct rd *r)
{
    if (r->failed)
        return -1;
    if (r->p != r->end)
        return rd_fail(r, "bytes left over at its end");
    return 0;
}

static int parse_counter(struct rd *r, const struct store_batch_visitor *v, void *ctx)
{
    char day[16], name[STORE_COUNTER_NAME_MAX + 1];
    uint64_t delta;

    rd_str(r, "counter day", day, sizeof(day));
    rd_str(r, "counter name", name, sizeof(name));
    delta = rd_int(r, 8);
    if (rd_done(r) < 0)
        return -1;
    if (day[0] == '\0' || name[0] == '\0')
        return rd_fail(r, "counter without a day or a name");
    return v != NULL && v->counter != NULL ? v->counter(day, name, delta, ctx, r->err) : 0;
}

static int parse_event(struct rd *r, const struct store_batch_visitor *v, void *ctx)
{
    STORE_EVENT ev;
    uint64_t type;

    memset(&ev, 0, sizeof(ev));
    type = rd_int(r, 1);
    ev.when = (time_t) (int64_t) rd_int(r, 8);
    rd_str(r, "event address", ev.address, sizeof(ev.address));
    rd_str(r, "event reason", ev.reason, sizeof(ev.reason));
    rd_str(r, "event status", ev.status, sizeof(ev.status));
    rd_str(r, "event actor", ev.actor, sizeof(ev.actor));
    rd_str(r, "event detail", ev.detail, sizeof(ev.detail));
    rd_str(r, "event response", ev.response, sizeof(ev.response));
    rd_str(r, "event via", ev.via, sizeof(ev.via));
    rd_str(r, "event tenant", ev.tenant, sizeof(ev.tenant));
    if (rd_done(r) < 0)
        return -1;
    if (type < 1 || type > STORE_EV_LAST)
        return rd_fail(r, "unknown event type");
    if (ev.address[0] == '\0')
        return rd_fail(r, "event without an address");
    ev.type = (enum store_event_type) type;
    return v != NULL && v->event != NULL ? v->event(&ev, ctx, r->err) : 0;
}

/* The strings of a ledger record, NUL-terminated in one allocation. */
struct ledger_text {
    char *arena;
    const char **rcpts;
};

static int parse_ledger(struct rd *r, const struct store_batch_visitor *v, void *ctx)
{
    static const char *const no_rcpts[1];
    char id[STORE_MESSAGE_ID_MAX + 1], sender[ADDR_MAX + 1], tenant[STORE_TENANT_MAX];
    size_t body = (size_t) (r->end - r->p), used = 0;
    struct ledger_text t = { NULL, NULL };
    STORE_LEDGER_MSG msg;
    uint64_t n;
    int rc = 0;

    msg.when = (time_t) (int64_t) rd_int(r, 8);
    rd_str(r, "Message-ID", id, sizeof(id));
    rd_str(r, "ledger sender", sender, sizeof(sender));
    rd_str(r, "ledger tenant", tenant, sizeof(tenant));
    n = rd_int(r, 4);
    if (r->failed)
        return -1;
    if (n > STORE_LEDGER_RCPTS_MAX)
        return rd_fail(r, "more ledger recipients than a message may have");
    /* Each recipient takes at least its 2 length bytes: n is bounded by
     * the body, and the arena by the body plus one NUL each. */
    if (n > 0 && ((t.arena = malloc(body + n)) == NULL
                  || (t.rcpts = malloc(n * sizeof(*t.rcpts))) == NULL)) {
        free(t.arena);
        return sup_err_set(r->err, SUP_ERR_IO, "out of memory reading a batch");
    }
    for (uint64_t i = 0; i < n && !r->failed; i++) {
        char one[ADDR_MAX + 1];

        rd_str(r, "ledger recipient", one, sizeof(one));
        if (!r->failed && one[0] == '\0')
            rd_fail(r, "empty ledger recipient");
        if (r->failed)
            break;
        t.rcpts[i] = t.arena + used;
        memcpy(t.arena + used, one, strlen(one) + 1);
        used += strlen(one) + 1;
    }
    if (rd_done(r) < 0)
        rc = -1;
    else if (id[0] == '\0' || n == 0)
        rc = rd_fail(r, "ledger message without a Message-ID or recipients");
    else if (v != NULL && v->ledger != NULL) {
        msg.message_id = id;
        msg.sender = sender;
        msg.tenant = tenant;
        msg.rcpts = n > 0 ? t.rcpts : no_rcpts;
        msg.rcpt_count = (size_t) n;
        rc = v->ledger(&msg, ctx, r->err);
    }
    free(t.arena);
    free(t.rcpts);
    return rc;
}

static int parse_head(const unsigned char *buf, size_t len, struct store_batch_head *head,
                      SUP_ERR *err)
{
    if (len < HEAD_BYTES + CRC_BYTES)
        return sup_err_set(err, SUP_ERR_INPUT, "batch cut short (%zu bytes)", len);
    if (memcmp(buf, MAGIC, 4) != 0)
        return sup_err_set(err, SUP_ERR_INPUT, "not a batch (no %s at its start)", MAGIC);
    if (buf[4] != STORE_BATCH_VERSION)
        return sup_err_set(err, SUP_ERR_INPUT, "batch of version %u (this release reads %u)",
                           buf[4], STORE_BATCH_VERSION);
    if (get_uint(buf + len - CRC_BYTES, 4) != (uint32_t) crc32(0L, buf, (uInt) (len - CRC_BYTES)))
        return sup_err_set(err, SUP_ERR_INPUT, "batch damaged (CRC mismatch; %zu bytes)", len);
    memcpy(head->site, buf + 5, STORE_SITE_ID_BYTES);
    head->seq = get_uint(buf + 5 + STORE_SITE_ID_BYTES, 8);
    head->created = (time_t) (int64_t) get_uint(buf + 13 + STORE_SITE_ID_BYTES, 8);
    head->records = (uint32_t) get_uint(buf + 21 + STORE_SITE_ID_BYTES, 4);
    return 0;
}

/* One pass over the records: checking only (v NULL) or visiting. */
static int walk(const unsigned char *buf, size_t len, const struct store_batch_head *head,
                const struct store_batch_visitor *v, void *ctx, SUP_ERR *err)
{
    const unsigned char *p = buf + HEAD_BYTES, *end = buf + len - CRC_BYTES;
    uint32_t i;

    for (i = 0; p < end; i++) {
        struct rd r = { NULL, NULL, err, 0, i };
        uint64_t body;
        int rc;

        if (end - p < REC_HEAD_BYTES)
            return sup_err_set(err, SUP_ERR_INPUT, "batch record %u: cut short", i + 1);
        body = get_uint(p + 1, 4);
        if (body > (uint64_t) (end - p - REC_HEAD_BYTES))
            return sup_err_set(err, SUP_ERR_INPUT, "batch record %u: longer than the batch",
                               i + 1);
        r.p = p + REC_HEAD_BYTES;
        r.end = r.p + body;
        switch (p[0]) {
        case REC_COUNTER:
            rc = parse_counter(&r, v, ctx);
            break;
        case REC_EVENT:
            rc = parse_event(&r, v, ctx);
            break;
        case REC_LEDGER:
            rc = parse_ledger(&r, v, ctx);
            break;
        default:
            return sup_err_set(err, SUP_ERR_INPUT, "batch record %u: unknown type %u", i + 1, p[0]);
        }
        if (rc < 0)
            return -1;
        p = r.end;
    }
    if (i != head->records)
        return sup_err_set(err, SUP_ERR_INPUT, "batch says %u records and holds %u",
                           head->records, i);
    return 0;
}

int store_batch_parse(const unsigned char *buf, size_t len, struct store_batch_head *head,
                      const struct store_batch_visitor *v, void *ctx, SUP_ERR *err)
{
    if (parse_head(buf, len, head, err) < 0 || walk(buf, len, head, NULL, NULL, err) < 0)
        return -1;
    return v != NULL ? walk(buf, len, head, v, ctx, err) : 0;
}
