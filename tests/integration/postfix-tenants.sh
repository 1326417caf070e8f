#!/bin/bash
# postfix-tenants.sh: tenants (issue 12) through a real Postfix on loopback.
# With tenant = "sender-domain": a complaint suppressed for tenant A's mail
# refuses A's recipient and lets B's through, a hard bounce refuses both,
# and the reply names the scope; suppress-ingest finds the tenant of a
# complaint and of a bounce in the ledger the milter wrote (the complaint
# goes to that tenant's scope, the hard bounce to the global one).  With
# tenant = "macro:daemon_name" (one smtpd per customer in master.cf with
# -o milter_macro_daemon_name=...): the same per listener.  Then the
# per-tenant counters: suppressctl stats --tenant and --by-tenant.  The
# policy service door: the tenant from the request's sender (sender-domain)
# and sasl_username (sasl-login); with macro:NAME only the global scope.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

INGEST=$top_builddir/classifier/suppress-ingest

it_require_root
it_require_tools postfix swaks smtp-sink
it_require_built "$MILTER" "$STORE_TOOL" "$SUPPRESSCTL" "$INGEST"
it_init postfix-tenants

CONF=$IT_DIR/milter.conf
STORE=$IT_DIR/store
mkdir -p "$IT_DIR/quarantine"
# tenant_conf MODE: the milter's config with tenant = MODE.
tenant_conf() {
    milter_conf "$CONF" 'reject-text = "Recipient %{recipient} suppressed (%{reason}, scope %{scope})"'
    {
        echo "tenant = \"$1\""
        echo "ingest {"
        echo "  quarantine = \"$IT_DIR/quarantine\""
        echo "}"
        echo "policy-service {"
        echo "  socket = \"unix:$POLICY_SOCK\""
        echo "  socket-mode = \"0666\""
        echo "}"
    } >>"$CONF"
}
POLICY_SOCK=$IT_DIR/run/policy.sock
# policy SENDER RCPT [LOGIN]: the policy service's action for one RCPT request.
policy() {
    "$PYTHON" "$top_srcdir/tests/integration/policy-client.py" "$POLICY_SOCK" \
        "request=smtpd_access_policy\\nprotocol_state=RCPT\\nclient_address=127.0.0.1\\nsender=$1\\nrecipient=$2\\nsasl_username=${3:-}\\n\\n"
}
# policy_says REGEX SENDER RCPT [LOGIN]: the reply matches REGEX (extended).
policy_says() {
    local re=$1
    shift
    policy "$@" | grep -qE -- "$re"
}
tenant_conf sender-domain
ctl() { "$SUPPRESSCTL" -c "$CONF" "$@"; }

# send_from TAG FROM TO PORT [MESSAGE-ID]: one message with swaks (exit 24: RCPT refused).
send_from() {
    local tag=$1 from=$2 to=$3 port=$4 mid=${5:-$1@client.test}
    swaks --server "127.0.0.1:$port" --from "$from" --to "$to" --helo client.test \
          --timeout 30 --header "Subject: $tag" --header "Message-Id: <$mid>" \
          >"$IT_DIR/log/$tag.swaks" 2>&1
}

PORT_A=$(it_free_port)
PORT_B=$(it_free_port)
pf_setup "127.0.0.1:$PORT_A inet n - n - - smtpd -o milter_macro_daemon_name=cust-a" \
         "127.0.0.1:$PORT_B inet n - n - - smtpd -o milter_macro_daemon_name=cust-b"
check "suppressctl add --tenant a.example (complaint)" \
    ctl add c@dest.test --reason complaint --tenant a.example
check "suppressctl add (hard bounce, global)" ctl add h@dest.test --reason hard-bounce
check "milter-suppress starts" milter_start "$CONF"
check "postfix and smtp-sink start" pf_start
[ "$IT_FAIL" -eq 0 ] || it_finish

# --- sender-domain: A's complainant refused for A, accepted for B
send_from a-to-c news@a.example c@dest.test "$SMTPD_PORT"
check "tenant a.example: its complainant refused (swaks exit 24)" test $? -eq 24
check "the reply names the scope" \
    transcript_has a-to-c '^<\*\* 550 5\.1\.1 Recipient c@dest\.test suppressed \(complaint, scope a\.example\)$'
check "the milter's log line names the tenant and the scope" \
    milter_log_has "reject: from=<news@a.example> to=<c@dest.test> reason=complaint client=[127.0.0.1] tenant=a.example scope=tenant"
