/*
 * fuzz_addr.c: libFuzzer harness for address normalization
 * (libsuppress/addr.c), the store's key.  Besides not crashing, a
 * normalized address must be a fixed point: normalizing it again gives
 * the same address (else one address would be two keys); the harness
 * aborts when it is not.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_strndup(data, size);
    char once[ADDR_MAX + 1], twice[ADDR_MAX + 1];
    SUP_ERR err;

    if (in == NULL)
        return 0;
    if (addr_normalize(in, once, sizeof(once), &err) == 0) {
        if (strlen(once) > ADDR_MAX || addr_domain(once) == NULL)
            abort();
        if (addr_normalize(once, twice, sizeof(twice), &err) < 0) {
            fprintf(stderr, "fuzz_addr: \"%s\" normalized to \"%s\", which is refused: %s\n",
                    in, once, err.text);
            abort();
        }
        if (strcmp(once, twice) != 0) {
            fprintf(stderr, "fuzz_addr: \"%s\" -> \"%s\" -> \"%s\"\n", in, once, twice);
            abort();
        }
    }
    free(in);
    return 0;
}
