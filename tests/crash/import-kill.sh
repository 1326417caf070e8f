#!/bin/sh
# import-kill.sh: suppressctl import of 100,000 rows, SIGKILLed at random
# moments and run again each time until one run completes, ends with the
# store one uninterrupted import makes: every entry the same (reason,
# note, count, expiry relative to its last event), each sampled address
# with exactly one "add" event.  Rounds of that, each on a new store,
# until CRASH_IMPORT_KILLS kills (10 by default).  A second import of the
# same file changes nothing and says so; --again imports it anyway.
set -u

: "${top_builddir:?run from make check}" "${srcdir:?run from make check}"
CTL=$top_builddir/suppressctl/suppressctl
TOOL=$top_builddir/tests/integration/store-tool
ROWS=${CRASH_IMPORT_ROWS:-100000}
KILLS=${CRASH_IMPORT_KILLS:-10}
SEED=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
for p in "$CTL" "$TOOL"; do [ -x "$p" ] || { echo "no $p"; exit 99; }; done

T=$(mktemp -d /tmp/import-kill.XXXXXX) || exit 99
CHILD=
cleanup() {
    if [ -n "$CHILD" ]; then kill -KILL "$CHILD" 2>/dev/null; wait "$CHILD" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
echo "seed $SEED (CRASH_SEED=$SEED repeats these delays)"
conf() { printf 'store = "%s"\n' "$T/$1" > "$T/$1.conf"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# The list: a CSV of ROWS addresses, reasons and notes in turn.
awk -v n="$ROWS" 'BEGIN {
    print "address,reason,note"
    split("hard-bounce complaint unsubscribe manual", r, " ")
    for (i = 0; i < n; i++) printf "user%06d@import%d.example,%s,row %d\n", i, i % 7, r[i % 4 + 1], i
}' > "$T/list.csv"

# One uninterrupted import: the reference, and how long it takes.
conf clean
t0=$(now_ms)
"$CTL" -c "$T/clean.conf" import "$T/list.csv" > "$T/clean.out" 2>&1 || fail "clean import: $(cat "$T/clean.out")"
IMPORT_MS=$(( $(now_ms) - t0 ))
echo "one import of $ROWS rows: ${IMPORT_MS} ms"

# entries NAME: every entry, its expiry relative to its last event.
entries() {
    "$CTL" -c "$T/$1.conf" export --all --json | python3 -c '
import calendar, json, sys, time
def t(s): return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))
for l in sys.stdin:
    e = json.loads(l)
    ttl = "never" if e["expires"] is None else t(e["expires"]) - t(e["last_event"])
    print(e["address"], e["reason"], e["count"], e["source"], e["detail"], ttl)'
}
entries clean > "$T/clean.entries"
n=$(wc -l < "$T/clean.entries")
[ "$n" -eq "$ROWS" ] && ok "the clean import holds $ROWS entries" || fail "the clean import holds $n entries"

# add_events NAME: addresses (every 997th row) without exactly one "add".
add_events() {
    i=0
    while [ "$i" -lt "$ROWS" ]; do
        a=$(printf 'user%06d@import%d.example' "$i" $((i % 7)))
        adds=$("$TOOL" "$T/$1" events "$a" | grep -c '^add|')
        [ "$adds" -eq 1 ] || echo "$1 $a: $adds add events"
        i=$((i + 997))
    done
}
add_events clean > "$T/clean.adds"
[ -s "$T/clean.adds" ] && fail "clean: $(head -3 "$T/clean.adds")"

# Rounds: a new store, the import killed at random moments and run again
# until a run completes; each round's store must equal the clean one.
# The window is a share of one import, so that a round takes several
# kills; rounds go on until KILLS kills in all.
# mawk clamps a seed at 2^31 - 1: every larger one (half of what
# /dev/urandom gives) would repeat the same delays, hence the modulo.
awk -v seed=$((SEED % 2147483647)) 'BEGIN { srand(seed); for (i = 0; i < 10000; i++) printf "%.4f\n", rand() }' \
    > "$T/random"
exec 3< "$T/random"
WINDOW_MS=$((IMPORT_MS * 3 / 10 + 200))
kills=0 runs=0 round=0
while [ "$kills" -lt "$KILLS" ] && [ "$FAILS" -eq 0 ]; do
    round=$((round + 1)); conf "killed$round"; round_kills=0
    while :; do
        runs=$((runs + 1))
        read -r f <&3
        delay=$(awk -v f="$f" -v w="$WINDOW_MS" 'BEGIN { printf "%.3f", f * w / 1000 }')
        "$CTL" -c "$T/killed$round.conf" import "$T/list.csv" > "$T/killed.out" 2>&1 &
        CHILD=$!
        echo "$delay" >> "$T/delays"
        sleep "$delay"
        kill -KILL "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
        rc=$?
        CHILD=
        case $rc in
        137) kills=$((kills + 1)); round_kills=$((round_kills + 1)) ;;
        0) break ;;
        *) fail "round $round: an import exited $rc: $(cat "$T/killed.out")"; break ;;
        esac
    done
    echo "round $round: $round_kills kills; the run that completed: $(tr '\n' ' ' < "$T/killed.out")"
    entries "killed$round" > "$T/killed.entries"
    cmp -s "$T/clean.entries" "$T/killed.entries" \
        && ok "round $round: after $round_kills kills the store equals one import" \
        || fail "round $round: the stores differ: $(diff "$T/clean.entries" "$T/killed.entries" | head -5)"
    add_events "killed$round" > "$T/killed.adds"
    [ -s "$T/killed.adds" ] && fail "round $round: applied twice or lost: $(head -3 "$T/killed.adds")" \
        || ok "round $round: each sampled address has one add event"
    rm -rf "$T/killed$round"
done
echo "import: $kills kills in $runs runs, $round rounds of $ROWS rows"
# The delays used: distinct ones, so that a seed repeating them shows.
if [ -s "$T/delays" ]; then
    used=$(wc -l < "$T/delays"); distinct=$(sort -u "$T/delays" | wc -l)
    echo "delays: $used used, $distinct distinct, $(sort -n "$T/delays" | head -1) to $(sort -n "$T/delays" | tail -1) s"
    [ "$used" -lt 2 ] || [ "$distinct" -ge 2 ] && ok "the kill delays differ ($distinct distinct of $used)" \
        || fail "all $used kill delays were the same: $(head -1 "$T/delays") s"
fi

# The same file again: nothing changes; --again imports it again.
"$CTL" -c "$T/clean.conf" import "$T/list.csv" > "$T/again.out" 2>&1
grep -q "^$ROWS rows were imported from this same input before" "$T/again.out" \
    && ok "a second import of the same file says so and changes nothing" \
    || fail "second import said: $(cat "$T/again.out")"
"$CTL" -c "$T/clean.conf" import --again "$T/list.csv" > "$T/again2.out" 2>&1
grep -q "^imported $ROWS," "$T/again2.out" && [ "$("$TOOL" "$T/clean" events user000000@import0.example | grep -c '^add|')" -eq 2 ] \
    && ok "--again imports it again" || fail "--again said: $(cat "$T/again2.out")"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s) (seed $SEED)"; exit 1; }
exit 0
