/*
 * check_trust.c: unit tests of what suppress-ingest believes
 * (classifier/decide/trust.c): a report that came back to a signed VERP or
 * BATV return path, tampered and expired signatures, a VERP address that
 * names another recipient or the only one, the quoted Message-ID, and the
 * ledger of sent mail in a real store (alone, and contradicting BATV).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gmime/gmime.h>

#include "conf.h"
#include "decide/classify.h"
#include "decide/trust.h"
#include "detectors/detector.h"
#include "parse/message.h"
#include "retpath.h"
#include "sample.h"
#include "store.h"

#define BOUNCE "bounces@sender.example"

static char tmp[] = "/tmp/check_trust.XXXXXX";
static struct sup_config *cfg;
static RETPATH_KEYS keys;

static void setup(void)
{
    char path[256];
    SUP_ERR err;
    FILE *fp;

    strcpy(tmp, "/tmp/check_trust.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmp));
    snprintf(path, sizeof(path), "%s/conf", tmp);
    fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fprintf(fp, "store = \"%s/store\"\nsigning {\n  bounce-address = \"" BOUNCE "\"\n}\n", tmp);
    fclose(fp);
    ck_assert_msg(conf_load(path, false, &cfg, &err) == 0, "%s", err.text);
    snprintf(path, sizeof(path), "%s/signing.key", tmp);
    ck_assert_msg(retpath_keys_load_or_create(path, &keys, &err) == 0, "%s", err.text);
}

static void teardown(void)
{
    char cmd[300];

    conf_free(cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* A report as suppress-ingest sees it: delivered to `envelope`. */
struct judged {
    BOUNCE_MSG msg;
    BOUNCE_REPORT report;
    TRUST_EVIDENCE evidence;
    TRUST_VERDICT verdicts[8];
};

static void judge(struct judged *j, const char *sample, const char *envelope,
                  enum ingest_trust trust, STORE *st, time_t now)
{
    SUP_ERR err;

    memset(j, 0, sizeof(*j));
    sample_parse("ingest", sample, envelope, &j->msg);
    detect_report(&j->msg, &j->report);
    classify_report(&j->report);
    trust_gather(cfg, &keys, &j->msg, now, &j->evidence);
    trust_fill(&j->evidence, &j->report);
    ck_assert_uint_le(j->report.count, 8);
    ck_assert_msg(trust_judge(trust, st, NULL, &j->evidence, &j->report, j->verdicts, &err) == 0,
                  "%s", err.text);
}

static void forget(struct judged *j)
{
    report_clear(&j->report);
    message_free(&j->msg);
}

static const char *verp(const char *rcpt, time_t when)
{
    static char out[RETPATH_ADDR_MAX + 1];
    SUP_ERR err;

    ck_assert_msg(retpath_sign_verp(&keys, BOUNCE, rcpt, when, out, sizeof(out), &err) == 0, "%s",
                  err.text);
    return out;
}

static const char *prvs(const char *sender, time_t when)
{
    static char out[RETPATH_ADDR_MAX + 1];
    SUP_ERR err;

    ck_assert_msg(retpath_sign_prvs(&keys, sender, when, out, sizeof(out), &err) == 0, "%s",
                  err.text);
    return out;
}

/* dsn-basic.eml: alice@ failed (hard), bob@ delayed; quotes <original.1@sender.example>. */
START_TEST(test_signed_verp)
{
    time_t now = time(NULL);
    struct judged j;

    judge(&j, "dsn-basic.eml", verp("alice@dest.example", now), TRUST_SENT_OR_SIGNED, NULL, now);
    ck_assert_str_eq(j.evidence.message_id, "original.1@sender.example");
    ck_assert_int_eq(j.report.count, 2);
    ck_assert(j.verdicts[0].believed);
    ck_assert_str_eq(j.verdicts[0].how, "signed VERP");
    /* The VERP address vouches for alice only. */
    ck_assert(!j.verdicts[1].believed);
    ck_assert_str_eq(j.verdicts[1].how,
                     "signed VERP names <alice@dest.example>; quoted Message-ID not in the ledger");
    forget(&j);
    /* The same bounce signed for another recipient vouches for nobody in it. */
    judge(&j, "dsn-basic.eml", verp("carol@dest.example", now), TRUST_SIGNED, NULL, now);
    ck_assert(!j.verdicts[0].believed);
    ck_assert_str_eq(j.verdicts[0].how, "signed VERP names <carol@dest.example>");
    forget(&j);
}
END_TEST

