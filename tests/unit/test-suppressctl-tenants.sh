#!/bin/sh
# test-suppressctl-tenants.sh: suppressctl's --tenant and stats
# --by-tenant against a real store in a temporary directory (issue 12):
# add/show/remove in a tenant's scope beside the global one, list and its
# tenant column, export with the tenant column and --tenant, import of it
# back and import --tenant, stats of one tenant and the per-tenant table,
# and bad tenant names.  Prints "ok - ..." / "not ok - ..." and ends with
# "N passed, M failed"; exits 0 only if everything passed.

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

make_config t 'tenant = "sasl-login"'

# --- add / show / remove in a tenant's scope ---
run t add c@example.com --reason complaint --tenant news-a
expect "add --tenant" 0 "^suppressed c@example\.com for tenant news-a: complaint"
run t show c@example.com --tenant news-a
expect "show --tenant: suppressed in its scope" 0 "^tenant: +news-a" "^status: +suppressed" \
    "^reason: +complaint"
run t show c@example.com --tenant news-b
expect "show for another tenant: not suppressed" 1 "not suppressed"
run t show c@example.com
expect "show without --tenant: not globally suppressed, names the tenant" 1 \
    "not suppressed" "^tenants: +news-a" "tenant: news-a"
run t show c@example.com --json
check "show --json names the tenants" grep -q '"tenants": "news-a"' "$tmp/out"
run t add h@example.com --reason hard-bounce
expect "add without --tenant: global" 0 "^suppressed h@example\.com: hard-bounce"
run t add c@example.com --reason unsubscribe --tenant news-b
expect "a second tenant's suppression of the same address" 0 "for tenant news-b"

# --- list ---
run t list
expect "list: every scope, with the tenant column" 0 "^news-a +c@example\.com +complaint" \
    "^news-b +c@example\.com +unsubscribe" "^- +h@example\.com +hard-bounce"
run t list --tenant news-a
expect "list --tenant: that scope only" 0 "c@example\.com +complaint"
check "list --tenant leaves the others out" sh -c "! grep -q 'h@example\|unsubscribe' '$tmp/out'"
run t list --json
check "list --json carries the tenant" grep -q '"tenant": "news-b"' "$tmp/out"

# --- export / import ---
run t export
cp "$tmp/out" "$tmp/all.csv"
expect "export: a tenant column when the store has tenants" 0 \
    "^address,reason,expires,first_event,last_event,count,source,detail,status,tenant$" \
    "^c@example\.com,complaint,.*,news-a$" "^h@example\.com,hard-bounce,.*,$"
run t export --tenant news-b --json
expect "export --tenant --json" 0 '"tenant": "news-b"'
check "export --tenant: that scope only" sh -c "[ \$(wc -l < '$tmp/out') -eq 1 ]"
make_config t2 'tenant = "sasl-login"'
run t2 import "$tmp/all.csv"
expect "import of the export" 0 "imported 3, skipped 0"
run t2 show c@example.com --tenant news-b
expect "import puts a row in its tenant's scope" 0 "unsubscribe"
run t2 show h@example.com
expect "import puts a row without a tenant in the global scope" 0 "hard-bounce"
printf 'address,reason\nq@example.com,complaint\n' > "$tmp/plain.csv"
run t2 import --tenant news-c "$tmp/plain.csv"
expect "import --tenant" 0 "imported 1"
run t2 show q@example.com --tenant news-c
expect "import --tenant: rows without a tenant go to it" 0 "complaint"
run t2 show q@example.com
expect "... and not to the global scope" 1 "not suppressed"
make_config plain
run plain add p@example.com
run plain export
expect "a store without tenants exports as before" 0 \
    "^address,reason,expires,first_event,last_event,count,source,detail,status$"

# --- stats ---
run t stats --tenant news-a
expect "stats --tenant: its own suppressions" 0 "^tenant: news-a" "^suppressed now: 1" \
    "complaint +1"
run t stats
expect "stats: the global scope, and how many are a tenant's" 0 "^suppressed now: 1" \
    "hard-bounce +1" "^suppressed for one tenant only: 2"
run t stats --by-tenant
expect "stats --by-tenant: a row per tenant" 0 "^TENANT +SUPPRESSED +ACCEPTED +REJECTED" \
    "^news-a +1 +0 +0" "^news-b +1 +0 +0"
run t stats --by-tenant --json
check "stats --by-tenant --json parses" "$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[1]))
names = [t["tenant"] for t in d["tenants"]]
assert names == ["news-a", "news-b"], names
assert d["tenants"][0]["suppressed"] == 1
' "$tmp/out"
run t stats --tenant news-a --by-tenant
expect "--tenant with --by-tenant: EX_USAGE" 64 -- "one or the other"

# --- remove ---
run t remove c@example.com --tenant news-a
expect "remove --tenant" 0 "^unblocked c@example\.com for tenant news-a"
run t remove c@example.com --tenant news-a
expect "remove --tenant again: not suppressed" 1 -- "not suppressed for tenant news-a"
run t show c@example.com --tenant news-b
expect "the other tenant's suppression stays" 0 "unsubscribe"

# --- bad tenant names ---
run t add c@example.com --tenant "two words"
expect "a tenant with a space: EX_DATAERR" 65 -- "--tenant" -- "space"
run t list --tenant ""
expect "an empty tenant: EX_DATAERR" 65 -- "empty tenant"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
