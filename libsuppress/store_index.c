/*
 * store_index.c: lookup.db, the compact index in front of suppressions.db
 * that answers the milter's common question, "is this recipient
 * suppressed?", for the 99% of recipients that are not, without reading
 * suppressions.db at all.
 *
 * Each suppressed address is filed under its keyed 64-bit SipHash: the top
 * `bits` bits pick a bucket, the low 32 bits are its fingerprint.  A
 * bucket is one small record holding the sorted fingerprints of its
 * addresses:
 *
 *     key   be32(bucket)
 *     value version(1) | be32(fingerprint) ... (ascending, repeats allowed)
 *
 * so 10M addresses take about 1M records of ~40 bytes: the whole index
 * stays in the cache where suppressions.db (addresses, texts) cannot.  A
 * fingerprint absent from its bucket means "not suppressed"; one present
 * means "maybe": store_lookup then reads the entry, which also settles
 * the rare fingerprint shared by two addresses (repeats are kept, one per
 * address, so removing one leaves the other).
 *
 * A tenant's entry (key \1 tenant \1 address) is filed in the bucket of
 * its address under the fingerprint of its whole key, so the RCPT path
 * with a tenant reads one bucket for both scopes.
 *
 * lookup-slots.db is what the RCPT path reads: a DB_QUEUE with one
 * fixed-size record per bucket, record number = bucket + 1, so a lookup
 * goes straight to its page, with no B-tree descent and no key
 * comparisons (a B-tree get of lookup.db cost three pages and ~25
 * comparisons; tests/bench/store-bench.sh prints both).  A slot holds the
 * low 16 bits of the bucket's fingerprints:
 *
 *     value kind(1) | count(1) | be16(fingerprint) ... (ascending)
 *
 * kind SLOT_LIST holds them all; SLOT_MORE says the bucket has more than
 * SLOT_FPS and lookup.db must answer.  A slot is derived from its bucket
 * in the same transaction as every change of the bucket, so lookup.db
 * stays the truth and the slots can be rebuilt from it.  A 16-bit match
 * that is not the address costs one read of suppressions.db, about once
 * in 6,500 misses at 10M addresses.
 *
 * One meta record says how the index is made, and whether it is complete:
 *
 *     key   "index-meta"
 *     value version(1) | bits(1) | state(1) | siphash key(16) | cursor
 *
 * state: building (lookup.db is being built from suppressions.db), built
 * (lookup.db is complete; the slots are being filled from it: a store of
 * the release before this one opens in this state), slots (both complete).
 *
 * A store written before this index existed gets it on the first open by
 * a writer (store_index_open), and its entries are rewritten in the
 * compact record version 2 at the same time (store_entry_upgrade): batches
 * of entries are indexed, each batch
 * in its own transaction that also moves the cursor (the first address
 * not yet indexed) on, so two writers opening at once share the work and
 * a build that was interrupted goes on where it stopped.  Until the state
 * is "built", lookups do not trust the index.  After it, every write of
 * suppressions.db (store_entries.c, store_purge.c) keeps the index
 * exact in the same transaction.
 */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "siphash.h"
#include "store.h"
#include "store_bdb.h"

#define INDEX_VERSION    1
#define INDEX_META_KEY   "index-meta"
#define INDEX_BITS       20     /* 1M buckets: ~10 fingerprints each at 10M addresses */
#define INDEX_BUILD_BATCH 2000  /* entries indexed per transaction of a build */
#define BUCKET_BUF       8192   /* a bucket read on the stack (~2000 fingerprints) */

#define SLOT_FILL_BATCH  2000  /* buckets copied into slots per transaction */

enum index_state { INDEX_BUILDING = 0, INDEX_BUILT = 1, INDEX_SLOTS = 2 };

#define META_FIXED (3 + SIPHASH_KEY_BYTES)

struct index_meta {
    unsigned bits;
    enum index_state state;
    unsigned char key[SIPHASH_KEY_BYTES];
    unsigned char cursor[KEY_MAX];  /* building: the first address not yet indexed */
    size_t cursor_len;
};

/* ---- where an address goes ------------------------------------------ */

