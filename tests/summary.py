#!/usr/bin/python3
"""One "LAYER: N passed, N failed, N skipped" line for a layer of the tests.

    summary.py host   OUT CTEST_JUNIT.xml           (ctest --output-junit)
    summary.py qtest  OUT GTEST.json [NAME=RC ...]  (--gtest_output=json, plus
                                                    whole programs by exit code)
    summary.py guest  OUT CONSOLE.log ...            (hc1-run-tests' output)
    summary.py serve  OUT LOG ...                    (tests/serve/run.py: PASS/FAIL
                                                    lines as the guest's)
    summary.py packages OUT LOG                      (tests/packages/run.sh: the same)

Prints every failure and every skip with its reason, then the line, and writes
the line to OUT as well so that `make test` can repeat all three at its end.
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
            name = "%s.%s" % (suite["name"], t["name"])
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


def guest(paths):
    results = []
    for path in paths:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
        for i, l in enumerate(lines):
            m = re.match(r"^(PASS|FAIL|SKIP) (\S+)(.*)$", l.strip())
            if not m:
                continue
            kind = {"PASS": "pass", "FAIL": "fail", "SKIP": "skip"}[m.group(1)]
            why = m.group(3).strip()
            if why.startswith("(") and why.endswith(")"):
                why = why[1:-1]
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
            print("%s: FAILED %s" % (layer, name))
        elif kind == "skip":
            print("%s: skipped %s: %s" % (layer, name, why))
    line = "%s: %d passed, %d failed, %d skipped" % (layer, n["pass"], n["fail"], n["skip"])
    print(line)
    with open(out, "w") as f:
        f.write(line + "\n")
    return 1 if n["fail"] or not results else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
