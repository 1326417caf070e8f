/*
 * json.h: the little JSON writing the programs need (--json outputs):
 * a string escaper and helpers for "key": value pairs.  Writes UTF-8 as
 * is, escapes control characters and invalid UTF-8 bytes as \uXXXX.
 */
#ifndef JSON_H
#define JSON_H

#include <stdbool.h>
#include <stdio.h>

/* Write s as a JSON string, quotes included; NULL is written as null. */
void json_string(FILE *fp, const char *s);
/* Write `"key": "value"` (value may be NULL -> null), preceded by ", " unless first. */
void json_kv_str(FILE *fp, bool *first, const char *key, const char *value);
void json_kv_int(FILE *fp, bool *first, const char *key, long long value);
void json_kv_bool(FILE *fp, bool *first, const char *key, bool value);

#endif
