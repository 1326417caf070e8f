#!/bin/bash
# milter-cli.sh: the command line and the startup of milter-suppress:
# -V, usage errors, -n on good and bad files, a config error at startup,
# the socket (mode and group, busy, stale, not a socket), and the
# background mode with its pid file and startup report.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_built "$MILTER"
it_init milter-cli

CONF=$IT_DIR/milter.conf
milter_conf "$CONF"

# --- -V and usage
out=$("$MILTER" -V)
check "-V prints the version and exits 0" test $? -eq 0 -a "${out%% *}" = milter-suppress
"$MILTER" -x >/dev/null 2>"$IT_DIR/log/usage.err"
check "unknown option: exit 64 (EX_USAGE)" test $? -eq 64
check "unknown option: usage on stderr" grep -q '^usage: milter-suppress' "$IT_DIR/log/usage.err"
"$MILTER" -f extra >/dev/null 2>&1
check "stray argument: exit 64" test $? -eq 64

# --- -n
out=$("$MILTER" -n -c "$CONF" 2>&1)
check "-n on a good file: exit 0" test $? -eq 0
check "-n on a good file: says config OK and names it" test "$out" = "config OK: $CONF"

printf 'store = "%s"\nmilter {\n  socket = "unix:/x.sock"\n  no-such-key = 1\n}\n' "$IT_DIR/store" >"$IT_DIR/bad.conf"
out=$("$MILTER" -n -c "$IT_DIR/bad.conf" 2>&1)
check "-n on an unknown key: exit 1" test $? -eq 1
check "-n on an unknown key: names file:line and the key" \
    grep -qF "$IT_DIR/bad.conf:4:" <<<"$out"
check "-n on an unknown key: the key is in the message" grep -qF "no-such-key" <<<"$out"

printf 'milter {\n  socket = "tcp:25"\n}\n' >"$IT_DIR/badsock.conf"
out=$("$MILTER" -n -c "$IT_DIR/badsock.conf" 2>&1)
check "-n on a bad socket value: exit 1 naming milter.socket and the line" \
    test $? -eq 1 -a -n "$(grep -F "$IT_DIR/badsock.conf:2" <<<"$out" | grep -F "socket")"

out=$("$MILTER" -n -c "$IT_DIR/missing.conf" 2>&1)
check "-n on a missing file: exit 1 naming the file" \
    test $? -eq 1 -a -n "$(grep -F "$IT_DIR/missing.conf" <<<"$out")"

printf 'milter {\n  reject-text = "blocked until %%{expires}"\n}\n' >"$IT_DIR/tmpl.conf"
out=$("$MILTER" -n -c "$IT_DIR/tmpl.conf" 2>&1)
check "-n on an unknown placeholder: exit 0 with a warning naming it" \
    test $? -eq 0 -a -n "$(grep -F 'warning' <<<"$out" | grep -F '%{expires}')"

"$MILTER" -f -c "$IT_DIR/bad.conf" >/dev/null 2>"$IT_DIR/log/start-bad.err"
check "starting on a bad file: exit 78 (EX_CONFIG)" test $? -eq 78
check "starting on a bad file: the error names file:line" grep -qF "$IT_DIR/bad.conf:4:" "$IT_DIR/log/start-bad.err"

# --- the socket
check "milter starts in the foreground" milter_start "$CONF"
check "socket mode is socket-mode (0666 here)" test "$(stat -c %a "$IT_DIR/run/milter.sock")" = 666
check "pid file holds the milter's pid" test "$(cat "$IT_DIR/run/milter.pid")" = "$MILTER_PID"

"$MILTER" -f -c "$CONF" >/dev/null 2>"$IT_DIR/log/busy.err"
check "a second instance on a live socket: exit 75" test $? -eq 75
check "a second instance on a live socket: says another process listens" \
    grep -qF "another process is listening on it" "$IT_DIR/log/busy.err"
check "the first instance still answers" milter_answers
milter_stop
check "SIGTERM: exit 0" test $? -eq 0

# A socket file nobody listens on (a crashed run) is removed at start.
"$PYTHON" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$IT_DIR/run/milter.sock"
check "stale socket file prepared" test -S "$IT_DIR/run/milter.sock"
check "milter starts over a stale socket" milter_start "$CONF"
check "the stale socket removal is logged" milter_log_has "removed stale socket $IT_DIR/run/milter.sock"
milter_stop

# A file that is not a socket is never removed.
echo "precious" >"$IT_DIR/run/milter.sock"
"$MILTER" -f -c "$CONF" >/dev/null 2>"$IT_DIR/log/notsock.err"
check "a non-socket file at the socket path: refused (exit 78)" test $? -eq 78
check "a non-socket file at the socket path: left alone" grep -qx precious "$IT_DIR/run/milter.sock"
rm -f "$IT_DIR/run/milter.sock"

if [ "$(id -u)" = 0 ]; then
    milter_conf "$IT_DIR/group.conf" 'socket-mode = "0640"' 'socket-group = "nogroup"'
    check "milter starts with socket-group" milter_start "$IT_DIR/group.conf"
    check "socket gets socket-mode and socket-group (640 nogroup)" \
        test "$(stat -c '%a %G' "$IT_DIR/run/milter.sock")" = "640 nogroup"
    milter_stop
else
    echo "# not root: socket-group check skipped"
fi

# --- background mode: the command returns once the milter is ready
"$MILTER" -c "$CONF" >"$IT_DIR/log/daemon.out" 2>&1
check "background start: the command exits 0" test $? -eq 0
DAEMON_PID=$(cat "$IT_DIR/run/milter.pid" 2>/dev/null)
IT_PIDS="$IT_PIDS $DAEMON_PID"
check "background start: pid file names a running milter" it_alive "$DAEMON_PID"
check "background start: the milter is its own session leader" \
    test "$(ps -o sid= -p "$DAEMON_PID" | tr -d ' ')" = "$DAEMON_PID"
MILTER_PID=$DAEMON_PID
check "background start: the socket answers" milter_answers
kill -TERM "$DAEMON_PID"
daemon_gone() { ! it_alive "$DAEMON_PID"; }
check "background: SIGTERM stops it" it_wait_for 10 daemon_gone
check "background: pid file removed" test ! -e "$IT_DIR/run/milter.pid"
MILTER_PID=

milter_conf "$IT_DIR/nopid.conf" "pid-file = \"$IT_DIR/no/such/dir/milter.pid\""
"$MILTER" -c "$IT_DIR/nopid.conf" >/dev/null 2>"$IT_DIR/log/nopid.err"
rc=$?
check "background start that fails: non-zero exit (74, EX_IOERR)" test "$rc" -eq 74
check "background start that fails: the reason on stderr" \
    grep -qF "pid file $IT_DIR/no/such/dir/milter.pid" "$IT_DIR/log/nopid.err"
check "background start that fails: no socket left behind" test ! -e "$IT_DIR/run/milter.sock"

it_finish
