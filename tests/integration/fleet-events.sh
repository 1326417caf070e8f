#!/bin/bash
# fleet-events.sh: what a replica's milter records reaches the master,
# once (the outbox, store_outbox.h; the replication section of
# milter-suppress.conf(5)), on loopback ports picked free at run time.
#
# A is the master, B and C replicas, each with its milter-suppress and
# its policy door (the cheap way to make many verdicts).  Rejections and
# accepted recipients answered on B and C must show on A, in
# suppressctl stats and in the timeline of suppressctl show, exactly:
#   1. with A up (ack-policy one: the master's commit of a batch waits
#      for a replica's acknowledgement, from inside a repmgr message
#      thread);
#   2. A killed with SIGKILL: B and C keep answering; their outboxes
#      fill; A restarted (now with ack-policy none): everything arrives,
#      nothing twice;
#   3. A stopped, B's outbox filled and B killed with SIGKILL, both
#      restarted: what B's outbox held arrives once.
# Each "exactly" is checked once the replicas' outboxes are empty, so
# nothing more can be on its way.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_built "$MILTER" "$SUPPRESSCTL"
it_init fleet-events

PORT_A=$(it_free_port)
PORT_B=$(it_free_port)
PORT_C=$(it_free_port)
BLOCKED=4

# site_conf NAME ROLE ACK LOCAL_PORT PEER_PORT...
site_conf() {
    local name=$1 role=$2 ack=$3 port=$4 peers= p
    shift 4
    for p in "$@"; do peers="$peers${peers:+, }\"127.0.0.1:$p\""; done
    cat >"$IT_DIR/$name.conf" <<EOF
store = "$IT_DIR/store-$name"
milter {
  socket = "unix:$IT_DIR/run/milter-$name.sock"
  stats-interval = "1s"
}
policy {
  timeline-max-events = 100000
}
policy-service {
  socket = "unix:$IT_DIR/run/policy-$name.sock"
  socket-mode = "0666"
}
replication {
  local = "127.0.0.1:$port"
  peers = { $peers }
  role = "$role"
  ack-policy = "$ack"
}
EOF
}

confs() {
    site_conf A master "$1" "$PORT_A" "$PORT_B" "$PORT_C"
    site_conf B replica "$1" "$PORT_B" "$PORT_A" "$PORT_C"
    site_conf C replica "$1" "$PORT_C" "$PORT_A" "$PORT_B"
}

# site_kill NAME SIGNAL: stop NAME's milter and wait for it.
site_kill() {
    local pid
    eval "pid=\$PID_$1"
    kill "-$2" "$pid"
    wait "$pid" 2>/dev/null
}

ctl() {
    local site=$1
    shift
    "$SUPPRESSCTL" -c "$IT_DIR/$site.conf" "$@"
}

suppressed_on() {
    ctl "$1" show "$2" 2>/dev/null | grep -q '^status: *suppressed'
}

is_master() {
    ctl "$1" status 2>/dev/null | grep -qE '^role: +master'
}

# verdicts SITE PREFIX ROUNDS: ROUNDS rejected recipients (PREFIX0..3)
# and as many accepted through SITE's policy door; adds what was
# answered to ANS_R and ANS_A (and SITE_R_<SITE>).
verdicts() {
    local site=$1 prefix=$2 rounds=$3 args=() i=0 out r a
    while [ "$i" -lt "$rounds" ]; do
        args+=("recipient:$prefix$((i % BLOCKED))@example.com" "recipient:ok$i.$prefix@example.net")
        i=$((i + 1))
    done
    out=$("$PYTHON" "$top_srcdir/tests/integration/policy-client.py" "$IT_DIR/run/policy-$site.sock" "${args[@]}")
    r=$(grep -c '^reply action=550' <<<"$out")
    a=$(grep -c '^reply action=DUNNO' <<<"$out")
    ANS_R=$((ANS_R + r)) ANS_A=$((ANS_A + a))
    eval "SITE_R_$site=\$((SITE_R_$site + r))"
    echo "# $site answered $r rejected, $a accepted"
    [ "$r" -eq "$rounds" ] && [ "$a" -eq "$rounds" ]
}

# stored_on SITE: "REJECTED ACCEPTED EVENTS" as SITE's store has them
# (stats total; rejected events of the blocked addresses, via policy).
stored_on() {
    ctl "$1" stats --days 2 --json >"$IT_DIR/stats.json" 2>/dev/null || return 1
    local addrs=() p i
    for p in blockedB blockedC; do
        for i in $(seq 0 $((BLOCKED - 1))); do addrs+=("$p$i@example.com"); done
    done
    for a in "${addrs[@]}"; do ctl "$1" show "$a" --json 2>/dev/null; echo; done >"$IT_DIR/show.jsonl"
    "$PYTHON" - "$IT_DIR/stats.json" "$IT_DIR/show.jsonl" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ev = 0
for line in open(sys.argv[2]):
    if line.strip():
        ev += sum(1 for e in json.loads(line)["timeline"]
                  if e["event"] == "rejected" and e["via"] == "policy"
                  and e["actor"] == "hand@example.org" and e["detail"].find("192.0.2.9") >= 0)
print(s["total"]["rejected"], s["total"]["accepted"], ev)
PY
}

