#!/bin/sh
# Fetch the guest kernel: the Debian linux-image whose ABI linux-headers-amd64
# currently depends on, so hc1.ko built against the installed headers loads in
# the guest.  Unpacked (not installed) into $1; prints the kernel release.
set -eu
out=${1:?usage: fetch-kernel.sh OUTDIR}

hdr=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 | sed -n 's/.*linux-headers-\([^ ,]*\).*/\1/p')
[ -n "$hdr" ] || { echo "fetch-kernel: linux-headers-amd64 is not installed" >&2; exit 1; }

if [ -f "$out/$hdr/vmlinuz" ]; then
	echo "$hdr"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q "linux-image-$hdr-unsigned" >&2 ||
	apt-get download -q "linux-image-$hdr" >&2)
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/root"
mkdir -p "$out/$hdr"
cp "$tmp/root/boot/vmlinuz-$hdr" "$out/$hdr/vmlinuz"
rm -rf "$out/$hdr/modules"
cp -a "$tmp/root/lib/modules/$hdr" "$out/$hdr/modules"
echo "$hdr"
