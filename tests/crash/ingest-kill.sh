#!/bin/sh
# ingest-kill.sh: suppress-ingest survives SIGKILL at any moment.
#
# Over a Maildir and over an mbox of real bounces (tests/corpus/sisimai,
# each copy with a Message-ID of its own), suppress-ingest is started and
# SIGKILLed after a random delay, again and again (CRASH_KILLS kills per
# mailbox, 30 by default), and restarted until the mailbox is empty; when
# it empties before the kills are done, the next generation of copies is
# delivered into it.  After each kill the mbox must still be intact (every
# message in it is one that was delivered, whole, at most once).  Then one
# uninterrupted run over everything that was delivered makes the reference
# store, and the two stores must be the same: every entry (reason, count,
# expiry relative to its last event), every timeline event, the bounce
# counters; the same messages quarantined; nothing left in the mailbox,
# no lock or temporary file beside it.
#
# CRASH_SEED makes the delays repeatable (it is printed); CRASH_MODES
# ("maildir mbox") picks the mailboxes.  tests/bench/crash-bench.sh runs
# this with 1000 kills and keeps the figures it prints.
set -u

: "${top_builddir:?run from make check}" "${srcdir:?run from make check}"
INGEST=$top_builddir/classifier/suppress-ingest
CTL=$top_builddir/suppressctl/suppressctl
TOOL=$top_builddir/tests/integration/store-tool
CHECK="python3 $srcdir/crash/crash-check.py"
CORPUS=$srcdir/corpus/sisimai/eml
KILLS=${CRASH_KILLS:-30}
MODES=${CRASH_MODES:-maildir mbox}
SEED=${CRASH_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
for p in "$INGEST" "$CTL" "$TOOL"; do [ -x "$p" ] || { echo "no $p"; exit 99; }; done
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

T=$(mktemp -d /tmp/crash-ingest.XXXXXX) || exit 99
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

# conf NAME: $T/NAME.conf with a store and a quarantine of its own.
conf() {
    cat > "$T/$1.conf" <<EOF
store = "$T/$1.store"
ingest {
  quarantine = "$T/$1.q"
  trust = "any"
}
EOF
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Delays: one random fraction in [0,1) per line, from the seed.
# mawk clamps a seed at 2^31 - 1: every larger one (half of what
# /dev/urandom gives) would repeat the same delays, hence the modulo.
awk -v seed=$((SEED % 2147483647)) 'BEGIN { srand(seed); for (i = 0; i < 200000; i++) printf "%.4f\n", rand() }' \
    > "$T/random"
exec 3< "$T/random"
next_fraction() { read -r f <&3; echo "$f"; }

# The pool: generation N is every corpus file with its own Message-ID.
mkdir -p "$T/pool"
generation() {
    [ -d "$T/pool/$1" ] || $CHECK generation "$CORPUS" "$1" "$T/pool/$1"
}
generation 1
GEN_SIZE=$(ls "$T/pool/1" | wc -l)
# Every recipient the corpus names, so that their events are compared too.
"$INGEST" --dry-run --json "$T"/pool/1/* 2>/dev/null \
    | python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l).get("recipient")
    if r: print(r)' | sort -u > "$T/addresses"

# How long one generation takes, and a start with nothing to do.
conf probe
mkdir -p "$T/probe.md/new" "$T/probe.md/cur" "$T/probe.md/tmp"
t0=$(now_ms); "$INGEST" -c "$T/probe.conf" --maildir "$T/probe.md" 2>/dev/null; t1=$(now_ms)
cp "$T"/pool/1/* "$T/probe.md/new/"
"$INGEST" -c "$T/probe.conf" --maildir "$T/probe.md" 2>/dev/null; t2=$(now_ms)
START_MS=$((t1 - t0)); WORK_MS=$((t2 - t1))
echo "one generation: $GEN_SIZE messages in ${WORK_MS} ms; a start ${START_MS} ms"

# left MODE BOX GEN: messages still in the mailbox (the mbox checked
# intact: it only ever holds generation GEN, delivered when it was empty).
left() {
    if [ "$1" = maildir ]; then
        find "$2/new" "$2/cur" -type f | wc -l
    elif [ "$3" -eq 0 ]; then
        $CHECK mbox-check "$2" || echo damaged
    else
        $CHECK mbox-check "$2" "$T/pool/$3"/* || echo damaged
    fi
}
# deliver MODE BOX GEN
deliver() {
    generation "$3"
    if [ "$1" = maildir ]; then cp "$T/pool/$3"/* "$2/new/"; else $CHECK mbox "$T/pool/$3"/* >> "$2"; fi
}
# ingest MODE BOX CONF [...]: the command line of a run.
ingest_args() {
    if [ "$1" = maildir ]; then echo "-c $3 --maildir $2"; else echo "-c $3 --mbox $2"; fi
}

# kill_loop MODE BOX: deliver, run, kill, until KILLS kills and an empty box.
kill_loop() {
    mode=$1 box=$2
    gens=0 kills=0 runs=0 finished=0 scale=100
    while :; do
        n=$(left "$mode" "$box" "$gens")
        if [ "$n" = damaged ]; then
            fail "$mode: the mbox is damaged after kill $kills"
            return
        fi
        if [ "$n" -eq 0 ]; then
            [ "$kills" -ge "$KILLS" ] && break
            gens=$((gens + 1))
            deliver "$mode" "$box" "$gens"
            n=$GEN_SIZE
        fi
        runs=$((runs + 1))
        if [ "$runs" -gt $((KILLS * 20 + 100)) ]; then
            fail "$mode: $runs runs and the mailbox still holds $n messages: no progress"
            return
        fi
        # shellcheck disable=SC2046
        if [ "$kills" -ge "$KILLS" ]; then
            "$INGEST" $(ingest_args "$mode" "$box" "$T/$mode.conf") 2>>"$T/$mode.log"
            rc=$?
            [ "$rc" -eq 0 ] || { fail "$mode: the last run exited $rc"; tail -5 "$T/$mode.log"; return; }
            finished=$((finished + 1))
            continue
        fi
        # A moment within the time the rest would take, scaled by how the
        # last runs went: one that ended before its kill makes the next
        # window shorter (the machine is faster than measured), a kill longer.
        budget=$(( (START_MS + WORK_MS * n / GEN_SIZE) * scale / 100 + 1 ))
        delay=$(awk -v f="$(next_fraction)" -v b="$budget" 'BEGIN { printf "%.3f", f * b / 1000 }')
        "$INGEST" $(ingest_args "$mode" "$box" "$T/$mode.conf") 2>>"$T/$mode.log" &
        CHILD=$!
        echo "$delay" >> "$T/delays"
        sleep "$delay"
        kill -KILL "$CHILD" 2>/dev/null
        wait "$CHILD" 2>/dev/null
        rc=$?
        CHILD=
        case $rc in
        137) kills=$((kills + 1)); [ "$scale" -lt 150 ] && scale=$((scale * 21 / 20)) ;;
        0) finished=$((finished + 1)); [ "$scale" -gt 10 ] && scale=$((scale * 3 / 4)) ;;
        *) fail "$mode: a run exited $rc (not killed)"; tail -5 "$T/$mode.log"; return ;;
        esac
    done
    echo "$mode: $kills kills, $runs runs ($finished not killed), $gens generations," \
         "$((gens * GEN_SIZE)) messages"
    echo "$gens" > "$T/$mode.gens"
}

# reference MODE GENS: one uninterrupted run over the same messages.
reference() {
    conf "$1.ref"
    if [ "$1" = maildir ]; then
        mkdir -p "$T/ref.md/new" "$T/ref.md/cur" "$T/ref.md/tmp"
        g=1; while [ "$g" -le "$2" ]; do cp "$T/pool/$g"/* "$T/ref.md/new/"; g=$((g + 1)); done
        box=$T/ref.md
    else
        box=$T/ref.mbox; : > "$box"
        g=1; while [ "$g" -le "$2" ]; do $CHECK mbox "$T/pool/$g"/* >> "$box"; g=$((g + 1)); done
    fi
    # shellcheck disable=SC2046
    "$INGEST" $(ingest_args "$1" "$box" "$T/$1.ref.conf") 2>>"$T/$1.ref.log" \
        || fail "$1: the uninterrupted run failed: $(tail -3 "$T/$1.ref.log")"
}

snapshot() {
    $CHECK snapshot "$CTL" "$TOOL" "$T/$1.conf" "$T/$1.store" "$T/addresses" > "$T/$1.snap" \
        || fail "$1: cannot read the store"
}

for mode in $MODES; do
    conf "$mode"
    if [ "$mode" = maildir ]; then
        box=$T/md; mkdir -p "$box/new" "$box/cur" "$box/tmp"
    else
        mkdir -p "$T/mboxdir"; box=$T/mboxdir/bounces; : > "$box"
    fi
    t0=$(now_ms)
    kill_loop "$mode" "$box"
    t1=$(now_ms)
    [ -f "$T/$mode.gens" ] || continue
    echo "$mode: killed runs took $((t1 - t0)) ms in all"
    reference "$mode" "$(cat "$T/$mode.gens")"
    snapshot "$mode"; snapshot "$mode.ref"
    if cmp -s "$T/$mode.snap" "$T/$mode.ref.snap"; then
        ok "$mode: the store after $KILLS kills equals one uninterrupted run" \
           "($(grep -c '^entry' "$T/$mode.snap") entries, $(grep -c '^event' "$T/$mode.snap") events)"
    else
        fail "$mode: the stores differ (killed < > uninterrupted):"
        diff "$T/$mode.snap" "$T/$mode.ref.snap" | head -20
    fi
    $CHECK quarantine "$T/$mode.q" > "$T/$mode.qset"
    $CHECK quarantine "$T/$mode.ref.q" > "$T/$mode.ref.qset"
    if [ "$(cut -d' ' -f2 "$T/$mode.qset")" = "$(cut -d' ' -f2 "$T/$mode.ref.qset")" ]; then
        ok "$mode: the same $(wc -l < "$T/$mode.qset") messages quarantined"
    else
        fail "$mode: the quarantines differ"
    fi
    copies=$(awk '$1 > 1 { n += $1 - 1 } END { print n + 0 }' "$T/$mode.qset")
    [ "$copies" -eq 0 ] && ok "$mode: no message quarantined twice" \
        || fail "$mode: $copies extra quarantined copies"
    if [ "$mode" = maildir ]; then
        n=$(find "$box" -type f | wc -l)
        [ "$n" -eq 0 ] && ok "maildir: nothing left behind" || fail "maildir: $n files left: $(find "$box" -type f | head -3)"
    else
        [ -s "$box" ] && fail "mbox: not empty at the end" || ok "mbox: empty at the end"
        extra=$(ls -A "$T/mboxdir" | grep -vx bounces)
        [ -z "$extra" ] && ok "mbox: no lock or temporary file left beside it" \
            || fail "mbox: left beside it: $(echo $extra)"
    fi
done

# The delays used: distinct ones, so that a seed repeating them shows.
if [ -s "$T/delays" ]; then
    used=$(wc -l < "$T/delays"); distinct=$(sort -u "$T/delays" | wc -l)
    echo "delays: $used used, $distinct distinct, $(sort -n "$T/delays" | head -1) to $(sort -n "$T/delays" | tail -1) s"
    [ "$used" -lt 2 ] || [ "$distinct" -ge 2 ] && ok "the kill delays differ ($distinct distinct of $used)" \
        || fail "all $used kill delays were the same: $(head -1 "$T/delays") s"
fi

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s) (seed $SEED)"; exit 1; }
exit 0
