#!/bin/bash
# postfix-milter.sh: milter-suppress behind a real Postfix on loopback.
# Suppressed recipients get the configured 550 at RCPT TO, others are
# delivered (to smtp-sink), per recipient; expiry and removal take effect
# at once; each rejection lands in the timeline and the daily counters;
# SIGHUP reloads the reply text without breaking an open session;
# dry-run refuses nothing; SIGTERM stops cleanly.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_root
it_require_tools postfix swaks smtp-sink
it_require_built "$MILTER" "$STORE_TOOL"
it_init postfix-milter

CONF=$IT_DIR/milter.conf
TEXT='reject-text = "Recipient %{recipient} suppressed (%{reason}) until %{expiry} - 100%% sure"'
milter_conf "$CONF" "$TEXT"
STORE=$IT_DIR/store
ACCEPTED=0      # recipients the milter let through, counted as we go
REJECTED=0

# The store: entries through suppressctl (or store-tool), one already expired.
suppress_add "$CONF" blocked@example.com hard-bounce 7d
suppress_add "$CONF" complained@example.com complaint never
suppress_add "$CONF" removeme@example.com manual never
"$STORE_TOOL" "$STORE" put expired@example.com hard-bounce -60
check "store seeded (blocked@ suppressed, expired@ not)" \
    test "$("$STORE_TOOL" "$STORE" lookup blocked@example.com)" = "suppressed hard-bounce" \
    -a "$("$STORE_TOOL" "$STORE" lookup expired@example.com)" = "not suppressed"

pf_setup
check "milter-suppress starts" milter_start "$CONF"
check "postfix and smtp-sink start" pf_start
[ "$IT_FAIL" -eq 0 ] || it_finish

# --- a suppressed recipient: 550 at RCPT with the configured text
send blocked blocked@example.com
check "suppressed recipient: swaks exit 24 (RCPT refused)" test $? -eq 24
REJECTED=$((REJECTED + 1))
check "suppressed recipient: 550 5.1.1 with the configured text, %% shown as %" \
    transcript_has blocked '^<\*\* 550 5\.1\.1 Recipient blocked@example\.com suppressed \(hard-bounce\) until 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z - 100% sure$'
check "postfix logged the milter-reject" \
    grep -qE 'milter-reject: RCPT from [^ ]*\[127\.0\.0\.1\]: 550 5\.1\.1 Recipient blocked@example\.com' "$IT_DIR/log/postfix.log"
check "milter logged the rejection" \
    milter_log_has "reject: from=<sender@example.org> to=<blocked@example.com> reason=hard-bounce client=[127.0.0.1]"

# --- another recipient is delivered
send ok ok@example.com
check "other recipient: accepted (swaks exit 0)" test $? -eq 0
ACCEPTED=$((ACCEPTED + 1))
check "other recipient: delivered to smtp-sink" delivered ok@example.com

# --- mixed recipients in one message
send mixed ok2@example.com,complained@example.com
check "mixed: message accepted (swaks exit 0)" test $? -eq 0
ACCEPTED=$((ACCEPTED + 1))
REJECTED=$((REJECTED + 1))
check "mixed: ok2@ gets 250" transcript_has mixed '^<-  250 2\.1\.5 Ok'
check "mixed: complained@ gets 550 (complaint, never expires)" \
    transcript_has mixed '^<\*\* 550 5\.1\.1 Recipient complained@example\.com suppressed \(complaint\) until never - 100% sure$'
check "mixed: ok2@ delivered" delivered ok2@example.com
check "mixed: complained@ not delivered" not_delivered complained@example.com

# --- address normalization: case does not matter
send upper BLOCKED@Example.COM
check "BLOCKED@Example.COM is the same suppressed address (550)" \
    transcript_has upper '^<\*\* 550 5\.1\.1 Recipient blocked@example\.com'
REJECTED=$((REJECTED + 1))
# swaks sends this as RCPT TO:<<BLOCKED@Example.COM>>: Postfix accepts it and
# would deliver to BLOCKED@Example.COM, so the milter must not let it slip.
send double-brackets '<BLOCKED@Example.COM>'
check "RCPT TO:<<BLOCKED@Example.COM>> is refused too (the MTA's {rcpt_addr})" \
    transcript_has double-brackets '^<\*\* 550 5\.1\.1 Recipient blocked@example\.com'
REJECTED=$((REJECTED + 1))

# --- an expired entry no longer rejects
send expired expired@example.com
check "expired entry: accepted" test $? -eq 0
ACCEPTED=$((ACCEPTED + 1))
check "expired entry: delivered" delivered expired@example.com

# --- removal takes effect at once
send before-remove removeme@example.com
check "removeme@ refused before removal" transcript_has before-remove '^<\*\* 550 5\.1\.1 .*\(manual\)'
REJECTED=$((REJECTED + 1))
if [ -x "$SUPPRESSCTL" ]; then
    check "suppressctl remove removeme@" suppress_remove "$CONF" removeme@example.com
    send after-remove removeme@example.com
    check "removeme@ accepted right after removal" test $? -eq 0
    ACCEPTED=$((ACCEPTED + 1))
    check "removeme@ delivered" delivered removeme@example.com
