#!/bin/sh
# The symbols libhc.so exports, demangled, with their versions, against the
# committed list (libhc/libhc.symbols): a symbol that appears or vanishes is
# an ABI change, made on purpose by updating the list with --update.
#   check-symbols.sh LIBHC_SO LIST [--update]
set -eu
so=$1 list=$2
actual=$(mktemp)
trap 'rm -f "$actual"' EXIT
# nm prints "VALUE TYPE NAME@@VERSION" (the version node itself has no
# version); demangle the name before its version.
nm -D --defined-only --with-symbol-versions "$so" |
	awk '{ print $NF }' |
	while IFS=@ read -r name _ version; do
		printf '%s%s\n' "$(printf '%s\n' "$name" | c++filt)" "${version:+@@$version}"
	done | LC_ALL=C sort -u >"$actual"
if [ "${3:-}" = --update ]; then
	cp "$actual" "$list"
	exit 0
fi
[ -s "$actual" ] || { echo "no exported symbols read from $so" >&2; exit 1; }
if ! diff -u "$list" "$actual"; then
	echo "libhc.so exports other symbols than $list (+ new, - gone)." >&2
	echo "A public API change? Update the list: $0 $so $list --update" >&2
	exit 1
fi
echo "libhc.so: $(wc -l <"$actual") exported symbols, as listed"
