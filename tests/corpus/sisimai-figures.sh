#!/bin/sh
# sisimai-figures.sh: the corpus figures of suppress-ingest beside those of
# Debian's Sisimai (libsisimai-perl) on the same files, for comparison
# only (not part of make check: Sisimai is not a build dependency).
# Prints the Sisimai corpus figures (compare.py --sisimai) and the
# flufl.bounce sample figures (flufl-compare.py --sisimai).  Skips (exit
# 77) when Sisimai is not installed.
#
# Usage: tests/corpus/sisimai-figures.sh [BUILDDIR]   (default: ./build)
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
ingest="$build/classifier/suppress-ingest"
if ! perl -MSisimai -e 1 2>/dev/null; then
    echo "SKIP: Debian's Sisimai (libsisimai-perl) is not installed"
    exit 77
fi
if [ ! -x "$ingest" ]; then
    echo "ERROR: $ingest is not built" >&2
    exit 2
fi
status=0
python3 "$here/compare.py" --ingest "$ingest" --labels "$here/sisimai/labels.tsv" \
    --exceptions "$here/exceptions.tsv" --halves "$here/halves" --sisimai > "${TMPDIR:-/tmp}/sisimai-figures.$$" || status=1
sed -n '/^suppress-ingest over/,$p' "${TMPDIR:-/tmp}/sisimai-figures.$$"
rm -f "${TMPDIR:-/tmp}/sisimai-figures.$$"
echo
python3 "$here/flufl-compare.py" --ingest "$ingest" --dir "$here/flufl" --sisimai || status=1
exit $status
