#!/bin/bash
# postfix-nonsmtp.sh: milter-suppress as a non_smtpd_milter, for mail
# submitted with sendmail(1) (postdrop -> maildrop -> pickup -> cleanup).
# Postfix cannot refuse a recipient there (it would hold the whole message
# in the maildrop for ever), so a suppressed recipient is removed at end
# of message: the others are delivered, nothing stays in the queue, the
# removal is in the timeline.  When every recipient is suppressed nothing
# is delivered, bounced or kept.  sendmail -t (PHP's mail()) is covered,
# dry-run only logs, the on-store-error actions do what the man page says
# for non-SMTP mail, and the SMTP path still refuses with 550 at RCPT.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

it_require_root
it_require_tools postfix sendmail postkick swaks smtp-sink
it_require_built "$MILTER" "$STORE_TOOL"
it_init postfix-nonsmtp

CONF=$IT_DIR/milter.conf
STORE=$IT_DIR/store
milter_conf "$CONF"
suppress_add "$CONF" blocked@example.com manual never
suppress_add "$CONF" bounced@example.com hard-bounce 7d
check "store seeded" \
    test "$("$STORE_TOOL" "$STORE" lookup blocked@example.com)" = "suppressed manual" \
    -a "$("$STORE_TOOL" "$STORE" lookup bounced@example.com)" = "suppressed hard-bounce"

pf_setup
# The usual OpenDKIM-style recipe: the same milter for non-SMTP mail.
postconf -c "$PF_DIR" -e "non_smtpd_milters = unix:$IT_DIR/run/milter.sock"
# XCLIENT lets an SMTP session claim 127.0.0.1 without a port (below).
postconf -c "$PF_DIR" -e "smtpd_authorized_xclient_hosts = 127.0.0.0/8"
check "milter-suppress starts" milter_start "$CONF"
check "postfix and smtp-sink start" pf_start
[ "$IT_FAIL" -eq 0 ] || it_finish

PFLOG=$IT_DIR/log/postfix.log

# submit TAG [sendmail options] -- RCPT...: one message through sendmail(1),
# with a Message-ID naming TAG so its queue id can be found in the log.
# The header To: lists TO_HEADER (for -t) or the envelope recipients.
submit() {
    local tag=$1 opts=()
    shift
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do opts+=("$1"); shift; done
    shift
    printf 'From: app@example.org\nTo: %s\nSubject: %s\nMessage-ID: <%s@nonsmtp.test>\n\nbody of %s\n' \
        "${TO_HEADER:-$*}" "$tag" "$tag" "$tag" |
        sendmail -C "$PF_DIR" -f app@example.org "${opts[@]}" "$@" \
            >"$IT_DIR/log/$tag.sendmail" 2>&1
}

queue_id_of() {
    sed -n "s/^.* postfix\/cleanup\[[0-9]*\]: \([0-9A-F]*\): message-id=<$1@nonsmtp\.test>$/\1/p" \
        "$PFLOG" | tail -n 1
}

# qmgr is done with the message of TAG (delivered or dropped).
removed_from_queue() {
    local qid
    qid=$(queue_id_of "$1")
    [ -n "$qid" ] && grep -q "postfix/qmgr\[[0-9]*\]: $qid: removed$" "$PFLOG"
}

# Files in every queue a message can wait in, maildrop and hold included.
queue_files() {
    find "$IT_DIR/spool/maildrop" "$IT_DIR/spool/incoming" "$IT_DIR/spool/active" \
        "$IT_DIR/spool/deferred" "$IT_DIR/spool/hold" -type f 2>/dev/null | wc -l
}
queue_empty() { [ "$(queue_files)" -eq 0 ]; }
maildrop_holds_one() {
    [ "$(find "$IT_DIR/spool/maildrop" -type f | wc -l)" -eq 1 ]
}

postfix_log_lacks() { ! grep -qF -- "$1" "$PFLOG"; }

rejected_events() {
    "$STORE_TOOL" "$STORE" events "$1" | grep '^rejected|'
}
# event_count ADDR N: N rejected events for ADDR (after the 1 s flush).
event_count_is() { [ "$(rejected_events "$1" | wc -l)" -eq "$2" ]; }

# --- mixed recipients: the suppressed one removed, the other delivered
submit mixed -- ok@example.com blocked@example.com
check "mixed: sendmail accepted the message (exit 0)" test $? -eq 0
check "mixed: ok@ delivered" delivered ok@example.com
check "mixed: qmgr finished with the message" it_wait_for 20 removed_from_queue mixed
check "mixed: blocked@ not delivered" not_delivered blocked@example.com
check "mixed: nothing left in maildrop, incoming, active, deferred or hold" \
    it_wait_for 10 queue_empty
check "mixed: no milter configuration error in the Postfix log" \
    postfix_log_lacks "milter configuration error"
