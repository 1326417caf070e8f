#!/bin/bash
# policy-timeouts.sh: the policy service closes connections that hold a
# place without using it (policy-service.idle-timeout between requests,
# policy-service.request-timeout within one), says so in its log, keeps
# serving a connection that stays busy, and keeps serving new ones.
# Talks to the policy socket directly (policy-client.py): the timeouts are
# the service's own, and smtpd, which closes its idle connections first,
# would only hide them.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_built "$MILTER" "$STORE_TOOL"
it_init policy-timeouts

CONF=$IT_DIR/milter.conf
POLICY_SOCK=$IT_DIR/run/policy.sock

# policy_conf FILE [IDLE REQUEST]: a milter config with a policy service
# (the timeouts left at their defaults when not given).
policy_conf() {
    milter_conf "$1"
    {
        printf 'policy-service {\n  socket = "unix:%s"\n  socket-mode = "0666"\n' "$POLICY_SOCK"
        [ -n "${2:-}" ] && printf '  idle-timeout = "%s"\n' "$2"
        [ -n "${3:-}" ] && printf '  request-timeout = "%s"\n' "$3"
        echo "}"
    } >>"$1"
}
policy_client() {
    "$PYTHON" "$top_srcdir/tests/integration/policy-client.py" "$POLICY_SOCK" "$@"
}
# closed_between OUTPUT MIN MAX: OUTPUT says "closed after T s", MIN <= T <= MAX.
closed_between() {
    local t
    t=$(sed -n 's/^closed after \([0-9.]*\) s$/\1/p' <<<"$1")
    [ -n "$t" ] && awk -v t="$t" -v lo="$2" -v hi="$3" 'BEGIN { exit !(t >= lo && t <= hi) }'
}

# --- the keys: defaults and bad values
policy_conf "$IT_DIR/defaults.conf"
check "-n: the default timeouts pass" "$MILTER" -n -c "$IT_DIR/defaults.conf" >/dev/null
policy_conf "$IT_DIR/explicit.conf" 10m 10s
check "-n: idle-timeout = 10m, request-timeout = 10s pass" "$MILTER" -n -c "$IT_DIR/explicit.conf" >/dev/null
policy_conf "$IT_DIR/zero.conf" 0s 10s
out=$("$MILTER" -n -c "$IT_DIR/zero.conf" 2>&1)
check "-n refuses idle-timeout = 0s, naming the key" \
    grep -qF 'policy-service.idle-timeout: "0s" is shorter than a second' <<<"$out"
policy_conf "$IT_DIR/never.conf" 10m never
out=$("$MILTER" -n -c "$IT_DIR/never.conf" 2>&1)
check "-n refuses request-timeout = never, naming the key" \
    grep -qF 'policy-service.request-timeout: "never" is not allowed here' <<<"$out"

"$STORE_TOOL" "$IT_DIR/store" put blocked@example.com hard-bounce 0
policy_conf "$CONF" 2s 2s
check "milter-suppress starts with the policy service" milter_start "$CONF"
[ "$IT_FAIL" -eq 0 ] || it_finish

# --- idle between requests: answered, then closed after idle-timeout
out=$(policy_client recipient:blocked@example.com wait-close:20 2>&1)
check "idle: the request is answered" grep -q '^reply action=550 5.1.1' <<<"$out"
check "idle: the service hangs up 2 s later, not before (got: $(tail -n 1 <<<"$out"))" \
    closed_between "$(tail -n 1 <<<"$out")" 1.5 10
check "idle: logged at info with the key" \
    grep -qE 'policy service: connection #[0-9]+: idle for 2 s \(policy-service.idle-timeout\); closing the connection' \
    "$IT_DIR/log/milter.log"

# --- a connection that keeps asking outlives the idle timeout
out=$(policy_client recipient:a@example.com sleep:1.2 recipient:b@example.com sleep:1.2 \
    recipient:c@example.com sleep:1.2 recipient:blocked@example.com 2>&1)
check "busy: four requests 1.2 s apart (4.8 s > idle-timeout) all answered" \
    test "$(grep -c '^reply action=' <<<"$out")" -eq 4 -a "$(tail -n 1 <<<"$out" | cut -c1-16)" = "reply action=550"

# --- slowloris: a request trickled a byte every 0.2 s is cut at request-timeout
before=$(milter_log_count "policy-service.request-timeout")
out=$(policy_client trickle:0.2:'request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=x@example.com\n' 2>&1)
check "trickle: the service hangs up within request-timeout though bytes keep coming (got: $out)" \
    closed_between "$out" 1.5 5
check "trickle: logged with the bytes received and the key" \
    test "$(milter_log_count "policy-service.request-timeout")" -gt "$before"
check "trickle: the log line says the request was not finished" \
    grep -qE 'connection #[0-9]+: request not finished 2 s after it began \([0-9]+ bytes; policy-service.request-timeout\)' \
    "$IT_DIR/log/milter.log"

# --- a request sent in two parts 1 s apart is within request-timeout: answered
out=$(policy_client send:'request=smtpd_access_policy\nprotocol_state=RCPT\n' sleep:1 \
    recipient:blocked@example.com 2>&1)
check "two parts 1 s apart: answered" grep -q '^reply action=550' <<<"$out"

# --- still serving, and SIGHUP applies new timeouts to open connections
policy_conf "$CONF" 4s 2s
kill -HUP "$MILTER_PID"
check "SIGHUP: reloaded" it_wait_for 10 milter_log_has "configuration reloaded from"
out=$(policy_client recipient:blocked@example.com wait-close:20 2>&1)
check "after SIGHUP: answered, and closed after the new idle-timeout of 4 s (got: $(tail -n 1 <<<"$out"))" \
    closed_between "$(tail -n 1 <<<"$out")" 3.5 12
check "the milter is still running" it_alive "$MILTER_PID"
check "SIGTERM: clean exit" milter_stop
it_finish