send_from b-to-c reset@b.example c@dest.test "$SMTPD_PORT"
check "tenant b.example: the same address accepted" test $? -eq 0
check "... and delivered" delivered c@dest.test
send_from a-to-h news@a.example h@dest.test "$SMTPD_PORT"
check "a global hard bounce refuses tenant a.example" test $? -eq 24
check "... with the global scope in the reply" \
    transcript_has a-to-h '^<\*\* 550 5\.1\.1 Recipient h@dest\.test suppressed \(hard-bounce, scope global\)$'
send_from b-to-h reset@b.example h@dest.test "$SMTPD_PORT"
check "... and tenant b.example" test $? -eq 24
check "policy service, sender-domain: A's complainant refused for A" \
    policy_says '^reply action=550 5.1.1 Recipient c@dest.test suppressed \(complaint, scope a\.example\)$' news@a.example c@dest.test
check "policy service, sender-domain: accepted for B (DUNNO)" \
    policy_says '^reply action=DUNNO$' reset@b.example c@dest.test

# --- suppress-ingest: the tenant of a report from the ledger
send_from a-news news@a.example complainer@dest.test "$SMTPD_PORT" news-1@a.example
check "tenant a.example's newsletter to complainer@ accepted" test $? -eq 0
send_from b-mail reset@b.example gone@dest.test "$SMTPD_PORT" reset-1@b.example
check "tenant b.example's mail to gone@ accepted" test $? -eq 0
check "the ledger has both messages" \
    it_wait_for 10 sh -c "'$STORE_TOOL' '$STORE' ledger news-1@a.example complainer@dest.test | grep -qx recipient && '$STORE_TOOL' '$STORE' ledger reset-1@b.example gone@dest.test | grep -qx recipient"

cat >"$IT_DIR/complaint.eml" <<'MSG'
From: Feedback Loop <fbl@dest.test>
To: bounces@it.postfix.test
Subject: Complaint
Date: Mon, 7 Dec 2026 10:05:00 +0000
Message-ID: <fbl-1@dest.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"

--ARF
Content-Type: text/plain

A user marked a message as spam.

--ARF
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: fbl/1.0
Version: 1
Original-Mail-From: <news@a.example>
Original-Rcpt-To: <complainer@dest.test>

--ARF
Content-Type: message/rfc822

From: news@a.example
To: complainer@dest.test
Subject: Newsletter
Message-ID: <news-1@a.example>

Hello.

--ARF--
MSG
cat >"$IT_DIR/bounce.eml" <<'MSG'
From: Mail Delivery System <MAILER-DAEMON@mx.dest.test>
To: bounces@it.postfix.test
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@mx.dest.test>
Date: Mon, 7 Dec 2026 10:06:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="DSN"

--DSN
Content-Type: text/plain

<gone@dest.test>: 550 5.1.1 User unknown

--DSN
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.dest.test

Final-Recipient: rfc822; gone@dest.test
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <gone@dest.test>: Recipient address rejected: User unknown

--DSN
Content-Type: message/rfc822

From: reset@b.example
To: gone@dest.test
Subject: Password reset
Message-ID: <reset-1@b.example>

Your code.

--DSN--
MSG
"$INGEST" -c "$CONF" --trust sent <"$IT_DIR/complaint.eml" >"$IT_DIR/log/ingest.log" 2>&1
check "suppress-ingest takes the complaint" test $? -eq 0
"$INGEST" -c "$CONF" --trust sent <"$IT_DIR/bounce.eml" >>"$IT_DIR/log/ingest.log" 2>&1
check "suppress-ingest takes the hard bounce" test $? -eq 0
ctl show complainer@dest.test --tenant a.example >"$IT_DIR/log/show-complainer.txt" 2>&1
check "the complaint went to tenant a.example's scope" \
    grep -qE '^reason: +complaint' "$IT_DIR/log/show-complainer.txt"
ctl show gone@dest.test >"$IT_DIR/log/show-gone.txt" 2>&1
check "the hard bounce of b.example's mail went to the global scope" \
    grep -qE '^reason: +hard-bounce' "$IT_DIR/log/show-gone.txt"
send_from a-to-complainer news@a.example complainer@dest.test "$SMTPD_PORT"
check "after the ingest: complainer@ refused for tenant a.example" test $? -eq 24
send_from b-to-complainer reset@b.example complainer@dest.test "$SMTPD_PORT"
check "after the ingest: complainer@ accepted for tenant b.example" test $? -eq 0
send_from a-to-gone news@a.example gone@dest.test "$SMTPD_PORT"
check "after the ingest: gone@ refused for a.example too (hard bounce is global)" test $? -eq 24

