/*
 * store_ledger.c: ledger.db, the ledger of sent mail: for each message
 * the milter let through, its envelope sender and accepted recipients, so
 * that suppress-ingest believes a failure only for a recipient of a
 * message this relay sent.  store_ledger_add (the milter's background
 * writer, in batches) and store_ledger_check (suppress-ingest, inside its
 * transaction); store_purge removes messages recorded longer ago than
 * ledger.retention (store_ledger_purgeable).
 *
 * Key: the Message-ID as the caller gives it, without <> (1 to
 * STORE_MESSAGE_ID_MAX bytes, compared exactly).  Value:
 *
 *     version(1) | be64 time | sender \0 | rcpt \0 | rcpt \0 | ...
 *
 * or, for a message whose tenant the milter knew (tenant.h),
 *
 *     2 | be64 time | sender \0 | tenant \0 | rcpt \0 | ...
 *
 * (without a tenant the record is version 1, byte for byte as before
 * tenants).  version is STORE_LEDGER_VERSION; time is the earliest time the
 * Message-ID was recorded (signed 64-bit seconds: a later add never moves
 * it forward, an earlier one moves it back); sender is the first
 * message's normalized envelope sender, "" for <>; then 1 to
 * STORE_LEDGER_RCPTS_MAX normalized recipients of 1 to ADDR_MAX bytes,
 * each once, in the order first recorded.  Every string ends with its
 * NUL, so the record does too.  Not store_record.c's tagged fields: the
 * value is a list to search, which NUL-separated costs a byte per
 * recipient and is searched in place, and purge reads the time at a fixed
 * offset.  A change of meaning changes the version byte.
 *
 * Recipients beyond STORE_LEDGER_RCPTS_MAX for one Message-ID are
 * dropped, which is not an error: store_ledger_add returns 0 and says how
 * many in err with class SUP_OK (err is cleared otherwise), for the
 * caller to log.  Invalid input is refused before the database is
 * touched, so it leaves the caller's transaction usable.
 */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"
#include "store_bdb.h"
#include "store_ledger.h"

/* A record of a few recipients fits here: read and written without malloc. */
#define LEDGER_LOCAL_BYTES 4096
/* The largest record there can be: a full sender and a full list. */
#define LEDGER_RECORD_MAX (STORE_LEDGER_HEADER + STORE_TENANT_MAX \
                           + (size_t) (ADDR_MAX + 1) * (1 + STORE_LEDGER_RCPTS_MAX))

static int check_message_id(const char *id, SUP_ERR *err)
{
    if (id == NULL || id[0] == '\0')
        return sup_err_set(err, SUP_ERR_INPUT, "empty Message-ID");
    if (strnlen(id, STORE_MESSAGE_ID_MAX + 1) > STORE_MESSAGE_ID_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "Message-ID longer than %d bytes: %.60s...",
                           STORE_MESSAGE_ID_MAX, id);
    return 0;
}

/* ---- the record ----------------------------------------------------- */

static int damage(SUP_ERR *err, const char *why)
{
    return sup_err_set(err, SUP_ERR_IO, "damaged record: %s", why);
}

/* The recipients in [p, end): each non-empty, at most ADDR_MAX, NUL-ended. */
static int decode_rcpts(const unsigned char *p, const unsigned char *end, size_t *count,
                        SUP_ERR *err)
{
    *count = 0;
    while (p < end) {
        const unsigned char *nul = memchr(p, '\0', (size_t) (end - p));

        if (nul == NULL)
            return damage(err, "a recipient without its NUL");
        if (nul == p)
            return damage(err, "an empty recipient");
        if (nul - p > ADDR_MAX)
            return damage(err, "a recipient longer than an address");
        if (++*count > STORE_LEDGER_RCPTS_MAX)
            return damage(err, "more recipients than a message keeps");
        p = nul + 1;
    }
    if (*count == 0)
        return damage(err, "no recipient");
    return 0;
}

