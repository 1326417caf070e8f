#!/bin/bash
# fleet-replication.sh: one suppression list for three sites through
# Berkeley DB replication (the replication section of
# milter-suppress.conf(5)), all on loopback ports picked free at run time.
#
# Site A is the master, B and C replicas; each has its own store
# directory and its own milter-suppress, the replication process of its
# site.  An address added with suppressctl on A (a subordinate process
# of A's environment) is refused at RCPT by a real Postfix that uses B's
# milter; the time from the commit on A to the entry being visible on B
# is measured and printed.  That rejection and the accepted recipient
# reach A's stats and timeline through B's outbox, once.  A write on a
# replica fails at once, with EX_NOPERM and an error that names the
# master.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_root
it_require_tools postfix swaks smtp-sink
it_require_built "$MILTER" "$SUPPRESSCTL"
it_init fleet-replication

PORT_A=$(it_free_port)
PORT_B=$(it_free_port)
PORT_C=$(it_free_port)

# site_conf NAME ROLE LOCAL_PORT PEER_PORT...: NAME's config; B's milter
# listens where pf_setup's Postfix looks (run/milter.sock).
site_conf() {
    local name=$1 role=$2 port=$3 peers= p sock
    shift 3
    for p in "$@"; do peers="$peers${peers:+, }\"127.0.0.1:$p\""; done
    sock=unix:$IT_DIR/run/milter-$name.sock
    [ "$name" = B ] && sock=unix:$IT_DIR/run/milter.sock
    cat >"$IT_DIR/$name.conf" <<EOF
store = "$IT_DIR/store-$name"
milter {
  socket = "$sock"
  socket-mode = "0666"
  stats-interval = "1s"
}
replication {
  local = "127.0.0.1:$port"
  peers = { $peers }
  role = "$role"
}
EOF
}

# suppressed_on NAME ADDR: NAME's own store says ADDR is suppressed.
suppressed_on() {
    "$SUPPRESSCTL" -c "$IT_DIR/$1.conf" show "$2" 2>/dev/null | grep -q '^status: *suppressed'
}

# synced NAME: NAME's store can be read (the master sent it).
synced() {
    "$SUPPRESSCTL" -c "$IT_DIR/$1.conf" list >/dev/null 2>&1
}

now_ms() {
    echo $(( $(date +%s%N) / 1000000 ))
}

site_conf A master "$PORT_A" "$PORT_B" "$PORT_C"
site_conf B replica "$PORT_B" "$PORT_A" "$PORT_C"
site_conf C replica "$PORT_C" "$PORT_A" "$PORT_B"

check "site A (master) starts" it_site_start A
check "site B (replica) starts" it_site_start B
check "site C (replica) starts" it_site_start C
[ "$IT_FAIL" -eq 0 ] || it_finish
check "B received the store from A" it_wait_for 30 synced B
check "C received the store from A" it_wait_for 30 synced C

# --- a write on the master reaches the replicas
"$SUPPRESSCTL" -c "$IT_DIR/A.conf" add gone@example.com --reason hard-bounce --ttl 7d >/dev/null
check "suppressctl add on the master succeeds" test $? -eq 0
t0=$(now_ms)
it_wait_for 10 suppressed_on B gone@example.com
visible=$?
t1=$(now_ms)
check "the address is suppressed on B" test "$visible" -eq 0
echo "# commit on A -> visible on B: $((t1 - t0)) ms (polled with suppressctl show, process start included)"
check "the address is suppressed on C" it_wait_for 10 suppressed_on C gone@example.com

# --- a real Postfix using B's milter refuses it
pf_setup
check "postfix and smtp-sink start" pf_start
send refused gone@example.com
check "B's milter: RCPT refused (swaks exit 24)" test $? -eq 24
check "B's milter: 550 5.1.1 to the client" transcript_has refused '^<\*\* 550 5\.1\.1 '
check "B's milter: nothing delivered" not_delivered gone@example.com
send accepted fine@example.com
check "B's milter: another recipient is delivered" delivered fine@example.com

