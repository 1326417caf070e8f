#!/bin/bash
# postfix-load.sh: hundreds of concurrent SMTP sessions through a real
# Postfix while the suppression list changes under them (issue 10, Load).
#
# SESSIONS sessions (default 200) for DURATION seconds (default 20), spread
# over two smtpd listeners of one private Postfix: one through the milter
# (unix socket), one through the policy service (check_policy_service) of
# a second milter-suppress process on the same store.  Recipients are a
# mix of addresses suppressed all along, never suppressed, and a pool that
# load-client.py adds (suppressctl add, suppress-ingest of a DSN) and
# removes (suppressctl remove) back to back meanwhile.  Checked:
#   - every RCPT verdict against the store's state at that moment: the
#     milter reads the store at each RCPT, so a change counts once the
#     command making it has returned; an RCPT during such a command is
#     not judged (load-client.py, "in transition").  Zero wrong verdicts.
#   - no 4xx reply at all, no broken session, no failed store command;
#   - the milter process's open descriptors come back to where they were
#     before the load, and stayed bounded meanwhile; its RSS is flat: the
#     highest sample of the last third of the run is within 10% + 4 MB of
#     the highest of the middle third (a leak per message grows it; in a
#     sanitized build LeakSanitizer judges at exit instead);
#   - both processes exit 0 at SIGTERM once the load is over.
# The figures (throughput, RCPT latency percentiles) are printed, not
# checked: tests/bench/load-bench.sh runs the long version for them.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

SESSIONS=${SESSIONS:-200}
DURATION=${DURATION:-20}

it_require_root
it_require_tools postfix postconf smtp-sink
INGEST=$top_builddir/classifier/suppress-ingest
it_require_built "$MILTER" "$STORE_TOOL" "$SUPPRESSCTL" "$INGEST"
it_init postfix-load
SINK_DUMP=no

CONF=$IT_DIR/milter.conf
POLICY_CONF=$IT_DIR/policy.conf
POLICY_SOCK=$IT_DIR/run/policy.sock
STORE=$IT_DIR/store

# shared_sections FILE: what both processes and the store tools share.
shared_sections() {
    printf 'ingest {\n  quarantine = "%s"\n  trust = "any"\n}\n' "$IT_DIR/quarantine" >>"$1"
}
milter_conf "$CONF"
shared_sections "$CONF"
MILTER_SOCKET=unix:$IT_DIR/run/policy-milter.sock milter_conf "$POLICY_CONF" \
    "pid-file = \"$IT_DIR/run/policy-milter.pid\""
shared_sections "$POLICY_CONF"
printf 'policy-service {\n  socket = "unix:%s"\n  socket-mode = "0666"\n}\n' "$POLICY_SOCK" >>"$POLICY_CONF"
mkdir -p "$IT_DIR/quarantine"

"$STORE_TOOL" "$STORE" bulk 1000 sup.example || exit 1

POLICY_PORT=$(it_free_port)
pf_setup "127.0.0.1:$POLICY_PORT inet n - n - - smtpd -o smtpd_milters= -o { smtpd_recipient_restrictions = check_policy_service unix:$POLICY_SOCK, permit_mynetworks, reject_unauth_destination }"
# Room for every session at once on each listener, and a queue that keeps up.
postconf -c "$PF_DIR" -e "default_process_limit = $((SESSIONS + 50))" \
    "smtpd_policy_service_default_action = 451 4.3.5 policy service unavailable"

check "milter-suppress (milter door) starts" milter_start "$CONF"
"$MILTER" -f -d -c "$POLICY_CONF" >>"$IT_DIR/log/policy-milter.log" 2>&1 &
POLICY_PID=$!
IT_PIDS="$IT_PIDS $POLICY_PID"
check "milter-suppress (policy door) starts" it_wait_for 10 test -S "$POLICY_SOCK"
check "postfix and smtp-sink start" pf_start
[ "$IT_FAIL" -eq 0 ] || it_finish