check "mixed: Postfix did not try again later" postfix_log_lacks "try again later"
check "mixed: the milter logged the removal at RCPT" \
    milter_log_has "remove at end of message (non-SMTP submission): from=<app@example.org> to=<blocked@example.com> reason=manual client=[127.0.0.1]"
check "mixed: the milter logged the removal with the queue id" \
    milter_log_has "$(queue_id_of mixed): removed recipient <blocked@example.com>"
mixed_event() {
    rejected_events blocked@example.com |
        grep -qE '^rejected\|app@example\.org\|127\.0\.0\.1, non-SMTP submission, recipient removed at end of message\|manual\|5\.1\.1\|550 5\.1\.1 Recipient address suppressed \(manual, expires never\)$'
}
check "mixed: the timeline of blocked@ has the rejection, noting the removal" \
    it_wait_for 10 mixed_event

# --- every recipient suppressed: nothing delivered, bounced or kept
submit all -- blocked@example.com bounced@example.com
check "all suppressed: sendmail accepted the message (exit 0)" test $? -eq 0
check "all suppressed: qmgr dropped the message" it_wait_for 20 removed_from_queue all
check "all suppressed: nothing in any queue" it_wait_for 10 queue_empty
check "all suppressed: no delivery attempt logged" \
    postfix_log_lacks "$(queue_id_of all): to=<"
check "all suppressed: bounced@ not delivered" not_delivered bounced@example.com
check "all suppressed: no bounce to the sender" not_delivered app@example.org
check "all suppressed: the milter says the message goes nowhere" \
    milter_log_has "$(queue_id_of all): all 2 recipients removed"
check "all suppressed: rejection of bounced@ recorded" \
    it_wait_for 10 event_count_is bounced@example.com 1

# --- sendmail -t -i (PHP's mail()): recipients from the header
TO_HEADER='ok2@example.com, Bounced@Example.COM' submit tflag -t -i --
check "sendmail -t: accepted (exit 0)" test $? -eq 0
check "sendmail -t: ok2@ delivered" delivered ok2@example.com
check "sendmail -t: qmgr finished with the message" it_wait_for 20 removed_from_queue tflag
check "sendmail -t: Bounced@Example.COM not delivered" not_delivered Bounced@Example.COM
check "sendmail -t: removed as the MTA spelled it" \
    milter_log_has "$(queue_id_of tflag): removed recipient <Bounced@Example.COM>"
check "sendmail -t: nothing in any queue" it_wait_for 10 queue_empty

# --- the SMTP path is unchanged: 550 at RCPT TO
send smtp-blocked blocked@example.com
check "SMTP: suppressed recipient refused (swaks exit 24)" test $? -eq 24
check "SMTP: 550 5.1.1 at RCPT" \
    transcript_has smtp-blocked '^<\*\* 550 5\.1\.1 Recipient address suppressed \(manual, expires never\)$'
check "SMTP: logged as a reject, not a removal" \
    milter_log_has "reject: from=<sender@example.org> to=<blocked@example.com> reason=manual client=[127.0.0.1]"
send smtp-mixed smtp-ok@example.com,bounced@example.com
check "SMTP mixed: message accepted (swaks exit 0)" test $? -eq 0
check "SMTP mixed: bounced@ gets 550" \
    transcript_has smtp-mixed '^<\*\* 550 5\.1\.1 Recipient address suppressed \(hard-bounce, expires '
check "SMTP mixed: smtp-ok@ delivered" delivered smtp-ok@example.com
# An SMTP session that looks like cleanup(8) at connect (127.0.0.1, port
# 0 through XCLIENT) is still refused at RCPT: smtpd sends {rcpt_mailer}.
swaks --server "127.0.0.1:$SMTPD_PORT" --from sender@example.org --to blocked@example.com \
      --xclient "ADDR=127.0.0.1 PORT=[UNAVAILABLE] NAME=localhost" --helo client.test \
      --timeout 30 >"$IT_DIR/log/xclient.swaks" 2>&1
check "SMTP via XCLIENT without a port: refused (swaks exit 24)" test $? -eq 24
check "SMTP via XCLIENT without a port: 550 5.1.1 at RCPT" \
    transcript_has xclient '^<\*\* 550 5\.1\.1 Recipient address suppressed \(manual'
smtp_event() {
    rejected_events blocked@example.com | grep -q '^rejected|sender@example\.org|127\.0\.0\.1|manual|'
}
check "SMTP: the rejection records the client only" it_wait_for 10 smtp_event
counter_is() { [ "$("$STORE_TOOL" "$STORE" counter "$(today)" "$1")" = "$2" ]; }
# Refused or removed: blocked@ (mixed), blocked@ + bounced@ (all),
# Bounced@ (-t), blocked@, bounced@ and blocked@ (XCLIENT) over SMTP.
check "rejected counter of today = 7" it_wait_for 10 counter_is rejected 7
check "accepted counter of today = 3 (ok@, ok2@, smtp-ok@)" \
    it_wait_for 10 counter_is accepted 3

