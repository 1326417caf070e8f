#!/bin/bash
# rep-bench.sh: replication lag and master write throughput on loopback
# (make -C tests bench-replication).  For each ack-policy (one, none): a
# fresh master A and two replicas B and C (their own store directories,
# their own milter-suppress as replication process, ports picked free);
# rep-bench writes N entries on A, one commit after the other, while a
# watcher on B notes when each becomes visible there.  Prints the lag
# (median, 99th percentile, max) and A's writes/s; then lookups/s on B
# against the same entries on a single host's store.  Last, for each
# policy, how long a rejection by B's milter (its policy door) takes to
# be in A's timeline, through B's outbox (SHIPS of them, one at a time).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"

N=${N:-10000}
# With ack-policy one a commit from a subordinate process waits for its
# acknowledgement: ~1 ms since Nagle is off on the replication connections
# (libsuppress/store_rep_tcp.c; ~45 ms before, 22 writes/s).
N_ACKED=${N_ACKED:-$N}
SHIPS=${SHIPS:-20}
REP_BENCH=$top_builddir/tests/bench/rep-bench
it_require_built "$MILTER" "$REP_BENCH"
it_init rep-bench

site_conf() {
    local dir=$1 name=$2 role=$3 ack=$4 port=$5 peers= p
    shift 5
    for p in "$@"; do peers="$peers${peers:+, }\"127.0.0.1:$p\""; done
    cat >"$dir/$name.conf" <<CONF
store = "$dir/store-$name"
milter { socket = "unix:$dir/milter-$name.sock" stats-interval = "1s" }
policy-service { socket = "unix:$dir/policy-$name.sock" }
replication {
  local = "127.0.0.1:$port"
  peers = { $peers }
  role = "$role"
  ack-policy = "$ack"
}
CONF
}

site_start() {
    "$MILTER" -f -d -c "$1/$2.conf" >>"$1/$2.log" 2>&1 &
    IT_PIDS="$IT_PIDS $!"
    eval "PID_$2=$!"
    it_wait_for 10 grep -qsF "milter-suppress: started" "$1/$2.log"
}

# lag_figures WRITES VISIBLE: median, p99 and max of visible - commit, in ms.
lag_figures() {
    "$PYTHON" - "$1" "$2" <<'PY'
import sys
w = dict(l.split() for l in open(sys.argv[1]))
v = dict(l.split() for l in open(sys.argv[2]))
lag = sorted((int(v[i]) - int(w[i])) / 1e6 for i in w if i in v)
if not lag:
    sys.exit("no lag measured")
p = lambda q: lag[min(len(lag) - 1, int(q * len(lag)))]
print("lag over %d writes: median %.2f ms, p99 %.2f ms, max %.2f ms" % (len(lag), p(0.5), p(0.99), lag[-1]))
PY
}

# ship_figures DIR: SHIPS rejections on B's policy door, each waited for
# in A's timeline; the time from B's answer to A's show, median and max.
ship_figures() {
    local dir=$1 i=0 t0 t1 times=
    rejected_on_a() {
        "$SUPPRESSCTL" -c "$dir/A.conf" show "$1" --json 2>/dev/null | "$PYTHON" -c '
import json, sys
sys.exit(0 if any(e["event"] == "rejected" for e in json.load(sys.stdin)["timeline"]) else 1)'
    }
    while [ "$i" -lt "$SHIPS" ]; do
        "$PYTHON" "$top_srcdir/tests/integration/policy-client.py" "$dir/policy-B.sock" \
            "recipient:e$i@bench.example" | grep -q '^reply action=550' || return 1
        t0=$(date +%s%N)
        it_wait_for 60 rejected_on_a "e$i@bench.example" || return 1
        t1=$(date +%s%N)
        times="$times $(( (t1 - t0) / 1000000 ))"
        i=$((i + 1))
    done
    "$PYTHON" -c '
import sys
t = sorted(int(x) for x in sys.argv[1:])
print("rejection on B -> in A'"'"'s timeline over %d: median %d ms, max %d ms (stats-interval 1 s; polled with suppressctl show)" % (len(t), t[len(t) // 2], t[-1]))
' $times
}

run_policy() {
    local ack=$1 dir=$IT_DIR/$1 pa pb pc watch N=$2
    mkdir -p "$dir"
    pa=$(it_free_port); pb=$(it_free_port); pc=$(it_free_port)
    site_conf "$dir" A master "$ack" "$pa" "$pb" "$pc"
    site_conf "$dir" B replica "$ack" "$pb" "$pa" "$pc"
    site_conf "$dir" C replica "$ack" "$pc" "$pa" "$pb"
    site_start "$dir" A && site_start "$dir" B && site_start "$dir" C || { echo "a site did not start"; return 1; }
    # The replicas have the store once a first write reached them.
    "$REP_BENCH" write "$dir/A.conf" 1 warm >/dev/null 2>&1
    "$REP_BENCH" watch "$dir/B.conf" 1 warm >/dev/null || return 1
    "$REP_BENCH" watch "$dir/C.conf" 1 warm >/dev/null || return 1
    "$REP_BENCH" watch "$dir/B.conf" "$N" e >"$dir/visible.txt" &
    watch=$!
    sleep 0.5
    echo "ack-policy $ack: $("$REP_BENCH" write "$dir/A.conf" "$N" e 2>&1 >"$dir/writes.txt" | sed 's/^rep-bench: //')"
    wait "$watch" || { echo "the watcher on B failed"; return 1; }
    echo "ack-policy $ack: $(lag_figures "$dir/writes.txt" "$dir/visible.txt")"
    if [ "$ack" = one ]; then
        echo "lookups on replica B:     $("$REP_BENCH" lookups "$dir/B.conf" "$N" e)"
        cat >"$dir/single.conf" <<CONF
store = "$dir/store-single"
CONF
        "$REP_BENCH" write "$dir/single.conf" "$N" e >/dev/null 2>&1
        echo "lookups on a single host: $("$REP_BENCH" lookups "$dir/single.conf" "$N" e)"
    fi
    echo "ack-policy $ack: $(ship_figures "$dir" || echo "shipping not measured: a rejection did not reach A")"
    local p
    for p in "$PID_A" "$PID_B" "$PID_C"; do it_stop_pid "$p"; done
}

echo "# writes on master A (suppressctl's path: a subordinate process), replicas B and C, loopback;"
echo "# lag = visible on B - commit returned on A"
run_policy one "$N_ACKED" || IT_FAIL=1
run_policy none "$N" || IT_FAIL=1
[ "$IT_FAIL" -eq 0 ]