START_TEST(test_signed_prvs)
{
    time_t now = time(NULL);
    char tampered[RETPATH_ADDR_MAX + 1];
    struct judged j;

    judge(&j, "dsn-basic.eml", prvs("bounces@sender.example", now), TRUST_SIGNED, NULL, now);
    ck_assert(j.verdicts[0].believed && j.verdicts[1].believed);
    ck_assert_str_eq(j.verdicts[0].how, "signed BATV");
    forget(&j);
    /* One hex digit changed. */
    snprintf(tampered, sizeof(tampered), "%s", prvs("bounces@sender.example", now));
    tampered[14] = tampered[14] == '0' ? '1' : '0';
    judge(&j, "dsn-basic.eml", tampered, TRUST_SENT_OR_SIGNED, NULL, now);
    ck_assert(!j.verdicts[0].believed);
    ck_assert_str_eq(j.verdicts[0].how, "bad signature; quoted Message-ID not in the ledger");
    forget(&j);
    /* A real bounce, replayed three weeks later. */
    judge(&j, "dsn-basic.eml", prvs("bounces@sender.example", now - 21 * 86400), TRUST_SIGNED, NULL,
          now);
    ck_assert(!j.verdicts[0].believed);
    ck_assert_str_eq(j.verdicts[0].how, "signature expired (21 days old)");
    forget(&j);
}
END_TEST

START_TEST(test_unsigned)
{
    time_t now = time(NULL);
    struct judged j;

    /* Delivered-To of the sample: the plain bounce address. */
    judge(&j, "dsn-basic.eml", NULL, TRUST_SENT_OR_SIGNED, NULL, now);
    ck_assert(!j.verdicts[0].believed);
    ck_assert_str_eq(j.verdicts[0].how, "no signature; quoted Message-ID not in the ledger");
    forget(&j);
    judge(&j, "dsn-basic.eml", NULL, TRUST_ANY, NULL, now);
    ck_assert(j.verdicts[0].believed && j.verdicts[1].believed);
    ck_assert_str_eq(j.verdicts[0].how, "unchecked (trust any)");
    forget(&j);
}
END_TEST

/* A complaint whose recipient was redacted: the signed VERP address names it. */
START_TEST(test_verp_names_the_recipient)
{
    time_t now = time(NULL);
    struct judged j;

    judge(&j, "arf-redacted.eml", verp("judy@isp.example", now), TRUST_SENT_OR_SIGNED, NULL, now);
    ck_assert_int_ge(j.report.count, 1);
    ck_assert_str_eq(j.report.rcpts[0].recipient, "judy@isp.example");
    ck_assert(j.verdicts[0].believed);
    ck_assert_str_eq(j.verdicts[0].how, "signed VERP");
    forget(&j);
    /* An unsigned or forged VERP address fills in nobody. */
    judge(&j, "arf-redacted.eml", "bounces+judy=isp.example+123+1000000000000@sender.example",
          TRUST_SENT_OR_SIGNED, NULL, now);
    ck_assert(j.report.count == 0 || j.report.rcpts[0].recipient == NULL
              || strcmp(j.report.rcpts[0].recipient, "judy@isp.example") != 0);
    forget(&j);
}
END_TEST

/* The ledger in a real store: alone, and where it contradicts BATV. */
START_TEST(test_ledger)
{
    const char *rcpts[] = { "alice@dest.example", "dave@dest.example" };
    STORE_LEDGER_MSG sent = { "original.1@sender.example", 0, "news@sender.example", rcpts, 2, NULL };
    time_t now = time(NULL);
    char dir[300];
    struct judged j;
    STORE *st;
    SUP_ERR err;

    snprintf(dir, sizeof(dir), "%s/store", tmp);
    ck_assert_msg(store_open(dir, STORE_CREATE, &st, &err) == 0, "%s", err.text);
    sent.when = now - 3600;
    ck_assert_msg(store_ledger_add(st, NULL, &sent, &err) == 0, "%s", err.text);
    judge(&j, "dsn-basic.eml", NULL, TRUST_SENT, st, now);
    ck_assert(j.verdicts[0].believed);
    ck_assert_str_eq(j.verdicts[0].how, "ledger");
    /* bob@ was not a recipient of that message. */
    ck_assert(!j.verdicts[1].believed);
    ck_assert_str_eq(j.verdicts[1].how, "not a recipient of the quoted message");
    forget(&j);
    /* BATV vouches for the sender only: the ledger says bob@ was not mailed. */
    judge(&j, "dsn-basic.eml", prvs("bounces@sender.example", now), TRUST_SENT_OR_SIGNED, st, now);
    ck_assert(j.verdicts[0].believed);
    ck_assert_str_eq(j.verdicts[0].how, "signed BATV");
    ck_assert(!j.verdicts[1].believed);
    ck_assert_str_eq(j.verdicts[1].how, "signed BATV, but not a recipient of the quoted message");
    forget(&j);
    ck_assert_int_eq(store_close(st, &err), 0);
}
END_TEST

