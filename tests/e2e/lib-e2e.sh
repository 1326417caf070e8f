# shellcheck shell=bash
# tests/e2e/lib-e2e.sh: what the bounce-loop test needs on top of
# tests/integration/lib.sh (sourced first): a second private Postfix
# instance that plays the remote MX, the relay instance's bounce transport
# built from the documented contrib/postfix files, and readers of
# suppressctl's JSON.
#
# The remote MX is built from lib.sh's instance pieces (pf_main_cf,
# pf_master_cf...) in $IT_DIR/mx; lib.sh stops only its own instance at
# exit, so the MX has its own stop hook (e2e_cleanup, installed by e2e_init).
#
# The test sets CONF (its milter-suppress.conf), QUARANTINE and INGEST_COPY
# (the suppress-ingest the pipe runs) before using the functions below.
# shellcheck disable=SC2153,SC2154  # CONF etc.: the test's; top_*: lib.sh's

# shellcheck disable=SC2034  # used by the test
INGEST=$top_builddir/classifier/suppress-ingest
CONTRIB=$top_srcdir/contrib/postfix

MX_DIR=                 # the remote MX instance's directory, set by mx_setup
MX_PORT=

# e2e_init: lib.sh's exit trap runs after ours, so that the remote MX is
# stopped and its log shown before lib.sh removes the temp directory.
e2e_init() {
    trap e2e_cleanup EXIT
}

e2e_cleanup() {
    local rc=$?
    trap - EXIT
    if [ "$IT_FAIL" -gt 0 ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; }; then
        it_show_log "$IT_DIR/log/mx.log" "$IT_DIR/log/mx-cmd.log"
        e2e_show_quarantine
    fi
    mx_stop
    (exit "$rc")
    it_cleanup
}

# ------------------------------------------------------------ the remote MX

# mx_setup DOMAIN KNOWN_USER SOFT_USER: a private Postfix on $MX_PORT that
# is the MX of DOMAIN.  KNOWN_USER is accepted (and discarded); SOFT_USER
# gets "452 4.2.2 Mailbox full" at RCPT; any other user of DOMAIN gets
# Postfix's own "550 5.1.1 <user>: Recipient address rejected: User unknown
# in virtual mailbox table".  No milter: this is somebody else's server.
mx_setup() {
    local domain=$1 known=$2 soft=$3
    MX_DIR=$IT_DIR/mx
    MX_PORT=$(it_free_port)
    pf_instance_dirs "$MX_DIR"
    printf '%s OK\n%s OK\n' "$known" "$soft" >"$MX_DIR/postfix/mailboxes"
    printf '%s 452 4.2.2 Mailbox full\n' "$soft" >"$MX_DIR/postfix/access"
    {
        pf_main_cf "$MX_DIR" mx "mx.$domain"
        cat <<EOF
virtual_mailbox_domains = $domain
virtual_mailbox_maps = texthash:$MX_DIR/postfix/mailboxes
virtual_transport = discard:accepted by the remote MX
smtpd_recipient_restrictions = check_recipient_access texthash:$MX_DIR/postfix/access
smtpd_milters =
smtpd_banner = \$myhostname ESMTP remote-mx
EOF
    } >"$MX_DIR/postfix/main.cf"
    {
        echo "127.0.0.1:$MX_PORT inet n - n - - smtpd"
        pf_master_cf
    } >"$MX_DIR/postfix/master.cf"
}

mx_start() {
    pf_instance_cmd "$MX_DIR/postfix" mx check || { echo "# remote MX: postfix check failed"; return 1; }
    pf_instance_cmd "$MX_DIR/postfix" mx start || { echo "# remote MX: postfix start failed"; return 1; }
    it_wait_port "$MX_PORT" 20 || { echo "# remote MX: smtpd does not answer"; return 1; }
}

mx_stop() {
    [ -n "$MX_DIR" ] || return 0
    pf_instance_stop "$MX_DIR" mx
    MX_DIR=
}

mx_queue_size() {
    pf_queue_size "$MX_DIR"
}

# ------------------------------------------- the relay's documented transport

# contrib_entry FILE: the lines of a contrib file that are not comments
# (master.cf continuation lines keep their leading white space).
contrib_entry() {
    grep -v -e '^#' -e '^[[:space:]]*$' "$1"
}

