#!/bin/bash
# shellcheck disable=SC2317  # functions run through check and it_wait_for
# test-sendmail.sh: milter-suppress behind a real Sendmail on loopback, with
# the INPUT_MAIL_FILTER line users are told to paste
# (contrib/sendmail/milter-suppress.mc; only its socket path is replaced),
# so the documentation is what gets tested.
#
# Sendmail cannot be installed next to Postfix (the packages conflict), so
# its Debian packages are downloaded once (kept in
# $top_builddir/tests/sendmail/debs), unpacked into the temp directory and
# run from there with their own .cf, queue, pid file and ports, in a UTS
# namespace with a dotted host name (else Sendmail sleeps 60 s: G7) and a
# mount namespace whose /dev/log leads to syslog-catcher.py (Sendmail logs
# only through syslog: G10).  Recipe and gotchas: shared/docs/mta-test-rig.md
# section 6.
#
# Checks: a suppressed recipient gets 550 5.1.1 with the configured text,
# others are delivered (to smtp-sink), per recipient within one message;
# suppressctl remove takes effect at once; the rejection is in the
# timeline of suppressctl show; the envelope sender Sendmail relays is the
# milter's signed BATV (prvs) form, valid under the key file the milter
# made (store-tool retpath); with the milter stopped Sendmail answers 451
# (F=T).  Everything started here is stopped by PID, and the test checks
# that none of it is left.  Skips (77) without root, swaks, m4 or unshare,
# or when the Sendmail packages cannot be downloaded.
. "$(dirname "$0")/../integration/lib.sh"

SM_PACKAGES="sendmail-bin sendmail-base sendmail-cf"
SM_DEBS=$top_builddir/tests/sendmail/debs
MC_FILE=$top_srcdir/contrib/sendmail/milter-suppress.mc
CATCHER=$top_srcdir/tests/sendmail/syslog-catcher.py
SM_HOSTNAME=sm.sendmail.test
SM_DIR=             # set by sm_setup: Sendmail's files under the temp dir
SM_NS=              # mount namespace of Sendmail's processes (readlink form)
CATCHER_PID=

[ "$(id -u)" = 0 ] || it_skip "needs root (Sendmail in its own namespaces, smtp-sink -u nobody)"
it_require_tools swaks m4 unshare smtp-sink dpkg-deb apt-get "$PYTHON"
it_require_built "$MILTER" "$SUPPRESSCTL" "$STORE_TOOL"

# ------------------------------------------------------------------ packages

