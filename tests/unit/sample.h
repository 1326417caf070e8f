/*
 * sample.h: hand-made sample messages of the classifier's unit tests
 * (tests/unit/data/DIR/NAME), read or parsed, or the test fails.
 */
#ifndef SAMPLE_H
#define SAMPLE_H

#include <stddef.h>

#include "bounce.h"

/* The bytes of data/dir/name, NUL-terminated; the caller free()s them. */
char *sample_read(const char *dir, const char *name, size_t *len);

/* data/dir/name through message_parse(), with no limits; envelope_recipient
 * may be NULL.  The caller message_free()s msg. */
void sample_parse(const char *dir, const char *name, const char *envelope_recipient,
                  BOUNCE_MSG *msg);

/* A message given as a string, parsed the same way ("inline" its path). */
void sample_parse_string(const char *raw, BOUNCE_MSG *msg);

#endif
