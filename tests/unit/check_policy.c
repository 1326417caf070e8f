/*
 * check_policy.c: unit tests of policy.c and ingest.c on a real store (a
 * Berkeley DB environment in a temporary directory): what each class of
 * bounce does to the suppression list, the timeline and the counters, and
 * that processing a message twice changes nothing.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <gmime/gmime.h>

#include "bounce.h"
#include "conf.h"
#include "duration.h"
#include "ingest.h"
#include "decide/policy.h"
#include "store.h"
#include "sample.h"

#define DAY (24L * 3600)
#define T0 ((time_t) 1772400000)     /* a fixed "now": 2026-03-01 */

static char *tmpdir;
static struct sup_config *cfg;
static STORE *st;
static const char *top_lines = "";     /* top-level keys of the next setup */

/* A config file with the given extra policy lines, loaded for real. */
static void setup_with(const char *policy_lines)
{
    char tmpl[] = "/tmp/check_policy.XXXXXX";
    char *conf_path;
    char *text;
    SUP_ERR err;

    tmpdir = g_strdup(mkdtemp(tmpl));
    ck_assert_ptr_nonnull(tmpdir);
    conf_path = g_strdup_printf("%s/test.conf", tmpdir);
    text = g_strdup_printf("%sstore = \"%s/store\"\n"
                           "policy {\n%s\n}\n"
                           "ingest {\n  quarantine = \"%s/quarantine\"\n}\n",
                           top_lines, tmpdir, policy_lines, tmpdir);
    ck_assert(g_file_set_contents(conf_path, text, -1, NULL));
    ck_assert_msg(conf_load(conf_path, false, &cfg, &err) == 0, "%s", err.text);
    ck_assert_msg(store_open(cfg->store, STORE_CREATE, &st, &err) == 0, "%s", err.text);
    g_free(conf_path);
    g_free(text);
}

static void setup(void)
{
    setup_with("");
}

static void setup_strict(void)
{
    setup_with("  never-suppress = {\"policyviolation\"}\n"
               "  suppress-forwarded = true\n"
               "  timeline-max-events = 3\n");
}

static void setup_tenants(void)
{
    top_lines = "tenant = \"sender-domain\"\n";
    setup_with("");
    top_lines = "";
}

static void teardown(void)
{
    char *cmd = g_strdup_printf("rm -rf '%s'", tmpdir);

    store_close(st, NULL);
    conf_free(cfg);
    ck_assert_int_eq(system(cmd), 0);
    g_free(cmd);
    g_free(tmpdir);
}

/* One recipient report; strings are copied. */
static void make_report(BOUNCE_REPORT *r, enum report_kind kind, const char *addr, enum bounce_class cls,
                        const char *reason, const char *status, const char *diagnostic)
{
    BOUNCE_RCPT *rcpt;

    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->detector = "test";
    rcpt = report_add(r);
    ck_assert_ptr_nonnull(rcpt);
    if (addr != NULL)
        rcpt_set(&rcpt->recipient, addr);
    rcpt->cls = cls;
    rcpt->reason = reason;
    rcpt_set(&rcpt->status, status);
    rcpt_set(&rcpt->diagnostic, diagnostic);
}

/* Apply a report in its own transaction at time `now`; its recipients
 * are believed unless `not_believed` gives the reason they are not. */
static void apply_judged(const BOUNCE_REPORT *r, time_t now, const char *not_believed,
                         POLICY_DECISION *decisions)
{
    TRUST_VERDICT *verdicts = calloc(r->count + 1, sizeof(*verdicts));
    STORE_TXN *txn;
    SUP_ERR err;

    ck_assert_ptr_nonnull(verdicts);
    for (size_t i = 0; i < r->count; i++) {
        verdicts[i].believed = not_believed == NULL;
        snprintf(verdicts[i].how, sizeof(verdicts[i].how), "%s",
                 not_believed != NULL ? not_believed : "unchecked (trust any)");
    }
    ck_assert_msg(store_begin(st, &txn, &err) == 0, "%s", err.text);
    ck_assert_msg(policy_apply(cfg, st, txn, r, verdicts, "mid:<test@example>", now, decisions,
                               &err) == 0, "%s", err.text);
    ck_assert_msg(store_commit(txn, &err) == 0, "%s", err.text);
    free(verdicts);
}

