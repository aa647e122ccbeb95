#!/bin/sh
# Print the model (or its tokenizer) the card burns in by default: the one
# this repository ships in models/ (hc1-kjv), which QEMU also finds on its
# own in pc-bios/ when -device hc1 names none.  To burn another model, give
# hc1-vm --model (models/llama2c/stories260K.bin, or a GGUF file).
#   default-model.sh model|tokenizer|name|prompt
# (prompt: a demo prompt in the style of the model's training text)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
m=$src/models/hc1-kjv.bin t=$src/models/hc1-kjv-tok.bin
[ -f "$m" ] && [ -f "$t" ] || { echo "default-model: $m or $t is missing" >&2; exit 1; }
case "${1:-model}" in
model) echo "$m" ;;
tokenizer) echo "$t" ;;
name) echo "hc1-kjv (shipped in models/: the card's default)" ;;
prompt) echo "And the LORD said" ;;
*) echo "usage: $0 model|tokenizer|name|prompt" >&2; exit 2 ;;
esac