/*
 * A tenant's key (store_scope.c) goes into the bucket of its address,
 * with the fingerprint of the whole key: one bucket read then answers
 * for the global scope and a tenant's at once (store_index_probe2).  A
 * global key is the address, so its slot is what it always was.
 */
static void index_slot(const struct store_index *ix, const void *key, size_t len,
                       uint32_t *bucket, uint32_t *fp)
{
    const unsigned char *addr, *tenant;
    size_t alen, tlen;
    uint64_t h = siphash24(ix->key, key, len);

    *fp = (uint32_t) h;
    if (store_scope_split(key, len, &addr, &alen, &tenant, &tlen) == 0 && tlen > 0)
        h = siphash24(ix->key, addr, alen);
    *bucket = (uint32_t) (h >> (64 - ix->bits));
}

/* ---- the meta record ------------------------------------------------ */

static int meta_read(STORE *st, DB_TXN *tid, u_int32_t flags, struct index_meta *m,
                     SUP_ERR *err)
{
    unsigned char kbuf[KEY_MAX], buf[META_FIXED + KEY_MAX];
    DBT key, data;
    int ret;

    dbt_key(&key, kbuf, INDEX_META_KEY);
    dbt_out(&data, buf, sizeof(buf));
    ret = st->db[DBI_INDEX]->get(st->db[DBI_INDEX], tid, &key, &data, flags);
    if (ret == DB_NOTFOUND)
        return 0;
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, "reading the lookup index");
    if (data.size < META_FIXED || buf[0] != INDEX_VERSION || buf[1] < 8 || buf[1] > 32
        || buf[2] > INDEX_SLOTS)
        return sup_err_set(err, SUP_ERR_IO,
                           "store %s: lookup.db has a meta record this release cannot read"
                           " (%u bytes, version %u)", st->env->dir, data.size, buf[0]);
    m->bits = buf[1];
    m->state = (enum index_state) buf[2];
    memcpy(m->key, buf + 3, SIPHASH_KEY_BYTES);
    m->cursor_len = data.size - META_FIXED;
    memcpy(m->cursor, buf + META_FIXED, m->cursor_len);
    return 1;
}

