#!/bin/bash
# make bench, several cards: aggregate tokens/s of one card and of two
# cards of the same model (stories260K) in the same guest, sessions placed
# by hc::Pool (hcctl bench --model), twice: with tools/vm/hc1-vm's engine
# placement (every engine on the last CPU when there are too few for one
# each) and with --no-pin (the scheduler's).  Writes OUT_DIR/multicard.json
# and prints a Markdown section for bench/summary.md.
#
#   tools/bench/multicard.sh BUILD_DIR OUT_DIR
#
# Environment: MC_ROUNDS (alternating one/two-card runs per boot, default 15),
# MC_SESSIONS (sessions in all, default 16), MC_TOKENS (per session, 512).
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 BUILD_DIR OUT_DIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
out=$2
raw=$build/bench
rounds=${MC_ROUNDS:-15} sessions=${MC_SESSIONS:-16} tokens=${MC_TOKENS:-512}
model=$src/models/llama2c/stories260K.bin
mkdir -p "$raw" "$out"

# One card: all sessions on /dev/hc/0.  Two: the pool spreads them over
# both.  Alternated, so drift in the shared machine's load hits both.
script="for r in \$(seq $rounds); do
	echo \"MC one \$(hcctl --card 0 bench -n $sessions -m $tokens --json)\"
	echo \"MC two \$(hcctl bench --model stories260K -n $sessions -m $tokens --json)\"
done"

for mode in pinned unpinned; do
	opts=()
	[ "$mode" = unpinned ] && opts=(--no-pin)
	echo "== bench: two cards of one model, $mode (load $(cut -d' ' -f1 /proc/loadavg))" >&2
	HC1_BUILD=$build "$src/tools/vm/hc1-vm" --timeout 900 ${opts[@]+"${opts[@]}"} \
		--card "$model" --card "$model" -- "$script" >"$raw/multicard-$mode.log"
	# The console may put terminal escapes in front of the first line.
	sed -n 's/.*MC \(one\|two\) /\1 /p' "$raw/multicard-$mode.log" | tr -d '\r' \
		>"$raw/multicard-$mode.txt"
done

/usr/bin/python3 - "$raw" "$out/multicard.json" "$(nproc)" <<'PY'
import json, statistics, sys
raw, out, ncpu = sys.argv[1], sys.argv[2], int(sys.argv[3])
res = {"cpus": ncpu, "modes": {}}
for mode in ("pinned", "unpinned"):
    runs = {"one": [], "two": []}
    for line in open("%s/multicard-%s.txt" % (raw, mode)):
        kind, doc = line.split(" ", 1)
        d = json.loads(doc)
        if d["failures"]:
            sys.exit("multicard bench: a %s-card run failed" % kind)
        runs[kind].append(d)
    cards = sorted({p["card"] for d in runs["two"] for p in d["per_session"]})
    one = statistics.median(d["tokens_per_s"] for d in runs["one"])
    two = statistics.median(d["tokens_per_s"] for d in runs["two"])
    res["modes"][mode] = {
        "one_card_tokens_per_s": one, "two_cards_tokens_per_s": two, "ratio": two / one,
        "rounds": len(runs["one"]), "sessions": runs["one"][0]["sessions"],
        "tokens_per_session": runs["one"][0]["tokens_per_session"],
        "cards_used_by_pool": cards,
        "one_card_runs": [d["tokens_per_s"] for d in runs["one"]],
        "two_card_runs": [d["tokens_per_s"] for d in runs["two"]],
    }
json.dump(res, open(out, "w"), indent=2)
m = res["modes"]
print("## Two cards of one model (`tools/bench/multicard.sh`)\n")
print("stories260K on two cards, %d sessions x %d tokens placed by `hc::Pool` (`hcctl bench "
      "--model`) against the same sessions on one card, alternated %d times in one guest; medians."
      % (m["pinned"]["sessions"], m["pinned"]["tokens_per_session"], m["pinned"]["rounds"]))
print("\n| engines | one card tok/s | two cards tok/s | ratio |\n|---|---|---|---|")
for mode, what in (("pinned", "hc1-vm's placement"), ("unpinned", "`--no-pin`")):
    r = m[mode]
    print("| %s | %.0f | %.0f | %.2f |" % (what, r["one_card_tokens_per_s"],
                                          r["two_cards_tokens_per_s"], r["ratio"]))
    if r["rounds"] != len(r["two_card_runs"]) or len(r["cards_used_by_pool"]) != 2:
        sys.exit("multicard bench: the pool did not use both cards in every two-card run")
print("\nOn %d CPUs hc1-vm keeps the first for QEMU's vCPU and puts both engines on the "
      "second: two cards then have one CPU of silicon between them, as one card has, and the "
      "ratio stays at 1 or a little below (the bound is that CPU; two engine threads "
      "time-sharing it also switch between their caches). Unpinned, the second engine runs on the "
      "first CPU in the time the vCPU leaves; the vCPU is busy for every batch of every card "
      "(the guest's driver, io_uring and hcctl under TCG), so the gain stays well short of 2. "
      "On a server with a core per card, and no TCG, the bound is each card's own rate." % ncpu)
PY