int store_ledger_decode(const unsigned char *buf, size_t len, struct ledger_record *rec,
                        SUP_ERR *err)
{
    const unsigned char *end = buf + len, *sender, *nul;

    if (len < STORE_LEDGER_HEADER + 1)
        return sup_err_set(err, SUP_ERR_IO, "damaged record: %zu bytes", len);
    if (buf[0] != STORE_LEDGER_VERSION && buf[0] != STORE_LEDGER_VERSION_TENANT)
        return sup_err_set(err, SUP_ERR_IO, "damaged record: version %u, not %d or %d", buf[0],
                           STORE_LEDGER_VERSION, STORE_LEDGER_VERSION_TENANT);
    sender = buf + STORE_LEDGER_HEADER;
    if ((nul = memchr(sender, '\0', (size_t) (end - sender))) == NULL)
        return damage(err, "a sender without its NUL");
    if (nul - sender > ADDR_MAX)
        return damage(err, "a sender longer than an address");
    rec->tenant = "";
    if (buf[0] == STORE_LEDGER_VERSION_TENANT) {
        const unsigned char *tenant = nul + 1;

        if (tenant >= end || (nul = memchr(tenant, '\0', (size_t) (end - tenant))) == NULL)
            return damage(err, "a tenant without its NUL");
        if (nul == tenant || nul - tenant >= STORE_TENANT_MAX)
            return damage(err, "an empty or over-long tenant");
        rec->tenant = (const char *) tenant;
    }
    if (decode_rcpts(nul + 1, end, &rec->rcpt_count, err) < 0)
        return -1;
    rec->when = (time_t) (int64_t) get_be64(buf + 1);
    rec->sender = (const char *) sender;
    rec->rcpts = (const char *) nul + 1;
    rec->rcpts_len = (size_t) (end - (nul + 1));
    return 0;
}

/* Is rcpt (len bytes) one of the NUL-ended recipients in [p, end)? */
static bool rcpt_listed(const unsigned char *p, const unsigned char *end, const char *rcpt,
                        size_t len)
{
    while (p < end) {
        const unsigned char *nul = memchr(p, '\0', (size_t) (end - p));

        if (nul == NULL)
            return false;
        if ((size_t) (nul - p) == len && memcmp(p, rcpt, len) == 0)
            return true;
        p = nul + 1;
    }
    return false;
}

/* ---- reading -------------------------------------------------------- */

/*
 * Read key's record into buf, or when it is larger (a message with many
 * recipients) into *heap, which the caller frees.  Returns Berkeley DB's
 * code.
 */
static int ledger_read(DB *db, DB_TXN *tid, DBT *key, u_int32_t flags, unsigned char *buf,
                       size_t cap, DBT *data, unsigned char **heap)
{
    int ret;

    *heap = NULL;
    dbt_out(data, buf, cap);
    if ((ret = db->get(db, tid, key, data, flags)) != DB_BUFFER_SMALL)
        return ret;
    if ((*heap = malloc(data->size)) == NULL)
        return ENOMEM;
    dbt_out(data, *heap, data->size);
    return db->get(db, tid, key, data, flags);
}

/* A record that does not decode: name the store, the file and the key. */
static int damaged(const STORE *st, const char *id, SUP_ERR *err)
{
    sup_err_prefix(err, "store %s: ledger.db: Message-ID %s", st->env->dir, id);
    return -1;
}

struct check_arg {
    const char *id;
    const char *rcpt;
    enum store_ledger_answer answer;
    time_t sent;
};

static int op_ledger_check(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct check_arg *arg = argp;
    DB *db = st->db[DBI_LEDGER];
    unsigned char buf[LEDGER_LOCAL_BYTES], kbuf[KEY_MAX], *heap;
    struct ledger_record rec;
    DBT key, data;
    int ret, rc = 0;

    arg->answer = STORE_LEDGER_UNKNOWN_MESSAGE;
    if (db == NULL)             /* read-only, on a store older than the ledger */
        return 0;
    dbt_key(&key, kbuf, arg->id);
    ret = ledger_read(db, tid, &key, 0, buf, sizeof(buf), &data, &heap);
    if (ret != 0 && ret != DB_NOTFOUND) {
        rc = store_bdb_fail(st->env, err, ret, "ledger.db");
    } else if (ret == 0 && store_ledger_decode(data.data, data.size, &rec, err) < 0) {
        rc = damaged(st, arg->id, err);
    } else if (ret == 0) {
        const unsigned char *r = (const unsigned char *) rec.rcpts;

        arg->sent = rec.when;
        arg->answer = rcpt_listed(r, r + rec.rcpts_len, arg->rcpt, strlen(arg->rcpt))
            ? STORE_LEDGER_RECIPIENT : STORE_LEDGER_NOT_RECIPIENT;
    }
    free(heap);
    return rc;
}

int store_ledger_check(STORE *st, STORE_TXN *txn, const char *message_id, const char *rcpt,
                       enum store_ledger_answer *answer, time_t *sent, SUP_ERR *err)
{
    struct check_arg arg = { message_id, rcpt, STORE_LEDGER_UNKNOWN_MESSAGE, 0 };

    if (check_message_id(message_id, err) < 0 || store_check_address(rcpt, err) < 0)
        return -1;
    if (store_run_op(st, txn, false, op_ledger_check, &arg, err) < 0)
        return -1;
    *answer = arg.answer;
    if (sent != NULL && arg.answer != STORE_LEDGER_UNKNOWN_MESSAGE)
        *sent = arg.sent;
    return 0;
}

struct sender_arg {
    const char *id;
    char *sender;
    char *tenant;
};

