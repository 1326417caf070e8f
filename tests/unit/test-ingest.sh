#!/bin/sh
# test-ingest.sh: suppress-ingest end to end on a real store in a temp
# directory: Maildir (good and junk messages: good ones gone after commit,
# junk quarantined with its reason, nothing lost), the same message twice
# (nothing changes), a Maildir of several batches (group commit, a
# duplicate inside one batch), mbox mode (locked, rewritten, mode kept),
# stdin mode and its exit codes, a busy store (a real lock held by another
# process: EX_TEMPFAIL; what was before the busy message is committed and
# gone, it and what follows stay), the limits on the work per message
# (ingest.max-*: quarantined whole), a store the user may not open, and -n.
set -u

: "${top_builddir:?run from make check}" "${srcdir:?run from make check}"
INGEST=$top_builddir/classifier/suppress-ingest
PROBE=$top_builddir/tests/unit/ingest-probe
DATA=$srcdir/unit/data/ingest
[ -x "$INGEST" ] || { echo "no $INGEST"; exit 99; }
[ -x "$PROBE" ] || { echo "no $PROBE"; exit 99; }

T=$(mktemp -d /tmp/test-ingest.XXXXXX) || exit 99
HOLDER=
cleanup() {
    if [ -n "$HOLDER" ]; then kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; fi
    rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
# expect_eq WHAT GOT WANT
expect_eq() { if [ "$2" = "$3" ]; then ok "$1"; else fail "$1: got '$2', want '$3'"; fi; }

STORE=$T/store
Q=$T/quarantine
# These samples were not sent by a relay of ours: the mailbox mechanics and
# the policy are tested believing every report (trust = any); what is
# believed by default is tested at the end.
cat > "$T/conf" <<EOF
store = "$STORE"
ingest {
  quarantine = "$Q"
  max-message-size = "64k"
  verp-pattern = "bounces+%{local}=%{domain}@sender.example"
  trust = "any"
}
EOF
run() { "$INGEST" -v -c "$T/conf" "$@" 2>>"$T/log"; }
count_files() { find "$1" -maxdepth 1 -type f ! -name '*.reason' ! -name '.*' 2>/dev/null | wc -l; }
count_reasons() { find "$1" -maxdepth 1 -type f -name '*.reason' 2>/dev/null | wc -l; }

# ---- -n ------------------------------------------------------------------
run -n; expect_eq "-n on a good config" $? 0
printf 'store = "%s"\nno-such-key = 1\n' "$STORE" > "$T/bad.conf"
"$INGEST" -c "$T/bad.conf" -n 2>"$T/bad.err"; expect_eq "-n on a bad config exits EX_CONFIG" $? 78
grep -q "no-such-key" "$T/bad.err" && ok "config error names the key" || fail "config error text: $(cat "$T/bad.err")"

# ---- Maildir: good and junk ------------------------------------------------
MD=$T/maildir
mkdir -p "$MD/new" "$MD/cur" "$MD/tmp"
for f in dsn-basic arf-standard vacation expanded-from; do cp "$DATA/$f.eml" "$MD/new/1000.$f"; done
cp "$DATA/dsn-noblank.eml" "$MD/cur/1001.noblank:2,S"
cp "$DATA/plain-noreport.eml" "$MD/new/1002.human"
: > "$MD/new/1003.empty"
head -c 70000 /dev/zero | tr '\0' 'x' > "$MD/new/1004.huge"
BEFORE=$(( $(count_files "$MD/new") + $(count_files "$MD/cur") ))

# A dry run changes nothing.
run --dry-run --maildir "$MD" > "$T/dry.out"; expect_eq "dry run exit" $? 0
expect_eq "dry run leaves the Maildir" $(( $(count_files "$MD/new") + $(count_files "$MD/cur") )) "$BEFORE"
[ ! -d "$STORE" ] && ok "dry run creates no store" || fail "dry run created the store"

run --maildir "$MD"; expect_eq "maildir run exit" $? 0
expect_eq "new/ emptied" "$(count_files "$MD/new")" 0
expect_eq "cur/ emptied" "$(count_files "$MD/cur")" 0
expect_eq "junk quarantined" "$(count_files "$Q")" 3
expect_eq "every quarantined message has a reason" "$(count_reasons "$Q")" 3
APPLIED=$("$PROBE" "$STORE" counter bounce.hard)
expect_eq "nothing lost: applied + quarantined = before" $((5 + $(count_files "$Q"))) "$BEFORE"
grep -l "source: $MD/new/1004.huge" "$Q"/*.reason >/dev/null && grep -q "too large" "$Q"/*.reason \
    && ok "too-large message quarantined with its reason" || fail "too-large reason missing"
grep -q "reason: not a report" "$Q"/*.reason && ok "non-report quarantined as such" || fail "not-a-report reason missing"
expect_eq "hard bounce suppressed" "$("$PROBE" "$STORE" entry alice@dest.example | cut -d' ' -f1,3)" "hard-bounce 1"
expect_eq "delayed recipient not suppressed" "$("$PROBE" "$STORE" entry bob@dest.example; echo $?)" 1
expect_eq "complaint suppressed permanently" "$("$PROBE" "$STORE" entry ivan@isp.example)" "complaint 0 1"
expect_eq "auto-reply recorded, not suppressed" "$("$PROBE" "$STORE" events mallory@dest.example)" 1
expect_eq "forwarded failure recorded on the original" "$("$PROBE" "$STORE" events peggy@dest.example)" 1
expect_eq "forwarded failure not suppressed" "$("$PROBE" "$STORE" entry peggy@dest.example; echo $?)" 1
expect_eq "bounce.hard counter" "$APPLIED" 4
grep -q "to=<alice@dest.example> class=hard reason=userunknown status=5.1.1 event=hard-bounce action=suppressed until" "$T/log" \
    && ok "decision logged" || fail "decision log line missing"

# ---- the same message twice --------------------------------------------------
EVENTS=$("$PROBE" "$STORE" events alice@dest.example)
cp "$DATA/dsn-basic.eml" "$MD/new/2000.again"
run --maildir "$MD"; expect_eq "duplicate run exit" $? 0
expect_eq "duplicate removed from the Maildir" "$(count_files "$MD/new")" 0
expect_eq "duplicate changes no timeline" "$("$PROBE" "$STORE" events alice@dest.example)" "$EVENTS"
expect_eq "duplicate changes no counter" "$("$PROBE" "$STORE" counter bounce.hard)" 4
grep -q "already processed" "$T/log" && ok "duplicate logged" || fail "duplicate not logged"

# ---- group commit: more messages than a batch holds ------------------------------
BIG=$T/big
mkdir -p "$BIG/new" "$BIG/cur"
HARD0=$("$PROBE" "$STORE" counter bounce.hard)
i=0
while [ $i -lt 250 ]; do
    sed "s/dsn-basic\.1@/batch-$i@/; s/alice@dest\.example/alice$i@dest.example/Ig" "$DATA/dsn-basic.eml" \
        > "$BIG/new/5$(printf %03d $i).m"
    i=$((i + 1))
done
cp "$BIG/new/5007.m" "$BIG/new/5007.n"      # the same message twice in one batch
run --maildir "$BIG"; expect_eq "big Maildir run exit" $? 0
expect_eq "big Maildir emptied" "$(count_files "$BIG/new")" 0
expect_eq "each of 250 messages applied once" $(( $("$PROBE" "$STORE" counter bounce.hard) - HARD0 )) 250
expect_eq "first message suppressed" "$("$PROBE" "$STORE" entry alice0@dest.example | cut -d' ' -f1)" hard-bounce
expect_eq "last message suppressed" "$("$PROBE" "$STORE" entry alice249@dest.example | cut -d' ' -f1)" hard-bounce
expect_eq "duplicate in the batch recorded once" "$("$PROBE" "$STORE" events alice7@dest.example)" 1
grep -q "5007.n: mid:<batch-7@mx.sender.example> already processed" "$T/log" \
    && ok "duplicate in the batch logged" || fail "duplicate in the batch not logged"

# ---- mbox --------------------------------------------------------------------
MBOX=$T/bounces.mbox
for f in dsn-base64 plain-noreport unsubscribe; do
    echo "From MAILER-DAEMON Mon Mar  2 10:00:00 2026"
    sed 's/^From />From /' "$DATA/$f.eml"
    echo
done > "$MBOX"
chmod 0640 "$MBOX"
QBEFORE=$(count_files "$Q")
run --mbox "$MBOX"; expect_eq "mbox run exit" $? 0
expect_eq "mbox emptied" "$(wc -c < "$MBOX")" 0
expect_eq "mbox mode kept" "$(stat -c %a "$MBOX")" 640
[ ! -e "$MBOX.lock" ] && ok "dot-lock released" || fail "dot-lock left behind"
expect_eq "mbox junk quarantined" "$(count_files "$Q")" $((QBEFORE + 1))
expect_eq "mbox bounce applied" "$("$PROBE" "$STORE" entry carol@dest.example | cut -d' ' -f1)" hard-bounce
expect_eq "mbox unsubscribe applied" "$("$PROBE" "$STORE" entry leo@mail.example | cut -d' ' -f1)" unsubscribe

# A locked mbox is left alone: EX_TEMPFAIL.
cp "$DATA/dsn-basic.eml" "$T/one" && { echo "From x Mon Mar  2 10:00:00 2026"; cat "$T/one"; } > "$MBOX"
echo $$ > "$MBOX.lock"
run --mbox "$MBOX"; expect_eq "locked mbox exits EX_TEMPFAIL" $? 75
[ "$(wc -c < "$MBOX")" -gt 0 ] && ok "locked mbox untouched" || fail "locked mbox changed"
rm -f "$MBOX.lock"

# ---- stdin (Postfix pipe) ----------------------------------------------------
run < "$DATA/dsn-noblank.eml"; expect_eq "stdin bounce exit" $? 0
QBEFORE=$(count_files "$Q")
# (Bytes of its own: the mbox test quarantined this message already, and a
# message written whole is kept once, named by its SHA-256.)
{ echo "X-Delivered-By: stdin"; cat "$DATA/plain-noreport.eml"; } | run
expect_eq "stdin junk exit (quarantined)" $? 0
expect_eq "stdin junk quarantined" "$(count_files "$Q")" $((QBEFORE + 1))
{ echo "X-Delivered-By: stdin"; cat "$DATA/plain-noreport.eml"; } | run
expect_eq "the same junk again (a retry) exit" $? 0
expect_eq "the same bytes are not quarantined twice" "$(count_files "$Q")" $((QBEFORE + 1))
run -r "bounces+judy=isp.example@sender.example" < "$DATA/arf-redacted.eml"; expect_eq "stdin VERP complaint exit" $? 0
expect_eq "VERP decoded the redacted complaint" "$("$PROBE" "$STORE" entry judy@isp.example | cut -d' ' -f1)" unsubscribe
# No way to quarantine: EX_TEMPFAIL, so Postfix keeps the message.
sed "s|quarantine = \"$Q\"|quarantine = \"/dev/null/quarantine\"|" "$T/conf" > "$T/noq.conf"
"$INGEST" -c "$T/noq.conf" < "$DATA/plain-noreport.eml" 2>>"$T/log"
expect_eq "stdin junk without a quarantine exits EX_TEMPFAIL" $? 75
# A store that cannot be opened: EX_TEMPFAIL on stdin, the real class otherwise.
sed "s|store = \"$STORE\"|store = \"/dev/null/store\"|" "$T/conf" > "$T/nostore.conf"
"$INGEST" -c "$T/nostore.conf" < "$DATA/dsn-basic.eml" 2>>"$T/log"
expect_eq "stdin with a broken store exits EX_TEMPFAIL" $? 75
"$INGEST" -c "$T/bad.conf" < "$DATA/dsn-basic.eml" 2>>"$T/log"
expect_eq "stdin with a bad config exits EX_TEMPFAIL" $? 75

# ---- a busy store: another process holds the record's lock ------------------
mkdir -p "$T/busy/new" "$T/busy/cur"
cp "$DATA/dsn-base64.eml" "$T/busy/new/3000.busy"
# Before and after it, messages that only add timeline events (no entry
# page that the lock could cover): the first is committed, the last waits.
sed 's/expanded@/before-busy@/' "$DATA/expanded-from.eml" > "$T/busy/new/2999.before"
sed 's/vac-1@/after-busy@/' "$DATA/vacation.eml" > "$T/busy/new/3001.after"
PEGGY=$("$PROBE" "$STORE" events peggy@dest.example)
"$PROBE" "$STORE" hold carol@dest.example 30 > "$T/hold.out" 2>&1 &
HOLDER=$!
i=0; while [ $i -lt 50 ] && ! grep -qs held "$T/hold.out"; do sleep 0.2; i=$((i + 1)); done
grep -qs held "$T/hold.out" || fail "the lock holder did not start: $(cat "$T/hold.out")"
sed -i 's/dsn-base64@/dsn-base64-busy@/' "$T/busy/new/3000.busy"
run --maildir "$T/busy"; expect_eq "busy store exits EX_TEMPFAIL" $? 75
[ -e "$T/busy/new/3000.busy" ] && ok "message stays while the store is busy" || fail "busy message gone"
[ -e "$T/busy/new/3001.after" ] && ok "messages after the busy one stay" || fail "message after the busy one gone"
[ ! -e "$T/busy/new/2999.before" ] && ok "message before the busy one committed and gone" \
    || fail "message before the busy one left in the Maildir"
expect_eq "message before the busy one applied" "$("$PROBE" "$STORE" events peggy@dest.example)" $((PEGGY + 1))
run < "$T/busy/new/3000.busy"; expect_eq "busy store on stdin exits EX_TEMPFAIL" $? 75
# mbox: what was committed before the busy message leaves, the rest stays.
{ for f in "$DATA/vacation.eml" "$T/busy/new/3000.busy" "$DATA/unsubscribe.eml"; do
      echo "From MAILER-DAEMON Mon Mar  2 10:00:00 2026"; cat "$f"; echo
  done; } > "$MBOX"
run --mbox "$MBOX"; expect_eq "busy store in mbox mode exits EX_TEMPFAIL" $? 75
expect_eq "mbox keeps the messages from the busy one on" \
    "$(grep -c '^Message-ID: <\(vac-1\|dsn-base64-busy\|unsub-1\)@' "$MBOX")" 2
grep -q '^Message-ID: <vac-1@' "$MBOX" && fail "committed message still in the mbox" || ok "committed message left the mbox"
wait "$HOLDER"; HOLDER=
run --maildir "$T/busy"; expect_eq "retry after the lock is gone" $? 0
expect_eq "message gone after the retry" "$(count_files "$T/busy/new")" 0
run --mbox "$MBOX"; expect_eq "mbox retry after the lock is gone" $? 0
expect_eq "mbox empty after the retry" "$(wc -c < "$MBOX")" 0

# ---- reports nobody vouches for (ingest.trust = sent-or-signed, the default) --
U=$T/untrusted
mkdir -p "$U/md/new" "$U/md/cur"
sed -e 's|^  trust = "any"$||' -e "s|store = \"$STORE\"|store = \"$U/store\"|" \
    -e "s|quarantine = \"$Q\"|quarantine = \"$U/q\"|" "$T/conf" > "$U/conf"
grep -q '^ *trust =' "$U/conf" && fail "the untrusted config still sets trust"
urun() { "$INGEST" -v -c "$U/conf" "$@" 2>>"$T/log"; }
cp "$DATA/dsn-basic.eml" "$U/md/new/5000.forged"
urun --maildir "$U/md"; expect_eq "unbelieved report in a Maildir: exit 0" $? 0
expect_eq "unbelieved report leaves the Maildir" "$(count_files "$U/md/new")" 0
expect_eq "unbelieved report is in the quarantine" "$(count_files "$U/q")" 1
grep -qs "not believed (ingest.trust = sent-or-signed): <alice@dest.example> no signature" "$U/q"/*.reason \
    && ok "its .reason says why" || fail "quarantine reason: $(cat "$U/q"/*.reason 2>/dev/null)"
"$PROBE" "$U/store" entry alice@dest.example >/dev/null; expect_eq "unbelieved hard bounce suppresses nobody" $? 1
expect_eq "its recipients are in the timeline (unverified)" "$("$PROBE" "$U/store" events alice@dest.example)" 1
expect_eq "counted as unverified" "$("$PROBE" "$U/store" counter unverified)" 2
expect_eq "not counted as a bounce" "$("$PROBE" "$U/store" counter bounce.hard)" 0
expect_eq "not remembered as processed" "$("$PROBE" "$U/store" seen "mid:<dsn-basic.1@mx.sender.example>")" 0
# The postmaster reads it and replays it.
urun --trust any "$(find "$U/q" -maxdepth 1 -type f ! -name '*.reason' | head -n 1)"
expect_eq "--trust any applies it from the quarantine" "$("$PROBE" "$U/store" entry alice@dest.example | cut -d' ' -f1)" hard-bounce
urun --trust everyone < "$DATA/dsn-basic.eml"; expect_eq "--trust with a bad level: usage error" $? 64
# stdin (the Postfix pipe) and mbox: the same.
urun < "$DATA/dsn-base64.eml"; expect_eq "unbelieved report on stdin: exit 0" $? 0
expect_eq "... quarantined" "$(count_files "$U/q")" 2
{ echo "From MAILER-DAEMON Mon Mar  2 10:00:00 2026"; cat "$DATA/dsn-noblank.eml"; echo; } > "$U/mbox"
urun --mbox "$U/mbox"; expect_eq "unbelieved report in an mbox: exit 0" $? 0
expect_eq "... it leaves the mbox" "$(wc -c < "$U/mbox")" 0
expect_eq "... for the quarantine" "$(count_files "$U/q")" 3

# ---- limits on the work per message ----------------------------------------
# Each message past a limit is quarantined whole, the limit and its key in
# the reason, and none of its recipients reaches the store.
L=$T/limits
mkdir -p "$L/md/new" "$L/md/cur" "$L/md/tmp"
cat > "$L/conf" <<EOF
store = "$L/store"
ingest {
  quarantine = "$L/q"
  max-line-length = "1k"
  max-header-count = 40
  max-recipients = 1
  trust = "any"
}
EOF
{ head -n 1 "$DATA/dsn-basic.eml"; printf 'X-Long: %s\n' "$(head -c 2000 /dev/zero | tr '\0' x)"
  tail -n +2 "$DATA/dsn-basic.eml"; } > "$L/md/new/5000.longline"
{ i=0; while [ $i -lt 50 ]; do printf 'X-Field-%d: v\n' $i; i=$((i + 1)); done
  cat "$DATA/arf-standard.eml"; } > "$L/md/new/5001.headers"
cp "$DATA/dsn-basic.eml" "$L/md/new/5002.dsn"
cp "$DATA/recipientlist-block.eml" "$L/md/new/5003.rlist"
cp "$DATA/arf-standard.eml" "$L/md/new/5004.good"
"$INGEST" -v -c "$L/conf" --maildir "$L/md" 2>>"$T/log"; expect_eq "limits run exit" $? 0
expect_eq "limits: every message left the Maildir" "$(count_files "$L/md/new")" 0
expect_eq "limits: four quarantined" "$(count_files "$L/q")" 4
reason_of() { grep -l "source: $L/md/new/$1" "$L/q"/*.reason 2>/dev/null | head -n 1; }
for pair in "5000.longline:longer than ingest.max-line-length (1024)" \
            "5001.headers:more than ingest.max-header-count (40)" \
            "5002.dsn:in the delivery status, more than ingest.max-recipients (1)" \
            "5003.rlist:in the report, more than ingest.max-recipients (1)"; do
    f=$(reason_of "${pair%%:*}")
    [ -n "$f" ] && grep -qF "${pair#*:}" "$f" && ok "limits: ${pair%%:*} quarantined: ${pair#*:}" \
        || fail "limits: ${pair%%:*}: reason $(cat "$f" 2>/dev/null)"
done
"$PROBE" "$L/store" entry alice@dest.example >/dev/null 2>&1
expect_eq "limits: nothing of the too-many-recipients DSN recorded" $? 1
"$PROBE" "$L/store" entry gina@dest.example >/dev/null 2>&1
expect_eq "limits: nothing of the too-many-recipients report recorded" $? 1
"$PROBE" "$L/store" entry ivan@isp.example >/dev/null 2>&1
expect_eq "limits: the message within them applied" $? 0

# ---- a store the user may not use (needs root to switch users) ---------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
    P=$T/perm
    mkdir -p "$P/store" "$P/md/new" "$P/md/cur" "$P/q"
    chmod 0700 "$P/store"
    chmod 0777 "$P/md/new" "$P/md/cur" "$P/q"
    chmod 0755 "$T" "$P" "$P/md"
    cp "$DATA/dsn-basic.eml" "$P/md/new/4000.perm"; chmod 0644 "$P/md/new/4000.perm"
    printf 'store = "%s"\ningest {\n  quarantine = "%s"\n}\n' "$P/store" "$P/q" > "$P/conf"
    chmod 0644 "$P/conf"
    AS_NOBODY="setpriv --reuid=nobody --regid=nogroup --clear-groups"
    $AS_NOBODY "$INGEST" -c "$P/conf" --maildir "$P/md" 2>>"$T/log"
    expect_eq "unreadable store exits EX_NOPERM" $? 77
    expect_eq "message stays when the store cannot be opened" "$(count_files "$P/md/new")" 1
    $AS_NOBODY "$INGEST" -c "$P/conf" < "$DATA/dsn-basic.eml" 2>>"$T/log"
    expect_eq "unreadable store on stdin exits EX_TEMPFAIL" $? 75
else
    echo "skip: permission checks need root, setpriv and user nobody"
fi

if [ "$FAILS" -ne 0 ]; then
    echo "--- log:"; cat "$T/log"
    exit 1
fi
exit 0
