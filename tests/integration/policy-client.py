#!/usr/bin/python3
"""policy-client.py: talk Postfix's policy delegation protocol by hand.

usage: policy-client.py SOCKET PAYLOAD...
SOCKET is a unix socket path.  Each PAYLOAD (backslash escapes such as \\n
and \\x00 decoded) is sent on the one connection, then a reply is read up to
its empty line.  Prints "reply ACTION" per answered payload, or "closed"
when the server hung up instead (and stops).  With "recipient:ADDR" as a
PAYLOAD, a whole RCPT request for ADDR is sent.  Exits 0 unless the
connection could not be made.

Payloads that pace the connection (for the timeout tests):
  send:DATA          send DATA (escapes decoded), read no reply
  sleep:SECONDS      wait
  trickle:SECONDS:DATA
                     send DATA one byte every SECONDS; prints "closed after
                     T s" and stops if the server hangs up meanwhile, else
                     "trickled"
  wait-close:SECONDS wait up to SECONDS for the server to hang up: prints
                     "closed after T s" (and stops) or "open after SECONDS s"
T counts from the start of that payload.
"""
import codecs
import socket
import sys
import time


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


def wait_close(sock, seconds):
    """Seconds until the server hung up (reading and dropping what it
    sends), or None when it had not after seconds."""
    start = time.monotonic()
    while True:
        left = seconds - (time.monotonic() - start)
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            if not sock.recv(4096):
                return time.monotonic() - start
        except socket.timeout:
            return None
        except OSError:
            return time.monotonic() - start


def pace(sock, payload):
    """One pacing payload; False when the server hung up (stop)."""
    kind, _, arg = payload.partition(":")
    if kind == "sleep":
        time.sleep(float(arg))
    elif kind == "send":
        sock.sendall(codecs.decode(arg, "unicode_escape").encode("latin-1"))
    elif kind == "wait-close":
        took = wait_close(sock, float(arg))
        if took is not None:
            print(f"closed after {took:.1f} s", flush=True)
            return False
        print(f"open after {float(arg):.1f} s", flush=True)
    elif kind == "trickle":
        step, _, data = arg.partition(":")
        start = time.monotonic()
        for byte in codecs.decode(data, "unicode_escape").encode("latin-1"):
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                print(f"closed after {time.monotonic() - start:.1f} s", flush=True)
                return False
            time.sleep(float(step))
        print("trickled", flush=True)
    sock.settimeout(10)
    return True


def main():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    try:
        sock.connect(sys.argv[1])
    except OSError as e:
        print("connect failed:", e)
        return 1
    for payload in sys.argv[2:]:
        if payload.startswith(("send:", "sleep:", "trickle:", "wait-close:")):
            if not pace(sock, payload):
                break
            continue
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
