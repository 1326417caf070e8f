#!/bin/bash
# milter-damage.sh: milter-suppress started on a damaged store.  A store
# of 2000 suppressions (written by this release, so with page checksums)
# is damaged as store-damage.sh damages one: the log truncated, the log
# removed, the region files (__db.*) removed, two pages of
# suppressions.db overwritten, and also half a leaf page of
# suppressions.db (a torn write: the page header survives) and half a
# page of lookup-slots.db, the index the RCPT path reads first.  The log and
# page damages are met with the region files gone too, as the next start
# after the damage meets them when the environment is rebuilt: with the
# old regions in place Berkeley DB still answers from the pages cached in
# them and from the log end it remembers, and the damage shows only at
# the next recovery (see milter-suppress(8), DAMAGED STORE).
#
# For each damage and each on-store-error (tempfail, accept, reject) the
# milter is asked, through the policy door, about the 2000 suppressed
# addresses and 300 others, then again after the stats flush:
#   - every answer is the right verdict or exactly what on-store-error
#     says (for accept: DUNNO); never "not suppressed" for a suppressed
#     address, never a refusal of another;
#   - the damages that cannot be read (the log, the pages) get at least
#     one on-store-error answer; the region files removed get none (the
#     open rebuilds them);
#   - every request is answered (10 s socket timeout), the process is
#     still running afterwards and stops on SIGTERM;
#   - the log has at most one "store lookup ... failed" line per run
#     (one per minute while it goes on; a run is shorter), naming the
#     error and `suppressctl verify` / `suppressctl recover`.
# Then the repair: suppressctl recover (the log and region damages) or
# the restore from an export (the pages); the milter started again answers
# every address right.  For the removed log the repair is also done while
# the milter runs: it never opened that store, so recover may run, and the
# milter opens the repaired store by itself (retried every 5 s).
# shellcheck source=tests/integration/lib.sh
. "$top_srcdir/tests/integration/lib.sh"

it_require_built "$MILTER" "$STORE_TOOL" "$SUPPRESSCTL"
it_init milter-damage

N=2000
OK=300
ORIG=$IT_DIR/orig
POLICY_SOCK=$IT_DIR/run/policy.sock
"$STORE_TOOL" "$ORIG" bulk "$N" example.com >/dev/null || { notok "the original store"; it_finish; }
i=0
while [ "$i" -lt "$N" ]; do printf 'n%06d@example.com\n' "$i"; i=$((i + 1)); done >"$IT_DIR/blocked"
i=0
while [ "$i" -lt "$OK" ]; do printf 'fine%d@example.net\n' "$i"; i=$((i + 1)); done >"$IT_DIR/fine"
cat "$IT_DIR/blocked" "$IT_DIR/fine" >"$IT_DIR/all"
printf 'store = "%s"\n' "$ORIG" >"$IT_DIR/orig.conf"
"$SUPPRESSCTL" -c "$IT_DIR/orig.conf" export --all --json >"$IT_DIR/orig.export"

# The client: one request per address on one connection; "ADDR ACTION"
# per answer, "TIMEOUT ADDR" or "CLOSED ADDR" when it got none.
cat >"$IT_DIR/ask.py" <<'PY'
import socket, sys
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.settimeout(10)
sock.connect(sys.argv[1])
for addr in open(sys.argv[2]).read().split():
    req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
           "client_address=192.0.2.9\nclient_name=damage.test\nsender=damage@example.org\n"
           f"recipient={addr}\n\n").encode()
    data = b""
    try:
        sock.sendall(req)
        while b"\n\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                print("CLOSED", addr)
                sys.exit(0)
            data += chunk
    except OSError:
        print("TIMEOUT", addr)
        sys.exit(0)
    print(addr, data.split(b"\n\n", 1)[0].decode(errors="replace").partition("action=")[2])
PY