# relay_pipe_entry USER CONF: the suppress-ingest entry of
# contrib/postfix/master.cf with only the program's path (plus -c CONF, the
# test's configuration file instead of the installed one) and the user
# substituted.  Prints the lines; fails when the documented entry no longer
# has the expected user= and argv= (the test would silently test something
# else).
relay_pipe_entry() {
    local user=$1 conf=$2 entry
    entry=$(contrib_entry "$CONTRIB/master.cf")
    case $entry in
    *"user=milter-suppress"*"argv=/usr/sbin/suppress-ingest "*) ;;
    *) echo "# contrib/postfix/master.cf: no user=milter-suppress / argv=/usr/sbin/suppress-ingest" >&2
       return 1 ;;
    esac
    printf '%s\n' "$entry" | sed -e "s|user=milter-suppress|user=$user|" \
        -e "s|argv=/usr/sbin/suppress-ingest |argv=$INGEST_COPY -c $conf |"
}

# relay_transport_file BOUNCE_ADDRESS FILE: contrib/postfix/transport with
# the documented bounce address replaced by BOUNCE_ADDRESS.
relay_transport_file() {
    local entry
    entry=$(contrib_entry "$CONTRIB/transport")
    case $entry in
    "bounces@relay.example.org"[[:space:]]*) ;;
    *) echo "# contrib/postfix/transport: no bounces@relay.example.org entry" >&2
       return 1 ;;
    esac
    printf '%s\n' "$entry" | sed -e "s|^bounces@relay\.example\.org|$1|" >"$2"
}

# relay_transport_regexp BOUNCE_ADDRESS FILE: contrib/postfix/transport.regexp
# (the signed forms of the bounce address) for BOUNCE_ADDRESS.
relay_transport_regexp() {
    local entry local_part domain
    entry=$(contrib_entry "$CONTRIB/transport.regexp")
    case $entry in
    *'bounces(\+.*)?@relay\.example\.org$/'*) ;;
    *) echo "# contrib/postfix/transport.regexp: no entry for bounces@relay.example.org" >&2
       return 1 ;;
    esac
    local_part=${1%@*}
    domain=$(printf '%s' "${1#*@}" | sed 's/\./\\\\./g')    # "\\." in a sed replacement
    printf '%s\n' "$entry" | sed -e "s|bounces(|$local_part(|" \
        -e "s|@relay\\\\.example\\\\.org|@$domain|" >"$2"
}

# relay_setup CONF [POSTCONF_SETTING...]: the relay instance R (lib.sh's,
# with the milter) plus the documented pipe transport of contrib/postfix
# (master.cf, transport, transport.regexp, recipient_delimiter) running
# $INGEST_COPY as nobody with CONF, for the bounce address $APP; remote.test
# goes to the remote MX (mx_setup first), no relayhost.  Sets SERVICE and
# checks that the contrib files still say what the tests rely on.
relay_setup() {
    local conf=$1 pipe_entry
    shift
    SERVICE=$(relay_pipe_service)
    mapfile -t pipe_entry < <(relay_pipe_entry nobody "$conf")
    check "contrib/postfix/master.cf has the documented suppress-ingest pipe entry" \
        test "${#pipe_entry[@]}" -ge 2 -a "$SERVICE" = suppress-ingest
    printf '# %s\n' "${pipe_entry[@]}"
    pf_setup "${pipe_entry[@]}"
    relay_transport_file "$APP" "$PF_DIR/transport"
    check "contrib/postfix/transport routes the bounce address to that service" \
        grep -qE "^${APP}[[:space:]]+$SERVICE:\$" "$PF_DIR/transport"
    relay_transport_regexp "$APP" "$PF_DIR/transport.regexp"
    check "contrib/postfix/transport.regexp routes the signed forms of the bounce address" \
        test -s "$PF_DIR/transport.regexp"
    echo "remote.test smtp:[127.0.0.1]:$MX_PORT" >>"$PF_DIR/transport"
    postmap -c "$PF_DIR" "hash:$PF_DIR/transport"
    postconf -c "$PF_DIR" -e \
        'relayhost =' \
        "transport_maps = hash:$PF_DIR/transport, regexp:$PF_DIR/transport.regexp" \
        "$(contrib_entry "$CONTRIB/main.cf" | grep '^recipient_delimiter')" \
        "$@"
}

