#!/usr/bin/python3
"""load-client.py: many concurrent SMTP sessions through Postfix while the
suppression list changes under them, every RCPT verdict checked.

usage: load-client.py --port P [--port P...] --sessions N --duration S
           --conf CONF --suppressctl PATH --ingest PATH [--pid PID]
           [--static N] [--dynamic N] [--mutate-every S] [--json FILE]

Address pools (the caller seeds the first, e.g. store-tool bulk N sup.example):
  n000000@sup.example ... (--static, default 1000)  suppressed all along: 550
  f<random>@fresh.example                           never suppressed: 250
  d0000@dyn.example ... (--dynamic, default 100)    start not suppressed;
      while the sessions run, a mutator adds them (suppressctl add, or
      suppress-ingest of a DSN for them: the config must say
      ingest.trust = "any") and removes them (suppressctl remove), one
      command at a time, back to back, pausing --mutate-every seconds.

Each session (spread over the --port listeners) connects, says EHLO, and
sends messages of 1 to 4 recipients drawn from the pools until --duration
is over, then QUIT.  A message with an accepted recipient gets DATA; one
with none, RSET.

Verdicts.  The milter and the policy service read the store at every
RCPT, and a change is there for them once the command that made it has
committed: no cache, no propagation delay beyond that.  So an RCPT is
checked against the state of its address unless a command changing that
address ran at some moment between the RCPT being sent and its reply
(those are counted as "in transition" and not judged).  Expected: 550 5.1.1
for a suppressed address, 250 otherwise; anything else is a wrong verdict,
and any 4xx reply at all (to any command) is counted on its own.

With --pid, the milter's RSS (VmRSS) and open descriptors (/proc/PID/fd)
are sampled every 0.5 s, and once more 2 s after the last session closed.

Prints a summary (RCPT latency: from sending the command to its reply,
overall and per listener); exits 0 when there was no wrong verdict, no 4xx, no
error, and at least one RCPT of each kind was judged; 1 otherwise.
With --json FILE, writes the figures there too (for the caller's checks).
"""
import argparse
import asyncio
import json
import os
import random
import sys
import time

FRESH, SUPPRESSED = "fresh", "suppressed"


class Mutations:
    """What the mutator did to each dynamic address, and when."""

    def __init__(self, dynamic):
        self.state = {a: FRESH for a in dynamic}
        self.changes = {a: [] for a in dynamic}   # (start, end, state after)
        self.busy = {}                            # address -> start of the running command
        self.done = {"add": 0, "ingest": 0, "remove": 0}
        self.failed = []

    def expected(self, addr, sent, received):
        """The state addr had during [sent, received], or None when a change
        of it ran at some moment in between."""
        if addr not in self.changes:
            return None
        if addr in self.busy and self.busy[addr] <= received:
            return None
        state = FRESH
        for start, end, after in self.changes[addr]:
            if start <= received and end >= sent:
                return None
            if end < sent:
                state = after
        return state


def dsn_for(addr, serial):
    return (f"From: MAILER-DAEMON@mx.remote.example\n"
            f"To: bounces@relay.test\n"
            f"Subject: Undelivered Mail Returned to Sender\n"
            f"Message-ID: <load-{os.getpid()}-{serial}@mx.remote.example>\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime())}\n"
            f"MIME-Version: 1.0\n"
            f"Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n\n"
            f"--B\nContent-Type: text/plain\n\nYour message could not be delivered.\n\n"
            f"--B\nContent-Type: message/delivery-status\n\n"
            f"Reporting-MTA: dns; mx.remote.example\n\n"
            f"Final-Recipient: rfc822; {addr}\nAction: failed\nStatus: 5.1.1\n"
            f"Diagnostic-Code: smtp; 550 5.1.1 User unknown\n\n--B--\n").encode()


async def run_command(argv, stdin=None):
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate(stdin)
    return proc.returncode, err.decode(errors="replace").strip()


async def mutator(args, muts, stop):
    serial = 0
    addrs = list(muts.state)
    while not stop.is_set():
        addr = random.choice(addrs)
        serial += 1
        if muts.state[addr] == SUPPRESSED:
            kind, after = "remove", FRESH
            argv, stdin = [args.suppressctl, "-c", args.conf, "remove", addr], None
        elif serial % 2:
            kind, after = "add", SUPPRESSED
            argv, stdin = [args.suppressctl, "-c", args.conf, "add", addr, "--reason", "manual"], None
        else:
            kind, after = "ingest", SUPPRESSED
            argv, stdin = [args.ingest, "-c", args.conf], dsn_for(addr, serial)
        start = time.monotonic()
        muts.busy[addr] = start
        rc, err = await run_command(argv, stdin)
        end = time.monotonic()
        del muts.busy[addr]
        if rc != 0:
            muts.failed.append(f"{kind} {addr}: exit {rc}: {err}")
            # Its state is not known any more: never judged again.
            muts.changes.pop(addr, None)
            addrs.remove(addr)
            if not addrs:
                return
            continue
        muts.changes[addr].append((start, end, after))
        muts.state[addr] = after
        muts.done[kind] += 1
        try:
            await asyncio.wait_for(stop.wait(), args.mutate_every)
        except asyncio.TimeoutError:
            pass


