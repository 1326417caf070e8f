#!/bin/bash
# postfix-store-error.sh: what Postfix clients get when the store cannot be
# read (milter.on-store-error), and that the milter recovers by itself.
#
# The failure is real: the store directory is configured below a path that
# is a plain file, as when a volume is not mounted and something else sits
# where the store should be.  store_open() fails ("cannot create store
# directory ...: Not a directory"); the milter starts anyway and every
# lookup fails.  The action is switched with SIGHUP (tempfail, accept,
# reject); then the file is replaced by a directory and the milter opens
# the store within its retry interval and refuses suppressed recipients
# again.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_root
it_require_tools postfix swaks smtp-sink
it_require_built "$MILTER" "$STORE_TOOL"
it_init postfix-store-error

CONF=$IT_DIR/milter.conf
MOUNT=$IT_DIR/volume
echo "not a directory" >"$MOUNT"
export MILTER_STORE=$MOUNT/store
milter_conf "$CONF" 'on-store-error = "tempfail"'

pf_setup
check "milter-suppress starts although the store cannot be opened" milter_start "$CONF"
check "postfix and smtp-sink start" pf_start
[ "$IT_FAIL" -eq 0 ] || it_finish
check "the milter logged why the store is unavailable" \
    milter_log_has "cannot open the store, recipients get on-store-error = tempfail"

# --- tempfail: 451, the client retries later
send tempfail someone@example.com
check "tempfail: RCPT refused for now (swaks exit 24)" test $? -eq 24
check "tempfail: 451 4.3.0 to the client" \
    transcript_has tempfail '^<\*\* 451 4\.3\.0 Suppression list temporarily unavailable, try again later$'
check "tempfail: logged with the reason" \
    milter_log_has "store lookup of <someone@example.com> failed, answering 451 (on-store-error = tempfail): the store is not open"
check "tempfail: nothing delivered" not_delivered someone@example.com

# reload_with ACTION: switch on-store-error with SIGHUP and wait for it.
reloads_more_than() {
    [ "$(milter_log_count "configuration reloaded")" -gt "$1" ]
}
reload_with() {
    local n
    n=$(milter_log_count "configuration reloaded")
    milter_conf "$CONF" "on-store-error = \"$1\""
    kill -HUP "$MILTER_PID"
    it_wait_for 10 reloads_more_than "$n"
}

# --- accept: mail flows without the list
check "reload with on-store-error = accept" reload_with accept
send accept someone@example.com
check "accept: recipient accepted (swaks exit 0)" test $? -eq 0
check "accept: delivered" delivered someone@example.com
check "accept: logged" milter_log_has "store lookup of <someone@example.com> failed, accepting (on-store-error = accept)"

# --- reject: fail closed with the configured refusal
check "reload with on-store-error = reject" reload_with reject
send reject other@example.com
check "reject: 550 5.1.1 with reason store-error" \
    transcript_has reject '^<\*\* 550 5\.1\.1 Recipient address suppressed \(store-error, expires never\)$'
check "reject: logged" milter_log_has "store lookup of <other@example.com> failed, rejecting (on-store-error = reject)"

# --- the volume comes back: the milter opens the store by itself
rm -f "$MOUNT"
mkdir "$MOUNT"
store_opened() { milter_log_has "store $MOUNT/store is open now"; }
check "the milter opens the store once it can (retry)" it_wait_for 15 store_opened
suppress_add "$CONF" blocked@example.com hard-bounce 7d
send recovered blocked@example.com
check "after recovery: suppressed recipient refused with 550" \
    transcript_has recovered '^<\*\* 550 5\.1\.1 Recipient address suppressed \(hard-bounce, expires '
send recovered-ok fine@example.com
check "after recovery: other recipient delivered" delivered fine@example.com

milter_stop
check "SIGTERM: milter exits 0" test $? -eq 0

it_finish
