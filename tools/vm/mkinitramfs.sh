#!/bin/bash
# Build the guest's base initramfs: busybox, our init, hc1.ko, every program
# of build/bin and the host's curl with the shared libraries they need, and
# the in-guest tests.
#
#   mkinitramfs.sh OUT.cpio.gz BUILD_DIR SRC_DIR [HC1_KO [UDEVADM]]
#
# HC1_KO defaults to BUILD_DIR/kmod/hc1.ko.  UDEVADM (tools/vm/fetch-udev.sh)
# and the udev rule kmod/99-hc1.rules go in too when given, for the test
# that runs udevd in the guest (it is not started otherwise).  No
# /lib/modules tree is packed: the guest kernels have what they need built
# in and hc1.ko is insmod'ed.  The exception is the NIC's driver, which
# Debian's kernel builds as modules: hc1-vm --forward packs those into the
# run's own archive (/hc1/net), and only then.
set -euo pipefail
out=$1 build=$2 src=$3 kmod=${4:-$2/kmod/hc1.ko} udevadm=${5:-}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib/hc1,usr/local/bin,usr/share/misc,tests}

cp /bin/busybox "$root/bin/busybox"
cp "$src/tools/vm/guest-init" "$root/init"
cp "$src/tools/vm/guest-run-tests" "$root/usr/local/bin/hc1-run-tests"
[ -f "$kmod" ] && cp "$kmod" "$root/lib/hc1/hc1.ko"
[ -f /usr/share/misc/pci.ids ] && cp /usr/share/misc/pci.ids "$root/usr/share/misc/"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
printf 'root:x:0:\nhc1:x:990:\n' >"$root/etc/group"

# Programs and the libraries they link (resolved on the host: the guest's
# userland is the host's Debian).
progs=()
if [ -n "$udevadm" ]; then
	cp "$udevadm" "$root/usr/local/bin/udevadm"
	progs+=("$udevadm")
	mkdir -p "$root/etc/udev/rules.d"
	cp "$src/kmod/99-hc1.rules" "$root/etc/udev/rules.d/"
fi
# curl: the HTTP client of hc1-serve's in-guest tests.
if command -v curl >/dev/null; then
	cp "$(command -v curl)" "$root/usr/local/bin/curl"
	progs+=("$(command -v curl)")
fi
if [ -d "$build/bin" ]; then
	for f in "$build/bin"/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		cp "$f" "$root/usr/local/bin/"
		progs+=("$f")
	done
fi
[ -d "$build/lib" ] && cp -a "$build/lib"/*.so* "$root/usr/local/bin/" 2>/dev/null || true
# A script among the programs (multicard-hcctl) has no libraries: ldd fails.
for f in "${progs[@]}"; do
	{ LD_LIBRARY_PATH="$build/lib" ldd "$f" 2>/dev/null || true; } | awk '/=> \//{print $3} /^\t\/.*ld-linux/{print $1}'
done | sort -u | while read -r lib; do
	case "$lib" in "$build"/*) continue ;; esac
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
mkdir -p "$root/lib64"
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"

for d in guest hcctl; do
	[ -d "$src/tests/$d" ] && cp -r "$src/tests/$d" "$root/tests/"
done
# Only the guest's script of the serve tests (not the host's node_modules).
# Not under /tests, where hc1-run-tests finds its tests: run.py runs it.
mkdir -p "$root/usr/local/share/hc1"
cp "$src/tests/serve/guest-serve.sh" "$root/usr/local/share/hc1/"

(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
