/*
 * message_id.c: Message-ID header values reduced to the ledger's key
 * (message_id.h).  The milter sees the header as the client wrote it and
 * the ingest as the remote MTA returned it (maybe refolded): both must
 * come to the same key.
 */
#include "config.h"

#include <string.h>

#include "message_id.h"

bool message_id_clean(const char *raw, char *out, size_t outlen)
{
    size_t len;

    if (raw == NULL)
        return false;
    while (*raw == ' ' || *raw == '\t' || *raw == '\r' || *raw == '\n')
        raw++;
    if (*raw == '<')
        raw++;
    len = strcspn(raw, "> \t\r\n");
    if (len == 0 || len >= outlen)
        return false;
    memcpy(out, raw, len);
    out[len] = '\0';
    return true;
}