# damage KIND DIR: a copy of the original in DIR, damaged.
damage() {
    local s=$2
    cp -a "$ORIG" "$s"
    case $1 in
    trunclog) truncate -s 2000 "$s"/log.* ;;
    nolog) rm -f "$s"/log.* ;;
    noregion) ;;
    corrupt) head -c 8192 /dev/zero | tr '\0' 'Z' \
                 | dd of="$s/suppressions.db" bs=4096 seek=3 conv=notrunc 2>/dev/null ;;
    tornleaf) head -c 4096 /dev/zero | tr '\0' 'Z' \
                  | dd of="$s/suppressions.db" bs=4096 seek=21 conv=notrunc 2>/dev/null ;;
    # the last page: it holds the highest slot written (the pages before
    # it may be zero pages that no lookup reads)
    tornindex) head -c 2048 /dev/zero | tr '\0' 'Z' \
                   | dd of="$s/lookup-slots.db" bs=2048 conv=notrunc 2>/dev/null \
                        seek=$(( $(stat -c %s "$s/lookup-slots.db") / 2048 - 1 )) ;;
    esac
    rm -f "$s"/__db.0*
}

conf_for() {
    local conf=$1 store=$2 action=$3
    MILTER_STORE=$store milter_conf "$conf" "on-store-error = \"$action\""
    printf 'policy-service {\n  socket = "unix:%s"\n  socket-mode = "0666"\n}\n' "$POLICY_SOCK" >>"$conf"
}

# judge ACTION ANSWERS: counts "right wrong error unanswered" of the answers.
judge() {
    awk -v action="$1" -v total=$((N + OK)) '
        $1 == "TIMEOUT" || $1 == "CLOSED" { lost++; next }
        {
            addr = $1; $1 = ""; a = substr($0, 2)
            blocked = addr ~ /^n[0-9]+@example\.com$/
            real550 = a ~ /^550 5\.1\.1 Recipient address suppressed \(hard-bounce/
            onerr = (action == "tempfail" && a ~ /^451 4\.3\.0 /) ||
                    (action == "reject" && a ~ /^550 5\.1\.1 .*store-error/)
            if (blocked && real550) right++
            else if (!blocked && a == "DUNNO") right++
            else if (onerr) err++
            else if (action == "accept" && blocked && a == "DUNNO") err++
            else wrong++
        }
        END { printf "%d %d %d %d\n", right, wrong, err, total - NR + lost }' "$2"
}

failure_lines() { grep -c "store lookup of <.*> failed" "$IT_DIR/log/milter.log"; }

# one KIND ACTION: the milter on a fresh damaged copy.
one() {
    local kind=$1 action=$2 s=$IT_DIR/$1-$2 r1 r2 lines rc
    damage "$kind" "$s"
    conf_for "$IT_DIR/$kind.conf" "$s" "$action"
    : >"$IT_DIR/log/milter.log"
    milter_start "$IT_DIR/$kind.conf" && it_wait_for 10 test -S "$POLICY_SOCK" ||
        { notok "$kind, $action: the milter starts"; return; }
    "$PYTHON" "$IT_DIR/ask.py" "$POLICY_SOCK" "$IT_DIR/all" >"$s.answers1"
    sleep 1.5       # a stats flush (1 s) meets the damage too
    "$PYTHON" "$IT_DIR/ask.py" "$POLICY_SOCK" "$IT_DIR/all" >"$s.answers2"
    read -r r1 w1 e1 l1 <<<"$(judge "$action" "$s.answers1")"
    read -r r2 w2 e2 l2 <<<"$(judge "$action" "$s.answers2")"
    lines=$(failure_lines)
    echo "# $kind, on-store-error = $action: right $r1 + $r2, on-store-error $e1 + $e2," \
        "wrong $w1 + $w2, unanswered $l1 + $l2; $lines failure line(s) of $(wc -l <"$IT_DIR/log/milter.log")"
    check "$kind, $action: no wrong verdict" test "$w1" -eq 0 -a "$w2" -eq 0
    check "$kind, $action: every request answered" test "$l1" -eq 0 -a "$l2" -eq 0
    check "$kind, $action: still running" it_alive "$MILTER_PID"
    if [ "$kind" = noregion ]; then
        check "$kind, $action: all right (the open rebuilt the regions)" test "$e1" -eq 0 -a "$e2" -eq 0
    else
        check "$kind, $action: the damage gets on-store-error" test $((e1 + e2)) -gt 0
        check "$kind, $action: one failure line ($lines)" test "$lines" -eq 1
        check "$kind, $action: it names what to do" \
            grep -q "failed.*on-store-error = $action.*suppressctl verify.*suppressctl recover" \
            "$IT_DIR/log/milter.log"
    fi
    milter_stop
    rc=$?
    # 137: it_stop_pid had to SIGKILL it after 15 s
    check "$kind, $action: stops on SIGTERM (exit $rc)" test "$rc" -ne 137
}

# repaired KIND: after the repair, every answer right.
repaired() {
    local kind=$1 s=$2 r w e l
    : >"$IT_DIR/log/milter.log"
    milter_start "$IT_DIR/$kind.conf" && it_wait_for 10 test -S "$POLICY_SOCK" ||
        { notok "$kind repaired: the milter starts"; return; }
    "$PYTHON" "$IT_DIR/ask.py" "$POLICY_SOCK" "$IT_DIR/all" >"$s.answers"
    read -r r w e l <<<"$(judge tempfail "$s.answers")"
    check "$kind repaired, restarted: every answer right ($r)" test "$r" -eq $((N + OK))
    milter_stop
}

for kind in trunclog nolog noregion corrupt tornleaf tornindex; do
    for action in tempfail accept reject; do
        one "$kind" "$action"
    done
    s=$IT_DIR/$kind-tempfail
    conf_for "$IT_DIR/$kind.conf" "$s" tempfail
    case $kind in
    corrupt | tornleaf | tornindex)
        "$SUPPRESSCTL" -c "$IT_DIR/$kind.conf" recover >"$s.recover" 2>&1
        check "$kind: recover exits EX_DATAERR, the pages are gone" test $? -eq 65
        mv "$s" "$s.damaged"
        "$SUPPRESSCTL" -c "$IT_DIR/$kind.conf" import "$IT_DIR/orig.export" >/dev/null 2>&1
        check "$kind: restored from the export" test $? -eq 0 ;;
    *)
        "$SUPPRESSCTL" -c "$IT_DIR/$kind.conf" recover >"$s.recover" 2>&1
        check "$kind: recover exits 0" test $? -eq 0 ;;
    esac
    repaired "$kind" "$s"
