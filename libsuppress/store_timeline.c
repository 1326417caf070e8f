/*
 * store_timeline.c: events.db, each address's timeline: store_event_add
 * (with the max-events trim), store_events and store_event_count.
 *
 * Why a composite key for the timeline rather than DB_DUP|DB_DUPSORT: the
 * key sorts one address's events by time, so "events since T" is a single
 * DB_SET_RANGE to (address, T) instead of a walk through the duplicates;
 * the seq part lets several events share a second without comparing whole
 * values (a sorted duplicate set cannot hold two equal values, and sorting
 * by the encoded value would need a custom comparator); every event is an
 * ordinary record, so purge and the max-events trim delete with a plain
 * cursor, and a hot address's timeline is spread over leaf pages instead of
 * one off-page duplicate tree.  Times are stored with the sign bit flipped
 * so that memcmp order is time order.
 */
#include "config.h"

#include <db.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_bdb.h"
#include "store_record.h"

/* Flip the sign bit so that unsigned byte order is signed time order. */
static uint64_t time_to_key(time_t t)
{
    return (uint64_t) (int64_t) t ^ UINT64_C(0x8000000000000000);
}

static time_t key_to_time(uint64_t k)
{
    return (time_t) (int64_t) (k ^ UINT64_C(0x8000000000000000));
}


/* "address \0": the start of one address's events. */
static size_t event_prefix(unsigned char *key, const char *addr)
{
    size_t len = strlen(addr);

    memcpy(key, addr, len);
    key[len] = '\0';
    return len + 1;
}

static size_t event_key(unsigned char *key, const char *addr, time_t when, uint32_t seq)
{
    size_t len = event_prefix(key, addr);

    put_be64(key + len, time_to_key(when));
    put_be32(key + len + 8, seq);
    return len + 12;
}

/* Split an event key; -1 if it is not one. */
static int parse_event_key(const unsigned char *key, size_t len, size_t *addrlen, time_t *when)
{
    const unsigned char *nul = memchr(key, '\0', len);

    if (nul == NULL || (size_t) (nul - key) + 13 != len || nul == key)
        return -1;
    *addrlen = (size_t) (nul - key);
    *when = key_to_time(get_be64(nul + 1));
    return 0;
}

static int valid_event_type(enum store_event_type t)
{
    return t >= STORE_EV_HARD_BOUNCE && t <= STORE_EV_LAST;
}

/* The next free seq for (address, when): one more than the last used. */
static int next_seq(STORE *st, DBC *c, const unsigned char *prefix, size_t plen, time_t when,
                    uint32_t *seq, SUP_ERR *err)
{
    unsigned char kbuf[KEY_MAX];
    DBT key, data;
    int ret;

    memcpy(kbuf, prefix, plen);
    put_be64(kbuf + plen, time_to_key(when));
    put_be32(kbuf + plen + 8, UINT32_MAX);
    dbt_inout(&key, kbuf, plen + 12, sizeof(kbuf));
    dbt_none(&data);
    ret = c->get(c, &key, &data, DB_SET_RANGE | DB_RMW);
    if (ret == 0)
        ret = c->get(c, &key, &data, DB_PREV | DB_RMW);
    else if (ret == DB_NOTFOUND)
        ret = c->get(c, &key, &data, DB_LAST | DB_RMW);
    *seq = 0;
    if (ret == DB_NOTFOUND)
        return 0;
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, "events.db");
    if (key.size == plen + 12 && memcmp(kbuf, prefix, plen) == 0
        && get_be64(kbuf + plen) == time_to_key(when)) {
        uint32_t last = get_be32(kbuf + plen + 8);

        if (last == UINT32_MAX)
            return sup_err_set(err, SUP_ERR_INPUT, "%s: too many events in one second",
                               (const char *) prefix);
        *seq = last + 1;
    }
    return 0;
}

/* Delete the oldest events of the address beyond max. */
static int trim_events(STORE *st, DBC *c, const unsigned char *prefix, size_t plen, int max,
                       SUP_ERR *err)
{
    unsigned char kbuf[KEY_MAX];
    DBT key, data;
    long n = 0;
    int ret;

    for (int pass = 0; pass < 2; pass++) {
        long remove = n - max;

        if (pass == 1 && remove <= 0)
            return 0;
        memcpy(kbuf, prefix, plen);
        dbt_inout(&key, kbuf, plen, sizeof(kbuf));
        dbt_none(&data);
        for (ret = c->get(c, &key, &data, DB_SET_RANGE | DB_RMW); ret == 0;
             ret = c->get(c, &key, &data, DB_NEXT | DB_RMW)) {
            if (key.size < plen || memcmp(kbuf, prefix, plen) != 0)
                break;
            if (pass == 0) {
                n++;
                continue;
            }
            if (remove-- <= 0)
                return 0;
            if ((ret = c->del(c, 0)) != 0)
                break;
        }
        if (ret != 0 && ret != DB_NOTFOUND)
            return store_bdb_fail(st->env, err, ret, "events.db");
    }
    return 0;
}

