#!/usr/bin/env python3
"""Host half of the surprise-removal test (see tests/stress/stress_hc1_hotplug.c).

  hotplug-host.py QMP_SOCKET CONSOLE_LOG DEVICE_SPEC [SECONDS]

Waits (up to SECONDS, default 600: as long as the guest's tests before it
may take) for the guest to print "HC1-HOTPLUG: streaming" on its console, makes
the card vanish (qom-set vanished), device_dels it, waits for QEMU's
DEVICE_DELETED, then device_adds DEVICE_SPEC (driver=hc1,id=...,bus=...,
key=value...) as a new card.  Prints one line per step; exit 0 when done.
"""
import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path, timeout=60):
        end = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.2)
        self.file = self.sock.makefile("rw")
        self.events = []
        self._read()  # greeting
        self.cmd("qmp_capabilities")

    def _read(self):
        line = self.file.readline()
        if not line:
            raise RuntimeError("QMP connection closed")
        return json.loads(line)

    def cmd(self, name, **args):
        self.file.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.file.flush()
        while True:
            msg = self._read()
            if "event" in msg:
                self.events.append(msg)
                continue
            if "error" in msg:
                raise RuntimeError(f"{name}: {msg['error']}")
            return msg.get("return")

    def wait_event(self, name, timeout):
        # One blocking read bounded by the time left: a file from makefile()
        # cannot be read again once a read on it timed out, so a short
        # polling timeout failed whenever the guest took over a second
        # (a KASAN guest releasing the slot).
        end = time.time() + timeout
        try:
            while True:
                for ev in self.events:
                    if ev["event"] == name:
                        self.events.remove(ev)
                        return ev
                left = end - time.time()
                if left <= 0:
                    break
                self.sock.settimeout(left)
                msg = self._read()
                if "event" in msg:
                    self.events.append(msg)
        except (socket.timeout, TimeoutError):
            pass
        finally:
            self.sock.settimeout(None)
        raise RuntimeError(f"no {name} event in {timeout} s")


def wait_console(path, text, timeout):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with open(path, errors="replace") as f:
                log = f.read()
            if text in log:
                return
            # The guest's verdict: it will print nothing more (a test that
            # failed before asking for the removal must not cost the timeout).
            if "HC1-EXIT=" in log:
                break
        except FileNotFoundError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"guest never printed {text!r}")


def main():
    sock, console, spec = sys.argv[1:4]
    start_within = int(sys.argv[4]) if len(sys.argv) > 4 else 600
    args = dict(kv.split("=", 1) for kv in spec.split(","))
    # QMP device_add wants JSON types for non-string properties.
    for k, v in args.items():
        if v in ("on", "off", "true", "false"):
            args[k] = v in ("on", "true")
        elif v.isdigit():
            args[k] = int(v)
    dev_id = args["id"]
    qmp = Qmp(sock)
    wait_console(console, "HC1-HOTPLUG: streaming", start_within)
    t0 = time.time()
    qmp.cmd("qom-set", path=f"/machine/peripheral/{dev_id}",
            property="vanished", value=True)
    print("hotplug-host: card vanished (vanished)", flush=True)
    qmp.cmd("device_del", id=dev_id)
    qmp.wait_event("DEVICE_DELETED", 300)
    print(f"hotplug-host: device_del done after {time.time() - t0:.1f} s", flush=True)
    wait_console(console, "HC1-HOTPLUG: gone", 300)
    qmp.cmd("device_add", **args)
    print("hotplug-host: device_add of a new card", flush=True)
    wait_console(console, "HC1-HOTPLUG: back", 300)
    print(f"hotplug-host: new card up {time.time() - t0:.1f} s after removal", flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report, let the VM's own verdict decide too
        print(f"hotplug-host: FAIL: {e}", flush=True)
        sys.exit(1)
