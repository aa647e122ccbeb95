#!/usr/bin/python3
"""Malformed HTTP and JSON against hc1-serve, then one correct request.

    fuzz.py --url URL [--requests N] [--seed S] [--workers W] [--model NAME] [--card]
    fuzz.py --server BINARY [options]

With --server, starts BINARY (hc1-serve, or its sanitizer build
hc1-serve-asan) on a free port of 127.0.0.1 with a short --io-timeout,
fuzzes it, stops it with SIGTERM and also fails if it did not exit 0 or
printed a sanitizer report.

Sends N requests (default 10000) built to be wrong at every layer: bytes
that are not HTTP, broken request lines, headers (sizes, counts, encodings,
Content-Length), bodies that are not JSON or not the JSON the API takes
(mutated bytes, wrong types, deep nesting, huge numbers, bad UTF-8), wrong
methods and paths.  Each request is complete (its framing says where it
ends) and carries "Connection: close", so the server must answer it: any
answer below 500 passes, as does 503 (no card, queue full); a 5xx other
than 503, no answer within the time limit, or a connection dropped without
a status line fails.  A few requests of raw bytes are sent and closed
without waiting, as a client that gives up would.

Then one correct request must be answered: GET /v1/models, and a
completion that generates text (--card: a card is live) or gets the
OpenAI-style 503 "no_card" error (no card: the host's sanitizer build).
Exits 0 when all of that held; prints counts by kind and status.
"""
import argparse
import collections
import concurrent.futures
import json
import random
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

TIMEOUT = 60  # seconds for one answer: far above any honest answer's time


