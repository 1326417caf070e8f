/*
 * check_retpath.c: unit tests of signed return paths (libsuppress/retpath.c):
 * VERP and prvs signing and verifying, the validity window and the day
 * counter's wrap, key rotation, tampering, the case changes and quoting
 * remote MTAs make, and the key file itself.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "retpath.h"

#define DAY 86400
#define BOUNCE "bounces@bounce.example.org"
#define T0 ((time_t) 1796000000)        /* 2026-11-29 */

static char key_path[256];
static char tmp_dir[128];

static void setup(void)
{
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/check_retpath.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
    snprintf(key_path, sizeof(key_path), "%s/signing.key", tmp_dir);
}

static void teardown(void)
{
    char path[300];

    unlink(key_path);
    snprintf(path, sizeof(path), "%s.new", key_path);
    unlink(path);
    rmdir(tmp_dir);
}

static RETPATH_KEYS fresh_keys(void)
{
    RETPATH_KEYS keys;
    SUP_ERR err;

    ck_assert_msg(retpath_keys_load_or_create(key_path, &keys, &err) == 0, "%s", err.text);
    return keys;
}

static void sign_verp(const RETPATH_KEYS *keys, const char *rcpt, time_t when, char *out)
{
    SUP_ERR err;

    ck_assert_msg(retpath_sign_verp(keys, BOUNCE, rcpt, when, out, RETPATH_ADDR_MAX + 1, &err) == 0,
                  "%s", err.text);
}

static enum retpath_verdict verdict_of(const RETPATH_KEYS *keys, const char *envelope, time_t now,
                                       RETPATH_CHECK *check)
{
    retpath_verify(keys, BOUNCE, envelope, now, 14, check);
    return check->verdict;
}

/* Upper-case every letter after the '@' (what some MTAs do to domains). */
static void upper_domain(char *addr)
{
    for (char *p = strrchr(addr, '@'); p != NULL && *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char) (*p - 'a' + 'A');
}

START_TEST(test_verp_roundtrip)
{
    RETPATH_KEYS keys = fresh_keys();
    char addr[RETPATH_ADDR_MAX + 1];
    RETPATH_CHECK check;

    sign_verp(&keys, "alice@example.com", T0, addr);
    ck_assert_msg(strncmp(addr, "bounces+alice=example.com+", 26) == 0, "%s", addr);
    ck_assert_ptr_nonnull(strstr(addr, "@bounce.example.org"));
    ck_assert_int_eq(verdict_of(&keys, addr, T0 + 3600, &check), RETPATH_VALID);
    ck_assert_int_eq(check.form, RETPATH_VERP);
    ck_assert_str_eq(check.address, "alice@example.com");
    ck_assert_int_eq(check.age_days, 0);
    /* Delivered as <...>, with the domain upper-cased by a remote MTA. */
    {
        char quoted[RETPATH_ADDR_MAX + 3];

        upper_domain(addr);
        snprintf(quoted, sizeof(quoted), "<%s>", addr);
        ck_assert_int_eq(verdict_of(&keys, quoted, T0, &check), RETPATH_VALID);
        ck_assert_str_eq(check.address, "alice@example.com");
    }
}
END_TEST

START_TEST(test_verp_case_of_local_part)
{
    RETPATH_KEYS keys = fresh_keys();
    char addr[RETPATH_ADDR_MAX + 1];
    RETPATH_CHECK check;

    sign_verp(&keys, "bob.smith@example.net", T0, addr);
    for (char *p = addr; *p != '\0'; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char) (*p - 'a' + 'A');
    ck_assert_int_eq(verdict_of(&keys, addr, T0, &check), RETPATH_VALID);
    ck_assert_str_eq(check.address, "bob.smith@example.net");
}
END_TEST

