# shellcheck shell=bash
# tests/bench/lib-bench.sh: what the Postfix benchmarks share, sourced after
# tests/integration/lib.sh: arithmetic, medians, and one timed smtp-source
# run into a listener of the private instance.  SIZE (bytes per message)
# is the caller's.

calc() { awk "BEGIN { print $1 }"; }

median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Until no message is left in the queue (incoming and active are flat,
# deferred hashed one level): a look every 10 ms that starts no process
# (a glob, and read -t on a pipe nobody writes as the sleep), so the wait
# neither costs the machine much nor blurs a run's end by over 10 ms.
bench_wait_empty() {
    local tries=12000 left
    [ -n "${BENCH_NAP_FD:-}" ] || exec {BENCH_NAP_FD}<> <(:)
    while [ "$tries" -gt 0 ]; do
        shopt -s nullglob
        left=("$IT_DIR"/spool/incoming/* "$IT_DIR"/spool/active/* "$IT_DIR"/spool/deferred/*/*)
        shopt -u nullglob
        [ "${#left[@]}" -eq 0 ] && return 0
        read -r -t 0.01 -u "$BENCH_NAP_FD" _
        tries=$((tries - 1))
    done
    return 1
}

# bench_run PORT SESSIONS COUNT: one smtp-source run once the queue is
# empty, to a recipient that is not suppressed; prints msg/s.
bench_run() {
    local port=$1 sessions=$2 count=$3 t0 t1
    bench_wait_empty || { echo "the queue did not empty" >&2; return 1; }
    t0=$(date +%s.%N)
    smtp-source -s "$sessions" -m "$count" -l "$SIZE" -M client.test \
        -f sender@example.org -t ok@example.com "127.0.0.1:$port" \
        2>>"$IT_DIR/log/smtp-source.err" || { echo "smtp-source failed" >&2; return 1; }
    t1=$(date +%s.%N)
    calc "$count / ($t1 - $t0)"
}
