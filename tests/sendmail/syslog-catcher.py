#!/usr/bin/python3
# syslog-catcher.py: the syslog of the test Sendmail (test-sendmail.sh).
#
# Sendmail logs only through syslog(3), and a test machine may have no
# syslogd.  The test runs Sendmail in its own mount namespace whose /dev/log
# points at SOCKET; this receives the datagrams there and appends them, one
# line each, to LOGFILE, so that a failed check can show what Sendmail said.
# Usage: syslog-catcher.py SOCKET LOGFILE; stops on SIGTERM.  Stdlib only.
import os
import signal
import socket
import sys


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: syslog-catcher.py SOCKET LOGFILE\n")
        return 64
    path, logfile = sys.argv[1], sys.argv[2]
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock.bind(path)
    # Sendmail's children may run as another user.
    os.chmod(path, 0o666)
    with open(logfile, "a", encoding="utf-8") as out:
        while True:
            data = sock.recv(65536)
            out.write(data.decode("utf-8", "replace").rstrip("\n\0") + "\n")
            out.flush()


if __name__ == "__main__":
    sys.exit(main())
