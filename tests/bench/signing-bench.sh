#!/bin/bash
# signing-bench.sh: what signing the return path and recording the ledger
# of sent mail cost a Postfix relay, in messages per second (a benchmark
# that prints figures, not a test).
#
# One private Postfix instance (tests/integration/lib.sh) with four smtpd
# listeners, each through its own milter-suppress on a unix socket, all on
# one store of 100k suppressed addresses:
#   plain    signing off, ledger off   (the milter as before both)
#   signed   signing on (VERP: one recipient), ledger off
#   ledger   signing off, ledger on    (headers asked for, one record per message)
#   both     signing on, ledger on     (the default)
# smtp-source sends to a recipient that is not suppressed; rounds alternate
# between the listeners, medians and their ratios to "plain" are printed.
# Target: signed / plain >= 0.98.  Throughput on this shared 2-CPU machine
# swings by a fifth between runs, so the CPU time each milter used per
# message is printed too: it does not depend on what else runs.  Then the
# ledger's size on disk per message, from Berkeley DB's own statistics.
#
# usage: signing-bench.sh   (as root; from the build tree, or set top_builddir)
# Environment: ROUNDS (3), SESSIONS (20), MESSAGES (2000), SIZE (1024),
#              ENTRIES (100000)
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=tests/bench/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"

ROUNDS=${ROUNDS:-3}
SESSIONS=${SESSIONS:-20}
MESSAGES=${MESSAGES:-2000}
SIZE=${SIZE:-1024}
ENTRIES=${ENTRIES:-100000}
MODES="plain signed ledger both"

it_require_root
it_require_tools postfix smtp-source smtp-sink db5.3_stat
it_require_built "$MILTER" "$STORE_TOOL"
it_init signing-bench
SINK_DUMP=no
STORE=$IT_DIR/store

# mode_conf MODE: the config of that mode's milter (its own socket and pid file).
mode_conf() {
    local mode=$1 sign=false ledger=false conf=$IT_DIR/$1.conf
    case $mode in signed | both) sign=true ;; esac
    case $mode in ledger | both) ledger=true ;; esac
    MILTER_SOCKET=unix:$IT_DIR/run/$mode.sock milter_conf "$conf" 'stats-interval = "10s"' \
        "pid-file = \"$IT_DIR/run/$mode.pid\""
    printf 'signing {\n  enable = %s\n  bounce-address = "bounces@relay.test"\n}\n' "$sign" >>"$conf"
    printf 'ledger {\n  enable = %s\n}\n' "$ledger" >>"$conf"
    echo "$conf"
}

echo "# seeding the store with $ENTRIES suppressed addresses"
"$STORE_TOOL" "$STORE" bulk "$ENTRIES" bench.example || exit 1

declare -A PORT PID
services=()
for mode in $MODES; do
    PORT[$mode]=$(it_free_port)
    services+=("127.0.0.1:${PORT[$mode]} inet n - n - - smtpd -o smtpd_milters=unix:$IT_DIR/run/$mode.sock")
done
pf_setup "${services[@]}"
for mode in $MODES; do
    conf=$(mode_conf "$mode")
    "$MILTER" -f -c "$conf" >>"$IT_DIR/log/milter-$mode.log" 2>&1 &
    PID[$mode]=$!
    IT_PIDS="$IT_PIDS ${PID[$mode]}"
done
for mode in $MODES; do
    it_wait_for 10 test -S "$IT_DIR/run/$mode.sock" || { echo "milter $mode did not start"; exit 1; }
done
pf_start || exit 1

echo "# $ROUNDS rounds of: smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE, one recipient not suppressed"
printf '%-6s' round; for mode in $MODES; do printf ' %14s' "$mode"; done; echo
# CPU time (user + system, in clock ticks) PID has used so far.
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

declare -A RATES TICKS
for r in $(seq 1 "$ROUNDS"); do
    printf '%-6s' "$r"
    for mode in $MODES; do
        c0=$(cpu_ticks "${PID[$mode]}")
        rate=$(bench_run "${PORT[$mode]}" "$SESSIONS" "$MESSAGES") || exit 1
        TICKS[$mode]=$(( ${TICKS[$mode]:-0} + $(cpu_ticks "${PID[$mode]}") - c0 ))
        RATES[$mode]="${RATES[$mode]} $rate"
        printf ' %8.0f msg/s' "$rate"
    done
    echo
done
declare -A MED
printf '%-6s' median
for mode in $MODES; do
    # shellcheck disable=SC2086  # the list of rates
    MED[$mode]=$(median ${RATES[$mode]})
    printf ' %8.0f msg/s' "${MED[$mode]}"
done
echo
printf 'ratio signed / plain: %.3f (target >= 0.98)\n' "$(calc "${MED[signed]} / ${MED[plain]}")"
printf 'ratio ledger / plain: %.3f\n' "$(calc "${MED[ledger]} / ${MED[plain]}")"
printf 'ratio both / plain:   %.3f (the default configuration)\n' "$(calc "${MED[both]} / ${MED[plain]}")"
printf 'milter CPU per message:'
for mode in $MODES; do
    printf ' %s %.0f us' "$mode" \
        "$(calc "${TICKS[$mode]} / $(getconf CLK_TCK) * 1000000 / ($ROUNDS * $MESSAGES)")"
done
echo

# The ledger: written by the "ledger" and "both" milters (flushed at stop).
for mode in $MODES; do it_stop_pid "${PID[$mode]}"; done
recorded=$(db5.3_stat -h "$STORE" -d ledger.db 2>/dev/null | awk '/Number of unique keys/ { print $1 }')
bytes=$(stat -c %s "$STORE/ledger.db")
printf 'ledger: %s messages recorded (of %d sent through ledger and both), ledger.db %d bytes, %.0f bytes per message\n' \
    "${recorded:-?}" "$((2 * ROUNDS * MESSAGES))" "$bytes" "$(calc "$bytes / (${recorded:-1} > 0 ? ${recorded:-1} : 1)")"
echo "# ledger.db at 1M messages: tests/bench/store-bench.sh (its ledger mode)"
echo "# machine: $(nproc) CPUs, $(uname -r); Postfix $(postconf -d -h mail_version 2>/dev/null)"
exit 0
