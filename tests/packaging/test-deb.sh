#!/bin/sh
# test-deb.sh: the Debian package, installed as a postmaster would.
#
# Builds the .deb (make deb), checks it with lintian, installs it, starts
# the installed milter with the installed config the way the systemd unit
# does (no systemd runs in CI), configures the system's Postfix with the
# main.cf lines from contrib/postfix/main.cf (Debian's stock, chrooted
# master.cf), adds an address with the installed suppressctl and expects a
# 550 for it; then the same through the policy service (the package turns
# it on; smtpd reaches it as private/milter-suppress-policy, a link
# postinst makes) with contrib's check_policy_service lines instead of the
# milter; then purges the package and checks what is left.
#
# It changes the machine (installs a package, runs the system Postfix on
# 127.0.0.1:25), so it is not part of `make check`: `./quickstart package`
# and CI run it.  It refuses to touch a Postfix that is already configured.
#
# Usage: test-deb.sh BUILD_DIR
set -u

build=$(cd "${1:?usage: test-deb.sh BUILD_DIR}" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/test-deb.XXXXXX)
chmod 0755 "$work"     # smtp-sink (as nobody) writes under it
pass=0
fail=0
milter_pid=
sink_pid=
created_main_cf=no

ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { desc=$1; shift; if "$@" >>"$work/log" 2>&1; then ok "$desc"; else not_ok "$desc"; fi; }