static void apply(const BOUNCE_REPORT *r, time_t now, POLICY_DECISION *decisions)
{
    apply_judged(r, now, NULL, decisions);
}

/* A believed report about tenant's mail (trust.h found it). */
static void apply_for(const BOUNCE_REPORT *r, time_t now, const char *tenant,
                      POLICY_DECISION *decisions)
{
    TRUST_VERDICT verdicts[4];
    STORE_TXN *txn;
    SUP_ERR err;

    memset(verdicts, 0, sizeof(verdicts));
    ck_assert_uint_le(r->count, 4);
    for (size_t i = 0; i < r->count; i++) {
        verdicts[i].believed = true;
        snprintf(verdicts[i].how, sizeof(verdicts[i].how), "ledger");
        snprintf(verdicts[i].tenant, sizeof(verdicts[i].tenant), "%s", tenant);
    }
    ck_assert_msg(store_begin(st, &txn, &err) == 0, "%s", err.text);
    ck_assert_msg(policy_apply(cfg, st, txn, r, verdicts, "mid:<t@example>", now, decisions,
                               &err) == 0, "%s", err.text);
    ck_assert_msg(store_commit(txn, &err) == 0, "%s", err.text);
}

static POLICY_DECISION apply_one(enum report_kind kind, const char *addr, enum bounce_class cls,
                                 const char *reason, time_t now)
{
    BOUNCE_REPORT r;
    POLICY_DECISION d;

    make_report(&r, kind, addr, cls, reason, cls == CLASS_SOFT ? "4.2.2" : "5.1.1",
                "550 5.1.1 <x>: Recipient address rejected: User unknown");
    apply(&r, now, &d);
    report_clear(&r);
    return d;
}

static bool get_entry(const char *addr, STORE_ENTRY *entry)
{
    SUP_ERR err;
    int rc = store_get(st, NULL, addr, entry, &err);

    ck_assert_msg(rc >= 0, "%s", err.text);
    return rc == 1;
}

struct event_list {
    int count;
    STORE_EVENT last;
    int of_type[STORE_EV_LAST + 1];
};

static int collect_event(const STORE_EVENT *ev, void *ctx)
{
    struct event_list *list = ctx;

    list->count++;
    list->last = *ev;
    if (ev->type >= 1 && ev->type <= STORE_EV_LAST)
        list->of_type[ev->type]++;
    return 0;
}

static struct event_list events_of(const char *addr)
{
    struct event_list list;
    SUP_ERR err;

    memset(&list, 0, sizeof(list));
    ck_assert_msg(store_events(st, NULL, addr, collect_event, &list, &err) == 0, "%s", err.text);
    return list;
}

struct counter_query {
    const char *name;
    uint64_t value;
};

static int find_counter(const char *day, const char *name, uint64_t value, void *ctx)
{
    struct counter_query *q = ctx;

    (void) day;
    if (strcmp(name, q->name) == 0)
        q->value += value;
    return 0;
}

static uint64_t counter(const char *name)
{
    struct counter_query q = { name, 0 };
    SUP_ERR err;

    ck_assert_msg(store_counters(st, find_counter, &q, &err) == 0, "%s", err.text);
    return q.value;
}

/* ---- hard bounces ----------------------------------------------------- */

