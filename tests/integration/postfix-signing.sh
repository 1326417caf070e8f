#!/bin/bash
# shellcheck disable=SC2317  # functions run through check and it_wait_for
# postfix-signing.sh: the signed return path (signing.* in
# milter-suppress.conf(5)) through a real Postfix on loopback, read where
# it matters: in the MAIL FROM that Postfix relays to smtp-sink (the
# X-Mail-Args: line of the sink's dump), and checked with the keys of the
# file the milter made (store-tool retpath, i.e. retpath_verify as
# suppress-ingest runs it).
#
# Checks: the key file is created at start by the milter as its user
# (nobody here), mode 0600; one accepted recipient gets the VERP address
# naming it (also when another recipient of the message was refused),
# several get BATV prvs on the sender with its case kept, and so does a
# single recipient whose VERP address would be too long, or any single
# recipient without signing.bounce-address; the null sender, a sender outside signing.sign-domains and a
# sender already signed are relayed unchanged; suppressctl rotate-key
# (as root, the file stays the milter's) and a SIGHUP make the milter
# sign with the new key while what the old one signed still verifies,
# until a second rotation; signing.enable = false at a reload stops
# signing.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_root
it_require_tools postfix swaks smtp-sink
it_require_built "$MILTER" "$STORE_TOOL" "$SUPPRESSCTL"
it_init postfix-signing

CONF=$IT_DIR/milter.conf
KEYFILE=$IT_DIR/store/signing.key       # the default: signing.key in the store
BOUNCE=bounces@bounce.example.org
# DDD of the tags: days since 1970 (UTC) modulo 1000.  A run across
# midnight UTC fails the checks of DDD, showing the addresses.
DAY=$(printf '%03d' $(( $(date -u +%s) / 86400 % 1000 )))

# signing_conf LINE...: the milter section of lib.sh, with the milter
# running as nobody as in production (milter.user), then a signing
# section with LINEs.
signing_conf() {
    local line
    milter_conf "$CONF" 'user = "nobody"'
    {
        echo "signing {"
        for line in "$@"; do echo "  $line"; done
        echo "}"
    } >>"$CONF"
}

# send_from TAG FROM TO[,TO...]: one message through Postfix (lib.sh's
# send, with the sender given); transcript in log/TAG.swaks.
send_from() {
    swaks --server "127.0.0.1:$SMTPD_PORT" --from "$2" --to "$3" \
          --helo client.test --timeout 30 --header "Subject: $1" \
          >"$IT_DIR/log/$1.swaks" 2>&1
}

# relayed_from TAG: the MAIL FROM address (without <>) with which Postfix
# relayed the message whose Subject is TAG to smtp-sink; fails (after 20 s)
# when it has not arrived.  Every message in the dump starts with its
# X-Mail-Args: line ("<address> SIZE=... BODY=...").
relayed_from() {
    it_wait_for 20 grep -qx "Subject: $1" "$IT_DIR/sink/dump.txt" 2>/dev/null || return 1
    awk -v subject="Subject: $1" '
        /^X-Mail-Args: / { args = substr($0, 14) }
        $0 == subject { print args; exit }
    ' "$IT_DIR/sink/dump.txt" | sed -n 's/^<\([^>]*\)>.*/\1/p'
}

# verify ADDR [KEYFILE]: store-tool's "FORM VERDICT ADDRESS" for ADDR.
verify() {
    "$STORE_TOOL" retpath "${2:-$KEYFILE}" "$BOUNCE" "$1"
}

# relayed TAG REGEX: the relayed MAIL FROM of TAG matches REGEX (whole).
relayed() {
    local got
    got=$(relayed_from "$1") || { echo "#   $1: not relayed to smtp-sink"; return 1; }
    echo "$got" | grep -qxE -- "$2" && return 0
    echo "#   $1: relayed with MAIL FROM <$got>, expected $2"
    return 1
}

# verifies_as ADDR EXPECTED [KEYFILE]: store-tool says EXPECTED of ADDR.
verifies_as() {
    local got
    got=$(verify "$1" "$3")
    [ "$got" = "$2" ] && return 0
    echo "#   <$1>: store-tool says \"$got\", expected \"$2\""
    return 1
}

reloads=0
# reload: SIGHUP, and wait for the milter to say it reloaded.
reload() {
    reloads=$(milter_log_count "configuration reloaded")
    kill -HUP "$MILTER_PID" && it_wait_for 10 reloaded_again
}
reloaded_again() { [ "$(milter_log_count "configuration reloaded")" -gt "$reloads" ]; }

# not COMMAND...: COMMAND fails (for check).
not() { ! "$@"; }

key_ids() { grep -E '^[0-9] [0-9a-f]{64}$' "$KEYFILE" | cut -c1 | tr -d '\n'; }