else
    echo "# suppressctl not built: removal checks skipped"
fi

# --- the timeline and the counters (stats-interval = 1s)
events_have_rejection() {
    "$STORE_TOOL" "$STORE" events blocked@example.com |
        grep -qE '^rejected\|sender@example\.org\|127\.0\.0\.1\|hard-bounce\|5\.1\.1\|550 5\.1\.1 Recipient blocked@example\.com suppressed \(hard-bounce\) until .* - 100% sure$'
}
counter_is() {
    [ "$("$STORE_TOOL" "$STORE" counter "$(today)" "$1")" = "$2" ]
}
check "timeline of blocked@ has the rejected event (sender, client, reason, reply)" \
    it_wait_for 10 events_have_rejection
rejected_events_are() {
    [ "$("$STORE_TOOL" "$STORE" events "$1" | grep -c '^rejected|')" -eq "$2" ]
}
check "three rejected events for blocked@ (all spellings)" \
    it_wait_for 10 rejected_events_are blocked@example.com 3
check "rejected counter of today = $REJECTED" it_wait_for 10 counter_is rejected "$REJECTED"
check "accepted counter of today = $ACCEPTED" it_wait_for 10 counter_is accepted "$ACCEPTED"

# --- SIGHUP reload with an SMTP session open across it
PID_BEFORE=$MILTER_PID
sed -i 's/^  reject-text = .*/  reject-text = "Reloaded: %{recipient} is blocked"/' "$CONF"
"$PYTHON" "$top_srcdir/tests/integration/smtp-session.py" "$SMTPD_PORT" \
    "$IT_DIR/run/session.ready" "$IT_DIR/run/session.go" sender@example.org \
    ok3@example.com blocked@example.com >"$IT_DIR/log/session.log" 2>&1 &
SESSION_PID=$!
IT_PIDS="$IT_PIDS $SESSION_PID"
it_wait_for 20 test -e "$IT_DIR/run/session.ready"
RELOADS=$(milter_log_count "configuration reloaded")
kill -HUP "$MILTER_PID"
reloaded() { [ "$(milter_log_count "configuration reloaded")" -gt "$RELOADS" ]; }
check "SIGHUP: milter logged the reload" it_wait_for 10 reloaded
touch "$IT_DIR/run/session.go"
wait "$SESSION_PID"
check "session open across the reload completed" test $? -eq 0
check "session: first RCPT (before the reload) got 250" grep -q '^rcpt ok3@example.com 250' "$IT_DIR/log/session.log"
check "session: RCPT after the reload carries the new text" \
    grep -qx 'rcpt blocked@example.com 550 5.1.1 Reloaded: blocked@example.com is blocked' "$IT_DIR/log/session.log"
check "session: message queued" grep -q '^data 250' "$IT_DIR/log/session.log"
check "session: ok3@ delivered" delivered ok3@example.com
check "milter PID unchanged by the reload" test "$MILTER_PID" = "$PID_BEFORE" -a -n "$(it_alive "$MILTER_PID" && echo y)"
send after-reload blocked@example.com
check "new session after the reload: new text" \
    transcript_has after-reload '^<\*\* 550 5\.1\.1 Reloaded: blocked@example\.com is blocked$'

# --- a broken config at reload: logged with file:line, old config kept
cp "$CONF" "$CONF.good"
printf 'milter {\n  no-such-key = 1\n}\n' >>"$CONF"
kill -HUP "$MILTER_PID"
reload_failed() { milter_log_has "reload failed, keeping the running configuration: $CONF:"; }
check "bad config at reload: error names the file and line" it_wait_for 10 reload_failed
check "bad config at reload: the key is named" milter_log_has "no-such-key"
send after-bad-reload blocked@example.com
check "bad config at reload: the running text stays" \
    transcript_has after-bad-reload '^<\*\* 550 5\.1\.1 Reloaded: blocked@example\.com is blocked$'
check "milter still running after a bad reload" it_alive "$MILTER_PID"

# --- dry-run: log what would be refused, refuse nothing
cp "$CONF.good" "$CONF"
sed -i 's/^}$/  dry-run = true\n}/' "$CONF"
RELOADS=$(milter_log_count "configuration reloaded")
kill -HUP "$MILTER_PID"
check "dry-run reload" it_wait_for 10 reloaded
send dry-run blocked@example.com
check "dry-run: suppressed recipient accepted" test $? -eq 0
check "dry-run: suppressed recipient delivered" delivered blocked@example.com
check "dry-run: logged as would reject" \
    milter_log_has "would reject (dry-run): from=<sender@example.org> to=<blocked@example.com> reason=hard-bounce"

# --- SIGTERM: clean stop, pid file and socket removed
milter_stop
check "SIGTERM: milter exits 0" test $? -eq 0
check "SIGTERM: pid file removed" test ! -e "$IT_DIR/run/milter.pid"
check "SIGTERM: socket removed" test ! -e "$IT_DIR/run/milter.sock"

it_finish
