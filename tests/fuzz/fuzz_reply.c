/*
 * fuzz_reply.c: libFuzzer harness for the milter's reply templating
 * (milter/reply.c): the input is "TEMPLATE\0RECIPIENT\0REASON\0SCOPE" (missing
 * parts empty), checked as the config loader checks milter.reject-text
 * and expanded as the RCPT callback expands it.  The result must keep
 * reply.h's promises: within REPLY_TEXT_MAX visible characters, no CR or
 * LF, only printable ASCII; the harness aborts when it does not.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "reply.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    return 0;
}

/* The next NUL-separated part of data[*pos..size), as a string. */
static char *next_part(const uint8_t *data, size_t size, size_t *pos)
{
    const uint8_t *start = data + *pos;
    const uint8_t *nul = *pos < size ? memchr(start, '\0', size - *pos) : NULL;
    size_t len = nul ? (size_t) (nul - start) : size - *pos;

    *pos += len + (nul ? 1 : 0);
    return fuzz_strndup(start, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pos = 0;
    char *tmpl = next_part(data, size, &pos);
    char *recipient = next_part(data, size, &pos);
    char *reason = next_part(data, size, &pos);
    char *scope = next_part(data, size, &pos);     /* absent: the global scope */
    char out[REPLY_BUF_SIZE], visible[REPLY_BUF_SIZE];
    SUP_ERR err;

    if (tmpl != NULL && recipient != NULL && reason != NULL) {
        struct reply_vars vars = { recipient, reason, (time_t) (size * 86400), scope };
        size_t n;

        (void) reply_check_template(tmpl, &err);
        n = reply_expand(tmpl, &vars, out, sizeof(out));
        reply_visible(out, visible, sizeof(visible));
        if (n > REPLY_TEXT_MAX || strlen(visible) > REPLY_TEXT_MAX)
            abort();
        for (const char *p = out; *p != '\0'; p++)
            if (*p < ' ' || *p > '~')
                abort();
    }
    free(tmpl);
    free(recipient);
    free(reason);
    free(scope);
    return 0;
}
