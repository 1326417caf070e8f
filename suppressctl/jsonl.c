/*
 * jsonl.c: a strict parser for one flat JSON object per line (see
 * jsonl.h), used by suppressctl import.  RFC 8259 strings (escapes,
 * \uXXXX with surrogate pairs, written out as UTF-8) and numbers; nothing
 * nested, since no suppression field needs it.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"

struct parser {
    const char *start;
    const char *p;
    SUP_ERR *err;
};

/* A growing string for unescaped text. */
struct text {
    char *s;
    size_t len;
    size_t size;
};

static int fail(struct parser *ps, const char *what)
{
    return sup_err_set(ps->err, SUP_ERR_INPUT, "column %ld: %s",
                       (long) (ps->p - ps->start) + 1, what);
}

static void skip_space(struct parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r' || *ps->p == '\n')
        ps->p++;
}

static int text_add(struct text *t, const char *bytes, size_t n)
{
    char *grown;
    size_t size;

    if (t->len + n + 1 > t->size) {
        size = t->size ? t->size : 64;
        while (size < t->len + n + 1)
            size *= 2;
        if ((grown = realloc(t->s, size)) == NULL)
            return -1;
        t->s = grown;
        t->size = size;
    }
    memcpy(t->s + t->len, bytes, n);
    t->len += n;
    t->s[t->len] = '\0';
    return 0;
}

static int hex4(const char *p, unsigned *value)
{
    unsigned v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        if (!isxdigit((unsigned char) p[i]))
            return -1;
        v = v * 16 + (unsigned) (isdigit((unsigned char) p[i]) ? p[i] - '0'
                                 : tolower((unsigned char) p[i]) - 'a' + 10);
    }
    *value = v;
    return 0;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char) (0xC0 | (cp >> 6));
        out[1] = (char) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char) (0xE0 | (cp >> 12));
        out[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char) (0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char) (0xF0 | (cp >> 18));
    out[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char) (0x80 | (cp & 0x3F));
    return 4;
}

/* \uXXXX at ps->p (after the backslash and u), a surrogate pair included. */
static int parse_unicode_escape(struct parser *ps, struct text *t)
{
    unsigned hi, lo;
    uint32_t cp;
    char utf8[4];

    if (hex4(ps->p, &hi) < 0)
        return fail(ps, "\\u needs four hex digits");
    ps->p += 4;
    cp = hi;
    if (hi >= 0xD800 && hi <= 0xDBFF) {
        if (ps->p[0] != '\\' || ps->p[1] != 'u' || hex4(ps->p + 2, &lo) < 0
            || lo < 0xDC00 || lo > 0xDFFF)
            return fail(ps, "unpaired UTF-16 surrogate in \\u escape");
        ps->p += 6;
        cp = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
    } else if (hi >= 0xDC00 && hi <= 0xDFFF) {
        return fail(ps, "unpaired UTF-16 surrogate in \\u escape");
    }
    if (cp == 0)
        return fail(ps, "\\u0000 (NUL) in a string");
    if (text_add(t, utf8, utf8_encode(cp, utf8)) < 0)
        return fail(ps, "out of memory");
    return 0;
}

/* A string at ps->p (its opening quote); the unescaped text into *out. */
static int parse_string(struct parser *ps, char **out)
{
    struct text t = {0};
    const char *run;
    char c;

    ps->p++;
    if (text_add(&t, "", 0) < 0)
        return fail(ps, "out of memory");
    for (;;) {
        for (run = ps->p; *ps->p != '"' && *ps->p != '\\' && (unsigned char) *ps->p >= 0x20;)
            ps->p++;
        if (text_add(&t, run, (size_t) (ps->p - run)) < 0)
            goto nomem;
        if (*ps->p == '"')
            break;
        if (*ps->p == '\0') {
            fail(ps, "string not closed before the end of the line");
            goto bad;
        }
        if (*ps->p != '\\') {
            fail(ps, "control character in a string (escape it)");
            goto bad;
        }
        ps->p++;
        c = *ps->p++;
        switch (c) {
        case '"': case '\\': case '/':
            break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u':
            if (parse_unicode_escape(ps, &t) < 0)
                goto bad;
            continue;
        default:
            ps->p--;
            fail(ps, "unknown escape in a string");
            goto bad;
        }
        if (text_add(&t, &c, 1) < 0)
            goto nomem;
    }
    ps->p++;
    *out = t.s;
    return 0;

nomem:
    fail(ps, "out of memory");
bad:
    free(t.s);
    return -1;
}

