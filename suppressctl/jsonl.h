/*
 * jsonl.h: parsing one line of JSON lines input into a flat object, for
 * suppressctl import (the format `export --json` writes).
 *
 * Only what a suppression row needs: an object whose values are strings,
 * numbers, true/false or null.  Nested objects and arrays, duplicate keys
 * and trailing text are errors that say where the line went wrong.
 */
#ifndef JSONL_H
#define JSONL_H

#include <stdbool.h>
#include <stddef.h>
#include "sup_err.h"

enum jsonl_type { JSONL_STRING, JSONL_NUMBER, JSONL_BOOL, JSONL_NULL };

struct jsonl_member {
    char *key;                  /* UTF-8, unescaped */
    char *value;                /* unescaped string, number text, "true"/"false"; NULL for null */
    enum jsonl_type type;
};

typedef struct jsonl_object {
    struct jsonl_member *members;
    size_t count;
    size_t alloc;
} JSONL_OBJECT;

/* Parse line (without its newline) into obj, which is emptied first.
 * Returns 0, or -1 with err (SUP_ERR_INPUT) "column N: what is wrong". */
int jsonl_parse(const char *line, JSONL_OBJECT *obj, SUP_ERR *err);
/* The member named key, or NULL. */
const struct jsonl_member *jsonl_get(const JSONL_OBJECT *obj, const char *key);
/* Empty obj for the next line (keeps its array). */
void jsonl_clear(JSONL_OBJECT *obj);
/* Free everything obj holds. */
void jsonl_free(JSONL_OBJECT *obj);

#endif