/* The tenant of a report: the ledger's, or a prvs sender's domain. */
START_TEST(test_tenant_of_reports)
{
    const char *rcpts[] = { "alice@dest.example" };
    STORE_LEDGER_MSG sent = { "original.1@sender.example", 0, "news@sender.example", rcpts, 1,
                              "alice-login" };
    time_t now = time(NULL);
    char dir[300];
    struct judged j;
    STORE *st;
    SUP_ERR err;

    snprintf(dir, sizeof(dir), "%s/store", tmp);
    ck_assert_msg(store_open(dir, STORE_CREATE, &st, &err) == 0, "%s", err.text);
    /* tenant = "none": never a tenant. */
    judge(&j, "dsn-basic.eml", prvs("news@customer-a.example", now), TRUST_SENT_OR_SIGNED, st,
          now);
    ck_assert_str_eq(j.verdicts[0].tenant, "");
    forget(&j);
    /* sender-domain, nothing in the ledger: the prvs sender's domain. */
    cfg->tenant.mode = TENANT_SENDER_DOMAIN;
    judge(&j, "dsn-basic.eml", prvs("news@customer-a.example", now), TRUST_SENT_OR_SIGNED, st,
          now);
    ck_assert_str_eq(j.verdicts[0].tenant, "customer-a.example");
    forget(&j);
    /* A VERP address names the recipient, not the sender: not known. */
    judge(&j, "dsn-basic.eml", verp("alice@dest.example", now), TRUST_SENT_OR_SIGNED, st, now);
    ck_assert(j.verdicts[0].believed);
    ck_assert_str_eq(j.verdicts[0].tenant, "");
    forget(&j);
    /* sasl-login: the prvs sender says nothing of the login. */
    cfg->tenant.mode = TENANT_SASL_LOGIN;
    judge(&j, "dsn-basic.eml", prvs("news@customer-a.example", now), TRUST_SENT_OR_SIGNED, st,
          now);
    ck_assert_str_eq(j.verdicts[0].tenant, "");
    forget(&j);
    /* The ledger knows the login, for the recipients of the message only. */
    sent.when = now - 3600;
    ck_assert_msg(store_ledger_add(st, NULL, &sent, &err) == 0, "%s", err.text);
    judge(&j, "dsn-basic.eml", NULL, TRUST_SENT, st, now);
    ck_assert_str_eq(j.verdicts[0].tenant, "alice-login");
    ck_assert_str_eq(j.verdicts[1].tenant, "");
    forget(&j);
    judge(&j, "dsn-basic.eml", verp("alice@dest.example", now), TRUST_ANY, st, now);
    ck_assert_str_eq(j.verdicts[0].tenant, "alice-login");
    forget(&j);
    cfg->tenant.mode = TENANT_NONE;
    ck_assert_int_eq(store_close(st, &err), 0);
}
END_TEST

/* The ledger's sender and tenant of a message, in old and new records. */
START_TEST(test_ledger_sender)
{
    const char *rcpts[] = { "alice@dest.example" };
    STORE_LEDGER_MSG old = { "old@sender.example", 10, "news@sender.example", rcpts, 1, NULL };
    STORE_LEDGER_MSG new = { "new@sender.example", 10, "news@sender.example", rcpts, 1, "acme" };
    char dir[300], sender[ADDR_MAX + 1], tenant[STORE_TENANT_MAX];
    STORE *st;
    SUP_ERR err;

    snprintf(dir, sizeof(dir), "%s/store", tmp);
    ck_assert_msg(store_open(dir, STORE_CREATE, &st, &err) == 0, "%s", err.text);
    ck_assert_int_eq(store_ledger_add(st, NULL, &old, &err), 0);
    ck_assert_int_eq(store_ledger_add(st, NULL, &new, &err), 0);
    ck_assert_int_eq(store_ledger_sender(st, NULL, "old@sender.example", sender, tenant, &err), 1);
    ck_assert_str_eq(sender, "news@sender.example");
    ck_assert_str_eq(tenant, "");
    ck_assert_int_eq(store_ledger_sender(st, NULL, "new@sender.example", sender, tenant, &err), 1);
    ck_assert_str_eq(tenant, "acme");
    ck_assert_int_eq(store_ledger_sender(st, NULL, "none@sender.example", sender, tenant, &err),
                     0);
    new.tenant = "a b";
    ck_assert_int_eq(store_ledger_add(st, NULL, &new, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_int_eq(store_close(st, &err), 0);
}
END_TEST

static Suite *trust_suite(void)
{
    Suite *s = suite_create("trust");
    TCase *tc = tcase_create("trust");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_signed_verp);
    tcase_add_test(tc, test_signed_prvs);
    tcase_add_test(tc, test_unsigned);
    tcase_add_test(tc, test_verp_names_the_recipient);
    tcase_add_test(tc, test_ledger);
    tcase_add_test(tc, test_tenant_of_reports);
    tcase_add_test(tc, test_ledger_sender);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    g_mime_init();
    sr = srunner_create(trust_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    g_mime_shutdown();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
