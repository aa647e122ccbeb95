#!/bin/sh
# Run the device-level tests against a QEMU built by qemu-device/build-qemu.sh.
#
#   tests/qtest/run.sh QEMU_BINARY [gtest options...]
#
# The test program is built by the CMake build (build/bin/qtest-hc1; set
# HC1_BUILD_DIR for another build directory).  The model comes from
# HC1_MODEL_DIR (default: the CMake cache's HC1_MODEL_DIR).
set -eu
[ $# -ge 1 ] || { echo "usage: $0 QEMU_BINARY [gtest options]" >&2; exit 2; }
QEMU=$(readlink -f "$1")
shift
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${HC1_BUILD_DIR:-$REPO/build}
TEST=$BUILD/bin/qtest-hc1
[ -x "$QEMU" ] || { echo "$0: $QEMU is not an executable" >&2; exit 2; }
[ -x "$TEST" ] || {
	echo "$0: $TEST missing: cmake --build $BUILD --target qtest-hc1" >&2
	exit 2
}
HC1_QEMU=$QEMU exec "$TEST" "$@"
