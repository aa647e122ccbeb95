#!/bin/bash
# Build qemu-system-x86_64 with the HC1 device into OUTDIR.
#
#   qemu-device/build-qemu.sh OUTDIR
#
# Debian 12's QEMU 7.2 source (apt-get source qemu, with Debian's patches) is
# unpacked once into ${XDG_CACHE_HOME:-$HOME/.cache}/hc1/qemu/ and configured
# for x86_64-softmmu only, with every optional feature off but user
# networking (slirp: hc1-serve's port forward).  Our device is copied into
# hw/misc and hooked into its meson.build, Kconfig and trace-events between
# marker lines, so re-running is harmless.  The engine (a CMake static
# library, qemu-device/engine) is built into the cache and linked in.
#
# The cache is keyed on the build's inputs, never on the checkout's path: the
# inputs (the device, the engine, include/hc1) are staged into the cache first
# and the build reads only that copy, so a second clone of the same commit
# finds QEMU already built for it.  One persistent build directory is kept:
# when inputs change, only ninja's incremental rebuild runs.  When nothing
# changed (hash of every input), the script finishes in about a second.
#
# Output: OUTDIR/qemu-system-x86_64 and OUTDIR/pc-bios/ (SeaBIOS from the
# seabios package, option ROMs built from the QEMU source).  Run QEMU with
# -L OUTDIR/pc-bios.
#
# Environment: HC1_QEMU_DSC_DIR  directory already holding qemu_*.dsc and its
#                                tarballs (skips apt-get source)
#              HC1_JOBS          parallel jobs (default 2)
#              HC1_QEMU_SANITIZE=1  build with AddressSanitizer and UBSan
#                                (QEMU and the engine) for the device fuzzer
#                                (make stress), in its own cache area
#                                ($CACHE/asan, one for all checkouts: it is
#                                rare and takes 25 minutes from scratch) with
#                                its own lock, so the default build is
#                                untouched and never waits on it
set -euo pipefail

