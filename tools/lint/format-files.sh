#!/bin/sh
# The files clang-format owns (.clang-format): userspace C and C++.  kmod/
# and the contract headers it shares (include/hc1, include/uapi, the
# engine's C interface) follow the kernel's style, and the device model
# QEMU's: checkpatch.pl of each project checks them (make lint).
#   tools/lint/format-files.sh [SOURCE_DIR]     one path a line
set -eu
cd "${1:-$(dirname "$0")/../..}"
git ls-files '*.c' '*.h' '*.cpp' '*.hpp' | grep -v -e '^kmod/' -e '^qemu-device/hc1\.c$' \
	-e '^include/hc1/' -e '^include/uapi/' -e '^qemu-device/engine/hc1_engine\.h$'
