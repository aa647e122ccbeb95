#!/bin/bash
# Build the debug guest kernel (KASAN, lockdep, DEBUG_OBJECTS, kmemleak) that
# `make test-debug-kernel` runs hc1.ko's in-guest tests on.
#
#   tools/vm/build-debug-kernel.sh OUTDIR
#
# Debian's linux-source-6.1 (apt-get download, as kmod/checkpatch.sh gets
# checkpatch.pl) is unpacked once into ${XDG_CACHE_HOME:-~/.cache}/hc1/
# debug-kernel-HASH, HASH covering this script and the config fragment
# tools/vm/debug-kernel.config: changing either gives a fresh tree, and an
# unchanged pair costs one stamp check.  The kernel is x86_64_defconfig plus
# that fragment, built with `make bzImage modules` (no option is =m, so
# "modules" only writes Module.symvers, which external modules need).
#
# Output: OUTDIR/bzImage, and OUTDIR/build, a link to the configured and
# built tree to build hc1.ko against (make -C OUTDIR/build M=...).
#
# Environment: HC1_JOBS  parallel jobs (default 2)
set -euo pipefail

die() { echo "build-debug-kernel.sh: $*" >&2; exit 1; }
log() { echo "build-debug-kernel.sh: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
mkdir -p "$1"
OUTDIR=$(cd "$1" && pwd)
SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
FRAGMENT=$(dirname "$SCRIPT")/debug-kernel.config
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hc1
JOBS=${HC1_JOBS:-2}
KEY=$(cat "$SCRIPT" "$FRAGMENT" | sha256sum | cut -c1-12)
INSTANCE=$CACHE/debug-kernel-$KEY
TREE=$INSTANCE/linux
DEB_TARBALL=$CACHE/dl/linux-source-6.1.tar.xz

# The kernel build's own tools, beyond what tools/deps.sh installs for the
# default lane (objtool links libelf; kconfig and timeconst need bc).
need=""
for p in bc libelf-dev libssl-dev flex bison; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		need="$need $p"
done
[ -z "$need" ] || die "missing Debian packages:$need (make deps installs them)"

mkdir -p "$CACHE/dl" "$INSTANCE"
exec 9>"$CACHE/debug-kernel.lock"
flock 9

publish() {
	cp "$TREE/arch/x86/boot/bzImage" "$OUTDIR/bzImage.tmp"
	mv "$OUTDIR/bzImage.tmp" "$OUTDIR/bzImage"
	ln -sfn "$TREE" "$OUTDIR/build"
}

if [ -f "$INSTANCE/built" ]; then
	publish
	exit 0
fi

# ------------------------------------------------------------ source
if [ ! -f "$DEB_TARBALL" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	log "downloading linux-source-6.1"
	(cd "$tmp" && apt-get download -q linux-source-6.1 >&2)
	dpkg-deb --fsys-tarfile "$tmp"/linux-source-6.1_*.deb |
		tar -x -C "$tmp" ./usr/src/linux-source-6.1.tar.xz
	mv "$tmp/usr/src/linux-source-6.1.tar.xz" "$DEB_TARBALL"
	rm -rf "$tmp"
	trap - EXIT
fi

if [ ! -f "$INSTANCE/unpacked" ]; then
	log "unpacking into $TREE"
	rm -rf "$TREE"
	mkdir -p "$TREE"
	tar -xJf "$DEB_TARBALL" -C "$TREE" --strip-components=1
	touch "$INSTANCE/unpacked"
fi

# ------------------------------------------------------------ config
# Symbols the fragment sets ("=value") or clears ("is not set"), checked
# against the final .config.
check_config() {
	local bad="" line sym want
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			sym=${line%%=*} want=$line
			grep -qx "$want" "$TREE/.config" || bad="$bad $line"
			;;
		"# CONFIG_"*" is not set")
			sym=${line#\# }
			sym=${sym%% *}
			! grep -q "^$sym=" "$TREE/.config" || bad="$bad $sym=n"
			;;
		esac
	done <"$FRAGMENT"
	[ -z "$bad" ] || die "Kconfig did not keep:$bad (see $TREE/.config)"
}

if [ ! -f "$INSTANCE/configured" ]; then
	log "configuring: x86_64_defconfig + $(basename "$FRAGMENT")"
	make -C "$TREE" -s x86_64_defconfig
	(cd "$TREE" && scripts/kconfig/merge_config.sh -m -O "$TREE" .config "$FRAGMENT" >/dev/null)
	make -C "$TREE" -s olddefconfig
	check_config
	touch "$INSTANCE/configured"
fi

# ------------------------------------------------------------ build
log "building bzImage and Module.symvers with -j$JOBS (15-40 minutes from scratch)"
start=$(date +%s)
make -C "$TREE" -s -j"$JOBS" bzImage modules
log "built in $(($(date +%s) - start)) s"
touch "$INSTANCE/built"
publish
