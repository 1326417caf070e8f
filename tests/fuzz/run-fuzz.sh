#!/bin/sh
# run-fuzz.sh BUILD_DIR SECONDS: runs each libFuzzer fuzzer of a
# --enable-fuzzing build (./quickstart fuzz) for SECONDS, from its seeds
# (tests/fuzz/seeds/HARNESS, the big ones gen-seeds.sh writes, the corpus
# for the message harness) and the corpus earlier runs grew in
# BUILD_DIR/fuzz-corpus/HARNESS.  Prints each harness's executions (from
# libFuzzer's final stats) and what it found; an input that crashed,
# leaked, ran out of memory or timed out is copied to
# tests/fuzz/regressions/HARNESS/ (make check replays it from then on)
# and the run fails.  Logs: BUILD_DIR/fuzz-logs/HARNESS.log.
#
# The mutated inputs of the message and import harnesses are kept to
# 128 KB and 64 KB (-max_len): mutating the megabyte seeds costs more
# than it finds, and cut to max_len they still reach the same code.  Those
# seeds are replayed whole by make check (test-replay.sh).
set -u
build=$(cd "$1" && pwd)
seconds=$2
fuzz=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$fuzz/../.." && pwd)
gen=$build/fuzz-gen
sh "$fuzz/gen-seeds.sh" "$gen"
# LSan is on (libFuzzer's default): every harness frees what it took.
# A unit slower than 10 s is a finding (a hang), like a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

found=0
for h in message addr conf import reply policy; do
    corpus=$build/fuzz-corpus/$h
    art=$build/fuzz-artifacts/$h
    log=$build/fuzz-logs/$h.log
    mkdir -p "$corpus" "$art" "$build/fuzz-logs"
    rm -f "$art"/*
    set -- "$corpus" "$fuzz/seeds/$h" "$fuzz/regressions/$h"
    [ -d "$gen/$h" ] && set -- "$@" "$gen/$h"
    [ "$h" = message ] && set -- "$@" "$top/tests/corpus/sisimai/eml" "$top/tests/corpus/flufl/eml" \
        "$top/tests/unit/data/ingest"
    case $h in
    message) set -- -max_len=131072 "$@" ;;
    import) set -- -max_len=65536 "$@" ;;
    esac
    start=$(date +%s)
    "$build/tests/fuzz/fuzz-$h" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$art/" -close_fd_mask=1 "$@" > "$log" 2>&1 </dev/null
    rc=$?
    took=$(( $(date +%s) - start ))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    crashes=0
    for f in "$art"/crash-* "$art"/leak-* "$art"/oom-* "$art"/timeout-*; do
        [ -f "$f" ] || continue
        crashes=$((crashes + 1))
        cp "$f" "$fuzz/regressions/$h/"
        echo "  $h: $(basename "$f") -> tests/fuzz/regressions/$h/"
    done
    if [ $rc -ne 0 ] && [ $crashes -eq 0 ]; then
        crashes=1
        echo "  $h: the fuzzer failed (exit $rc) without an input to keep: see $log"
    fi
    printf 'fuzz %-8s %6ss %10s executions, %s crashes\n' "$h" "$took" "${execs:-?}" "$crashes"
    if [ $crashes -gt 0 ]; then
        found=$((found + crashes))
        grep -m 3 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error' "$log" | sed 's/^/    /'
    fi
done
echo "fuzz: $found crashes found"
[ "$found" -eq 0 ]
