#!/bin/sh
# test-suppressctl.sh: suppressctl against a real store in a temporary
# directory: add/show/remove and their exit codes, invalid addresses,
# expired entries, list filters and JSON, CSV and JSON lines import with
# bad rows, export/import round trips, stats from seeded counters, purge,
# rotate-key on the signing key file, and configuration errors.  Prints "ok - ..." / "not ok - ..." and ends
# with "N passed, M failed"; exits 0 only if everything passed.

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"

CTL=$top_builddir/suppressctl/suppressctl
SEED=$top_builddir/tests/unit/ctl_seed
DATA=$srcdir/unit/data/ctl
PYTHON=/usr/bin/python3

for prog in "$CTL" "$SEED"; do
    if [ ! -x "$prog" ]; then
        echo "not built: $prog" >&2
        exit 99
    fi
done
if [ ! -x "$PYTHON" ]; then
    echo "SKIP: $PYTHON is needed to check JSON output"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-suppressctl.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

passed=0
failed=0

ok() {
    passed=$((passed + 1))
    echo "ok - $1"
}

not_ok() {
    failed=$((failed + 1))
    echo "not ok - $1"
    echo "#   exit status $rc; stdout:"
    sed 's/^/#     /' "$tmp/out"
    echo "#   stderr:"
    sed 's/^/#     /' "$tmp/err"
}

# make_config NAME [extra lines]: a config whose store is $tmp/NAME.store
make_config() {
    name=$1
    shift
    {
        echo "store = \"$tmp/$name.store\""
        for line in "$@"; do
            echo "$line"
        done
    } > "$tmp/$name.conf"
}

# run CONF ARGS...: run suppressctl, keep stdout, stderr and the exit status
run() {
    conf=$1
    shift
    "$CTL" -c "$tmp/$conf.conf" "$@" > "$tmp/out" 2> "$tmp/err"
    rc=$?
}

# expect DESCRIPTION STATUS [grep -E patterns for stdout, then -- and for stderr]
expect() {
    desc=$1
    want=$2
    shift 2
    good=yes
    [ "$rc" -eq "$want" ] || good=no
    file=$tmp/out
    for pattern in "$@"; do
        if [ "$pattern" = "--" ]; then
            file=$tmp/err
            continue
        fi
        grep -Eq -- "$pattern" "$file" || { good=no; echo "#   missing: $pattern"; }
    done
    if [ $good = yes ]; then ok "$desc"; else not_ok "$desc"; fi
}

# each_line_json FILE: every line of FILE is one JSON object
each_line_json() {
    "$PYTHON" -c '
import json, sys
n = 0
for line in open(sys.argv[1]):
    obj = json.loads(line)
    assert isinstance(obj, dict), line
    n += 1
sys.exit(0 if n > 0 else 1)
' "$1"
}

check() {
    desc=$1
    shift
    if "$@"; then ok "$desc"; else rc=$?; not_ok "$desc"; fi
}

now=$(date -u +%s)
today=$(date -u +%Y-%m-%d)

# --- configuration and usage ---
make_config main "policy {" "  timeline-max-events = 50" "}"

run main -V
expect "-V prints the version" 0 "^suppressctl \(milter-suppress\) [0-9]"
run main
expect "no command: EX_USAGE" 64 -- "no command"
run main frobnicate
expect "unknown command: EX_USAGE" 64 -- "unknown command \"frobnicate\""
run main add a@example.com --colour red
expect "unknown option: EX_USAGE" 64 -- "unknown option --colour"
run main add a@example.com --reason sorry
expect "unknown reason: EX_USAGE" 64 -- "unknown reason \"sorry\""
run main add a@example.com --ttl soon
expect "bad --ttl: EX_DATAERR naming it" 65 -- "soon"

printf 'store = "%s"\npolicy {\n  manual-ttl = "7d"\n  bogus-key = 1\n}\n' "$tmp/x.store" > "$tmp/bad.conf"
run bad list
expect "unknown config key: EX_CONFIG with file:line" 78 -- "bad\.conf:4" -- "bogus-key"
printf 'store = "%s"\npolicy {\n  manual-ttl = "whenever"\n}\n' "$tmp/x.store" > "$tmp/bad.conf"
run bad list
expect "bad config value: EX_CONFIG with file:line and key" 78 -- "bad\.conf:3" -- "manual-ttl"
"$CTL" -c "$tmp/missing.conf" list > "$tmp/out" 2> "$tmp/err"
rc=$?
expect "missing -c file: EX_CONFIG naming it" 78 -- "missing\.conf"