static int op_ledger_sender(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct sender_arg *arg = argp;
    DB *db = st->db[DBI_LEDGER];
    unsigned char buf[LEDGER_LOCAL_BYTES], kbuf[KEY_MAX], *heap;
    struct ledger_record rec;
    DBT key, data;
    int ret, rc = 0;

    if (db == NULL)
        return 0;
    dbt_key(&key, kbuf, arg->id);
    ret = ledger_read(db, tid, &key, 0, buf, sizeof(buf), &data, &heap);
    if (ret != 0 && ret != DB_NOTFOUND) {
        rc = store_bdb_fail(st->env, err, ret, "ledger.db");
    } else if (ret == 0 && store_ledger_decode(data.data, data.size, &rec, err) < 0) {
        rc = damaged(st, arg->id, err);
    } else if (ret == 0) {
        store_copy_text(arg->sender, ADDR_MAX + 1, rec.sender);
        store_copy_text(arg->tenant, STORE_TENANT_MAX, rec.tenant);
        rc = 1;
    }
    free(heap);
    return rc;
}

int store_ledger_sender(STORE *st, STORE_TXN *txn, const char *message_id, char *sender,
                        char *tenant, SUP_ERR *err)
{
    struct sender_arg arg = { message_id, sender, tenant };

    sender[0] = tenant[0] = '\0';
    if (check_message_id(message_id, err) < 0)
        return -1;
    return store_run_op(st, txn, false, op_ledger_sender, &arg, err);
}

/* ---- recording ------------------------------------------------------ */

struct add_arg {
    const STORE_LEDGER_MSG *msg;
    const char *sender;         /* msg->sender, or "" for NULL */
    const char *tenant;         /* msg->tenant, or "" for NULL */
    size_t rcpt_bytes;          /* msg's recipients with their NULs */
    size_t dropped;             /* out: recipients over the cap */
};

/* The record being written: the stored one, or a new one, plus recipients. */
struct ledger_out {
    unsigned char *data;
    size_t len;
    size_t rcpts;               /* offset of the first recipient */
    size_t count;
    bool changed;               /* differs from what is stored */
};

static void out_new(struct ledger_out *o, time_t when, const char *sender, const char *tenant)
{
    size_t slen = strlen(sender), tlen = strlen(tenant);

    o->data[0] = tlen > 0 ? STORE_LEDGER_VERSION_TENANT : STORE_LEDGER_VERSION;
    put_be64(o->data + 1, (uint64_t) (int64_t) when);
    memcpy(o->data + STORE_LEDGER_HEADER, sender, slen + 1);
    o->len = o->rcpts = STORE_LEDGER_HEADER + slen + 1;
    if (tlen > 0) {
        memcpy(o->data + o->len, tenant, tlen + 1);
        o->len = o->rcpts = o->len + tlen + 1;
    }
    o->count = 0;
    o->changed = true;
}

/* The stored record, its time moved back if this message is older; its
 * sender stays the first message's. */
static void out_old(struct ledger_out *o, const DBT *data, const struct ledger_record *rec,
                    time_t when)
{
    memcpy(o->data, data->data, data->size);
    o->len = data->size;
    o->rcpts = (size_t) ((const unsigned char *) rec->rcpts - (const unsigned char *) data->data);
    o->count = rec->rcpt_count;
    o->changed = when < rec->when;
    if (o->changed)
        put_be64(o->data + 1, (uint64_t) (int64_t) when);
}

/* Append the recipients not there yet, up to the cap; returns how many were dropped. */
static size_t out_add_rcpts(struct ledger_out *o, const STORE_LEDGER_MSG *msg)
{
    size_t dropped = 0;

    for (size_t i = 0; i < msg->rcpt_count; i++) {
        const char *r = msg->rcpts[i];
        size_t rlen = strlen(r);

        if (rcpt_listed(o->data + o->rcpts, o->data + o->len, r, rlen))
            continue;
        if (o->count >= STORE_LEDGER_RCPTS_MAX) {
            dropped++;
            continue;
        }
        memcpy(o->data + o->len, r, rlen + 1);
        o->len += rlen + 1;
        o->count++;
        o->changed = true;
    }
    return dropped;
}

