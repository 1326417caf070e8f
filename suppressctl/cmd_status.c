/*
 * cmd_status.c: suppressctl status, where this site stands in its fleet
 * (the replication section of milter-suppress.conf(5)): its role now,
 * the master, the other sites, and this site's log position.  Whether
 * a site is connected is known to the replication process of this site
 * only (Berkeley DB keeps connections per process): when suppressctl is
 * a subordinate process (milter-suppress runs), it says so.  Also this
 * site's outbox (store_outbox.h: what its milter recorded, waiting for
 * the master) and the sites whose batches this store has applied.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "ctl.h"
#include "duration.h"
#include "json.h"
#include "store_outbox.h"

#define RECEIVED_MAX 64         /* sites listed as "received from" */

/* What the status adds about shipping. */
struct ship_status {
    struct store_outbox_status outbox;
    size_t received_count;
    struct {
        char site[2 * STORE_SITE_ID_BYTES + 1];
        uint64_t seq;
        time_t when;
    } received[RECEIVED_MAX];
};

static int add_received(const char *site_hex, uint64_t seq, time_t when, void *ctx)
{
    struct ship_status *ss = ctx;

    if (ss->received_count < RECEIVED_MAX) {
        snprintf(ss->received[ss->received_count].site, sizeof(ss->received[0].site), "%s",
                 site_hex);
        ss->received[ss->received_count].seq = seq;
        ss->received[ss->received_count].when = when;
        ss->received_count++;
    }
    return 0;
}

static int read_ship_status(const struct ctl *ctl, STORE *st, struct ship_status *ss,
                            SUP_ERR *err)
{
    if (store_outbox_status(ctl->cfg->store, &ss->outbox, err) < 0)
        return -1;
    return store_ship_marks(st, add_received, ss, err);
}

static void print_ship_text(const struct ship_status *ss, time_t now)
{
    const struct store_outbox_status *o = &ss->outbox;
    char buf[32];

    if (!o->exists)
        printf("outbox:      none (this site's milter never recorded anything as a replica)\n");
    else if (o->batches == 0)
        printf("outbox:      empty");
    else
        printf("outbox:      %lu batches waiting for the master (%llu bytes), the oldest %lld s"
               " old", o->batches, (unsigned long long) o->bytes, (long long) (now - o->oldest));
    if (o->exists)
        printf("; %lu dropped (outbox full); %lu set aside (.bad)\n", o->dropped, o->set_aside);
    if (o->site[0] != '\0')
        printf("outbox site: %s\n", o->site);
    for (size_t i = 0; i < ss->received_count; i++)
        printf("%s %s up to batch %llu, %s\n", i == 0 ? "received:   " : "            ",
               ss->received[i].site, (unsigned long long) ss->received[i].seq,
               time_format_iso(ss->received[i].when, buf, sizeof(buf)));
}

static void print_ship_json(const struct ship_status *ss, time_t now)
{
    const struct store_outbox_status *o = &ss->outbox;
    bool f = true;

    printf(", \"outbox\": {");
    json_kv_bool(stdout, &f, "exists", o->exists);
    ctl_json_str(stdout, &f, "site", o->site[0] ? o->site : NULL);
    json_kv_int(stdout, &f, "batches", (long long) o->batches);
    json_kv_int(stdout, &f, "bytes", (long long) o->bytes);
    json_kv_int(stdout, &f, "oldest_age", o->batches ? (long long) (now - o->oldest) : 0);
    json_kv_int(stdout, &f, "dropped", (long long) o->dropped);
    json_kv_int(stdout, &f, "set_aside", (long long) o->set_aside);
    printf("}, \"received\": [");
    for (size_t i = 0; i < ss->received_count; i++) {
        bool g = true;

        printf("%s{", i ? ", " : "");
        json_kv_str(stdout, &g, "site", ss->received[i].site);
        json_kv_int(stdout, &g, "seq", (long long) ss->received[i].seq);
        ctl_json_time(stdout, &g, "time", ss->received[i].when);
        printf("}");
    }
    printf("]");
}

