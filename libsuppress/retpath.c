/*
 * retpath.c: signing and verifying return paths (retpath.h), for the
 * milter (signs at end of message), suppress-ingest (verifies the address
 * a bounce came to) and suppressctl (rotate-key).
 *
 * The MAC is GLib's GHmac (HMAC-SHA256): no crypto of our own.  Its input
 * is "verp" or "prvs", the normalized address and the three-digit day,
 * NUL-separated, so a VERP tag can never pass for a prvs one.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "retpath.h"

#define SECONDS_PER_DAY 86400
#define DAY_DIGITS 3
#define KEY_LINE_MAX 256
#define VERP_TAG_LEN (1 + RETPATH_VERP_MAC_DIGITS)              /* K + MAC */
#define PRVS_TAG_LEN (1 + DAY_DIGITS + RETPATH_PRVS_MAC_DIGITS) /* K DDD MAC */
#define PRVS_PREFIX "prvs="

/* ---- keys ----------------------------------------------------------- */

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "ID HEX-SECRET" -> key; -1 if the line is not one. */
static int parse_key_line(const char *line, RETPATH_KEY *key)
{
    const char *hex;

    if (!isdigit((unsigned char) line[0]) || line[1] != ' ')
        return -1;
    key->id = line[0] - '0';
    hex = line + 2;
    for (int i = 0; i < RETPATH_SECRET_BYTES; i++) {
        int hi = hex_value((unsigned char) hex[2 * i]), lo;

        if (hi < 0 || (lo = hex_value((unsigned char) hex[2 * i + 1])) < 0)
            return -1;
        key->secret[i] = (unsigned char) (hi << 4 | lo);
    }
    hex += 2 * RETPATH_SECRET_BYTES;
    while (*hex == ' ' || *hex == '\t' || *hex == '\r' || *hex == '\n')
        hex++;
    return *hex == '\0' ? 0 : -1;
}

int retpath_keys_load(const char *path, RETPATH_KEYS *keys, SUP_ERR *err)
{
    char line[KEY_LINE_MAX];
    int lineno = 0;
    FILE *fp;

    memset(keys, 0, sizeof(*keys));
    if ((fp = fopen(path, "r")) == NULL)
        return sup_err_set(err, errno == ENOENT ? SUP_ERR_NOTFOUND
                           : errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                           "signing key file %s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), fp) != NULL) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (keys->count == 2 || parse_key_line(line, &keys->key[keys->count]) < 0) {
            fclose(fp);
            memset(keys, 0, sizeof(*keys));
            return sup_err_set(err, SUP_ERR_CONFIG,
                               "signing key file %s:%d: %s", path, lineno, keys->count == 2
                               ? "more than two keys" : "not \"DIGIT HEX\" with a 64-digit secret");
        }
        keys->count++;
    }
    fclose(fp);
    if (keys->count == 0)
        return sup_err_set(err, SUP_ERR_CONFIG, "signing key file %s holds no key", path);
    return 0;
}

static int random_key(int id, RETPATH_KEY *key, SUP_ERR *err)
{
    key->id = id;
    if (getrandom(key->secret, sizeof(key->secret), 0) != (ssize_t) sizeof(key->secret))
        return sup_err_set(err, SUP_ERR_IO, "cannot read random bytes for a signing key: %s",
                           strerror(errno));
    return 0;
}

static int write_keys(int fd, const RETPATH_KEYS *keys)
{
    char text[KEY_LINE_MAX * 2 + 128];
    size_t len = 0;

    len += (size_t) snprintf(text, sizeof(text),
                             "# milter-suppress return-path signing keys: the first signs.\n");
    for (int k = 0; k < keys->count; k++) {
        len += (size_t) snprintf(text + len, sizeof(text) - len, "%d ", keys->key[k].id);
        for (int i = 0; i < RETPATH_SECRET_BYTES; i++)
            len += (size_t) snprintf(text + len, sizeof(text) - len, "%02x",
                                     keys->key[k].secret[i]);
        text[len++] = '\n';
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, text + off, len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t) n;
    }
    return fsync(fd);
}

