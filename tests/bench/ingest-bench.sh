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
# Times on a shared machine wander; with -c the script also counts the
# instructions per message of runs 1 and 2 (one pass over the corpus each)
# under valgrind's callgrind, a figure that does not depend on the load.
#
# Usage: tests/bench/ingest-bench.sh [-b BUILDDIR] [-r REPEAT] [-s STORE_REPEAT] [-c]
#   -b  build directory with classifier/suppress-ingest (default: $top_builddir or .)
#   -r  how many times the corpus is parsed in run 1 and by Sisimai (default 20)
#   -s  how many copies of the corpus go into the Maildir of run 2 (default 4)
#   -c  also count instructions per message with callgrind (needs valgrind)

here=$(cd "$(dirname "$0")" && pwd)
corpus="$here/../corpus/sisimai/eml"
dump="$here/../corpus/sisimai-dump.pl"
build="${top_builddir:-.}"
repeat=20
store_repeat=4
count_instructions=

while getopts b:r:s:c opt; do
    case $opt in
    b) build=$OPTARG ;;
    r) repeat=$OPTARG ;;
    s) store_repeat=$OPTARG ;;
    c) count_instructions=1 ;;
    *) echo "usage: $0 [-b BUILDDIR] [-r REPEAT] [-s STORE_REPEAT] [-c]" >&2; exit 64 ;;
    esac
done
if [ -n "$count_instructions" ] && ! command -v valgrind >/dev/null 2>&1; then
    echo "ingest-bench: -c needs valgrind" >&2
    exit 69
fi

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

# fill_maildir DIR COPIES: the corpus COPIES times, each message unique.
fill_maildir() {
    mkdir -p "$1/new" "$1/cur" "$1/tmp"
    c=0
    while [ "$c" -lt "$2" ]; do
        n=0
        for f in $files; do
            n=$((n + 1))
            { printf 'Message-ID: <bench.%d.%d@ingest-bench.invalid>\n' "$c" "$n"; cat "$f"; } \
                > "$1/new/bench.$c.$n"
        done
        c=$((c + 1))
    done
}
# bench_conf NAME: $tmp/NAME.conf, with a store and a quarantine of its own.
bench_conf() {
    mkdir -p "$tmp/$1.store"
    cat > "$tmp/$1.conf" <<EOF
store = "$tmp/$1.store"
ingest {
    quarantine = "$tmp/$1.quarantine"
}
EOF
}

# 2. with the store: a fresh store and the corpus copied into a Maildir,
#    each copy given its own Message-ID so nothing is skipped as seen.
bench_conf bench
fill_maildir "$tmp/maildir" "$store_repeat"
nstore=$((nfiles * store_repeat))
t_store=$(run_timed "$ingest" -c "$tmp/bench.conf" --maildir "$tmp/maildir")
rss_store=$(cat "$tmp/maxrss")
left=$(ls "$tmp/maildir/new" "$tmp/maildir/cur" | grep -c '^bench\.' || true)
quarantined=$(ls "$tmp/bench.quarantine" 2>/dev/null | grep -vc '\.reason$' || true)

# 3. Sisimai, parse only, the same files the same number of times.
if perl -MSisimai -e 1 2>/dev/null; then
    t_sis=$(run_timed perl "$dump" --quiet --repeat "$repeat" $files 2>/dev/null)
else
    t_sis=
fi

# 4. Instructions per message (callgrind), one pass over the corpus each.
# instructions COMMAND...: the instruction count of the whole run.
instructions() {
    valgrind --tool=callgrind --callgrind-out-file="$tmp/callgrind.out" "$@" \
        > /dev/null 2> "$tmp/callgrind.err"
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/callgrind.err"
}
if [ -n "$count_instructions" ]; then
    # shellcheck disable=SC2086
    ir_parse=$(instructions "$ingest" --dry-run --json $files)
    bench_conf callgrind
    fill_maildir "$tmp/callgrind.maildir" 1
    ir_store=$(instructions "$ingest" -c "$tmp/callgrind.conf" --maildir "$tmp/callgrind.maildir")
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
if [ -n "$count_instructions" ]; then
    awk -v p="$ir_parse" -v s="$ir_store" -v n="$nfiles" 'BEGIN {
        print "instructions per message (callgrind, one process over the corpus, startup included):"
        printf "  --dry-run --json   %9.0f\n", p / n
        printf "  --maildir (store)  %9.0f\n", s / n
    }'
fi
exit 0