static int meta_write(STORE *st, DB_TXN *tid, const struct index_meta *m, SUP_ERR *err)
{
    unsigned char buf[META_FIXED + KEY_MAX];
    DBT key, data;
    int ret;

    buf[0] = INDEX_VERSION;
    buf[1] = (unsigned char) m->bits;
    buf[2] = (unsigned char) m->state;
    memcpy(buf + 3, m->key, SIPHASH_KEY_BYTES);
    memcpy(buf + META_FIXED, m->cursor, m->cursor_len);
    dbt_in(&key, INDEX_META_KEY, strlen(INDEX_META_KEY));
    dbt_in(&data, buf, META_FIXED + m->cursor_len);
    if ((ret = st->db[DBI_INDEX]->put(st->db[DBI_INDEX], tid, &key, &data, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "writing the lookup index");
    return 0;
}

/* A new index: its own secret key, so nobody outside can aim addresses
 * at one bucket. */
static int meta_new(const STORE *st, struct index_meta *m, SUP_ERR *err)
{
    size_t got = 0;

    memset(m, 0, sizeof(*m));
    m->bits = INDEX_BITS;
    m->state = INDEX_BUILDING;
    while (got < sizeof(m->key)) {
        ssize_t n = getrandom(m->key + got, sizeof(m->key) - got, 0);

        if (n < 0 && errno != EINTR)
            return sup_err_set(err, SUP_ERR_IO, "store %s: getrandom: %s", st->env->dir,
                               strerror(errno));
        if (n > 0)
            got += (size_t) n;
    }
    return 0;
}

/* ---- buckets -------------------------------------------------------- */

/* A bucket read for update: into the stack buffer, or the heap when it is
 * bigger (buf->heap then owns it). */
struct bucket {
    unsigned char stack[BUCKET_BUF];
    unsigned char *heap;
    unsigned char *data;
    size_t count;               /* fingerprints */
};

static int bucket_read(STORE *st, DB_TXN *tid, uint32_t bucket, struct bucket *b, SUP_ERR *err)
{
    unsigned char kbuf[4];
    DBT key, data;
    int ret;

    b->heap = NULL;
    b->data = b->stack;
    b->count = 0;
    put_be32(kbuf, bucket);
    dbt_in(&key, kbuf, 4);
    dbt_out(&data, b->stack, sizeof(b->stack));
    ret = st->db[DBI_INDEX]->get(st->db[DBI_INDEX], tid, &key, &data, DB_RMW);
    if (ret == DB_BUFFER_SMALL) {
        /* room for one more fingerprint, which bucket_insert may add */
        if ((b->heap = malloc(data.size + 4)) == NULL)
            return sup_err_set(err, SUP_ERR_IO, "out of memory updating the lookup index");
        b->data = b->heap;
        dbt_out(&data, b->heap, data.size);
        ret = st->db[DBI_INDEX]->get(st->db[DBI_INDEX], tid, &key, &data, DB_RMW);
    }
    if (ret == DB_NOTFOUND)
        return 0;
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, "reading the lookup index");
    if (data.size < 1 || b->data[0] != INDEX_VERSION || (data.size - 1) % 4 != 0)
        return sup_err_set(err, SUP_ERR_IO, "store %s: lookup.db bucket %u is damaged"
                           " (%u bytes, version %u)", st->env->dir, bucket, data.size,
                           data.size ? b->data[0] : 0);
    b->count = (data.size - 1) / 4;
    return 0;
}

static int bucket_write(STORE *st, DB_TXN *tid, uint32_t bucket, struct bucket *b, SUP_ERR *err)
{
    unsigned char kbuf[4];
    DBT key, data;
    int ret;

    put_be32(kbuf, bucket);
    dbt_in(&key, kbuf, 4);
    if (b->count == 0) {
        ret = st->db[DBI_INDEX]->del(st->db[DBI_INDEX], tid, &key, 0);
        if (ret == DB_NOTFOUND)
            ret = 0;
    } else {
        b->data[0] = INDEX_VERSION;
        dbt_in(&data, b->data, 1 + 4 * b->count);
        ret = st->db[DBI_INDEX]->put(st->db[DBI_INDEX], tid, &key, &data, 0);
    }
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, "writing the lookup index");
    return 0;
}

