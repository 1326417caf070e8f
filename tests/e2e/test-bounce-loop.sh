#!/bin/bash
# test-bounce-loop.sh: the whole suppression loop through two real Postfix
# instances on loopback, with nothing simulated.
#
#   swaks -> relay R (smtpd + milter-suppress) -> remote MX M (Postfix)
#   M refuses at RCPT -> R's bounce daemon returns a DSN to the sender,
#   app@bounces.test -> transport_maps -> the suppress-ingest pipe of
#   contrib/postfix/master.cf -> the store -> the milter refuses the next
#   message to that recipient at RCPT TO.
#
# Checked: a hard bounce ("550 5.1.1 ... User unknown in virtual mailbox
# table", M's own words) suppresses for 7 days and the full response is in
# `suppressctl show`; the refused retry is recorded as "rejected"; a soft
# bounce ("452 4.2.2 Mailbox full", expired after one try) is recorded but
# suppresses nothing; an RFC 5965 complaint report sent to the bounce
# address about a newsletter the relay sent suppresses for good; and nothing
# is lost: both queues end empty, every pipe delivery exited 0, the
# quarantine is empty.  The bounces are believed by their signed return
# path, the complaint by the ledger (it quotes the newsletter's Message-ID);
# what is not believed is test-trust.sh's.
#
# The store belongs to nobody, the user the pipe runs as (pipe(8) refuses
# root) and the milter drops to (milter.user), as milter-suppress does in
# production; suppressctl, run as root, takes the store owner's identity.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/../integration/lib.sh"
# shellcheck source=tests/e2e/lib-e2e.sh
. "$(dirname "$0")/lib-e2e.sh"

it_require_root
it_require_tools postfix postconf postmap swaks smtp-sink script
it_require_built "$MILTER" "$SUPPRESSCTL" "$INGEST" "$STORE_TOOL"
id nobody >/dev/null 2>&1 || it_skip "no user nobody"
it_init e2e-bounce-loop
e2e_init

E2E_SRCDIR=$(cd "$(dirname "$0")" && pwd)
APP=app@bounces.test                # the applications' envelope sender
KNOWN=known@remote.test             # M has this mailbox
GONE=gone@remote.test               # M does not: hard bounce
FULL=full@remote.test               # M says "452 4.2.2 Mailbox full"
COMPLAINER=complainer@remote.test   # reports our mail as spam (ARF)
WAIT=${E2E_WAIT:-30}                # seconds for one trip round the loop

# How long a check polls: the full time until something failed, then only
# briefly, so that a broken loop reports every check in seconds rather
# than waiting the full time for each of them.
wait_secs() {
    if [ "$IT_FAIL" -eq 0 ]; then echo "$WAIT"; else echo 3; fi
}

# ------------------------------------------------------------------ set-up

CONF=$IT_DIR/milter-suppress.conf
QUARANTINE=$IT_DIR/quarantine
install -d -o nobody -g nogroup -m 0750 "$IT_DIR/store" "$QUARANTINE"
# The milter writes its pid file and removes its socket after dropping to nobody.
chown nobody "$IT_DIR/run"
milter_conf "$CONF" 'user = "nobody"'
cat >>"$CONF" <<EOF
ingest {
  quarantine = "$QUARANTINE"
}
EOF

# The pipe runs the program as nobody, who may not be able to reach the
# build tree (a home directory): run a copy of the built binary.
install -d -m 0755 "$IT_DIR/bin"
INGEST_COPY=$IT_DIR/bin/suppress-ingest
install -m 0755 "$INGEST" "$INGEST_COPY"
check "suppress-ingest accepts the test configuration (-n)" \
    "$INGEST_COPY" -c "$CONF" -n 2>>"$IT_DIR/log/ingest-check.log"

mx_setup remote.test "$KNOWN" "$FULL"
printf '%s OK\n' "$COMPLAINER" >>"$MX_DIR/postfix/mailboxes"   # gets the newsletter
# The milter signs the return path (BATV prvs): the relay logs it so.
SIGNED_APP="(prvs=[0-9]{4}[0-9a-f]{6}=)?$APP"

# R: lib.sh's instance with the milter, plus the documented pipe transport.
# Bounces at once; a 4xx is tried once and returned (queue lifetime 0), so
# the soft case produces its DSN now rather than in days.
relay_setup "$CONF" 'maximal_queue_lifetime = 0' 'bounce_queue_lifetime = 0'

