/*
 * store_squeeze.h: the compression of a suppression's texts (source,
 * detail, status and the remote response), private to the store's record
 * code (store_record.c) and its tests.
 *
 * Texts are a few dozen bytes each: a general compressor gains nothing on
 * them alone.  With a preset dictionary of what bounce responses and our
 * own fields say (zlib's raw deflate, deflateSetDictionary) they shrink to
 * a fraction, because most of a response is a vendor's standard wording.
 * The dictionary is part of the on-disk format: dictionary 1 never
 * changes (tests/unit/check_store_record.c checks its CRC); a better one
 * would be dictionary 2, beside it.
 */
#ifndef STORE_SQUEEZE_H
#define STORE_SQUEEZE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_SQUEEZE_DICT 1    /* the dictionary store_squeeze uses */

/*
 * Deflate in[0..len) into out (cap bytes) with dictionary 1: 0 with
 * *outlen, 1 when the result would not be smaller than the input (store it
 * raw), -1 if zlib failed (out of memory).
 */
int store_squeeze(const unsigned char *in, size_t len, unsigned char *out, size_t cap,
                  size_t *outlen);

/* Inflate with dictionary `dict`: 0 with *outlen, -1 if the data is
 * damaged, uses an unknown dictionary, or inflates beyond cap. */
int store_unsqueeze(unsigned dict, const unsigned char *in, size_t len, unsigned char *out,
                    size_t cap, size_t *outlen);

/* The dictionary's bytes and length (for the format test). */
const unsigned char *store_squeeze_dictionary(unsigned dict, size_t *len);

#endif