# The milter runs as nobody: its store and the directory of its socket
# and pid file are nobody's.
chown nobody:nogroup "$IT_DIR/run"
install -d -o nobody -g nogroup -m 0750 "$IT_DIR/store"
# Mail from example.org is signed, from its subdomains and elsewhere not.
signing_conf "bounce-address = \"$BOUNCE\"" 'sign-domains = { "example.org" }'
suppress_add "$CONF" blocked@example.com hard-bounce 7d

pf_setup
check "milter-suppress starts" milter_start "$CONF"
check "postfix and smtp-sink start" pf_start
[ "$IT_FAIL" -eq 0 ] || it_finish
# The socket answers before the keys are read: "started:" comes after.
it_wait_for 10 milter_log_has "started: socket"

# --- the key file
check "key file created at start in the store directory" test -f "$KEYFILE"
check "key file mode 0600, owned by the milter's user (nobody)" \
    test "$(stat -c %a:%U "$KEYFILE")" = 600:nobody
check "key file holds one key, number 1" test "$(key_ids)" = 1

# --- one recipient: VERP naming it
send_from verp sender@example.org ok@example.com
check "one recipient: accepted (swaks exit 0)" test $? -eq 0
check "one recipient: relayed from bounces+ok=example.com+$DAY+1<12 hex>@bounce.example.org" \
    relayed verp "bounces\+ok=example\.com\+$DAY\+1[0-9a-f]{12}@bounce\.example\.org"
VERP_BEFORE=$(relayed_from verp)
check "one recipient: a valid VERP return path naming ok@example.com" \
    verifies_as "$VERP_BEFORE" "verp valid ok@example.com"
check "one recipient: Postfix queued it with the signed sender" \
    grep -qF "from=<$VERP_BEFORE>" "$IT_DIR/log/postfix.log"
check "one recipient: the milter logged the signing" \
    milter_log_has "return path <sender@example.org> signed as <$VERP_BEFORE>"

# --- two recipients: prvs on the sender
send_from prvs sender@example.org one@example.com,two@example.com
check "two recipients: accepted (swaks exit 0)" test $? -eq 0
check "two recipients: relayed from prvs=1$DAY<6 hex>=sender@example.org" \
    relayed prvs "prvs=1${DAY}[0-9a-f]{6}=sender@example\.org"
PRVS_BEFORE=$(relayed_from prvs)
check "two recipients: a valid prvs return path for sender@example.org" \
    verifies_as "$PRVS_BEFORE" "prvs valid sender@example.org"
both_delivered() { delivered one@example.com && delivered two@example.com; }
check "two recipients: both delivered" both_delivered

send_from prvs-case Mixed.Sender@Example.ORG one@example.com,two@example.com
check "mixed-case sender: the prvs tail keeps the case the client sent" \
    relayed prvs-case "prvs=1${DAY}[0-9a-f]{6}=Mixed\.Sender@Example\.ORG"
check "mixed-case sender: valid, for the sender lower-cased" \
    verifies_as "$(relayed_from prvs-case)" "prvs valid mixed.sender@example.org"
check "mixed-case sender: still valid when a remote MTA lower-cases it" \
    verifies_as "$(relayed_from prvs-case | tr '[:upper:]' '[:lower:]')" "prvs valid mixed.sender@example.org"

# --- one recipient refused, one accepted: VERP names the accepted one
send_from one-left sender@example.org blocked@example.com,ok3@example.com
check "one of two suppressed: message accepted (swaks exit 0)" test $? -eq 0
check "one of two suppressed: blocked@ refused with 550" \
    transcript_has one-left '^<\*\* 550 5\.1\.1 Recipient address suppressed \(hard-bounce, expires '
check "one of two suppressed: VERP naming the accepted ok3@example.com" \
    relayed one-left "bounces\+ok3=example\.com\+$DAY\+1[0-9a-f]{12}@bounce\.example\.org"
check "one of two suppressed: it verifies for ok3@example.com" \
    verifies_as "$(relayed_from one-left)" "verp valid ok3@example.com"
check "one of two suppressed: blocked@ not delivered" not_delivered blocked@example.com

# --- one recipient whose VERP address would pass 64 characters: prvs
LONG=$(printf 'r%.0s' $(seq 1 50))@example.com
send_from long-rcpt sender@example.org "$LONG"
check "one recipient too long for a VERP local part: prvs instead" \
    relayed long-rcpt "prvs=1${DAY}[0-9a-f]{6}=sender@example\.org"

# --- never rewritten
send_from null '<>' ok4@example.com
check "null sender: accepted (swaks exit 0)" test $? -eq 0
check "null sender: relayed with the null sender" relayed null ''
send_from other-domain sender@example.net ok5@example.com
check "sender domain not in sign-domains: relayed unchanged" \
    relayed other-domain 'sender@example\.net'