# --- read commands on a store that does not exist yet ---
run main show a@example.com
expect "show without a store: EX_NOINPUT" 66 -- "store .*main\.store does not exist"
check "a read command does not create the store" test ! -e "$tmp/main.store"

# --- add / show / remove ---
run main add a@example.com
expect "add: suppressed, never expires" 0 "suppressed a@example.com: manual, expires never"
run main add '<B@Example.COM>' --reason hard-bounce --ttl 7d --note "ticket 1"
expect "add normalizes the address and takes reason, ttl, note" 0 \
    "suppressed b@example.com: hard-bounce, expires $(date -u -d "@$((now + 7 * 86400))" +%Y-%m-%d)"
run main show b@example.com
expect "show of a suppressed address: exit 0 with its fields" 0 \
    "^status: +suppressed" "^reason: +hard-bounce" "^detail: +ticket 1" \
    "add +hard-bounce .* ticket 1$"
run main add b@example.com --reason complaint
expect "add of a suppressed address says what it was" 0 \
    "b@example.com was already suppressed \(hard-bounce, expires .*\); now complaint, expires never"
run main show b@example.com --json
expect "show --json exits 0" 0
check "show --json is one JSON object with the timeline" "$PYTHON" -c '
import json, sys
o = json.load(open(sys.argv[1]))
assert o["suppressed"] is True and o["reason"] == "complaint" and o["count"] == 2, o
assert [e["event"] for e in o["timeline"]] == ["add", "add"], o
assert o["timeline"][0]["detail"] == "ticket 1"
' "$tmp/out"
run main remove b@example.com --note "customer fixed it"
expect "remove: unblocked" 0 "unblocked b@example.com \(was complaint"
run main show b@example.com
expect "show after remove: exit 1, absent, unblock in the timeline" 1 \
    "not suppressed \(not in the suppression list\)" "unblock +complaint .* customer fixed it$"
run main remove b@example.com
expect "remove of an address not suppressed: exit 1 with a message" 1 -- "b@example.com is not suppressed"
run main unblock nobody@example.com
expect "unblock (alias) of an unknown address: exit 1" 1 -- "nobody@example.com is not suppressed"
run main show nobody@example.com
expect "show of an unknown address: exit 1" 1 "not in the suppression list" "\(no events\)"

for bad in 'a@@b' '<>' 'foo' 'a b@example.com'; do
    run main add "$bad"
    expect "add \"$bad\": EX_DATAERR naming it" 65 -- "\"$bad\""
done
run main show 'a@@b'
expect "show of an invalid address: EX_DATAERR" 65 -- '"a@@b"'
run main remove -- 'foo'
expect "remove of an invalid address: EX_DATAERR" 65 -- '"foo"'
run main add c@example.com --note "$(printf '%070d' 0)"
expect "a note too long for the store: EX_DATAERR" 65 -- "at most 63"

# --- a bounce as the ingest records it: show prints the full response ---
response='550 5.1.1 <bounced@example.net>: Recipient address rejected: User unknown in virtual mailbox table'
"$SEED" "$tmp/main.store" bounce bounced@example.net 5.1.1 "$response"
run main show bounced@example.net
expect "show prints the last remote response and the timeline's" 0 \
    "^status code: +5\.1\.1" "^source: +suppress-ingest" \
    "^    $response\$" "hard-bounce +userunknown +5\.1\.1" "^      $response\$"

# --- expired entries ---
printf 'address,expires,note\nold@example.com,%s,expired an hour ago\n' "$((now - 3600))" > "$tmp/old.csv"
run main import "$tmp/old.csv"
expect "import of an entry that has expired" 0 "imported 1, skipped 0"
run main show old@example.com
expect "show of an expired entry says expired, exit 1" 1 \
    "not suppressed \(expired at $(date -u -d "@$((now - 3600))" +%Y-%m-%dT%H:%M:%SZ)\)"
