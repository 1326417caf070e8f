#!/bin/bash
# postfix-bench.sh: what milter-suppress costs a Postfix relay, in messages
# per second (a benchmark that prints figures, not a test).
#
# One private Postfix instance (tests/integration/lib.sh) with four smtpd
# listeners: through the milter on a unix socket, without any milter,
# through a second milter instance on a TCP socket, and through the policy
# service.  Both milters use one store holding 100k suppressed addresses.
# smtp-source sends to a recipient that is NOT suppressed (the common case:
# one store read per RCPT), rounds alternate between the listeners so that
# drift of the machine hits all alike, and the medians and their ratios to "no
# milter" are printed.  Target: unix-socket milter >= 0.97 of no milter.
# A fourth listener asks the same milter-suppress through the policy
# delegation protocol (check_policy_service, no milter): target >= 0.97.
#
# Then a single-session run shows the delayed-ACK stall of TCP milters
# (shared/docs/mta-test-rig.md section 4): the MTA writes a macro packet
# and the next command as two small writes; Nagle holds the second until
# the milter's delayed ACK (~40 ms).  Unix sockets have no Nagle.
#
# usage: postfix-bench.sh   (as root; from the build tree, or set top_builddir)
# Environment: ROUNDS (3), SESSIONS (20), MESSAGES (2000), SIZE (1024),
#              ENTRIES (100000), SINGLE (200 messages of the -s 1 runs, 0 = skip),
#              NULL_MILTER (1 = run tests/bench/null-milter, which only answers
#              CONTINUE, in place of milter-suppress: the floor of what any
#              libmilter milter costs here)
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=tests/bench/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"

ROUNDS=${ROUNDS:-3}
SESSIONS=${SESSIONS:-20}
MESSAGES=${MESSAGES:-2000}
SIZE=${SIZE:-1024}
ENTRIES=${ENTRIES:-100000}
SINGLE=${SINGLE:-200}

it_require_root
it_require_tools postfix smtp-source smtp-sink
[ "${NULL_MILTER:-0}" = 1 ] && MILTER=$top_builddir/tests/bench/null-milter
it_require_built "$MILTER" "$STORE_TOOL"
it_init bench
SINK_DUMP=no

CONF=$IT_DIR/milter.conf
INET_CONF=$IT_DIR/milter-inet.conf
STORE=$IT_DIR/store
MILTER_INET_PORT=$(it_free_port)
milter_conf "$CONF" 'stats-interval = "10s"'
POLICY_SOCK=$IT_DIR/run/policy.sock
# The same milter-suppress also serves the policy protocol (not the null milter).
[ "${NULL_MILTER:-0}" = 1 ] || printf 'policy-service {\n  socket = "unix:%s"\n  socket-mode = "0666"\n}\n' \
    "$POLICY_SOCK" >>"$CONF"
MILTER_SOCKET=inet:$MILTER_INET_PORT@127.0.0.1 milter_conf "$INET_CONF" \
    'stats-interval = "10s"' "pid-file = \"$IT_DIR/run/milter-inet.pid\""

echo "# seeding the store with $ENTRIES suppressed addresses"
t0=$(date +%s.%N)
"$STORE_TOOL" "$STORE" bulk "$ENTRIES" bench.example || exit 1
t1=$(date +%s.%N)
printf '# seeded in %.1f s; %s\n' "$(calc "$t1 - $t0")" \
    "$("$STORE_TOOL" "$STORE" lookup n000042@bench.example)"

NOMILTER_PORT=$(it_free_port)
INET_PORT=$(it_free_port)
POLICY_PORT=$(it_free_port)
pf_setup "127.0.0.1:$NOMILTER_PORT inet n - n - - smtpd -o smtpd_milters=" \
         "127.0.0.1:$INET_PORT inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:$MILTER_INET_PORT" \
         "127.0.0.1:$POLICY_PORT inet n - n - - smtpd -o smtpd_milters= -o { smtpd_recipient_restrictions = check_policy_service unix:$POLICY_SOCK, permit_mynetworks, reject_unauth_destination }"
