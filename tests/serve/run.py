#!/usr/bin/python3
"""hc1-serve end to end: the server in the guest, real clients on the host.

    run.py SRC BUILD

Boots the guest with one card (one context, fault injection on) and its
port 8080 forwarded to a free port of 127.0.0.1, runs guest-serve.sh there,
and at each of its "HC1-SERVE: STEP" lines runs the host's clients:
  clients     curl, the official OpenAI library (node --test), the chat page
              in headless Chromium (puppeteer-core), promtool check metrics,
              then 2000 malformed requests and a correct one (fuzz.py);
  queue-full  the OpenAI library's error type for a 503.
then connects to the guest's port 9000 to hand the turn back.  Writes the
host's PASS/FAIL lines to BUILD/Testing/serve-host.log beside the console
log (serve-guest.log) for tests/summary.py; exits 1 if anything failed.
"""
import os
import socket
import subprocess
import sys
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    def __init__(self, src, build):
        self.src, self.build = src, build
        self.testing = os.path.join(build, "Testing")
        os.makedirs(self.testing, exist_ok=True)
        self.port, self.turn_port = free_port(), free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.results = []
        self.env = dict(os.environ, HC1_SERVE_URL=self.url, HC1_SERVE_MODEL="stories260K",
                        HC1_SCREENSHOT=os.path.join(self.testing, "serve-chat.png"))

    def record(self, name, ok, detail=""):
        line = "%s %s%s" % ("PASS" if ok else "FAIL", name, " (%s)" % detail if detail and not ok else "")
        print(line, flush=True)
        self.results.append(line)

    def cmd(self, name, argv, stdin=None, timeout=180):
        try:
            p = subprocess.run(argv, cwd=os.path.join(self.src, "tests/serve"), env=self.env,
                               input=stdin, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            print((e.stdout or b"").decode(errors="replace"), (e.stderr or b"").decode(errors="replace"))
            self.record(name, False, "no answer in %d s" % timeout)
            return None
        out = (p.stdout + p.stderr).strip()
        if p.returncode != 0 or os.environ.get("V"):
            print(out)
        self.record(name, p.returncode == 0, "exit %d" % p.returncode)
        return p

    def wait_for(self, marker, vm, log, timeout=400):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(log, errors="replace") as f:
                if marker in f.read():
                    return True
            if vm.poll() is not None:
                return False
            time.sleep(0.2)
        return False

    def hand_back(self):
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", self.turn_port), timeout=2).close()
                return
            except OSError:
                time.sleep(0.1)

    def clients(self):
        self.cmd("serve-host-curl", ["sh", "-c",
                 "curl -sf %s/v1/models | grep -q stories260K && "
                 "curl -sfN %s/v1/chat/completions -d '{\"model\":\"stories260K\",\"messages\":"
                 "[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":20,\"stream\":true}' "
                 "| tail -n 2 | grep -qx 'data: \\[DONE\\]'" % (self.url, self.url)])
        self.cmd("serve-openai-library", ["node", "--test", "openai.test.mjs"])
        self.cmd("serve-chat-page-chromium", ["node", "--test", "chat-page.test.mjs"])
        metrics = subprocess.run(["curl", "-sf", self.url + "/metrics"], capture_output=True,
                                 text=True).stdout
        with open(os.path.join(self.testing, "serve-metrics.txt"), "w") as f:
            f.write(metrics)
        self.cmd("serve-metrics-promtool", ["promtool", "check", "metrics"], stdin=metrics)
        # Last, as it leaves the metrics full of 4xx: malformed requests
        # against the server with a card, then a completion that generates.
        fuzz = self.cmd("serve-fuzz-with-card",
                        [sys.executable, "fuzz.py", "--url", self.url, "--card", "--requests", "2000",
                         "--seed", "2", "--retries", "1"], timeout=400)
        print("\n".join(l for l in (fuzz.stdout if fuzz else "").splitlines()
                        if "malformed" in l or "then" in l))
        self.record("serve-metrics-per-card",
                    'hc1_serve_generated_tokens_total{card="0",model="stories260K"}' in metrics and
                    "hc1_serve_time_to_first_token_seconds_bucket" in metrics)

    def main(self):
        log = os.path.join(self.testing, "serve-guest.log")
        model = os.path.join(self.src, "models/llama2c/stories260K.bin")
        vm_cmd = [os.path.join(self.src, "tools/vm/hc1-vm"), "--timeout", "900", "--model", model,
                  "--device-opts", ",contexts=1,fault-inject=on",
                  "--forward", "%d:8080" % self.port, "--forward", "%d:9000" % self.turn_port,
                  "--", "sh /usr/local/share/hc1/guest-serve.sh"]
        with open(log, "w") as out:
            vm = subprocess.Popen(vm_cmd, stdout=out, stderr=subprocess.STDOUT,
                                  env=dict(os.environ, HC1_BUILD=self.build))
        try:
            for step, run in (("clients", self.clients), ("queue-full", self.queue_full)):
                if not self.wait_for("HC1-SERVE: " + step, vm, log):
                    self.record("serve-guest-reached-" + step, False, "guest never got there")
                    break
                run()
                self.hand_back()
            rc = vm.wait(timeout=900)
        finally:
            if vm.poll() is None:
                vm.kill()
                rc = vm.wait()
        with open(log, errors="replace") as f:
            print(f.read(), end="")
        self.record("serve-guest-exit", rc == 0, "hc1-vm exit %d" % rc)
        with open(os.path.join(self.testing, "serve-host.log"), "w") as f:
            f.write("\n".join(self.results) + "\n")
        return 0 if all(r.startswith("PASS") for r in self.results) else 1

    def queue_full(self):
        self.cmd("serve-openai-queue-full", ["node", "--test", "openai-queue.test.mjs"])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(Run(os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])).main())