START_TEST(test_verp_tampered)
{
    RETPATH_KEYS keys = fresh_keys();
    char addr[RETPATH_ADDR_MAX + 1];
    RETPATH_CHECK check;
    char *p;

    sign_verp(&keys, "alice@example.com", T0, addr);
    /* Another recipient under alice's signature. */
    p = strstr(addr, "alice");
    memcpy(p, "alica", 5);
    ck_assert_int_eq(verdict_of(&keys, addr, T0, &check), RETPATH_BAD_SIGNATURE);
    ck_assert_str_eq(check.address, "alica@example.com");
    /* The day changed to look fresh. */
    sign_verp(&keys, "alice@example.com", T0, addr);
    p = strstr(addr, ".com+") + 5;
    p[2] = p[2] == '9' ? '8' : (char) (p[2] + 1);
    ck_assert_int_eq(verdict_of(&keys, addr, T0, &check), RETPATH_BAD_SIGNATURE);
    /* A signature cut short, or not hex. */
    sign_verp(&keys, "alice@example.com", T0, addr);
    p = strrchr(addr, '@');
    memmove(p - 1, p, strlen(p) + 1);
    ck_assert_int_eq(verdict_of(&keys, addr, T0, &check), RETPATH_MALFORMED);
    ck_assert_int_eq(verdict_of(&keys, "bounces+alice=example.com+123+1zzzzzzzzzzzz@bounce.example.org",
                                T0, &check), RETPATH_MALFORMED);
    /* Our prefix without any tag. */
    ck_assert_int_eq(verdict_of(&keys, "bounces+alice@bounce.example.org", T0, &check),
                     RETPATH_MALFORMED);
}
END_TEST

START_TEST(test_verp_validity_window)
{
    RETPATH_KEYS keys = fresh_keys();
    char addr[RETPATH_ADDR_MAX + 1];
    RETPATH_CHECK check;

    sign_verp(&keys, "alice@example.com", T0, addr);
    ck_assert_int_eq(verdict_of(&keys, addr, T0 + 14 * DAY, &check), RETPATH_VALID);
    ck_assert_int_eq(check.age_days, 14);
    ck_assert_int_eq(verdict_of(&keys, addr, T0 + 15 * DAY, &check), RETPATH_EXPIRED);
    ck_assert_int_eq(check.age_days, 15);
    /* A verifier whose clock is a day behind the signer's. */
    ck_assert_int_eq(verdict_of(&keys, addr, T0 - DAY, &check), RETPATH_VALID);
    /* Across the wrap of the three-digit day. */
    {
        time_t day999 = (time_t) ((T0 / DAY) / 1000 * 1000 + 999) * DAY;

        sign_verp(&keys, "alice@example.com", day999, addr);
        ck_assert_ptr_nonnull(strstr(addr, "+999+"));
        ck_assert_int_eq(verdict_of(&keys, addr, day999 + 3 * DAY, &check), RETPATH_VALID);
        ck_assert_int_eq(check.age_days, 3);
    }
}
END_TEST

