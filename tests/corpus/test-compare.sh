#!/bin/sh
# test-compare.sh: tests of compare.py itself on hand-made labels and
# hand-made suppress-ingest output (tests/corpus/data), so that the corpus
# test can fail: perfect output passes the floors, each kind of error
# lowers its own figure and fails them, exceptions leave rows out, bad
# input files are refused.
here="${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/corpus"
data="$here/data"
python=/usr/bin/python3
[ -x "$python" ] || { echo "SKIP: $python is missing"; exit 77; }

failures=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

compare() {
    "$python" "$here/compare.py" --labels "$data/labels.tsv" "$@" a.eml b.eml c.eml d.eml
}

# expect CODE DESCRIPTION -- ARGS: run compare, check its exit code
expect() {
    want=$1; what=$2; shift 3
    compare "$@" > "$tmp/out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL: $what: exit $got, expected $want"
        sed 's/^/    /' "$tmp/out"
        failures=$((failures + 1))
    else
        echo "ok: $what"
    fi
}

# expect_figure NAME VALUE: the JSON figures of the last run with --json
expect_figure() {
    got=$("$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%d/%d" % (d["ours"][sys.argv[2]]["count"], d["ours"][sys.argv[2]]["total"]))' "$tmp/out" "$1" 2>&1)
    if [ "$got" != "$2" ]; then
        echo "FAIL: figure $1 is $got, expected $2"
        failures=$((failures + 1))
    else
        echo "ok: figure $1 = $2"
    fi
}

expect 0 "perfect output passes perfect floors" -- --input "$data/good.json" --floors "$data/floors-perfect"
expect 0 "recipients matched by address, not position" -- --input "$data/good.json" --json
expect_figure recipient 5/5
expect_figure reason 5/5
expect_figure hard 2/2
expect_figure temphard 0/2
expect_figure complaint 1/1

expect 1 "errors fail the floors" -- --input "$data/bad.json" --floors "$data/floors-perfect"
expect 0 "figures of the bad output" -- --input "$data/bad.json" --json
expect_figure recipient 3/5
expect_figure reason 2/5
expect_figure hard 1/2
expect_figure temphard 1/2
expect_figure complaint 0/1

expect 0 "an exception leaves its row out" -- --input "$data/bad.json" --exceptions "$data/exceptions.tsv" --json
expect_figure reason 2/4
expect_figure hard 1/2

# expect_half HALF NAME VALUE: a figure of one half of the last --json run
expect_half() {
    got=$("$python" -c 'import json,sys; d=json.load(open(sys.argv[1])); print("%d/%d" % (d[sys.argv[2]][sys.argv[3]]["count"], d[sys.argv[2]][sys.argv[3]]["total"]))' "$tmp/out" "$1" "$2" 2>&1)
    if [ "$got" != "$3" ]; then
        echo "FAIL: $1 half's figure $2 is $got, expected $3"
        failures=$((failures + 1))
    else
        echo "ok: $1 half's figure $2 = $3"
    fi
}

expect 0 "halves: each half has its own figures" -- --input "$data/bad.json" --halves "$data/halves" --json
expect_half development recipient 2/2
expect_half development temphard 1/1
expect_half check recipient 1/3
expect_half check complaint 0/1
expect_figure recipient 3/5
expect 2 "halves: an unknown half is refused" -- --input "$data/good.json" --halves "$data/halves-bad"
grep -v '^d' "$data/halves" > "$tmp/halves"
expect 2 "halves: a file in no half is refused" -- --input "$data/good.json" --halves "$tmp/halves"

expect 2 "an exception without justification is refused" -- --input "$data/good.json" --exceptions "$data/exceptions-bad.tsv"
printf 'reason ninety\n' > "$tmp/floors"
expect 2 "a malformed floors file is refused" -- --input "$data/good.json" --floors "$tmp/floors"
printf 'not json\n' > "$tmp/in.json"
expect 2 "output that is not JSON is refused" -- --input "$tmp/in.json"
expect 2 "a missing program is an error" -- --ingest "$tmp/nonexistent"

# The real corpus labels parse, and name only files that exist.
"$python" - "$here/sisimai" <<'PY' > "$tmp/out" 2>&1
import csv, os, sys
root = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(root, 'labels.tsv')), delimiter='\t'))
assert len(rows) > 400, len(rows)
missing = sorted({r['file'] for r in rows if not os.path.isfile(os.path.join(root, 'eml', r['file']))})
assert not missing, missing
PY
if [ $? -ne 0 ]; then
    echo "FAIL: corpus labels"; sed 's/^/    /' "$tmp/out"; failures=$((failures + 1))
else
    echo "ok: corpus labels name existing files"
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
exit 0
