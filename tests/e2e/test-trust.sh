#!/bin/bash
# test-trust.sh: what suppress-ingest believes (suppress-ingest(8), WHAT IS
# BELIEVED), through the same two real Postfix instances on loopback as
# test-bounce-loop.sh:
#
#   swaks -> relay R (smtpd + milter-suppress, signing.bounce-address set)
#   -> remote MX M (Postfix, 550 for unknown users) -> R's bounce daemon ->
#   transport_maps (hash + the documented regexp) -> the suppress-ingest
#   pipe of contrib/postfix/master.cf -> the store.
#
# Checked: a real bounce of single-recipient mail comes back to the signed
# VERP return path and is believed as "signed VERP"; one of two-recipient
# mail to the BATV (prvs) one, "signed BATV".  Forged reports (an RFC 3464
# report written here, forged-dsn.eml, sent from <> through R) suppress
# nobody: to the plain bounce address ("no signature"), to a VERP address
# with a made-up MAC ("bad signature"), to a correctly signed one 20 days
# old ("signature expired (20 days old)"; the same message to a fresh one
# is believed), to a VERP address signed for another recipient ("signed
# VERP names <...>").  With signing off (a SIGHUP reload) a bounce is
# believed by the ledger; a report quoting a Message-ID R never sent is
# not.  What is not believed is recorded as "unverified", counted, and
# quarantined; `suppress-ingest --trust any` replays it from there.  And
# nothing is lost: both queues empty, every pipe delivery exited 0, the
# quarantine holds exactly the reports not believed.
#
# The set-up is test-bounce-loop.sh's: the store belongs to nobody, the
# milter drops to nobody, the pipe runs a copy of suppress-ingest as nobody.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=tests/e2e/lib-e2e.sh
. "$(dirname "$0")/lib-e2e.sh"

it_require_root
it_require_tools postfix postconf postmap swaks smtp-sink script
it_require_built "$MILTER" "$SUPPRESSCTL" "$INGEST" "$STORE_TOOL"
id nobody >/dev/null 2>&1 || it_skip "no user nobody"
it_init e2e-trust
e2e_init

E2E_SRCDIR=$(cd "$(dirname "$0")" && pwd)
APP=app@bounces.test                # the applications' envelope sender, and signing.bounce-address
KNOWN=known@remote.test             # M has this mailbox
FULL=full@remote.test               # M's soft user (unused here)
GONE=gone@remote.test               # case 1: hard bounce, VERP
GONE2=gone2@remote.test             # case 2: hard bounce of two-recipient mail, BATV
VICTIM=victim@remote.test           # case 3: forged report, plain bounce address
VICTIM2=victim2@remote.test         # case 4: forged report, VERP with a made-up MAC
GONE3=gone3@remote.test             # case 5: report to an expired, then a fresh VERP
VICTIM4=victim4@remote.test         # case 6: report to the VERP address signed for $KNOWN
GONE5=gone5@remote.test             # case 7: hard bounce, signing off: the ledger
VICTIM5=victim5@remote.test         # case 7: forged report, unknown Message-ID
WAIT=${E2E_WAIT:-30}                # seconds for one trip round the loop

# Poll the full time until something failed, then only briefly (see
# test-bounce-loop.sh).
wait_secs() {
    if [ "$IT_FAIL" -eq 0 ]; then echo "$WAIT"; else echo 3; fi
}

# ------------------------------------------------------------------ set-up

CONF=$IT_DIR/milter-suppress.conf
QUARANTINE=$IT_DIR/quarantine
KEYFILE=$IT_DIR/store/signing.key   # signing.key-file's default: in the store
install -d -o nobody -g nogroup -m 0750 "$IT_DIR/store" "$QUARANTINE"
chown nobody "$IT_DIR/run"

# write_conf true|false: the test's configuration with signing.enable set,
# written whole and renamed into place (the pipe reads it at every bounce).
write_conf() {
    milter_conf "$CONF.new" 'user = "nobody"'
    cat >>"$CONF.new" <<EOF
signing {
  enable = $1
  bounce-address = "$APP"
}
ingest {
  quarantine = "$QUARANTINE"
}
EOF
    mv -f "$CONF.new" "$CONF"
}
write_conf true

install -d -m 0755 "$IT_DIR/bin"
INGEST_COPY=$IT_DIR/bin/suppress-ingest
install -m 0755 "$INGEST" "$INGEST_COPY"
check "suppress-ingest accepts the test configuration (-n)" \
    "$INGEST_COPY" -c "$CONF" -n 2>>"$IT_DIR/log/ingest-check.log"

