#!/bin/sh
# Fetch udevadm for the guest, so a test can run the real udev rule
# (kmod/99-hc1.rules) there: Debian's udev package of the installed
# systemd's version, unpacked (not installed: the host keeps no udevd) into
# $1.  udevadm is also systemd-udevd (a multi-call binary, run under that
# name); the version is the installed systemd's, whose libraries the guest
# gets.  Prints the path of udevadm.
set -eu
out=${1:?usage: fetch-udev.sh OUTDIR}

ver=$(dpkg-query -W -f='${Version}' systemd 2>/dev/null) ||
	{ echo "fetch-udev: systemd is not installed" >&2; exit 1; }
dir=$out/$ver
if [ -x "$dir/udevadm" ]; then
	echo "$dir/udevadm"
	exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q "udev=$ver" >&2)
dpkg-deb -x "$tmp"/udev_*.deb "$tmp/root"
mkdir -p "$dir"
for f in bin/udevadm usr/bin/udevadm; do
	[ -f "$tmp/root/$f" ] && cp "$tmp/root/$f" "$dir/udevadm.tmp"
done
[ -f "$dir/udevadm.tmp" ] || { echo "fetch-udev: no udevadm in the udev package" >&2; exit 1; }
mv "$dir/udevadm.tmp" "$dir/udevadm"
echo "$dir/udevadm"
