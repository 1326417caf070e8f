#!/usr/bin/python3
"""outbox-count.py: what waits in a replica's outbox (store_outbox.h).

usage: outbox-count.py OUTBOX_DIR
Reads every <seq>.batch file there, independently of the C parser, and
prints "BATCHES EVENTS REJECTED ACCEPTED": the batches, the "rejected"
events in them, and the sums of the global "rejected" and "accepted"
counter deltas.  Exits 1 on a file that is not a well-formed batch.
"""
import os
import struct
import sys
import zlib


def strings(body, pos, n):
    out = []
    for _ in range(n):
        (length,) = struct.unpack_from(">H", body, pos)
        out.append(body[pos + 2:pos + 2 + length].decode())
        pos += 2 + length
    return out, pos


def main():
    d = sys.argv[1]
    batches = events = rejected = accepted = 0
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        if not name.endswith(".batch"):
            continue
        data = open(os.path.join(d, name), "rb").read()
        if data[:4] != b"MSOB" or data[4] != 1:
            sys.exit(f"{name}: not a version 1 batch")
        if struct.unpack(">I", data[-4:])[0] != zlib.crc32(data[:-4]):
            sys.exit(f"{name}: CRC mismatch")
        (count,) = struct.unpack_from(">I", data, 37)
        pos, end = 41, len(data) - 4
        for _ in range(count):
            rtype, blen = struct.unpack_from(">BI", data, pos)
            body = data[pos + 5:pos + 5 + blen]
            pos += 5 + blen
            if rtype == 1:
                (day, cname), p = strings(body, 0, 2)
                (delta,) = struct.unpack_from(">Q", body, p)
                if cname == "rejected":
                    rejected += delta
                elif cname == "accepted":
                    accepted += delta
            elif rtype == 2 and body[0] == 10:      # STORE_EV_REJECTED
                events += 1
        if pos != end:
            sys.exit(f"{name}: {end - pos} bytes after the last record")
        batches += 1
    print(batches, events, rejected, accepted)


main()
