/*
 * check_tenant.c: unit tests of the tenant rules (libsuppress/tenant.c)
 * and their configuration (tenant, tenant-scope in conf.c): the modes,
 * where each reason's suppression goes with the tenant known or not, and
 * the tenant of a message in each mode.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "tenant.h"

static char conf_path[64];

static struct sup_config *load(const char *text, SUP_ERR *err)
{
    struct sup_config *cfg = NULL;
    FILE *fp;
    int fd;

    strcpy(conf_path, "/tmp/check_tenant_conf.XXXXXX");
    ck_assert_int_ge(fd = mkstemp(conf_path), 0);
    ck_assert_ptr_nonnull(fp = fdopen(fd, "w"));
    fputs(text, fp);
    fclose(fp);
    if (conf_load(conf_path, false, &cfg, err) < 0)
        cfg = NULL;
    unlink(conf_path);
    return cfg;
}

static struct sup_config *load_ok(const char *text)
{
    SUP_ERR err;
    struct sup_config *cfg = load(text, &err);

    ck_assert_msg(cfg != NULL, "load failed: %s", err.text);
    return cfg;
}

static void load_bad(const char *text, const char *fragment)
{
    SUP_ERR err;
    struct sup_config *cfg = load(text, &err);

    ck_assert_msg(cfg == NULL, "accepted: %s", text);
    ck_assert_int_eq(err.cls, SUP_ERR_CONFIG);
    ck_assert_msg(strstr(err.text, fragment) != NULL, "no \"%s\" in \"%s\"", fragment, err.text);
}

START_TEST(test_defaults_are_todays_behaviour)
{
    struct sup_config *cfg = load_ok("");

    ck_assert_int_eq(cfg->tenant.mode, TENANT_NONE);
    ck_assert_ptr_null(cfg->tenant.macro);
    ck_assert_int_eq(cfg->tenant.hard_bounce, TENANT_RULE_GLOBAL);
    ck_assert_int_eq(cfg->tenant.soft_escalated, TENANT_RULE_GLOBAL);
    ck_assert_int_eq(cfg->tenant.complaint, TENANT_RULE_TENANT_OR_RECORD);
    ck_assert_int_eq(cfg->tenant.unsubscribe, TENANT_RULE_TENANT_OR_RECORD);
    /* With tenant = "none" everything is global, whatever the rules say. */
    ck_assert_int_eq(tenant_place(&cfg->tenant, STORE_REASON_COMPLAINT, "acme"),
                     TENANT_PLACE_GLOBAL);
    ck_assert_int_eq(tenant_place(&cfg->tenant, STORE_REASON_MANUAL, "acme"),
                     TENANT_PLACE_GLOBAL);
    conf_free(cfg);
}
END_TEST

START_TEST(test_modes)
{
    struct sup_config *cfg;

    cfg = load_ok("tenant = \"sasl-login\"\n");
    ck_assert_int_eq(cfg->tenant.mode, TENANT_SASL_LOGIN);
    conf_free(cfg);
    cfg = load_ok("tenant = \"sender-domain\"\n");
    ck_assert_int_eq(cfg->tenant.mode, TENANT_SENDER_DOMAIN);
    conf_free(cfg);
    cfg = load_ok("tenant = \"macro:daemon_name\"\n");
    ck_assert_int_eq(cfg->tenant.mode, TENANT_MACRO);
    ck_assert_str_eq(cfg->tenant.macro, "{daemon_name}");
    conf_free(cfg);
    cfg = load_ok("tenant = \"macro:{customer}\"\n");
    ck_assert_str_eq(cfg->tenant.macro, "{customer}");
    conf_free(cfg);
    cfg = load_ok("tenant = \"macro:j\"\n");
    ck_assert_str_eq(cfg->tenant.macro, "j");
    conf_free(cfg);
    load_bad("tenant = \"customer\"\n", "tenant");
    load_bad("tenant = \"macro:\"\n", "macro:NAME");
    load_bad("tenant = \"macro:a b\"\n", "macro:NAME");
    load_bad("tenant = \"macro:{}\"\n", "macro:NAME");
}
END_TEST