# Service name of the documented pipe transport ("suppress-ingest").
relay_pipe_service() {
    contrib_entry "$CONTRIB/master.cf" | awk 'NR == 1 { print $1 }'
}

# ------------------------------------------------------------ SMTP client

# e2e_send TAG FROM TO [SWAKS_ARG...]: one message into the relay with
# swaks; the transcript is $IT_DIR/log/TAG.swaks.  Returns swaks' status
# (0 accepted, 24 every RCPT refused: G13).
e2e_send() {
    local tag=$1 from=$2 to=$3
    shift 3
    swaks --server "127.0.0.1:$SMTPD_PORT" --from "$from" --to "$to" \
          --helo app.bounces.test --timeout 30 --header "Subject: $tag" "$@" \
          >"$IT_DIR/log/$tag.swaks" 2>&1
}

# ------------------------------------------------------------ the relay's log

# relay_log_has ERE: a line of the relay instance's log.
relay_log_has() {
    grep -qE -- "$1" "$IT_DIR/log/postfix.log"
}

relay_log_count() {
    grep -cE -- "$1" "$IT_DIR/log/postfix.log"
}

# ------------------------------------------------------------ store (JSON)

# show_json ADDR: `suppressctl show ADDR --json` into log/show-ADDR.json
# (exit status 1 means "not suppressed", still a valid answer).
show_json() {
    "$SUPPRESSCTL" -c "$CONF" show "$1" --json >"$IT_DIR/log/show-$1.json" 2>>"$IT_DIR/log/suppressctl.err"
    [ -s "$IT_DIR/log/show-$1.json" ]
}

# show_is ADDR PYTHON_EXPR: the expression (may span lines) is true for d,
# the parsed `suppressctl show ADDR --json`; events(name) lists the
# timeline events of that type, seconds_until(timestamp) is how far in the
# future a "2026-11-29T17:12:35Z" is.
show_is() {
    show_json "$1" || return 1
    "$PYTHON" - "$IT_DIR/log/show-$1.json" "$2" <<'EOF'
import calendar, json, sys, time
with open(sys.argv[1]) as f:
    d = json.load(f)
def events(name):
    return [e for e in d.get("timeline", []) if e.get("event") == name]
def seconds_until(ts):
    return calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")) - time.time()
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)
EOF
}

# Wait up to SECONDS until show_is ADDR EXPR holds.
wait_show() {
    it_wait_for "$1" show_is "$2" "$3"
}

# stats_is PYTHON_EXPR: the expression is true for d, `suppressctl stats --json`.
stats_is() {
    "$SUPPRESSCTL" -c "$CONF" stats --json >"$IT_DIR/log/stats.json" 2>>"$IT_DIR/log/suppressctl.err" \
        || return 1
    "$PYTHON" - "$IT_DIR/log/stats.json" "$1" <<'EOF'
import json, sys
with open(sys.argv[1]) as f:
    d = json.load(f)
sys.exit(0 if eval("(" + sys.argv[2] + ")") else 1)
EOF
}

# ------------------------------------------------------------ quarantine

quarantine_count() {
    find "$QUARANTINE" -type f 2>/dev/null | wc -l
}

e2e_show_quarantine() {
    local f
    [ -n "${QUARANTINE:-}" ] || return 0
    for f in "$QUARANTINE"/*.reason; do
        [ -f "$f" ] || continue
        echo "# ---- quarantined: $f"
        sed 's/^/# /' "$f"
    done
}

# quarantine_messages: the messages in the quarantine (quarantine_count
# counts their .reason files too).
quarantine_messages() {
    find "$QUARANTINE" -type f ! -name '*.reason' ! -name '.*' 2>/dev/null | wc -l
}

# quarantined_for TEXT: the quarantined message whose .reason file has the
# fixed string TEXT; prints its path.
quarantined_for() {
    local f
    for f in "$QUARANTINE"/*.reason; do
        if [ -f "${f%.reason}" ] && grep -qF -- "$1" "$f"; then
            echo "${f%.reason}"
            return 0
        fi
    done
    return 1
}

# ------------------------------------------------------------ the MX's log

# mx_log_has ERE: a line of the remote MX instance's log.
mx_log_has() {
    grep -qE -- "$1" "$IT_DIR/log/mx.log"
}
