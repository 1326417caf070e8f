#!/usr/bin/python3
"""smtp-session.py: one SMTP session that pauses between two RCPT TOs.

Used by the reload test: the session is opened and the first recipient
given, then the test reloads the milter (SIGHUP), then the session goes on
with the second recipient, DATA and QUIT.  It shows that a reload does not
break a session in progress and that the next RCPT uses the new config.

usage: smtp-session.py PORT READY_FILE GO_FILE FROM RCPT1 RCPT2
Prints "rcpt ADDR CODE TEXT" per recipient and "data CODE TEXT"; exits 0
when the session completed (whatever the replies), 1 on a protocol error.
"""
import os
import smtplib
import sys
import time


def main():
    port, ready, go, sender, first, second = sys.argv[1:7]
    smtp = smtplib.SMTP("127.0.0.1", int(port), local_hostname="client.test", timeout=30)
    smtp.ehlo("client.test")
    code, text = smtp.mail(sender)
    if code != 250:
        print(f"mail {code} {text.decode()}")
        return 1
    accepted = 0
    for rcpt, pause in ((first, True), (second, False)):
        code, text = smtp.rcpt(rcpt)
        print(f"rcpt {rcpt} {code} {text.decode()}", flush=True)
        accepted += code == 250
        if pause:
            with open(ready, "w") as f:
                f.write("ready\n")
            deadline = time.time() + 30
            while not os.path.exists(go):
                if time.time() > deadline:
                    print("timed out waiting for", go)
                    return 1
                time.sleep(0.05)
    if accepted:
        code, text = smtp.data(b"Subject: reload session\r\n\r\nbody\r\n")
        print(f"data {code} {text.decode()}", flush=True)
    smtp.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