run main remove old@example.com
expect "remove of an expired entry: exit 1, says expired" 1 -- "not suppressed \(manual expired at"
run main list
expect "list leaves expired entries out" 0 "^a@example.com "
check "list has no expired entry" sh -c "! grep -q old@example.com '$tmp/out'"
run main list --all
expect "list --all shows them marked" 0 "^old@example.com +manual +[0-9TZ:-]+ \(expired\)"

# --- list filters and JSON ---
run main add hb@example.com --reason hard-bounce
run main list --reason hard-bounce
expect "list --reason shows only that reason" 0 "^hb@example.com +hard-bounce" "^bounced@example.net +hard-bounce"
check "list --reason hides other reasons" sh -c "! grep -q '^a@example.com' '$tmp/out'"
run main list --json
expect "list --json exits 0" 0
check "list --json is one JSON object per line" each_line_json "$tmp/out"
check "list --json has the fields" "$PYTHON" -c '
import json, sys
rows = {r["address"]: r for r in map(json.loads, open(sys.argv[1]))}
assert rows["hb@example.com"]["reason"] == "hard-bounce", rows
assert rows["hb@example.com"]["expires"].endswith("Z"), rows
assert rows["a@example.com"]["expires"] is None, rows
assert "old@example.com" not in rows
' "$tmp/out"

# --- import: CSV with bad rows ---
make_config imp
run imp import "$DATA/bad-rows.csv"
expect "CSV import with bad rows: EX_DATAERR, counts" 65 "imported 3, skipped 7" \
    -- 'bad-rows\.csv:3: address "a@@b"' \
    -- 'bad-rows\.csv:4: address "two@example.com": unknown reason "bogus"' \
    -- 'bad-rows\.csv:5: address "three@example.com": expires: time "2026-02-30"' \
    -- 'bad-rows\.csv:6: 2 fields, the header has 4' \
    -- 'bad-rows\.csv:7: .*quote' \
    -- 'bad-rows\.csv:11: .*"<>"' \
    -- 'bad-rows\.csv:12: address "foo"'
check "CSV import reports each bad row once" test "$(grep -c 'bad-rows\.csv:' "$tmp/err")" -eq 7
run imp list
expect "CSV import imported the good rows" 0 \
    "^five@example.com +complaint +never" "^four@example.com +unsubscribe +never" \
    "^one@example.com +hard-bounce +2030-01-01T00:00:00Z"
check "CSV import: exactly the good rows" test "$(wc -l < "$tmp/out")" -eq 3
run imp show four@example.com
expect "a quoted multi-line note is kept (shown without the line break)" 0 "^detail: +multi\?+line, note"

# --- import: JSON lines, from standard input ---
"$CTL" -c "$tmp/imp.conf" import - < "$DATA/rows.jsonl" > "$tmp/out" 2> "$tmp/err"
rc=$?
expect "JSON lines import from stdin with bad lines" 65 "imported 3, skipped 4" \
    -- 'stdin:4: unknown key "colour"' -- 'stdin:5: column' \
    -- 'stdin:7: address "j6@example.com": both ttl and expires' -- 'stdin:8: no address'
run imp list --json
check "JSON lines import: values arrived" "$PYTHON" -c '
import json, sys
rows = {r["address"]: r for r in map(json.loads, open(sys.argv[1]))}
assert rows["j1@example.com"]["reason"] == "complaint" and rows["j1@example.com"]["detail"] == "from json"
assert rows["j2@example.com"]["count"] == 3 and rows["j2@example.com"]["expires"] is None
assert rows["j5@example.com"]["detail"] == "caf\u00e9" and rows["j5@example.com"]["expires"]
assert "j3@example.com" not in rows and "j6@example.com" not in rows
' "$tmp/out"
run imp import "$tmp/no-such.csv"
expect "import of a missing file: EX_NOINPUT naming it" 66 -- "no-such\.csv"
printf 'address,colour\nx@example.com,red\n' > "$tmp/badhdr.csv"
run imp import "$tmp/badhdr.csv"
expect "unknown CSV column: EX_DATAERR, nothing imported" 65 -- 'badhdr\.csv:1: unknown column "colour"'

