/*
 * message_id.h: a Message-ID header value as the ledger of sent mail keys
 * it, for the milter (which records it) and suppress-ingest (which finds
 * it in a report): without white space and the angle brackets, case kept.
 */
#ifndef MESSAGE_ID_H
#define MESSAGE_ID_H

#include <stdbool.h>
#include <stddef.h>

/* " <id@host> (comment)" -> "id@host"; false when nothing usable is left
 * or it does not fit in outlen (the caller's buffer, NUL included). */
bool message_id_clean(const char *raw, char *out, size_t outlen);

#endif
