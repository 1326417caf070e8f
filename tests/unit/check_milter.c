/*
 * check_milter.c: unit tests of the milter's parts other than the reply
 * template: the socket syntax (listen_socket.c), the reloadable config
 * (live_conf.c), the counters and rejection queue with their flush to a
 * real store in a temp directory (stats.c), and how the RCPT callback
 * tells Postfix cleanup(8)'s non-SMTP session from an SMTP client
 * (filter.c; the whole path runs in integration/postfix-nonsmtp.sh).
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "duration.h"
#include "filter.h"
#include "listen_socket.h"
#include "live_conf.h"
#include "retpath.h"
#include "signing.h"
#include "stats.h"
#include "store.h"

static char tmpdir[] = "/tmp/check_milter.XXXXXX";
static char storedir[256];

static void make_tmpdir(void)
{
    strcpy(tmpdir, "/tmp/check_milter.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    snprintf(storedir, sizeof(storedir), "%s/store", tmpdir);
}

static void remove_tmpdir(void)
{
    char cmd[300];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ------------------------------------------------------------ socket spec */

START_TEST(test_listen_parse_forms)
{
    struct listen_spec ls;
    SUP_ERR err;

    ck_assert_int_eq(listen_parse("unix:/run/m.sock", &ls, &err), 0);
    ck_assert_int_eq(ls.family, LISTEN_UNIX);
    ck_assert_str_eq(ls.path, "/run/m.sock");
    ck_assert_int_eq(listen_parse("local:/run/m.sock", &ls, &err), 0);
    ck_assert_int_eq(ls.family, LISTEN_UNIX);
    ck_assert_int_eq(listen_parse("inet:8899@127.0.0.1", &ls, &err), 0);
    ck_assert_int_eq(ls.family, LISTEN_INET);
    ck_assert_uint_eq(ls.port, 8899);
    ck_assert_int_eq(listen_parse("inet6:10025@::1", &ls, &err), 0);
    ck_assert_int_eq(ls.family, LISTEN_INET6);
    ck_assert_uint_eq(ls.port, 10025);
}
END_TEST

START_TEST(test_listen_parse_errors)
{
    struct listen_spec ls;
    SUP_ERR err;
    char longpath[200];

    ck_assert_int_eq(listen_parse("unix:relative.sock", &ls, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "absolute"));
    /* Postfix's form, not libmilter's: the classic mistake (G5). */
    ck_assert_int_eq(listen_parse("inet:127.0.0.1:8899", &ls, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "port"));
    ck_assert_int_eq(listen_parse("inet:0@127.0.0.1", &ls, &err), -1);
    ck_assert_int_eq(listen_parse("inet:70000@127.0.0.1", &ls, &err), -1);
    ck_assert_int_eq(listen_parse("inet:25@", &ls, &err), -1);
    ck_assert_int_eq(listen_parse("tcp:25", &ls, &err), -1);
    ck_assert_int_eq(err.cls, SUP_ERR_CONFIG);
    ck_assert_int_eq(listen_parse("", &ls, &err), -1);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    {
        char spec[220];

        snprintf(spec, sizeof(spec), "unix:%s", longpath);
        ck_assert_int_eq(listen_parse(spec, &ls, &err), -1);
        ck_assert_ptr_nonnull(strstr(err.text, "longer"));
    }
}
END_TEST