# --- what B's milter recorded reaches the master (B's outbox), once
# shipped_to_a: A's timeline of gone@ has B's one rejection (via the
# milter, its sender), A's counters B's one rejected and one accepted
# recipient, and B's outbox is empty (nothing more on its way).
shipped_to_a() {
    "$SUPPRESSCTL" -c "$IT_DIR/B.conf" status --json 2>/dev/null | "$PYTHON" -c '
import json, sys
sys.exit(0 if json.load(sys.stdin)["outbox"]["batches"] == 0 else 1)' || return 1
    "$SUPPRESSCTL" -c "$IT_DIR/A.conf" stats --days 2 --json >"$IT_DIR/stats-A.json" 2>/dev/null &&
    "$SUPPRESSCTL" -c "$IT_DIR/A.conf" show gone@example.com --json >"$IT_DIR/show-A.json" 2>/dev/null &&
    "$PYTHON" - "$IT_DIR/stats-A.json" "$IT_DIR/show-A.json" <<'PY'
import json, sys
total = json.load(open(sys.argv[1]))["total"]
t = [e for e in json.load(open(sys.argv[2]))["timeline"] if e["event"] == "rejected"]
ok = (total["rejected"], total["accepted"]) == (1, 1) and len(t) == 1 \
    and t[0]["via"] == "milter" and t[0]["actor"] == "sender@example.org"
sys.exit(0 if ok else 1)
PY
}
t0=$(now_ms)
it_wait_for 30 shipped_to_a
shipped=$?
check "A has B's milter's rejection and counts, exactly once" test "$shipped" -eq 0
echo "# rejection on B -> counted on A: $(( $(now_ms) - t0 )) ms after the SMTP session (stats-interval 1 s; polled, process starts included)"

# --- a write on a replica fails at once, naming the master
out=$("$SUPPRESSCTL" -c "$IT_DIR/C.conf" add other@example.com 2>&1)
rc=$?
check "suppressctl add on a replica fails with EX_NOPERM (77)" test "$rc" -eq 77
check "the error says this site is a replica and names the master" \
    grep -qF "this site is a replica; write on the master, 127.0.0.1:$PORT_A" <<<"$out"
check "nothing was written on the replica" eval '! suppressed_on C other@example.com'
check "nor on the master" eval '! suppressed_on A other@example.com'
out=$("$SUPPRESSCTL" -c "$IT_DIR/B.conf" remove gone@example.com 2>&1)
check "suppressctl remove on a replica fails too" test $? -eq 77
check "the entry is still suppressed on A" suppressed_on A gone@example.com

# --- suppressctl status on each side
out=$("$SUPPRESSCTL" -c "$IT_DIR/A.conf" status 2>&1)
check "status on A: master" grep -qE '^role: +master \(configured: master\)' <<<"$out"
out=$("$SUPPRESSCTL" -c "$IT_DIR/B.conf" status 2>&1)
check "status on B: a replica" grep -qE '^role: +replica \(configured: replica\)' <<<"$out"
check "status on B: names the master" grep -qE "^master: +127\.0\.0\.1:$PORT_A\$" <<<"$out"
check "status on B: in sync" grep -qE '^in sync: +yes' <<<"$out"
check "status on B: A is the master among the sites" \
    grep -qE "127\.0\.0\.1:$PORT_A +connection known to the replication process only, master" <<<"$out"
"$SUPPRESSCTL" -c "$IT_DIR/C.conf" status --json >"$IT_DIR/status-C.json" 2>&1
check "status --json on C: role, master and two sites" "$PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["replicated"] and s["role"] == "replica", s
assert s["master"] == "127.0.0.1:" + sys.argv[2], s
assert sorted(x["address"] for x in s["sites"]) == sorted("127.0.0.1:" + p for p in sys.argv[2:]), s
assert not s["replication_process"] and all(x["connected"] is None for x in s["sites"]), s
' "$IT_DIR/status-C.json" "$PORT_A" "$PORT_B"

# --- a removal on the master reaches the replicas too
"$SUPPRESSCTL" -c "$IT_DIR/A.conf" remove gone@example.com >/dev/null
check "suppressctl remove on the master succeeds" test $? -eq 0
check "the removal reaches B" it_wait_for 10 eval '! suppressed_on B gone@example.com'

if [ "$IT_FAIL" -gt 0 ]; then
    it_show_log "$IT_DIR/log/A.log" "$IT_DIR/log/B.log" "$IT_DIR/log/C.log"
fi
it_finish
