#!/bin/bash
# make bench: measure every layer of the stack in one run and write
# bench/results.json, bench/*.png and bench/summary.md.
#
#   tools/bench/run.sh BUILD_DIR
#
# 1. the engine alone (hc1-engine bench: reference, fp32 and int8 weights, each
#    with every KV-cache format, 1..64 contexts)
# 2. the card alone (hc1-bench-card: the QEMU device through qtest; 1, 8 and
#    64 contexts)
# 3. end to end in a TCG guest (hc1-bench-guest through libhc: mmap, read(),
#    uring_cmd; 1, 8 and 64 sessions; time to first token)
# 4. the coalescing sweep (hc1.ko reloaded with each INTC setting)
# 4b. the driver's cost per read() and WAIT with 8 and 64 sessions calling at
#    once, in a guest of two vCPUs (tools/bench/calls.sh)
# 5. two cards of one model against one (tools/bench/multicard.sh), appended
#    to bench/summary.md
# 6. hc1-serve against libhc in the same guest, 1/8/64 streams and 256 at
#    once (tools/bench/serve.sh): "serve" in results.json, appended to the
#    summary
# Raw outputs are kept in BUILD_DIR/bench/.  Environment: HC1_KV_FORMAT (the
# card's KV-cache format in steps 2-6, and the engine-alone baseline's;
# default f32; make bench KV_FORMAT=... sets it), BENCH_ROUNDS
# (rounds per end-to-end run, default 24), BENCH_CALL_ROUNDS (rounds of
# the driver-call bench, default 8), BENCH_SWEEP (tokens:usecs pairs),
# HC1_QEMU (QEMU binary, default BUILD_DIR/qemu/qemu-system-x86_64).
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
bin=$build/bin
qemu=${HC1_QEMU:-$build/qemu/qemu-system-x86_64}
raw=$build/bench
out=$src/bench
rounds=${BENCH_ROUNDS:-24}
kv=${HC1_KV_FORMAT:-f32}
export HC1_KV_FORMAT=$kv # hc1-vm's default in steps 3-6
sweep=${BENCH_SWEEP:-"1:0 16:200 16:1000 32:1000 32:2000 32:4000 32:8000 32:16000 32:0 64:16000"}
# stories260K: the model the committed figures and the engine's targets name.
model_dir=$src/models/llama2c
model=$model_dir/stories260K.bin
tokenizer=$model_dir/tok512.bin

for f in "$bin/hc1-engine" "$bin/hc1-bench-card" "$bin/hc1-bench-guest" "$bin/hc1-bench-serve" \
	"$bin/hc1-serve" "$qemu"; do
	[ -x "$f" ] || { echo "bench: $f missing: run 'make all'" >&2; exit 2; }
done
mkdir -p "$raw" "$out"
git -C "$src" describe --always --dirty >"$raw/revision" 2>/dev/null || echo unknown >"$raw/revision"

# Every layer's engine runs on the CPU tools/vm/hc1-vm gives the card's
# engine (the last one this process may use, when there are two or more),
# so the ratios compare one engine on one CPU with itself.
engine_cpu=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status | tr ',' '\n' |
	tail -n 1 | sed 's/.*-//')
pin=(--cpus "$engine_cpu") card_pin=(--engine-cpus "$engine_cpu")
if [ "$(nproc)" -lt 2 ]; then pin=() card_pin=(); fi

# The machine is shared: record how busy it was around each step.
load() { cut -d' ' -f1 /proc/loadavg; }
declare -A loads
step() { echo "== bench: $1 (load $(load))" >&2; loads[$2]=$(load); }

step "engine alone" engine
"$bin/hc1-engine" bench --model "$model" --tokenizer "$tokenizer" --threads 1 --json "${pin[@]}" \
	>"$raw/engine.json"

step "card alone via qtest" card
for fmt in fp32 int8; do
	"$bin/hc1-bench-card" --qemu "$qemu" --model-dir "$model_dir" --format "$fmt" \
		--kv-format "$kv" --contexts 1,8,64 --rounds 8 "${card_pin[@]}" >"$raw/card-$fmt.json"
done

# The end-to-end ratios compare with the engine alone measured around the
# guest run, not only minutes before it: the pinned engine alone varies by
# +-5% from run to run on this shared host.
engine_again() {
	"$bin/hc1-engine" bench --model "$model" --tokenizer "$tokenizer" --threads 1 --json \
		--contexts 1,8,64 --kv-cache "$kv" "${pin[@]}" >"$raw/engine-$1.json"
}
engine_again before-guest

step "end to end in the guest" guest
script="ROUNDS=$rounds SWEEP='$sweep'
$(cat "$src/tools/bench/guest.sh")"
HC1_BUILD=$build HC1_QEMU=$qemu "$src/tools/vm/hc1-vm" --timeout 900 --model "$model" -- "$script" >"$raw/guest.log"
sed -n 's/.*BENCH //p' "$raw/guest.log" | tr -d '\r' >"$raw/guest.jsonl"
engine_again after-guest

step "driver calls, 2 vCPUs" calls
script="ROUNDS=${BENCH_CALL_ROUNDS:-8}
$(cat "$src/tools/bench/calls.sh")"
HC1_BUILD=$build HC1_QEMU=$qemu "$src/tools/vm/hc1-vm" --timeout 900 --smp 2 --no-pin \
	--model "$model" -- "$script" >"$raw/calls.log"
sed -n 's/.*BENCH //p' "$raw/calls.log" | tr -d '\r' >"$raw/calls.jsonl"

# Debian's python3, where python3-matplotlib lives (not a pyenv shim).
/usr/bin/python3 "$src/tools/bench/report.py" --raw "$raw" --out "$out" \
	--load-engine "${loads[engine]}" --load-card "${loads[card]}" \
	--load-guest "${loads[guest]}" --after-load "$(load)"
step "two cards of one model" multicard
{
	echo
	"$src/tools/bench/multicard.sh" "$build" "$out"
	echo
	echo "Load: $(load) after."
} >>"$out/summary.md"
step "hc1-serve against libhc" serve
{
	echo
	"$src/tools/bench/serve.sh" "$build" "$out"
	echo
	echo "Load: $(load) after."
} >>"$out/summary.md"
echo "== bench: wrote $out/results.json, $out/multicard.json, $out/summary.md and plots" >&2