# --- export / import round trips ---
run main export
expect "export exits 0" 0 "^address,reason,expires,first_event,last_event,count,source,detail,status$"
cp "$tmp/out" "$tmp/export.csv"
make_config copy
run copy import "$tmp/export.csv"
expect "import of an export" 0 "imported"
"$CTL" -c "$tmp/main.conf" list > "$tmp/list.main" 2>&1
"$CTL" -c "$tmp/copy.conf" list > "$tmp/list.copy" 2>&1
check "CSV export -> import gives the same list" cmp -s "$tmp/list.main" "$tmp/list.copy"
"$CTL" -c "$tmp/copy.conf" export > "$tmp/export2.csv" 2>&1
check "CSV export of the copy is identical" cmp -s "$tmp/export.csv" "$tmp/export2.csv"
run main export --json
check "export --json is JSON lines" each_line_json "$tmp/out"
make_config copyjson
"$CTL" -c "$tmp/copyjson.conf" import - < "$tmp/out" > "$tmp/out2" 2> "$tmp/err"
rc=$?
expect "import of a JSON export" 0
"$CTL" -c "$tmp/copyjson.conf" list > "$tmp/list.copyjson" 2>&1
check "JSON export -> import gives the same list" cmp -s "$tmp/list.main" "$tmp/list.copyjson"

# --- a larger import, over several transactions ---
make_config big
"$PYTHON" -c '
print("address,reason,ttl")
for i in range(2500):
    print("user%d@d%d.example.com,%s,%s" % (i, i % 17, ("manual", "hard-bounce")[i % 2], ("never", "30d")[i % 2]))
' > "$tmp/big.csv"
run big import "$tmp/big.csv"
expect "import of 2500 rows" 0 "imported 2500, skipped 0"
run big list --reason hard-bounce
check "all 2500 rows are there" test "$(wc -l < "$tmp/out")" -eq 1250

# --- stats ---
make_config stats
yesterday=$(date -u -d "@$((now - 86400))" +%Y-%m-%d)
"$SEED" "$tmp/stats.store" counter "$today" accepted 100
"$SEED" "$tmp/stats.store" counter "$today" rejected 7
"$SEED" "$tmp/stats.store" counter "$today" bounce.hard 4
"$SEED" "$tmp/stats.store" counter "$today" bounce.soft 3
"$SEED" "$tmp/stats.store" counter "$yesterday" accepted 1000
"$SEED" "$tmp/stats.store" counter "$yesterday" bounce.hard 2
"$SEED" "$tmp/stats.store" counter "$yesterday" bounce.complaint 1
"$SEED" "$tmp/stats.store" counter 2000-01-01 accepted 5
for a in h1 h2; do "$CTL" -c "$tmp/stats.conf" add $a@example.com --reason hard-bounce > /dev/null; done
"$CTL" -c "$tmp/stats.conf" add u1@example.com --reason unsubscribe > /dev/null
run stats stats
expect "stats: suppressed by reason, daily figures, rate, warning" 0 \
    "^suppressed now: 3$" "^  hard-bounce +2$" "^  unsubscribe +1$" "^  complaint +0$" \
    "^$today +100 +7 +4 +3 +0 +7\.00% \*$" "^$yesterday +1000 +0 +2 +0 +1 +0\.20%$" \
    "^total +1100 +7 +6 +3 +1 +0\.82%$" "^warning: bounce rate above 5% on 1 of the last 14 days"
run stats stats --json --days 2
expect "stats --json exits 0" 0
check "stats --json has the figures" "$PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["suppressed"]["total"] == 3 and s["suppressed"]["hard-bounce"] == 2, s
days = {d["day"]: d for d in s["days"]}
assert len(days) == 2, s
t = days[sys.argv[2]]
assert t["accepted"] == 100 and t["rejected"] == 7 and t["bounces"]["hard"] == 4, t
assert abs(t["bounce_rate"] - 0.07) < 1e-9, t
assert s["total"]["accepted"] == 1100 and s["warning"] is False, s
' "$tmp/out" "$today"
"$SEED" "$tmp/stats.store" counter "$yesterday" bounce.soft 100
run stats stats
expect "stats: warning when the period's bounce rate is above 5%" 0 \
    "^warning: bounce rate 9\.91% over the last 14 days is above 5%"
