# tests/integration/lib.sh: the harness of the end-to-end tests (sourced by
# the test scripts and by tests/bench/postfix-bench.sh).
#
# It builds, in a fresh temp directory, everything a test needs on
# loopback: a private Postfix instance (own config, queue, data and log
# directories, chroot off, ports picked free at run time), an smtp-sink as
# its relayhost, and milter-suppress on a unix socket with its own store.
# Everything started here is stopped by PID at exit, on success or failure,
# and the logs are shown when a check failed.  The recipe and the gotchas
# (G1..G14) are in shared/docs/mta-test-rig.md.
#
# A test prints "ok - ..." / "not ok - ..." per check and ends with
# it_finish ("N passed, M failed"; exit 0 only if all passed).  It exits 77
# (skipped) when it needs root or a tool that is missing.

PATH=$PATH:/usr/sbin:/sbin
export PATH

: "${top_builddir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"

MILTER=$top_builddir/milter/milter-suppress
SUPPRESSCTL=$top_builddir/suppressctl/suppressctl
STORE_TOOL=$top_builddir/tests/integration/store-tool
PYTHON=/usr/bin/python3             # Debian's, stdlib only (not a pyenv shim)

IT_PASS=0
IT_FAIL=0
IT_DIR=
IT_PIDS=
MILTER_PID=
SINK_PID=
PF_DIR=

# ---------------------------------------------------------------- reporting

ok() { IT_PASS=$((IT_PASS + 1)); echo "ok - $*"; }
notok() { IT_FAIL=$((IT_FAIL + 1)); echo "not ok - $*"; }

# check DESCRIPTION COMMAND...: one check, passed when COMMAND succeeds.
check() {
    local desc=$1
    shift
    if "$@"; then ok "$desc"; else notok "$desc"; fi
}

it_skip() {
    echo "SKIP: $*"
    exit 77
}

it_finish() {
    echo "$IT_PASS passed, $IT_FAIL failed"
    [ "$IT_FAIL" -eq 0 ] && [ "$IT_PASS" -gt 0 ]
    exit $?
}

# ------------------------------------------------------------------- set-up

it_require_root() {
    [ "$(id -u)" = 0 ] || it_skip "needs root (a private Postfix instance, smtp-sink -u nobody)"
}

it_require_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null 2>&1 || it_skip "$t is not installed"
    done
}

it_require_built() {
    local f
    for f in "$@"; do
        [ -x "$f" ] || { echo "Bail out! $f is not built"; exit 99; }
    done
}

# it_init NAME: the temp directory and the exit trap.
it_init() {
    IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ms-$1.XXXXXX") || exit 99
    # smtpd runs as postfix and must reach the milter socket in run/.
    chmod 0755 "$IT_DIR"
    mkdir -p "$IT_DIR/run" "$IT_DIR/log"
    chmod 0755 "$IT_DIR/run"
    trap it_cleanup EXIT
    trap 'exit 130' INT TERM
}

# A TCP port nobody listens on now (the kernel's pick; tests run in parallel).
it_free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Something accepts connections on 127.0.0.1:PORT now.
it_port_answers() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Wait until something accepts on 127.0.0.1:PORT (up to SECONDS, default 10).
it_wait_port() {
    it_wait_for "${2:-10}" it_port_answers "$1"
}

# it_wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
it_wait_for() {
    local tries=$(( $1 * 20 ))
    shift
    while [ "$tries" -gt 0 ]; do
        "$@" && return 0
        sleep 0.05
        tries=$((tries - 1))
    done
    return 1
}

# True while PID runs (a zombie does not count: G12).
it_alive() {
    local state
    [ -r "/proc/$1/stat" ] || return 1
    state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
    [ -n "$state" ] && [ "$state" != Z ]
}

# Stop PID with SIGTERM, SIGKILL after 15 s; reap it if it is our child.
# Prints nothing; returns the exit status when it was our child.
it_stop_pid() {
    local pid=$1 tries=300
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
    while it_alive "$pid" && [ "$tries" -gt 0 ]; do
        sleep 0.05
        tries=$((tries - 1))
    done
    it_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

it_show_log() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "# ---- $f (last 60 lines)"
        tail -n 60 "$f" | sed 's/^/# /'
    done
}

