#!/bin/bash
# demo.sh: milter-suppress at work on this machine, on loopback only
# (run by `./quickstart`; needs root for Postfix).
#
#  1. a private Postfix instance (own directories and ports, nothing under
#     /etc/postfix touched) with milter-suppress at RCPT TO, relaying to
#     an smtp-sink;
#  2. suppress-ingest fed with real bounces from the test corpus: two hard
#     bounces, a soft bounce (mailbox full) and a complaint report; this
#     relay never sent the mail they are about, so by default they are not
#     believed and go to the quarantine, from where the demo replays them
#     with --trust any, as a postmaster would after reading them;
#  3. the suppression list, one address's timeline with the remote
#     server's response;
#  4. live SMTP: a suppressed address refused with 550 at RCPT TO, another
#     accepted and delivered, then the rejected attempt in the stats.
# Everything it starts is stopped when it ends.
#
# Usage: demo.sh BUILD_DIR
set -u

top_builddir=$(cd "${1:?usage: demo.sh BUILD_DIR}" && pwd)
top_srcdir=$(cd "$(dirname "$0")/.." && pwd)
export top_builddir top_srcdir
# shellcheck source=../tests/integration/lib.sh
. "$top_srcdir/tests/integration/lib.sh"

INGEST=$top_builddir/classifier/suppress-ingest
corpus=$top_srcdir/tests/corpus/sisimai/eml

step() { printf '\n\033[1m--- %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "demo: $*" >&2; exit 1; }

it_require_root
it_require_tools postfix smtp-sink swaks
it_init demo
conf=$IT_DIR/milter-suppress.conf

step "1. A private Postfix on 127.0.0.1 with milter-suppress at RCPT TO"
milter_conf "$conf" 'reject-text = "Recipient address suppressed (%{reason}, expires %{expiry})"'
cat >>"$conf" <<EOF
ingest {
  quarantine = "$IT_DIR/quarantine"
}
EOF
milter_start "$conf" || die "the milter did not start (log: $IT_DIR/log/milter.log)"
pf_setup
pf_start || { it_show_log; die "Postfix did not start"; }
echo "Postfix smtpd on 127.0.0.1:$SMTPD_PORT, milter socket $IT_DIR/run/milter.sock,"
echo "store $IT_DIR/store, relaying to smtp-sink on 127.0.0.1:$SINK_PORT."

step "2. suppress-ingest reads a bounce mailbox (Maildir) of real bounces"
mkdir -p "$IT_DIR/bounces/new" "$IT_DIR/bounces/cur" "$IT_DIR/bounces/tmp"
for sample in lhost-gmail-01 lhost-qmail-01 lhost-postfix-45 arf-17; do
    cp "$corpus/$sample.eml" "$IT_DIR/bounces/new/$sample"
    echo "  $sample: $(grep -m1 -i '^Subject:' "$corpus/$sample.eml" | cut -c1-70)"
done
echo "What the classifier makes of them (dry run, nothing changed):"
"$INGEST" -c "$conf" --dry-run --json --maildir "$IT_DIR/bounces" |
    "$PYTHON" -c 'import json, sys
for line in sys.stdin:
    d = json.loads(line)
    print("  %-26s %-10s %-12s %s" % (d.get("recipient"), d.get("class"), d.get("reason"),
                                      (d.get("diagnostic") or "")[:60]))'
echo "This relay never sent the mail they are about: no signed return path, no"
echo "message in the ledger vouches for them, so by default (ingest.trust ="
echo "sent-or-signed) they suppress nobody and wait in the quarantine, as a forged"
echo "bounce would:"
run "$INGEST" -c "$conf" -v --maildir "$IT_DIR/bounces" 2>&1 | sed 's/^/  /'
echo "Messages left in the Maildir: $(find "$IT_DIR/bounces" -type f | wc -l);" \
     "in the quarantine: $(find "$IT_DIR/quarantine" -type f ! -name '*.reason' | wc -l)"
echo "A postmaster who has read them and believes them replays them (--trust any):"
for message in $(find "$IT_DIR/quarantine" -type f ! -name '*.reason' | sort); do
    run "$INGEST" -c "$conf" --trust any "$message" 2>&1 | sed 's/^/  /'
done

step "3. The suppression list"
run "$SUPPRESSCTL" -c "$conf" list
echo
run "$SUPPRESSCTL" -c "$conf" show userunknown@example.jp

step "4. Live SMTP through Postfix"
echo "A suppressed address (hard bounce above):"
send blocked userunknown@example.jp
sed -n '/RCPT TO/,/QUIT/p' "$IT_DIR/log/blocked.swaks" | grep -v QUIT | sed 's/^/  /'
echo "A soft-bounced address is not suppressed, and a fresh one is not either:"
send allowed kijitora@example.net,someone-new@example.org
grep -E 'RCPT TO|^<-  250 2\.1\.5|queued as' "$IT_DIR/log/allowed.swaks" | sed 's/^/  /'
if delivered someone-new@example.org; then
    echo "  delivered to smtp-sink: someone-new@example.org"
fi
echo "The complaint (ARF) suppresses for good:"
send complaint kijitora@example.com
grep -E '^<\*\* 550' "$IT_DIR/log/complaint.swaks" | sed 's/^/  /'

sleep 2     # the milter writes rejection records every stats-interval (1 s here)
step "Rejected attempts and accepted recipients, per day"
run "$SUPPRESSCTL" -c "$conf" stats --days 1
echo
echo "Postfix's log says: $(grep -m1 'milter-reject' "$IT_DIR/log/postfix.log" | sed 's/.*milter-reject: //' | cut -c1-110)"
step "Done: everything started by the demo is being stopped"