run stats stats --days 0
expect "stats --days 0: EX_USAGE" 64 -- "--days"

# --- purge ---
run main purge
expect "purge removes the expired entry" 0 "^purged 1 expired suppressions"
run main list --all
check "the expired entry is gone" sh -c "! grep -q old@example.com '$tmp/out'"
run main show old@example.com
expect "its timeline records the expiry" 1 "expired +manual .* purge"
run main purge
expect "a second purge finds nothing" 0 "^purged 0 expired suppressions"

# --- rotate-key: the signing key file (written here as the milter would:
# a comment line, then "ID HEX", the first line signs) ---
make_config keys "signing {" "  key-file = \"$tmp/keys/signing.key\"" "}"
mkdir "$tmp/keys"
KEYFILE=$tmp/keys/signing.key
secret_a=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
run keys rotate-key
expect "rotate-key without a key file: EX_NOINPUT, says the milter makes it" 66 \
    -- "no signing key file at $KEYFILE yet: milter-suppress creates it when it starts; nothing to rotate"
check "rotate-key does not create the key file" test ! -e "$KEYFILE"
run keys rotate-key extra
expect "rotate-key with an argument: EX_USAGE" 64 -- 'unexpected argument "extra"'

key_ids() { grep -E '^[0-9] [0-9a-f]{64}$' "$KEYFILE" | cut -c1 | tr -d '\n'; }
printf '# milter-suppress return-path signing keys: the first signs.\n4 %s\n' "$secret_a" > "$KEYFILE"
chmod 0600 "$KEYFILE"
chown nobody "$KEYFILE" 2>/dev/null
owner_before=$(stat -c %U "$KEYFILE")
run keys rotate-key
expect "rotate-key: new key 5 named with the file, then the reload advice" 0 \
    "^new signing key 5 in $KEYFILE \(key 4 kept to verify\)$" \
    "^reload milter-suppress \(systemctl reload milter-suppress, or SIGHUP\) so that it signs with key 5; mail signed with key 4 keeps verifying until the next rotation$"
check "after rotate-key: two keys, the new one (5) first, the old one (4) second" \
    test "$(key_ids)" = 54
check "after rotate-key: the old key's secret is kept unchanged" grep -qx "4 $secret_a" "$KEYFILE"
check "after rotate-key: mode still 0600" test "$(stat -c %a "$KEYFILE")" = 600
check "after rotate-key: owner kept ($owner_before)" test "$(stat -c %U "$KEYFILE")" = "$owner_before"
check "after rotate-key: no temporary file left" test ! -e "$KEYFILE.new"
secret_5=$(sed -n 's/^5 //p' "$KEYFILE")
run keys rotate-key
expect "second rotate-key within signing.validity: refused (EX_TEMPFAIL), says why" 75 \
    -- "rotating now drops the previous key" "use --force"
check "the refused rotation left the keys alone" test "$(key_ids)" = 54
run keys rotate-key --force
expect "second rotate-key with --force: key 6" 0 "^new signing key 6 in .*\(key 5 kept to verify\)$"
check "second rotate-key: still two keys, 6 then 5; the oldest (4) dropped" test "$(key_ids)" = 65
check "second rotate-key: key 5 kept with its secret" grep -qx "5 $secret_5" "$KEYFILE"
check "second rotate-key: mode still 0600" test "$(stat -c %a "$KEYFILE")" = 600
printf '# milter-suppress return-path signing keys: the first signs.\n9 %s\n' "$secret_a" > "$KEYFILE"
run keys rotate-key
expect "rotate-key after key 9: key 0 (the number wraps)" 0 "^new signing key 0 in .*\(key 9 kept to verify\)$"
printf '9 not-a-key\n' > "$KEYFILE"
run keys rotate-key
expect "rotate-key on a damaged key file: EX_CONFIG naming file and line, file left alone" 78 \
    -- "signing key file $KEYFILE:1"
check "the damaged key file is left as it was" grep -qx '9 not-a-key' "$KEYFILE"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
