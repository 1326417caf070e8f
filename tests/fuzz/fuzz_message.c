/*
 * fuzz_message.c: libFuzzer harness for the ingest's whole per-message
 * path without the store: one raw message through ingest_message() in
 * dry-run mode (parse -> detect -> classify -> trust evidence -> the JSON
 * lines output), with the default configuration and its limits, as
 * `suppress-ingest --dry-run --json` runs it.
 *
 * Seeds: tests/fuzz/seeds/message/, tests/corpus/ (by path), and the big
 * cases gen-seeds.sh writes at run time.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <gmime/gmime.h>

#include "conf.h"
#include "fuzz.h"
#include "ingest.h"
#include "log.h"
#include "parse/message.h"

static struct sup_config *cfg;
static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    g_mime_init();
    cfg = fuzz_default_config();
    /* A VERP pattern, so that its decoding of the envelope recipient runs too. */
    message_set_verp_pattern("bounces+%{local}=%{domain}@fuzz.example");
    sink = fopen("/dev/null", "w");
    if (sink == NULL)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    INGEST_CTX ctx = {
        .cfg = cfg,
        .store = NULL,
        .dry_run = true,
        .json = true,
        .out = sink,
        .envelope_recipient = NULL,
        .trust = cfg->ingest.trust,
        .keys = NULL,
    };
    enum ingest_outcome outcome;
    SUP_ERR err;

    sup_err_clear(&err);
    (void) ingest_message(&ctx, "fuzz", (const char *) data, size, &outcome, &err);
    return 0;
}
