#!/usr/bin/env python3
"""crash-check.py: what the crash tests (tests/crash/*.sh) compare.

  crash-check.py generation SRC_DIR GEN OUT_DIR   copies of SRC_DIR/*.eml,
        each with its own Message-ID <crash.GEN.N@crash-test.invalid>, as
        OUT_DIR/gGEN.mNNNN (names sort in generation, then file order)
  crash-check.py mbox FILE...                     the files as one mboxrd
        on stdout (From_ line, ">From " quoted, a blank line after each)
  crash-check.py mbox-check MBOX FILE...          the mbox is intact: it
        parses, and each message in it is one of FILE, byte for byte, at
        most once; prints how many it holds
  crash-check.py snapshot SUPPRESSCTL STORE_TOOL CONF STORE ADDRLIST
        the store as compared: every entry (address, reason, source,
        detail, status, count, expiry relative to its last event), every
        event of the addresses in ADDRLIST and of the entries (type,
        actor, detail, reason, status, response: no times) and the bounce
        counters summed over the days; times differ from run to run
  crash-check.py quarantine DIR                   the quarantined messages
        as "COPIES SHA256" lines, sorted (their names are unique per run)
"""
import calendar
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import time

FROM_LINE = b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n"


def generation(src, gen, out):
    os.makedirs(out, exist_ok=True)
    for n, path in enumerate(sorted(glob.glob(os.path.join(src, "*.eml"))), 1):
        with open(path, "rb") as f:
            body = f.read()
        header = b"Message-ID: <crash.%d.%d@crash-test.invalid>\n" % (int(gen), n)
        with open(os.path.join(out, "g%03d.m%04d" % (int(gen), n)), "wb") as f:
            f.write(header + body.replace(b"\r\n", b"\n"))


def mboxrd_quote(data):
    return re.sub(rb"(?m)^(>*From )", rb">\1", data)


def mbox(files):
    out = sys.stdout.buffer
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        if not data.endswith(b"\n"):
            data += b"\n"
        out.write(FROM_LINE + mboxrd_quote(data) + b"\n")


def mbox_messages(data):
    """Split as suppress-ingest does for the mboxes mbox() writes."""
    if data and not data.startswith(b"From "):
        raise ValueError("does not start with a From_ line")
    parts = re.split(rb"(?<=\n\n)(?=From MAILER-DAEMON )", data)
    return [p for p in parts if p]


def mbox_check(path, files):
    want = {}
    for f in files:
        with open(f, "rb") as fp:
            d = fp.read()
        if not d.endswith(b"\n"):
            d += b"\n"
        want[FROM_LINE + mboxrd_quote(d) + b"\n"] = f
    with open(path, "rb") as fp:
        data = fp.read()
    seen = set()
    for m in mbox_messages(data):
        if m not in want:
            sys.exit("mbox %s holds a message that was never put in it (damaged): %r..."
                     % (path, m[:200]))
        if m in seen:
            sys.exit("mbox %s holds %s twice" % (path, want[m]))
        seen.add(m)
    print(len(seen))


def run(cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE).stdout.decode("utf-8", "replace")


def epoch(iso):
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))


def snapshot(ctl, tool, conf, store, addrlist):
    lines = []
    addresses = set()
    for row in run([ctl, "-c", conf, "export", "--all", "--json"]).splitlines():
        e = json.loads(row)
        addresses.add(e["address"])
        ttl = "never" if e["expires"] is None else epoch(e["expires"]) - epoch(e["last_event"])
        lines.append("entry %s reason=%s source=%s detail=%s status=%s count=%d ttl=%s"
                     % (e["address"], e["reason"], e["source"], e["detail"], e["status"],
                        e["count"], ttl))
    with open(addrlist) as f:
        addresses.update(a.strip().lower() for a in f if "@" in a)
    for a in sorted(addresses):
        for ev in run([tool, store, "events", a]).splitlines():
            lines.append("event %s %s" % (a, ev))
    stats = json.loads(run([ctl, "-c", conf, "stats", "--days", "30", "--json"]))
    for name, value in sorted(stats["total"]["bounces"].items()):
        lines.append("counter bounce.%s %d" % (name, value))
    lines.append("counter unverified %d" % stats["total"]["unverified"])
    print("\n".join(lines))


def quarantine(d):
    copies = {}
    for path in glob.glob(os.path.join(d, "*")):
        if path.endswith(".reason") or not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            h = hashlib.sha256(f.read()).hexdigest()
        copies[h] = copies.get(h, 0) + 1
    for h in sorted(copies):
        print("%d %s" % (copies[h], h))


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "generation" and len(argv) == 5:
        generation(argv[2], argv[3], argv[4])
    elif cmd == "mbox":
        mbox(argv[2:])
    elif cmd == "mbox-check" and len(argv) >= 3:
        mbox_check(argv[2], argv[3:])
    elif cmd == "snapshot" and len(argv) == 7:
        snapshot(*argv[2:7])
    elif cmd == "quarantine" and len(argv) == 3:
        quarantine(argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
