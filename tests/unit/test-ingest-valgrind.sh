#!/bin/sh
# test-ingest-valgrind.sh: suppress-ingest under valgrind memcheck: a dry
# run over 30 corpus files (every MIME shape the corpus has, charsets,
# broken messages) and a real Maildir ingest into a temp store.  Fails on
# any memory error or definite leak.  GLib/GMime keep some allocations
# reachable until exit: only definite leaks count.  Skipped (77) when
# valgrind is not installed.
set -u

: "${top_builddir:?run from make check}" "${srcdir:?run from make check}"
INGEST=$top_builddir/classifier/suppress-ingest
DATA=$srcdir/unit/data/ingest
CORPUS=$srcdir/corpus/sisimai/eml
command -v valgrind >/dev/null 2>&1 || { echo "skip: valgrind is not installed"; exit 77; }
# Valgrind cannot run programs built with AddressSanitizer (./quickstart sanitize).
[ "${SANITIZED_BUILD:-no}" = yes ] && { echo "skip: sanitizer build (valgrind runs on the plain build)"; exit 77; }
[ -x "$INGEST" ] || { echo "no $INGEST"; exit 99; }

T=$(mktemp -d /tmp/test-ingest-vg.XXXXXX) || exit 99
trap 'rm -rf "$T"' EXIT
VG="valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --suppressions=$DATA/valgrind.supp"
FAILS=0

# 30 corpus files spread over the whole (sorted) corpus, plus our samples.
FILES=$(ls "$CORPUS"/*.eml 2>/dev/null | awk 'NR % 15 == 1' | head -30)
[ -n "$FILES" ] || { echo "no corpus in $CORPUS"; exit 99; }
# shellcheck disable=SC2086
if $VG "$INGEST" --dry-run --json $FILES "$DATA"/*.eml > "$T/dry.out" 2> "$T/dry.err"; then
    echo "ok: dry run over $(echo $FILES | wc -w) corpus files and the samples"
else
    echo "FAIL: dry run under valgrind"; cat "$T/dry.err"; FAILS=$((FAILS + 1))
fi
[ "$(grep -c '"file"' "$T/dry.out")" -ge 30 ] || { echo "FAIL: dry run printed too little"; FAILS=$((FAILS + 1)); }

mkdir -p "$T/md/new" "$T/md/cur"
for f in "$DATA"/*.eml; do cp "$f" "$T/md/new/$(basename "$f" .eml)"; done
cat > "$T/conf" <<EOF
store = "$T/store"
ingest {
  quarantine = "$T/quarantine"
}
EOF
if $VG "$INGEST" -c "$T/conf" --maildir "$T/md" 2> "$T/md.err"; then
    echo "ok: maildir ingest"
else
    echo "FAIL: maildir ingest under valgrind"; cat "$T/md.err"; FAILS=$((FAILS + 1))
fi
[ -z "$(ls "$T/md/new")" ] || { echo "FAIL: messages left in the Maildir"; FAILS=$((FAILS + 1)); }
[ "$FAILS" -eq 0 ]
