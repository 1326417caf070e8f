#!/usr/bin/python3
"""flufl-compare.py: measure suppress-ingest on the flufl.bounce samples.

The samples in tests/corpus/flufl/eml come from Mailman's flufl.bounce
(LGPL-3, see flufl/README); flufl/labels.tsv gives, per message, the set
of failed recipients flufl.bounce's own tests expect and whether the
failure is permanent or temporary.  Two figures, per message:

  set      the set of failed recipients we report equals the expected set
           exactly (a message with an empty set must yield no failure)
  class    for messages with a failure, flufl.bounce's permanent/temporary
           agrees with ours.  flufl.bounce's "permanent" is a final
           failure (delivery given up, whatever the cause: a full mailbox
           too) and "temporary" a warning (delivery still being tried), so
           ours is permanent when we report the expected recipients hard,
           soft or unknown (the message was returned) and temporary when
           we report them delayed
  temphard flufl.bounce's temporary (warning) messages that we class
           hard: a ceiling, like the corpus' temphard (must stay 0)

A reported recipient is a failure when its class is hard, soft, delayed
or unknown (not delivered, autoreply or complaint).  Its address is the
one the store would act on (policy.c): the original recipient of a
forwarded one, else the recipient.

--floors makes it a test (exit 1 below a floor); --sisimai adds Debian's
Sisimai on the same files (sisimai-dump.pl), for comparison only.

Used by run-corpus.sh (make check) and by hand:
  flufl-compare.py --ingest build/classifier/suppress-ingest -b [--sisimai]
"""

import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare  # noqa: E402  (same directory: JSON and TSV readers)

FAILURE_CLASSES = frozenset(['hard', 'soft', 'delayed', 'unknown'])
FIGURES = [('set', 'failed-recipient set agrees', 'min'),
           ('class', 'permanent/temporary agrees', 'min'),
           ('temphard', 'temporary (warnings) classed hard', 'max')]


def read_labels(path):
    labels = {}
    for row in compare.read_tsv(path, ['file', 'recipients', 'class'], 'labels'):
        rcpts = [r.strip().lower() for r in row['recipients'].split(',') if r.strip()]
        cls = row['class'].strip()
        if cls not in ('permanent', 'temporary', '-'):
            compare.die('labels %s:%d: class %r is not permanent, temporary or -'
                        % (path, row['_line'], cls))
        labels[row['file']] = (frozenset(rcpts), cls)
    return labels


def failed_rows(rows):
    out = []
    for g in rows:
        if g.get('class') not in FAILURE_CLASSES:
            continue
        if g.get('forwarded') and g.get('original_recipient'):
            addr = g['original_recipient']
        else:
            addr = g.get('recipient') or ''
        out.append((str(addr).lower(), g.get('class')))
    return out


def our_class(want, rows):
    """permanent / temporary / None from the rows naming expected recipients
    (all failed rows when none does)."""
    named = [c for a, c in rows if a in want] or [c for a, c in rows]
    if not named:
        return None
    if all(c == 'delayed' for c in named):
        return 'temporary'
    return 'permanent'


def any_hard(want, rows):
    return any(c == 'hard' for a, c in rows if a in want or not want)


def tally(labels, outputs, names):
    ok = dict.fromkeys([f[0] for f in FIGURES], 0)
    total = dict.fromkeys([f[0] for f in FIGURES], 0)
    bad = []
    for name in names:
        want, cls = labels[name]
        rows = failed_rows(outputs.get(name, []))
        got = frozenset(a for a, c in rows)
        total['set'] += 1
        good_set = got == want
        ok['set'] += good_set
        got_cls = None
        good_cls = True
        if cls != '-':
            total['class'] += 1
            got_cls = our_class(want, rows)
            good_cls = got_cls == cls
            ok['class'] += good_cls
        if cls == 'temporary':
            total['temphard'] += 1
            if any_hard(want, rows):
                ok['temphard'] += 1
                good_cls = False
        if not good_set or not good_cls:
            bad.append((name, sorted(want), cls, sorted(got), got_cls,
                        outputs.get(name, [])))
    return ok, total, bad


def percent(ok, total, kind='min'):
    if not total:
        return 100.0 if kind == 'min' else 0.0
    return 100.0 * ok / total