check "remote MX starts" mx_start
check "milter-suppress starts (and drops to nobody)" milter_start "$CONF"
check "relay Postfix starts" pf_start
[ "$IT_FAIL" -eq 0 ] || it_finish

# ------------------------------------------------- the path works at all

e2e_send known "$APP" "$KNOWN"
check "known user: the relay accepts (swaks exit 0)" test $? -eq 0
check "known user: relayed to the remote MX and accepted there" \
    it_wait_for "$(wait_secs)" relay_log_has "to=<$KNOWN>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$MX_PORT,.* status=sent"

# ------------------------------------------------------------ hard bounce

GONE_TEXT="550 5.1.1 <$GONE>: Recipient address rejected: User unknown in virtual mailbox table"
e2e_send hard "$APP" "$GONE"
check "unknown user: the relay accepts the first message (swaks exit 0)" test $? -eq 0
check "unknown user: the remote MX refuses it with its own 550 5.1.1, the relay bounces" \
    it_wait_for "$(wait_secs)" relay_log_has "to=<$GONE>,.* status=bounced \(host .* said: $GONE_TEXT \(in reply to RCPT TO command\)\)"
check "the DSN to $APP goes through the $SERVICE pipe, which exits 0" \
    it_wait_for "$(wait_secs)" relay_log_has "to=<$SIGNED_APP>, relay=$SERVICE,.* status=sent \(delivered via $SERVICE service\)"
check "unknown user: suppressed as hard-bounce (suppressctl show)" \
    wait_show "$(wait_secs)" "$GONE" 'd["suppressed"] and d["reason"] == "hard-bounce"'
check "hard bounce: suppressed for 7 days, status 5.1.1, reason userunknown" \
    show_is "$GONE" 'd["status"] == "5.1.1" and d["detail"] == "userunknown"
        and 7 * 86400 - 300 < seconds_until(d["expires"]) <= 7 * 86400'
check "hard bounce: the timeline has the event with the remote MX's full response" \
    show_is "$GONE" "any(\"$GONE_TEXT\" in (e[\"response\"] or \"\") for e in events(\"hard-bounce\"))"
check "suppressctl show (text) shows the response" \
    sh -c "'$SUPPRESSCTL' -c '$CONF' show '$GONE' | grep -qF 'User unknown in virtual mailbox table'"

e2e_send hard-again "$APP" "$GONE"
check "unknown user, next message: refused at RCPT (swaks exit 24)" test $? -eq 24
# The default reject-text (milter-suppress.conf(5)), with the store's expiry.
GONE_EXPIRES=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["expires"])' \
               "$IT_DIR/log/show-$GONE.json" 2>/dev/null)
check "unknown user, next message: 550 5.1.1 with the default text and the store's expiry" \
    transcript_has hard-again "^<\*\* 550 5\.1\.1 Recipient address suppressed \(hard-bounce, expires ${GONE_EXPIRES:-none}\)\$"
check "unknown user, next message: never reached the remote MX" \
    test "$(relay_log_count "to=<$GONE>, relay=")" -eq 1
check "the refused attempt is recorded (timeline event \"rejected\", sender $APP)" \
    wait_show "$(wait_secs)" "$GONE" "any(e[\"actor\"] == \"$APP\" for e in events(\"rejected\"))"

# ------------------------------------------------------------ soft bounce

e2e_send soft "$APP" "$FULL"
check "full mailbox: the relay accepts (swaks exit 0)" test $? -eq 0
check "full mailbox: the remote MX says 452 4.2.2 at RCPT, the relay defers" \
    it_wait_for "$(wait_secs)" relay_log_has "to=<$FULL>,.* status=deferred \(host .* said: 452 4\.2\.2 <$FULL>: Recipient address rejected: Mailbox full"
check "full mailbox: the relay gives up after one try and returns it to the sender" \
    it_wait_for "$(wait_secs)" relay_log_has "from=<$SIGNED_APP>, status=expired, returned to sender"
check "full mailbox: the 4xx DSN is recorded as a soft bounce with the response" \
    wait_show "$(wait_secs)" "$FULL" 'any("452 4.2.2" in (e["response"] or "") and "Mailbox full" in e["response"]
                                    for e in events("soft-bounce"))'
check "full mailbox: not suppressed" \
    show_is "$FULL" 'not d["suppressed"] and not events("hard-bounce")'
