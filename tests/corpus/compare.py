#!/usr/bin/python3
"""compare.py: measure suppress-ingest's classifier against the labelled corpus.

Runs `suppress-ingest --dry-run --json` over bounce messages, matches every
reported recipient to the rows of labels.tsv (per file, by recipient where
possible, else by position), and prints the figures the project is judged
by:

  recipient  recipient address correct            (labels with a recipient)
  reason     reason agrees with the label          (all labels)
  hard       address-level bounces classed hard    (hardbounce=1)
  temphard   temporary reasons wrongly classed hard (mailboxfull, expired...)
  complaint  complaints classed complaint           (reason feedback)

--floors makes it a test (exit 1 when a figure falls below its floor, or
temphard rises above its ceiling); --exceptions lists label rows known to be
wrong, which are left out of the figures and listed as such; --sisimai adds
Debian's Sisimai as a second column for comparison (informative only);
--halves prints the figures of the development and check halves (split by
format family, tests/corpus/halves) beside the totals.

Used by tests/corpus/run-corpus.sh (make check) and by hand:
  compare.py --build /tmp/b-NAME -v tests/corpus/sisimai/eml/lhost-postfix-*.eml
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_CORPUS = os.path.join(HERE, 'sisimai')

# Reasons that say "try later" whatever the reply code (brief: these must
# never be classed hard).
TEMPORARY_REASONS = frozenset([
    'mailboxfull', 'exceedlimit', 'systemfull', 'toomanyconn', 'speeding',
    'networkerror', 'systemerror', 'expired', 'mesgtoobig',
])

# name -> (label of the figure, 'min' floor or 'max' ceiling)
FIGURES = [
    ('recipient', 'recipient correct', 'min'),
    ('reason', 'reason agrees', 'min'),
    ('hard', 'address-level bounces classed hard', 'min'),
    ('temphard', 'temporary reasons classed hard', 'max'),
    ('complaint', 'complaints classed complaint', 'min'),
]
FIGURE_NAMES = [f[0] for f in FIGURES]
HALVES = ('development', 'check')
# Exception "field" -> figures it removes the row from.
EXCEPTION_FIELDS = {
    'recipient': ('recipient',),
    'reason': ('reason',),
    'class': ('hard', 'temphard', 'complaint'),
    'hard': ('hard',),
    'temphard': ('temphard',),
    'complaint': ('complaint',),
    '*': tuple(FIGURE_NAMES),
}


def die(msg):
    sys.stderr.write('compare.py: %s\n' % msg)
    sys.exit(2)


def read_tsv(path, want, what):
    """Rows of a tab-separated file with a header line as dicts; lines
    starting with '#' and blank lines are skipped."""
    rows = []
    try:
        with open(path, encoding='utf-8') as f:
            header = None
            for lineno, line in enumerate(f, 1):
                line = line.rstrip('\n')
                if not line.strip() or line.startswith('#'):
                    continue
                cols = line.split('\t')
                if header is None:
                    header = cols
                    missing = [c for c in want if c not in header]
                    if missing:
                        die('%s %s: header lacks column(s) %s'
                            % (what, path, ', '.join(missing)))
                    continue
                if len(cols) < len(want):
                    die('%s %s:%d: %d columns, expected at least %d'
                        % (what, path, lineno, len(cols), len(want)))
                cols += [''] * (len(header) - len(cols))
                row = dict(zip(header, cols))
                row['_line'] = lineno
                rows.append(row)
    except OSError as e:
        die('cannot read %s %s: %s' % (what, path, e.strerror))
    return rows


def read_labels(path):
    labels = {}
    for row in read_tsv(path, ['file', 'index', 'recipient', 'status',
                               'replycode', 'reason', 'hardbounce'], 'labels'):
        try:
            row['index'] = int(row['index'])
        except ValueError:
            die('labels %s:%d: index %r is not a number'
                % (path, row['_line'], row['index']))
        row['recipient'] = row['recipient'].strip().lower()
        labels.setdefault(row['file'], []).append(row)
    for rows in labels.values():
        rows.sort(key=lambda r: r['index'])
    return labels


def read_exceptions(path):
    """{(file, index): {figure: justification}} from file/index/field/justification."""
    excepted = {}
    for row in read_tsv(path, ['file', 'index', 'field', 'justification'],
                        'exceptions'):
        where = '%s:%d' % (path, row['_line'])
        field = row['field'].strip()
        if field not in EXCEPTION_FIELDS:
            die('exceptions %s: field %r is not one of %s'
                % (where, field, ', '.join(sorted(EXCEPTION_FIELDS))))
        if not row['justification'].strip():
            die('exceptions %s: an exception needs a justification' % where)
        try:
            index = int(row['index'])
        except ValueError:
            die('exceptions %s: index %r is not a number' % (where, row['index']))
        entry = excepted.setdefault((row['file'], index), {})
        for fig in EXCEPTION_FIELDS[field]:
            entry[fig] = row['justification'].strip()
    return excepted


def file_prefix(name):
    """A corpus file's name without its -NN.eml: its format family key."""
    base = name[:-4] if name.endswith('.eml') else name
    head, dash, num = base.rpartition('-')
    return head if dash and num.isdigit() else base