done

# Repaired under a running milter: it never opened the store, so recover
# may run, and the milter opens the store by itself.
s=$IT_DIR/live
damage nolog "$s"
conf_for "$IT_DIR/live.conf" "$s" tempfail
: >"$IT_DIR/log/milter.log"
milter_start "$IT_DIR/live.conf" && it_wait_for 10 test -S "$POLICY_SOCK"
"$PYTHON" "$IT_DIR/ask.py" "$POLICY_SOCK" "$IT_DIR/all" >"$s.answers1"
read -r r w e l <<<"$(judge tempfail "$s.answers1")"
check "live: tempfail while the store cannot open ($e)" test "$e" -eq $((N + OK))
"$SUPPRESSCTL" -c "$IT_DIR/live.conf" recover >"$s.recover" 2>&1
check "live: recover with the milter running exits 0" test $? -eq 0
opened() { grep -q "store $s is open now" "$IT_DIR/log/milter.log"; }
check "live: the milter opens the recovered store by itself" it_wait_for 15 opened
"$PYTHON" "$IT_DIR/ask.py" "$POLICY_SOCK" "$IT_DIR/all" >"$s.answers2"
read -r r w e l <<<"$(judge tempfail "$s.answers2")"
check "live: every answer right after that ($r)" test "$r" -eq $((N + OK))
check "live: one failure line" test "$(failure_lines)" -eq 1
milter_stop
it_finish