die() { echo "build-qemu.sh: $*" >&2; exit 1; }
log() { echo "build-qemu.sh: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
mkdir -p "$1"
OUTDIR=$(cd "$1" && pwd)
SCRIPT=$(readlink -f "${BASH_SOURCE[0]}")
DEVDIR=$(dirname "$SCRIPT")
REPO=$(cd "$DEVDIR/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hc1
# One source tree and build directory for every checkout.  Checkouts hand
# it their inputs through STAGE (below), copied file by file only where the
# content differs, so ninja's mtimes stay truthful across checkouts.
INSTANCE=$CACHE/qemu
JOBS=${HC1_JOBS:-2}
SANITIZE=${HC1_QEMU_SANITIZE:-0}
LOCK=$CACHE/build-qemu.lock
SEABIOS_DIR=/usr/share/seabios

CONFIGURE_FLAGS=(
	--target-list=x86_64-softmmu
	--without-default-features
	--disable-docs
	--disable-werror
	--disable-install-blobs
	--enable-trace-backends=log
	--enable-slirp
)
ENGINE_CMAKE_FLAGS=()
if [ "$SANITIZE" = 1 ]; then
	INSTANCE=$CACHE/asan
	LOCK=$INSTANCE/build-qemu.lock
	CONFIGURE_FLAGS+=(--enable-sanitizers)
	ENGINE_CMAKE_FLAGS+=(
		"-DCMAKE_C_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer"
		"-DCMAKE_CXX_FLAGS=-fsanitize=address,undefined -fno-omit-frame-pointer")
fi

mkdir -p "$INSTANCE"

# ------------------------------------------------------------ QEMU source
DL=${HC1_QEMU_DSC_DIR:-$CACHE/dl}

# Sets DSC, QEMU_VERSION and SRC; returns 1 if nothing is downloaded yet.
locate_source() {
	ls "$DL"/qemu_*.dsc >/dev/null 2>&1 || return 1
	DSC=$(ls "$DL"/qemu_*.dsc | sort -V | tail -n1)
	QEMU_VERSION=$(sed -n 's/^Version: //p' "$DSC")
	# One tree per upstream version (1:7.2+dfsg-7+deb12u18 -> qemu-7.2); a
	# new Debian revision re-unpacks it.
	local upstream=${QEMU_VERSION#*:}
	SRC=$INSTANCE/src/qemu-${upstream%%[+-]*}
}

fetch_source() {
	if ! locate_source; then
		mkdir -p "$DL"
		log "fetching Debian's QEMU source (apt-get source qemu)"
		(cd "$DL" && apt-get source --download-only qemu) >&2 ||
			die "apt-get source qemu failed (is deb-src enabled?)"
		locate_source || die "apt-get source left no qemu_*.dsc in $DL"
	fi
	if [ "$(cat "$SRC/.hc1-unpacked" 2>/dev/null)" != "$QEMU_VERSION" ]; then
		log "unpacking $DSC"
		rm -rf "$SRC"
		mkdir -p "$INSTANCE/src"
		dpkg-source -x "$DSC" "$SRC" >&2
		echo "$QEMU_VERSION" >"$SRC/.hc1-unpacked"
	fi
}

# ------------------------------------------------------------ inputs
# Everything the build reads from the checkout, copied under the cache.
STAGE=$INSTANCE/inputs

# Mirror directory $1 into $2: copy what differs, delete what is gone.
mirror() {
	local from=$1 to=$2 f

	mkdir -p "$to"
	(cd "$from" && find . -type f -not -name '.*' -print) | while read -r f; do
		mkdir -p "$to/$(dirname "$f")"
		put_file "$from/$f" "$to/$f"
	done
	(cd "$to" && find . -type f -print) | while read -r f; do
		[ -f "$from/$f" ] || rm -f "$to/$f"
	done
}

stage_inputs() {
	# The device reads one contract, the hardware's; libhc's and the
	# kernel's headers changing must not rebuild QEMU.
	mirror "$REPO/include/hc1" "$STAGE/include/hc1"
	mirror "$REPO/qemu-device/engine" "$STAGE/engine"
	mkdir -p "$STAGE/device"
	put_file "$DEVDIR/hc1.c" "$STAGE/device/hc1.c"
	put_file "$DEVDIR/trace-events" "$STAGE/device/trace-events"
}

# ------------------------------------------------------------ engine
ENGINE_BUILD=$INSTANCE/engine-build
ENGINE_WRAP=$INSTANCE/engine-wrap

# Builds the engine library alone: a wrapper project provides the one
# target (hc1_contract) the engine needs from the top-level CMakeLists.txt.
build_engine() {
	grep -q 'hc1_engine' "$STAGE/engine/CMakeLists.txt" ||
		die "qemu-device/engine has no hc1_engine target yet (merge branch engine)"
	mkdir -p "$ENGINE_WRAP"
	cat >"$ENGINE_WRAP/CMakeLists.txt.new" <<-EOF
		cmake_minimum_required(VERSION 3.25)
		project(hc1_engine_for_qemu C CXX)
		set(CMAKE_CXX_STANDARD 20)
		set(CMAKE_CXX_STANDARD_REQUIRED ON)
		set(CMAKE_C_STANDARD 11)
		set(CMAKE_POSITION_INDEPENDENT_CODE ON)
		set(CMAKE_ARCHIVE_OUTPUT_DIRECTORY \${CMAKE_BINARY_DIR}/lib)
		set(CMAKE_LIBRARY_OUTPUT_DIRECTORY \${CMAKE_BINARY_DIR}/lib)
		set(CMAKE_RUNTIME_OUTPUT_DIRECTORY \${CMAKE_BINARY_DIR}/bin)
		add_library(hc1_contract INTERFACE)
		target_include_directories(hc1_contract INTERFACE
		  $STAGE/include)
		add_subdirectory($STAGE/engine engine)
	EOF
	if ! cmp -s "$ENGINE_WRAP/CMakeLists.txt.new" "$ENGINE_WRAP/CMakeLists.txt"; then
		mv "$ENGINE_WRAP/CMakeLists.txt.new" "$ENGINE_WRAP/CMakeLists.txt"
		rm -rf "$ENGINE_BUILD"
	else
		rm -f "$ENGINE_WRAP/CMakeLists.txt.new"
	fi
	if [ ! -f "$ENGINE_BUILD/CMakeCache.txt" ]; then
		cmake -S "$ENGINE_WRAP" -B "$ENGINE_BUILD" -G Ninja \
			-DCMAKE_BUILD_TYPE=Release ${ENGINE_CMAKE_FLAGS[@]+"${ENGINE_CMAKE_FLAGS[@]}"} >&2
	fi
	ninja -C "$ENGINE_BUILD" -j"$JOBS" hc1_engine >&2
	ENGINE_LIBS=$(find "$ENGINE_BUILD" -name '*.a' | sort | tr '\n' ' ')
	[ -n "$ENGINE_LIBS" ] || die "engine build produced no static library"
}

# ------------------------------------------------------------ integration
# Replace (or append) the block between "# hc1 begin" and "# hc1 end" in FILE.
put_block() {
	local file=$1 block=$2 tmp

	tmp=$(mktemp)
	awk '/^# hc1 begin/ { skip = 1 } !skip { print } /^# hc1 end/ { skip = 0 }' \
		"$file" >"$tmp"
	printf '# hc1 begin (managed by qemu-device/build-qemu.sh)\n%s\n# hc1 end\n' \
		"$block" >>"$tmp"
	if cmp -s "$tmp" "$file"; then
		rm -f "$tmp"
	else
		cat "$tmp" >"$file"
		rm -f "$tmp"
	fi
}

# Copy only when the content differs, so ninja sees no spurious change.
put_file() {
	cmp -s "$1" "$2" || cp "$1" "$2"
}

integrate_device() {
	local misc=$SRC/hw/misc link_args="" lib ss=softmmu_ss san=""

	put_file "$STAGE/device/hc1.c" "$misc/hc1.c"
	put_block "$misc/trace-events" "$(cat "$STAGE/device/trace-events")"
	put_block "$misc/Kconfig" "config HC1
    bool
    default y if PCI_DEVICES
    depends on PCI && PCI_EXPRESS && MSI_NONBROKEN"
	# QEMU 7.2's configure drops UBSan when its probe fails; our device
	# and the engine (built with it) get it here in any case.
	[ "$SANITIZE" = 1 ] && san="'-fsanitize=undefined', "
	for lib in $ENGINE_LIBS; do
		link_args+="'$lib', "
	done
	# QEMU 8.1 renamed softmmu_ss to system_ss.
	grep -q '^system_ss' "$misc/meson.build" && ss=system_ss
	put_block "$misc/meson.build" "hc1_dep = declare_dependency(
  compile_args: [$san'-I$STAGE/include', '-I$STAGE/engine'],
  link_args: [$san'-Wl,--start-group', $link_args'-Wl,--end-group',
              '-lstdc++', '-lpthread', '-lm'])
$ss.add(when: 'CONFIG_HC1', if_true: [files('hc1.c'), hc1_dep])"
}

# ------------------------------------------------------------ build
BUILD=$INSTANCE/qemu-build

configure_qemu() {
	local want="${CONFIGURE_FLAGS[*]} src=$SRC"

	if [ -f "$BUILD/build.ninja" ] && [ "$(cat "$BUILD/.hc1-configure" 2>/dev/null)" = "$want" ]; then
		return
	fi
	log "configuring QEMU in $BUILD"
	rm -rf "$BUILD"
	mkdir -p "$BUILD"
	(cd "$BUILD" && "$SRC/configure" "${CONFIGURE_FLAGS[@]}") >&2
	echo "$want" >"$BUILD/.hc1-configure"
}

# QEMU only builds its x86 option ROMs when i386-softmmu is a target; we
# build them with the host compiler the way its configure would.
build_option_roms() {
	local dir=$BUILD/pc-bios/optionrom

	mkdir -p "$dir"
	printf 'TOPSRC_DIR=%s\nCC=cc\nCCAS=cc\nOBJCOPY=objcopy\nPYTHON=python3\n' \
		"$SRC" >"$dir/config.mak"
	ln -sf "$SRC/pc-bios/optionrom/Makefile" "$dir/Makefile"
	make -s -C "$dir" >&2 2>/dev/null || make -C "$dir" >&2
}

install_outputs() {
	local f

	[ -f "$SEABIOS_DIR/bios-256k.bin" ] ||
		die "$SEABIOS_DIR/bios-256k.bin missing: apt-get install seabios"
	mkdir -p "$OUTDIR/pc-bios"
	cp "$BUILD/qemu-system-x86_64" "$OUTDIR/qemu-system-x86_64.new"
	mv "$OUTDIR/qemu-system-x86_64.new" "$OUTDIR/qemu-system-x86_64"
	for f in bios-256k.bin vgabios-stdvga.bin vgabios-virtio.bin; do
		cp "$SEABIOS_DIR/$f" "$OUTDIR/pc-bios/"
	done
	for f in linuxboot.bin linuxboot_dma.bin multiboot.bin multiboot_dma.bin \
		kvmvapic.bin pvh.bin; do
		cp "$BUILD/pc-bios/optionrom/$f" "$OUTDIR/pc-bios/"
	done
	# No EFI NIC ROMs: run with -nic none (or -nodefaults).
	install_default_model
}

# The model the card burns in when -device hc1 names none (see
# HC1_DEFAULT_MODEL in hc1.c): found by QEMU like a ROM, in pc-bios/.
install_default_model() {
	local f
	for f in hc1-kjv.bin hc1-kjv-tok.bin; do
		[ -f "$REPO/models/$f" ] || die "models/$f missing"
		put_file "$REPO/models/$f" "$OUTDIR/pc-bios/$f"
	done
}

# Over contents and paths relative to the checkout: the same commit hashes
# the same wherever it is cloned.
inputs_hash() {
	{
		echo "$QEMU_VERSION ${CONFIGURE_FLAGS[*]}"
		cd "$REPO"
		sha256sum qemu-device/build-qemu.sh qemu-device/hc1.c qemu-device/trace-events
		find include/hc1 qemu-device/engine -type f -not -name '.*' -print0 |
			sort -z | xargs -0 sha256sum
	} | sha256sum | cut -d' ' -f1
}

STAMP=$OUTDIR/.hc1-inputs
up_to_date() {
	[ -x "$OUTDIR/qemu-system-x86_64" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$HASH" ]
}

# The shared build directory last finished a build of exactly these inputs
# (another clone of the same commit): install it, build nothing.
built_here() {
	[ -x "$BUILD/qemu-system-x86_64" ] && [ "$(cat "$BUILD/.hc1-inputs" 2>/dev/null)" = "$HASH" ]
}

# The common case answers at once, even while another checkout is building.
if locate_source; then
	HASH=$(inputs_hash)
	if up_to_date; then
		install_default_model
		log "up to date ($OUTDIR/qemu-system-x86_64)"
		exit 0
	fi
fi

# Several engineers (and make -j) may build at once: one at a time, the
# machine has two cores.
exec 9>"$LOCK"
flock 9
echo "$REPO" >"$INSTANCE/checkout"
fetch_source
HASH=$(inputs_hash)
if up_to_date; then
	install_default_model
	log "up to date ($OUTDIR/qemu-system-x86_64)"
	exit 0
fi
if built_here; then
	install_outputs
	echo "$HASH" >"$STAMP"
	log "reused the cached build of these inputs ($BUILD)"
	exit 0
fi

rm -f "$BUILD/.hc1-inputs"
stage_inputs
build_engine
integrate_device
configure_qemu
# Meson does not track prebuilt libraries named in link_args: relink when
# the engine changed.
ENGINE_SUM=$(cat $ENGINE_LIBS | sha256sum | cut -d' ' -f1)
if [ "$(cat "$BUILD/.hc1-engine" 2>/dev/null)" != "$ENGINE_SUM" ]; then
	rm -f "$BUILD/qemu-system-x86_64"
fi
log "building QEMU (ninja -j$JOBS)"
ninja -C "$BUILD" -j"$JOBS" qemu-system-x86_64 >&2
echo "$ENGINE_SUM" >"$BUILD/.hc1-engine"
build_option_roms
echo "$HASH" >"$BUILD/.hc1-inputs"
install_outputs
echo "$HASH" >"$STAMP"
log "built $OUTDIR/qemu-system-x86_64 (QEMU $QEMU_VERSION)"
