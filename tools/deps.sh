#!/bin/sh
# Install every Debian package the project needs, idempotently.
#
# Enables deb-src (QEMU's source comes from Debian) and installs the
# toolchain, the guest kernel's headers, the libraries the userspace
# links against, and what builds and tests the Debian packages (debhelper,
# dh-dkms, dkms, lintian; make deb, make test-packages) and the checkers of
# make lint (clang-format, sparse; checkpatch.pl and kernel-doc come from
# the kernel's source and headers, QEMU's checkpatch.pl from its source).
# Re-running it with everything present costs one dpkg query.
set -eu

PKGS="build-essential cmake ninja-build pkg-config git dpkg-dev
 python3 python3-venv meson flex bison
 libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev
 seabios linux-headers-amd64 kmod cpio busybox-static
 liburing-dev libpci-dev pciutils libcmocka-dev libgtest-dev libgmock-dev
 clang-format sparse python3-numpy python3-matplotlib
 bc libelf-dev libssl-dev
 libslirp-dev libcpp-httplib-dev nlohmann-json3-dev prometheus chromium curl
 debhelper dh-dkms dkms lintian adduser man-db systemd xz-utils iproute2"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
		missing="$missing $p"
done

need_src=0
if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ &&
   ! grep -qs '^deb-src' /etc/apt/sources.list; then
	need_src=1
fi

# node and npm run hc1-serve's test clients (the OpenAI library, puppeteer);
# a machine may have them from elsewhere (NodeSource), else Debian's.
command -v node >/dev/null && command -v npm >/dev/null || missing="$missing nodejs npm"

[ -z "$missing" ] && [ "$need_src" = 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; run 'sudo make deps'" >&2
	exit 1
fi

if [ "$need_src" = 1 ]; then
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
	else
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/hc1-src.list
	fi
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
[ -n "$missing" ] && apt-get install -y -q --no-install-recommends $missing
exit 0