send_from subdomain sender@mail.example.org ok6@example.com
check "subdomain of a sign-domains entry without the leading dot: unchanged" \
    relayed subdomain 'sender@mail\.example\.org'
send_from signed-prvs prvs=1123abcdef=sender@example.org ok7@example.com
check "sender already in prvs form: relayed unchanged" \
    relayed signed-prvs 'prvs=1123abcdef=sender@example\.org'
send_from signed-verp bounces+x=example.com+123+1abcdefabcdef@bounce.example.org ok8@example.com
check "sender already a VERP address of the bounce address: relayed unchanged" \
    relayed signed-verp 'bounces\+x=example\.com\+123\+1abcdefabcdef@bounce\.example\.org'

# --- rotation: suppressctl rotate-key, then SIGHUP
"$SUPPRESSCTL" -c "$CONF" rotate-key >"$IT_DIR/log/rotate.out" 2>&1
check "suppressctl rotate-key: exit 0" test $? -eq 0
check "rotate-key names the new key 2 and the file" \
    grep -qx "new signing key 2 in $KEYFILE (key 1 kept to verify)" "$IT_DIR/log/rotate.out"
check "rotate-key tells to reload the milter" \
    grep -q '^reload milter-suppress (systemctl reload milter-suppress, or SIGHUP)' "$IT_DIR/log/rotate.out"
check "after rotate-key (run as root): keys 2 then 1, mode 0600, still nobody's" \
    test "$(key_ids)" = 21 -a "$(stat -c %a:%U "$KEYFILE")" = 600:nobody
check "SIGHUP: the milter reloads" reload
check "the milter (as nobody) read the rotated file: no key error at the reload" \
    not milter_log_has "signing key file"
send_from verp-rotated sender@example.org ok@example.com
check "after the reload: the VERP tag carries key 2" \
    relayed verp-rotated "bounces\+ok=example\.com\+$DAY\+2[0-9a-f]{12}@bounce\.example\.org"
check "after the reload: it verifies with the rotated file" \
    verifies_as "$(relayed_from verp-rotated)" "verp valid ok@example.com"
send_from prvs-rotated sender@example.org one@example.com,two@example.com
check "after the reload: the prvs tag carries key 2" \
    relayed prvs-rotated "prvs=2${DAY}[0-9a-f]{6}=sender@example\.org"
check "after the reload: the prvs return path verifies with the rotated file" \
    verifies_as "$(relayed_from prvs-rotated)" "prvs valid sender@example.org"
check "VERP signed before the rotation still verifies (key 1)" \
    verifies_as "$VERP_BEFORE" "verp valid ok@example.com"
check "prvs signed before the rotation still verifies (key 1)" \
    verifies_as "$PRVS_BEFORE" "prvs valid sender@example.org"
# A second rotation drops key 1: what it signed no longer verifies.
"$SUPPRESSCTL" -c "$CONF" rotate-key --force >>"$IT_DIR/log/rotate.out" 2>&1
check "second rotate-key: keys 3 then 2" test "$(key_ids)" = 32
check "after a second rotation, what key 1 signed is an unknown key" \
    verifies_as "$VERP_BEFORE" "verp unknown key ok@example.com"
check "after a second rotation, what key 2 signed still verifies" \
    verifies_as "$(relayed_from verp-rotated)" "verp valid ok@example.com"

# --- no signing.bounce-address (at a reload): prvs for one recipient too
signing_conf 'sign-domains = { "example.org" }'
check "SIGHUP without signing.bounce-address: the milter reloads" reload
send_from no-bounce sender@example.org ok@example.com
check "no bounce-address: one recipient gets prvs, with key 3 (the second rotation, read at this reload)" \
    relayed no-bounce "prvs=3${DAY}[0-9a-f]{6}=sender@example\.org"

# --- signing.enable = false at a reload
signing_conf "bounce-address = \"$BOUNCE\"" 'sign-domains = { "example.org" }' 'enable = false'
check "SIGHUP with signing.enable = false: the milter reloads" reload
send_from disabled sender@example.org ok@example.com
check "signing off: one recipient relayed with the sender unchanged" \
    relayed disabled 'sender@example\.org'
send_from disabled2 sender@example.org one@example.com,two@example.com
check "signing off: two recipients relayed with the sender unchanged" \
    relayed disabled2 'sender@example\.org'

check "milter logged no error or warning" not grep -E "error|warn" "$IT_DIR/log/milter.log"
check "postfix logged no warning about the milter" \
    not grep -E "warning: .*milter" "$IT_DIR/log/postfix.log"
milter_stop
check "milter stops on SIGTERM (exit 0)" test $? -eq 0

it_finish
