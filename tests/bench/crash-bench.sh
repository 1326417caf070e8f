#!/bin/sh
# crash-bench.sh: the long run of tests/crash/ingest-kill.sh: suppress-ingest
# SIGKILLed 1000 times (CRASH_KILLS) over a Maildir and over an mbox, then
# its store compared with one uninterrupted run.  Prints the figures of
# each mailbox (kills, runs, generations and messages delivered, time) and
# fails like the test when the stores differ.
#
# Usage: tests/bench/crash-bench.sh [-b BUILDDIR] [-k KILLS] [-s SEED]
here=$(cd "$(dirname "$0")" && pwd)
build=${top_builddir:-.}
kills=1000
seed=
while getopts b:k:s: opt; do
    case $opt in
    b) build=$OPTARG ;;
    k) kills=$OPTARG ;;
    s) seed=$OPTARG ;;
    *) echo "usage: $0 [-b BUILDDIR] [-k KILLS] [-s SEED]" >&2; exit 64 ;;
    esac
done
build=$(cd "$build" && pwd) || exit 66
[ -x "$build/tests/integration/store-tool" ] || {
    echo "crash-bench: build the tests first (make -C $build/tests integration/store-tool)" >&2; exit 66; }
start=$(date +%s)
top_builddir=$build srcdir=$here/.. CRASH_KILLS=$kills ${seed:+CRASH_SEED=$seed} \
    sh "$here/../crash/ingest-kill.sh"
rc=$?
echo "crash-bench: $kills kills per mailbox, $(( $(date +%s) - start )) s in all, exit $rc"
exit $rc