e2e_send soft-again "$APP" "$FULL"
check "full mailbox, next message: accepted at RCPT (swaks exit 0)" test $? -eq 0
check "full mailbox, next message: 250 for the recipient" \
    transcript_has soft-again '^<-  250 2\.1\.5 Ok'

# -------------------------------------------------------------- complaint

# The newsletter the complaint is about (its Message-ID is in the report).
e2e_send newsletter "$APP" "$COMPLAINER" --header "Message-Id: <newsletter-42@bounces.test>"
check "newsletter: the relay accepts it (swaks exit 0)" test $? -eq 0
# shellcheck disable=SC2317  # called through it_wait_for
in_ledger() {
    [ "$("$STORE_TOOL" "$IT_DIR/store" ledger newsletter-42@bounces.test "$COMPLAINER")" = recipient ]
}
check "newsletter: the milter recorded it in the ledger" it_wait_for "$(wait_secs)" in_ledger
e2e_send complaint fbl@remote.test "$APP" --data "$E2E_SRCDIR/complaint-arf.eml"
check "complaint report: the relay accepts it for $APP (swaks exit 0)" test $? -eq 0
check "complainer: suppressed as complaint, no expiry" \
    wait_show "$(wait_secs)" "$COMPLAINER" 'd["suppressed"] and d["reason"] == "complaint" and d["expires"] is None'
check "complainer: the timeline has the complaint event" \
    show_is "$COMPLAINER" 'len(events("complaint")) == 1'
check "complainer: the complaint was believed through the ledger" \
    show_is "$COMPLAINER" 'events("complaint")[0]["verified"] == "ledger"'
e2e_send complaint-again "$APP" "$COMPLAINER"
check "complainer, next message: refused at RCPT (swaks exit 24)" test $? -eq 24
check "complainer, next message: 550 5.1.1 ... (complaint, expires never)" \
    transcript_has complaint-again '^<\*\* 550 5\.1\.1 Recipient address suppressed \(complaint, expires never\)$'

# The same report delivered twice (same Message-ID) is a duplicate: applied once.
e2e_send complaint-twice fbl@remote.test "$APP" --data "$E2E_SRCDIR/complaint-arf.eml"
check "the same complaint report again: accepted by the relay (swaks exit 0)" test $? -eq 0

# ------------------------------------------------------------ nothing lost

# DSNs: hard, soft, soft again; the complaint report twice: 5 pipe deliveries.
# shellcheck disable=SC2317  # called through check/it_wait_for
pipe_done() {
    [ "$(relay_log_count "to=<$SIGNED_APP>, relay=$SERVICE,.* status=sent")" -eq 5 ]
}
check "all 5 reports reached suppress-ingest through the pipe" it_wait_for "$(wait_secs)" pipe_done
check "the complaint delivered twice is recorded once" \
    show_is "$COMPLAINER" 'len(events("complaint")) == 1 and d["count"] == 1'
check "every pipe delivery exited 0 (none deferred or bounced)" \
    test "$(relay_log_count "relay=$SERVICE,.* status=(deferred|bounced)")" -eq 0
check "the second soft bounce is recorded too, still not suppressed" \
    wait_show "$(wait_secs)" "$FULL" 'len(events("soft-bounce")) == 2 and not d["suppressed"]'
# Queue lifetime 0 gives a report whose pipe delivery failed up at once:
# only the two mailbox-full messages may have expired.
check "no report was given up: the only expired messages are the two soft bounces" \
    test "$(relay_log_count 'status=expired')" -eq 2 \
         -a "$(relay_log_count "from=<$SIGNED_APP>, status=expired")" -eq 2
# shellcheck disable=SC2317
relay_queue_empty() { [ "$(pf_queue_size)" -eq 0 ]; }
check "the relay's queue is empty" it_wait_for "$(wait_secs)" relay_queue_empty
check "the remote MX's queue is empty" test "$(mx_queue_size)" -eq 0
check "the quarantine is empty" test "$(quarantine_count)" -eq 0
check "milter-suppress stops cleanly" milter_stop
check "counters: 7 accepted, 2 rejected, bounces 1 hard, 2 soft, 1 complaint" \
    stats_is 'd["total"]["accepted"] == 7 and d["total"]["rejected"] == 2
              and d["total"]["bounces"].get("hard") == 1 and d["total"]["bounces"].get("soft") == 2
              and d["total"]["bounces"].get("complaint") == 1'

it_finish
