#!/bin/sh
# store-damage.sh: suppressctl verify and suppressctl recover on a damaged
# store.  A store filled by suppress-ingest (the corpus) is copied and
# damaged four ways: the log truncated, the log removed, the environment's
# region files removed, a page of suppressions.db overwritten.  verify must
# say what is wrong (exit EX_DATAERR, 65) or that nothing is (0); recover
# must bring the first three back to what they held (export equal to the
# original's) and writable, and refuse while another process has the store
# open; for the corrupted page it must say so and point to the restore from
# an export, which is done as documented in suppressctl(8): the store set
# aside, the last export imported into a new one.
set -u

: "${top_builddir:?run from make check}" "${srcdir:?run from make check}"
INGEST=$top_builddir/classifier/suppress-ingest
CTL=$top_builddir/suppressctl/suppressctl
PROBE=$top_builddir/tests/unit/ingest-probe
for p in "$INGEST" "$CTL" "$PROBE"; do [ -x "$p" ] || { echo "no $p"; exit 99; }; done

T=$(mktemp -d /tmp/store-damage.XXXXXX) || exit 99
HOLDER=
cleanup() {
    if [ -n "$HOLDER" ]; then kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi; }
conf() { printf 'store = "%s"\ningest {\n  quarantine = "%s/q"\n  trust = "any"\n}\n' "$T/$1" "$T" > "$T/$1.conf"; }
ctl() { name=$1; shift; "$CTL" -c "$T/$name.conf" "$@"; }

# The original: the corpus through suppress-ingest, closed cleanly.
conf orig
mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
cp "$srcdir"/corpus/sisimai/eml/*.eml "$T/md/new/"
"$INGEST" -c "$T/orig.conf" --maildir "$T/md" 2>/dev/null
ctl orig export --all --json > "$T/orig.export"
N=$(wc -l < "$T/orig.export")
[ "$N" -gt 50 ] && ok "original store holds $N suppressions" || fail "original store holds $N suppressions"
ctl orig verify > "$T/orig.verify"; expect_eq "verify on a sound store exits 0" $? 0
grep -q "sound" "$T/orig.verify" && ok "verify says it is sound" || fail "verify said: $(cat "$T/orig.verify")"
sum_before=$(cat "$T"/orig/* | sha256sum)
ctl orig verify >/dev/null
expect_eq "verify changes nothing in the store" "$(cat "$T"/orig/* | sha256sum)" "$sum_before"

# damage NAME: a copy of the original, then the damage done to it.
damage() {
    cp -a "$T/orig" "$T/$1"; conf "$1"
    case $1 in
    trunclog) truncate -s 2000 "$T/$1"/log.* ;;
    nolog) rm -f "$T/$1"/log.* ;;
    noregion) rm -f "$T/$1"/__db.* ;;
    # Two pages' worth of one byte value: the same damage every run.
    corrupt) head -c 8192 /dev/zero | tr '\0' 'Z' \
                 | dd of="$T/$1/suppressions.db" bs=4096 seek=3 conv=notrunc 2>/dev/null ;;
    esac
}

for kind in trunclog nolog; do
    damage $kind
    ctl $kind verify > "$T/$kind.verify"; expect_eq "$kind: verify exits EX_DATAERR" $? 65
    grep -Eq "past the end of the log|no log files" "$T/$kind.verify" \
        && ok "$kind: verify says the log does not reach the databases" \
        || fail "$kind: verify said: $(cat "$T/$kind.verify")"
done
damage noregion
ctl noregion verify >/dev/null; expect_eq "noregion: verify exits 0 (the next open rebuilds them)" $? 0
damage corrupt
ctl corrupt verify > "$T/corrupt.verify"; expect_eq "corrupt: verify exits EX_DATAERR" $? 65
grep -q "suppressions.db: damaged" "$T/corrupt.verify" && ok "corrupt: verify names the database" \
    || fail "corrupt: verify said: $(cat "$T/corrupt.verify")"

# recover refuses while the store is open elsewhere (on a sound copy: a
# store without its log does not open).
cp -a "$T/orig" "$T/busy"; conf busy
"$PROBE" "$T/busy" hold nobody@example.org 30 > "$T/hold.out" 2>&1 &
HOLDER=$!
i=0; while [ $i -lt 50 ] && ! grep -qs held "$T/hold.out"; do sleep 0.2; i=$((i + 1)); done
grep -qs held "$T/hold.out" || fail "the holder did not start: $(cat "$T/hold.out")"
ctl busy recover > "$T/busy.out" 2>&1; expect_eq "recover with the store in use exits EX_TEMPFAIL" $? 75
grep -q "in use by process $HOLDER" "$T/busy.out" && ok "recover names the process using the store" \
    || fail "recover in use said: $(cat "$T/busy.out")"
kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; HOLDER=

for kind in trunclog nolog noregion; do
    ctl $kind recover > "$T/$kind.recover" 2>&1; expect_eq "$kind: recover exits 0" $? 0
    ctl $kind export --all --json > "$T/$kind.export"
    cmp -s "$T/$kind.export" "$T/orig.export" && ok "$kind: the recovered store holds what it held" \
        || fail "$kind: export after recover differs: $(diff "$T/orig.export" "$T/$kind.export" | head -3)"
    ctl $kind add new@example.org >/dev/null 2>&1; expect_eq "$kind: writable after recover" $? 0
    ctl $kind verify >/dev/null; expect_eq "$kind: verify after recover exits 0" $? 0
done

ctl corrupt recover > "$T/corrupt.recover" 2>&1; expect_eq "corrupt: recover exits EX_DATAERR" $? 65
grep -q "restore from an export" "$T/corrupt.recover" && ok "corrupt: recover points to the restore" \
    || fail "corrupt: recover said: $(cat "$T/corrupt.recover")"
# The restore of suppressctl(8): the damaged store set aside, the export imported.
mv "$T/corrupt" "$T/corrupt.damaged"
ctl corrupt import "$T/orig.export" > /dev/null 2>&1; expect_eq "restore: import of the export exits 0" $? 0
ctl corrupt export --all --json | cut -d, -f1,2,3 > "$T/restored.cut"
cut -d, -f1,2,3 "$T/orig.export" > "$T/orig.cut"
cmp -s "$T/restored.cut" "$T/orig.cut" && ok "restore: every address, reason and expiry is back" \
    || fail "restore differs: $(diff "$T/orig.cut" "$T/restored.cut" | head -3)"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)"; exit 1; }
exit 0