# The three .debs in the cache; downloaded (to a scratch directory first, so
# that an interrupted download leaves no partial file) when one is missing.
sm_fetch_debs() {
    local p dl missing=
    for p in $SM_PACKAGES; do
        compgen -G "$SM_DEBS/${p}_*.deb" >/dev/null || missing="$missing $p"
    done
    [ -n "$missing" ] || return 0
    dl=$IT_DIR/debs-download
    mkdir -p "$dl" "$SM_DEBS"
    # shellcheck disable=SC2086
    (cd "$dl" && apt-get download $SM_PACKAGES) >"$IT_DIR/log/apt-download.log" 2>&1 ||
        return 1
    mv "$dl"/*.deb "$SM_DEBS/"
}

# The INPUT_MAIL_FILTER line of the documented .mc, socket replaced by ours.
sm_filter_line() {
    local n
    n=$(grep -c '^INPUT_MAIL_FILTER(' "$MC_FILE")
    if [ "$n" != 1 ]; then
        echo "# $MC_FILE: expected one INPUT_MAIL_FILTER line, found $n" >&2
        return 1
    fi
    grep '^INPUT_MAIL_FILTER(' "$MC_FILE" |
        sed "s|S=unix:[^,']*|S=unix:$IT_DIR/run/milter.sock|"
}

# ------------------------------------------------------------------ sendmail

# sm_setup FILTER_LINE: unpack Sendmail and write its .mc and .cf.
sm_setup() {
    local filter=$1 deb
    SM_DIR=$IT_DIR/sendmail
    SM_PORT=$(it_free_port)
    mkdir -p "$SM_DIR/root" "$SM_DIR/run" "$SM_DIR/dev"
    install -d -m 0700 "$SM_DIR/mqueue"
    for deb in "$SM_DEBS"/*.deb; do
        dpkg-deb -x "$deb" "$SM_DIR/root" || return 1
    done
    SM_BIN=$SM_DIR/root/usr/libexec/sendmail/sendmail
    if ldd "$SM_BIN" | grep -q 'not found'; then
        it_skip "Sendmail's libraries are missing: $(ldd "$SM_BIN" | grep 'not found' | tr -s '\n\t' '  ')"
    fi
    printf 'hosts\tfiles\naliases\tfiles\n' >"$SM_DIR/service.switch"
    : >"$SM_DIR/aliases"
    : >"$SM_DIR/run/statistics"
    cat >"$SM_DIR/test.mc" <<EOF
divert(-1)
divert(0)dnl
VERSIONID(\`milter-suppress test-sendmail.sh')dnl
OSTYPE(\`linux')dnl
define(\`confDOMAIN_NAME', \`$SM_HOSTNAME')dnl
define(\`QUEUE_DIR', \`$SM_DIR/mqueue')dnl
define(\`confPID_FILE', \`$SM_DIR/run/sendmail.pid')dnl
define(\`STATUS_FILE', \`$SM_DIR/run/statistics')dnl
define(\`HELP_FILE', \`$SM_DIR/root/etc/mail/helpfile')dnl
define(\`ALIAS_FILE', \`$SM_DIR/aliases')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM_DIR/service.switch')dnl
define(\`confHOSTS_FILE', \`/etc/hosts')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit,GroupWritableDirPathSafe,HelpFileInUnsafeDirPath,MapInUnsafeDirPath')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
FEATURE(\`accept_unqualified_senders')dnl
FEATURE(\`no_default_msa')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`confTO_RESOLVER_RETRANS', \`1s')dnl
define(\`confTO_RESOLVER_RETRY', \`1')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confPRIVACY_FLAGS', \`goaway')dnl
define(\`confREFUSE_LA', \`999')dnl
define(\`confQUEUE_LA', \`999')dnl
define(\`confDELAY_LA', \`999')dnl
define(\`confMAX_DAEMON_CHILDREN', \`0')dnl
define(\`confCONNECTION_RATE_THROTTLE', \`0')dnl
define(\`confBAD_RCPT_THROTTLE', \`0')dnl
define(\`confTO_IDENT', \`0s')dnl
define(\`confTO_CONNECT', \`5s')dnl
define(\`confDELIVERY_MODE', \`background')dnl
DAEMON_OPTIONS(\`Family=inet, Name=MTA-test, Addr=127.0.0.1, Port=$SM_PORT, Listen=256')dnl
define(\`SMART_HOST', \`esmtp:[127.0.0.1]')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $SINK_PORT')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $SINK_PORT')dnl
define(\`SMTP_MAILER_ARGS', \`TCP \$h $SINK_PORT')dnl
dnl The documented line (contrib/sendmail/milter-suppress.mc):
$filter
define(\`confMILTER_LOG_LEVEL', \`6')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
EOF
    local cf=$SM_DIR/root/usr/share/sendmail/cf
    m4 -D_CF_DIR_="$cf/" "$cf/m4/cf.m4" "$SM_DIR/test.mc" >"$SM_DIR/sendmail.cf" \
        2>"$IT_DIR/log/m4.log" || return 1
}

# The catcher of Sendmail's syslog, on a socket in run/.
catcher_start() {
    "$PYTHON" "$CATCHER" "$IT_DIR/run/syslog.sock" "$IT_DIR/log/sendmail.log" \
        >>"$IT_DIR/log/catcher.log" 2>&1 &
    CATCHER_PID=$!
    it_wait_for 10 test -S "$IT_DIR/run/syslog.sock"
}

# Start the Sendmail daemon in its own UTS and mount namespaces: a dotted
# host name, and a private /dev (null, zero, random, urandom, full) whose
# log is the catcher's socket.  The shell inside records the mount
# namespace before it becomes Sendmail, so that teardown finds every
# process Sendmail forked, even if the pid file was never written.
sm_start() {
    # shellcheck disable=SC2016
    unshare --uts --mount /bin/sh -ec '
        hostname "$1"
        readlink /proc/self/ns/mnt >"$2/run/ns"
        mount -t tmpfs -o mode=0755 sm-dev "$2/dev"
        for n in null zero random urandom full; do
            touch "$2/dev/$n"
            mount --bind "/dev/$n" "$2/dev/$n"
        done
        ln -s "$3" "$2/dev/log"
        mount --rbind "$2/dev" /dev
        exec "$4" -C "$2/sendmail.cf" -bd -q10s -L sm-test
    ' sm-start "$SM_HOSTNAME" "$SM_DIR" "$IT_DIR/run/syslog.sock" "$SM_BIN" \
        >>"$IT_DIR/log/sendmail-start.log" 2>&1
    local rc=$?
    SM_NS=$(cat "$SM_DIR/run/ns" 2>/dev/null)
    [ "$rc" -eq 0 ] || { echo "# sendmail did not start (exit $rc)"; return 1; }
    it_wait_port "$SM_PORT" 20 || { echo "# sendmail does not answer on $SM_PORT"; return 1; }
    # pid file is written after the port is open
    it_wait_for 10 test -s "$SM_DIR/run/sendmail.pid"
}

# PIDs of the processes in Sendmail's mount namespace.
sm_pids() {
    local p
    [ -n "$SM_NS" ] || return 0
    for p in /proc/[0-9]*; do
        [ "$(readlink "$p/ns/mnt" 2>/dev/null)" = "$SM_NS" ] && echo "${p#/proc/}"
    done
}

# Stop the daemon by its pid file, then any child of it left (by PID).
sm_stop() {
    local pid
    [ -n "$SM_DIR" ] || return 0
    pid=$(head -n 1 "$SM_DIR/run/sendmail.pid" 2>/dev/null)
    [ -n "$pid" ] && it_stop_pid "$pid"
    for pid in $(sm_pids); do it_stop_pid "$pid"; done
}

# it_cleanup (lib.sh) with Sendmail and the catcher stopped first; the
# exit status it reads is the one the test exited with.
sm_cleanup() {
    local rc=$?
    trap - EXIT
    sm_stop
    if [ "$IT_FAIL" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
        it_show_log "$IT_DIR/log/sendmail.log" "$IT_DIR/log/sendmail-start.log" \
                    "$IT_DIR/log/m4.log" "$IT_DIR/log/apt-download.log" "$IT_DIR/log/catcher.log" \
                    "$IT_DIR/log/suppressctl.log"
    fi
    it_stop_pid "$CATCHER_PID"
    (exit "$rc")
    it_cleanup
}

# ------------------------------------------------------------------- helpers

# Transcript of an SMTP session through Sendmail (lib.sh's send, our port).
sm_send() {
    send "$1" "$2" "$SM_PORT"
}

# suppressctl with our config; what it says goes to log/suppressctl.log.
ctl() {
    "$SUPPRESSCTL" -c "$CONF" "$@" >>"$IT_DIR/log/suppressctl.log"
}

sendmail_log_has() {
    grep -qF -- "$1" "$IT_DIR/log/sendmail.log"
}

# relayed_from RCPT: the MAIL FROM address (without <>) with which
# Sendmail relayed the message for RCPT to smtp-sink: the X-Mail-Args:
# line ("<address> SIZE=...") that starts the message in the sink's dump.
relayed_from() {
    awk -v rcpt="X-Rcpt-Args: <$1>" '
        /^X-Mail-Args: / { args = substr($0, 14) }
        index($0, rcpt) == 1 { print args; exit }
    ' "$IT_DIR/sink/dump.txt" | sed -n 's/^<\([^>]*\)>.*/\1/p'
}

