/*
 * fuzz.h: what every harness of tests/fuzz/ offers, the libFuzzer entry
 * points.  Under clang's libFuzzer (./quickstart fuzz, build-fuzz/) the
 * fuzzer calls them; in the normal build replay.c's main() calls them
 * over the seeds and the regression files (make check), so a crash found
 * once stays fixed on any machine and compiler.
 *
 * Each harness defines both: LLVMFuzzerInitialize() sets up once what the
 * real program sets up once (GMime, a default config), and
 * LLVMFuzzerTestOneInput() runs one input through the real code, frees
 * all it allocated, and returns 0.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as a NUL-terminated string (malloc'd; NULL when out of memory);
 * an embedded NUL ends the string early, as it would in the program. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* A default configuration, as the programs load it when no config file
 * exists; aborts if that fails (a harness cannot run without it). */
struct sup_config *fuzz_default_config(void);

#endif
