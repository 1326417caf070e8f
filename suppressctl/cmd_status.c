/*
 * cmd_status.c: suppressctl status, where this site stands in its fleet
 * (the replication section of milter-suppress.conf(5)): its role now,
 * the master, the other sites, and this site's log position.  Whether
 * a site is connected is known to the replication process of this site
 * only (Berkeley DB keeps connections per process): when suppressctl is
 * a subordinate process (milter-suppress runs), it says so.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "ctl.h"
#include "json.h"

static void print_status_text(const struct ctl *ctl, const struct store_rep_status *s)
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
}

static void print_status_json(const struct ctl *ctl, const struct store_rep_status *s)
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
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        sup_err_set(&err, SUP_ERR_SOFTWARE, "out of memory");
        return ctl_fail(ctl, &err);
    }
    if (!ctl->cfg->replication.enable) {
        /* A single host: nothing to ask the store. */
        if (json)
            print_status_json(ctl, s);
        else
            print_status_text(ctl, s);
        free(s);
        return EX_OK;
    }
    if (ctl_store_open(ctl, false, &st, &err) < 0 || store_rep_status(st, s, &err) < 0) {
        status = ctl_fail(ctl, &err);
    } else if (json) {
        print_status_json(ctl, s);
    } else {
        print_status_text(ctl, s);
    }
    store_close(st, NULL);
    free(s);
    return status;
}
