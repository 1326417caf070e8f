#!/bin/bash
# postfix-policy.sh: milter-suppress as a Postfix policy service
# (check_policy_service in smtpd_recipient_restrictions, no milter at all
# in smtpd): suppressed recipients get the configured 550 at RCPT TO,
# others are delivered, per recipient; expiry and removal take effect at
# once; each rejection lands in the timeline with via=policy and in the
# daily counters; one policy connection serves several SMTP sessions;
# SIGHUP reloads the reply text on that open connection; malformed
# requests are logged and their connection closed without harm to the
# next; store errors get on-store-error; SIGTERM stops cleanly.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_root
it_require_tools postfix postconf swaks smtp-sink
it_require_built "$MILTER" "$STORE_TOOL"
it_init postfix-policy

CONF=$IT_DIR/milter.conf
POLICY_SOCK=$IT_DIR/run/policy.sock
TEXT='reject-text = "Recipient %{recipient} suppressed (%{reason}) until %{expiry} - 100%% sure"'
STORE=$IT_DIR/store
ACCEPTED=0
REJECTED=0

# policy_conf LINE...: milter_conf plus the policy-service section.
policy_conf() {
    milter_conf "$CONF" "$@"
    {
        echo "policy-service {"
        echo "  socket = \"unix:$POLICY_SOCK\""
        echo "  socket-mode = \"0666\""
        echo "}"
    } >>"$CONF"
}
policy_conf "$TEXT"

policy_client() {
    "$PYTHON" "$top_srcdir/tests/integration/policy-client.py" "$POLICY_SOCK" "$@"
}
policy_opened() {
    grep -c "policy service: connection #[0-9]* opened" "$IT_DIR/log/milter.log"
}

check "milter-suppress -n accepts the policy-service section" "$MILTER" -n -c "$CONF"
bad_socket_refused() {
    local out
    sed 's|socket = "unix:'"$POLICY_SOCK"'"|socket = "tcp:1234"|' "$CONF" >"$IT_DIR/bad.conf"
    out=$("$MILTER" -n -c "$IT_DIR/bad.conf" 2>&1) && return 1
    echo "$out" | grep -q 'policy-service.socket: "tcp:1234" is not unix:/path'
}
check "milter-suppress -n refuses a bad policy-service.socket, naming it" bad_socket_refused

suppress_add "$CONF" blocked@example.com hard-bounce 7d
suppress_add "$CONF" complained@example.com complaint never
suppress_add "$CONF" removeme@example.com manual never
"$STORE_TOOL" "$STORE" put expired@example.com hard-bounce -60

# The relay smtpd asks the policy service, and has no milter.
pf_setup
postconf -c "$PF_DIR" -e "smtpd_milters =" \
    "smtpd_recipient_restrictions = check_policy_service unix:$POLICY_SOCK, permit_mynetworks, reject_unauth_destination" \
    "smtpd_policy_service_default_action = 451 4.3.5 policy service unavailable"
check "milter-suppress starts" milter_start "$CONF"
check "the policy socket exists with mode 0666" test "$(stat -c %a "$POLICY_SOCK" 2>/dev/null)" = 666
check "postfix and smtp-sink start" pf_start
[ "$IT_FAIL" -eq 0 ] || it_finish

# --- a suppressed recipient: 550 at RCPT with the configured text
send blocked blocked@example.com
check "suppressed recipient: swaks exit 24 (RCPT refused)" test $? -eq 24
REJECTED=$((REJECTED + 1))
check "suppressed recipient: 550 5.1.1 with the configured text, %% shown as %" \
    transcript_has blocked '^<\*\* 550 5\.1\.1 .*Recipient blocked@example\.com suppressed \(hard-bounce\) until 20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z - 100% sure$'
check "postfix logged the reject" \
    grep -qE 'NOQUEUE: reject: RCPT from [^ ]*\[127\.0\.0\.1\]: 550 5\.1\.1 .*Recipient blocked@example\.com suppressed' "$IT_DIR/log/postfix.log"
