#!/bin/sh
# run-corpus.sh: make check's accuracy test.  Runs suppress-ingest
# --dry-run over the whole labelled corpus (tests/corpus/sisimai) through
# compare.py and fails when a figure falls below its floor (floors) or
# temporary-as-hard rises above its ceiling.  Known-wrong labels are in
# exceptions.tsv.  The mismatches are listed in the test's log, and the
# figures of the development and check halves (halves) beside the totals;
# tune the classifier on the development half only.  Then the
# same over the flufl.bounce samples (tests/corpus/flufl, flufl-compare.py,
# floors in flufl-floors).
#
# Environment (set by the test harness): srcdir, top_builddir.

here="${srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/corpus"
build="${top_builddir:-$(pwd)/..}"
python=/usr/bin/python3

if [ ! -x "$python" ]; then
    echo "SKIP: $python is missing"
    exit 77
fi
ingest="$build/classifier/suppress-ingest"
if [ ! -x "$ingest" ]; then
    echo "ERROR: $ingest is not built"
    exit 99
fi

# The corpus as distributed must be the corpus tested: every file in the
# directory is listed for the tarball and the other way round.
listed=$(sed -n 's|^.*corpus/\([a-z]*/eml/[^ \\]*\.eml\).*$|\1|p' "$here/corpus-files.am" | LC_ALL=C sort)
present=$(cd "$here" && ls sisimai/eml/*.eml flufl/eml/*.eml | LC_ALL=C sort)
if [ "$listed" != "$present" ]; then
    echo "ERROR: corpus-files.am and sisimai/eml/ or flufl/eml/ disagree; run tests/corpus/make-file-list.sh"
    exit 99
fi

status=0
"$python" "$here/compare.py" --ingest "$ingest" --labels "$here/sisimai/labels.tsv" \
    --floors "$here/floors" --exceptions "$here/exceptions.tsv" --halves "$here/halves" --brief || status=1
echo
"$python" "$here/flufl-compare.py" --ingest "$ingest" --dir "$here/flufl" \
    --floors "$here/flufl-floors" --brief || status=1
exit $status