static void print_status_text(const struct ctl *ctl, const struct store_rep_status *s,
                              const struct ship_status *ss)
{
    const struct replication_config *r = &ctl->cfg->replication;

    if (!s->replicated) {
        printf("replication: none (a single host)\n");
        return;
    }
    printf("site:        %s\n", s->local);
    printf("role:        %s (configured: %s)\n", s->master ? "master" : "replica",
           conf_rep_role_name(r->role));
    printf("master:      %s\n", s->master_address[0] ? s->master_address : "none known (election?)");
    printf("in sync:     %s\n", s->synced ? "yes" : "no: still receiving the store from the master");
    printf("log:         %lu/%lu (next record)%s\n", s->log_file, s->log_offset,
           s->log_queued ? ", records waiting for a gap to fill" : "");
    printf("ack-policy:  %s", conf_rep_ack_name(r->ack_policy));
    if (s->master)
        printf(", %lu commits not acknowledged in time since the replication process started",
               s->perm_failed);
    printf("\n");
    if (s->site_count == 0)
        printf("sites:       none known yet\n");
    for (size_t i = 0; i < s->site_count; i++)
        printf("%s %-22s %s%s\n", i == 0 ? "sites:      " : "            ", s->sites[i].address,
               !s->listener ? "connection known to the replication process only"
               : s->sites[i].connected ? "connected" : "not connected",
               s->sites[i].master ? ", master" : "");
    print_ship_text(ss, ctl->now);
}

static void print_status_json(const struct ctl *ctl, const struct store_rep_status *s,
                              const struct ship_status *ss)
{
    const struct replication_config *r = &ctl->cfg->replication;
    bool first = true;

    printf("{");
    json_kv_bool(stdout, &first, "replicated", s->replicated);
    if (s->replicated) {
        json_kv_str(stdout, &first, "site", s->local);
        json_kv_str(stdout, &first, "role", s->master ? "master" : "replica");
        json_kv_str(stdout, &first, "configured_role", conf_rep_role_name(r->role));
        ctl_json_str(stdout, &first, "master", s->master_address);
        json_kv_bool(stdout, &first, "in_sync", s->synced);
        json_kv_bool(stdout, &first, "replication_process", s->listener);
        json_kv_int(stdout, &first, "log_file", (long long) s->log_file);
        json_kv_int(stdout, &first, "log_offset", (long long) s->log_offset);
        json_kv_int(stdout, &first, "log_queued", (long long) s->log_queued);
        json_kv_str(stdout, &first, "ack_policy", conf_rep_ack_name(r->ack_policy));
        json_kv_int(stdout, &first, "perm_failed", (long long) s->perm_failed);
        printf(", \"sites\": [");
        for (size_t i = 0; i < s->site_count; i++) {
            bool f = true;

            printf("%s{", i ? ", " : "");
            json_kv_str(stdout, &f, "address", s->sites[i].address);
            if (s->listener)
                json_kv_bool(stdout, &f, "connected", s->sites[i].connected);
            else
                ctl_json_str(stdout, &f, "connected", NULL);
            json_kv_bool(stdout, &f, "master", s->sites[i].master);
            printf("}");
        }
        printf("]");
        print_ship_json(ss, ctl->now);
    }
    printf("}\n");
}

int cmd_status(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct store_rep_status *s;
    struct ship_status *ss;
    STORE *st = NULL;
    bool json = false;
    SUP_ERR err;
    int ch, status = EX_OK;

    sup_err_clear(&err);
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (ch == 'j') {
            json = true;
            continue;
        }
        if (ch == 'h') {
            printf("usage: %s status [--json]\n", ctl->progname);
            return EX_OK;
        }
        return ctl_option_error(ctl, "status", ch, argv);
    }
    if (argc - optind != 0)
        return ctl_usage_error(ctl, "status", "unexpected argument \"%s\"", argv[optind]);
    s = calloc(1, sizeof(*s));
    ss = calloc(1, sizeof(*ss));
    if (s == NULL || ss == NULL) {
        free(s);
        free(ss);
        sup_err_set(&err, SUP_ERR_SOFTWARE, "out of memory");
        return ctl_fail(ctl, &err);
    }
    if (!ctl->cfg->replication.enable) {
        /* A single host: nothing to ask the store. */
        if (json)
            print_status_json(ctl, s, ss);
        else
            print_status_text(ctl, s, ss);
        free(s);
        free(ss);
        return EX_OK;
    }
    if (ctl_store_open(ctl, false, &st, &err) < 0 || store_rep_status(st, s, &err) < 0
        || read_ship_status(ctl, st, ss, &err) < 0) {
        status = ctl_fail(ctl, &err);
    } else if (json) {
        print_status_json(ctl, s, ss);
    } else {
        print_status_text(ctl, s, ss);
    }
    store_close(st, NULL);
    free(s);
    free(ss);
    return status;
}