class Stats:
    def __init__(self):
        self.rcpt = []          # (sent, received, addr, code)
        self.messages = 0
        self.sessions = 0
        self.fourxx = []
        self.errors = []


async def reply(reader):
    """One SMTP reply: (code, last line text)."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed by the server")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), line.decode(errors="replace").rstrip()


async def command(reader, writer, line, stats, what):
    writer.write(line.encode() + b"\r\n")
    await writer.drain()
    code, text = await reply(reader)
    if 400 <= code < 500:
        stats.fourxx.append(f"{what}: {text}")
    return code, text


def pick_recipient(args, rng):
    r = rng.random()
    if r < 0.3:
        return f"n{rng.randrange(args.static):06d}@sup.example"
    if r < 0.6:
        return f"d{rng.randrange(args.dynamic):04d}@dyn.example"
    return f"f{rng.randrange(10**9):09d}@fresh.example"


async def session(args, port, deadline, stats, serial):
    rng = random.Random(serial)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as e:
        stats.errors.append(f"session {serial}: connect: {e}")
        return
    try:
        code, text = await reply(reader)
        if code != 220:
            stats.errors.append(f"session {serial}: banner {text}")
            return
        code, text = await command(reader, writer, "EHLO load.client.test", stats, "EHLO")
        if code != 250:
            stats.errors.append(f"session {serial}: EHLO {text}")
            return
        stats.sessions += 1
        while time.monotonic() < deadline:
            code, text = await command(reader, writer, "MAIL FROM:<load@client.example>", stats, "MAIL")
            if code != 250:
                stats.errors.append(f"session {serial}: MAIL {text}")
                return
            accepted = 0
            for _ in range(rng.randint(1, 4)):
                addr = pick_recipient(args, rng)
                sent = time.monotonic()
                code, text = await command(reader, writer, f"RCPT TO:<{addr}>", stats, f"RCPT {addr}")
                stats.rcpt.append((sent, time.monotonic(), addr, code, text, port))
                accepted += code == 250
            if accepted:
                code, text = await command(reader, writer, "DATA", stats, "DATA")
                if code != 354:
                    stats.errors.append(f"session {serial}: DATA {text}")
                    return
                body = (f"From: load@client.example\r\nSubject: load {serial}\r\n\r\n"
                        f"session {serial}\r\n.")
                code, text = await command(reader, writer, body, stats, "end of DATA")
                if code != 250:
                    stats.errors.append(f"session {serial}: end of DATA {text}")
                    return
                stats.messages += 1
            else:
                code, text = await command(reader, writer, "RSET", stats, "RSET")
        await command(reader, writer, "QUIT", stats, "QUIT")
    except (ConnectionError, OSError) as e:
        stats.errors.append(f"session {serial}: {e}")
    finally:
        writer.close()


def proc_sample(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (OSError, StopIteration):
        return None


async def sampler(pid, samples, stop):
    t0 = time.monotonic()
    while not stop.is_set():
        s = proc_sample(pid)
        if s:
            samples.append((time.monotonic() - t0, *s))
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except asyncio.TimeoutError:
            pass


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = min(len(sorted_values) - 1, int(round(p / 100.0 * (len(sorted_values) - 1))))
    return sorted_values[k]


def judge(stats, muts):
    wrong, transition = [], 0
    judged = {FRESH: 0, SUPPRESSED: 0}
    for sent, received, addr, code, text, _ in stats.rcpt:
        if addr.endswith("@sup.example"):
            want = SUPPRESSED
        elif addr.endswith("@fresh.example"):
            want = FRESH
        else:
            want = muts.expected(addr, sent, received)
            if want is None:
                transition += 1
                continue
        judged[want] += 1
        ok = (code == 250) if want == FRESH else (code == 550 and " 5.1.1 " in text + " ")
        if not ok:
            wrong.append(f"{addr} ({want}): {text}")
    return wrong, transition, judged


async def main_async(args):
    stop_mut, stop_sample = asyncio.Event(), asyncio.Event()
    dynamic = [f"d{i:04d}@dyn.example" for i in range(args.dynamic)]
    muts, stats, samples = Mutations(dynamic), Stats(), []
    tasks = []
    if args.pid:
        tasks.append(asyncio.create_task(sampler(args.pid, samples, stop_sample)))
    mut_task = asyncio.create_task(mutator(args, muts, stop_mut))
    start = time.monotonic()
    deadline = start + args.duration
    sessions = [asyncio.create_task(session(args, args.port[i % len(args.port)], deadline, stats, i))
                for i in range(args.sessions)]
    await asyncio.gather(*sessions)
    elapsed = time.monotonic() - start
    stop_mut.set()
    await mut_task
    await asyncio.sleep(2)              # the milter closes its side of each session
    stop_sample.set()
    await asyncio.gather(*tasks)
    after = proc_sample(args.pid) if args.pid else None
    return stats, muts, samples, after, elapsed


def summarize(args, stats, muts, samples, after, elapsed):
    wrong, transition, judged = judge(stats, muts)
    lat = sorted((r - s) * 1000.0 for s, r, *_ in stats.rcpt)
    out = {
        "sessions": args.sessions, "sessions_started": stats.sessions,
        "seconds": round(elapsed, 1), "messages": stats.messages, "rcpts": len(stats.rcpt),
        "messages_per_s": round(stats.messages / elapsed, 1),
        "rcpts_per_s": round(len(stats.rcpt) / elapsed, 1),
        "rcpt_ms": {p: round(percentile(lat, p), 2) for p in (50, 90, 99, 99.9)},
        "rcpt_ms_max": round(lat[-1], 2) if lat else 0,
        "judged_suppressed": judged[SUPPRESSED], "judged_fresh": judged[FRESH],
        "in_transition": transition, "wrong": len(wrong), "fourxx": len(stats.fourxx),
        "errors": len(stats.errors), "mutations": muts.done, "mutations_failed": len(muts.failed),
    }
    if samples:
        n = len(samples)
        thirds = [samples[:max(1, n // 3)], samples[n // 3:max(n // 3 + 1, 2 * n // 3)],
                  samples[2 * n // 3:]]
        out["rss_kb"] = {"first": samples[0][1], "max_middle_third": max(s[1] for s in thirds[1]),
                         "max_last_third": max(s[1] for s in thirds[2]),
                         "after": after[0] if after else None}
        out["fds"] = {"first": samples[0][2], "max": max(s[2] for s in samples),
                      "after": after[1] if after else None}
    print(f"# {args.sessions} sessions over {len(args.port)} listener(s) for {elapsed:.1f} s: "
          f"{stats.messages} messages, {len(stats.rcpt)} RCPT "
          f"({out['messages_per_s']} msg/s, {out['rcpts_per_s']} RCPT/s)")
    print("# RCPT latency ms: " + ", ".join(f"p{p} {v}" for p, v in out["rcpt_ms"].items())
          + f", max {out['rcpt_ms_max']}")
    if len(args.port) > 1:
        for port in args.port:
            pl = sorted((r - s) * 1000.0 for s, r, *_, p in stats.rcpt if p == port)
            print(f"#   listener {port}: {len(pl)} RCPT, latency ms "
                  + ", ".join(f"p{p} {round(percentile(pl, p), 2)}" for p in (50, 90, 99)))
    print(f"# judged: {judged[SUPPRESSED]} suppressed, {judged[FRESH]} not suppressed; "
          f"{transition} in transition (a change of that address ran during the RCPT)")
    print(f"# store changes while sending: {muts.done['add']} suppressctl add, "
          f"{muts.done['ingest']} suppress-ingest, {muts.done['remove']} suppressctl remove; "
          f"{len(muts.failed)} failed")
    if samples:
        r, f = out["rss_kb"], out["fds"]
        print(f"# milter RSS KB: first {r['first']}, max of middle third {r['max_middle_third']}, "
              f"max of last third {r['max_last_third']}, after {r['after']}; "
              f"fds: first {f['first']}, max {f['max']}, after {f['after']}")
    print(f"# wrong verdicts {len(wrong)}, 4xx replies {len(stats.fourxx)}, "
          f"session errors {len(stats.errors)}")
    for title, items in (("wrong", wrong), ("4xx", stats.fourxx), ("error", stats.errors),
                         ("mutation failed", muts.failed)):
        for item in items[:10]:
            print(f"# {title}: {item}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f)
    good = (not wrong and not stats.fourxx and not stats.errors and not muts.failed
            and judged[SUPPRESSED] > 0 and judged[FRESH] > 0)
    return 0 if good else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, action="append", required=True)
    p.add_argument("--sessions", type=int, default=200)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--conf", required=True)
    p.add_argument("--suppressctl", required=True)
    p.add_argument("--ingest", required=True)
    p.add_argument("--pid", type=int)
    p.add_argument("--static", type=int, default=1000)
    p.add_argument("--dynamic", type=int, default=100)
    p.add_argument("--mutate-every", type=float, default=0.05)
    p.add_argument("--json")
    args = p.parse_args()
    stats, muts, samples, after, elapsed = asyncio.run(main_async(args))
    return summarize(args, stats, muts, samples, after, elapsed)


if __name__ == "__main__":
    sys.exit(main())
