#!/bin/sh
# disk-full.sh: the store's file system fills up during ingest.  On a small
# tmpfs made here (mount needs root: skipped otherwise) a store is created
# and the rest of the space filled.  Then suppress-ingest over a Maildir,
# an mbox and stdin must exit EX_TEMPFAIL (75), not crash (the regions
# Berkeley DB maps would SIGBUS), and leave every message where it was;
# creating a new store there is refused the same way.  When the space comes
# back the same runs apply everything, suppressctl verify finds the store
# sound, and it holds what a run on a roomy disk makes of the same messages.
set -u

: "${top_builddir:?run from make check}" "${srcdir:?run from make check}"
INGEST=$top_builddir/classifier/suppress-ingest
CTL=$top_builddir/suppressctl/suppressctl
TOOL=$top_builddir/tests/integration/store-tool
CHECK="python3 $srcdir/crash/crash-check.py"
for p in "$INGEST" "$CTL" "$TOOL"; do [ -x "$p" ] || { echo "no $p"; exit 99; }; done

T=$(mktemp -d /tmp/disk-full.XXXXXX) || exit 99
SMALL=$T/small
mkdir -p "$SMALL"
if ! mount -t tmpfs -o size=64m,mode=0755 tmpfs "$SMALL" 2>"$T/mount.err"; then
    echo "SKIP: cannot mount a tmpfs (needs root): $(cat "$T/mount.err")"
    rm -rf "$T"
    exit 77
fi
cleanup() {
    umount "$SMALL" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi; }
conf() { printf 'store = "%s"\ningest {\n  quarantine = "%s"\n  trust = "any"\n}\n' "$2" "$T/$1.q" > "$T/$1.conf"; }
count() { find "$1/new" "$1/cur" -type f | wc -l; }

$CHECK generation "$srcdir/corpus/sisimai/eml" 1 "$T/pool"
FIRST=$(ls "$T/pool" | head -5)
REST=$(ls "$T/pool" | sed -n '6,60p')
STDIN_MSG=$(ls "$T/pool" | sed -n '61p')
MBOX_MSGS=$(ls "$T/pool" | sed -n '62,90p')

# The store, created while there is room; then the disk filled.
conf full "$SMALL/store"
mkdir -p "$T/md/new" "$T/md/cur" "$T/md/tmp"
for f in $FIRST; do cp "$T/pool/$f" "$T/md/new/"; done
"$INGEST" -c "$T/full.conf" --maildir "$T/md" 2>>"$T/log"; expect_eq "first run, with room" $? 0
dd if=/dev/zero of="$SMALL/filler" bs=64k 2>/dev/null
expect_eq "the file system is full" "$(df -P "$SMALL" | awk 'NR == 2 { print $4 }')" 0

for f in $REST; do cp "$T/pool/$f" "$T/md/new/"; done
(cd "$T/pool" && $CHECK mbox $MBOX_MSGS) > "$T/bounces.mbox"
cp "$T/bounces.mbox" "$T/bounces.orig"
N=$(count "$T/md")
quarantined() { find "$T/full.q" -type f ! -name '*.reason' 2>/dev/null | wc -l; }
Q0=$(quarantined)
"$INGEST" -v -c "$T/full.conf" --maildir "$T/md" 2>"$T/maildir.err" >/dev/null; rc=$?
expect_eq "Maildir on a full disk exits EX_TEMPFAIL" $rc 75
# Messages that are no report need no store: they go to the quarantine
# (on another file system) as ever; every other one stays.
Q=$(( $(quarantined) - Q0 ))
expect_eq "every Maildir message stays (or was quarantined: $Q)" $(( $(count "$T/md") + Q )) "$N"
grep -q "No space left on device" "$T/maildir.err" && ok "the error says the disk is full" \
    || fail "the error said: $(head -3 "$T/maildir.err")"
"$INGEST" -c "$T/full.conf" --mbox "$T/bounces.mbox" 2>>"$T/log"; expect_eq "mbox on a full disk exits EX_TEMPFAIL" $? 75
cmp -s "$T/bounces.mbox" "$T/bounces.orig" && ok "the mbox is untouched" || fail "the mbox changed"
"$INGEST" -c "$T/full.conf" < "$T/pool/$STDIN_MSG" 2>>"$T/log"; expect_eq "stdin on a full disk exits EX_TEMPFAIL" $? 75
"$CTL" -c "$T/full.conf" show nobody@example.org >/dev/null 2>&1
expect_eq "the store still answers reads (show exits 1: not suppressed)" $? 1
conf new "$SMALL/newstore"
"$CTL" -c "$T/new.conf" add someone@example.org > "$T/new.out" 2>&1; rc=$?
expect_eq "a new store on a full disk: EX_TEMPFAIL, no crash" $rc 75
grep -q "file system is full" "$T/new.out" && ok "it says the file system is full" \
    || fail "new store said: $(cat "$T/new.out")"

# Room again: everything goes in.
rm -f "$SMALL/filler"
"$INGEST" -c "$T/full.conf" --maildir "$T/md" 2>>"$T/log"; expect_eq "Maildir with room again" $? 0
expect_eq "the Maildir is empty" "$(count "$T/md")" 0
"$INGEST" -c "$T/full.conf" --mbox "$T/bounces.mbox" 2>>"$T/log"; expect_eq "mbox with room again" $? 0
[ -s "$T/bounces.mbox" ] && fail "the mbox is not empty" || ok "the mbox is empty"
"$INGEST" -c "$T/full.conf" < "$T/pool/$STDIN_MSG" 2>>"$T/log"; expect_eq "stdin with room again" $? 0
"$CTL" -c "$T/full.conf" verify > "$T/verify.out"; expect_eq "verify: the store is sound" $? 0

# The same messages on a roomy disk, in the same order.
conf ref "$T/refstore"
mkdir -p "$T/ref/new" "$T/ref/cur" "$T/ref/tmp"
for f in $FIRST; do cp "$T/pool/$f" "$T/ref/new/"; done
"$INGEST" -c "$T/ref.conf" --maildir "$T/ref" 2>>"$T/log"
for f in $REST; do cp "$T/pool/$f" "$T/ref/new/"; done
"$INGEST" -c "$T/ref.conf" --maildir "$T/ref" 2>>"$T/log"
"$INGEST" -c "$T/ref.conf" --mbox "$T/bounces.orig" 2>>"$T/log"
"$INGEST" -c "$T/ref.conf" < "$T/pool/$STDIN_MSG" 2>>"$T/log"
"$INGEST" --dry-run --json "$T"/pool/* 2>/dev/null | python3 -c 'import json,sys
for l in sys.stdin:
    r = json.loads(l).get("recipient")
    if r: print(r)' | sort -u > "$T/addresses"
$CHECK snapshot "$CTL" "$TOOL" "$T/full.conf" "$SMALL/store" "$T/addresses" > "$T/full.snap"
$CHECK snapshot "$CTL" "$TOOL" "$T/ref.conf" "$T/refstore" "$T/addresses" > "$T/ref.snap"
cmp -s "$T/full.snap" "$T/ref.snap" \
    && ok "the store holds what a run with room makes ($(grep -c '^entry' "$T/full.snap") entries)" \
    || fail "the stores differ: $(diff "$T/full.snap" "$T/ref.snap" | head -5)"

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)"; exit 1; }
exit 0