def read_halves(path):
    """{prefix: half} from lines 'prefix family half' ('#' comments)."""
    halves = {}
    try:
        with open(path, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                line = line.split('#', 1)[0].strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) != 3 or parts[2] not in HALVES:
                    die('halves %s:%d: expected "<prefix> <family> <%s>"'
                        % (path, lineno, '|'.join(HALVES)))
                if parts[0] in halves:
                    die('halves %s:%d: prefix %s listed twice'
                        % (path, lineno, parts[0]))
                halves[parts[0]] = parts[2]
    except OSError as e:
        die('cannot read halves %s: %s' % (path, e.strerror))
    return halves


def split_halves(names, halves, path):
    """{half: [names]}; every file must belong to a listed family."""
    split = {h: [] for h in HALVES}
    stray = [n for n in names if file_prefix(n) not in halves]
    if stray:
        die('halves %s: no half for %s (add its family)'
            % (path, ', '.join(stray[:5])))
    for n in names:
        split[halves[file_prefix(n)]].append(n)
    return split


def read_floors(path):
    """{figure: percent} from lines 'name value' ('#' comments)."""
    floors = {}
    try:
        with open(path, encoding='utf-8') as f:
            for lineno, line in enumerate(f, 1):
                line = line.split('#', 1)[0].strip()
                if not line:
                    continue
                parts = line.split()
                if len(parts) != 2 or parts[0] not in FIGURE_NAMES:
                    die('floors %s:%d: expected "<%s> <percent>"'
                        % (path, lineno, '|'.join(FIGURE_NAMES)))
                try:
                    floors[parts[0]] = float(parts[1].rstrip('%'))
                except ValueError:
                    die('floors %s:%d: %r is not a number'
                        % (path, lineno, parts[1]))
    except OSError as e:
        die('cannot read floors %s: %s' % (path, e.strerror))
    return floors


def parse_json_lines(text, source):
    """Output rows grouped by file base name, in output order.  A class
    "none" row marks a file that produced no recipients."""
    out = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except ValueError as e:
            die('%s line %d: not JSON (%s): %.200s' % (source, lineno, e, line))
        if not isinstance(obj, dict) or 'file' not in obj:
            die('%s line %d: object without "file": %.200s' % (source, lineno, line))
        rows = out.setdefault(os.path.basename(str(obj['file'])), [])
        if obj.get('class') != 'none':
            rows.append(obj)
    return out