def valid_bodies(model):
    return [
        {"model": model, "prompt": "Once upon a time", "max_tokens": 8},
        {"model": model, "prompt": "Lily", "max_tokens": 4, "stream": True, "temperature": 0.5,
         "top_p": 0.9, "top_k": 40, "seed": 7, "stop": ["\n", "."]},
        {"model": model, "messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "Hello"}], "max_tokens": 6},
        {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": True,
         "max_tokens": 3, "stop": "x"},
    ]


ODD_VALUES = [None, True, False, 0, -1, 1, 2**31, 2**63, -2**63, 2**64 + 1, 1e308, -1e308, 0.5,
              -0.0, "", "x", "🙂", "\u0000", "a" * 5000, [], [1, 2], [None], {}, {"a": 1},
              [[[]]], ["\n"] * 10, [""] * 5, {"role": "user"}, "1e999", "NaN"]

ODD_TEXTS = [
    b'{"prompt": "\\ud800"}', b'{"prompt": "\\uDFFF\\uD800"}', b'{"prompt": "\xff\xfe"}',
    b'{"prompt": "\xc0\xaf"}', b'{"max_tokens": 1e999}', b'{"max_tokens": -1e999}',
    b'{"max_tokens": NaN}', b'{"max_tokens": Infinity}', b'{"a": 1,}', b'[1,]', b'{"a" 1}',
    b'{"a": 01}', b'{"a": .5}', b'{"a": 1.}', b'{"a": 1e}', b'{"a": "\\x41"}', b'{"a": "\t"}',
    b'{"a": tru}', b'{"a": nul}', b'"just a string"', b'42', b'null', b'[]', b'{}', b'',
    b' ', b'\x00', b'{"a":1}{"b":2}', b'{"a":1} trailing', b'\xef\xbb\xbf{"a":1}',
    b'{"prompt": "x", "prompt": ["y"]}', b'{"messages": [{"role": "user", "content": 5}]}',
    b'{"messages": [{"role": "tool", "content": "x"}]}', b'{"messages": []}',
    b'{"messages": [{"role": "user"}]}', b'{"stop": [1, 2]}', b'{"stop": ["a","b","c","d","e"]}',
]


class Fuzzer:
    def __init__(self, url, seed, model):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.rng = random.Random(seed)
        self.model = model
        self.bodies = valid_bodies(model)
        self.retried = 0

    # --- request builders: each returns (kind, bytes, expect) where expect
    # is True (an answer is due), None (an answer, or a close once the
    # server's read times out: the framing itself may be cut) or False
    # (send and close without reading) ---

    def http(self, method=b"POST", path=b"/v1/completions", headers=None, body=b"",
             version=b"HTTP/1.1", content_length=True):
        h = [b"Host: fuzz", b"Connection: close"]
        if content_length and body is not None:
            h.append(b"Content-Length: %d" % len(body))
        h += headers or [b"Content-Type: application/json"]
        return b"%s %s %s\r\n%s\r\n\r\n%s" % (method, path, version, b"\r\n".join(h), body or b"")

    def rand_bytes(self, n):
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    def mutate_bytes(self, data):
        data = bytearray(data)
        for _ in range(self.rng.randint(1, 8)):
            op = self.rng.randrange(6)
            pos = self.rng.randrange(len(data) + 1)
            if op == 0 and data:
                data[min(pos, len(data) - 1)] ^= 1 << self.rng.randrange(8)
            elif op == 1:
                data[pos:pos] = self.rand_bytes(self.rng.randint(1, 8))
            elif op == 2:
                del data[pos:pos + self.rng.randint(1, 16)]
            elif op == 3:
                data[pos:pos] = self.rng.choice([b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\",
                                                 b"\\u", b"null", b"-", b"1e400", b"\x00"])
            elif op == 4 and data:
                end = min(len(data), pos + self.rng.randint(1, 32))
                data[pos:pos] = data[pos:end]
            else:
                del data[pos:]
        return bytes(data)

    def body_json(self):
        body = json.loads(json.dumps(self.rng.choice(self.bodies)))
        key = self.rng.choice(list(body) + ["n", "logprobs", "tools", "best_of", "echo", "suffix",
                                            "messages", "prompt", "stop", "x" * 300])
        op = self.rng.randrange(4)
        if op == 0:
            body[key] = self.rng.choice(ODD_VALUES)
        elif op == 1:
            body.pop(key, None)
        elif op == 2:
            body[key] = {"nested": [body.get(key)] * self.rng.randint(1, 100)}
        else:
            for k in list(body):
                if self.rng.random() < 0.5:
                    body[k] = self.rng.choice(ODD_VALUES)
        return json.dumps(body, ensure_ascii=self.rng.random() < 0.5).encode("utf-8",
                                                                             "surrogatepass")

    def case_body(self):
        """Framing right, body wrong: mutated bytes, odd JSON, wrong types, deep nesting."""
        path = self.rng.choice([b"/v1/completions", b"/v1/chat/completions"])
        pick = self.rng.randrange(6)
        if pick == 0:
            body = self.mutate_bytes(json.dumps(self.rng.choice(self.bodies)).encode())
        elif pick == 1:
            body = self.rng.choice(ODD_TEXTS)
        elif pick == 2:
            depth = self.rng.choice([100, 1000, 10000, 100000])
            opener = self.rng.choice([b"[", b'{"a":'])
            body = opener * depth + self.rng.choice([b"", b"1", b"]" * depth])
        elif pick == 3:
            body = self.rand_bytes(self.rng.randint(0, 2048))
        else:
            body = self.body_json()
        return "body", self.http(path=path, body=body), True

    def case_request_line(self):
        """Broken first lines: methods, targets, versions, separators."""
        method = self.rng.choice([b"POST", b"GET", b"PUT", b"DELETE", b"OPTIONS", b"HEAD", b"PATCH",
                                  b"TRACE", b"CONNECT", b"BREW", b"post", b"", b"G\x00T",
                                  b"P" * 100])
        path = self.rng.choice([b"/", b"/v1/completions", b"/v1/chat/completions", b"/metrics",
                                b"/health", b"/v1/models", b"/v1/models/x", b"*", b"", b"//",
                                b"/%", b"/%zz", b"/%00", b"/..%2f..%2fetc/passwd", b"/?a=%",
                                b"/v1/completions?x=" + b"y" * 10000, b"/" + b"a" * 70000,
                                b"http://evil/v1/models", b"/\xff\xfe", b"/a b"])
        version = self.rng.choice([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/9", b"HTTP/",
                                   b"http/1.1", b"HTTP/1.1 extra", b"", b"HTTP/1.1\x00"])
        body = json.dumps(self.rng.choice(self.bodies)).encode()
        if self.rng.random() < 0.3:
            line = self.mutate_bytes(b"%s %s %s" % (method, path, version))
            line = line.replace(b"\r", b"").replace(b"\n", b"")
            data = line + b"\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
        else:
            data = self.http(method=method, path=path, version=version, body=body)
        return "request-line", data, True

    def case_headers(self):
        """Framing and header abuse a complete request can still carry."""
        body = json.dumps(self.rng.choice(self.bodies)).encode()
        path = self.rng.choice([b"/v1/completions", b"/v1/chat/completions"])
        pick = self.rng.randrange(12)
        if pick == 0:  # one huge header
            headers = [b"X-Big: " + b"a" * self.rng.choice([8000, 9000, 70000, 300000])]
        elif pick == 1:  # many headers
            headers = [b"X-%d: v" % i for i in range(self.rng.choice([100, 1000, 5000]))]
        elif pick == 2:  # a line that is not a header
            headers = [self.rng.choice([b"no colon here", b": empty name", b"X-A:\x00b",
                                        b" folded: continuation", b"X-\xff: v", b"\x01:\x02"])]
        elif pick == 3:  # Content-Length that lies, doubles, overflows (body is the right size)
            cl = self.rng.choice([b"-1", b"abc", b"99999999999999999999999", b"0x10", b"1 2",
                                  b"+%d" % len(body), b"%d, %d" % (len(body), len(body)), b""])
            return "headers", self.http(path=path, headers=[b"Content-Length: " + cl],
                                        body=body, content_length=False), True
        elif pick == 4:  # a body larger than --max-body, announced honestly
            big = b'{"prompt": "' + b"a" * (2 << 20) + b'"}'
            return "headers", self.http(path=path, body=big), True
        elif pick == 5:  # chunked, right or wrong
            chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
            if self.rng.random() < 0.5:
                return "chunked-mutated", self.http(
                    path=path, headers=[b"Transfer-Encoding: chunked"],
                    body=self.mutate_bytes(chunks), content_length=False), None
            chunks = self.rng.choice([chunks, b"zz\r\nabc\r\n0\r\n\r\n", b"-5\r\nabc\r\n0\r\n\r\n",
                                      b"ffffffffffffffffff\r\nabc\r\n0\r\n\r\n"])
            return "headers", self.http(path=path, headers=[b"Transfer-Encoding: chunked"],
                                        body=chunks, content_length=False), True
        elif pick == 6:  # both framings
            return "headers", self.http(path=path, headers=[b"Transfer-Encoding: chunked"],
                                        body=b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)), True
        elif pick == 7:
            headers = [b"Content-Type: " + self.rng.choice([b"text/plain", b"", b"\xff",
                                                            b"application/json; charset=ebcdic"])]
        elif pick == 8:
            headers = [b"Expect: 100-continue", b"Content-Type: application/json"]
        elif pick == 9:
            headers = [b"Accept-Encoding: gzip, br", b"Content-Encoding: gzip"]
            body = self.rand_bytes(64)
        elif pick == 10:
            headers = [b"Range: bytes=" + self.rng.choice([b"0-1", b"-", b"99-1", b"a-b"])]
        else:
            # Anything may break, the framing too: the server may wait
            # for the rest until its read times out, then close.
            return "headers-mutated", self.mutate_bytes(self.http(path=path, body=body)), None
        return "headers", self.http(path=path, headers=headers, body=body), True

    def case_garbage(self):
        """Bytes that are not HTTP: answered with an error or just closed."""
        data = self.rand_bytes(self.rng.randint(1, 4096))
        if self.rng.random() < 0.5:
            return "garbage-closed", data, False  # sent, closed, no answer read
        return "garbage", data.replace(b"\n", b" ") + b"\r\n\r\n", True

    def next_case(self):
        pick = self.rng.random()
        if pick < 0.45:
            return self.case_body()
        if pick < 0.65:
            return self.case_request_line()
        if pick < 0.90:
            return self.case_headers()
        return self.case_garbage()

    # --- sending ---

    def send_again(self, data, expect_answer, retries):
        """send(), again up to @retries times after a close without a status
        line or silence: through QEMU's user networking a connection can be
        lost on the way (the guest's server never saw it).  A server that
        drops a request on purpose drops it every time."""
        status = self.send(data, expect_answer)
        for _ in range(retries):
            if status not in (0, None):
                break
            self.retried += 1
            status = self.send(data, expect_answer)
        return status

    def send(self, data, expect_answer):
        """Returns the status code, 0 for a close without one, None for no answer."""
        with socket.create_connection((self.host, self.port), timeout=TIMEOUT) as s:
            try:
                s.sendall(data)
            except OSError:
                pass  # the server may answer (413, 431) and close before reading it all
            if expect_answer is False:
                return -1
            try:
                return self.read_answer(s, expect_answer)
            except socket.timeout:
                return None

    @staticmethod
    def read_answer(s, expect_answer):
        """The final status of the answer, read to its end.

        The end is where Content-Length says or the server's close: after
        an error on a request line it cannot parse, the server never saw
        "Connection: close" and keeps the connection for its keep-alive
        time, as a client that reads by Content-Length never notices.
        """
        reply = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                break
            reply += chunk
            head, sep, body = reply.partition(b"\r\n\r\n")
            if not sep:
                continue
            if re.match(rb"HTTP/1\.1 1\d\d ", head):  # 100 Continue: the answer follows
                reply = body
                continue
            length = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
            if length and len(body) >= int(length.group(1)):
                break
        if not reply.startswith(b"HTTP/1.1 "):
            return -2 if expect_answer is None and not reply else 0
        return int(reply[9:12])