check "milter logged the rejection via=policy" \
    milter_log_has "reject: from=<sender@example.org> to=<blocked@example.com> reason=hard-bounce client=[127.0.0.1] via=policy"
no_milter_reject() { ! grep -q "milter-reject" "$IT_DIR/log/postfix.log"; }
check "no milter in the path: postfix logged no milter-reject" no_milter_reject

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
check "mixed: complained@ gets 550 (complaint, never expires)" \
    transcript_has mixed '^<\*\* 550 5\.1\.1 .*Recipient complained@example\.com suppressed \(complaint\) until never - 100% sure$'
check "mixed: ok2@ delivered" delivered ok2@example.com
check "mixed: complained@ not delivered" not_delivered complained@example.com

# --- case does not matter
send upper BLOCKED@Example.COM
check "BLOCKED@Example.COM is the same suppressed address (550)" \
    transcript_has upper '^<\*\* 550 5\.1\.1 .*Recipient blocked@example\.com suppressed'
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

# --- one policy connection for many SMTP sessions (smtpd keeps it open)
SESSIONS=7
check "$SESSIONS SMTP sessions so far over fewer policy connections ($(policy_opened))" \
    test "$(policy_opened)" -ge 1 -a "$(policy_opened)" -lt "$SESSIONS"

# --- the timeline (via=policy) and the counters (stats-interval = 1s)
events_have_rejection() {
    "$STORE_TOOL" "$STORE" events blocked@example.com |
        grep -qE '^rejected\|sender@example\.org\|127\.0\.0\.1\|hard-bounce\|5\.1\.1\|550 5\.1\.1 Recipient blocked@example\.com suppressed \(hard-bounce\) until .* - 100% sure$'
}
counter_is() {
    [ "$("$STORE_TOOL" "$STORE" counter "$(today)" "$1")" = "$2" ]
}
check "timeline of blocked@ has the rejected event (sender, client, reason, reply)" \
    it_wait_for 10 events_have_rejection
if [ -x "$SUPPRESSCTL" ]; then
    show_says_policy() {
        "$SUPPRESSCTL" -c "$CONF" show blocked@example.com --json |
            grep -qE '"event": "rejected"[^}]*"via": "policy"'
    }
    check "suppressctl show --json: the rejection says via policy" it_wait_for 10 show_says_policy
    check "suppressctl show: the rejection says via: policy" \
        sh -c "'$SUPPRESSCTL' -c '$CONF' show blocked@example.com | grep -q '^      via: policy$'"
fi
check "rejected counter of today = $REJECTED" it_wait_for 10 counter_is rejected "$REJECTED"
check "accepted counter of today = $ACCEPTED" it_wait_for 10 counter_is accepted "$ACCEPTED"

# --- SIGHUP reload: the new text on the policy connection already open
OPENED_BEFORE=$(policy_opened)
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
    grep -qE '^rcpt blocked@example.com 550 5.1.1 .*Reloaded: blocked@example.com is blocked$' "$IT_DIR/log/session.log"
send after-reload blocked@example.com
check "new session after the reload: new text" \
    transcript_has after-reload '^<\*\* 550 5\.1\.1 .*Reloaded: blocked@example\.com is blocked$'
check "the reload opened no new policy connection ($OPENED_BEFORE before)" \
    test "$(policy_opened)" -eq "$OPENED_BEFORE"
check "milter PID unchanged by the reload" test "$MILTER_PID" = "$PID_BEFORE"

# --- several requests on one connection, by hand
policy_client recipient:blocked@example.com recipient:fine@example.com \
    'request=smtpd_access_policy\nprotocol_state=DATA\nrecipient=blocked@example.com\n\n' \
    >"$IT_DIR/log/hand-good.log" 2>&1
check "by hand: three answers on one connection" \
    test "$(grep -c '^reply ' "$IT_DIR/log/hand-good.log")" -eq 3
check "by hand: suppressed recipient gets the reject action" \
    grep -qx 'reply action=550 5.1.1 Reloaded: blocked@example.com is blocked' "$IT_DIR/log/hand-good.log"
check "by hand: another recipient gets DUNNO" \
    test "$(sed -n 2p "$IT_DIR/log/hand-good.log")" = "reply action=DUNNO"