START_TEST(test_scope_rules)
{
    struct sup_config *cfg = load_ok("tenant = \"sasl-login\"\n");
    const struct tenant_config *tc = &cfg->tenant;

    /* The defaults: a hard bounce describes the address; complaints and
     * unsubscribes are the tenant's, recorded only when it is unknown. */
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_HARD_BOUNCE, "acme"), TENANT_PLACE_GLOBAL);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_HARD_BOUNCE, NULL), TENANT_PLACE_GLOBAL);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_SOFT_ESCALATED, "acme"), TENANT_PLACE_GLOBAL);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_COMPLAINT, "acme"), TENANT_PLACE_TENANT);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_COMPLAINT, ""), TENANT_PLACE_RECORD_ONLY);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_UNSUBSCRIBE, "acme"), TENANT_PLACE_TENANT);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_UNSUBSCRIBE, NULL), TENANT_PLACE_RECORD_ONLY);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_MANUAL, NULL), TENANT_PLACE_GLOBAL);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_MANUAL, "acme"), TENANT_PLACE_TENANT);
    conf_free(cfg);

    cfg = load_ok("tenant = \"sender-domain\"\n"
                  "tenant-scope {\n hard-bounce = \"tenant-or-record\"\n"
                  " complaint = \"tenant-or-global\"\n unsubscribe = \"global\"\n}\n");
    tc = &cfg->tenant;
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_HARD_BOUNCE, "a.example"),
                     TENANT_PLACE_TENANT);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_HARD_BOUNCE, NULL), TENANT_PLACE_RECORD_ONLY);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_COMPLAINT, NULL), TENANT_PLACE_GLOBAL);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_COMPLAINT, "a.example"),
                     TENANT_PLACE_TENANT);
    ck_assert_int_eq(tenant_place(tc, STORE_REASON_UNSUBSCRIBE, "a.example"),
                     TENANT_PLACE_GLOBAL);
    conf_free(cfg);
    load_bad("tenant-scope {\n complaint = \"tenant\"\n}\n", "tenant-or-record");
}
END_TEST

START_TEST(test_tenant_of_a_message)
{
    struct tenant_config tc = { .mode = TENANT_SASL_LOGIN };
    char out[STORE_TENANT_MAX];

    ck_assert(tenant_of(&tc, "a@b.example", "alice", NULL, out));
    ck_assert_str_eq(out, "alice");
    ck_assert(!tenant_of(&tc, "a@b.example", NULL, NULL, out));
    ck_assert(!tenant_of(&tc, "a@b.example", "", NULL, out));
    ck_assert(!tenant_of(&tc, "a@b.example", "two words", NULL, out));

    tc.mode = TENANT_SENDER_DOMAIN;
    ck_assert(tenant_of(&tc, "news@customer-a.example", "alice", NULL, out));
    ck_assert_str_eq(out, "customer-a.example");
    ck_assert(tenant_of(&tc, "prvs=1234abcdef=news@customer-a.example", NULL, NULL, out));
    ck_assert_str_eq(out, "customer-a.example");
    ck_assert(!tenant_of(&tc, "", NULL, NULL, out));

    tc.mode = TENANT_MACRO;
    ck_assert(tenant_of(&tc, "a@b.example", "alice", "customer-b", out));
    ck_assert_str_eq(out, "customer-b");
    ck_assert(!tenant_of(&tc, "a@b.example", "alice", NULL, out));

    tc.mode = TENANT_NONE;
    ck_assert(!tenant_of(&tc, "a@b.example", "alice", "x", out));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tenant");
    TCase *tc = tcase_create("rules");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_defaults_are_todays_behaviour);
    tcase_add_test(tc, test_modes);
    tcase_add_test(tc, test_scope_rules);
    tcase_add_test(tc, test_tenant_of_a_message);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
