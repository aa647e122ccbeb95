#!/usr/bin/python3
"""One "LAYER: N passed, N failed, N skipped" line for a layer of the tests.

    summary.py host   OUT CTEST_JUNIT.xml           (ctest --output-junit)
    summary.py qtest  OUT GTEST.json [NAME=RC ...]  (--gtest_output=json, plus
                                                    whole programs by exit code)
    summary.py guest  OUT CONSOLE.log ...            (hc1-run-tests' output; a program
                                                    with TAP output counts per case)
    summary.py serve  OUT LOG ...                    (tests/serve/run.py: PASS/FAIL
                                                    lines as the guest's)
    summary.py packages OUT LOG                      (tests/packages/run.sh: the same)

Prints every failure and every skip with its reason, then the line, and writes
the line to OUT as well so that `make test` can repeat all three at its end.

Every result is named GROUP.CASE (docs/contributing.md): the host's CTest
names are registered so (engine.Tokenizer.Encode, kmod.logic); a qtest case
is qtest-hc1.SUITE.NAME; a guest program with per-case results
(tests/guest/hc1_harness.h, TAP) gives PROGRAM.CASE for each case, and any
other program counts once, by its name.
Exit status: 1 if anything failed (or nothing ran), else 0.  A skip is not a
failure: it is counted and explained.
"""
import json
import re
import sys
import xml.etree.ElementTree as ET


def reason(text):
    """The most telling line of a skipped test's output."""
    lines = [l.strip() for l in (text or "").splitlines() if l.strip()]
    for i, l in enumerate(lines):  # GoogleTest: "file:line: Skipped" then the message
        if l.endswith("Skipped") and i + 1 < len(lines):
            return lines[i + 1]
    for pattern in (r"skipped '(.*)'", r"SKIP: *(.*)"):  # unittest; our own programs
        for l in lines:
            m = re.search(pattern, l)
            if m:
                return m.group(1)
    for l in reversed(lines):
        if re.search(r"skip", l, re.I) and not re.search(r"\[  SKIPPED|\d+ skipped", l):
            return l
    return "no reason given"


def host(path):
    results = []
    for tc in ET.parse(path).getroot().iter("testcase"):
        out = tc.findtext("system-out") or ""
        status = tc.get("status", "run")
        if status == "skipped" or tc.find("skipped") is not None:
            results.append((tc.get("name"), "skip", reason(out)))
        elif status == "fail" or tc.find("failure") is not None:
            results.append((tc.get("name"), "fail", ""))
        else:
            results.append((tc.get("name"), "pass", ""))
    return results


def qtest(path, programs):
    results = []
    with open(path) as f:
        doc = json.load(f)
    for suite in doc.get("testsuites", []):
        for t in suite.get("testsuite", []):
            name = "qtest-hc1.%s.%s" % (suite["name"], t["name"])
            if t.get("result") == "SKIPPED":
                msg = " ".join(x.get("failure", "") for x in t.get("skipped", []) or [])
                results.append((name, "skip", msg or "skipped"))
            elif t.get("failures"):
                results.append((name, "fail", ""))
            else:
                results.append((name, "pass", ""))
    for p in programs:
        name, rc = p.rsplit("=", 1)
        rc = int(rc)
        results.append((name, "pass" if rc == 0 else "skip" if rc == 77 else "fail",
                        "exit 77" if rc == 77 else ""))
    return results


TAP_RESULT = re.compile(r"^(not )?ok \d+ (\S+)(?: # (.*))?$")
TAP_RUN = re.compile(r"^# RUN (\S+)$")
ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[A-Za-z])")


def program_results(name, kind, why, cases, running):
    """One program's results: its TAP cases if it printed any, else itself.

    A program that failed while none of its cases did (a timeout, a kernel
    report during its run) adds its own failure, and a case it started and
    never finished is a failure of that case.
    """
    if not cases and not running:
        return [(name, kind, why)]
    results = list(cases)
    if running:
        results.append((running, "fail", "no result: %s" % (why or "the program ended")))
    if kind == "fail" and not any(r[1] == "fail" for r in results):
        results.append((name, "fail", why))
    return results


def guest(paths):
    results = []
    for path in paths:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
        program, cases, running = None, [], None
        for l in lines:
            l = ANSI.sub("", l).strip()  # the console's resets precede the first line
            if l.startswith("=== "):
                program, cases, running = l[4:], [], None
                continue
            m = TAP_RUN.match(l)
            if m and program and m.group(1).startswith(program + "."):
                running = m.group(1)
                continue
            m = TAP_RESULT.match(l)
            if m and program and m.group(2).startswith(program + "."):
                note = (m.group(3) or "").strip()
                if m.group(1):
                    cases.append((m.group(2), "fail", note))
                elif note.upper().startswith("SKIP"):
                    cases.append((m.group(2), "skip", note[4:].strip() or "no reason given"))
                else:
                    cases.append((m.group(2), "pass", ""))
                running = None
                continue
            m = re.match(r"^(PASS|FAIL|SKIP) (\S+)(.*)$", l)
            if not m:
                continue
            kind = {"PASS": "pass", "FAIL": "fail", "SKIP": "skip"}[m.group(1)]
            why = m.group(3).strip()
            if why.startswith("(") and why.endswith(")"):
                why = why[1:-1]
            if m.group(2) == program:
                results += program_results(program, kind, why or "no reason given", cases,
                                           running)
                program, cases, running = None, [], None
            else:
                results.append((m.group(2), kind, why or "no reason given"))
    return results


def main(argv):
    if len(argv) < 4 or argv[1] not in ("host", "qtest", "guest", "serve", "packages"):
        sys.exit(__doc__)
    layer, out = argv[1], argv[2]
    try:
        if layer == "host":
            results = host(argv[3])
        elif layer == "qtest":
            results = qtest(argv[3], argv[4:])
        else:
            results = guest(argv[3:])
    except (OSError, ValueError, ET.ParseError) as e:
        results = [("%s-results" % layer, "fail", "")]
        print("summary: cannot read the %s results: %s" % (layer, e))
    n = {k: sum(1 for r in results if r[1] == k) for k in ("pass", "fail", "skip")}
    for name, kind, why in results:
        if kind == "fail":
            print("%s: FAILED %s%s" % (layer, name, " (%s)" % why if why else ""))
        elif kind == "skip":
            print("%s: skipped %s: %s" % (layer, name, why))
    line = "%s: %d passed, %d failed, %d skipped" % (layer, n["pass"], n["fail"], n["skip"])
    print(line)
    with open(out, "w") as f:
        f.write(line + "\n")
    return 1 if n["fail"] or not results else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
