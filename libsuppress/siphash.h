/*
 * siphash.h: SipHash-2-4 (Aumasson and Bernstein, 2012), a keyed 64-bit
 * hash of short strings.  The store's lookup index (store_index.c) files
 * addresses under it: keyed with a secret of the store's own, nobody can
 * choose addresses that pile up in one place of the index.
 */
#ifndef SIPHASH_H
#define SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_BYTES 16

uint64_t siphash24(const unsigned char key[SIPHASH_KEY_BYTES], const void *data, size_t len);

#endif