int retpath_keys_load_or_create(const char *path, RETPATH_KEYS *keys, SUP_ERR *err)
{
    SUP_ERR load_err;
    int fd;

    if (retpath_keys_load(path, keys, &load_err) == 0)
        return 0;
    if (load_err.cls != SUP_ERR_NOTFOUND) {
        if (err != NULL)
            *err = load_err;
        return -1;
    }
    if (random_key(1, &keys->key[0], err) < 0)
        return -1;
    keys->count = 1;
    /* O_EXCL: if another process made it meanwhile, use that one. */
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0) {
        if (errno == EEXIST)
            return retpath_keys_load(path, keys, err);
        return sup_err_set(err, errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                           "cannot create signing key file %s: %s", path, strerror(errno));
    }
    if (write_keys(fd, keys) < 0) {
        int e = errno;

        close(fd);
        unlink(path);
        return sup_err_set(err, SUP_ERR_IO, "cannot write signing key file %s: %s", path,
                           strerror(e));
    }
    close(fd);
    return 0;
}

int retpath_keys_rotate(const char *path, RETPATH_KEYS *keys, SUP_ERR *err)
{
    RETPATH_KEYS old, fresh;
    char tmp[PATH_MAX];
    struct stat sb;
    int fd, rc = 0;

    if (retpath_keys_load(path, &old, err) < 0)
        return -1;
    if (stat(path, &sb) < 0)
        return sup_err_set(err, SUP_ERR_IO, "signing key file %s: %s", path, strerror(errno));
    memset(&fresh, 0, sizeof(fresh));
    if (random_key((old.key[0].id + 1) % 10, &fresh.key[0], err) < 0)
        return -1;
    fresh.key[1] = old.key[0];
    fresh.count = 2;
    snprintf(tmp, sizeof(tmp), "%s.new", path);
    unlink(tmp);
    if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0)
        return sup_err_set(err, errno == EACCES ? SUP_ERR_NOPERM : SUP_ERR_IO,
                           "cannot create %s: %s", tmp, strerror(errno));
    /* The milter reads it as its own user: keep the owner it had. */
    if (fchown(fd, sb.st_uid, sb.st_gid) < 0 && geteuid() == 0)
        rc = sup_err_set(err, SUP_ERR_IO, "cannot give %s to uid %ld: %s", tmp,
                         (long) sb.st_uid, strerror(errno));
    if (rc == 0 && write_keys(fd, &fresh) < 0)
        rc = sup_err_set(err, SUP_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    close(fd);
    if (rc == 0 && rename(tmp, path) < 0)
        rc = sup_err_set(err, SUP_ERR_IO, "cannot replace %s: %s", path, strerror(errno));
    if (rc < 0) {
        unlink(tmp);
        return -1;
    }
    *keys = fresh;
    return 0;
}

/* ---- the MAC -------------------------------------------------------- */

static unsigned signing_day(time_t now)
{
    return (unsigned) ((now / SECONDS_PER_DAY) % (RETPATH_DAYS_MAX + 1));
}

/* The first `digits` hex digits of HMAC-SHA256(secret, form \0 addr \0 day). */
static void compute_mac(const RETPATH_KEY *key, const char *form, const char *addr,
                        const char *day, int digits, char *out)
{
    GHmac *hmac = g_hmac_new(G_CHECKSUM_SHA256, key->secret, sizeof(key->secret));
    const char *hex;

    g_hmac_update(hmac, (const guchar *) form, (gssize) strlen(form) + 1);
    g_hmac_update(hmac, (const guchar *) addr, (gssize) strlen(addr) + 1);
    g_hmac_update(hmac, (const guchar *) day, (gssize) strlen(day));
    hex = g_hmac_get_string(hmac);
    memcpy(out, hex, (size_t) digits);
    out[digits] = '\0';
    g_hmac_unref(hmac);
}

/* Compare a MAC read from an address with ours, in either case, in
 * constant time. */
static bool mac_equal(const char *given, const char *ours, int digits)
{
    unsigned diff = 0;

    for (int i = 0; i < digits; i++)
        diff |= (unsigned) (tolower((unsigned char) given[i]) ^ (unsigned char) ours[i]);
    return diff == 0;
}