mx_setup remote.test "$KNOWN" "$FULL"

relay_setup "$CONF" 'bounce_queue_lifetime = 0'

check "remote MX starts" mx_start
check "milter-suppress starts (and drops to nobody)" milter_start "$CONF"
check "relay Postfix starts" pf_start
check "the milter made its signing key in the store" test -s "$KEYFILE"
[ "$IT_FAIL" -eq 0 ] || it_finish
# The signing key's number (the K of the tags): the first key line's first
# field (the file starts with a comment).
KEY_ID=$(awk '!/^#/ && NF { print $1; exit }' "$KEYFILE")

# The return paths as R's logs show them (regexps).
VERP_RE() {     # VERP_RE LOCAL: app+LOCAL=remote.test+DDD+K<12 hex>@bounces.test
    printf 'app\\+%s=remote\\.test\\+[0-9]{3}\\+[0-9][0-9a-f]{12}@bounces\\.test' "$1"
}
PRVS_RE='prvs=[0-9]{4}[0-9a-f]{6}=app@bounces\.test'

# forged_dsn TAG RCPT QUOTED_ID: forged-dsn.eml for RCPT, quoting the
# Message-ID QUOTED_ID (one R never sent), its own Message-ID TAG@...;
# prints the file's path.
forged_dsn() {
    local file=$IT_DIR/$1.eml
    sed -e "s/@RCPT@/$2/g" -e "s/@QUOTED_ID@/$3/g" -e "s/@REPORT_ID@/$1@mx.remote.test/g" \
        "$E2E_SRCDIR/forged-dsn.eml" >"$file"
    echo "$file"
}

