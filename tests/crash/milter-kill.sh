#!/bin/bash
# milter-kill.sh: milter-suppress SIGKILLed at random moments while
# recipients stream in, restarted, again, CRASH_MILTER_KILLS times (10 by
# default).  The client (the policy door, one connection, so that every
# answer is seen) counts what the milter answered: rejected (550) and
# accepted (DUNNO).  After each kill, what the store gained in that run
# (the day's "accepted" and "rejected" counters, the "rejected" timeline
# events) is compared with what was answered in it:
#   - never more than answered (nothing is written twice);
#   - the stored "rejected" counter equals the stored rejected events,
#     after every kill (one transaction holds both);
#   - the loss at most what was answered in the last LOSS_WINDOW seconds
#     before the kill: milter.stats-interval (1 s here) plus the slack of
#     one flush on a busy shared machine (CRASH_MILTER_SLACK, 1.5 s): the
#     background writer takes the counts and events of one interval and
#     commits them in one transaction, so a kill loses at most those taken
#     since the start of the last flush that committed.
# The last run ends with SIGTERM: its final flush loses nothing.
# The long run, 100 kills: make -C tests bench-milter-kill.
# shellcheck source=tests/integration/lib.sh
. "$top_srcdir/tests/integration/lib.sh"

it_require_built "$MILTER" "$STORE_TOOL"
it_init milter-kill

KILLS=${CRASH_MILTER_KILLS:-10}
SLACK=${CRASH_MILTER_SLACK:-1.5}
INTERVAL=1
LOSS_WINDOW=$(awk -v i="$INTERVAL" -v s="$SLACK" 'BEGIN { print i + s }')
SEED=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# seed $SEED (CRASH_SEED=$SEED repeats these delays); loss window $LOSS_WINDOW s"

CONF=$IT_DIR/milter.conf
POLICY_SOCK=$IT_DIR/run/policy.sock
STORE=$IT_DIR/store
BLOCKED=10
milter_conf "$CONF"
sed -i "s/stats-interval = \"1s\"/stats-interval = \"${INTERVAL}s\"/" "$CONF"
printf 'policy-service {\n  socket = "unix:%s"\n  socket-mode = "0666"\n}\n' "$POLICY_SOCK" >>"$CONF"
printf 'policy {\n  timeline-max-events = 1000000\n}\n' >>"$CONF"
i=0
while [ "$i" -lt "$BLOCKED" ]; do
    "$STORE_TOOL" "$STORE" put "blocked$i@example.com" hard-bounce 0 >/dev/null
    i=$((i + 1))
done

# The client: RCPT requests on one connection until the milter goes away,
# one in three for a suppressed address; one line per answer: its kind
# (R rejected, A accepted, O anything else) and the wall-clock time.
cat >"$IT_DIR/pump.py" <<'PY'
import socket, sys, time
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
sock.connect(sys.argv[1])
blocked = int(sys.argv[2])
out = open(sys.argv[3], "w", buffering=1)
i = 0
while True:
    rcpt = f"blocked{i % blocked}@example.com" if i % 3 == 0 else f"ok{i}@example.net"
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
           "client_address=192.0.2.9\nclient_name=pump.test\nsender=pump@example.org\n"
           f"recipient={rcpt}\n\n").encode()
    try:
        sock.sendall(req)
        data = b""
        while b"\n\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                sys.exit(0)
            data += chunk
    except OSError:
        sys.exit(0)
    action = data.split(b"\n\n", 1)[0].decode(errors="replace").partition("action=")[2]
    kind = "R" if action.startswith("550") else "A" if action.startswith("DUNNO") else "O"
    out.write(f"{kind} {time.time():.6f}\n")
    i += 1
    time.sleep(0.002)
PY

# stored: the day's accepted and rejected counters and the rejected events.
stored() {
    local acc=0 rej=0 ev=0 d a
    for d in "$DAY0" "$(date -u +%F)"; do
        a=$("$STORE_TOOL" "$STORE" counter "$d" accepted) || return 1
        acc=$((acc + a))
        a=$("$STORE_TOOL" "$STORE" counter "$d" rejected) || return 1
        rej=$((rej + a))
        [ "$d" = "$DAY0" ] && [ "$DAY0" = "$(date -u +%F)" ] && break
    done
    i=0
    while [ "$i" -lt "$BLOCKED" ]; do
        a=$("$STORE_TOOL" "$STORE" events "blocked$i@example.com" | grep -c '^rejected|')
        ev=$((ev + a))
        i=$((i + 1))
    done
    echo "$acc $rej $ev"
}
DAY0=$(date -u +%F)