static const RETPATH_KEY *key_by_id(const RETPATH_KEYS *keys, int id)
{
    for (int i = 0; i < keys->count; i++)
        if (keys->key[i].id == id)
            return &keys->key[i];
    return NULL;
}

/* ---- addresses ------------------------------------------------------ */

/* An envelope address split into local part (unquoted) and domain. */
struct split_addr {
    char local[RETPATH_ADDR_MAX + 1];
    char domain[ADDR_DOMAIN_MAX + 1];
};

/* "<a@b>", " a@b ", "\"prvs=...=a\"@b" -> local, domain; -1 if no '@'. */
static int split_address(const char *in, struct split_addr *out)
{
    char buf[RETPATH_ADDR_MAX + 1];
    size_t len, o = 0;
    char *at;

    while (*in == ' ' || *in == '\t' || *in == '<')
        in++;
    len = strlen(in);
    while (len > 0 && (in[len - 1] == ' ' || in[len - 1] == '\t' || in[len - 1] == '>'))
        len--;
    if (len == 0 || len > RETPATH_ADDR_MAX)
        return -1;
    memcpy(buf, in, len);
    buf[len] = '\0';
    if ((at = strrchr(buf, '@')) == NULL || at == buf || at[1] == '\0'
        || strlen(at + 1) > ADDR_DOMAIN_MAX)
        return -1;
    *at = '\0';
    /* A remote MTA may have quoted the local part: unquote it. */
    for (const char *p = buf; *p != '\0'; p++) {
        if (*p == '"')
            continue;
        if (*p == '\\' && p[1] != '\0')
            p++;
        out->local[o++] = *p;
    }
    out->local[o] = '\0';
    snprintf(out->domain, sizeof(out->domain), "%s", at + 1);
    return o > 0 ? 0 : -1;
}

static bool is_atext(int c)
{
    return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL);
}

/* A normalized recipient whose local part can sit inside ours as it is. */
static bool verp_safe(const char *rcpt)
{
    const char *at = strrchr(rcpt, '@');

    if (at == NULL)
        return false;
    for (const char *p = rcpt; p < at; p++)
        if (!is_atext((unsigned char) *p))
            return false;
    return true;
}

static bool digits_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char) s[i]))
            return false;
    return true;
}

static bool hex_only(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (hex_value((unsigned char) s[i]) < 0)
            return false;
    return true;
}

/* The prvs tag of a local part: "prvs=" ten characters "=rest"; NULL if
 * none.  (Whether the ten are KDDDMMMMMM is the verifier's business.) */
static const char *prvs_rest(const char *local)
{
    size_t len = strlen(local);

    if (len < sizeof(PRVS_PREFIX) + PRVS_TAG_LEN || strncasecmp(local, PRVS_PREFIX, 5) != 0
        || local[5 + PRVS_TAG_LEN] != '=')
        return NULL;
    return local + 5 + PRVS_TAG_LEN + 1;
}

/* A prvs tag of the right shape: K and DDD digits, M hex. */
static bool prvs_well_formed(const char *local)
{
    const char *tag = local + 5;

    return prvs_rest(local) != NULL && digits_only(tag, 1 + DAY_DIGITS)
           && hex_only(tag + 1 + DAY_DIGITS, RETPATH_PRVS_MAC_DIGITS);
}

/* Is this address a VERP address of bounce_address?  Sets *rest to what
 * follows "BLOCAL+". */
static bool verp_rest(const struct split_addr *a, const char *bounce_address, const char **rest)
{
    struct split_addr b;
    size_t blen;

    if (bounce_address == NULL || *bounce_address == '\0' || split_address(bounce_address, &b) < 0
        || strcasecmp(a->domain, b.domain) != 0)
        return false;
    blen = strlen(b.local);
    if (strncasecmp(a->local, b.local, blen) != 0 || a->local[blen] != '+')
        return false;
    *rest = a->local + blen + 1;
    return true;
}

bool retpath_is_signed(const char *sender, const char *bounce_address)
{
    struct split_addr a;
    const char *rest;

    if (split_address(sender, &a) < 0)
        return false;
    return prvs_well_formed(a.local) || verp_rest(&a, bounce_address, &rest);
}