int store_event_add_in(STORE *st, DB_TXN *tid, const struct event_arg *arg, SUP_ERR *err)
{
    DB *db = st->db[DBI_EVENTS];
    unsigned char prefix[KEY_MAX], kbuf[KEY_MAX];
    size_t plen = event_prefix(prefix, arg->ev->address);
    uint32_t seq;
    DBC *c;
    DBT key, data;
    int ret, rc;

    if ((ret = db->cursor(db, tid, &c, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "events.db");
    rc = next_seq(st, c, prefix, plen, arg->ev->when, &seq, err);
    if (rc == 0) {
        dbt_in(&key, kbuf, event_key(kbuf, arg->ev->address, arg->ev->when, seq));
        dbt_in(&data, arg->value, arg->len);
        if ((ret = db->put(db, tid, &key, &data, DB_NOOVERWRITE)) != 0)
            rc = store_bdb_fail(st->env, err, ret, arg->ev->address);
    }
    if (rc == 0 && arg->max_events > 0)
        rc = trim_events(st, c, prefix, plen, arg->max_events, err);
    if ((ret = c->close(c)) != 0 && rc == 0)
        rc = store_bdb_fail(st->env, err, ret, "events.db");
    return rc;
}

static int op_event_add(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    return store_event_add_in(st, tid, argp, err);
}

int store_event_prepare(const STORE_EVENT *ev, struct event_arg *arg, unsigned char *buf,
                        size_t buflen, SUP_ERR *err)
{
    if (store_check_address(ev->address, err) < 0)
        return -1;
    if (!valid_event_type(ev->type))
        return sup_err_set(err, SUP_ERR_INPUT, "%s: invalid event type %d", ev->address,
                           (int) ev->type);
    arg->ev = ev;
    arg->value = buf;
    return store_record_encode_event(ev, buf, buflen, &arg->len, err);
}

int store_event_add(STORE *st, STORE_TXN *txn, const STORE_EVENT *ev, int max_events,
                    SUP_ERR *err)
{
    unsigned char buf[STORE_RECORD_MAX];
    struct event_arg arg;

    if (store_event_prepare(ev, &arg, buf, sizeof(buf), err) < 0)
        return -1;
    arg.max_events = max_events;
    return store_run_op(st, txn, true, op_event_add, &arg, err);
}

struct event_iter {
    store_event_fn fn;
    void *ctx;
    STORE_EVENT ev;
};

static int decode_event_record(const unsigned char *key, size_t klen, const unsigned char *data,
                               size_t dlen, STORE_EVENT *ev, SUP_ERR *err)
{
    size_t alen;

    if (parse_event_key(key, klen, &alen, &ev->when) < 0)
        return sup_err_set(err, SUP_ERR_IO, "events.db: malformed key of %zu bytes", klen);
    if (store_record_decode_event(data, dlen, ev, err) < 0) {
        sup_err_prefix(err, "%.*s", (int) (alen > ADDR_MAX ? ADDR_MAX : alen), key);
        return -1;
    }
    store_copy_bytes(ev->address, sizeof(ev->address), (const char *) key, alen);
    return 0;
}

static int deliver_event(const unsigned char *key, size_t klen, const unsigned char *data,
                         size_t dlen, void *ctxp, SUP_ERR *err)
{
    struct event_iter *it = ctxp;

    if (decode_event_record(key, klen, data, dlen, &it->ev, err) < 0)
        return -1;
    return it->fn(&it->ev, it->ctx);
}

int store_events(STORE *st, STORE_TXN *txn, const char *addr, store_event_fn fn, void *ctx,
                 SUP_ERR *err)
{
    unsigned char prefix[KEY_MAX];
    struct event_iter *it;
    size_t plen;
    int rc;

    if (store_check_address(addr, err) < 0)
        return -1;
    if ((it = malloc(sizeof(*it))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory reading the store");
    it->fn = fn;
    it->ctx = ctx;
    plen = event_prefix(prefix, addr);
    rc = store_scan_range(st, txn, DBI_EVENTS, prefix, plen, plen, deliver_event, it, err);
    free(it);
    return rc;
}

struct count_arg {
    const char *addr;
    enum store_event_type type;
    time_t since;
};

static int op_event_count(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct count_arg *arg = argp;
    DB *db = st->db[DBI_EVENTS];
    unsigned char prefix[KEY_MAX], kbuf[KEY_MAX], vbuf[STORE_RECORD_MAX];
    size_t plen = event_prefix(prefix, arg->addr);
    STORE_EVENT *ev = malloc(sizeof(*ev));
    DBC *c;
    DBT key, data;
    int ret, rc = 0, count = 0;

    if (ev == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory reading the store");
    if ((ret = db->cursor(db, tid, &c, 0)) != 0) {
        free(ev);
        return store_bdb_fail(st->env, err, ret, "events.db");
    }
    dbt_inout(&key, kbuf, event_key(kbuf, arg->addr, arg->since, 0), sizeof(kbuf));
    dbt_out(&data, vbuf, sizeof(vbuf));
    for (ret = c->get(c, &key, &data, DB_SET_RANGE); ret == 0;
         ret = c->get(c, &key, &data, DB_NEXT)) {
        if (key.size < plen || memcmp(kbuf, prefix, plen) != 0)
            break;
        if ((rc = decode_event_record(kbuf, key.size, vbuf, data.size, ev, err)) < 0)
            break;
        if (ev->type == arg->type)
            count++;
    }
    if (rc == 0 && ret != 0 && ret != DB_NOTFOUND)
        rc = store_bdb_fail(st->env, err, ret, "events.db");
    if ((ret = c->close(c)) != 0 && rc == 0)
        rc = store_bdb_fail(st->env, err, ret, "events.db");
    free(ev);
    return rc < 0 ? rc : count;
}

int store_event_count(STORE *st, STORE_TXN *txn, const char *addr, enum store_event_type type,
                      time_t since, SUP_ERR *err)
{
    struct count_arg arg = { addr, type, since };

    if (store_check_address(addr, err) < 0)
        return -1;
    return store_run_op(st, txn, false, op_event_count, &arg, err);
}

/* Purge: does this event go (1), older than cutoff? */
int store_event_purgeable(const DBT *key, time_t cutoff)
{
    size_t alen;
    time_t when;

    if (parse_event_key(key->data, key->size, &alen, &when) < 0)
        return 0;               /* not ours: leave it */
    return when < cutoff;
}
