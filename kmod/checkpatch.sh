#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run checkpatch.pl --strict over hc1.ko's sources.  The headers package has
# no checkpatch.pl, so it comes from Debian's linux-source-6.1: the .deb is
# downloaded once (apt-get download) and only scripts/checkpatch.pl,
# spelling.txt and const_structs.checkpatch are kept in the cache.
#
#   kmod/checkpatch.sh            exit 0 when clean
# Environment: HC1_CHECKPATCH_DIR (cache, default ~/.cache/hc1/checkpatch)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${HC1_CHECKPATCH_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/hc1/checkpatch}
cp="$cache/scripts/checkpatch.pl"

if [ ! -f "$cp" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download -q linux-source-6.1 >&2)
	dpkg-deb --fsys-tarfile "$tmp"/linux-source-6.1_*.deb |
		tar -x -C "$tmp" ./usr/src/linux-source-6.1.tar.xz
	mkdir -p "$cache"
	tar -xJf "$tmp/usr/src/linux-source-6.1.tar.xz" -C "$cache" \
		--strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi

exec perl "$cp" --strict --no-tree --quiet -f "$here"/*.c "$here"/*.h
