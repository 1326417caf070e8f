/*
 * check_lib.c: unit tests of libsuppress's small pieces: address
 * normalization (hostile input included), durations, JSON strings, and
 * the configuration file (values, defaults, and errors naming
 * file:line:key).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "duration.h"
#include "json.h"

/* --- addresses --------------------------------------------------------- */

static const struct {
    const char *in;
    const char *out;
} good_addresses[] = {
    { "john@example.com", "john@example.com" },
    { "<John@Example.COM>", "john@example.com" },
    { "  <john@example.com>  ", "john@example.com" },
    { "< john@example.com >", "john@example.com" },
    { "mailto:John@Example.com", "john@example.com" },
    { "<@relay.example,@other.example:john@example.com>", "john@example.com" },
    { "\"john\"@example.com", "john@example.com" },
    { "\"John.Smith\"@example.com", "john.smith@example.com" },
    { "\"john doe\"@example.com", "\"john doe\"@example.com" },
    { "\"john@home\"@example.com", "\"john@home\"@example.com" },
    { "\"a\\\"b\"@example.com", "\"a\\\"b\"@example.com" },
    { "first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk" },
    { "user@[192.0.2.1]", "user@[192.0.2.1]" },
    { "user@[IPv6:2001:DB8::1]", "user@[ipv6:2001:db8::1]" },
    { "o'brien@example.ie", "o'brien@example.ie" },
    { "user@under_score.example", "user@under_score.example" },
};

START_TEST(test_addr_good)
{
    char out[ADDR_MAX + 1];
    SUP_ERR err;

    ck_assert_msg(addr_normalize(good_addresses[_i].in, out, sizeof(out), &err) == 0, "%s: %s",
                  good_addresses[_i].in, err.text);
    ck_assert_str_eq(out, good_addresses[_i].out);
}
END_TEST