# Wait until a process is gone (zombies count as gone: see mta-test-rig G12).
wait_gone() {
    i=0
    while [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; do
        i=$((i + 1))
        [ $i -gt 150 ] && kill -9 "$1" 2>/dev/null && break
        sleep 0.1
    done
}

cleanup() {
    postfix stop >/dev/null 2>&1
    [ -n "$milter_pid" ] && kill "$milter_pid" 2>/dev/null && wait_gone "$milter_pid"
    [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait_gone "$sink_pid"
    [ "$created_main_cf" = yes ] && rm -f /etc/postfix/main.cf
    dpkg -s milter-suppress >/dev/null 2>&1 && apt-get purge -y -qq milter-suppress >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ "$(id -u)" != 0 ]; then
    echo "SKIP: needs root (installs a package)"; exit 77
fi
if [ -e /etc/postfix/main.cf ]; then
    echo "SKIP: /etc/postfix/main.cf exists; this test configures the system Postfix and will not touch a real one"
    exit 77
fi
if ss -ltn 2>/dev/null | grep -q '127.0.0.1:25 \|\*:25 \|0.0.0.0:25 '; then
    echo "SKIP: something listens on port 25 already"; exit 77
fi

# --- build and inspect ------------------------------------------------------
rm -f "$build"/dist/*.deb
if make -C "$build" deb >"$work/build.log" 2>&1; then ok "make deb"; else
    not_ok "make deb"; tail -40 "$work/build.log"; exit 1
fi
deb=$(ls "$build"/dist/milter-suppress_*.deb | head -1)
echo "# package contents:"
dpkg-deb -c "$deb" | awk '{print "#   " $6}' | grep -v '/$'
lintian --tag-display-limit 0 "$deb" >"$work/lintian.txt" 2>&1
echo "# lintian:"; sed 's/^/#   /' "$work/lintian.txt"
if grep -q '^E:' "$work/lintian.txt"; then not_ok "lintian reports no errors"; else ok "lintian reports no errors"; fi

# --- install ------------------------------------------------------------------
check "apt-get install the package" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb"
check "milter-suppress -n passes on the installed default config" /usr/sbin/milter-suppress -n
for f in /usr/sbin/milter-suppress /usr/sbin/suppress-ingest /usr/bin/suppressctl \
         /etc/milter-suppress/milter-suppress.conf /usr/share/man/man8/milter-suppress.8.gz \
         /usr/share/man/man8/suppressctl.8.gz /usr/share/man/man8/suppress-ingest.8.gz \
         /usr/share/man/man5/milter-suppress.conf.5.gz /lib/systemd/system/milter-suppress.service \
         /lib/systemd/system/milter-suppress-ingest.timer; do
    check "installed $f" test -e "$f"
done
check "conffile is registered" sh -c "dpkg-query -W -f='\${Conffiles}' milter-suppress | grep -q milter-suppress.conf"
check "system user milter-suppress exists" getent passwd milter-suppress
check "postfix is in group milter-suppress" sh -c "id -nG postfix | grep -qw milter-suppress"
check "store directory is 0750 milter-suppress" sh -c \
    "[ \"\$(stat -c '%a %U' /var/lib/milter-suppress)\" = '750 milter-suppress' ]"

# --- start as the unit does: User=milter-suppress, RuntimeDirectory, -f -------
install -d -o milter-suppress -g milter-suppress -m 0750 /run/milter-suppress
setpriv --reuid=milter-suppress --regid=milter-suppress --init-groups \
    sh -c 'umask 0007; exec /usr/sbin/milter-suppress -f' >"$work/milter.log" 2>&1 &
milter_pid=$!
sock=/var/spool/postfix/milter-suppress/milter.sock
i=0; while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
check "installed milter listens on $sock" test -S "$sock"
policy_link=/var/spool/postfix/private/milter-suppress-policy
check "policy socket beside it: /var/spool/postfix/milter-suppress/policy.sock, mode 0660" sh -c \
    "[ \"\$(stat -c '%a %G' /var/spool/postfix/milter-suppress/policy.sock)\" = '660 milter-suppress' ]"
check "postinst linked $policy_link to it, the link owned by postfix" sh -c \
    "[ \"\$(readlink $policy_link)\" = ../milter-suppress/policy.sock ] && [ \"\$(stat -c %U $policy_link)\" = postfix ] && [ -S $policy_link ]"

# --- the system Postfix with the documented main.cf lines ---------------------
install -d -o nobody -g nogroup "$work/sink"
setsid smtp-sink -u nobody -D "$work/sink/dump" 127.0.0.1:2599 64 &
sink_pid=$!
{
    echo "# written by tests/packaging/test-deb.sh; removed at its end"
    echo "inet_interfaces = 127.0.0.1"
    echo "inet_protocols = ipv4"
    echo "mydestination ="
    echo "mynetworks = 127.0.0.0/8"
    echo "relayhost = [127.0.0.1]:2599"
    echo "maillog_file = /var/log/postfix-test-deb.log"
    echo "compatibility_level = 3.6"
    echo "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination"
    # The documented lines, verbatim:
    grep -E '^(smtpd_milters|milter_default_action|milter_protocol) *=' "$top/contrib/postfix/main.cf"
} >/etc/postfix/main.cf
created_main_cf=yes
rm -f /var/log/postfix-test-deb.log
check "postfix check" postfix check
check "postfix start (stock chrooted master.cf)" postfix start

check "installed suppressctl add" suppressctl add blocked@example.com --reason manual
swaks --server 127.0.0.1:25 --from app@example.org --to blocked@example.com --helo client.test \
    >"$work/swaks-blocked" 2>&1
rc=$?
if [ $rc -eq 24 ] && grep -q '<\*\* 550 5\.1\.1' "$work/swaks-blocked"; then
    ok "suppressed address refused with 550 at RCPT"
else
    not_ok "suppressed address refused with 550 at RCPT (swaks exit $rc)"
    tail -5 "$work/swaks-blocked"; tail -20 /var/log/postfix-test-deb.log; cat "$work/milter.log"
fi
swaks --server 127.0.0.1:25 --from app@example.org --to fine@example.com --helo client.test \
    >"$work/swaks-fine" 2>&1
check "another address accepted" test $? -eq 0
# The milter writes rejection records every stats-interval (10 s by default).
i=0; while ! suppressctl show blocked@example.com 2>/dev/null | grep -q rejected && [ $i -lt 30 ]; do
    sleep 1; i=$((i + 1))
done
check "suppressctl show lists the rejection" sh -c "suppressctl show blocked@example.com | grep -q rejected"

# --- the policy door: as smtpd (user postfix) by hand, then through Postfix ----
setpriv --reuid=postfix --regid=postfix --init-groups /usr/bin/python3 \
    "$top/tests/integration/policy-client.py" "$policy_link" recipient:blocked@example.com \
    recipient:fine@example.com >"$work/policy-hand" 2>&1
check "user postfix gets a 550 from the policy socket for the suppressed address, DUNNO for another" \
    sh -c "head -1 '$work/policy-hand' | grep -q '^reply action=550 5.1.1' && sed -n 2p '$work/policy-hand' | grep -qx 'reply action=DUNNO'"
# contrib's policy lines, uncommented, in place of the milter.
{
    grep -v '^smtpd_milters *=' /etc/postfix/main.cf
    echo "smtpd_milters ="
    awk '/^#smtpd_recipient_restrictions =/ { on = 1 } on && !/^#/ { exit } on { sub(/^#/, ""); print }' \
        "$top/contrib/postfix/main.cf"
} >"$work/main.cf.policy"
cp "$work/main.cf.policy" /etc/postfix/main.cf
check "contrib's check_policy_service line is in main.cf" \
    grep -q 'check_policy_service unix:private/milter-suppress-policy' /etc/postfix/main.cf
check "postfix reload (policy service instead of the milter)" postfix reload
sleep 1     # smtpd processes of the old configuration finish their session
swaks --server 127.0.0.1:25 --from app@example.org --to blocked@example.com --helo client.test \
    >"$work/swaks-policy-blocked" 2>&1
rc=$?
if [ $rc -eq 24 ] && grep -q '<\*\* 550 5\.1\.1 .*Recipient address rejected' "$work/swaks-policy-blocked"; then
    ok "policy service: suppressed address refused with 550 at RCPT through the chrooted smtpd"
else
    not_ok "policy service: suppressed address refused with 550 at RCPT (swaks exit $rc)"
    tail -5 "$work/swaks-policy-blocked"; tail -20 /var/log/postfix-test-deb.log; tail -20 "$work/milter.log"
fi
swaks --server 127.0.0.1:25 --from app@example.org --to fine@example.com --helo client.test \
    >"$work/swaks-policy-fine" 2>&1
check "policy service: another address accepted" test $? -eq 0
check "postfix check does not warn about the link in private/" \
    sh -c "! grep -q 'not owned.*milter-suppress-policy' /var/log/postfix-test-deb.log"

postfix stop >/dev/null 2>&1
kill "$milter_pid"; wait_gone "$milter_pid"; milter_pid=
rm -f /etc/postfix/main.cf; created_main_cf=no

# --- purge --------------------------------------------------------------------
check "apt-get purge" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq milter-suppress
for gone in /etc/milter-suppress /var/lib/milter-suppress /var/spool/milter-suppress \
            /var/spool/postfix/milter-suppress /usr/sbin/milter-suppress /usr/bin/suppressctl \
            /var/spool/postfix/private/milter-suppress-policy; do
    check "purge removed $gone" test ! -e "$gone" -a ! -L "$gone"
done
# Debian keeps system users on purge (files they own may remain elsewhere).
check "system user kept, as Debian does" getent passwd milter-suppress
rm -f /var/log/postfix-test-deb.log

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
