/*
 * replay.c: the main() that links with one harness in the normal build
 * (gcc, no libFuzzer): runs its LLVMFuzzerTestOneInput() once over each
 * file named on the command line, or over each regular file of a
 * directory named there (in name order).  make check runs it over the
 * harness's seeds and regressions (test-replay.sh); a crash, a sanitizer
 * report or an abort() in the harness fails the test.
 *
 *   replay-HARNESS FILE|DIR...
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t size = 0, alloc = 0, n;

    if (fp == NULL) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    do {
        if (alloc - size < 65536) {
            uint8_t *bigger = realloc(data, alloc = alloc * 2 + 65536);

            if (bigger == NULL) {
                fprintf(stderr, "replay: %s: out of memory\n", path);
                free(data);
                fclose(fp);
                return -1;
            }
            data = bigger;
        }
        n = fread(data + size, 1, alloc - size, fp);
        size += n;
    } while (n > 0);
    if (ferror(fp)) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(data);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    /* libFuzzer's inputs are exactly size bytes: so is this copy, so that
     * AddressSanitizer catches a read past the end here too. */
    uint8_t *exact = malloc(size ? size : 1);

    if (exact == NULL) {
        free(data);
        return -1;
    }
    memcpy(exact, data, size);
    free(data);
    LLVMFuzzerTestOneInput(exact, size);
    free(exact);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int replay_dir(const char *dir, unsigned long *count)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name), rc = 0;

    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;

        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (names[i]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            if (replay_file(path) < 0)
                rc = -1;
            else
                (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    unsigned long count = 0;
    int rc = 0;
    struct stat sb;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            if (replay_dir(argv[i], &count) < 0)
                rc = 1;
        } else if (replay_file(argv[i]) < 0) {
            rc = 1;
        } else {
            count++;
        }
    }
    printf("%s: replayed %lu inputs\n", argv[0], count);
    return rc;
}