it_cleanup() {
    local rc=$?
    trap - EXIT
    if [ "$IT_FAIL" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
        it_show_log "$IT_DIR/log/milter.log" "$IT_DIR/log/postfix.log" \
                    "$IT_DIR/log/postfix-cmd.log" "$IT_DIR/log/session.log"
    fi
    [ -n "$PF_DIR" ] && pf_stop
    it_stop_pid "$MILTER_PID"
    it_stop_pid "$SINK_PID"
    local pid
    for pid in $IT_PIDS; do it_stop_pid "$pid"; done
    if [ -n "$IT_DIR" ] && [ -z "${IT_KEEP:-}" ]; then
        rm -rf "$IT_DIR"
    elif [ -n "$IT_DIR" ]; then
        echo "# kept $IT_DIR"
    fi
    exit "$rc"
}

# ------------------------------------------------------------------- milter

# milter_conf FILE [LINE...]: a config with the store and socket under the
# temp dir; each LINE goes into the milter section (later lines win).
milter_conf() {
    local file=$1 line
    shift
    {
        echo "store = \"${MILTER_STORE:-$IT_DIR/store}\""
        echo "milter {"
        echo "  socket = \"${MILTER_SOCKET:-unix:$IT_DIR/run/milter.sock}\""
        echo "  socket-mode = \"0666\""
        echo "  pid-file = \"$IT_DIR/run/milter.pid\""
        echo "  stats-interval = \"1s\""
        for line in "$@"; do echo "  $line"; done
        echo "}"
    } >"$file"
}

# milter_start CONF: run milter-suppress in the foreground (-f -d, log in
# log/milter.log) and wait until its socket answers.
milter_start() {
    local conf=$1
    rm -f "$IT_DIR/run/milter.pid"
    # Not "cd ... && cmd &" (G14): $! must be the milter itself.
    "$MILTER" -f -d -c "$conf" >>"$IT_DIR/log/milter.log" 2>&1 &
    MILTER_PID=$!
    # Ready = the socket answers and, when configured, the pid file is
    # written (the last step of startup).
    MILTER_PIDFILE=$(sed -n 's/^ *pid-file = "\(.*\)"$/\1/p' "$conf" | tail -n 1)
    it_wait_for 10 milter_ready && return 0
    echo "# milter-suppress did not come up"
    return 1
}

milter_ready() {
    milter_answers && { [ -z "$MILTER_PIDFILE" ] || [ -s "$MILTER_PIDFILE" ]; }
}

# The milter runs and its socket (unix:/path or inet:port@host) answers.
milter_answers() {
    local sock=${MILTER_SOCKET:-unix:$IT_DIR/run/milter.sock} port
    it_alive "$MILTER_PID" || return 1
    if [ "${sock#unix:}" != "$sock" ]; then
        [ -S "${sock#unix:}" ] && "$PYTHON" -c \
            'import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])' \
            "${sock#unix:}" 2>/dev/null
    else
        port=${sock#inet:}
        it_port_answers "${port%%@*}"
    fi
}

# milter_stop: SIGTERM and wait; returns the milter's exit status.
milter_stop() {
    local rc
    it_stop_pid "$MILTER_PID"
    rc=$?
    MILTER_PID=
    return $rc
}

# milter_log_has TEXT: a fixed string in the milter's log.
milter_log_has() {
    grep -qF -- "$1" "$IT_DIR/log/milter.log"
}

# Number of times TEXT appears in the milter's log.
milter_log_count() {
    grep -cF -- "$1" "$IT_DIR/log/milter.log"
}

# -------------------------------------------------------------- store access

# suppress_add CONF ADDR REASON TTL: through suppressctl when it is built
# (the administrator's path), else through the test-only store-tool.
suppress_add() {
    local conf=$1 addr=$2 reason=$3 ttl=$4 secs
    if [ -x "$SUPPRESSCTL" ]; then
        "$SUPPRESSCTL" -c "$conf" add "$addr" --reason "$reason" --ttl "$ttl" >/dev/null
    else
        case $ttl in
        never) secs=0 ;;
        *d) secs=+$(( ${ttl%d} * 86400 )) ;;
        *) secs=+${ttl%s} ;;
        esac
        "$STORE_TOOL" "$(store_dir_of "$conf")" put "$addr" "$reason" "$secs"
    fi
}