START_TEST(test_hard_suppresses_for_ttl)
{
    STORE_ENTRY e;
    POLICY_DECISION d = apply_one(REPORT_BOUNCE, "Hard@Example.com", CLASS_HARD, "userunknown", T0);
    struct event_list ev;

    ck_assert_int_eq(d.action, POLICY_SUPPRESSED);
    ck_assert_str_eq(d.address, "hard@example.com");
    ck_assert(get_entry("hard@example.com", &e));
    ck_assert_int_eq(e.reason, STORE_REASON_HARD_BOUNCE);
    ck_assert_int_eq(e.expires, T0 + 7 * DAY);
    ck_assert_int_eq(e.first_event, T0);
    ck_assert_uint_eq(e.count, 1);
    ck_assert_str_eq(e.source, "suppress-ingest");
    ck_assert_str_eq(e.detail, "userunknown");
    ck_assert_str_eq(e.status, "5.1.1");
    ck_assert_str_eq(e.response, "550 5.1.1 <x>: Recipient address rejected: User unknown");
    ev = events_of("hard@example.com");
    ck_assert_int_eq(ev.count, 1);
    ck_assert_int_eq(ev.last.type, STORE_EV_HARD_BOUNCE);
    ck_assert_str_eq(ev.last.response, "550 5.1.1 <x>: Recipient address rejected: User unknown");
    ck_assert_str_eq(ev.last.detail, "mid:<test@example>");
    ck_assert_str_eq(ev.last.reason, "userunknown");
    ck_assert_uint_eq(counter("bounce.hard"), 1);
}
END_TEST

START_TEST(test_later_hard_extends)
{
    STORE_ENTRY e;
    POLICY_DECISION d;

    apply_one(REPORT_BOUNCE, "h@example.com", CLASS_HARD, "userunknown", T0);
    d = apply_one(REPORT_BOUNCE, "h@example.com", CLASS_HARD, "userunknown", T0 + 2 * DAY);
    ck_assert_int_eq(d.action, POLICY_EXTENDED);
    ck_assert(get_entry("h@example.com", &e));
    ck_assert_int_eq(e.expires, T0 + 9 * DAY);
    ck_assert_int_eq(e.first_event, T0);
    ck_assert_int_eq(e.last_event, T0 + 2 * DAY);
    ck_assert_uint_eq(e.count, 2);
    ck_assert_int_eq(events_of("h@example.com").count, 2);
    ck_assert_uint_eq(counter("bounce.hard"), 2);
}
END_TEST

START_TEST(test_expired_entry_starts_over)
{
    STORE_ENTRY e;
    POLICY_DECISION d;

    apply_one(REPORT_BOUNCE, "old@example.com", CLASS_HARD, "userunknown", T0);
    d = apply_one(REPORT_BOUNCE, "old@example.com", CLASS_HARD, "userunknown", T0 + 30 * DAY);
    ck_assert_int_eq(d.action, POLICY_SUPPRESSED);
    ck_assert(get_entry("old@example.com", &e));
    ck_assert_uint_eq(e.count, 1);
    ck_assert_int_eq(e.first_event, T0 + 30 * DAY);
    ck_assert_int_eq(e.expires, T0 + 37 * DAY);
}
END_TEST

START_TEST(test_permanent_not_shortened)
{
    STORE_ENTRY e;
    POLICY_DECISION d;
    SUP_ERR err;

    memset(&e, 0, sizeof(e));
    strcpy(e.address, "vip@example.com");
    e.reason = STORE_REASON_MANUAL;
    strcpy(e.source, "suppressctl");
    strcpy(e.detail, "asked by phone");
    e.first_event = e.last_event = T0 - DAY;
    e.expires = 0;
    e.count = 1;
    ck_assert_msg(store_put(st, NULL, &e, &err) == 0, "%s", err.text);

    d = apply_one(REPORT_BOUNCE, "vip@example.com", CLASS_HARD, "userunknown", T0);
    ck_assert_int_eq(d.action, POLICY_KEPT);
    ck_assert(get_entry("vip@example.com", &e));
    ck_assert_int_eq(e.reason, STORE_REASON_MANUAL);
    ck_assert_int_eq(e.expires, 0);
    ck_assert_str_eq(e.detail, "asked by phone");
    ck_assert_uint_eq(e.count, 1);
    /* ...but the bounce is on the timeline. */
    ck_assert_int_eq(events_of("vip@example.com").of_type[STORE_EV_HARD_BOUNCE], 1);
}
END_TEST

/* ---- soft bounces ----------------------------------------------------- */