START_TEST(test_claim_path)
{
    char path[300];
    FILE *f;
    SUP_ERR err;

    make_tmpdir();
    snprintf(path, sizeof(path), "%s/absent.sock", tmpdir);
    ck_assert_int_eq(listen_claim_path(path, &err), 0);
    snprintf(path, sizeof(path), "%s/file", tmpdir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(listen_claim_path(path, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "not a socket"));
    ck_assert_int_eq(access(path, F_OK), 0);        /* never removed */
    remove_tmpdir();
}
END_TEST

/* -------------------------------------------------------------- live conf */

/* A config of the store plus `sections` (libconfuse text), loaded. */
static struct sup_config *load_conf(const char *sections)
{
    char path[300];
    struct sup_config *cfg;
    SUP_ERR err;
    FILE *f;

    snprintf(path, sizeof(path), "%s/m.conf", tmpdir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "store = \"%s\"\n%s", storedir, sections);
    fclose(f);
    ck_assert_msg(conf_load(path, false, &cfg, &err) == 0, "%s", err.text);
    return cfg;
}

static struct sup_config *load_with_text(const char *text)
{
    char sections[200];

    snprintf(sections, sizeof(sections), "milter {\n  reject-text = \"%s\"\n}\n", text);
    return load_conf(sections);
}

START_TEST(test_live_conf_replace)
{
    struct live_conf *old_ref, *new_ref;

    make_tmpdir();
    live_conf_init(load_with_text("first"), NULL);
    old_ref = live_conf_acquire();
    ck_assert_str_eq(live_conf_get(old_ref)->milter.reject_text, "first");
    live_conf_replace(load_with_text("second"), NULL);
    /* A callback that took the old config before the reload still reads it. */
    ck_assert_str_eq(live_conf_get(old_ref)->milter.reject_text, "first");
    new_ref = live_conf_acquire();
    ck_assert_str_eq(live_conf_get(new_ref)->milter.reject_text, "second");
    live_conf_release(old_ref);         /* the old config goes here */
    live_conf_release(new_ref);
    new_ref = live_conf_acquire();
    ck_assert_str_eq(live_conf_get(new_ref)->milter.reject_text, "second");
    live_conf_release(new_ref);
    live_conf_shutdown();
    ck_assert_ptr_null(live_conf_acquire());
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------------------------ stats */

static STORE *open_store(int flags)
{
    STORE *st;
    SUP_ERR err;

    ck_assert_msg(store_open(storedir, flags, &st, &err) == 0, "%s", err.text);
    return st;
}

struct counter_query {
    const char *day;
    const char *name;
    uint64_t value;
};

static int find_counter(const char *day, const char *name, uint64_t value, void *ctx)
{
    struct counter_query *q = ctx;

    if (strcmp(day, q->day) == 0 && strcmp(name, q->name) == 0)
        q->value = value;
    return 0;
}

static uint64_t counter(STORE *st, time_t when, const char *name)
{
    char day[16];
    struct counter_query q = { day, name, 0 };
    SUP_ERR err;

    time_format_day(when, day, sizeof(day));
    ck_assert_int_eq(store_counters(st, find_counter, &q, &err), 0);
    return q.value;
}

static int count_event(const STORE_EVENT *ev, void *ctx)
{
    int *n = ctx;

    ck_assert_int_eq(ev->type, STORE_EV_REJECTED);
    ck_assert_str_eq(ev->actor, "sender@example.org");
    ck_assert_str_eq(ev->detail, "192.0.2.1");
    ck_assert_str_eq(ev->reason, "hard-bounce");
    (*n)++;
    return 0;
}

static int events_of(STORE *st, const char *addr)
{
    int n = 0;
    SUP_ERR err;

    ck_assert_int_eq(store_events(st, NULL, addr, count_event, &n, &err), 0);
    return n;
}

static void rejection(struct stats_rejection *r, const char *addr, time_t now)
{
    memset(r, 0, sizeof(*r));
    r->when = now;
    strcpy(r->address, addr);
    strcpy(r->reason, "hard-bounce");
    strcpy(r->status, "5.1.1");
    strcpy(r->actor, "sender@example.org");
    strcpy(r->detail, "192.0.2.1");
    strcpy(r->response, "550 5.1.1 suppressed");
}

START_TEST(test_flush_counters_by_day)
{
    time_t now = time(NULL);
    time_t yesterday = now - 86400;
    STORE *st;
    SUP_ERR err;
    int i;

    make_tmpdir();
    st = open_store(STORE_CREATE);
    for (i = 0; i < 5; i++)
        stats_count_accepted(now);
    stats_count_rejected(now);
    stats_count_accepted(yesterday);    /* counted before midnight, flushed after */
    ck_assert_msg(stats_flush(st, &err) == 0, "%s", err.text);
    ck_assert_uint_eq(counter(st, now, STORE_CTR_ACCEPTED), 5);
    ck_assert_uint_eq(counter(st, now, STORE_CTR_REJECTED), 1);
    ck_assert_uint_eq(counter(st, yesterday, STORE_CTR_ACCEPTED), 1);
    /* A second flush adds only what was counted since. */
    stats_count_accepted(now);
    ck_assert_int_eq(stats_flush(st, &err), 0);
    ck_assert_uint_eq(counter(st, now, STORE_CTR_ACCEPTED), 6);
    ck_assert_int_eq(store_close(st, &err), 0);
    remove_tmpdir();
}
END_TEST

START_TEST(test_flush_failure_keeps_everything)
{
    time_t now = time(NULL);
    struct stats_rejection r;
    STORE *st, *ro;
    SUP_ERR err;

    make_tmpdir();
    st = open_store(STORE_CREATE);
    ro = open_store(STORE_RDONLY);
    stats_count_accepted(now);
    rejection(&r, "kept@example.com", now);     /* counted with its event */
    ck_assert(stats_queue_rejection(&r));
    /* A store that refuses writes: the flush fails ... */
    ck_assert_int_eq(stats_flush(ro, &err), -1);
    ck_assert_int_ne(err.cls, SUP_OK);
    /* ... and the next one writes all of it. */
    ck_assert_msg(stats_flush(st, &err) == 0, "%s", err.text);
    ck_assert_uint_eq(counter(st, now, STORE_CTR_ACCEPTED), 1);
    ck_assert_uint_eq(counter(st, now, STORE_CTR_REJECTED), 1);
    ck_assert_int_eq(events_of(st, "kept@example.com"), 1);
    ck_assert_int_eq(store_close(ro, &err), 0);
    ck_assert_int_eq(store_close(st, &err), 0);
    remove_tmpdir();
}
END_TEST

START_TEST(test_queue_bounded)
{
    time_t now = time(NULL);
    struct stats_rejection r;
    STORE *st;
    SUP_ERR err;
    int i, queued = 0;

    make_tmpdir();
    st = open_store(STORE_CREATE);
    rejection(&r, "many@example.com", now);
    for (i = 0; i < STATS_QUEUE_MAX + 10; i++)
        queued += stats_queue_rejection(&r);
    ck_assert_int_eq(queued, STATS_QUEUE_MAX);      /* the rest dropped, counted */
    ck_assert_msg(stats_flush(st, &err) == 0, "%s", err.text);
    /* All queued events reach the store (the timeline keeps them all: no
     * max-events limit without a loaded config). */
    ck_assert_int_eq(events_of(st, "many@example.com"), STATS_QUEUE_MAX);
    /* The queue is empty again. */
    ck_assert(stats_queue_rejection(&r));
    ck_assert_int_eq(stats_flush(st, &err), 0);
    ck_assert_int_eq(events_of(st, "many@example.com"), STATS_QUEUE_MAX + 1);
    ck_assert_int_eq(store_close(st, &err), 0);
    remove_tmpdir();
}
END_TEST

START_TEST(test_refused_event_dropped_alone)
{
    time_t now = time(NULL);
    struct stats_rejection good1, bad, good2;
    STORE *st;
    SUP_ERR err;

    make_tmpdir();
    st = open_store(STORE_CREATE);
    rejection(&good1, "first@example.com", now);
    rejection(&bad, "", now);           /* the store refuses an empty address */
    rejection(&good2, "second@example.com", now);
    ck_assert(stats_queue_rejection(&good1));
    ck_assert(stats_queue_rejection(&bad));
    ck_assert(stats_queue_rejection(&good2));
    ck_assert_msg(stats_flush(st, &err) == 0, "%s", err.text);
    ck_assert_int_eq(events_of(st, "first@example.com"), 1);
    ck_assert_int_eq(events_of(st, "second@example.com"), 1);
    /* Nothing left behind to block the queue. */
    ck_assert_int_eq(stats_flush(st, &err), 0);
    ck_assert_int_eq(events_of(st, "first@example.com"), 1);
    ck_assert_int_eq(store_close(st, &err), 0);
    remove_tmpdir();
}
END_TEST

/* ------------------------------------------------- non-SMTP connections */

static struct sockaddr_in inet_client(const char *ip, unsigned short port)
{
    struct sockaddr_in sin;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return sin;
}

START_TEST(test_connect_is_cleanup)
{
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;

    /* What Postfix cleanup(8) sends for sendmail(1) mail. */
    sin = inet_client("127.0.0.1", 0);
    ck_assert(filter_connect_is_cleanup((struct sockaddr *) &sin));
    /* smtpd: the client's real port, loopback or not. */
    sin = inet_client("127.0.0.1", 40312);
    ck_assert(!filter_connect_is_cleanup((struct sockaddr *) &sin));
    sin = inet_client("192.0.2.7", 40312);
    ck_assert(!filter_connect_is_cleanup((struct sockaddr *) &sin));
    /* Port 0 from another address is not cleanup's emulation. */
    sin = inet_client("192.0.2.7", 0);
    ck_assert(!filter_connect_is_cleanup((struct sockaddr *) &sin));
    sin = inet_client("127.0.0.2", 0);
    ck_assert(!filter_connect_is_cleanup((struct sockaddr *) &sin));
    /* IPv6 loopback, port 0: cleanup never sends it; treated as SMTP. */
    memset(&sin6, 0, sizeof(sin6));
    sin6.sin6_family = AF_INET6;
    sin6.sin6_addr = in6addr_loopback;
    ck_assert(!filter_connect_is_cleanup((struct sockaddr *) &sin6));
    /* No address at all (Sendmail's local submissions): as SMTP. */
    ck_assert(!filter_connect_is_cleanup(NULL));
}
END_TEST

/* The same from the RCPT macros, when connect is skipped. */
START_TEST(test_macros_are_cleanup)
{
    ck_assert(filter_macros_are_cleanup("127.0.0.1", "0"));
    ck_assert(!filter_macros_are_cleanup("127.0.0.1", "40312"));
    ck_assert(!filter_macros_are_cleanup("192.0.2.7", "0"));
    ck_assert(!filter_macros_are_cleanup("IPv6:::1", "0"));
    /* A macro the MTA did not send: not cleanup, refused at RCPT. */
    ck_assert(!filter_macros_are_cleanup("127.0.0.1", NULL));
    ck_assert(!filter_macros_are_cleanup(NULL, "0"));
}
END_TEST

START_TEST(test_client_from_macro)
{
    static const struct {
        const char *macro, *client;
    } cases[] = {
        { "192.0.2.7", "192.0.2.7" },
        { "IPv6:2001:db8::7", "2001:db8::7" },
        { "ipv6:::1", "::1" },
        /* Not an address: "unknown", never the MTA's text in a record. */
        { "client.example", "unknown" },
        { "192.0.2.7\n", "unknown" },
        { "", "unknown" },
        { NULL, "unknown" },
    };
    char out[INET6_ADDRSTRLEN];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        filter_client_from_macro(cases[i].macro, out, sizeof(out));
        ck_assert_str_eq(out, cases[i].client);
    }
    /* Too long for out. */
    filter_client_from_macro("IPv6:0000:0000:0000:0000:0000:ffff:192.168.100.228", out, 16);
    ck_assert_str_eq(out, "unknown");
}
END_TEST

/* ---------------------------------------------------------------- signing */

static struct sup_config *load_signing_conf(const char *signing_section)
{
    char sections[400];

    snprintf(sections, sizeof(sections), "signing {\n%s\n}\n", signing_section);
    return load_conf(sections);
}

/* signing_return_path with the given sender and recipients; "" = not rewritten. */
static const char *return_path(const struct sup_config *cfg, const RETPATH_KEYS *keys,
                               const char *sender, unsigned long accepted, const char *rcpt)
{
    static char out[RETPATH_ADDR_MAX + 1];
    SUP_ERR err;
    int rc = signing_return_path(cfg, keys, sender, accepted, rcpt, time(NULL), out,
                                 sizeof(out), &err);

    ck_assert_msg(rc >= 0, "%s", err.text);
    if (rc == 0)
        out[0] = '\0';
    return out;
}

START_TEST(test_signing_choice)
{
    struct sup_config *cfg;
    RETPATH_KEYS keys;
    RETPATH_CHECK check;
    struct stat sb;
    char path[300];
    SUP_ERR err;
    const char *rp;

    make_tmpdir();
    ck_assert_int_eq(mkdir(storedir, 0700), 0);
    cfg = load_signing_conf("bounce-address = \"bounces@bounce.example.org\"\n"
                            "sign-domains = { \"shop.example\" }");
    ck_assert_msg(signing_load_keys(cfg, &keys, &err) == 0, "%s", err.text);
    ck_assert_int_eq(keys.count, 1);
    snprintf(path, sizeof(path), "%s/signing.key", storedir);
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);

    /* One recipient: VERP naming it. */
    rp = return_path(cfg, &keys, "App@Shop.Example", 1, "alice@example.com");
    retpath_verify(&keys, cfg->signing.bounce_address, rp, time(NULL), 14, &check);
    ck_assert_int_eq(check.verdict, RETPATH_VALID);
    ck_assert_int_eq(check.form, RETPATH_VERP);
    ck_assert_str_eq(check.address, "alice@example.com");
    /* Several, or one we could not parse, or one VERP cannot carry: prvs, case kept. */
    rp = return_path(cfg, &keys, "App@Shop.Example", 2, "alice@example.com");
    ck_assert_msg(strncmp(rp, "prvs=", 5) == 0 && strcmp(rp + 16, "App@Shop.Example") == 0, "%s", rp);
    retpath_verify(&keys, cfg->signing.bounce_address, rp, time(NULL), 14, &check);
    ck_assert_int_eq(check.verdict, RETPATH_VALID);
    ck_assert_int_eq(check.form, RETPATH_PRVS);
    ck_assert_str_eq(check.address, "app@shop.example");
    ck_assert_int_eq(strncmp(return_path(cfg, &keys, "app@shop.example", 1, NULL), "prvs=", 5), 0);
    ck_assert_int_eq(strncmp(return_path(cfg, &keys, "app@shop.example", 1,
                                         "\"a b\"@example.com"), "prvs=", 5), 0);
    /* Never rewritten. */
    ck_assert_str_eq(return_path(cfg, &keys, "", 1, "alice@example.com"), "");
    ck_assert_str_eq(return_path(cfg, &keys, "app@other.example", 1, "alice@example.com"), "");
    ck_assert_str_eq(return_path(cfg, &keys, "prvs=1234abcdef=app@shop.example", 2, NULL), "");
    ck_assert_str_eq(return_path(cfg, &keys, "app@shop.example", 0, NULL), "");
    ck_assert_str_eq(return_path(cfg, NULL, "app@shop.example", 1, "alice@example.com"), "");
    conf_free(cfg);

    /* No bounce address: prvs for one recipient too. */
    cfg = load_signing_conf("");
    ck_assert_int_eq(strncmp(return_path(cfg, &keys, "app@any.example", 1, "alice@example.com"),
                             "prvs=", 5), 0);
    conf_free(cfg);
    /* Off: no key file is made, nothing is signed. */
    cfg = load_signing_conf("enable = false\nkey-file = \"/nonexistent/dir/k\"");
    ck_assert_int_eq(signing_load_keys(cfg, &keys, &err), 0);
    ck_assert_int_eq(keys.count, 0);
    live_conf_init(cfg, &keys);
    {
        struct live_conf *ref = live_conf_acquire();

        ck_assert_ptr_null(live_conf_keys(ref));
        live_conf_release(ref);
    }
    live_conf_shutdown();
    /* On, with a key file that cannot be made: an error naming it. */
    cfg = load_signing_conf("key-file = \"/nonexistent/dir/k\"");
    ck_assert_int_eq(signing_load_keys(cfg, &keys, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.text, "/nonexistent/dir/k"));
    conf_free(cfg);
    remove_tmpdir();
}
END_TEST

static Suite *milter_suite(void)
{
    Suite *s = suite_create("milter");
    TCase *tc = tcase_create("parts");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_listen_parse_forms);
    tcase_add_test(tc, test_listen_parse_errors);
    tcase_add_test(tc, test_claim_path);
    tcase_add_test(tc, test_live_conf_replace);
    tcase_add_test(tc, test_flush_counters_by_day);
    tcase_add_test(tc, test_flush_failure_keeps_everything);
    tcase_add_test(tc, test_queue_bounded);
    tcase_add_test(tc, test_refused_event_dropped_alone);
    tcase_add_test(tc, test_connect_is_cleanup);
    tcase_add_test(tc, test_macros_are_cleanup);
    tcase_add_test(tc, test_client_from_macro);
    tcase_add_test(tc, test_signing_choice);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(milter_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
