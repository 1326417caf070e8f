#!/bin/sh
# test-replay.sh: make check's replay of the fuzz harnesses (tests/fuzz/):
# each replay-HARNESS program (the harness with replay.c's main(), built
# by the normal compiler) runs over tests/fuzz/seeds/HARNESS/, the big
# seeds gen-seeds.sh writes, tests/fuzz/regressions/HARNESS/ (the inputs
# that once crashed a fuzzer) and, for the message harness, the corpus
# of real bounces.  Any crash, sanitizer report or abort fails the test.
set -u
: "${srcdir:?}" "${top_srcdir:?}"
fuzz=$srcdir/fuzz
bin=./fuzz
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT INT TERM
sh "$fuzz/gen-seeds.sh" "$T"

passed=0
failed=0
for h in message addr conf import reply policy; do
    set -- "$fuzz/seeds/$h" "$fuzz/regressions/$h"
    [ -d "$T/$h" ] && set -- "$@" "$T/$h"
    if [ "$h" = message ]; then
        for d in "$top_srcdir/tests/corpus/sisimai/eml" "$top_srcdir/tests/corpus/flufl/eml" \
                 "$top_srcdir/tests/unit/data/ingest"; do
            [ -d "$d" ] && set -- "$@" "$d"
        done
    fi
    if "$bin/replay-$h" "$@"; then
        echo "ok: $h"
        passed=$((passed + 1))
    else
        echo "FAIL: $h (exit $?)"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