START_TEST(test_verp_refuses_what_it_cannot_carry)
{
    RETPATH_KEYS keys = fresh_keys();
    char addr[RETPATH_ADDR_MAX + 1];
    SUP_ERR err;

    ck_assert_int_eq(retpath_sign_verp(&keys, BOUNCE, "\"john smith\"@example.com", T0, addr,
                                       sizeof(addr), &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_int_eq(retpath_sign_verp(&keys, BOUNCE,
                                       "a.very.long.local.part.indeed@subdomain.example.com", T0,
                                       addr, sizeof(addr), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "longer than 64"));
}
END_TEST

START_TEST(test_prvs_roundtrip)
{
    RETPATH_KEYS keys = fresh_keys();
    char addr[RETPATH_ADDR_MAX + 1], quoted[RETPATH_ADDR_MAX + 8];
    RETPATH_CHECK check;
    SUP_ERR err;
    char *at;

    ck_assert_msg(retpath_sign_prvs(&keys, "News.Letter@Shop.Example", T0, addr, sizeof(addr), &err) == 0,
                  "%s", err.text);
    ck_assert_msg(strncmp(addr, "prvs=", 5) == 0 && addr[15] == '=', "%s", addr);
    ck_assert_str_eq(addr + 16, "News.Letter@Shop.Example");   /* case kept */
    ck_assert_int_eq(verdict_of(&keys, addr, T0, &check), RETPATH_VALID);
    ck_assert_int_eq(check.form, RETPATH_PRVS);
    ck_assert_str_eq(check.address, "news.letter@shop.example");
    /* The domain lower-cased, the tag upper-cased. */
    for (char *p = strrchr(addr, '@'); *p != '\0'; p++)
        *p = (char) (*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    for (char *p = addr + 5; p < addr + 15; p++)
        *p = (char) (*p >= 'a' && *p <= 'f' ? *p - 'a' + 'A' : *p);
    ck_assert_int_eq(verdict_of(&keys, addr, T0, &check), RETPATH_VALID);
    /* Quoted by a remote MTA: "prvs=...=News.Letter"@shop.example */
    at = strrchr(addr, '@');
    snprintf(quoted, sizeof(quoted), "\"%.*s\"%s", (int) (at - addr), addr, at);
    ck_assert_int_eq(verdict_of(&keys, quoted, T0, &check), RETPATH_VALID);
    /* Another sender under the same tag. */
    memcpy(strstr(addr, "News"), "Nexs", 4);
    ck_assert_int_eq(verdict_of(&keys, addr, T0, &check), RETPATH_BAD_SIGNATURE);
    ck_assert_int_eq(verdict_of(&keys, "prvs=1234zzzzzz=a@b.example", T0, &check),
                     RETPATH_MALFORMED);
    ck_assert_int_eq(verdict_of(&keys, "prvs=1234abcdef=a@b.example", T0 + 20 * DAY, &check),
                     RETPATH_BAD_SIGNATURE);
}
END_TEST

START_TEST(test_prvs_expired)
{
    RETPATH_KEYS keys = fresh_keys();
    char addr[RETPATH_ADDR_MAX + 1];
    RETPATH_CHECK check;
    SUP_ERR err;

    ck_assert_int_eq(retpath_sign_prvs(&keys, "app@shop.example", T0, addr, sizeof(addr), &err), 0);
    ck_assert_int_eq(verdict_of(&keys, addr, T0 + 15 * DAY, &check), RETPATH_EXPIRED);
    retpath_verify(&keys, BOUNCE, addr, T0 + 15 * DAY, 30, &check);
    ck_assert_int_eq(check.verdict, RETPATH_VALID);
}
END_TEST

START_TEST(test_unsigned_addresses)
{
    RETPATH_KEYS keys = fresh_keys();
    RETPATH_CHECK check;

    ck_assert_int_eq(verdict_of(&keys, "bounces@bounce.example.org", T0, &check),
                     RETPATH_NO_SIGNATURE);
    ck_assert_int_eq(check.form, RETPATH_UNSIGNED);
    ck_assert_int_eq(verdict_of(&keys, "alice@example.com", T0, &check), RETPATH_NO_SIGNATURE);
    ck_assert_int_eq(verdict_of(&keys, "", T0, &check), RETPATH_NO_SIGNATURE);
    ck_assert_int_eq(verdict_of(&keys, NULL, T0, &check), RETPATH_NO_SIGNATURE);
    /* Our local part at another domain is not ours. */
    ck_assert_int_eq(verdict_of(&keys, "bounces+a=b.example+123+1abcdefabcdef@elsewhere.example",
                                T0, &check), RETPATH_NO_SIGNATURE);
    /* No bounce address configured: VERP is not looked for. */
    retpath_verify(&keys, NULL, "bounces+a=b.example+123+1abcdefabcdef@bounce.example.org", T0, 14,
                   &check);
    ck_assert_int_eq(check.verdict, RETPATH_NO_SIGNATURE);
}
END_TEST

START_TEST(test_is_signed)
{
    ck_assert(retpath_is_signed("prvs=1234abcdef=app@shop.example", BOUNCE));
    ck_assert(retpath_is_signed("<PRVS=1234ABCDEF=app@shop.example>", NULL));
    ck_assert(retpath_is_signed("bounces+x=y.example+123+1abcdefabcdef@bounce.example.org", BOUNCE));
    ck_assert(!retpath_is_signed("bounces@bounce.example.org", BOUNCE));
    ck_assert(!retpath_is_signed("app@shop.example", BOUNCE));
    ck_assert(!retpath_is_signed("prvs@shop.example", BOUNCE));
    ck_assert(!retpath_is_signed("prvs=abcdefghij=app@shop.example", BOUNCE));
    ck_assert(!retpath_is_signed("", BOUNCE));
}
END_TEST

START_TEST(test_rotation)
{
    RETPATH_KEYS keys = fresh_keys(), rotated, reloaded;
    char old_addr[RETPATH_ADDR_MAX + 1], new_addr[RETPATH_ADDR_MAX + 1];
    RETPATH_CHECK check;
    SUP_ERR err;

    sign_verp(&keys, "alice@example.com", T0, old_addr);
    ck_assert_msg(retpath_keys_rotate(key_path, &rotated, &err) == 0, "%s", err.text);
    ck_assert_int_eq(rotated.count, 2);
    ck_assert_int_ne(rotated.key[0].id, keys.key[0].id);
    ck_assert_int_eq(rotated.key[1].id, keys.key[0].id);
    ck_assert_msg(retpath_keys_load(key_path, &reloaded, &err) == 0, "%s", err.text);
    ck_assert_mem_eq(&reloaded, &rotated, sizeof(reloaded));
    /* Mail signed before the rotation still verifies; new mail uses the new key. */
    ck_assert_int_eq(verdict_of(&rotated, old_addr, T0, &check), RETPATH_VALID);
    sign_verp(&rotated, "alice@example.com", T0, new_addr);
    ck_assert_str_ne(old_addr, new_addr);
    ck_assert_int_eq(verdict_of(&rotated, new_addr, T0, &check), RETPATH_VALID);
    ck_assert_int_eq(verdict_of(&keys, new_addr, T0, &check), RETPATH_UNKNOWN_KEY);
    /* A second rotation retires the first key. */
    ck_assert_int_eq(retpath_keys_rotate(key_path, &rotated, &err), 0);
    ck_assert_int_eq(verdict_of(&rotated, old_addr, T0, &check), RETPATH_UNKNOWN_KEY);
    ck_assert_int_eq(verdict_of(&rotated, new_addr, T0, &check), RETPATH_VALID);
}
END_TEST

START_TEST(test_key_file)
{
    RETPATH_KEYS keys, again;
    struct stat sb;
    SUP_ERR err;
    FILE *fp;

    ck_assert_int_eq(retpath_keys_load(key_path, &keys, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_NOTFOUND);
    ck_assert_int_eq(retpath_keys_load_or_create(key_path, &keys, &err), 0);
    ck_assert_int_eq(stat(key_path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(keys.count, 1);
    /* Created once: a second start reads the same key. */
    ck_assert_int_eq(retpath_keys_load_or_create(key_path, &again, &err), 0);
    ck_assert_mem_eq(&keys, &again, sizeof(keys));
    ck_assert_int_eq(retpath_keys_rotate(key_path, &keys, &err), 0);
    ck_assert_int_eq(stat(key_path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    /* A damaged file is an error that names the line. */
    fp = fopen(key_path, "w");
    ck_assert_ptr_nonnull(fp);
    fputs("# comment\n1 00ff\n", fp);
    fclose(fp);
    ck_assert_int_eq(retpath_keys_load(key_path, &keys, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_CONFIG);
    ck_assert_msg(strstr(err.text, "signing.key:2:") != NULL, "%s", err.text);
    ck_assert_int_eq(retpath_keys_load_or_create(key_path, &keys, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_CONFIG);
}
END_TEST

static Suite *retpath_suite(void)
{
    Suite *s = suite_create("retpath");
    TCase *tc = tcase_create("retpath");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_verp_roundtrip);
    tcase_add_test(tc, test_verp_case_of_local_part);
    tcase_add_test(tc, test_verp_tampered);
    tcase_add_test(tc, test_verp_validity_window);
    tcase_add_test(tc, test_verp_refuses_what_it_cannot_carry);
    tcase_add_test(tc, test_prvs_roundtrip);
    tcase_add_test(tc, test_prvs_expired);
    tcase_add_test(tc, test_unsigned_addresses);
    tcase_add_test(tc, test_is_signed);
    tcase_add_test(tc, test_rotation);
    tcase_add_test(tc, test_key_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(retpath_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