/* ---- signing -------------------------------------------------------- */

int retpath_sign_verp(const RETPATH_KEYS *keys, const char *bounce_address, const char *rcpt,
                      time_t now, char *out, size_t outlen, SUP_ERR *err)
{
    struct split_addr b;
    char day[DAY_DIGITS + 1], mac[RETPATH_VERP_MAC_DIGITS + 1];
    const char *at = strrchr(rcpt, '@');
    int n;

    if (keys->count == 0)
        return sup_err_set(err, SUP_ERR_CONFIG, "no signing key");
    if (bounce_address == NULL || split_address(bounce_address, &b) < 0)
        return sup_err_set(err, SUP_ERR_CONFIG, "signing.bounce-address is not an address");
    if (at == NULL || !verp_safe(rcpt))
        return sup_err_set(err, SUP_ERR_INPUT, "<%s> cannot be carried in a local part", rcpt);
    snprintf(day, sizeof(day), "%03u", signing_day(now));
    compute_mac(&keys->key[0], "verp", rcpt, day, RETPATH_VERP_MAC_DIGITS, mac);
    n = snprintf(out, outlen, "%s+%.*s=%s+%s+%d%s@%s", b.local, (int) (at - rcpt), rcpt, at + 1,
                 day, keys->key[0].id, mac, b.domain);
    if (n < 0 || (size_t) n >= outlen || strrchr(out, '@') - out > ADDR_LOCAL_MAX)
        return sup_err_set(err, SUP_ERR_INPUT, "the VERP address of <%s> would be longer than %d",
                           rcpt, ADDR_LOCAL_MAX);
    return 0;
}

int retpath_sign_prvs(const RETPATH_KEYS *keys, const char *sender, time_t now, char *out,
                      size_t outlen, SUP_ERR *err)
{
    struct split_addr a;
    char normalized[ADDR_MAX + 1], day[DAY_DIGITS + 1], mac[RETPATH_PRVS_MAC_DIGITS + 1];
    int n;

    if (keys->count == 0)
        return sup_err_set(err, SUP_ERR_CONFIG, "no signing key");
    if (split_address(sender, &a) < 0
        || addr_normalize(sender, normalized, sizeof(normalized), NULL) < 0)
        return sup_err_set(err, SUP_ERR_INPUT, "sender <%s> is not an address", sender);
    if (strchr(normalized, '"') != NULL)
        return sup_err_set(err, SUP_ERR_INPUT, "sender <%s> has a quoted local part", sender);
    snprintf(day, sizeof(day), "%03u", signing_day(now));
    compute_mac(&keys->key[0], "prvs", normalized, day, RETPATH_PRVS_MAC_DIGITS, mac);
    n = snprintf(out, outlen, PRVS_PREFIX "%d%s%s=%s@%s", keys->key[0].id, day, mac, a.local,
                 a.domain);
    if (n < 0 || (size_t) n >= outlen)
        return sup_err_set(err, SUP_ERR_INPUT, "the prvs address of <%s> is too long", sender);
    return 0;
}

/* ---- verifying ------------------------------------------------------ */

/* Days from the tag's day to today, modulo 1000; one day ahead (a clock
 * behind ours) counts as today. */
static int age_in_days(const char *day, time_t now)
{
    int signed_day = atoi(day);
    int age = ((int) signing_day(now) - signed_day + RETPATH_DAYS_MAX + 1) % (RETPATH_DAYS_MAX + 1);

    return age == RETPATH_DAYS_MAX ? 0 : age;
}

/* The verdict for a parsed tag: key, MAC, age. */
static enum retpath_verdict judge(const RETPATH_KEYS *keys, int key_id, const char *form,
                                  const char *addr, const char *day, const char *given_mac,
                                  int digits, time_t now, int validity_days, int *age)
{
    const RETPATH_KEY *key = key_by_id(keys, key_id);
    char mac[RETPATH_VERP_MAC_DIGITS + 1];

    *age = age_in_days(day, now);
    if (key == NULL)
        return RETPATH_UNKNOWN_KEY;
    compute_mac(key, form, addr, day, digits, mac);
    if (!mac_equal(given_mac, mac, digits))
        return RETPATH_BAD_SIGNATURE;
    return *age <= validity_days ? RETPATH_VALID : RETPATH_EXPIRED;
}