# --- per-tenant counters (stats-interval 1s): rejected and accepted per sender domain
by_tenant_has() {
    ctl stats --by-tenant --days 1 >"$IT_DIR/log/by-tenant.txt" 2>&1 &&
        grep -qE "$1" "$IT_DIR/log/by-tenant.txt"
}
# a.example: accepted news-1@, rejected c@ (twice: milter and policy
# service), h@, complainer@, gone@; b.example: accepted c@ (twice),
# reset-1@, complainer@, rejected h@.
check "stats --by-tenant: a.example 2 suppressions, 1 accepted, 5 rejected" \
    it_wait_for 10 by_tenant_has '^a\.example +2 +1 +5 '
check "stats --by-tenant: b.example 4 accepted, 1 rejected, 1 hard bounce" \
    it_wait_for 10 by_tenant_has '^b\.example +0 +4 +1 +1 '
ctl stats --tenant a.example --json >"$IT_DIR/log/stats-a.json" 2>&1
check "stats --tenant a.example --json: its rejected total" "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["tenant"] == "a.example", d
assert d["total"]["rejected"] == 5, d["total"]
assert d["suppressed"]["complaint"] == 2, d["suppressed"]
' "$IT_DIR/log/stats-a.json"
check "the rejected event carries the tenant" \
    sh -c "'$SUPPRESSCTL' -c '$CONF' show c@dest.test --json | grep -q '\"event\": \"rejected\".*\"tenant\": \"a.example\"'"

# --- macro:daemon_name: one smtpd per customer
tenant_conf macro:daemon_name
RELOADS=$(milter_log_count "configuration reloaded")
kill -HUP "$MILTER_PID"
reloaded() { [ "$(milter_log_count "configuration reloaded")" -gt "$RELOADS" ]; }
check "SIGHUP: tenant = macro:daemon_name" it_wait_for 10 reloaded
check "suppressctl add --tenant cust-a" ctl add m@dest.test --reason unsubscribe --tenant cust-a
send_from port-a news@a.example m@dest.test "$PORT_A"
check "listener of cust-a: its unsubscriber refused" test $? -eq 24
check "... in the scope of cust-a" \
    transcript_has port-a '^<\*\* 550 5\.1\.1 Recipient m@dest\.test suppressed \(unsubscribe, scope cust-a\)$'
send_from port-b news@a.example m@dest.test "$PORT_B"
check "listener of cust-b: the same sender and address accepted" test $? -eq 0
send_from port-b-h news@a.example h@dest.test "$PORT_B"
check "listener of cust-b: the global hard bounce still refused" test $? -eq 24
send_from port-a-c news@a.example c@dest.test "$PORT_A"
check "a.example's scope is not cust-a's: c@ accepted on cust-a's listener" test $? -eq 0
check "stats --by-tenant: cust-a 1 suppression, 1 accepted, 1 rejected" \
    it_wait_for 10 by_tenant_has '^cust-a +1 +1 +1 '
check "the milter warned that the policy service sees no macros" \
    milter_log_has "the policy service sees no milter macros"
check "policy service, macro:daemon_name: global scope only (m@ of cust-a: DUNNO)" \
    policy_says '^reply action=DUNNO$' news@a.example m@dest.test cust-a
check "policy service, macro:daemon_name: the global hard bounce refused" \
    policy_says '^reply action=550' news@a.example h@dest.test

# --- sasl-login through the policy service: its sasl_username attribute
tenant_conf sasl-login
RELOADS=$(milter_log_count "configuration reloaded")
kill -HUP "$MILTER_PID"
check "SIGHUP: tenant = sasl-login" it_wait_for 10 reloaded
check "policy service, sasl-login: cust-a's unsubscriber refused for login cust-a" \
    policy_says '^reply action=550 5.1.1 Recipient m@dest.test suppressed \(unsubscribe, scope cust-a\)$' news@a.example m@dest.test cust-a
check "policy service, sasl-login: accepted for login cust-b" \
    policy_says '^reply action=DUNNO$' news@a.example m@dest.test cust-b
check "policy service, sasl-login: no login, global scope only" \
    policy_says '^reply action=DUNNO$' news@a.example m@dest.test
send_from smtp-no-login news@a.example m@dest.test "$PORT_A"
check "milter, sasl-login: a session without AUTH has no tenant (accepted)" test $? -eq 0

it_finish
