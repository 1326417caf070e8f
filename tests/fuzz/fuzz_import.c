/*
 * fuzz_import.c: libFuzzer harness for suppressctl import's reader
 * (suppressctl/import_rows.c over csv.c and jsonl.c): the input as an
 * import file, format told by its first character as import does, every
 * row checked and converted; the rows are counted, not stored.  Bad rows
 * are reported to /dev/null.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "ctl.h"
#include "fuzz.h"
#include "import_rows.h"

static struct ctl ctl;
static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    ctl.progname = "suppressctl";
    ctl.cfg = fuzz_default_config();
    ctl.actor = "fuzz";
    ctl.now = 1796000000;       /* a fixed clock: the same input, the same run */
    if ((sink = fopen("/dev/null", "w")) == NULL)
        abort();
    return 0;
}

static int count_row(void *ctx, const struct import_row *row, SUP_ERR *err)
{
    (void) err;
    /* What import would store must be a terminated, normalized address. */
    if (memchr(row->entry.address, '\0', sizeof(row->entry.address)) == NULL
        || strchr(row->entry.address, '@') == NULL)
        abort();
    (*(unsigned long *) ctx)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned long rows = 0;
    IMPORT_READER reader = {
        .ctl = &ctl, .name = "fuzz", .diag = sink, .take = count_row, .take_ctx = &rows,
    };
    FILE *fp;
    SUP_ERR err;
    long first_line;
    int c;

    if (size == 0)
        return 0;               /* fmemopen() refuses an empty buffer */
    if ((fp = fmemopen((void *) data, size, "r")) == NULL)
        abort();
    sup_err_clear(&err);
    if ((c = import_sniff_format(fp, &first_line)) != EOF)
        (void) import_read_rows(&reader, fp, c, first_line, &err);
    fclose(fp);
    return 0;
}