/* A number per RFC 8259, kept as its text. */
static int parse_number(struct parser *ps, char **out)
{
    const char *start = ps->p;

    if (*ps->p == '-')
        ps->p++;
    if (*ps->p == '0')
        ps->p++;
    else if (isdigit((unsigned char) *ps->p))
        while (isdigit((unsigned char) *ps->p))
            ps->p++;
    else
        return fail(ps, "bad number");
    if (*ps->p == '.') {
        ps->p++;
        if (!isdigit((unsigned char) *ps->p))
            return fail(ps, "bad number: digits must follow the point");
        while (isdigit((unsigned char) *ps->p))
            ps->p++;
    }
    if (*ps->p == 'e' || *ps->p == 'E') {
        ps->p++;
        if (*ps->p == '+' || *ps->p == '-')
            ps->p++;
        if (!isdigit((unsigned char) *ps->p))
            return fail(ps, "bad number: digits must follow the exponent");
        while (isdigit((unsigned char) *ps->p))
            ps->p++;
    }
    if ((*out = strndup(start, (size_t) (ps->p - start))) == NULL)
        return fail(ps, "out of memory");
    return 0;
}

static int parse_literal(struct parser *ps, const char *word)
{
    size_t n = strlen(word);

    if (strncmp(ps->p, word, n) != 0)
        return fail(ps, "expected a string, number, true, false or null");
    ps->p += n;
    return 0;
}

static int parse_value(struct parser *ps, struct jsonl_member *m)
{
    const char *word;

    m->value = NULL;
    switch (*ps->p) {
    case '"':
        m->type = JSONL_STRING;
        return parse_string(ps, &m->value);
    case 't':
    case 'f':
        word = *ps->p == 't' ? "true" : "false";
        m->type = JSONL_BOOL;
        if (parse_literal(ps, word) < 0)
            return -1;
        if ((m->value = strdup(word)) == NULL)
            return fail(ps, "out of memory");
        return 0;
    case 'n':
        m->type = JSONL_NULL;
        return parse_literal(ps, "null");
    case '{':
    case '[':
        return fail(ps, "nested objects and arrays are not allowed here");
    default:
        m->type = JSONL_NUMBER;
        return parse_number(ps, &m->value);
    }
}

static int add_member(struct parser *ps, JSONL_OBJECT *obj, char *key)
{
    struct jsonl_member *grown;
    size_t alloc;

    if (jsonl_get(obj, key) != NULL) {
        sup_err_set(ps->err, SUP_ERR_INPUT, "column %ld: key \"%s\" given twice",
                    (long) (ps->p - ps->start), key);
        free(key);
        return -1;
    }
    if (obj->count == obj->alloc) {
        alloc = obj->alloc ? obj->alloc * 2 : 16;
        if ((grown = realloc(obj->members, alloc * sizeof(*grown))) == NULL) {
            free(key);
            return fail(ps, "out of memory");
        }
        obj->members = grown;
        obj->alloc = alloc;
    }
    obj->members[obj->count].key = key;
    if (parse_value(ps, &obj->members[obj->count]) < 0) {
        free(key);
        return -1;
    }
    obj->count++;
    return 0;
}

int jsonl_parse(const char *line, JSONL_OBJECT *obj, SUP_ERR *err)
{
    struct parser ps = {.start = line, .p = line, .err = err};
    char *key;

    jsonl_clear(obj);
    skip_space(&ps);
    if (*ps.p != '{')
        return fail(&ps, "expected an object ({...}) on each line");
    ps.p++;
    skip_space(&ps);
    if (*ps.p == '}') {
        ps.p++;
        goto end;
    }
    for (;;) {
        skip_space(&ps);
        if (*ps.p != '"')
            return fail(&ps, "expected a key in double quotes");
        if (parse_string(&ps, &key) < 0)
            return -1;
        skip_space(&ps);
        if (*ps.p != ':') {
            free(key);
            return fail(&ps, "expected ':' after the key");
        }
        ps.p++;
        skip_space(&ps);
        if (add_member(&ps, obj, key) < 0)
            return -1;
        skip_space(&ps);
        if (*ps.p == '}') {
            ps.p++;
            break;
        }
        if (*ps.p != ',')
            return fail(&ps, "expected ',' or '}'");
        ps.p++;
    }
end:
    skip_space(&ps);
    if (*ps.p != '\0')
        return fail(&ps, "text after the object (one object per line)");
    return 0;
}

const struct jsonl_member *jsonl_get(const JSONL_OBJECT *obj, const char *key)
{
    size_t i;

    for (i = 0; i < obj->count; i++)
        if (strcmp(obj->members[i].key, key) == 0)
            return &obj->members[i];
    return NULL;
}

void jsonl_clear(JSONL_OBJECT *obj)
{
    size_t i;

    for (i = 0; i < obj->count; i++) {
        free(obj->members[i].key);
        free(obj->members[i].value);
    }
    obj->count = 0;
}

void jsonl_free(JSONL_OBJECT *obj)
{
    jsonl_clear(obj);
    free(obj->members);
    obj->members = NULL;
    obj->alloc = 0;
}