# signed_prvs RCPT: the message for RCPT left with the sender in prvs form
# (key 1, today's day, 6 hex digits) that store-tool finds valid.
signed_prvs() {
    local from got day
    day=$(printf '%03d' $(( $(date -u +%s) / 86400 % 1000 )))
    from=$(relayed_from "$1")
    got=$("$STORE_TOOL" retpath "$IT_DIR/store/signing.key" - "$from")
    echo "$from" | grep -qxE "prvs=1${day}[0-9a-f]{6}=sender@example\.org" &&
        [ "$got" = "prvs valid sender@example.org" ] && return 0
    echo "#   $1: relayed with MAIL FROM <$from>; store-tool: $got"
    return 1
}

# The queue holds no message (deliveries run in the background).
queue_empty() {
    [ -z "$(ls -A "$SM_DIR/mqueue")" ]
}

# ----------------------------------------------------------------- the test

it_init sendmail
trap sm_cleanup EXIT

sm_fetch_debs || it_skip "cannot download $SM_PACKAGES (no network?): $(tail -n 1 "$IT_DIR/log/apt-download.log")"
FILTER=$(sm_filter_line) || exit 99

CONF=$IT_DIR/milter.conf
REPLY_RE='Suppressed by test-sendmail: blocked@example\.com \(manual\) until never'
milter_conf "$CONF" \
    'reject-text = "Suppressed by test-sendmail: %{recipient} (%{reason}) until %{expiry}"'
SINK_PORT=$(it_free_port)
install -d -o nobody -g nogroup "$IT_DIR/sink"              # smtp-sink -u nobody (G6)

echo "# filter line: $FILTER"
check "milter-suppress starts" milter_start "$CONF"
smtp-sink -u nobody -D "$IT_DIR/sink/dump.txt" "127.0.0.1:$SINK_PORT" 256 \
    >>"$IT_DIR/log/sink.log" 2>&1 &
