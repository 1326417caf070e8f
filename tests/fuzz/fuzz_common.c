/*
 * fuzz_common.c: the helpers the harnesses share (fuzz.h): input as a
 * string, the default configuration.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fuzz.h"

char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s != NULL) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

struct sup_config *fuzz_default_config(void)
{
    struct sup_config *cfg;
    SUP_ERR err;

    /* A path that cannot exist: every key at its documented default. */
    if (conf_load("/nonexistent/milter-suppress-fuzz.conf", true, &cfg, &err) < 0) {
        fprintf(stderr, "fuzz: default config: %s\n", err.text);
        abort();
    }
    return cfg;
}