START_TEST(test_soft_four_do_not_escalate)
{
    STORE_ENTRY e;

    for (int i = 0; i < 4; i++) {
        POLICY_DECISION d = apply_one(REPORT_BOUNCE, "s@example.com", CLASS_SOFT, "mailboxfull", T0 + i * DAY);

        ck_assert_int_eq(d.action, POLICY_RECORDED);
        ck_assert_int_eq(d.event, STORE_EV_SOFT_BOUNCE);
    }
    ck_assert(!get_entry("s@example.com", &e));
    ck_assert_int_eq(events_of("s@example.com").of_type[STORE_EV_SOFT_BOUNCE], 4);
    ck_assert_uint_eq(counter("bounce.soft"), 4);
}
END_TEST

START_TEST(test_soft_five_escalate)
{
    STORE_ENTRY e;
    POLICY_DECISION d;
    struct event_list ev;

    for (int i = 0; i < 4; i++)
        apply_one(REPORT_BOUNCE, "s@example.com", CLASS_SOFT, "mailboxfull", T0 + i * DAY);
    d = apply_one(REPORT_BOUNCE, "s@example.com", CLASS_SOFT, "mailboxfull", T0 + 6 * DAY);
    ck_assert_int_eq(d.action, POLICY_SUPPRESSED);
    ck_assert_int_eq(d.event, STORE_EV_ESCALATED);
    ck_assert(get_entry("s@example.com", &e));
    ck_assert_int_eq(e.reason, STORE_REASON_SOFT_ESCALATED);
    ck_assert_int_eq(e.expires, T0 + 13 * DAY);
    ev = events_of("s@example.com");
    ck_assert_int_eq(ev.of_type[STORE_EV_SOFT_BOUNCE], 5);
    ck_assert_int_eq(ev.of_type[STORE_EV_ESCALATED], 1);
}
END_TEST

START_TEST(test_soft_outside_window)
{
    STORE_ENTRY e;

    /* Four long ago and one now: only one is within the 7-day window. */
    for (int i = 0; i < 4; i++)
        apply_one(REPORT_BOUNCE, "w@example.com", CLASS_SOFT, "mailboxfull", T0 + i * 3600);
    apply_one(REPORT_BOUNCE, "w@example.com", CLASS_SOFT, "mailboxfull", T0 + 8 * DAY);
    ck_assert(!get_entry("w@example.com", &e));
}
END_TEST

/* ---- complaints and the rest ------------------------------------------ */

START_TEST(test_complaint_permanent)
{
    STORE_ENTRY e;
    BOUNCE_REPORT r;
    POLICY_DECISION d;

    /* A complaint replaces a running hard-bounce suppression: it lasts longer. */
    apply_one(REPORT_BOUNCE, "c@example.com", CLASS_HARD, "userunknown", T0);
    make_report(&r, REPORT_COMPLAINT, "c@example.com", CLASS_COMPLAINT, "feedback", NULL, NULL);
    rcpt_set(&r.rcpts[0].feedback_type, "abuse");
    apply(&r, T0 + DAY, &d);
    report_clear(&r);
    ck_assert_int_eq(d.event, STORE_EV_COMPLAINT);
    ck_assert(get_entry("c@example.com", &e));
    ck_assert_int_eq(e.reason, STORE_REASON_COMPLAINT);
    ck_assert_int_eq(e.expires, 0);
    ck_assert_uint_eq(counter("bounce.complaint"), 1);

    make_report(&r, REPORT_COMPLAINT, "u@example.com", CLASS_COMPLAINT, "feedback", NULL, NULL);
    rcpt_set(&r.rcpts[0].feedback_type, "opt-out");
    apply(&r, T0, &d);
    report_clear(&r);
    ck_assert_int_eq(d.event, STORE_EV_UNSUBSCRIBE);
    ck_assert(get_entry("u@example.com", &e));
    ck_assert_int_eq(e.reason, STORE_REASON_UNSUBSCRIBE);
    ck_assert_int_eq(e.expires, 0);
}
END_TEST

/* ---- tenants ------------------------------------------------------------ */

static int suppressed_for(const char *tenant, const char *addr, time_t now)
{
    SUP_ERR err;
    int rc = store_lookup_tenant(st, NULL, tenant, addr, now, NULL, &err);

    ck_assert_msg(rc >= 0, "%s", err.text);
    return rc;
}