# unverified_is ADDR PYTHON_EXPR: ADDR is not suppressed, has no bounce
# event, exactly one "unverified" event, and EXPR holds for its reason v.
# shellcheck disable=SC2317  # called through check
unverified_is() {
    show_is "$1" "not d[\"suppressed\"] and not events(\"hard-bounce\")
                  and len(events(\"unverified\")) == 1
                  and (lambda v: $2)(events(\"unverified\")[0][\"verified\"])"
}

# in_quarantine TEXT: a quarantined message whose .reason says "not
# believed" and has TEXT.
# shellcheck disable=SC2317  # called through it_wait_for
in_quarantine() {
    local f
    f=$(quarantined_for "$1") && grep -q '^reason: not believed' "$f.reason"
}

# ------------------------------------------- 1. a real bounce, signed VERP

GONE_TEXT="550 5.1.1 <$GONE>: Recipient address rejected: User unknown in virtual mailbox table"
e2e_send verp "$APP" "$GONE"
check "1 verp: the relay accepts app -> $GONE (swaks exit 0)" test $? -eq 0
check "1 verp: the remote MX sees the VERP return path naming gone@ and refuses it with its 550" \
    it_wait_for "$(wait_secs)" mx_log_has "reject: RCPT from .*: $GONE_TEXT; from=<$(VERP_RE gone)> to=<$GONE>"
VERP_GONE=$(grep -oE "from=<$(VERP_RE gone)>" "$IT_DIR/log/mx.log" | head -n 1 | sed 's/^from=<\(.*\)>$/\1/')
check "1 verp: that return path verifies as a valid VERP for $GONE (store-tool retpath)" \
    test "$("$STORE_TOOL" retpath "$KEYFILE" "$APP" "${VERP_GONE:-none}")" = "verp valid $GONE"
check "1 verp: the DSN goes through the $SERVICE pipe to that VERP address, which exits 0" \
    it_wait_for "$(wait_secs)" relay_log_has "to=<$(VERP_RE gone)>, relay=$SERVICE,.* status=sent \(delivered via $SERVICE service\)"
check "1 verp: $GONE suppressed as hard-bounce" \
    wait_show "$(wait_secs)" "$GONE" 'd["suppressed"] and d["reason"] == "hard-bounce"'
check "1 verp: one hard-bounce event, verified \"signed VERP\"" \
    show_is "$GONE" 'len(events("hard-bounce")) == 1 and events("hard-bounce")[0]["verified"] == "signed VERP"'

# ------------------------------- 2. two recipients: BATV (prvs) return path

e2e_send multi "$APP" "$KNOWN,$GONE2"
check "2 batv: the relay accepts app -> $KNOWN + $GONE2 (swaks exit 0)" test $? -eq 0
check "2 batv: the remote MX sees the prvs return path and refuses $GONE2" \
    it_wait_for "$(wait_secs)" mx_log_has "reject: RCPT from .*: 550 5\.1\.1 <$GONE2>: .*; from=<$PRVS_RE> to=<$GONE2>"
check "2 batv: $KNOWN of the same message is delivered by the remote MX" \
    it_wait_for "$(wait_secs)" relay_log_has "to=<$KNOWN>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$MX_PORT,.* status=sent"
check "2 batv: the DSN goes through the pipe to the prvs address, which exits 0" \
    it_wait_for "$(wait_secs)" relay_log_has "to=<$PRVS_RE>, relay=$SERVICE,.* status=sent"
check "2 batv: $GONE2 suppressed as hard-bounce" \
    wait_show "$(wait_secs)" "$GONE2" 'd["suppressed"] and d["reason"] == "hard-bounce"'
# The ledger has gone2@ for the Message-ID the DSN quotes too, but the
# signature is checked first and, when it vouches, is what is recorded
# (classifier/decide/trust.c, judge_one): "signed BATV", not "ledger".
check "2 batv: its hard-bounce event is verified \"signed BATV\"" \
    show_is "$GONE2" 'len(events("hard-bounce")) == 1 and events("hard-bounce")[0]["verified"] == "signed BATV"'
check "2 batv: $KNOWN is not suppressed" show_is "$KNOWN" 'not d["suppressed"]'

# ------------------------ 3. a forged report to the plain bounce address

FORGED_VICTIM=$(forged_dsn forged-plain "$VICTIM" never-sent-1@bounces.test)
e2e_send forged-plain '<>' "$APP" --data "$FORGED_VICTIM"
check "3 forged: the relay accepts the forged report from <> for $APP (swaks exit 0)" test $? -eq 0
check "3 forged: it goes through the pipe to $APP, which exits 0" \
    it_wait_for "$(wait_secs)" relay_log_has "to=<$APP>, relay=$SERVICE,.* status=sent"
check "3 forged: $VICTIM gets one unverified event" \
    wait_show "$(wait_secs)" "$VICTIM" 'len(events("unverified")) == 1'
check "3 forged: $VICTIM not suppressed, no hard-bounce event, the reason says \"no signature\"" \
    unverified_is "$VICTIM" '"no signature" in v'
check "3 forged: ... and that the quoted Message-ID is not in the ledger" \
    unverified_is "$VICTIM" 'v == "no signature; quoted Message-ID not in the ledger"'
check "3 forged: the report is in the quarantine, its .reason says \"not believed\" for <$VICTIM>" \
    it_wait_for "$(wait_secs)" in_quarantine "<$VICTIM> no signature"
check "3 forged: the quarantine holds that one message (and its .reason: quarantine_count 2)" \
    test "$(quarantine_messages)" -eq 1 -a "$(quarantine_count)" -eq 2
check "3 forged: suppressctl stats counts 1 unverified today and in total" \
    stats_is "d[\"total\"][\"unverified\"] == 1
              and [x[\"unverified\"] for x in d[\"days\"] if x[\"day\"] == \"$(today)\"] == [1]"

# ------------------------ 4. a forged report to a VERP with a made-up MAC

BOGUS_VERP="app+victim2=remote.test+123+${KEY_ID}deadbeefcafe@bounces.test"
e2e_send forged-verp '<>' "$BOGUS_VERP" --data "$(forged_dsn forged-verp "$VICTIM2" never-sent-2@bounces.test)"
check "4 bad MAC: the relay accepts the report for $BOGUS_VERP (swaks exit 0)" test $? -eq 0
check "4 bad MAC: $VICTIM2 gets one unverified event" \
    wait_show "$(wait_secs)" "$VICTIM2" 'len(events("unverified")) == 1'
check "4 bad MAC: $VICTIM2 not suppressed, the reason says \"bad signature\"" \
    unverified_is "$VICTIM2" '"bad signature" in v'
check "4 bad MAC: quarantined as not believed" \
    it_wait_for "$(wait_secs)" in_quarantine "<$VICTIM2> bad signature"

# ---------------- 5. a real-looking bounce replayed after the validity window

OLD_VERP=$("$STORE_TOOL" sign "$KEYFILE" "$APP" "$GONE3" 20)
FRESH_VERP=$("$STORE_TOOL" sign "$KEYFILE" "$APP" "$GONE3" 0)
check "5 expired: store-tool signs VERP addresses for $GONE3 (20 days ago, today)" \
    test -n "$OLD_VERP" -a -n "$FRESH_VERP" -a "$OLD_VERP" != "$FRESH_VERP"
REPLAYED=$(forged_dsn replayed "$GONE3" never-sent-3@bounces.test)
e2e_send replayed-old '<>' "$OLD_VERP" --data "$REPLAYED"
check "5 expired: the relay accepts the report for $OLD_VERP (swaks exit 0)" test $? -eq 0
check "5 expired: $GONE3 gets one unverified event" \
    wait_show "$(wait_secs)" "$GONE3" 'len(events("unverified")) == 1'
check "5 expired: $GONE3 not suppressed, the reason says \"signature expired (20 days old)\"" \
    unverified_is "$GONE3" '"signature expired (20 days old)" in v'
check "5 expired: quarantined as not believed" \
    it_wait_for "$(wait_secs)" in_quarantine "<$GONE3> signature expired (20 days old)"
# The very same message (same Message-ID: a report not believed is not
# remembered as seen) to a return path signed today.
e2e_send replayed-fresh '<>' "$FRESH_VERP" --data "$REPLAYED"
check "5 fresh: the relay accepts the same report for $FRESH_VERP (swaks exit 0)" test $? -eq 0
check "5 fresh: now $GONE3 is suppressed as hard-bounce" \
    wait_show "$(wait_secs)" "$GONE3" 'd["suppressed"] and d["reason"] == "hard-bounce"'
check "5 fresh: its hard-bounce event is verified \"signed VERP\", the unverified one is still there" \
    show_is "$GONE3" 'len(events("hard-bounce")) == 1 and events("hard-bounce")[0]["verified"] == "signed VERP"
                      and len(events("unverified")) == 1'

# ---------------- 6. a VERP signed for one recipient, a report naming another

KNOWN_VERP=$("$STORE_TOOL" sign "$KEYFILE" "$APP" "$KNOWN" 0)
e2e_send wrong-verp '<>' "${KNOWN_VERP:-none@bounces.test}" --data "$(forged_dsn wrong-verp "$VICTIM4" never-sent-4@bounces.test)"
check "6 other rcpt: the relay accepts the report for $KNOWN's VERP address (swaks exit 0)" test $? -eq 0
check "6 other rcpt: $VICTIM4 gets one unverified event" \
    wait_show "$(wait_secs)" "$VICTIM4" 'len(events("unverified")) == 1'
check "6 other rcpt: $VICTIM4 not suppressed, the reason says \"signed VERP names <$KNOWN>\"" \
    unverified_is "$VICTIM4" "\"signed VERP names <$KNOWN>\" in v"
check "6 other rcpt: $KNOWN still not suppressed" show_is "$KNOWN" 'not d["suppressed"]'
check "6 other rcpt: quarantined as not believed" \
    it_wait_for "$(wait_secs)" in_quarantine "<$VICTIM4> signed VERP names <$KNOWN>"

# ------------------------------------------ 7. signing off: the ledger

write_conf false
kill -HUP "$MILTER_PID"
check "7 ledger: the milter reloads its configuration (SIGHUP)" \
    it_wait_for "$(wait_secs)" milter_log_has "configuration reloaded"
e2e_send ledger "$APP" "$GONE5" --header "Message-Id: <trust-ledger-1@bounces.test>"
check "7 ledger: the relay accepts app -> $GONE5 (swaks exit 0)" test $? -eq 0
check "7 ledger: the remote MX sees the plain return path <$APP> and refuses $GONE5" \
    it_wait_for "$(wait_secs)" mx_log_has "reject: RCPT from .*: 550 5\.1\.1 <$GONE5>: .*; from=<$APP> to=<$GONE5>"
# shellcheck disable=SC2317  # called through it_wait_for
in_ledger() {
    [ "$("$STORE_TOOL" "$IT_DIR/store" ledger trust-ledger-1@bounces.test "$GONE5")" = recipient ]
}
check "7 ledger: the milter recorded $GONE5 for <trust-ledger-1@bounces.test> in the ledger" \
    it_wait_for "$(wait_secs)" in_ledger
check "7 ledger: $GONE5 suppressed as hard-bounce" \
    wait_show "$(wait_secs)" "$GONE5" 'd["suppressed"] and d["reason"] == "hard-bounce"'
check "7 ledger: its hard-bounce event is verified \"ledger\"" \
    show_is "$GONE5" 'len(events("hard-bounce")) == 1 and events("hard-bounce")[0]["verified"] == "ledger"'
e2e_send forged-ledger '<>' "$APP" --data "$(forged_dsn forged-ledger "$VICTIM5" never-sent-5@bounces.test)"
check "7 ledger: the relay accepts a forged report about $VICTIM5 (swaks exit 0)" test $? -eq 0
check "7 ledger: $VICTIM5 gets one unverified event" \
    wait_show "$(wait_secs)" "$VICTIM5" 'len(events("unverified")) == 1'
check "7 ledger: $VICTIM5 not suppressed, the reason says \"quoted Message-ID not in the ledger\"" \
    unverified_is "$VICTIM5" '"quoted Message-ID not in the ledger" in v'
check "7 ledger: quarantined as not believed" \
    it_wait_for "$(wait_secs)" in_quarantine "<$VICTIM5> no signature; quoted Message-ID not in the ledger"

# ------------------------------------------ 8. replay from the quarantine

# Run as root with -c: suppress-ingest becomes the store's owner (nobody)
# before it opens the store or reads the file.
VICTIM_FILE=$(quarantined_for "<$VICTIM>")
check "8 replay: the quarantined report about $VICTIM is found" test -n "$VICTIM_FILE"
"$INGEST_COPY" -c "$CONF" -v --trust any "${VICTIM_FILE:-/nonexistent}" >>"$IT_DIR/log/replay.log" 2>&1
check "8 replay: suppress-ingest --trust any on it exits 0" test $? -eq 0
check "8 replay: $VICTIM now suppressed as hard-bounce" \
    show_is "$VICTIM" 'd["suppressed"] and d["reason"] == "hard-bounce"'
check "8 replay: its hard-bounce event is verified \"unchecked (trust any)\"" \
    show_is "$VICTIM" 'len(events("hard-bounce")) == 1 and events("hard-bounce")[0]["verified"] == "unchecked (trust any)"'
"$INGEST_COPY" -c "$CONF" -v --trust any "${VICTIM_FILE:-/nonexistent}" >"$IT_DIR/log/replay-again.log" 2>&1
check "8 replay: replayed again, it exits 0 and is a duplicate (already processed)" \
    sh -c "test $? -eq 0 && grep -q 'already processed' '$IT_DIR/log/replay-again.log'"
check "8 replay: ... still one hard-bounce event" show_is "$VICTIM" 'len(events("hard-bounce")) == 1'

# ------------------------------------------------------------ 9. nothing lost

# Pipe deliveries: 1 (verp), 2 (batv), 3, 4, 5 twice, 6, 7 twice = 9.
# shellcheck disable=SC2317  # called through it_wait_for
pipe_done() {
    [ "$(relay_log_count "relay=$SERVICE,.* status=sent")" -eq 9 ]
}
check "all 9 reports reached suppress-ingest through the pipe" it_wait_for "$(wait_secs)" pipe_done
check "every pipe delivery exited 0 (none deferred or bounced)" \
    test "$(relay_log_count "relay=$SERVICE,.* status=(deferred|bounced)")" -eq 0
# shellcheck disable=SC2317
relay_queue_empty() { [ "$(pf_queue_size)" -eq 0 ]; }
check "the relay's queue is empty" it_wait_for "$(wait_secs)" relay_queue_empty
check "the remote MX's queue is empty" test "$(mx_queue_size)" -eq 0
# Not believed: victim (3), victim2 (4), gone3's expired one (5), victim4
# (6), victim5 (7).  A file replayed by name stays where it is.
check "the quarantine holds exactly the 5 reports not believed, each with its .reason" \
    test "$(quarantine_messages)" -eq 5 -a "$(quarantine_count)" -eq 10
check "every .reason in the quarantine says \"not believed\"" \
    test "$(grep -l '^reason: not believed' "$QUARANTINE"/*.reason 2>/dev/null | wc -l)" -eq 5
check "milter-suppress stops cleanly" milter_stop
check "counters: 5 unverified, 5 hard bounces" \
    stats_is 'd["total"]["unverified"] == 5 and d["total"]["bounces"].get("hard") == 5'

it_finish
