#!/bin/bash
# fleet-failover.sh: what a fleet of three electable sites survives
# (replication.role "elect"), on loopback ports picked free at run time.
#
#   - A starts as master (Berkeley DB 5.3 forms a new group only around a
#     master), B (priority 90) and C (80) as electable sites.
#   - A's milter-suppress is killed with SIGKILL: B and C keep answering
#     lookups from their own stores, and B wins the next election.
#   - B, the new master, takes a write; rejections answered by C's
#     milter (its policy door) reach B through C's outbox, and B's own,
#     answered while B may still have been a replica, are in B's store:
#     each once.
#   - A's store directory is deleted and A restarted, electable now: it
#     joins as a replica of B and receives the whole list (internal init), including
#     what was written while it was gone.
#   - 100k entries are imported on B; a fourth site D joins with an empty
#     store and catches up with all of them (the time is printed).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_built "$MILTER" "$SUPPRESSCTL"
it_init fleet-failover

PORT_A=$(it_free_port)
PORT_B=$(it_free_port)
PORT_C=$(it_free_port)
PORT_D=$(it_free_port)

# site_conf NAME ROLE PRIORITY LOCAL_PORT PEER_PORT...
site_conf() {
    local name=$1 role=$2 prio=$3 port=$4 peers= p
    shift 4
    for p in "$@"; do peers="$peers${peers:+, }\"127.0.0.1:$p\""; done
    cat >"$IT_DIR/$name.conf" <<EOF
store = "$IT_DIR/store-$name"
milter {
  socket = "unix:$IT_DIR/run/milter-$name.sock"
  stats-interval = "1s"
}
policy-service {
  socket = "unix:$IT_DIR/run/policy-$name.sock"
  socket-mode = "0666"
}
replication {
  local = "127.0.0.1:$port"
  peers = { $peers }
  role = "$role"
  priority = $prio
}
EOF
}

suppressed_on() {
    "$SUPPRESSCTL" -c "$IT_DIR/$1.conf" show "$2" 2>/dev/null | grep -q '^status: *suppressed'
}

is_master() {
    "$SUPPRESSCTL" -c "$IT_DIR/$1.conf" status 2>/dev/null | grep -qE '^role: +master'
}

# SITE's milter has its store open: at once, or after its retries (a new
# replica's milter retries every 5 s until the store has come).
milter_has_store() {
    ! grep -qsF "cannot open the store" "$IT_DIR/log/$1.log" \
        || grep -qsF "is open now; lookups use it" "$IT_DIR/log/$1.log"
}

# reject_on SITE N: N rejections of first@ through SITE's policy door.
reject_on() {
    local args=() i=0
    while [ "$i" -lt "$2" ]; do args+=("recipient:first@example.com"); i=$((i + 1)); done
    [ "$("$PYTHON" "$top_srcdir/tests/integration/policy-client.py" "$IT_DIR/run/policy-$1.sock" \
        "${args[@]}" | grep -c '^reply action=550')" -eq "$2" ]
}

# rejected_events SITE: first@'s "rejected" events in SITE's store.
rejected_events() {
    "$SUPPRESSCTL" -c "$IT_DIR/$1.conf" show first@example.com --json 2>/dev/null |
        "$PYTHON" -c 'import json, sys
print(sum(1 for e in json.load(sys.stdin)["timeline"] if e["event"] == "rejected"))'
}

outbox_empty() {
    "$SUPPRESSCTL" -c "$IT_DIR/$1.conf" status --json 2>/dev/null | "$PYTHON" -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["outbox"]["batches"] == 0 else 1)'
}

now_ms() {
    echo $(( $(date +%s%N) / 1000000 ))
}