/* The position of the first fingerprint >= fp. */
static size_t bucket_find(const unsigned char *fps, size_t count, uint32_t fp)
{
    size_t lo = 0, hi = count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (get_be32(fps + 4 * mid) < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int bucket_insert(struct bucket *b, uint32_t fp, SUP_ERR *err)
{
    unsigned char *fps;
    size_t at;

    if (b->heap == NULL && 1 + 4 * (b->count + 1) > sizeof(b->stack)) {
        if ((b->heap = malloc(1 + 4 * (b->count + 1))) == NULL)
            return sup_err_set(err, SUP_ERR_IO, "out of memory updating the lookup index");
        memcpy(b->heap, b->stack, 1 + 4 * b->count);
        b->data = b->heap;
    }
    fps = b->data + 1;
    at = bucket_find(fps, b->count, fp);
    memmove(fps + 4 * (at + 1), fps + 4 * at, 4 * (b->count - at));
    put_be32(fps + 4 * at, fp);
    b->count++;
    return 0;
}

/* Remove one copy of fp; false when it was not there. */
static bool bucket_remove(struct bucket *b, uint32_t fp)
{
    unsigned char *fps = b->data + 1;
    size_t at = bucket_find(fps, b->count, fp);

    if (at == b->count || get_be32(fps + 4 * at) != fp)
        return false;
    memmove(fps + 4 * at, fps + 4 * (at + 1), 4 * (b->count - at - 1));
    b->count--;
    return true;
}

/* ---- slots ---------------------------------------------------------- */

static void slot_key(DBT *key, db_recno_t *recno, uint32_t bucket)
{
    *recno = (db_recno_t) bucket + 1;   /* queue record numbers start at 1 */
    memset(key, 0, sizeof(*key));
    key->data = recno;
    key->size = key->ulen = sizeof(*recno);
    key->flags = DB_DBT_USERMEM;
}

/* The slot of a bucket: its fingerprints' low halves, sorted, or "more". */
static void slot_encode(const unsigned char *fps, size_t count, unsigned char *slot)
{
    memset(slot, 0, SLOT_BYTES);
    if (count > SLOT_FPS) {
        slot[0] = SLOT_MORE;
        return;
    }
    slot[0] = SLOT_LIST;
    slot[1] = (unsigned char) count;
    for (size_t i = 0; i < count; i++) {
        uint16_t v = (uint16_t) get_be32(fps + 4 * i);
        size_t at = i;

        /* insertion sort: the low halves of sorted values are not sorted */
        while (at > 0 && get_be16(slot + 2 + 2 * (at - 1)) > v) {
            put_be16(slot + 2 + 2 * at, get_be16(slot + 2 + 2 * (at - 1)));
            at--;
        }
        put_be16(slot + 2 + 2 * at, v);
    }
}

static int slot_write(STORE *st, DB_TXN *tid, uint32_t bucket, const unsigned char *fps,
                      size_t count, SUP_ERR *err)
{
    unsigned char slot[SLOT_BYTES];
    db_recno_t recno;
    DBT key, data;
    int ret;

    if (st->db[DBI_SLOTS] == NULL)
        return 0;
    slot_encode(fps, count, slot);
    slot_key(&key, &recno, bucket);
    dbt_in(&data, slot, SLOT_BYTES);
    if ((ret = st->db[DBI_SLOTS]->put(st->db[DBI_SLOTS], tid, &key, &data, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "writing the lookup slots");
    return 0;
}

/* A new index has a new hash key: slots of an older one mean nothing. */
static int slots_clear(STORE *st, DB_TXN *tid, SUP_ERR *err)
{
    u_int32_t count;
    int ret;

    if (st->db[DBI_SLOTS] == NULL)
        return 0;
    if ((ret = st->db[DBI_SLOTS]->truncate(st->db[DBI_SLOTS], tid, &count, 0)) != 0)
        return store_bdb_fail(st->env, err, ret, "emptying the lookup slots");
    return 0;
}

static bool slot_has(const unsigned char *slot, uint32_t fp)
{
    uint16_t want = (uint16_t) fp;

    for (unsigned i = 0; i < slot[1]; i++) {
        uint16_t v = get_be16(slot + 2 + 2 * i);

        if (v >= want)
            return v == want;
    }
    return false;
}

/*
 * The RCPT path's read: bit 1 for fp, bit 2 for fp2 (when want2), or
 * SLOT_ASK_INDEX when the bucket is too full for its slot.
 */
#define SLOT_ASK_INDEX 4

static int slot_probe(STORE *st, DB_TXN *tid, uint32_t bucket, uint32_t fp, bool want2,
                      uint32_t fp2, SUP_ERR *err)
{
    unsigned char slot[SLOT_BYTES];
    db_recno_t recno;
    DBT key, data;
    int ret, rc;

    slot_key(&key, &recno, bucket);
    dbt_out(&data, slot, sizeof(slot));
    ret = st->db[DBI_SLOTS]->get(st->db[DBI_SLOTS], tid, &key, &data,
                                 tid == NULL ? DB_READ_UNCOMMITTED : 0);
    if (ret == DB_NOTFOUND || ret == DB_KEYEMPTY)
        return 0;               /* never written: an empty bucket */
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, "reading the lookup slots");
    if (data.size != SLOT_BYTES || (slot[0] != SLOT_LIST && slot[0] != SLOT_MORE)
        || slot[1] > SLOT_FPS)
        return sup_err_set(err, SUP_ERR_IO, "store %s: lookup-slots.db slot %u is damaged"
                           " (kind %u, count %u)", st->env->dir, bucket, slot[0], slot[1]);
    if (slot[0] == SLOT_MORE)
        return SLOT_ASK_INDEX;
    rc = slot_has(slot, fp) ? 1 : 0;
    if (want2 && slot_has(slot, fp2))
        rc |= 2;
    return rc;
}

/* ---- what store_entries.c and store_purge.c call -------------------- */

static int index_update(STORE *st, DB_TXN *tid, const char *addr, size_t len, bool add,
                        SUP_ERR *err)
{
    struct bucket *b;
    uint32_t bucket, fp;
    int rc;

    if ((b = malloc(sizeof(*b))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory updating the lookup index");
    index_slot(&st->index, addr, len, &bucket, &fp);
    rc = bucket_read(st, tid, bucket, b, err);
    if (rc == 0) {
        if (add)
            rc = bucket_insert(b, fp, err);
        else if (!bucket_remove(b, fp))
            goto out;           /* not indexed: nothing to undo */
    }
    if (rc == 0)
        rc = bucket_write(st, tid, bucket, b, err);
    if (rc == 0)
        rc = slot_write(st, tid, bucket, b->data + 1, b->count, err);
out:
    free(b->heap);
    free(b);
    return rc;
}

/*
 * A handle whose index is not ready is read-only (a writer's store_open
 * builds it), so it never writes: nothing to keep up.
 */
int store_index_add(STORE *st, DB_TXN *tid, const char *addr, size_t len, SUP_ERR *err)
{
    return st->index.ready ? index_update(st, tid, addr, len, true, err) : 0;
}

int store_index_remove(STORE *st, DB_TXN *tid, const char *addr, size_t len, SUP_ERR *err)
{
    return st->index.ready ? index_update(st, tid, addr, len, false, err) : 0;
}

/* One bucket read (from the cache, no allocation): 0 absent, 1 there,
 * 2 the index cannot say (a bucket too big for the stack). */
static int bucket_probe(STORE *st, DB_TXN *tid, uint32_t bucket, unsigned char *buf,
                        size_t *count, SUP_ERR *err)
{
    unsigned char kbuf[4];
    DBT key, data;
    int ret;

    put_be32(kbuf, bucket);
    dbt_in(&key, kbuf, 4);
    dbt_out(&data, buf, BUCKET_BUF);
    ret = st->db[DBI_INDEX]->get(st->db[DBI_INDEX], tid, &key, &data,
                                 tid == NULL ? DB_READ_UNCOMMITTED : 0);
    if (ret == DB_NOTFOUND)
        return 0;
    if (ret == DB_BUFFER_SMALL)
        return 2;               /* a huge bucket: let suppressions.db answer */
    if (ret != 0)
        return store_bdb_fail(st->env, err, ret, "reading the lookup index");
    if (data.size < 1 || buf[0] != INDEX_VERSION || (data.size - 1) % 4 != 0)
        return sup_err_set(err, SUP_ERR_IO, "store %s: lookup.db bucket %u is damaged",
                           st->env->dir, bucket);
    *count = (data.size - 1) / 4;
    return 1;
}

static bool bucket_has(const unsigned char *buf, size_t count, uint32_t fp)
{
    size_t at = bucket_find(buf + 1, count, fp);

    return at < count && get_be32(buf + 1 + 4 * at) == fp;
}

/*
 * The bucket of lookup.db, for a slot that says "more" or a store without
 * slots: its 8 KB buffer lives in this frame, not on the slots path.  The
 * milter's RCPT runs in a new libmilter thread per connection, and glibc
 * returns a finished thread's stack pages beyond its top 16 KB to the
 * kernel: every page deeper than that is a page fault in the next thread.
 * found gets 1 for fp, 2 for fp2 (when want2); returns what bucket_probe
 * does.
 */
static __attribute__((noinline)) int probe_bucket(STORE *st, DB_TXN *tid, uint32_t bucket,
                                                  uint32_t fp, bool want2, uint32_t fp2,
                                                  int *found, SUP_ERR *err)
{
    unsigned char buf[BUCKET_BUF];
    size_t count = 0;
    int rc;

    *found = 0;
    if ((rc = bucket_probe(st, tid, bucket, buf, &count, err)) != 1)
        return rc;
    *found = bucket_has(buf, count, fp) ? 1 : 0;
    if (want2 && bucket_has(buf, count, fp2))
        *found |= 2;
    return 1;
}

/* The RCPT path: one small read, from the cache, no allocation. */
int store_index_probe(STORE *st, DB_TXN *tid, const char *addr, SUP_ERR *err)
{
    uint32_t bucket, fp;
    int rc, found;

    if (!st->index.ready || st->db[DBI_INDEX] == NULL)
        return 1;
    index_slot(&st->index, addr, strlen(addr), &bucket, &fp);
    if (st->index.slots && (rc = slot_probe(st, tid, bucket, fp, false, 0, err)) != SLOT_ASK_INDEX)
        return rc;
    if ((rc = probe_bucket(st, tid, bucket, fp, false, 0, &found, err)) != 1)
        return rc == 2 ? 1 : rc;
    return found;
}

/* The RCPT path with a tenant: both keys share their address's bucket. */
int store_index_probe2(STORE *st, DB_TXN *tid, const char *global_key, const char *scoped_key,
                       SUP_ERR *err)
{
    uint32_t bucket, fp, scoped_fp;
    int rc, found;

    if (!st->index.ready || st->db[DBI_INDEX] == NULL)
        return 3;
    /* index_slot of both, with one hash of the address for the two: the
     * scoped key is in the global key's bucket. */
    index_slot(&st->index, global_key, strlen(global_key), &bucket, &fp);
    scoped_fp = (uint32_t) siphash24(st->index.key, scoped_key, strlen(scoped_key));
    if (st->index.slots
        && (rc = slot_probe(st, tid, bucket, fp, true, scoped_fp, err)) != SLOT_ASK_INDEX)
        return rc;
    if ((rc = probe_bucket(st, tid, bucket, fp, true, scoped_fp, &found, err)) != 1)
        return rc == 2 ? 3 : rc;
    return found;
}

/* ---- building ------------------------------------------------------- */

struct build_arg {
    struct index_meta meta;
    unsigned long indexed;
};

/* Index (and upgrade) the next batch of entries after the cursor, and move it on. */
static int build_batch(STORE *st, STORE_TXN *txn, void *argp, SUP_ERR *err)
{
    struct build_arg *arg = argp;
    struct index_meta *m = &arg->meta;
    DB_TXN *tid = txn->tid;
    unsigned char kbuf[KEY_MAX];
    DBC *c = NULL;
    DBT key, data;
    u_int32_t how;
    int ret, rc, n = 0;

    if ((rc = meta_read(st, tid, DB_RMW, m, err)) < 0)
        return -1;
    if (rc == 0 && (meta_new(st, m, err) < 0 || slots_clear(st, tid, err) < 0))
        return -1;
    if (m->state != INDEX_BUILDING)
        return 0;
    rc = 0;
    st->index.bits = m->bits;
    memcpy(st->index.key, m->key, sizeof(m->key));
    if (store_batch_cursor_open(st, tid, DBI_ENTRIES, m->cursor, m->cursor_len, &c, &key, &data,
                                kbuf, sizeof(kbuf), &how, err) < 0)
        return -1;
    for (ret = c->get(c, &key, &data, how); ret == 0 && n < INDEX_BUILD_BATCH;
         ret = c->get(c, &key, &data, DB_NEXT), n++)
        if ((rc = index_update(st, tid, (const char *) key.data, key.size, true, err)) < 0
            || (rc = store_entry_upgrade(st, c, &key, &data, err)) < 0)
            break;
    if (rc >= 0 && ret != 0 && ret != DB_NOTFOUND)
        rc = store_bdb_fail(st->env, err, ret, "reading suppressions.db to index it");
    free(data.data);
    if (rc >= 0 && ret == 0) {
        memcpy(m->cursor, key.data, key.size);      /* the first one not done */
        m->cursor_len = key.size;
    } else if (rc >= 0) {
        /* index_update filled the slots as it went, from empty */
        m->state = st->db[DBI_SLOTS] != NULL ? INDEX_SLOTS : INDEX_BUILT;
        m->cursor_len = 0;
    }
    (void) c->close(c);
    if (rc < 0)
        return -1;
    arg->indexed += (unsigned long) n;
    return meta_write(st, tid, m, err);
}

/*
 * A complete lookup.db without slots (a store of the release before):
 * copy the next batch of buckets into their slots and move the cursor
 * (the next bucket's key) on.  The meta record shares lookup.db; its key
 * is not 4 bytes long.
 */
static int fill_batch(STORE *st, STORE_TXN *txn, void *argp, SUP_ERR *err)
{
    struct build_arg *arg = argp;
    struct index_meta *m = &arg->meta;
    DB_TXN *tid = txn->tid;
    unsigned char kbuf[KEY_MAX];
    DBC *c = NULL;
    DBT key, data;
    u_int32_t how;
    int ret, rc = 0, n = 0;

    if ((rc = meta_read(st, tid, DB_RMW, m, err)) <= 0)
        return rc < 0 ? -1 : sup_err_set(err, SUP_ERR_IO, "store %s: lookup.db lost its meta"
                                         " record while its slots were filled", st->env->dir);
    if (m->state != INDEX_BUILT)
        return 0;
    rc = 0;
    if (store_batch_cursor_open(st, tid, DBI_INDEX, m->cursor, m->cursor_len, &c, &key, &data,
                                kbuf, sizeof(kbuf), &how, err) < 0)
        return -1;
    for (ret = c->get(c, &key, &data, how); ret == 0 && n < SLOT_FILL_BATCH;
         ret = c->get(c, &key, &data, DB_NEXT), n++) {
        const unsigned char *v = data.data;

        if (key.size != 4)
            continue;           /* the meta record */
        if (data.size < 1 || v[0] != INDEX_VERSION || (data.size - 1) % 4 != 0) {
            rc = sup_err_set(err, SUP_ERR_IO, "store %s: lookup.db bucket %u is damaged",
                             st->env->dir, get_be32(key.data));
            break;
        }
        if ((rc = slot_write(st, tid, get_be32(key.data), v + 1, (data.size - 1) / 4, err)) < 0)
            break;
    }
    if (rc >= 0 && ret != 0 && ret != DB_NOTFOUND)
        rc = store_bdb_fail(st->env, err, ret, "reading lookup.db to fill its slots");
    if (rc >= 0 && ret == 0) {
        memcpy(m->cursor, key.data, key.size);
        m->cursor_len = key.size;
    } else if (rc >= 0) {
        m->state = INDEX_SLOTS;
        m->cursor_len = 0;
    }
    free(data.data);
    (void) c->close(c);
    if (rc < 0)
        return -1;
    arg->indexed += (unsigned long) n;
    return meta_write(st, tid, m, err);
}

/* Read the meta record outside any transaction. */
static int op_meta(STORE *st, DB_TXN *tid, void *argp, SUP_ERR *err)
{
    return meta_read(st, tid, 0, argp, err);
}

int store_index_open(STORE *st, SUP_ERR *err)
{
    struct build_arg *arg;
    int rc;

    memset(&st->index, 0, sizeof(st->index));
    if (st->db[DBI_INDEX] == NULL)
        return 0;               /* read-only, on a store no writer opened since the upgrade */
    if ((arg = calloc(1, sizeof(*arg))) == NULL)
        return sup_err_set(err, SUP_ERR_IO, "out of memory opening the lookup index");
    rc = store_run_op(st, NULL, false, op_meta, &arg->meta, err);
    while (rc >= 0 && (rc == 0 || arg->meta.state == INDEX_BUILDING) && !(st->flags & STORE_RDONLY))
        rc = store_in_txn(st, build_batch, arg, AUTO_ATTEMPTS, err) < 0 ? -1 : 1;
    if (rc == 1 && arg->meta.state == INDEX_BUILT && st->db[DBI_SLOTS] != NULL) {
        st->index.ready = true;     /* fill_batch's slot_write needs the key */
        st->index.bits = arg->meta.bits;
        memcpy(st->index.key, arg->meta.key, sizeof(st->index.key));
    }
    while (rc == 1 && arg->meta.state == INDEX_BUILT && st->db[DBI_SLOTS] != NULL
           && !(st->flags & STORE_RDONLY))
        rc = store_in_txn(st, fill_batch, arg, AUTO_ATTEMPTS, err) < 0 ? -1 : 1;
    if (rc == 1 && arg->meta.state != INDEX_BUILDING) {
        st->index.bits = arg->meta.bits;
        memcpy(st->index.key, arg->meta.key, sizeof(st->index.key));
        st->index.ready = true;
        st->index.slots = arg->meta.state == INDEX_SLOTS && st->db[DBI_SLOTS] != NULL;
    }
    if (rc < 0)
        sup_err_prefix(err, "building the lookup index (lookup.db)");
    free(arg);
    return rc < 0 ? -1 : 0;
}
