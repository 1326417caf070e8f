#!/bin/sh
# store-bench.sh: run the store benchmark at 1M and 10M entries, then the
# memory measurement of a process doing 1M random lookups on the 10M store,
# then the upgrade of a 1M-entry store written by the release before the
# lookup index, then the ledger of sent mail with 1M messages.
# Usage: store-bench.sh [path/to/store-bench]   (needs ~6 GB free in $TMPDIR)
set -e
bench=${1:-./bench/store-bench}
base=$(mktemp -d "${TMPDIR:-/tmp}/store-bench.XXXXXX")
trap 'rm -rf "$base"' EXIT INT TERM

echo "== 1M entries"
"$bench" -n 1000000 -d "$base/1m"
echo "== 10M entries"
"$bench" -n 10000000 -d "$base/10m" -k
echo "== memory: 1M random lookups on the 10M store, fresh process"
"$bench" -m -n 10000000 -d "$base/10m"
echo "== upgrade in place: a 1M-entry store of the release before"
"$bench" -u -n 1000000 -d "$base/upgrade"
echo "== ledger: 1M messages, 1-3 recipients, 64 per transaction"
"$bench" -l -n 1000000 -d "$base/ledger"