# reload_with LINE...: rewrite the milter section, SIGHUP, wait for it.
reloads_more_than() { [ "$(milter_log_count "configuration reloaded")" -gt "$1" ]; }
reload_with() {
    local n
    n=$(milter_log_count "configuration reloaded")
    milter_conf "$CONF" "$@"
    kill -HUP "$MILTER_PID"
    it_wait_for 10 reloads_more_than "$n"
}

# --- dry-run: logged, nothing removed
check "reload with dry-run = true" reload_with 'dry-run = true'
submit dry-run -- dry-ok@example.com blocked@example.com
check "dry-run: accepted (exit 0)" test $? -eq 0
check "dry-run: blocked@ delivered" delivered blocked@example.com
check "dry-run: dry-ok@ delivered" delivered dry-ok@example.com
check "dry-run: logged as would reject" \
    milter_log_has "would reject (dry-run): from=<app@example.org> to=<blocked@example.com> reason=manual client=[127.0.0.1]"
DRY_QID=$(queue_id_of dry-run)
check "dry-run: nothing removed" test -n "$DRY_QID" -a "$(milter_log_count "$DRY_QID: removed")" -eq 0
check "dry-run: nothing in any queue" it_wait_for 10 queue_empty
milter_stop
check "SIGTERM: milter exits 0" test $? -eq 0

# --- milter.remove-non-smtp = false: the milter says what that costs here
milter_conf "$CONF" "remove-non-smtp = false"
check "milter restarted with remove-non-smtp = false" milter_start "$CONF"
suppress_add "$CONF" held@example.com manual never
submit no-removal -- held@example.com
check "no removal: accepted by sendmail (exit 0)" test $? -eq 0
cant_reject() { grep -qF "can't reject recipient in non-smtpd(8) submission" "$PFLOG"; }
check "no removal: Postfix cannot refuse the recipient (its configuration error)" \
    it_wait_for 20 cant_reject
check "no removal: the milter warns, naming milter.remove-non-smtp" \
    it_wait_for 10 milter_log_has "which Postfix turns into deferring the whole message: milter.remove-non-smtp is false"
check "no removal: not delivered" not_delivered held@example.com
# What the postmaster would do: delete the held message.
rm -f "$IT_DIR"/spool/maildrop/*
milter_stop

# --- the store cannot be read (a plain file where its volume should be)
echo "not a directory" >"$IT_DIR/volume"
export MILTER_STORE=$IT_DIR/volume/store
milter_conf "$CONF" 'on-store-error = "reject"'
check "milter restarted on a store that does not open" milter_start "$CONF"

# reject: the recipients are removed, the message is not held
submit store-reject -- lost@example.com
check "store error, reject: accepted by sendmail (exit 0)" test $? -eq 0
check "store error, reject: qmgr dropped the message" \
    it_wait_for 20 removed_from_queue store-reject
check "store error, reject: not delivered" not_delivered lost@example.com
check "store error, reject: logged as a removal" \
    milter_log_has "store lookup of <lost@example.com> failed, removing it at end of message (on-store-error = reject, non-SMTP submission)"
check "store error, reject: nothing in any queue" it_wait_for 10 queue_empty

# tempfail: the message waits in the maildrop until the store answers
check "reload with on-store-error = tempfail" reload_with 'on-store-error = "tempfail"'
submit store-tempfail -- later@example.com
check "store error, tempfail: accepted by sendmail (exit 0)" test $? -eq 0
tried_later() {
    grep -q 'postfix/cleanup\[[0-9]*\]: warning: [0-9A-F]*: message not accepted, try again later' "$PFLOG"
}
check "store error, tempfail: Postfix will try again later" it_wait_for 20 tried_later
check "store error, tempfail: the message waits in the maildrop" maildrop_holds_one
check "store error, tempfail: not delivered yet" not_delivered later@example.com
rm -f "$IT_DIR/volume"
mkdir -m 0755 "$IT_DIR/volume"
# The milter opens the store within its retry interval (5 s); pickup finds
# the message again at its next scan, woken each second here instead of
# waiting for its 60 s timer.
held_message_delivered() {
    local tries=30
    while [ "$tries" -gt 0 ]; do
        postkick -c "$PF_DIR" public pickup W 2>/dev/null
        grep -qiF "X-Rcpt-Args: <later@example.com>" "$IT_DIR/sink/dump.txt" 2>/dev/null &&
            return 0
        sleep 1
        tries=$((tries - 1))
    done
    return 1
}
check "store back: the held message is delivered" held_message_delivered
check "store back: nothing in any queue" it_wait_for 10 queue_empty

milter_stop
check "SIGTERM: milter exits 0" test $? -eq 0
it_finish
