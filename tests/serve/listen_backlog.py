#!/usr/bin/env python3
"""hc1-serve listens with a queue deep enough for a burst of clients.

Debian's cpp-httplib is built to listen with a backlog of 5, which 256
streams opened at once overflowed (clients failed with read errors).  The
server raises it on the bound socket; this reads the backlog the kernel
reports for the listener (ss: Send-Q of a LISTEN socket) and fails below
hc1-serve's 1024.  Then the server must still answer.

    listen_backlog.py HC1_SERVE
"""
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

WANT = 1024


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backlog(port):
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], check=True,
                         capture_output=True, text=True).stdout.split()
    # State Recv-Q Send-Q Local Peer: for a listener, Send-Q is the backlog.
    return int(out[2]) if len(out) >= 3 else None


def main():
    server, port = sys.argv[1], free_port()
    proc = subprocess.Popen([server, "--listen", f"127.0.0.1:{port}"],
                            stderr=subprocess.PIPE, text=True)
    try:
        got = None
        for _ in range(100):
            got = backlog(port)
            if got is not None or proc.poll() is not None:
                break
            time.sleep(0.1)
        if got is None:
            sys.exit(f"hc1-serve is not listening on port {port}")
        print(f"listen backlog: {got} (want >= {WANT})")
        if got < WANT:
            sys.exit("FAIL: the listen queue is too short for a burst of clients")
        # No card on the host: /health answers 503 "no live card".
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10)
            status = 200
        except urllib.error.HTTPError as e:
            status = e.code
        print(f"/health: {status}")
        if status not in (200, 503):
            sys.exit("FAIL: the server did not answer after raising its backlog")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if proc.returncode != 0:
        sys.exit(f"FAIL: hc1-serve exited {proc.returncode} on SIGTERM: {proc.stderr.read()}")


if __name__ == "__main__":
    main()