# mawk takes seeds below 2^31 only (a larger one gives two delays).
awk -v seed=$((SEED % 2147483647)) 'BEGIN { srand(seed); for (i = 0; i < 10000; i++) printf "%.3f\n", 1.5 + 3 * rand() }' \
    >"$IT_DIR/delays"
exec 3<"$IT_DIR/delays"
kills=0 run=0
tot_ans_a=0 tot_ans_r=0 tot_st_a=0 tot_st_r=0 tot_st_e=0 tot_bound=0
read -r base_a base_r base_e <<<"$(stored)"
while [ "$kills" -le "$KILLS" ] && [ "$IT_FAIL" -eq 0 ]; do
    run=$((run + 1))
    last=$([ "$kills" -eq "$KILLS" ] && echo yes || echo no)
    milter_start "$CONF" || { check "run $run: the milter restarts after $kills kills" false; break; }
    it_wait_for 10 test -S "$POLICY_SOCK"
    "$PYTHON" "$IT_DIR/pump.py" "$POLICY_SOCK" "$BLOCKED" "$IT_DIR/answers" 2>"$IT_DIR/pump.err" &
    PUMP=$!
    read -r delay <&3
    sleep "$delay"
    if [ "$last" = yes ]; then
        stop_at=$(date +%s.%N)
        milter_stop
    else
        stop_at=$(date +%s.%N)
        kill -KILL "$MILTER_PID"
        wait "$MILTER_PID" 2>/dev/null
        MILTER_PID=
        kills=$((kills + 1))
    fi
    wait "$PUMP"
    read -r ans_a ans_r other recent_a recent_r <<<"$(awk -v t="$stop_at" -v w="$LOSS_WINDOW" '
        { n[$1]++; if ($2 > t - w) r[$1]++ }
        END { printf "%d %d %d %d %d\n", n["A"], n["R"], n["O"], r["A"], r["R"] }' "$IT_DIR/answers")"
    read -r now_a now_r now_e <<<"$(stored)"
    st_a=$((now_a - base_a)) st_r=$((now_r - base_r)) st_e=$((now_e - base_e))
    base_a=$now_a base_r=$now_r base_e=$now_e
    what=$([ "$last" = yes ] && echo "SIGTERM" || echo "kill $kills")
    echo "# run $run ($what after ${delay}s): answered $ans_a accepted, $ans_r rejected" \
        "($recent_a, $recent_r in the last $LOSS_WINDOW s); stored $st_a, $st_r, $st_e events"
    # Counters and events are committed in one transaction (stats.c).
    [ "$now_r" -eq "$now_e" ] ||
        check "run $run: stored rejected counter $now_r = stored rejected events $now_e" false
    [ "$other" -eq 0 ] || check "run $run: every answer is 550 or DUNNO ($other others)" false
    [ $((ans_a + ans_r)) -gt 0 ] || check "run $run: the milter answered something" false
    for kind in a:accepted:"$ans_a":"$st_a":"$recent_a" r:rejected:"$ans_r":"$st_r":"$recent_r" \
        e:"rejected event":"$ans_r":"$st_e":"$recent_r"; do
        IFS=: read -r _ name ans st recent <<<"$kind"
        if [ "$last" = yes ]; then
            [ "$st" -eq "$ans" ] || check "run $run (SIGTERM): $name stored $st = answered $ans" false
        else
            [ "$st" -le "$ans" ] || check "run $run: $name stored $st <= answered $ans (never twice)" false
            [ $((ans - st)) -le "$recent" ] ||
                check "run $run: $name lost $((ans - st)) <= $recent answered in the last $LOSS_WINDOW s" false
        fi
    done
    tot_ans_a=$((tot_ans_a + ans_a)) tot_ans_r=$((tot_ans_r + ans_r))
    tot_st_a=$((tot_st_a + st_a)) tot_st_r=$((tot_st_r + st_r)) tot_st_e=$((tot_st_e + st_e))
    [ "$last" = yes ] && break
    tot_bound=$((tot_bound + recent_a + recent_r))
done
echo "# $kills kills in $run runs: answered $tot_ans_a accepted + $tot_ans_r rejected;" \
    "stored $tot_st_a accepted + $tot_st_r rejected counters, $tot_st_e rejected events;" \
    "lost $((tot_ans_a - tot_st_a)) + $((tot_ans_r - tot_st_r)) (bound $tot_bound)"
check "$kills kills: never stored more than answered, the loss within one flush of each kill, nothing lost at SIGTERM" \
    test "$IT_FAIL" -eq 0 -a "$kills" -ge "$KILLS"
check "no store errors logged" sh -c "! grep -Ei 'statistics not written|store.*(fail|error)' '$IT_DIR/log/milter.log'"
it_finish