static int ledger_write(STORE *st, DB_TXN *tid, const char *id, const struct ledger_out *o,
                        SUP_ERR *err)
{
    DBT key, data;
    int ret;

    dbt_in(&key, id, strlen(id));
    dbt_in(&data, o->data, o->len);
    if ((ret = st->db[DBI_LEDGER]->put(st->db[DBI_LEDGER], tid, &key, &data, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "ledger.db");
    return 0;
}

static int op_ledger_add(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    struct add_arg *arg = argp;
    const STORE_LEDGER_MSG *msg = arg->msg;
    unsigned char buf[LEDGER_LOCAL_BYTES], obuf[LEDGER_LOCAL_BYTES], kbuf[KEY_MAX], *heap;
    struct ledger_out o = { NULL, 0, 0, 0, false };
    struct ledger_record rec;
    size_t need;
    DBT key, data;
    int ret, rc = -1;

    arg->dropped = 0;
    dbt_key(&key, kbuf, msg->message_id);
    /* DB_RMW: take the write lock now, so two adders cannot both read (as counters do). */
    ret = ledger_read(st->db[DBI_LEDGER], tid, &key, DB_RMW, buf, sizeof(buf), &data, &heap);
    if (ret != 0 && ret != DB_NOTFOUND) {
        rc = store_bdb_fail(st->env, err, ret, "ledger.db");
        goto out;
    }
    if (ret == 0 && store_ledger_decode(data.data, data.size, &rec, err) < 0) {
        rc = damaged(st, msg->message_id, err);
        goto out;
    }
    need = (ret == 0 ? data.size
            : STORE_LEDGER_HEADER + strlen(arg->sender) + 1 + strlen(arg->tenant) + 1)
        + arg->rcpt_bytes;
    if (need > LEDGER_RECORD_MAX)       /* the cap keeps it below, whatever is passed */
        need = LEDGER_RECORD_MAX;
    o.data = need <= sizeof(obuf) ? obuf : malloc(need);
    if (o.data == NULL) {
        rc = sup_err_set(err, SUP_ERR_IO, "out of memory recording Message-ID %s",
                         msg->message_id);
        goto out;
    }
    if (ret == 0)
        out_old(&o, &data, &rec, msg->when);
    else
        out_new(&o, msg->when, arg->sender, arg->tenant);
    arg->dropped = out_add_rcpts(&o, msg);
    /* A resend to the same recipients changes nothing: no write, no log. */
    rc = o.changed ? ledger_write(st, tid, msg->message_id, &o, err) : 0;
out:
    if (o.data != obuf)
        free(o.data);
    free(heap);
    return rc;
}

/* Everything is checked before the database is touched. */
static int check_ledger_msg(const STORE_LEDGER_MSG *msg, struct add_arg *arg, SUP_ERR *err)
{
    if (msg == NULL)
        return sup_err_set(err, SUP_ERR_INPUT, "no message to record");
    if (check_message_id(msg->message_id, err) < 0)
        return -1;
    arg->sender = msg->sender != NULL ? msg->sender : "";
    if (strnlen(arg->sender, ADDR_MAX + 1) > ADDR_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "Message-ID %s: sender longer than %d bytes",
                           msg->message_id, ADDR_MAX);
    arg->tenant = msg->tenant != NULL ? msg->tenant : "";
    if (arg->tenant[0] != '\0' && store_tenant_check(arg->tenant, err) < 0) {
        sup_err_prefix(err, "Message-ID %s", msg->message_id);
        return -1;
    }
    if (msg->rcpt_count == 0 || msg->rcpts == NULL)
        return sup_err_set(err, SUP_ERR_INPUT, "Message-ID %s: no recipients to record",
                           msg->message_id);
    arg->rcpt_bytes = 0;
    for (size_t i = 0; i < msg->rcpt_count; i++) {
        if (store_check_address(msg->rcpts[i], err) < 0) {
            sup_err_prefix(err, "Message-ID %s: recipient %zu", msg->message_id, i + 1);
            return -1;
        }
        arg->rcpt_bytes += strlen(msg->rcpts[i]) + 1;
    }
    return 0;
}

int store_ledger_add(STORE *st, STORE_TXN *txn, const STORE_LEDGER_MSG *msg, SUP_ERR *err)
{
    struct add_arg arg = { msg, "", "", 0, 0 };

    if (check_ledger_msg(msg, &arg, err) < 0)
        return -1;
    if (store_run_op(st, txn, true, op_ledger_add, &arg, err) < 0)
        return -1;
    sup_err_clear(err);
    if (arg.dropped > 0)
        (void) sup_err_set(err, SUP_OK, "ledger: Message-ID %s: %zu recipient%s not recorded,"
                           " it has %d already (the most kept)", msg->message_id, arg.dropped,
                           arg.dropped == 1 ? "" : "s", STORE_LEDGER_RCPTS_MAX);
    return 0;
}

/* ---- purge ---------------------------------------------------------- */

/*
 * Purge: does this message go (1), first recorded before cutoff?  Only
 * the header is read: an old record goes even if the rest is damaged.
 * One of another version, or too short to have a time, is kept (as
 * seen.db's are); store_ledger_check reports it.
 */
int store_ledger_purgeable(const DBT *data, time_t cutoff)
{
    const unsigned char *p = data->data;

    return data->size >= STORE_LEDGER_HEADER
        && (p[0] == STORE_LEDGER_VERSION || p[0] == STORE_LEDGER_VERSION_TENANT)
        && (time_t) (int64_t) get_be64(p + 1) < cutoff;
}
