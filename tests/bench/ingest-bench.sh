#!/bin/sh
# ingest-bench.sh: throughput of suppress-ingest over the labelled corpus
# (tests/corpus/sisimai), next to Debian's Sisimai on the same files in the
# same run.  Prints figures; it is a benchmark, not a test (no pass/fail).
#
#   1. parse + classify:   suppress-ingest --dry-run over the corpus
#   2. with the store:     suppress-ingest --maildir on a fresh temporary
#                          store, every message unique (durable updates)
#   3. Sisimai:            sisimai-dump.pl --quiet (parse only), same files
#
# Targets: (1) >= 50x Sisimai, (2) >= 10x Sisimai.  Peak memory (maximum
# resident set) of each suppress-ingest run is printed too.
#
# Usage: tests/bench/ingest-bench.sh [-b BUILDDIR] [-r REPEAT] [-s STORE_REPEAT]
#   -b  build directory with classifier/suppress-ingest (default: $top_builddir or .)
#   -r  how many times the corpus is parsed in run 1 and by Sisimai (default 20)
#   -s  how many copies of the corpus go into the Maildir of run 2 (default 4)

here=$(cd "$(dirname "$0")" && pwd)
corpus="$here/../corpus/sisimai/eml"
dump="$here/../corpus/sisimai-dump.pl"
build="${top_builddir:-.}"
repeat=20
store_repeat=4

while getopts b:r:s: opt; do
    case $opt in
    b) build=$OPTARG ;;
    r) repeat=$OPTARG ;;
    s) store_repeat=$OPTARG ;;
    *) echo "usage: $0 [-b BUILDDIR] [-r REPEAT] [-s STORE_REPEAT]" >&2; exit 64 ;;
    esac
done

ingest="$build/classifier/suppress-ingest"
[ -x "$ingest" ] || { echo "ingest-bench: $ingest is not built (give -b BUILDDIR)" >&2; exit 66; }
[ -d "$corpus" ] || { echo "ingest-bench: no corpus at $corpus" >&2; exit 66; }

tmp=$(mktemp -d /tmp/ingest-bench.XXXXXX) || exit 73
trap 'rm -rf "$tmp"' EXIT INT TERM

files=$(ls "$corpus"/*.eml)
nfiles=$(echo "$files" | wc -l)

# Run "$@" and print "WALL CPU" in seconds: wall-clock time and the CPU
# time (user + system) of the command and its children, which does not
# depend on what else the machine is doing.  Peak memory (maximum resident
# set of the largest process, KiB) goes to $tmp/maxrss.
run_timed() {
    /usr/bin/python3 - "$tmp/maxrss" "$@" <<'PY'
import resource, subprocess, sys, time
out = sys.argv[1]
t0 = time.monotonic()
rc = subprocess.call(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=None)
elapsed = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, 'w') as f:
    f.write('%d\n' % ru.ru_maxrss)
if rc != 0:
    sys.stderr.write('ingest-bench: %s exited with %d\n' % (sys.argv[2], rc))
print('%.3f %.3f' % (elapsed, ru.ru_utime + ru.ru_stime))
PY
}

rate() {  # messages seconds
    awk -v n="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "inf" }'
}
wall() { echo "$1" | cut -d' ' -f1; }
cpu() { echo "$1" | cut -d' ' -f2; }

# The file list repeated: suppress-ingest and Sisimai parse the same bytes.
: > "$tmp/list"
i=0
while [ "$i" -lt "$repeat" ]; do
    echo "$files" >> "$tmp/list"
    i=$((i + 1))
done
nparse=$((nfiles * repeat))

# 1. parse + classify: one process per 2000 files, like a busy Maildir run.
cat > "$tmp/parse.sh" <<EOF
#!/bin/sh
xargs -n 2000 "$ingest" --dry-run --json < "$tmp/list" > /dev/null
EOF
chmod +x "$tmp/parse.sh"
t_parse=$(run_timed "$tmp/parse.sh")
rss_parse=$(cat "$tmp/maxrss")

# 2. with the store: a fresh store and the corpus copied into a Maildir,
#    each copy given its own Message-ID so nothing is skipped as seen.
mkdir -p "$tmp/store" "$tmp/quarantine" "$tmp/maildir/new" "$tmp/maildir/cur" "$tmp/maildir/tmp"
cat > "$tmp/bench.conf" <<EOF
store = "$tmp/store"
ingest {
    quarantine = "$tmp/quarantine"
}
EOF
c=0
while [ "$c" -lt "$store_repeat" ]; do
    n=0
    for f in $files; do
        n=$((n + 1))
        { printf 'Message-ID: <bench.%d.%d@ingest-bench.invalid>\n' "$c" "$n"; cat "$f"; } \
            > "$tmp/maildir/new/bench.$c.$n"
    done
    c=$((c + 1))
done
nstore=$((nfiles * store_repeat))
t_store=$(run_timed "$ingest" -c "$tmp/bench.conf" --maildir "$tmp/maildir")
rss_store=$(cat "$tmp/maxrss")
left=$(ls "$tmp/maildir/new" "$tmp/maildir/cur" | grep -c '^bench\.' || true)
quarantined=$(ls "$tmp/quarantine" 2>/dev/null | grep -vc '\.reason$' || true)

# 3. Sisimai, parse only, the same files the same number of times.
if perl -MSisimai -e 1 2>/dev/null; then
    t_sis=$(run_timed perl "$dump" --quiet --repeat "$repeat" $files 2>/dev/null)
else
    t_sis=
fi

echo "corpus: $nfiles messages ($corpus)"
echo "msg/s by CPU time (user+system, steady under load) and by wall-clock time"
report() {  # label messages times rss
    printf '%-42s %6s msg  cpu %7ss = %6s msg/s  wall %7ss = %6s msg/s%s\n' "$1" "$2" \
        "$(cpu "$3")" "$(rate "$2" "$(cpu "$3")")" "$(wall "$3")" "$(rate "$2" "$(wall "$3")")" \
        "${4:+  peak RSS $4 KiB}"
}
report "suppress-ingest --dry-run (parse+classify)" "$nparse" "$t_parse" "$rss_parse"
report "suppress-ingest --maildir (store updates)" "$nstore" "$t_store" "$rss_store"
echo "    (maildir run: $left message(s) left in the Maildir, $quarantined quarantined)"
if [ -n "$t_sis" ]; then
    report "Sisimai $(perl -MSisimai -e 'print Sisimai->version') (parse only)" "$nparse" "$t_sis" ""
    awk -v p="$(rate "$nparse" "$(cpu "$t_parse")")" -v s="$(rate "$nstore" "$(cpu "$t_store")")" \
        -v m="$(rate "$nparse" "$(cpu "$t_sis")")" 'BEGIN {
        printf "ratio parse+classify / Sisimai (CPU): %.1fx (target >= 50x)\n", p / m
        printf "ratio with store updates / Sisimai (CPU): %.1fx (target >= 10x)\n", s / m
    }'
else
    echo "Sisimai (libsisimai-perl) is not installed: no comparison"
fi
exit 0
