#!/bin/bash
# make lint: the style and static checks the project declares, each on one
# line ("lint: NAME: ok" or "FAILED" with its output), then a summary line.
# A few minutes; .ci/run runs it beside make test (docs/contributing.md).
#
#   tools/lint/run.sh SOURCE_DIR BUILD_DIR KDIR
#
#   checkpatch      kmod/checkpatch.sh: the kernel's checkpatch.pl --strict
#   kmod-w1-sparse  hc1.ko built with W=1 and sparse (C=2) against KDIR, with
#                   -Werror; any sparse warning fails
#   kernel-doc      KDIR's scripts/kernel-doc -v -Werror over the driver and
#                   the contract headers, and a kernel-doc comment on every
#                   function the driver's files share
#   qemu-checkpatch QEMU's scripts/checkpatch.pl on qemu-device/hc1.c, from
#                   the source make qemu unpacks into the cache
#   clang-format    clang-format --dry-run --Werror on userspace
#                   (tools/lint/format-files.sh; make format fixes it)
#   whitespace      git diff --check over every tracked file (.editorconfig)
#   werror          userspace built with -Werror (HC1_WERROR=ON, as CI sets)
#   commits         tools/lint/commits.sh since the last tag, if there is one
#
# Logs: BUILD_DIR/lint/NAME.log.  Environment: HC1_QEMU_SRC (QEMU source
# tree; default the one in ~/.cache/hc1/qemu/src).
set -uo pipefail

[ $# -eq 3 ] || { echo "usage: $0 SOURCE_DIR BUILD_DIR KDIR" >&2; exit 2; }
SRC=$(cd "$1" && pwd)
BUILD=$(mkdir -p "$2" && cd "$2" && pwd)
KDIR=$3
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/hc1
LOGS=$BUILD/lint
mkdir -p "$LOGS"
cd "$SRC"

failed=()
passed=0
skipped=0
SKIP=77

# check NAME COMMAND...: run it, log it, say how it went.  A command that
# cannot apply here exits SKIP after saying why.
check() {
	local name=$1 log=$LOGS/$1.log rc=0
	shift
	"$@" >"$log" 2>&1 || rc=$?
	if [ $rc -eq 0 ]; then
		echo "lint: $name: ok"
		passed=$((passed + 1))
	elif [ $rc -eq $SKIP ]; then
		echo "lint: $name: skipped: $(tail -n 1 "$log")"
		skipped=$((skipped + 1))
	else
		echo "lint: $name: FAILED"
		sed -e 's/^/    /' "$log" | head -n 60
		failed+=("$name")
	fi
}

# hc1.ko in a copy of its own (Kbuild writes beside the sources), every file
# compiled and checked: sparse's warnings do not fail a build, so any line
# of it fails this check.
kmod_w1_sparse() {
	local dir=$BUILD/kmod-lint out
	command -v sparse >/dev/null || { echo "sparse is not installed (tools/deps.sh)"; return 1; }
	rm -rf "$dir" && mkdir -p "$dir"
	cp "$SRC"/kmod/* "$SRC"/VERSION "$dir"/ 2>/dev/null
	out=$(make -C "$KDIR" M="$dir" HC1_INCLUDE="$SRC/include" W=1 C=2 \
		KCFLAGS=-Werror modules 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	! grep -q -e 'warning:' -e 'error:' <<<"$out"
}

kernel_doc() {
	local kd=$KDIR/scripts/kernel-doc fn missing=0
	[ -f "$kd" ] || { echo "$kd missing (linux-headers-amd64)"; return 1; }
	# -v: also every missing Return: section and undescribed member.
	perl "$kd" -v -none -Werror kmod/*.c kmod/*.h include/hc1/hw.h \
		include/uapi/linux/hc1.h 2>&1 | grep -v ': info: ' || true
	perl "$kd" -none -Werror kmod/*.c kmod/*.h include/hc1/hw.h \
		include/uapi/linux/hc1.h >/dev/null 2>&1 || missing=1
	# kernel-doc checks the comments it finds; a function another file
	# calls must also have one.
	for fn in $(grep -hoP '^(?!static\b)[a-z][^;(=]*?\b\Khc1_\w+(?=\()' kmod/*.c | sort -u); do
		if ! grep -qh "^ \* $fn() - " kmod/*.c kmod/*.h; then
			echo "kmod: $fn() is shared but has no kernel-doc comment"
			missing=1
		fi
	done
	return $missing
}

qemu_checkpatch() {
	local qsrc=${HC1_QEMU_SRC:-} cp
	if [ -z "$qsrc" ]; then
		for qsrc in "$CACHE"/qemu/src/qemu-*/; do :; done
	fi
	cp=${qsrc%/}/scripts/checkpatch.pl
	[ -f "$cp" ] || { echo "no QEMU source at ${qsrc:-$CACHE/qemu/src} (make qemu unpacks it)"; return 1; }
	perl "$cp" --no-tree --terse -f qemu-device/hc1.c
}

clang_format() {
	tools/lint/format-files.sh "$SRC" | xargs clang-format --dry-run --Werror
}

whitespace() {
	git diff --check "$(git hash-object -t tree /dev/null)" -- .
}

# CI sets HC1_WERROR=ON for the whole run (.ci/run); a developer's tree
# usually has it off, and then this says so instead of passing.
werror() {
	local cache=$BUILD/CMakeCache.txt
	[ -f "$cache" ] || { echo "no userspace build in $BUILD"; return 1; }
	if grep -qx 'HC1_WERROR:BOOL=ON' "$cache"; then
		echo "userspace built with -Werror"
	else
		echo "userspace built without -Werror (make lint HC1_WERROR=ON, as CI does)"
		return $SKIP
	fi
}

# The commits since the last tag (a release is where history stops being
# rewritten); none yet: nothing to hold them to.
commits() {
	local tag
	if ! tag=$(git describe --tags --abbrev=0 HEAD 2>/dev/null); then
		echo "no tag before HEAD to check commits from"
		return $SKIP
	fi
	tools/lint/commits.sh "$tag" HEAD
}

check checkpatch kmod/checkpatch.sh
check kmod-w1-sparse kmod_w1_sparse
check kernel-doc kernel_doc
check qemu-checkpatch qemu_checkpatch
check clang-format clang_format
check whitespace whitespace
check werror werror
check commits commits

if [ ${#failed[@]} -eq 0 ]; then
	echo "lint: $passed passed, 0 failed, $skipped skipped"
	exit 0
fi
echo "lint: $passed passed, ${#failed[@]} failed (${failed[*]}), $skipped skipped"
exit 1