def print_summary(title, ok, total, out):
    out.write('%s\n' % title)
    for fig, label, kind in FIGURES:
        out.write('  %-36s %4d/%-4d %6.2f%%%s\n'
                  % (label, ok[fig], total[fig], percent(ok[fig], total[fig], kind),
                     '  (lower is better)' if kind == 'max' else ''))


def print_bad(bad, who, out):
    for name, want, cls, got, got_cls, rows in bad:
        out.write('%s (%s) want {%s} %s got {%s} %s'
                  % (name, who, ','.join(want), cls, ','.join(got), got_cls or '-'))
        det = sorted(set(str(g.get('detector') or '-') for g in rows))
        reasons = sorted(set(str(g.get('reason') or '-') for g in rows))
        out.write(' det=%s reason=%s\n' % (','.join(det) or '-', ','.join(reasons) or '-'))


def main():
    ap = argparse.ArgumentParser(description='suppress-ingest on the flufl.bounce samples')
    ap.add_argument('--ingest', required=True, metavar='PROG')
    ap.add_argument('--dir', default=os.path.join(HERE, 'flufl'), metavar='DIR',
                    help='the set: DIR/labels.tsv and DIR/eml/')
    ap.add_argument('--floors', metavar='FILE',
                    help='lines "set|class|temphard <percent>"; exit 1 below a floor '
                         '(above the temphard ceiling)')
    ap.add_argument('--sisimai', action='store_true',
                    help="also run Debian's Sisimai (sisimai-dump.pl)")
    ap.add_argument('-b', '--brief', action='store_true',
                    help='print every disagreement on one line')
    args = ap.parse_args()

    labels = read_labels(os.path.join(args.dir, 'labels.tsv'))
    emldir = os.path.join(args.dir, 'eml')
    names = sorted(n for n in os.listdir(emldir) if n.endswith('.eml'))
    unlabelled = [n for n in names if n not in labels]
    if unlabelled:
        compare.die('no labels for %s' % ', '.join(unlabelled[:5]))
    missing = [n for n in labels if n not in names]
    if missing:
        compare.die('labelled but missing: %s' % ', '.join(missing[:5]))
    paths = [os.path.join(emldir, n) for n in names]

    out = sys.stdout
    outputs = compare.run_program([args.ingest, '--dry-run', '--json'], paths,
                                  'suppress-ingest')
    ok, total, bad = tally(labels, outputs, names)
    if args.brief:
        print_bad(bad, 'ours', out)
    print_summary('suppress-ingest over the %d flufl.bounce samples:' % len(names),
                  ok, total, out)
    if args.sisimai:
        dump = os.path.join(HERE, 'sisimai-dump.pl')
        if subprocess.call(['perl', '-MSisimai', '-e', '1'],
                           stderr=subprocess.DEVNULL) != 0:
            out.write("Debian's Sisimai: not installed (libsisimai-perl), skipped\n")
        else:
            s_out = compare.run_program(['perl', dump], paths, 'sisimai-dump.pl')
            s_ok, s_total, s_bad = tally(labels, s_out, names)
            if args.brief:
                print_bad(s_bad, 'sisimai', out)
            print_summary("Debian's Sisimai over the same files (informative):",
                          s_ok, s_total, out)

    if args.floors:
        floors = {}
        with open(args.floors, encoding='utf-8') as f:
            for line in f:
                line = line.split('#', 1)[0].split()
                if len(line) == 2 and line[0] in ok:
                    floors[line[0]] = float(line[1])
                elif line:
                    compare.die('floors %s: bad line %r' % (args.floors, ' '.join(line)))
        failed = False
        for fig, label, kind in FIGURES:
            got = round(percent(ok[fig], total[fig], kind), 2)
            if fig not in floors:
                continue
            if kind == 'min' and got < floors[fig]:
                out.write('FAIL: flufl.bounce samples: %s %.2f%% is below its floor %.2f%%\n'
                          % (label, got, floors[fig]))
                failed = True
            elif kind == 'max' and got > floors[fig]:
                out.write('FAIL: flufl.bounce samples: %s %.2f%% is above its ceiling %.2f%%\n'
                          % (label, got, floors[fig]))
                failed = True
        if failed:
            return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