check "by hand: protocol_state DATA gets DUNNO" \
    test "$(sed -n 3p "$IT_DIR/log/hand-good.log")" = "reply action=DUNNO"

# --- malformed requests: logged, connection closed, the next one served
policy_client recipient:fine@example.com 'protocol_state=RCPT\nthis line has no equals sign\n\n' \
    recipient:blocked@example.com >"$IT_DIR/log/hand-bad.log" 2>&1
check "line without '=': answered before, closed at the bad request" \
    test "$(tr '\n' '|' <"$IT_DIR/log/hand-bad.log")" = "reply action=DUNNO|closed|"
check "line without '=': logged naming what was wrong" \
    milter_log_has "malformed request: attribute line 2 has no '='"
policy_client 'protocol_state=RCPT\nrecipient=a\x00b@example.com\n\n' >"$IT_DIR/log/hand-nul.log" 2>&1
check "NUL byte: connection closed" grep -qx closed "$IT_DIR/log/hand-nul.log"
check "NUL byte: logged" milter_log_has "malformed request: binary byte 0x00 in line 2"
"$PYTHON" -c 'import socket,sys
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"protocol_state=RCPT\nrecipient=x@example.com\n"); s.shutdown(socket.SHUT_WR)
print(repr(s.recv(100)))' "$POLICY_SOCK" >"$IT_DIR/log/hand-eof.log" 2>&1
check "EOF inside a request: no answer, logged" \
    it_wait_for 5 milter_log_has "no empty line before EOF"
policy_client recipient:blocked@example.com >"$IT_DIR/log/hand-after.log" 2>&1
check "a good connection after the bad ones still gets answers" \
    grep -qx 'reply action=550 5.1.1 Reloaded: blocked@example.com is blocked' "$IT_DIR/log/hand-after.log"
send after-bad blocked@example.com
check "postfix still refuses through the policy service" \
    transcript_has after-bad '^<\*\* 550 5\.1\.1 .*Reloaded: blocked@example\.com is blocked$'
check "milter still running" it_alive "$MILTER_PID"

# --- SIGTERM: clean stop, both sockets removed
milter_stop
check "SIGTERM: milter exits 0" test $? -eq 0
check "SIGTERM: policy socket removed" test ! -e "$POLICY_SOCK"
check "SIGTERM: milter socket removed" test ! -e "$IT_DIR/run/milter.sock"
check "SIGTERM: pid file removed" test ! -e "$IT_DIR/run/milter.pid"

# --- store errors (the store below a plain file: postfix-store-error.sh)
echo "not a directory" >"$IT_DIR/volume"
export MILTER_STORE=$IT_DIR/volume/store
policy_conf 'on-store-error = "tempfail"'
check "milter-suppress starts although the store cannot be opened" milter_start "$CONF"
send tempfail someone@example.com
check "store error, tempfail: 451 4.3.0 to the client" \
    transcript_has tempfail '^<\*\* 451 4\.3\.0 .*Suppression list temporarily unavailable, try again later$'
check "store error, tempfail: logged" \
    grep -qE "store lookup of <someone@example.com> failed, answering 451 \(on-store-error = tempfail\): the store is not open.* via=policy$" "$IT_DIR/log/milter.log"
N=$(milter_log_count "configuration reloaded")
policy_conf 'on-store-error = "reject"'
kill -HUP "$MILTER_PID"
reloads_more_than() { [ "$(milter_log_count "configuration reloaded")" -gt "$1" ]; }
check "reload with on-store-error = reject" it_wait_for 10 reloads_more_than "$N"
send reject other@example.com
check "store error, reject: 550 5.1.1 with reason store-error" \
    transcript_has reject '^<\*\* 550 5\.1\.1 .*Recipient address suppressed \(store-error, expires never\)$'
check "store error: nothing delivered" not_delivered someone@example.com
milter_stop
check "SIGTERM: milter exits 0" test $? -eq 0
check "SIGTERM: policy socket removed" test ! -e "$POLICY_SOCK"

it_finish