static const struct {
    const char *in;
    const char *why;        /* a word the error must contain */
} bad_addresses[] = {
    { "", "empty" },
    { "<>", "empty" },
    { "   ", "empty" },
    { "john", "no @" },
    { "@example.com", "local part" },
    { "john@", "empty domain" },
    { "john@@example.com", "" },
    { "john smith@example.com", "" },
    { "a@b.com, c@d.com", "" },
    { "<john@example.com", "unbalanced" },
    { "\"john@example.com", "unbalanced" },
    { "john@exa mple.com", "invalid character" },
    { "john@example..com", "empty label" },
    { "john@.example.com", "dot" },
    { "john.@example.com", "malformed" },
    { "jo..hn@example.com", "malformed" },
    { "john@example.com\r\nRCPT TO:<x@y>", "control" },
    { "jo\001hn@example.com", "control" },
    { "john@[1.2.3.4", "literal" },
    /* 65 characters, quoted: over the limit as they are unquoted (fuzz_addr) */
    { "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"@example.com", "longer than 64" },
    { "\"a aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"@example.com", "longer than 64" },
};

START_TEST(test_addr_bad)
{
    char out[ADDR_MAX + 1];
    SUP_ERR err;

    sup_err_clear(&err);
    ck_assert_msg(addr_normalize(bad_addresses[_i].in, out, sizeof(out), &err) == -1, "accepted \"%s\"",
                  bad_addresses[_i].in);
    ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    ck_assert_msg(strstr(err.text, bad_addresses[_i].why) != NULL, "error for \"%s\" is \"%s\"",
                  bad_addresses[_i].in, err.text);
}
END_TEST

START_TEST(test_addr_lengths)
{
    char in[2048];
    char out[ADDR_MAX + 1];
    SUP_ERR err;

    /* 64-character local part: fine; 65: refused. */
    memset(in, 'a', 64);
    strcpy(in + 64, "@example.com");
    ck_assert_int_eq(addr_normalize(in, out, sizeof(out), &err), 0);
    memset(in, 'a', 65);
    strcpy(in + 65, "@example.com");
    ck_assert_int_eq(addr_normalize(in, out, sizeof(out), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "64"));
    /* A 1000-character domain is refused without overflowing anything. */
    strcpy(in, "a@");
    memset(in + 2, 'b', 1000);
    in[1002] = '\0';
    ck_assert_int_eq(addr_normalize(in, out, sizeof(out), &err), -1);
    /* The error quotes hostile input bounded and without control characters. */
    ck_assert_int_lt(strlen(err.text), 200);
    /* A small output buffer is an error, not an overflow. */
    ck_assert_int_eq(addr_normalize("john@example.com", out, 8, &err), -1);
    ck_assert_int_eq(addr_normalize(NULL, out, sizeof(out), &err), -1);
}
END_TEST

START_TEST(test_addr_domain)
{
    ck_assert_str_eq(addr_domain("john@example.com"), "example.com");
    ck_assert_str_eq(addr_domain("\"a@b\"@example.com"), "example.com");
    ck_assert_ptr_null(addr_domain("nodomain"));
}
END_TEST

/* --- durations --------------------------------------------------------- */

START_TEST(test_duration)
{
    long s;
    char buf[32];
    SUP_ERR err;

    ck_assert_int_eq(duration_parse("7d", &s, &err), 0);
    ck_assert_int_eq(s, 7 * 86400);
    ck_assert_int_eq(duration_parse("90", &s, &err), 0);
    ck_assert_int_eq(s, 90);
    ck_assert_int_eq(duration_parse("1d12h", &s, &err), 0);
    ck_assert_int_eq(s, 86400 + 12 * 3600);
    ck_assert_int_eq(duration_parse("2w", &s, &err), 0);
    ck_assert_int_eq(s, 14 * 86400);
    ck_assert_int_eq(duration_parse("never", &s, &err), 0);
    ck_assert_int_eq(s, DURATION_NEVER);
    ck_assert_int_eq(duration_parse("7x", &s, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "unit"));
    ck_assert_int_eq(duration_parse("", &s, &err), -1);
    ck_assert_int_eq(duration_parse("-5d", &s, &err), -1);
    ck_assert_int_eq(duration_parse("99999999999999999999d", &s, &err), -1);
    ck_assert_str_eq(duration_format(7 * 86400, buf, sizeof(buf)), "1w");
    ck_assert_str_eq(duration_format(36 * 3600, buf, sizeof(buf)), "36h");
    ck_assert_str_eq(duration_format(DURATION_NEVER, buf, sizeof(buf)), "never");
    ck_assert_str_eq(time_format_iso(0, buf, sizeof(buf)), "never");
    ck_assert_str_eq(time_format_iso(1795305600, buf, sizeof(buf)), "2026-11-22T00:00:00Z");
    ck_assert_str_eq(time_format_day(1795305600 + 3600, buf, sizeof(buf)), "2026-11-22");
}
END_TEST

/* --- JSON -------------------------------------------------------------- */

static char *json_of(const char *s)
{
    static char buf[256];
    FILE *fp = fmemopen(buf, sizeof(buf), "w");

    json_string(fp, s);
    fclose(fp);
    return buf;
}

START_TEST(test_json)
{
    ck_assert_str_eq(json_of("plain"), "\"plain\"");
    ck_assert_str_eq(json_of("a\"b\\c\nd\te"), "\"a\\\"b\\\\c\\nd\\te\"");
    ck_assert_str_eq(json_of("\001"), "\"\\u0001\"");
    ck_assert_str_eq(json_of("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
    ck_assert_str_eq(json_of("bad \xe9 byte"), "\"bad \\u00e9 byte\"");
    ck_assert_str_eq(json_of("\xc0\xaf"), "\"\\u00c0\\u00af\"");
    ck_assert_str_eq(json_of(NULL), "null");
}
END_TEST

/* --- configuration ----------------------------------------------------- */

static char conf_path[64];

static const char *write_conf(const char *text)
{
    int fd;
    FILE *fp;

    strcpy(conf_path, "/tmp/check_lib_conf.XXXXXX");
    fd = mkstemp(conf_path);
    ck_assert_int_ge(fd, 0);
    fp = fdopen(fd, "w");
    fputs(text, fp);
    fclose(fp);
    return conf_path;
}

static struct sup_config *load_ok(const char *text)
{
    struct sup_config *cfg = NULL;
    SUP_ERR err;
    int rc = conf_load(write_conf(text), false, &cfg, &err);

    unlink(conf_path);
    ck_assert_msg(rc == 0, "load failed: %s", err.text);
    return cfg;
}

/* Load text expecting an error mentioning each of the given fragments. */
static void load_bad(const char *text, const char *fragment1, const char *fragment2)
{
    struct sup_config *cfg = NULL;
    SUP_ERR err;
    int rc = conf_load(write_conf(text), false, &cfg, &err);

    unlink(conf_path);
    ck_assert_msg(rc == -1, "accepted: %s", text);
    ck_assert_ptr_null(cfg);
    ck_assert_int_eq(err.cls, SUP_ERR_CONFIG);
    ck_assert_msg(strstr(err.text, conf_path) != NULL, "no file name in \"%s\"", err.text);
    ck_assert_msg(strstr(err.text, fragment1) != NULL, "no \"%s\" in \"%s\"", fragment1, err.text);
    if (fragment2 != NULL)
        ck_assert_msg(strstr(err.text, fragment2) != NULL, "no \"%s\" in \"%s\"", fragment2, err.text);
}

START_TEST(test_conf_defaults)
{
    struct sup_config *cfg = load_ok("# nothing but a comment\n");

    ck_assert_str_eq(cfg->milter.reject_code, "550");
    ck_assert_str_eq(cfg->milter.reject_xcode, "5.1.1");
    ck_assert_int_eq(cfg->milter.on_store_error, STORE_ERROR_ACCEPT);
    ck_assert_int_eq(cfg->milter.socket_mode, 0660);
    ck_assert_ptr_null(cfg->milter.user);
    ck_assert(!cfg->milter.dry_run);
    ck_assert_int_eq(cfg->policy.hard_bounce_ttl, 7 * 86400);
    ck_assert_int_eq(cfg->policy.soft_bounce_limit, 5);
    ck_assert_int_eq(cfg->policy.soft_bounce_window, 7 * 86400);
    ck_assert_int_eq(cfg->policy.complaint_ttl, DURATION_NEVER);
    ck_assert_int_eq(cfg->policy.never_suppress_count, 0);
    ck_assert_int_eq(cfg->ingest.max_message_size, 10 * 1024 * 1024);
    ck_assert_int_eq(cfg->ingest.max_line_length, 256 * 1024);
    ck_assert_int_eq(cfg->ingest.max_header_count, 10000);
    ck_assert_int_eq(cfg->ingest.max_recipients, 1000);
    ck_assert_ptr_null(cfg->ingest.verp_pattern);
    ck_assert_int_eq(cfg->ingest.trust, TRUST_SENT_OR_SIGNED);
    ck_assert(cfg->signing.enable);
    ck_assert_str_eq(cfg->signing.key_file, LOCALSTATEDIR "/lib/milter-suppress/signing.key");
    ck_assert_ptr_null(cfg->signing.bounce_address);
    ck_assert_int_eq(cfg->signing.validity, 14 * 86400);
    ck_assert(conf_signs_domain(cfg, "any.example"));
    ck_assert_ptr_null(cfg->policy_service.socket);
    ck_assert_int_eq(cfg->policy_service.idle_timeout, 600);
    ck_assert_int_eq(cfg->policy_service.request_timeout, 10);
    conf_free(cfg);
}
END_TEST

START_TEST(test_conf_signing)
{
    struct sup_config *cfg = load_ok("store = \"/srv/sup\"\n"
                                     "ingest { trust = \"Signed\" }\n"
                                     "signing {\n"
                                     "  bounce-address = \"bounces@bounce.example.org\"\n"
                                     "  sign-domains = { \"shop.example\", \".news.example\" }\n"
                                     "  validity = \"30d\"\n"
                                     "}\n");

    ck_assert_int_eq(cfg->ingest.trust, TRUST_SIGNED);
    ck_assert_str_eq(cfg->signing.key_file, "/srv/sup/signing.key");
    ck_assert_str_eq(cfg->signing.bounce_address, "bounces@bounce.example.org");
    ck_assert_int_eq(cfg->signing.validity, 30 * 86400);
    ck_assert(conf_signs_domain(cfg, "shop.example"));
    ck_assert(conf_signs_domain(cfg, "SHOP.example"));
    ck_assert(!conf_signs_domain(cfg, "eshop.example"));
    ck_assert(!conf_signs_domain(cfg, "mail.shop.example"));
    ck_assert(conf_signs_domain(cfg, "eu.news.example"));
    ck_assert(!conf_signs_domain(cfg, "news.example"));
    ck_assert(!conf_signs_domain(cfg, ""));
    conf_free(cfg);
    cfg = load_ok("signing { enable = false }\n");
    ck_assert(!conf_signs_domain(cfg, "any.example"));
    conf_free(cfg);
    for (enum ingest_trust t = TRUST_SENT_OR_SIGNED; t <= TRUST_ANY; t++) {
        enum ingest_trust back;

        ck_assert_int_eq(conf_trust_parse(conf_trust_name(t), &back), 0);
        ck_assert_int_eq(back, t);
    }
}
END_TEST

START_TEST(test_conf_values)
{
    struct sup_config *cfg = load_ok("store = \"/srv/sup\"\n"
                                     "milter {\n"
                                     "  socket = \"inet:8899@127.0.0.1\"\n"
                                     "  socket-mode = \"0600\"\n"
                                     "  user = \"nobody\"\n"
                                     "  reject-code = \"554\"\n"
                                     "  reject-xcode = \"5.7.1\"\n"
                                     "  reject-text = \"no %{recipient}\"\n"
                                     "  on-store-error = \"tempfail\"\n"
                                     "  dry-run = true\n"
                                     "  syslog-facility = \"local3\"\n"
                                     "}\n"
                                     "policy {\n"
                                     "  hard-bounce-ttl = \"3d\"\n"
                                     "  never-suppress = { \"blocked\", \"badreputation\" }\n"
                                     "  complaint-ttl = \"365d\"\n"
                                     "}\n"
                                     "ingest { max-message-size = \"512k\" verp-pattern = \"b+%{local}=%{domain}@x.org\"\n"
                                     "  max-line-length = \"2k\" max-header-count = 500 max-recipients = 50 }\n");

    ck_assert_str_eq(cfg->store, "/srv/sup");
    ck_assert_str_eq(cfg->milter.socket, "inet:8899@127.0.0.1");
    ck_assert_int_eq(cfg->milter.socket_mode, 0600);
    ck_assert_str_eq(cfg->milter.user, "nobody");
    ck_assert_str_eq(cfg->milter.reject_text, "no %{recipient}");
    ck_assert_int_eq(cfg->milter.on_store_error, STORE_ERROR_TEMPFAIL);
    ck_assert(cfg->milter.dry_run);
    ck_assert_int_eq(cfg->policy.hard_bounce_ttl, 3 * 86400);
    ck_assert_int_eq(cfg->policy.complaint_ttl, 365 * 86400);
    ck_assert(conf_never_suppresses(cfg, "blocked"));
    ck_assert(conf_never_suppresses(cfg, "badreputation"));
    ck_assert(!conf_never_suppresses(cfg, "userunknown"));
    ck_assert_int_eq(cfg->ingest.max_message_size, 512 * 1024);
    ck_assert_int_eq(cfg->ingest.max_line_length, 2048);
    ck_assert_int_eq(cfg->ingest.max_header_count, 500);
    ck_assert_int_eq(cfg->ingest.max_recipients, 50);
    ck_assert_str_eq(cfg->ingest.verp_pattern, "b+%{local}=%{domain}@x.org");
    conf_free(cfg);
}
END_TEST

START_TEST(test_conf_errors)
{
    load_bad("milter {\n  sockett = \"unix:/x\"\n}\n", ":2:", "sockett");
    load_bad("bogus = 1\n", ":1:", "bogus");
    load_bad("\n\npolicy {\n hard-bounce-ttl = \"7 days\"\n}\n", ":4:", "hard-bounce-ttl");
    load_bad("milter { on-store-error = \"maybe\" }\n", "on-store-error", "maybe");
    load_bad("milter { socket = \"/tmp/sock\" }\n", "socket", "unix:");
    load_bad("milter { socket-mode = \"rw\" }\n", "socket-mode", NULL);
    load_bad("milter { reject-code = \"250\" }\n", "reject-code", NULL);
    load_bad("milter { reject-xcode = \"5.1\" }\n", "reject-xcode", NULL);
    load_bad("milter { reject-code = \"450\" }\n", "reject-xcode", "does not match");
    load_bad("milter { syslog-facility = \"kern7\" }\n", "syslog-facility", NULL);
    load_bad("policy { soft-bounce-limit = 0 }\n", "soft-bounce-limit", NULL);
    load_bad("policy { soft-bounce-window = \"never\" }\n", "soft-bounce-window", "never");
    load_bad("policy { never-suppress = { \"Blocked!\" } }\n", "never-suppress", NULL);
    load_bad("store = \"relative/dir\"\n", "store", "absolute");
    load_bad("ingest { max-message-size = \"big\" }\n", "max-message-size", NULL);
    load_bad("ingest { max-line-length = \"0\" }\n", "max-line-length", NULL);
    load_bad("ingest { max-header-count = 0 }\n", "max-header-count", NULL);
    load_bad("ingest { max-recipients = -5 }\n", "max-recipients", NULL);
    load_bad("milter {\n  socket = \n}\n", ":3:", NULL);
    load_bad("ingest { trust = \"everyone\" }\n", "ingest.trust", "sent-or-signed");
    load_bad("signing { validity = \"400d\" }\n", "signing.validity", "365d");
    load_bad("signing { validity = \"never\" }\n", "signing.validity", NULL);
    load_bad("signing { sign-domains = { \"bad domain\" } }\n", "signing.sign-domains", "bad domain");
    load_bad("signing { bounce-address = \"not an address\" }\n", "signing.bounce-address", NULL);
    load_bad("signing { key-file = \"relative.key\" }\n", "signing.key-file", "absolute");
}
END_TEST

START_TEST(test_conf_replication)
{
    struct sup_config *cfg = load_ok("# no replication section\n");

    ck_assert(!cfg->replication.enable);
    conf_free(cfg);
    cfg = load_ok("replication {\n"
                  "  local = \"10.0.0.2:7600\"\n"
                  "  peers = { \"10.0.0.1:7600\", \"relay-c.lan:7601\", \"[fd00::3]:7600\" }\n"
                  "  role = \"elect\"\n"
                  "  priority = 50\n"
                  "  ack-policy = \"quorum\"\n"
                  "}\n");
    ck_assert(cfg->replication.enable);
    ck_assert_str_eq(cfg->replication.local.host, "10.0.0.2");
    ck_assert_uint_eq(cfg->replication.local.port, 7600);
    ck_assert_uint_eq(cfg->replication.peer_count, 3);
    ck_assert_str_eq(cfg->replication.peers[1].host, "relay-c.lan");
    ck_assert_uint_eq(cfg->replication.peers[1].port, 7601);
    ck_assert_str_eq(cfg->replication.peers[2].host, "fd00::3");
    ck_assert_int_eq(cfg->replication.role, REP_ROLE_ELECT);
    ck_assert_int_eq(cfg->replication.priority, 50);
    ck_assert_int_eq(cfg->replication.ack_policy, REP_ACK_QUORUM);
    ck_assert(!cfg->replication.allow_public);
    conf_free(cfg);
    /* The defaults of the keys not given. */
    cfg = load_ok("replication { local = \"127.0.0.1:7600\" peers = { \"127.0.0.1:7601\" } }\n");
    ck_assert_int_eq(cfg->replication.role, REP_ROLE_REPLICA);
    ck_assert_int_eq(cfg->replication.priority, 100);
    ck_assert_int_eq(cfg->replication.ack_policy, REP_ACK_ONE);
    conf_free(cfg);
    /* A public address only when the operator says so. */
    load_bad("replication { local = \"192.0.2.7:7600\" peers = { \"10.0.0.1:7600\" } }\n",
             "replication.local", "not a loopback or private");
    load_bad("replication { local = \"0.0.0.0:7600\" peers = { \"10.0.0.1:7600\" } }\n",
             "replication.local", "allow-public");
    cfg = load_ok("replication { local = \"192.0.2.7:7600\" peers = { \"10.0.0.1:7600\" }"
                  " allow-public = true }\n");
    ck_assert(cfg->replication.allow_public);
    conf_free(cfg);
    ck_assert(conf_rep_address_private("172.31.255.1"));
    ck_assert(!conf_rep_address_private("172.32.0.1"));
    ck_assert(conf_rep_address_private("::1"));
    ck_assert(conf_rep_address_private("fe80::1"));
    ck_assert(!conf_rep_address_private("2001:db8::1"));
    ck_assert(!conf_rep_address_private("relay.example"));
    load_bad("replication { role = \"master\" }\n", "replication.local", "required");
    load_bad("replication { local = \"10.0.0.2:7600\" }\n", "replication.peers", "at least one");
    load_bad("replication { local = \"relay-b.lan:7600\" peers = { \"10.0.0.1:7600\" } }\n",
             "replication.local", "not an IP address");
    load_bad("replication { local = \"10.0.0.2\" peers = { \"10.0.0.1:7600\" } }\n",
             "replication.local", "host:port");
    load_bad("replication { local = \"10.0.0.2:99999\" peers = { \"10.0.0.1:7600\" } }\n",
             "replication.local", "port");
    load_bad("replication { local = \"10.0.0.2:7600\" peers = { \"fd00::3:7600\" } }\n",
             "replication.peers", "brackets");
    load_bad("replication { local = \"10.0.0.2:7600\" peers = { \"10.0.0.2:7600\" } }\n",
             "replication.peers", "is this site");
    load_bad("replication { role = \"boss\" }\n", "replication.role", "master, replica, elect");
    load_bad("replication { ack-policy = \"most\" }\n", "replication.ack-policy", "quorum");
    load_bad("replication { local = \"10.0.0.2:7600\" peers = { \"10.0.0.1:7600\" } role = \"elect\""
             " priority = 0 }\n", "replication.priority", "election");
}
END_TEST

START_TEST(test_conf_unreadable)
{
    struct sup_config *cfg = NULL;
    SUP_ERR err;

    ck_assert_int_eq(conf_load("/nonexistent/milter-suppress.conf", false, &cfg, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "/nonexistent/milter-suppress.conf"));
    ck_assert_int_eq(conf_load("/nonexistent/milter-suppress.conf", true, &cfg, &err), 0);
    ck_assert_ptr_nonnull(cfg);
    conf_free(cfg);
}
END_TEST

static Suite *lib_suite(void)
{
    Suite *s = suite_create("libsuppress");
    TCase *tc = tcase_create("core");

    tcase_add_loop_test(tc, test_addr_good, 0, sizeof(good_addresses) / sizeof(good_addresses[0]));
    tcase_add_loop_test(tc, test_addr_bad, 0, sizeof(bad_addresses) / sizeof(bad_addresses[0]));
    tcase_add_test(tc, test_addr_lengths);
    tcase_add_test(tc, test_addr_domain);
    tcase_add_test(tc, test_duration);
    tcase_add_test(tc, test_json);
    tcase_add_test(tc, test_conf_defaults);
    tcase_add_test(tc, test_conf_values);
    tcase_add_test(tc, test_conf_signing);
    tcase_add_test(tc, test_conf_errors);
    tcase_add_test(tc, test_conf_unreadable);
    tcase_add_test(tc, test_conf_replication);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lib_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