outbox_empty() {
    ctl "$1" status --json 2>/dev/null | "$PYTHON" -c '
import json, sys
o = json.load(sys.stdin)["outbox"]
sys.exit(0 if o["batches"] == 0 else 1)'
}

# all_arrived: B's and C's outboxes are empty and A has what was answered.
all_arrived() {
    outbox_empty B && outbox_empty C && [ "$(stored_on A)" = "$ANS_R $ANS_A $ANS_R" ]
}

# outbox_holds SITE N: N rejected events wait in SITE's outbox files.
outbox_holds() {
    local counts
    counts=$("$PYTHON" "$top_srcdir/tests/integration/outbox-count.py" "$IT_DIR/store-$1/outbox") || return 1
    [ "$(cut -d' ' -f2 <<<"$counts")" -eq "$2" ]
}

ANS_R=0 ANS_A=0 SITE_R_B=0 SITE_R_C=0
confs one
check "A (master), B and C start" eval 'it_site_start A && it_site_start B && it_site_start C'
[ "$IT_FAIL" -eq 0 ] || it_finish
check "A is master" it_wait_for 30 is_master A
for p in blockedB blockedC; do
    for i in $(seq 0 $((BLOCKED - 1))); do
        ctl A add "$p$i@example.com" --reason hard-bounce >/dev/null || check "add $p$i on A" false
    done
done
check "the blocked addresses reach B" it_wait_for 30 suppressed_on B "blockedC$((BLOCKED - 1))@example.com"
check "and C" it_wait_for 30 suppressed_on C "blockedC$((BLOCKED - 1))@example.com"

# --- 1. with the master up (ack-policy one)
check "B's policy door answers 40 verdicts" verdicts B blockedB 20
check "C's policy door answers 40 verdicts" verdicts C blockedC 20
check "A has all of B's and C's verdicts (stats and timeline)" it_wait_for 60 all_arrived
check "A: exactly $ANS_R rejected, $ANS_A accepted, $ANS_R events" \
    test "$(stored_on A)" = "$ANS_R $ANS_A $ANS_R"
out=$(ctl A show blockedB0@example.com --json)
check "a shipped event keeps its via, sender and client" "$PYTHON" -c '
import json, sys
t = [e for e in json.loads(sys.argv[1])["timeline"] if e["event"] == "rejected"]
assert t and all(e["via"] == "policy" and e["actor"] == "hand@example.org" for e in t), t
assert all(e["status"] == "5.1.1" for e in t), t
' "$out"
out=$(ctl A status --json)
check "status on A: received from two sites" "$PYTHON" -c '
import json, sys
r = json.loads(sys.argv[1])["received"]
assert len(r) == 2 and all(x["seq"] >= 1 for x in r), r
' "$out"
check "a replica's own stats show them too (replicated from A)" \
    it_wait_for 30 eval '[ "$(stored_on B)" = "$ANS_R $ANS_A $ANS_R" ]'

# --- 2. the master killed: B and C keep answering, and keep the events
site_kill A KILL
check "B answers a lookup with A dead" suppressed_on B blockedB0@example.com
check "B's policy door still answers (A dead)" verdicts B blockedB 15
check "C's policy door still answers (A dead)" verdicts C blockedC 15
check "B's outbox holds its rejections while A is down" \
    it_wait_for 30 outbox_holds B 15
check "C's outbox holds its rejections while A is down" \
    it_wait_for 30 outbox_holds C 15
out=$(ctl B status 2>&1)
check "status on B shows the batches waiting" grep -qE '^outbox: +[1-9][0-9]* batches waiting' <<<"$out"
confs none
check "A restarts (ack-policy none now)" it_site_start A
check "A gets everything B and C recorded while it was down" it_wait_for 90 all_arrived
check "A: exactly $ANS_R rejected, $ANS_A accepted, $ANS_R events (none twice)" \
    test "$(stored_on A)" = "$ANS_R $ANS_A $ANS_R"

# --- 3. B killed with a full outbox
site_kill A TERM
check "B's policy door answers with A stopped" verdicts B blockedB 10
check "B's outbox has those 10 rejections" it_wait_for 30 outbox_holds B 10
site_kill B KILL
check "B's outbox survives SIGKILL" outbox_holds B 10
check "A restarts" it_site_start A
check "B restarts" it_site_start B
check "A gets B's outbox once" it_wait_for 90 all_arrived
check "A: exactly $ANS_R rejected, $ANS_A accepted, $ANS_R events after B's SIGKILL" \
    test "$(stored_on A)" = "$ANS_R $ANS_A $ANS_R"
out=$(ctl B status --json)
check "B: nothing dropped, nothing set aside" "$PYTHON" -c '
import json, sys
o = json.loads(sys.argv[1])["outbox"]
assert o["dropped"] == 0 and o["set_aside"] == 0, o
' "$out"
echo "# answered on the replicas: $ANS_R rejected (B $SITE_R_B, C $SITE_R_C), $ANS_A accepted"

if [ "$IT_FAIL" -gt 0 ]; then
    it_show_log "$IT_DIR/log/A.log" "$IT_DIR/log/B.log" "$IT_DIR/log/C.log"
fi
it_finish