def request(url, method, path, body=None):
    import urllib.request
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_server(binary, argv):
    """Run the fuzz against a server of our own; returns the exit code."""
    port = free_port()
    server = subprocess.Popen([binary, "--listen", "127.0.0.1:%d" % port, "--io-timeout", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env=dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                                       UBSAN_OPTIONS="print_stacktrace=1"))
    url = "http://127.0.0.1:%d" % port
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.1)
    rc = main(["--url", url] + argv)
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
    try:
        out, _ = server.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        out, _ = server.communicate()
        print("fuzz: FAIL the server did not stop within 60 s of SIGTERM")
        rc = 1
    reports = [l for l in out.splitlines() if SANITIZER_REPORT.search(l)]
    if server.returncode != 0 or reports:
        print(out[-20000:])
        print("fuzz: FAIL the server exited %d with %d sanitizer report line(s)"
              % (server.returncode, len(reports)))
        rc = 1
    else:
        print("fuzz: the server exited 0 with no sanitizer report")
    return rc


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url")
    ap.add_argument("--server", help="start this hc1-serve binary and fuzz it")
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--model", default="stories260K")
    ap.add_argument("--card", action="store_true", help="a card is live: the check generates")
    ap.add_argument("--retries", type=int, default=0,
                    help="send a request again after a close without an answer (a lossy path)")
    args = ap.parse_args(argv)
    if args.server:
        rest = [a for a in (argv or sys.argv[1:]) if a != args.server and a != "--server"]
        return with_server(args.server, rest)
    if not args.url:
        ap.error("give --url or --server")

    fuzzer = Fuzzer(args.url, args.seed, args.model)
    cases = [fuzzer.next_case() for _ in range(args.requests)]
    counts = collections.Counter()
    failures = []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
        futures = {pool.submit(fuzzer.send_again, data, expect, args.retries): (i, kind, data)
                   for i, (kind, data, expect) in enumerate(cases)}
        for f in concurrent.futures.as_completed(futures):
            i, kind, data = futures[f]
            try:
                status = f.result()
            except OSError as e:
                status, why = None, "connect: %s" % e
            else:
                why = {None: "no answer in %d s" % TIMEOUT, 0: "closed without a status line"}.get(
                    status, "status %s" % status)
            counts[(kind, status)] += 1
            if status is None or status == 0 or (status >= 500 and status != 503):
                failures.append((i, kind, why, data[:200]))
    elapsed = time.monotonic() - t0
    for (kind, status), n in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1]))):
        label = {-1: "sent", -2: "closed"}.get(status, status)
        print("fuzz: %-16s %-6s %6d" % (kind, label, n))
    print("fuzz: %d malformed requests in %.1f s (%.0f/s), %d failed, %d sent again"
          % (len(cases), elapsed, len(cases) / elapsed, len(failures), fuzzer.retried))
    for i, kind, why, head in failures[:20]:
        print("fuzz: FAIL #%d %s: %s; request began %r" % (i, kind, why, head))

    ok = not failures
    try:
        status, models = request(args.url, "GET", "/v1/models")
        ids = [m["id"] for m in models.get("data", [])]
        print("fuzz: then GET /v1/models: %d %s" % (status, ids))
        ok &= status == 200 and (args.model in ids if args.card else ids == [])
        status, answer = request(args.url, "POST", "/v1/completions",
                                 {"model": args.model, "prompt": "Once upon a time",
                                  "max_tokens": 16})
        if args.card:
            text = answer.get("choices", [{}])[0].get("text", "")
            print("fuzz: then a completion: %d %r" % (status, text))
            ok &= status == 200 and len(text) > 0
        else:
            print("fuzz: then a completion: %d %s" % (status, answer.get("error")))
            ok &= status == 503 and answer.get("error", {}).get("code") == "no_card"
    except (OSError, ValueError) as e:
        print("fuzz: the correct request got no answer: %s" % e)
        ok = False
    print("fuzz: %s" % ("PASS" if ok else "FAIL"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