milter_start "$CONF" || exit 1
"$MILTER" -f -c "$INET_CONF" >>"$IT_DIR/log/milter-inet.log" 2>&1 &
INET_MILTER_PID=$!
IT_PIDS="$IT_PIDS $INET_MILTER_PID"
it_wait_port "$MILTER_INET_PORT" 10 || { echo "inet milter did not start"; exit 1; }
pf_start || exit 1

# CPU time (user + system, in clock ticks) PID has used so far.
cpu_ticks() {
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

echo "# $ROUNDS rounds of: smtp-source -s $SESSIONS -m $MESSAGES -l $SIZE, to a recipient not suppressed"
printf '%-6s %14s %14s %14s %14s\n' round "unix milter" "no milter" "inet milter" "policy"
UNIX=() NONE=() INET=() POLICY=()
UNIX_TICKS=0
for r in $(seq 1 "$ROUNDS"); do
    c0=$(cpu_ticks "$MILTER_PID")
    u=$(bench_run "$SMTPD_PORT" "$SESSIONS" "$MESSAGES") || exit 1
    UNIX_TICKS=$((UNIX_TICKS + $(cpu_ticks "$MILTER_PID") - c0))
    n=$(bench_run "$NOMILTER_PORT" "$SESSIONS" "$MESSAGES") || exit 1
    i=$(bench_run "$INET_PORT" "$SESSIONS" "$MESSAGES") || exit 1
    p=0
    [ "${NULL_MILTER:-0}" = 1 ] || p=$(bench_run "$POLICY_PORT" "$SESSIONS" "$MESSAGES") || exit 1
    UNIX+=("$u") NONE+=("$n") INET+=("$i") POLICY+=("$p")
    printf '%-6s %10.0f msg/s %8.0f msg/s %8.0f msg/s %8.0f msg/s\n' "$r" "$u" "$n" "$i" "$p"
done
mu=$(median "${UNIX[@]}")
mn=$(median "${NONE[@]}")
mi=$(median "${INET[@]}")
mp=$(median "${POLICY[@]}")
printf '%-6s %10.0f msg/s %8.0f msg/s %8.0f msg/s %8.0f msg/s\n' median "$mu" "$mn" "$mi" "$mp"
printf 'ratio unix milter / no milter: %.3f (target >= 0.97)\n' "$(calc "$mu / $mn")"
printf 'ratio inet milter / no milter: %.3f\n' "$(calc "$mi / $mn")"
printf 'ratio policy service / no milter: %.3f (target >= 0.97; the unix milter signs and\n' \
    "$(calc "$mp / $mn")"
echo '  records the ledger by default, the policy service does neither)'

printf 'milter CPU per message (unix runs): %.0f us (%d ticks of 1/%d s for %d messages)\n' \
    "$(calc "$UNIX_TICKS / $(getconf CLK_TCK) * 1000000 / ($ROUNDS * $MESSAGES)")" \
    "$UNIX_TICKS" "$(getconf CLK_TCK)" "$((ROUNDS * MESSAGES))"

if [ "$SINGLE" -gt 0 ]; then
    echo "# one session at a time (smtp-source -s 1 -m $SINGLE): the TCP delayed-ACK stall"
    su=$(bench_run "$SMTPD_PORT" 1 "$SINGLE") || exit 1
    sn=$(bench_run "$NOMILTER_PORT" 1 "$SINGLE") || exit 1
    si=$(bench_run "$INET_PORT" 1 "$SINGLE") || exit 1
    printf 'single session: unix milter %.0f msg/s, no milter %.0f msg/s, inet milter %.0f msg/s\n' \
        "$su" "$sn" "$si"
    echo "# A TCP milter pays ~40 ms per message when sessions run one after another"
    echo "# (Nagle + delayed ACK on the MTA's two small writes); use a unix socket,"
    echo "# or parallel sessions, where that matters."
fi

# The milter saw every message: its accepted counter (flushed at stop).
milter_stop
it_stop_pid "$INET_MILTER_PID"
echo "# accepted recipients counted by the milters today: $("$STORE_TOOL" "$STORE" counter "$(today)" accepted)"
echo "# machine: $(nproc) CPUs, $(uname -r); Postfix $(postconf -d -h mail_version 2>/dev/null)"
exit 0
