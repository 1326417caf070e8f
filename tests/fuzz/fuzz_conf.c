/*
 * fuzz_conf.c: libFuzzer harness for the config parser: the input as a
 * config file through conf_load() (libconfuse, then our validators and
 * the checks across keys), as every program loads it.  The input goes to
 * one temporary file, rewritten for each run: conf_load() reads a path.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

static char path[] = "/tmp/fuzz-conf-XXXXXX";

static void remove_file(void)
{
    unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    int fd = mkstemp(path);

    (void) argc;
    (void) argv;
    if (fd < 0)
        abort();
    close(fd);
    atexit(remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sup_config *cfg = NULL;
    FILE *fp = fopen(path, "w");
    SUP_ERR err;

    if (fp == NULL)
        abort();
    if (fwrite(data, 1, size, fp) != size || fclose(fp) != 0)
        abort();
    if (conf_load(path, false, &cfg, &err) == 0) {
        /* What the programs ask of a loaded config. */
        (void) conf_never_suppresses(cfg, "hard-bounce");
        (void) conf_signs_domain(cfg, "example.org");
        conf_free(cfg);
    }
    return 0;
}