fds_of() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
FDS_BEFORE=$(fds_of "$MILTER_PID")

echo "# $SESSIONS sessions for $DURATION s, half through the milter (listener $SMTPD_PORT), half through the policy service ($POLICY_PORT)"
"$PYTHON" "$top_srcdir/tests/integration/load-client.py" \
    --port "$SMTPD_PORT" --port "$POLICY_PORT" --sessions "$SESSIONS" --duration "$DURATION" \
    --conf "$CONF" --suppressctl "$SUPPRESSCTL" --ingest "$INGEST" --pid "$MILTER_PID" \
    --json "$IT_DIR/load.json" | tee "$IT_DIR/log/session.log"
rc=${PIPESTATUS[0]}

figure() { "$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); exec("print(" + sys.argv[2] + ")")' \
    "$IT_DIR/load.json" "$1"; }
[ -s "$IT_DIR/load.json" ] || { notok "load-client.py wrote its figures"; it_finish; }
check "load-client.py: no wrong verdict, no 4xx, no broken session, no failed store command" test "$rc" -eq 0
check "zero wrong verdicts (of $(figure 'd["judged_suppressed"] + d["judged_fresh"]') judged)" \
    test "$(figure 'd["wrong"]')" -eq 0
check "no 4xx reply" test "$(figure 'd["fourxx"]')" -eq 0
check "verdicts judged on both sides: suppressed and not" \
    test "$(figure 'min(d["judged_suppressed"], d["judged_fresh"])')" -gt 0
check "the list changed while sending: suppressctl add, suppress-ingest and suppressctl remove all ran" \
    test "$(figure 'min(d["mutations"].values())')" -gt 0
check "every session ran ($SESSIONS)" test "$(figure 'd["sessions_started"]')" -eq "$SESSIONS"
check "milter descriptors back to where they were before the load ($FDS_BEFORE, after: $(figure 'd["fds"]["after"]'))" \
    test "$(figure 'd["fds"]["after"]')" -le $((FDS_BEFORE + 5))
check "milter descriptors bounded during the load (max $(figure 'd["fds"]["max"]') <= $FDS_BEFORE + 2 x $SESSIONS)" \
    test "$(figure 'd["fds"]["max"]')" -le $((FDS_BEFORE + 2 * SESSIONS))
# AddressSanitizer keeps freed memory in quarantine (up to 256 MB), so RSS
# grows with every free there: the sanitized build is judged by
# LeakSanitizer at exit instead (the clean-exit checks below).
if [ "${SANITIZED_BUILD:-}" = yes ]; then
    echo "# RSS not judged in a sanitized build (ASan quarantine); LeakSanitizer checks at exit"
else
    check "milter RSS flat: max of the last third $(figure 'd["rss_kb"]["max_last_third"]') KB <= 1.1 x $(figure 'd["rss_kb"]["max_middle_third"]') KB + 4 MB" \
        test "$(figure 'int(d["rss_kb"]["max_last_third"] <= 1.1 * d["rss_kb"]["max_middle_third"] + 4096)')" -eq 1
fi
no_store_errors() { ! grep -qE 'store lookup of .* failed' "$IT_DIR/log/milter.log" "$IT_DIR/log/policy-milter.log"; }
check "no store error logged by either door" no_store_errors
no_milter_trouble() { ! grep -qiE 'milter.*(timeout|temporary failure|unavailable)|policy service.*(unavailable|problem)' "$IT_DIR/log/postfix.log"; }
check "postfix logged no milter or policy service trouble" no_milter_trouble
check "the milter is still running" it_alive "$MILTER_PID"
check "the policy service is still running" it_alive "$POLICY_PID"
pf_stop
check "SIGTERM: the milter exits 0" milter_stop
it_stop_pid "$POLICY_PID"
check "SIGTERM: the policy service exits 0" test $? -eq 0
IT_PIDS=
it_finish