site_conf A master 100 "$PORT_A" "$PORT_B" "$PORT_C"
site_conf B elect 90 "$PORT_B" "$PORT_A" "$PORT_C"
site_conf C elect 80 "$PORT_C" "$PORT_A" "$PORT_B"
check "A, B and C start" eval 'it_site_start A && it_site_start B && it_site_start C'
[ "$IT_FAIL" -eq 0 ] || it_finish
check "A is master" it_wait_for 30 is_master A
"$SUPPRESSCTL" -c "$IT_DIR/A.conf" add first@example.com >/dev/null
check "a write on A" test $? -eq 0
check "it reaches B" it_wait_for 10 suppressed_on B first@example.com
check "it reaches C" it_wait_for 10 suppressed_on C first@example.com

# --- the master dies
kill -KILL "$PID_A"
wait "$PID_A" 2>/dev/null
t0=$(now_ms)
check "B answers lookups with A dead" suppressed_on B first@example.com
check "C answers lookups with A dead" suppressed_on C first@example.com
check "B's milter has its store" it_wait_for 15 milter_has_store B
check "B's milter rejects 5 with A dead" reject_on B 5
check "B wins the election that follows" it_wait_for 60 is_master B
echo "# A killed -> B master: $(( $(now_ms) - t0 )) ms"
check "C is not master" eval '! is_master C'
"$SUPPRESSCTL" -c "$IT_DIR/B.conf" add second@example.com >/dev/null
check "a write on B, the new master" test $? -eq 0
check "it reaches C" it_wait_for 10 suppressed_on C second@example.com
check "C's milter has its store" it_wait_for 15 milter_has_store C
check "C's milter rejects 7" reject_on C 7
check "B, master now, has B's 5 and C's 7 rejections" \
    it_wait_for 60 eval 'outbox_empty B && outbox_empty C && [ "$(rejected_events B)" -ge 12 ]'
check "each once: exactly 12" test "$(rejected_events B)" -eq 12
out=$("$SUPPRESSCTL" -c "$IT_DIR/C.conf" add third@example.com 2>&1)
check "a write on C names B as the master" \
    grep -qF "write on the master, 127.0.0.1:$PORT_B" <<<"$out"

# --- A comes back with nothing: a new replica of B
rm -rf "$IT_DIR/store-A"
site_conf A elect 100 "$PORT_A" "$PORT_B" "$PORT_C"
check "A restarts with an empty store" it_site_start A
check "A receives the list from B: the entry written before" \
    it_wait_for 60 suppressed_on A first@example.com
check "and the one written while A was gone" it_wait_for 10 suppressed_on A second@example.com
check "B is still master" is_master B
check "A is a replica now" eval '! is_master A'

# --- a fourth site joins a store of 100k entries
"$PYTHON" -c '
import sys
print("address,reason")
for i in range(100000):
    print("bulk%d@example.net,hard-bounce" % i)
' >"$IT_DIR/bulk.csv"
t0=$(now_ms)
"$SUPPRESSCTL" -c "$IT_DIR/B.conf" import "$IT_DIR/bulk.csv" >"$IT_DIR/log/import.log" 2>&1
check "100k entries imported on B" test $? -eq 0
echo "# import of 100k on the master: $(( $(now_ms) - t0 )) ms"
site_conf D replica 0 "$PORT_D" "$PORT_B" "$PORT_A"
t0=$(now_ms)
check "D starts with an empty store" it_site_start D
check "D catches up: the last of the 100k" it_wait_for 120 suppressed_on D bulk99999@example.net
echo "# D joined -> has the 100k: $(( $(now_ms) - t0 )) ms"
count=$("$SUPPRESSCTL" -c "$IT_DIR/D.conf" list 2>/dev/null | grep -c '@example.net')
check "D has all 100000 ($count)" test "$count" -eq 100000
check "D's milter opened its store once in sync" \
    it_wait_for 10 grep -qF "is open now; lookups use it" "$IT_DIR/log/D.log"

if [ "$IT_FAIL" -gt 0 ]; then
    it_show_log "$IT_DIR/log/A.log" "$IT_DIR/log/B.log" "$IT_DIR/log/C.log" "$IT_DIR/log/D.log"
fi
it_finish
