#!/bin/bash
# make bench, hc1-serve: streamed tokens/s through the server against the
# same generations through libhc in the same guest, at 1, 8 and 64
# concurrent streams; the time to first token the server adds; and 256
# streams at once on a card of 64 contexts (192 of them queued).  Adds a
# "serve" section to OUT_DIR/results.json and prints a Markdown section for
# bench/summary.md.
#
#   tools/bench/serve.sh BUILD_DIR OUT_DIR
#
# Environment: SERVE_TOKENS (max_tokens per stream, default 256),
# SERVE_ROUNDS ("streams:rounds" pairs, default "1:20 8:10 64:5"; rounds
# are generations per stream, each sent as soon as the stream's last ended).
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR OUT_DIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
out=$2
raw=$build/bench
tokens=${SERVE_TOKENS:-256}
plan=${SERVE_ROUNDS:-"1:20 8:10 64:5"}
model=$src/models/llama2c/stories260K.bin
mkdir -p "$raw" "$out"

# libhc and the server alternate at each stream count, so drift in the
# shared machine's load hits both.  The server runs as it would for users
# (the default --max-queue of 256, so 256 streams need no 503).
script="hc1-serve --listen 127.0.0.1:8080 >/tmp/serve.log 2>&1 &
i=0; while ! curl -sf -m 5 http://127.0.0.1:8080/health >/dev/null; do
	i=\$((i + 1)); [ \$i -gt 100 ] && { cat /tmp/serve.log; exit 1; }; sleep 0.1; done
for pair in $plan; do
	n=\${pair%:*} r=\${pair#*:}
	echo \"SERVE \$(hc1-bench-serve libhc --streams \$n --rounds \$r --tokens $tokens)\"
	echo \"SERVE \$(hc1-bench-serve http --streams \$n --rounds \$r --tokens $tokens)\"
done
echo \"SERVE \$(hc1-bench-serve http --streams 256 --rounds 1 --tokens $tokens --stagger-ms 2)\"
echo \"SERVE-STARTED \$(grep -c ' started on card ' /tmp/serve.log) generations\"
grep -v ' started on card ' /tmp/serve.log"

echo "== bench: hc1-serve against libhc (load $(cut -d' ' -f1 /proc/loadavg))" >&2
HC1_BUILD=$build "$src/tools/vm/hc1-vm" --timeout 900 --model "$model" -- "$script" \
	>"$raw/serve.log"
sed -n 's/.*SERVE //p' "$raw/serve.log" | tr -d '\r' >"$raw/serve.jsonl"

/usr/bin/python3 - "$raw/serve.jsonl" "$out/results.json" <<'PY'
import json, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["mode"], r["streams"]): r for r in runs}
if not runs:
    sys.exit("serve bench: no run finished")
rows = []
for n in sorted({r["streams"] for r in runs if r["mode"] == "libhc"}):
    lib, http = by[("libhc", n)], by[("http", n)]
    rows.append({"streams": n, "libhc_tokens_per_s": lib["tokens_per_s"],
                 "serve_tokens_per_s": http["tokens_per_s"],
                 "ratio": http["tokens_per_s"] / lib["tokens_per_s"],
                 "libhc_ttft_p50_ms": lib["ttft_p50_ms"], "libhc_ttft_p99_ms": lib["ttft_p99_ms"],
                 "serve_ttft_p50_ms": http["ttft_p50_ms"], "serve_ttft_p99_ms": http["ttft_p99_ms"],
                 "added_ttft_p50_ms": http["ttft_p50_ms"] - lib["ttft_p50_ms"],
                 "added_ttft_p99_ms": http["ttft_p99_ms"] - lib["ttft_p99_ms"],
                 "libhc_tokens_per_batch": lib["tokens_per_batch"],
                 "serve_tokens_per_chunk": http["tokens_per_batch"],
                 "errors": lib["errors"] + http["errors"],
                 "rounds": lib["rounds"], "tokens": lib["tokens"]})
big = by[("http", 256)]
res = {"model": "stories260K", "contexts": 64, "max_tokens": runs[0]["max_tokens"],
       "streams": rows, "max_streams": {"streams": 256, "errors": big["errors"],
                                        "tokens": big["tokens"],
                                        "tokens_per_s": big["tokens_per_s"],
                                        "order_inversions": big["order_inversions"],
                                        "ttft_p50_ms": big["ttft_p50_ms"],
                                        "ttft_p99_ms": big["ttft_p99_ms"]},
       "runs": runs}
path = sys.argv[2]
try:
    results = json.load(open(path))
except (OSError, ValueError):
    results = {}
results["serve"] = res
json.dump(results, open(path, "w"), indent=2)

print("## hc1-serve against libhc (`tools/bench/serve.sh`)\n")
print("stories260K, one card of 64 contexts, greedy completions of \"Once upon a time\" "
      "(max_tokens %d) streamed by `hc1-bench-serve` in the guest: through hc1-serve's HTTP API "
      "(one connection per stream, tokens read from each SSE chunk) and the same generations "
      "through `hc::Pool` and one `hc::EventLoop`, alternated at each stream count." % res["max_tokens"])
print("\n| streams | libhc tok/s | hc1-serve tok/s | ratio | TTFT libhc p50 / p99 ms "
      "| TTFT hc1-serve p50 / p99 ms | added p50 / p99 ms | tokens per batch / per SSE chunk "
      "| errors |\n|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| %d | %.0f | %.0f | %.2f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.1f / %.1f | %d |"
          % (r["streams"], r["libhc_tokens_per_s"], r["serve_tokens_per_s"], r["ratio"],
             r["libhc_ttft_p50_ms"], r["libhc_ttft_p99_ms"], r["serve_ttft_p50_ms"],
             r["serve_ttft_p99_ms"], r["added_ttft_p50_ms"], r["added_ttft_p99_ms"],
             r["libhc_tokens_per_batch"], r["serve_tokens_per_chunk"], r["errors"]))
for r in runs:
    if r["errors"]:
        print("\n%s, %d streams: %d failed, the first with: %s"
              % (r["mode"], r["streams"], r["errors"], r.get("first_error")))
m = res["max_streams"]
print("\n256 streams at once (sent 2 ms apart): %d errors, %.0f tok/s, time to first token p50 "
      "%.0f ms and p99 %.0f ms (192 of them wait in the queue); %d pairs started out of the order "
      "they were sent (by more than 10 ms)." % (m["errors"], m["tokens_per_s"], m["ttft_p50_ms"],
                                                m["ttft_p99_ms"], m["order_inversions"]))
PY
