#!/usr/bin/python3
"""policy-client.py: talk Postfix's policy delegation protocol by hand.

usage: policy-client.py SOCKET PAYLOAD...
SOCKET is a unix socket path.  Each PAYLOAD (backslash escapes such as \\n
and \\x00 decoded) is sent on the one connection, then a reply is read up to
its empty line.  Prints "reply ACTION" per answered payload, or "closed"
when the server hung up instead (and stops).  With "recipient:ADDR" as a
PAYLOAD, a whole RCPT request for ADDR is sent.  Exits 0 unless the
connection could not be made.
"""
import codecs
import socket
import sys


def request_for(addr):
    return ("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\n"
            "client_address=192.0.2.9\nclient_name=by.hand.test\nsender=hand@example.org\n"
            f"recipient={addr}\nfuture_attribute=ignored\n\n").encode()


def read_reply(sock):
    data = b""
    while b"\n\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data.split(b"\n\n", 1)[0].decode(errors="replace")


def main():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.connect(sys.argv[1])
    except OSError as e:
        print("connect failed:", e)
        return 1
    for payload in sys.argv[2:]:
        if payload.startswith("recipient:"):
            data = request_for(payload[len("recipient:"):])
        else:
            data = codecs.decode(payload, "unicode_escape").encode("latin-1")
        try:
            sock.sendall(data)
            reply = read_reply(sock)
        except OSError:
            reply = None
        if reply is None:
            print("closed", flush=True)
            break
        print("reply", reply, flush=True)
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
