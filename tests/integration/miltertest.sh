#!/bin/bash
# miltertest.sh: per-recipient verdicts of milter-suppress over the milter
# protocol, driven by miltertest (verdicts.lua), and what the rejections
# record: sender and client address per connection, in the timeline; and
# what it negotiates with signing and the ledger off (negotiate-lean.lua):
# no connect and no MAIL, their facts taken from the RCPT macros.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_tools miltertest
it_require_built "$MILTER" "$STORE_TOOL"
it_init miltertest

# run_script SCRIPT LOG DESC: a miltertest script against the milter, its
# "ok - " / "not ok - " lines counted as checks, and a check that it ran to
# the end.
run_script() {
    local script=$1 log=$IT_DIR/log/$2 rc line
    miltertest -D "SOCK=unix:$IT_DIR/run/milter.sock" \
        -s "$top_srcdir/tests/integration/$script" >"$log" 2>&1
    rc=$?
    while read -r line; do
        case $line in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) notok "${line#not ok - }" ;;
        esac
    done <"$log"
    check "$3 ran to the end (exit 0)" test "$rc" -eq 0
    if [ "$rc" -ne 0 ]; then it_show_log "$log"; fi
}

CONF=$IT_DIR/milter.conf
STORE=$IT_DIR/store
milter_conf "$CONF"
"$STORE_TOOL" "$STORE" put blocked@example.com hard-bounce +604800
"$STORE_TOOL" "$STORE" put complained@example.com complaint 0
"$STORE_TOOL" "$STORE" put expired@example.com hard-bounce -1
check "milter-suppress starts" milter_start "$CONF"
[ "$IT_FAIL" -eq 0 ] || it_finish

run_script verdicts.lua miltertest.log "miltertest script"

events() { "$STORE_TOOL" "$STORE" events blocked@example.com | grep '^rejected|'; }
three_events() { [ "$(events | wc -l)" -eq 3 ]; }
check "three rejections of blocked@ recorded (after the 1 s flush)" it_wait_for 10 three_events
check "rejection records the sender and the client address of the connection" \
    test "$(events | head -n 1 | cut -d'|' -f2,3)" = "sender@example.org|192.0.2.7"
check "the second message's rejection records its own sender" \
    test "$(events | tail -n 1 | cut -d'|' -f2,3)" = "other@example.org|192.0.2.7"
counter_is() { [ "$("$STORE_TOOL" "$STORE" counter "$(today)" "$1")" = "$2" ]; }
check "the rejected counter counts the 4 refusals" it_wait_for 10 counter_is rejected 4
check "the accepted counter counts the 4 others (the non-address too)" \
    it_wait_for 10 counter_is accepted 4

milter_stop
check "SIGTERM: milter exits 0" test $? -eq 0

# --- signing and the ledger off: fewer steps and actions negotiated
milter_conf "$IT_DIR/lean.conf"
printf 'signing {\n  enable = false\n}\nledger {\n  enable = false\n}\n' >>"$IT_DIR/lean.conf"
check "milter-suppress starts with signing and the ledger off" milter_start "$IT_DIR/lean.conf"
run_script negotiate-lean.lua miltertest-lean.log "lean miltertest script"
milter_stop
# Without connect and MAIL, the record still names both, from the macros
# (the IPv6 address without the "IPv6:" the MTAs put before it).
check "lean: the rejection records the sender and client of the RCPT macros" \
    test "$(events | tail -n 2 | head -n 1 | cut -d'|' -f2,3)" = "lean@example.org|2001:db8::7"
check "lean: the next message's rejection records its own sender" \
    test "$(events | tail -n 1 | cut -d'|' -f2,3)" = "next@example.org|2001:db8::7"

# --- milter.remove-non-smtp = false too: no action but the macro list
milter_conf "$IT_DIR/bare.conf" "remove-non-smtp = false"
printf 'signing {\n  enable = false\n}\nledger {\n  enable = false\n}\n' >>"$IT_DIR/bare.conf"
check "milter-suppress starts with remove-non-smtp = false" milter_start "$IT_DIR/bare.conf"
run_script negotiate-no-removal.lua miltertest-bare.log "bare miltertest script"
milter_stop
it_finish