SINK_PID=$!
check "smtp-sink starts" it_wait_port "$SINK_PORT" 10
check "sendmail.cf built from the documented INPUT_MAIL_FILTER line" sm_setup "$FILTER"
check "syslog catcher starts" catcher_start
check "sendmail starts (in its namespaces, port $SM_PORT)" sm_start
[ "$IT_FAIL" -eq 0 ] || it_finish

# --- a suppressed recipient: 550 5.1.1 and the configured text at RCPT
check "suppressctl add blocked@example.com" ctl add blocked@example.com
sm_send blocked blocked@example.com
check "suppressed recipient: swaks exit 24 (RCPT refused)" test $? -eq 24
check "suppressed recipient: 550 5.1.1 with the configured text" \
    transcript_has blocked "^<\*\* 550 5\.1\.1 (<[^>]*>\.\.\. )?$REPLY_RE\$"
check "sendmail logged the milter's reject" \
    it_wait_for 10 sendmail_log_has "Milter: to=<blocked@example.com>, reject=550 5.1.1"

# --- another recipient is delivered
sm_send ok ok@example.com
check "other recipient: accepted (swaks exit 0)" test $? -eq 0
check "other recipient: 250 at RCPT" transcript_has ok '^<-  250 2\.1\.5 <ok@example\.com>\.\.\. Recipient ok'
check "other recipient: delivered to smtp-sink" delivered ok@example.com
check "other recipient: relayed with the sender signed (prvs=1DDDMMMMMM=sender@example.org, valid)" \
    signed_prvs ok@example.com

# --- mixed recipients in one message
sm_send mixed ok2@example.com,blocked@example.com
check "mixed: message accepted (swaks exit 0)" test $? -eq 0
check "mixed: ok2@ gets 250" transcript_has mixed '^<-  250 2\.1\.5 <ok2@example\.com>\.\.\. Recipient ok'
check "mixed: blocked@ gets 550 5.1.1" \
    transcript_has mixed "^<\*\* 550 5\.1\.1 (<[^>]*>\.\.\. )?$REPLY_RE\$"
check "mixed: ok2@ delivered" delivered ok2@example.com
# Same transaction as ok2@: had blocked@ been kept, smtp-sink has it now.
check "mixed: blocked@ not delivered" not_delivered blocked@example.com
check "mixed: relayed with the sender signed (prvs, valid)" signed_prvs ok2@example.com

# --- the rejections are in the timeline once flushed (stats-interval 1s)
rejected_events() {
    "$SUPPRESSCTL" -c "$CONF" show blocked@example.com 2>/dev/null |
        grep -cE '^  [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +rejected +manual +5\.1\.1 +sender@example\.org +127\.0\.0\.1$'
}
two_rejected() { [ "$(rejected_events)" = 2 ]; }
# The reply given, on its own indented line under the event.
show_has_reply() {
    "$SUPPRESSCTL" -c "$CONF" show blocked@example.com |
        grep -qE "^ +550 5\.1\.1 $REPLY_RE\$"
}
check "suppressctl show: two rejected events (sender, client, reason, 5.1.1)" it_wait_for 10 two_rejected
check "suppressctl show: the reply given is in the timeline" show_has_reply

# --- removal takes effect at once
check "suppressctl remove blocked@example.com" ctl remove blocked@example.com
sm_send removed blocked@example.com
check "removed: accepted at once (swaks exit 0)" test $? -eq 0
check "removed: delivered" delivered blocked@example.com

# --- milter down: F=T makes Sendmail tempfail
milter_stop
check "milter stops on SIGTERM (exit 0)" test $? -eq 0
sm_send tempfail tempfail@example.com
check "milter down: swaks exit 23 (refused before RCPT)" test $? -eq 23
check "milter down: 451 tempfail" transcript_has tempfail '^<\*\* 451 4\.[0-9]\.[0-9] '
check "sendmail logged the unreachable filter by its documented name" \
    it_wait_for 10 sendmail_log_has "Milter (milter-suppress): to error state"
check "sendmail queue empty (all delivered, nothing taken while tempfailing)" \
    it_wait_for 10 queue_empty
check "tempfail@ not delivered" not_delivered tempfail@example.com

# --- teardown by PID; nothing of the test may remain
SM_DAEMON=$(head -n 1 "$SM_DIR/run/sendmail.pid")
sm_stop
it_stop_pid "$SINK_PID"
it_stop_pid "$CATCHER_PID"
left=$(sm_pids)
for pid in $SM_DAEMON $SINK_PID $CATCHER_PID; do
    it_alive "$pid" && left="$left $pid"
done
check "no process of the test left (sendmail, milter, smtp-sink, catcher)" test -z "$left"
SINK_PID=
CATCHER_PID=

it_finish