def run_program(argv, files, source, batch=200):
    """Run argv + files in batches, return its output rows by file.  A
    non-zero exit is reported but not fatal: the files it did not answer
    for count as missed (the figures show it)."""
    out = {}
    for i in range(0, len(files), batch):
        chunk = files[i:i + batch]
        try:
            proc = subprocess.run(argv + chunk, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        except OSError as e:
            die('cannot run %s: %s' % (argv[0], e.strerror))
        if proc.returncode != 0:
            err = proc.stderr.decode('utf-8', 'replace').strip()
            sys.stderr.write('compare.py: %s exited with %d%s\n'
                             % (source, proc.returncode,
                                (': ' + err[-2000:]) if err else ''))
        out.update(parse_json_lines(proc.stdout.decode('utf-8', 'replace'),
                                    source))
    return out


def match_file(labels, got):
    """Pair each label row with an output row (or None).  By recipient
    first, so a detector reporting recipients in another order is not
    punished twice; labels without a recipient (or with no match) take
    the output row at their position if it is still free."""
    pairs = {}
    used = set()
    for lab in labels:
        if not lab['recipient']:
            continue
        cands = [i for i, g in enumerate(got)
                 if i not in used and
                 str(g.get('recipient') or '').lower() == lab['recipient']]
        if cands:
            # the candidate closest to the label's position
            best = min(cands, key=lambda i: abs(i - (lab['index'] - 1)))
            pairs[lab['index']] = best
            used.add(best)
    for lab in labels:
        if lab['index'] in pairs:
            continue
        pos = lab['index'] - 1
        if 0 <= pos < len(got) and pos not in used:
            pairs[lab['index']] = pos
            used.add(pos)
        else:
            free = [i for i in range(len(got)) if i not in used]
            if free and len(labels) == 1:
                pairs[lab['index']] = free[0]
                used.add(free[0])
    result = [(lab, got[pairs[lab['index']]] if lab['index'] in pairs else None)
              for lab in labels]
    extra = [g for i, g in enumerate(got) if i not in used]
    return result, extra


class Tally:
    """count/total per figure, plus the rows that failed each."""

    def __init__(self):
        self.ok = dict.fromkeys(FIGURE_NAMES, 0)
        self.total = dict.fromkeys(FIGURE_NAMES, 0)
        self.excepted = []      # (label, figures, justification)
        self.extra = 0
        self.missing_files = []

    def add(self, fig, good):
        self.total[fig] += 1
        if good:
            self.ok[fig] += 1

    def percent(self, fig):
        if self.total[fig] == 0:
            return 0.0 if FIGURES[FIGURE_NAMES.index(fig)][2] == 'max' else 100.0
        return 100.0 * self.ok[fig] / self.total[fig]

    def as_json(self):
        return {fig: {'count': self.ok[fig], 'total': self.total[fig],
                      'percent': round(self.percent(fig), 2)}
                for fig in FIGURE_NAMES}


def judge(lab, got):
    """{figure: True/False} for the figures this label row takes part in."""
    res = {}
    g = got or {}
    if lab['recipient']:
        res['recipient'] = str(g.get('recipient') or '').lower() == lab['recipient']
    res['reason'] = (g.get('reason') or '') == lab['reason']
    cls = g.get('class') or ''
    if lab['hardbounce'] == '1':
        res['hard'] = cls == 'hard'
    if lab['reason'] in TEMPORARY_REASONS:
        # the "good" event for a ceiling figure is the bad one: wrongly hard
        res['temphard'] = cls == 'hard'
    if lab['reason'] == 'feedback':
        res['complaint'] = cls == 'complaint'
    return res


def failed(fig, good):
    return good if fig == 'temphard' else not good


def tally_source(labels, outputs, files, excepted):
    tally = Tally()
    details = []    # (label, got, failed figures, excepted figures)
    for name in files:
        labs = labels.get(name, [])
        got = outputs.get(name)
        if got is None:
            tally.missing_files.append(name)
            got = []
        pairs, extra = match_file(labs, got)
        tally.extra += len(extra)
        for lab, g in pairs:
            exc = excepted.get((name, lab['index']), {})
            bad = []
            for fig, good in judge(lab, g).items():
                if fig in exc:
                    continue
                tally.add(fig, good)
                if failed(fig, good):
                    bad.append(fig)
            if exc:
                tally.excepted.append((lab, sorted(exc), sorted(set(exc.values()))))
            details.append((lab, g, bad))
        for g in extra:
            details.append((None, g, ['extra']))
    return tally, details


def fmt(v):
    return '-' if v is None or v == '' else str(v)


def print_mismatches(name, details, out):
    for lab, g, bad in details:
        if not bad:
            continue
        g = g or {}
        if lab is None:
            out.write('%s  extra recipient %s reason=%s class=%s\n'
                      % (g.get('file'), fmt(g.get('recipient')),
                         fmt(g.get('reason')), fmt(g.get('class'))))
            continue
        out.write('%s #%d [%s]%s%s\n'
                  % (lab['file'], lab['index'], ','.join(bad),
                     '' if lab.get('stable', 'yes') != 'no' else ' (unstable label)',
                     '' if name == 'ours' else ' (%s)' % name))
        out.write('    recipient: want %-40s got %s\n'
                  % (fmt(lab['recipient']), fmt(g.get('recipient'))))
        out.write('    reason:    want %-40s got %s (class %s, status %s, code %s)\n'
                  % (lab['reason'] + (' [hard]' if lab['hardbounce'] == '1' else ''),
                     fmt(g.get('reason')), fmt(g.get('class')),
                     fmt(g.get('status')), fmt(g.get('replycode'))))
        out.write('    label:     status %s code %s; detector %s, command %s\n'
                  % (fmt(lab['status']), fmt(lab['replycode']), fmt(g.get('detector')),
                     fmt(g.get('command'))))
        diag = g.get('diagnostic')
        if diag:
            out.write('    diagnostic: %s\n' % diag)


def print_brief(name, details, out):
    """One line per mismatch, for grep and sort."""
    for lab, g, bad in details:
        if not bad:
            continue
        g = g or {}
        diag = ' '.join(str(g.get('diagnostic') or '').split())
        if lab is None:
            out.write('%s extra %s %s/%s | %.160s\n'
                      % (g.get('file'), fmt(g.get('recipient')), fmt(g.get('reason')),
                         fmt(g.get('class')), diag))
            continue
        out.write('%s #%d [%s]%s want %s%s%s got %s%s/%s st=%s rc=%s cmd=%s det=%s | %.160s\n'
                  % (lab['file'], lab['index'], ','.join(bad),
                     '' if name == 'ours' else ' (%s)' % name,
                     lab['reason'], '[hard]' if lab['hardbounce'] == '1' else '',
                     '' if lab.get('stable', 'yes') != 'no' else '[unstable]',
                     '' if 'recipient' not in bad else
                     '%s!=%s ' % (fmt(g.get('recipient')), fmt(lab['recipient'])),
                     fmt(g.get('reason')), fmt(g.get('class')), fmt(g.get('status')),
                     fmt(g.get('replycode')), fmt(g.get('command')), fmt(g.get('detector')), diag))


def print_side_by_side(ours, sis, out):
    out.write('%-32s %-3s %-16s %-16s %-16s  %s\n'
              % ('file', '#', 'label', 'ours', 'sisimai', 'classes (ours/sisimai)'))
    sis_by = {(l['file'], l['index']): g for l, g, _ in sis if l is not None}
    for lab, g, _ in ours:
        if lab is None:
            continue
        s = sis_by.get((lab['file'], lab['index'])) or {}
        g = g or {}
        mark = ' ' if (g.get('reason') == lab['reason']) else '*'
        out.write('%-32s %-3d %-16s %-16s %-16s %s %s/%s\n'
                  % (lab['file'], lab['index'], lab['reason'],
                     fmt(g.get('reason')), fmt(s.get('reason')), mark,
                     fmt(g.get('class')), fmt(s.get('class'))))


def print_summary(title, tally, out, indent='  '):
    out.write('%s\n' % title)
    for fig, label, kind in FIGURES:
        out.write(indent + '%-36s %4d/%-4d %6.2f%%%s\n'
                  % (label, tally.ok[fig], tally.total[fig], tally.percent(fig),
                     '  (lower is better)' if kind == 'max' else ''))
    if tally.extra:
        out.write(indent + '%-36s %d\n' % ('reported recipients without a label', tally.extra))
    if tally.missing_files:
        out.write(indent + '%-36s %d (%s%s)\n'
                  % ('files without any output', len(tally.missing_files),
                     ', '.join(tally.missing_files[:5]),
                     ', ...' if len(tally.missing_files) > 5 else ''))


def check_floors(tally, floors, out):
    ok = True
    for fig, label, kind in FIGURES:
        if fig not in floors:
            continue
        got = tally.percent(fig)
        # compare at the precision figures are printed with
        got_r = round(got, 2)
        if kind == 'min' and got_r < floors[fig]:
            out.write('FAIL: %s %.2f%% is below its floor %.2f%%\n'
                      % (label, got, floors[fig]))
            ok = False
        elif kind == 'max' and got_r > floors[fig]:
            out.write('FAIL: %s %.2f%% is above its ceiling %.2f%%\n'
                      % (label, got, floors[fig]))
            ok = False
    return ok


def main():
    ap = argparse.ArgumentParser(
        description='Compare suppress-ingest --dry-run --json with the corpus labels.')
    ap.add_argument('files', nargs='*', metavar='FILE',
                    help='.eml files (default: every file of the corpus)')
    ap.add_argument('--build', metavar='DIR',
                    help='build directory holding classifier/suppress-ingest '
                         '(default: $top_builddir, else the current directory)')
    ap.add_argument('--ingest', metavar='PROG',
                    help='the suppress-ingest program itself (overrides --build)')
    ap.add_argument('--input', metavar='JSONFILE',
                    help='read suppress-ingest output from this file instead of running it')
    ap.add_argument('--labels', metavar='TSV',
                    help='labels file (default: labels.tsv of the corpus next to this script)')
    ap.add_argument('--floors', metavar='FILE',
                    help='fail (exit 1) when a figure is below its floor')
    ap.add_argument('--exceptions', metavar='FILE',
                    help='label rows known wrong: file, index, field, justification')
    ap.add_argument('--sisimai', action='store_true',
                    help="also run Debian's Sisimai and print both side by side")
    ap.add_argument('--halves', metavar='FILE',
                    help='also print the figures of each half of this split')
    ap.add_argument('--json', action='store_true', help='print the figures as JSON')
    ap.add_argument('-v', '--verbose', action='store_true',
                    help='print every mismatch with its diagnostic')
    ap.add_argument('-b', '--brief', action='store_true',
                    help='print every mismatch on one line')
    ap.add_argument('-q', '--quiet', action='store_true',
                    help='print only failures of --floors')
    args = ap.parse_args()

    labels_path = args.labels or os.path.join(DEFAULT_CORPUS, 'labels.tsv')
    labels = read_labels(labels_path)
    if args.files:
        paths = args.files
    else:
        emldir = os.path.join(os.path.dirname(labels_path), 'eml')
        try:
            paths = sorted(os.path.join(emldir, n) for n in os.listdir(emldir)
                           if n.endswith('.eml'))
        except OSError as e:
            die('cannot list %s: %s' % (emldir, e.strerror))
    for p in paths:
        if not args.input and not os.path.isfile(p):
            die('no such file: %s' % p)
    names = [os.path.basename(p) for p in paths]
    unlabelled = [n for n in names if n not in labels]
    if unlabelled:
        sys.stderr.write('compare.py: no labels for %d file(s): %s\n'
                         % (len(unlabelled), ', '.join(unlabelled[:5])))
    excepted = read_exceptions(args.exceptions) if args.exceptions else {}
    floors = read_floors(args.floors) if args.floors else {}

    if args.input:
        try:
            with open(args.input, encoding='utf-8', errors='replace') as f:
                outputs = parse_json_lines(f.read(), args.input)
        except OSError as e:
            die('cannot read %s: %s' % (args.input, e.strerror))
    else:
        prog = args.ingest
        if not prog:
            build = args.build or os.environ.get('top_builddir') or '.'
            prog = os.path.join(build, 'classifier', 'suppress-ingest')
        if not os.access(prog, os.X_OK):
            die('%s is not an executable (build it, or give --build/--ingest)' % prog)
        outputs = run_program([prog, '--dry-run', '--json'], paths, 'suppress-ingest')

    tally, details = tally_source(labels, outputs, names, excepted)
    half_tallies = []
    split = None
    if args.halves:
        split = split_halves(names, read_halves(args.halves), args.halves)
        for half in HALVES:
            half_tallies.append((half, len(split[half]),
                                 tally_source(labels, outputs, split[half], excepted)[0]))
    out = sys.stdout
    stis = None
    sis_halves = []
    if args.sisimai:
        dump = os.path.join(HERE, 'sisimai-dump.pl')
        sis_out = run_program(['perl', dump], paths, 'sisimai-dump.pl')
        stis, sis_details = tally_source(labels, sis_out, names, excepted)
        if args.halves:
            for half in HALVES:
                sis_halves.append((half, len(split[half]),
                                   tally_source(labels, sis_out, split[half], excepted)[0]))

    if args.json:
        obj = {'ours': tally.as_json(), 'files': len(names),
               'excepted': len(tally.excepted)}
        if stis:
            obj['sisimai'] = stis.as_json()
        for half, n, t in half_tallies:
            obj[half] = t.as_json()
        json.dump(obj, out, indent=1, sort_keys=True)
        out.write('\n')
    elif not args.quiet:
        if args.verbose:
            print_mismatches('ours', details, out)
            if stis:
                print_mismatches('sisimai', sis_details, out)
        elif args.brief:
            print_brief('ours', details, out)
            if stis:
                print_brief('sisimai', sis_details, out)
        if args.sisimai:
            print_side_by_side(details, sis_details, out)
        for lab, figs, why in tally.excepted:
            out.write('excepted: %s #%d (%s): %s\n'
                      % (lab['file'], lab['index'], ','.join(figs), '; '.join(why)))
        print_summary('suppress-ingest over %d files:' % len(names), tally, out)
        for half, n, t in half_tallies:
            print_summary('  %s half, %d files:' % (half, n), t, out, '    ')
        if stis:
            print_summary("Debian's Sisimai over the same files (informative):", stis, out)
            for half, n, t in sis_halves:
                print_summary('  %s half, %d files:' % (half, n), t, out, '    ')
    if floors and not check_floors(tally, floors, sys.stderr if args.json else out):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