suppress_remove() {
    local conf=$1 addr=$2
    if [ -x "$SUPPRESSCTL" ]; then
        "$SUPPRESSCTL" -c "$conf" remove "$addr" >/dev/null
    else
        echo "# suppressctl not built: cannot remove $addr" >&2
        return 1
    fi
}

store_dir_of() {
    sed -n 's/^store = "\(.*\)"$/\1/p' "$1"
}

# ------------------------------------------------------------------ postfix

# pf_instance_dirs BASE: the configuration, queue and data directories of
# an instance whose files live under BASE.
pf_instance_dirs() {
    mkdir -p "$1/postfix"
    install -d -o root -g root -m 0755 "$1/spool"
    install -d -o postfix -g postfix -m 0700 "$1/data"
}

# pf_main_cf BASE LOGNAME HOSTNAME: the main.cf lines every private
# instance shares (loopback only, no local delivery, no TLS, no error
# throttling, log in $IT_DIR/log/LOGNAME.log); callers append their own.
pf_main_cf() {
    cat <<EOF
compatibility_level = 3.6
config_directory = $1/postfix
queue_directory = $1/spool
data_directory = $1/data
maillog_file = $IT_DIR/log/$2.log
maillog_file_prefixes = $IT_DIR/log
myhostname = $3
mydomain = ${3#*.}
myorigin = \$myhostname
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtp_tls_security_level = none
smtpd_tls_security_level = none
non_smtpd_milters =
biff = no
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_client_connection_rate_limit = 0
smtpd_client_connection_count_limit = 0
bounce_queue_lifetime = 0
maximal_queue_lifetime = 1h
EOF
}

# pf_master_cf: the master.cf services every private instance shares (the
# smtpd listeners are the caller's).  chroot n everywhere (G4): a chrooted
# smtpd could not reach an absolute milter socket path.
pf_master_cf() {
    cat <<'EOF'
pickup     unix  n - n 60    1 pickup
cleanup    unix  n - n -     0 cleanup
qmgr       unix  n - n 300   1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -     - trivial-rewrite
bounce     unix  - - n -     0 bounce
defer      unix  - - n -     0 bounce
trace      unix  - - n -     0 bounce
verify     unix  - - n -     1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -     - proxymap
proxywrite unix  - - n -     1 proxymap
smtp       unix  - - n -     - smtp
relay      unix  - - n -     - smtp
showq      unix  n - n -     - showq
error      unix  - - n -     - error
retry      unix  - - n -     - error
discard    unix  - - n -     - discard
local      unix  - n n -     - local
virtual    unix  - n n -     - virtual
lmtp       unix  - - n -     - lmtp
anvil      unix  - - n -     1 anvil
scache     unix  - - n -     1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
}

# pf_setup [EXTRA_MASTER_LINE...]: a private Postfix whose smtpd on
# $SMTPD_PORT uses the milter socket, relaying to an smtp-sink.
pf_setup() {
    local line
    PF_DIR=$IT_DIR/postfix
    SMTPD_PORT=$(it_free_port)
    SINK_PORT=$(it_free_port)
    pf_instance_dirs "$IT_DIR"
    install -d -o nobody -g nogroup "$IT_DIR/sink"              # smtp-sink -u nobody (G6)
    {
        pf_main_cf "$IT_DIR" postfix it.postfix.test
        cat <<EOF
relayhost = [127.0.0.1]:$SINK_PORT
smtpd_milters = unix:$IT_DIR/run/milter.sock
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 10s
milter_command_timeout = 10s
smtpd_banner = \$myhostname ESMTP it
default_process_limit = 100
EOF
    } >"$PF_DIR/main.cf"
    {
        echo "127.0.0.1:$SMTPD_PORT inet n - n - - smtpd"
        for line in "$@"; do echo "$line"; done
        pf_master_cf
    } >"$PF_DIR/master.cf"
}

# pf_instance_cmd CONFDIR LOGNAME ARGS...: a postfix command on an
# instance.  Its errors go to a tty or the maillog only (G1), so run it
# under script(1) when there is one; what it says is kept in
# log/LOGNAME-cmd.log.
pf_instance_cmd() {
    local conf=$1 log=$IT_DIR/log/$2-cmd.log
    shift 2
    if command -v script >/dev/null 2>&1; then
        script -qec "postfix -c $conf $*" /dev/null >>"$log" 2>&1
    else
        postfix -c "$conf" "$@" >>"$log" 2>&1
    fi
}

pf_cmd() {
    pf_instance_cmd "$PF_DIR" postfix "$@"
}

# pf_start: smtp-sink (keeping what it receives unless SINK_DUMP=no), then
# Postfix; waits until both answer.
pf_start() {
    local dump=
    [ "${SINK_DUMP:-yes}" = no ] || dump="-D $IT_DIR/sink/dump.txt"
    # shellcheck disable=SC2086
    smtp-sink -u nobody $dump "127.0.0.1:$SINK_PORT" 256 >>"$IT_DIR/log/sink.log" 2>&1 &
    SINK_PID=$!
    it_wait_port "$SINK_PORT" 10 || { echo "# smtp-sink did not start"; return 1; }
    pf_cmd check || { echo "# postfix check failed"; return 1; }
    pf_cmd start || { echo "# postfix start failed"; return 1; }
    it_wait_port "$SMTPD_PORT" 20 || { echo "# postfix smtpd does not answer"; return 1; }
}

# pf_queue_size [BASE]: messages still in a queue (incoming, active,
# deferred) of the instance under BASE (default: pf_setup's).
pf_queue_size() {
    local base=${1:-$IT_DIR}
    find "$base/spool/incoming" "$base/spool/active" "$base/spool/deferred" \
        -type f 2>/dev/null | wc -l
}

# pf_instance_stop BASE LOGNAME: stop the instance under BASE and wait for
# its master process.
pf_instance_stop() {
    local master tries=200
    master=$(tr -d ' ' <"$1/spool/pid/master.pid" 2>/dev/null)
    pf_instance_cmd "$1/postfix" "$2" stop
    if [ -n "$master" ]; then
        while it_alive "$master" && [ "$tries" -gt 0 ]; do sleep 0.05; tries=$((tries - 1)); done
        it_alive "$master" && kill -KILL "$master" 2>/dev/null
    fi
}

pf_stop() {
    [ -n "$PF_DIR" ] || return 0
    pf_instance_stop "$IT_DIR" postfix
    PF_DIR=
}

# ---------------------------------------------------------------- SMTP client

# send TAG TO[,TO...] [PORT]: one message through Postfix with swaks; the
# transcript is in $IT_DIR/log/TAG.swaks.  Returns swaks' exit status
# (0 accepted, 23 MAIL refused, 24 every RCPT refused: G13).
send() {
    local tag=$1 to=$2 port=${3:-$SMTPD_PORT}
    swaks --server "127.0.0.1:$port" --from sender@example.org --to "$to" \
          --helo client.test --timeout 30 --header "Subject: $tag" \
          >"$IT_DIR/log/$tag.swaks" 2>&1
}

# transcript_has TAG REGEX: swaks transcript line (extended regex).
transcript_has() {
    grep -qE -- "$2" "$IT_DIR/log/$1.swaks"
}

# delivered ADDR: smtp-sink received a message for ADDR (waits up to 20 s).
delivered() {
    it_wait_for 20 grep -qiF "X-Rcpt-Args: <$1>" "$IT_DIR/sink/dump.txt" 2>/dev/null
}

# not_delivered ADDR: smtp-sink has no message for ADDR.
not_delivered() {
    ! grep -qiF "X-Rcpt-Args: <$1>" "$IT_DIR/sink/dump.txt" 2>/dev/null
}

today() {
    date -u +%Y-%m-%d
}

# it_site_start NAME: milter-suppress of a fleet site on $IT_DIR/NAME.conf,
# logging to $IT_DIR/log/NAME.log; sets PID_NAME and waits for this start's
# "started" line (a restarted site's log has the earlier ones too).
it_site_start() {
    local before
    before=$(grep -c 'milter-suppress: started' "$IT_DIR/log/$1.log" 2>/dev/null)
    "$MILTER" -f -d -c "$IT_DIR/$1.conf" >>"$IT_DIR/log/$1.log" 2>&1 &
    eval "PID_$1=$!"
    IT_PIDS="$IT_PIDS $!"
    it_wait_for 10 eval "[ \$(grep -c 'milter-suppress: started' '$IT_DIR/log/$1.log') -gt ${before:-0} ]"
}
