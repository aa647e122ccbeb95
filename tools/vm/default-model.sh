#!/bin/sh
# Print the model (or its tokenizer) the card burns in by default: the shared
# stories260K where this checkout sits beside ../shared/models, else the model
# this repository ships in models/.
#   default-model.sh model|tokenizer|name|prompt|source
# (prompt: a demo prompt in the style of the model's training text)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
shared=${HC1_MODEL_DIR:-$src/../shared/models}
if [ -f "$shared/stories260K.bin" ] && [ -f "$shared/tok512.bin" ]; then
	m=$shared/stories260K.bin t=$shared/tok512.bin n="stories260K (../shared/models)" p="Once upon a time" o=shared
else
	m=$(ls "$src"/models/*.bin 2>/dev/null | grep -v -- '-tok' | head -n 1)
	t=$(ls "$src"/models/*-tok*.bin 2>/dev/null | head -n 1)
	[ -n "$m" ] || { echo "default-model: no model in $shared or $src/models" >&2; exit 1; }
	n="$(basename "$m" .bin) (shipped in models/: the card's default)" p="And the LORD said" o=shipped
fi
case "${1:-model}" in
model) echo "$m" ;;
tokenizer) echo "$t" ;;
name) echo "$n" ;;
prompt) echo "$p" ;;
source) echo "$o" ;;
esac