/* "RLOCAL=RDOMAIN+DDD+KMMMMMMMMMMMM" */
static void verify_verp(const RETPATH_KEYS *keys, const char *rest, time_t now, int validity,
                        RETPATH_CHECK *check)
{
    char buf[RETPATH_ADDR_MAX + 1], day[DAY_DIGITS + 1];
    char *tag, *dayp, *eq;

    snprintf(buf, sizeof(buf), "%s", rest);
    check->verdict = RETPATH_MALFORMED;
    if ((tag = strrchr(buf, '+')) == NULL)
        return;
    *tag++ = '\0';
    if ((dayp = strrchr(buf, '+')) == NULL)
        return;
    *dayp++ = '\0';
    if (strlen(tag) != VERP_TAG_LEN || !digits_only(tag, 1) || !hex_only(tag + 1, VERP_TAG_LEN - 1)
        || strlen(dayp) != DAY_DIGITS || !digits_only(dayp, DAY_DIGITS)
        || (eq = strrchr(buf, '=')) == NULL || eq == buf)
        return;
    *eq = '@';
    if (addr_normalize(buf, check->address, sizeof(check->address), NULL) < 0)
        return;
    snprintf(day, sizeof(day), "%s", dayp);
    check->verdict = judge(keys, tag[0] - '0', "verp", check->address, day, tag + 1,
                           RETPATH_VERP_MAC_DIGITS, now, validity, &check->age_days);
}

static void verify_prvs(const RETPATH_KEYS *keys, const struct split_addr *a, const char *rest,
                        time_t now, int validity, RETPATH_CHECK *check)
{
    const char *tag = a->local + 5;
    char sender[RETPATH_ADDR_MAX + 1], day[DAY_DIGITS + 1];

    check->verdict = RETPATH_MALFORMED;
    if (!digits_only(tag, 1 + DAY_DIGITS) || !hex_only(tag + 1 + DAY_DIGITS, RETPATH_PRVS_MAC_DIGITS)
        || *rest == '\0')
        return;
    snprintf(sender, sizeof(sender), "%s@%s", rest, a->domain);
    if (addr_normalize(sender, check->address, sizeof(check->address), NULL) < 0)
        return;
    memcpy(day, tag + 1, DAY_DIGITS);
    day[DAY_DIGITS] = '\0';
    check->verdict = judge(keys, tag[0] - '0', "prvs", check->address, day, tag + 1 + DAY_DIGITS,
                           RETPATH_PRVS_MAC_DIGITS, now, validity, &check->age_days);
}

void retpath_verify(const RETPATH_KEYS *keys, const char *bounce_address, const char *envelope,
                    time_t now, int validity_days, RETPATH_CHECK *check)
{
    struct split_addr a;
    const char *rest;

    memset(check, 0, sizeof(*check));
    check->form = RETPATH_UNSIGNED;
    check->verdict = RETPATH_NO_SIGNATURE;
    if (envelope == NULL || split_address(envelope, &a) < 0)
        return;
    if (verp_rest(&a, bounce_address, &rest)) {
        check->form = RETPATH_VERP;
        verify_verp(keys, rest, now, validity_days, check);
    } else if ((rest = prvs_rest(a.local)) != NULL) {
        check->form = RETPATH_PRVS;
        verify_prvs(keys, &a, rest, now, validity_days, check);
    }
}

const char *retpath_verdict_name(enum retpath_verdict verdict)
{
    switch (verdict) {
    case RETPATH_VALID:
        return "valid";
    case RETPATH_NO_SIGNATURE:
        return "no signature";
    case RETPATH_MALFORMED:
        return "malformed signature";
    case RETPATH_UNKNOWN_KEY:
        return "unknown key";
    case RETPATH_BAD_SIGNATURE:
        return "bad signature";
    case RETPATH_EXPIRED:
        return "expired";
    }
    return "?";
}
