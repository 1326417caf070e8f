/*
 * store_record.h: the on-disk encoding of suppression entries and timeline
 * events, private to the store (store_entries.c, store_timeline.c) and its tests.
 *
 * Suppression entries are written in a compact version 2 (varints and
 * deflated texts: see store_record.c).  Events, and the entries that
 * releases before it wrote, are version 1: one version byte (STORE_RECORD_VERSION) followed by fields,
 * each one tag byte, a big-endian 16-bit length and that many bytes:
 *
 *     version | tag len(2) value | tag len(2) value | ...
 *
 * Strings are stored without NUL; integers big-endian, u32 in 4 bytes,
 * times as signed 64-bit in 8 bytes.  A reader skips tags it does not
 * know, so a later release can add fields without a format change; the
 * version byte changes only when an existing field changes meaning.  The
 * address and the event time are not in the value: they are the key.
 */
#ifndef STORE_RECORD_H
#define STORE_RECORD_H

#include <stddef.h>
#include "store.h"

#define STORE_RECORD_VERSION 1
/* Suppression entries are written in their own compact version 2
 * (described in store_record.c); version 1 entries are still read. */
#define STORE_ENTRY_VERSION 2

/* Every record this release writes fits in this many bytes. */
#define STORE_RECORD_MAX 8192

/* Field tags of an entry (tags are per record kind; never reuse a number). */
enum store_entry_tag {
    STORE_ENTRY_TAG_REASON = 1,     /* u32 */
    STORE_ENTRY_TAG_SOURCE = 2,     /* string */
    STORE_ENTRY_TAG_DETAIL = 3,     /* string */
    STORE_ENTRY_TAG_STATUS = 4,     /* string */
    STORE_ENTRY_TAG_FIRST = 5,      /* time */
    STORE_ENTRY_TAG_LAST = 6,       /* time */
    STORE_ENTRY_TAG_EXPIRES = 7,    /* time */
    STORE_ENTRY_TAG_COUNT = 8,      /* u32 */
    STORE_ENTRY_TAG_RESPONSE = 9,   /* string */
};

/* Field tags of an event. */
enum store_event_tag {
    STORE_EVENT_TAG_TYPE = 1,       /* u32 */
    STORE_EVENT_TAG_REASON = 2,     /* string */
    STORE_EVENT_TAG_STATUS = 3,     /* string */
    STORE_EVENT_TAG_ACTOR = 4,      /* string */
    STORE_EVENT_TAG_DETAIL = 5,     /* string */
    STORE_EVENT_TAG_RESPONSE = 6,   /* string */
    STORE_EVENT_TAG_VERIFIED = 7,   /* string */
    STORE_EVENT_TAG_VIA = 8,        /* string; absent in older rejections (= milter) */
    STORE_EVENT_TAG_TENANT = 9,     /* string; absent = no tenant (and before tenants) */
};

/*
 * Encode into buf (buflen bytes, STORE_RECORD_MAX is always enough); *len
 * is the encoded size.  A string field that is not NUL-terminated within
 * its array is an error (SUP_ERR_INPUT naming the field and address).
 */
int store_record_encode_entry(const STORE_ENTRY *entry, unsigned char *buf, size_t buflen,
                              size_t *len, SUP_ERR *err);
int store_record_encode_event(const STORE_EVENT *event, unsigned char *buf, size_t buflen,
                              size_t *len, SUP_ERR *err);

/* A suppression in version 1, as releases before the lookup index wrote
 * it: kept for the tests of reading and upgrading such stores. */
int store_record_encode_entry_v1(const STORE_ENTRY *entry, unsigned char *buf, size_t buflen,
                                 size_t *len, SUP_ERR *err);

/*
 * Decode; fields absent from the record are left empty/zero, the address
 * (and the event time) are not touched.  An entry's address must be set
 * before: a version 2 record's response mentions it by reference.  An unknown version, a truncated
 * field, a bad integer length, a NUL inside a string or a missing reason
 * (type) is an error (SUP_ERR_IO: the store is damaged) naming the problem.
 */
int store_record_decode_entry(const unsigned char *buf, size_t len, STORE_ENTRY *entry,
                              SUP_ERR *err);
int store_record_decode_event(const unsigned char *buf, size_t len, STORE_EVENT *event,
                              SUP_ERR *err);

/* Copy srclen bytes into dst (dstlen bytes with the NUL), cutting at a
 * UTF-8 character boundary when it does not fit. */
void store_copy_bytes(char *dst, size_t dstlen, const char *src, size_t srclen);

#endif
