#!/bin/sh
# The engine must print, byte for byte, the greedy text that the reference
# sampler (tools/train/sample.py, run.c semantics, fp32) recorded for the
# default model.  Usage: engine-greedy.sh HC1_ENGINE REPO_ROOT
set -eu
engine=$1
root=$2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$engine" run --model "$root/models/hc1-kjv.bin" --tokenizer "$root/models/hc1-kjv-tok.bin" \
	--format fp32 --temperature 0 --steps 200 "And the LORD said" >"$out"
if cmp -s "$out" "$root/tests/model/expected-greedy.txt"; then
	echo "engine greedy output matches tests/model/expected-greedy.txt"
	exit 0
fi
echo "engine greedy output differs from tests/model/expected-greedy.txt:" >&2
diff "$root/tests/model/expected-greedy.txt" "$out" >&2 || true
exit 1