START_TEST(test_tenant_complaint_is_the_tenants)
{
    BOUNCE_REPORT r;
    POLICY_DECISION d;
    STORE_ENTRY e;
    struct event_list ev;
    SUP_ERR err;

    make_report(&r, REPORT_COMPLAINT, "c@example.com", CLASS_COMPLAINT, "feedback", NULL, NULL);
    rcpt_set(&r.rcpts[0].feedback_type, "abuse");
    apply_for(&r, T0, "a.example", &d);
    ck_assert_int_eq(d.action, POLICY_SUPPRESSED);
    ck_assert_str_eq(d.scope, "a.example");
    ck_assert_int_eq(suppressed_for("a.example", "c@example.com", T0 + 1), 1);
    ck_assert_int_eq(suppressed_for("b.example", "c@example.com", T0 + 1), 0);
    ck_assert(!get_entry("c@example.com", &e));
    ck_assert_int_eq(store_get_in(st, NULL, "a.example", "c@example.com", &e, &err), 1);
    ck_assert_int_eq(e.reason, STORE_REASON_COMPLAINT);
    ev = events_of("c@example.com");
    ck_assert_str_eq(ev.last.tenant, "a.example");
    ck_assert_uint_eq(counter("bounce.complaint"), 1);
    ck_assert_uint_eq(counter("tenant/a.example/bounce.complaint"), 1);

    /* Whose it was is not known: recorded, nothing suppressed (default). */
    apply_for(&r, T0, "", &d);
    report_clear(&r);
    ck_assert_int_eq(d.action, POLICY_RECORDED);
    ck_assert_int_eq(d.event, STORE_EV_COMPLAINT);
    ck_assert_int_eq(suppressed_for("b.example", "c@example.com", T0 + 1), 0);
    ck_assert_uint_eq(counter("bounce.complaint"), 2);

    /* A hard bounce describes the address: refused for everybody. */
    make_report(&r, REPORT_BOUNCE, "c@example.com", CLASS_HARD, "userunknown", "5.1.1",
                "550 5.1.1 no such user");
    apply_for(&r, T0, "a.example", &d);
    report_clear(&r);
    ck_assert_int_eq(d.action, POLICY_SUPPRESSED);
    ck_assert_str_eq(d.scope, "");
    ck_assert_int_eq(suppressed_for("b.example", "c@example.com", T0 + 1), 1);
    ck_assert_int_eq(suppressed_for(NULL, "c@example.com", T0 + 1), 1);
    ck_assert_uint_eq(counter("tenant/a.example/bounce.hard"), 1);
}
END_TEST

START_TEST(test_never_suppressing_classes)
{
    static const struct {
        enum report_kind kind;
        enum bounce_class cls;
        const char *reason;
        enum store_event_type event;
        const char *counter;
    } cases[] = {
        { REPORT_BOUNCE, CLASS_DELAYED, "mailboxfull", STORE_EV_DELAYED, "bounce.delayed" },
        { REPORT_AUTOREPLY, CLASS_AUTOREPLY, "vacation", STORE_EV_AUTOREPLY, "bounce.autoreply" },
        { REPORT_BOUNCE, CLASS_DELIVERED, "delivered", STORE_EV_DELIVERED, NULL },
        { REPORT_BOUNCE, CLASS_UNKNOWN, "undefined", STORE_EV_IGNORED, NULL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char addr[64];
        STORE_ENTRY e;
        POLICY_DECISION d;
        struct event_list ev;

        snprintf(addr, sizeof(addr), "n%zu@example.com", i);
        d = apply_one(cases[i].kind, addr, cases[i].cls, cases[i].reason, T0);
        ck_assert_int_eq(d.action, POLICY_RECORDED);
        ck_assert_int_eq(d.event, cases[i].event);
        ck_assert_msg(!get_entry(addr, &e), "%s suppressed", addr);
        ev = events_of(addr);
        ck_assert_int_eq(ev.count, 1);
        ck_assert_int_eq(ev.last.type, cases[i].event);
        if (cases[i].counter != NULL)
            ck_assert_uint_eq(counter(cases[i].counter), 1);
    }
}
END_TEST

START_TEST(test_forwarded_recorded_on_original)
{
    BOUNCE_REPORT r;
    POLICY_DECISION d;
    STORE_ENTRY e;

    make_report(&r, REPORT_BOUNCE, "final@elsewhere.example", CLASS_HARD, "userunknown", "5.1.1", "550 5.1.1 unknown");
    rcpt_set(&r.rcpts[0].original_recipient, "orig@example.com");
    r.rcpts[0].forwarded = true;
    apply(&r, T0, &d);
    report_clear(&r);
    ck_assert_int_eq(d.event, STORE_EV_FORWARDED);
    ck_assert_int_eq(d.action, POLICY_RECORDED);
    ck_assert_str_eq(d.address, "orig@example.com");
    ck_assert(!get_entry("orig@example.com", &e));
    ck_assert(!get_entry("final@elsewhere.example", &e));
    ck_assert_int_eq(events_of("orig@example.com").of_type[STORE_EV_FORWARDED], 1);
    ck_assert_int_eq(events_of("final@elsewhere.example").count, 0);
}
END_TEST

START_TEST(test_no_address_skipped)
{
    BOUNCE_REPORT r;
    POLICY_DECISION d;

    make_report(&r, REPORT_COMPLAINT, NULL, CLASS_COMPLAINT, "feedback", NULL, NULL);
    apply(&r, T0, &d);
    ck_assert_int_eq(d.action, POLICY_SKIPPED);
    report_clear(&r);
    make_report(&r, REPORT_BOUNCE, "not an address", CLASS_HARD, "userunknown", NULL, NULL);
    apply(&r, T0, &d);
    ck_assert_int_eq(d.action, POLICY_SKIPPED);
    report_clear(&r);
    ck_assert_uint_eq(counter("bounce.hard"), 0);
}
END_TEST

/* ---- with a stricter configuration ------------------------------------ */

START_TEST(test_never_suppress_reason)
{
    STORE_ENTRY e;
    POLICY_DECISION d = apply_one(REPORT_BOUNCE, "p@example.com", CLASS_HARD, "policyviolation", T0);

    ck_assert_int_eq(d.event, STORE_EV_IGNORED);
    ck_assert_int_eq(d.action, POLICY_RECORDED);
    ck_assert(!get_entry("p@example.com", &e));
    ck_assert_int_eq(events_of("p@example.com").of_type[STORE_EV_IGNORED], 1);
}
END_TEST

START_TEST(test_suppress_forwarded_option)
{
    BOUNCE_REPORT r;
    POLICY_DECISION d;
    STORE_ENTRY e;

    make_report(&r, REPORT_BOUNCE, "final@elsewhere.example", CLASS_HARD, "userunknown", "5.1.1", NULL);
    rcpt_set(&r.rcpts[0].original_recipient, "orig@example.com");
    r.rcpts[0].forwarded = true;
    apply(&r, T0, &d);
    report_clear(&r);
    ck_assert_int_eq(d.action, POLICY_SUPPRESSED);
    ck_assert(get_entry("orig@example.com", &e));
    ck_assert(!get_entry("final@elsewhere.example", &e));
}
END_TEST

/* A report that is not believed suppresses nobody and counts no bounce. */
START_TEST(test_unverified_records_only)
{
    BOUNCE_REPORT r;
    POLICY_DECISION d;
    STORE_ENTRY e;
    struct event_list ev;

    for (int i = 0; i < 6; i++) {
        make_report(&r, REPORT_BOUNCE, "v@example.com", i == 0 ? CLASS_HARD : CLASS_SOFT,
                    i == 0 ? "userunknown" : "mailboxfull", i == 0 ? "5.1.1" : "4.2.2",
                    "550 5.1.1 forged");
        apply_judged(&r, T0 + i, "no signature; no quoted Message-ID", &d);
        report_clear(&r);
        ck_assert_int_eq(d.action, POLICY_UNVERIFIED);
        ck_assert_int_eq(d.event, STORE_EV_UNVERIFIED);
        ck_assert_str_eq(d.address, "v@example.com");
    }
    ck_assert(!get_entry("v@example.com", &e));
    ev = events_of("v@example.com");
    ck_assert_int_eq(ev.count, 6);
    ck_assert_int_eq(ev.of_type[STORE_EV_UNVERIFIED], 6);
    ck_assert_int_eq(ev.of_type[STORE_EV_SOFT_BOUNCE], 0);
    ck_assert_str_eq(ev.last.verified, "no signature; no quoted Message-ID");
    ck_assert_str_eq(ev.last.response, "550 5.1.1 forged");
    ck_assert_uint_eq(counter("unverified"), 6);
    ck_assert_uint_eq(counter("bounce.hard"), 0);
    ck_assert_uint_eq(counter("bounce.soft"), 0);
    /* A believed one says how it was checked. */
    apply_one(REPORT_BOUNCE, "w@example.com", CLASS_HARD, "userunknown", T0);
    ck_assert_str_eq(events_of("w@example.com").last.verified, "unchecked (trust any)");
}
END_TEST

START_TEST(test_timeline_bounded)
{
    for (int i = 0; i < 6; i++)
        apply_one(REPORT_BOUNCE, "t@example.com", CLASS_DELAYED, "expired", T0 + i);
    ck_assert_int_eq(events_of("t@example.com").count, 3);
}
END_TEST

/* ---- a whole message through ingest_message ---------------------------- */

/* A sample through ingest_message() with ingest.trust = trust (no signing
 * keys: nothing verifies as signed); err, when not NULL, gets the reason. */
static enum ingest_outcome ingest_judged(const char *name, enum ingest_trust trust, SUP_ERR *why)
{
    INGEST_CTX ctx;
    enum ingest_outcome outcome;
    SUP_ERR err;
    size_t len;
    char *raw = sample_read("ingest", name, &len);

    memset(&ctx, 0, sizeof(ctx));
    ctx.cfg = cfg;
    ctx.store = st;
    ctx.out = stdout;
    ctx.trust = trust;
    ck_assert_msg(ingest_message(&ctx, name, raw, len, &outcome, &err) == 0, "%s", err.text);
    if (outcome == INGEST_NOT_REPORT || outcome == INGEST_REJECTED || outcome == INGEST_UNVERIFIED)
        ck_assert_int_eq(err.cls, SUP_ERR_INPUT);
    if (why != NULL)
        *why = err;
    free(raw);
    return outcome;
}

/* The policy's own tests believe every report. */
static enum ingest_outcome ingest_sample(const char *name)
{
    return ingest_judged(name, TRUST_ANY, NULL);
}

START_TEST(test_ingest_idempotent)
{
    STORE_ENTRY e;

    ck_assert_int_eq(ingest_sample("dsn-basic.eml"), INGEST_APPLIED);
    ck_assert(get_entry("alice@dest.example", &e));
    ck_assert_int_eq(events_of("alice@dest.example").count, 1);
    ck_assert_int_eq(events_of("bob@dest.example").of_type[STORE_EV_DELAYED], 1);
    /* The same message again: nothing changes. */
    ck_assert_int_eq(ingest_sample("dsn-basic.eml"), INGEST_DUPLICATE);
    ck_assert_int_eq(events_of("alice@dest.example").count, 1);
    ck_assert_int_eq(events_of("bob@dest.example").count, 1);
    ck_assert_uint_eq(counter("bounce.hard"), 1);
    ck_assert(get_entry("alice@dest.example", &e));
    ck_assert_uint_eq(e.count, 1);
}
END_TEST

START_TEST(test_ingest_outcomes)
{
    SUP_ERR err;

    ck_assert_int_eq(ingest_sample("plain-noreport.eml"), INGEST_NOT_REPORT);
    ck_assert_int_eq(ingest_sample("vacation.eml"), INGEST_APPLIED);
    ck_assert_int_eq(store_seen(st, NULL, "mid:<vac-1@dest.example>", &err), 1);
    ck_assert_int_eq(events_of("mallory@dest.example").of_type[STORE_EV_AUTOREPLY], 1);
    /* A complaint whose address was redacted (no VERP pattern configured). */
    ck_assert_int_eq(ingest_sample("arf-redacted.eml"), INGEST_NOT_REPORT);
    ck_assert_int_eq(store_seen(st, NULL, "mid:<arf-2@isp.example>", &err), 0);
}
END_TEST

/* A report nobody vouches for: recorded as unverified, not remembered as
 * seen (so that --trust any can apply it later), quarantine reason given. */
START_TEST(test_ingest_not_believed)
{
    STORE_ENTRY e;
    SUP_ERR why, err;

    ck_assert_int_eq(ingest_judged("dsn-basic.eml", TRUST_SENT_OR_SIGNED, &why), INGEST_UNVERIFIED);
    ck_assert_msg(strstr(why.text, "not believed (ingest.trust = sent-or-signed)") != NULL, "%s", why.text);
    ck_assert_msg(strstr(why.text, "<alice@dest.example> no signature; quoted Message-ID not in the ledger")
                  != NULL, "%s", why.text);
    ck_assert(!get_entry("alice@dest.example", &e));
    ck_assert_int_eq(events_of("alice@dest.example").of_type[STORE_EV_UNVERIFIED], 1);
    ck_assert_int_eq(events_of("bob@dest.example").of_type[STORE_EV_UNVERIFIED], 1);
    ck_assert_int_eq(events_of("bob@dest.example").of_type[STORE_EV_DELAYED], 0);
    ck_assert_int_eq(store_seen(st, NULL, "mid:<dsn-basic.1@mx.sender.example>", &err), 0);
    ck_assert_uint_eq(counter("unverified"), 2);
    /* Each check alone says what it missed. */
    ck_assert_int_eq(ingest_judged("dsn-basic.eml", TRUST_SIGNED, &why), INGEST_UNVERIFIED);
    ck_assert_msg(strstr(why.text, "<alice@dest.example> no signature;") != NULL, "%s", why.text);
    ck_assert_int_eq(ingest_judged("dsn-basic.eml", TRUST_SENT, &why), INGEST_UNVERIFIED);
    ck_assert_msg(strstr(why.text, "<alice@dest.example> quoted Message-ID not in the ledger;") != NULL,
                  "%s", why.text);
    /* The postmaster replays it from the quarantine with --trust any. */
    ck_assert_int_eq(ingest_sample("dsn-basic.eml"), INGEST_APPLIED);
    ck_assert(get_entry("alice@dest.example", &e));
    ck_assert_str_eq(events_of("alice@dest.example").last.verified, "unchecked (trust any)");
}
END_TEST

static Suite *policy_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("defaults");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_hard_suppresses_for_ttl);
    tcase_add_test(tc, test_later_hard_extends);
    tcase_add_test(tc, test_expired_entry_starts_over);
    tcase_add_test(tc, test_permanent_not_shortened);
    tcase_add_test(tc, test_soft_four_do_not_escalate);
    tcase_add_test(tc, test_soft_five_escalate);
    tcase_add_test(tc, test_soft_outside_window);
    tcase_add_test(tc, test_complaint_permanent);
    tcase_add_test(tc, test_never_suppressing_classes);
    tcase_add_test(tc, test_forwarded_recorded_on_original);
    tcase_add_test(tc, test_no_address_skipped);
    tcase_add_test(tc, test_ingest_idempotent);
    tcase_add_test(tc, test_ingest_outcomes);
    tcase_add_test(tc, test_ingest_not_believed);
    tcase_add_test(tc, test_unverified_records_only);
    suite_add_tcase(s, tc);

    tc = tcase_create("tenants");
    tcase_add_checked_fixture(tc, setup_tenants, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_tenant_complaint_is_the_tenants);
    suite_add_tcase(s, tc);

    tc = tcase_create("strict");
    tcase_add_checked_fixture(tc, setup_strict, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_never_suppress_reason);
    tcase_add_test(tc, test_suppress_forwarded_option);
    tcase_add_test(tc, test_timeline_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    g_mime_init();
    sr = srunner_create(policy_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    g_mime_shutdown();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
