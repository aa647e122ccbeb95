#!/bin/bash
# The compatibility test: userspace and driver move on separately.
#
#   tests/compat/run.sh SRC BUILD [JOBS]
#
# 0. The previous release's hcctl and libhc test programs load today's
#    libhc.so.0 with every symbol bound (LD_BIND_NOW): the SONAME holds.
# 1. The previous release's libhc and hcctl (the git tag in
#    tests/compat/previous-release, built from the repository's history
#    into BUILD/compat) run their own in-guest tests, with that release's
#    VM runner and test scripts, against today's driver (BUILD/kmod/hc1.ko)
#    and today's card (BUILD/qemu).
# 2. The previous release's libhc test programs and hcctl, as they were
#    built, run their in-guest tests again with today's libhc.so.0 in place
#    of theirs: a program built against the previous release's headers
#    works on today's library (layouts, inline code, behaviour), not only
#    loads it.
# 3. Today's libhc and hcctl run theirs against a driver that lacks today's
#    newest feature, HC1_DRV_F_RING_OFFSETS (BUILD/kmod-compat/hc1.ko, built
#    with HC1_WITHHOLD_RING_OFFSETS=1): libhc must fall back by the feature
#    bit to the ring layout the UAPI first had.
#
# Prints PASS/FAIL lines for tests/summary.py (names prefixed with the boot)
# to stdout and into BUILD/Testing/compat-{soname,previous,abi,withheld}.log; exits
# non-zero if anything failed.  A clone made with git clone carries the tag;
# a tree without it fails (it is no test of compatibility without it).
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
jobs=${3:-2}
# "TAG COMMIT": the commit is the fallback of a clone made without tags
# (git clone --no-tags, or a CI's checkout of one branch), as it is in
# main's history.
read -r tag tag_commit <"$src/tests/compat/previous-release"
model=$src/models/llama2c/stories260K.bin
out=$build/compat
testing=$build/Testing
mkdir -p "$out" "$testing"

# The previous release's tests of libhc and hcctl that need one card.
OLD_TESTS="guest-libhc-known-answer guest-libhc-many-sessions guest-libhc-cancel-timeout
	guest-libhc-errors guest-libhc-c-api hcctl/info.sh hcctl/run.sh hcctl/errors.sh
	hcctl/chat.sh"
# Today's, on the driver without the newest feature bit.
NEW_TESTS="guest-libhc-known-answer guest-libhc-many-sessions guest-libhc-session-lifetime
	guest-libhc-c-api hcctl/info.sh hcctl/run.sh hcctl/chat.sh"

rc=0
# Tag each result line with its boot, so the summary tells them apart.
results() { sed -E "s/^(PASS|FAIL|SKIP) /\1 $1:/" | tee "$2"; }

commit=$(git -C "$src" rev-parse --verify -q "$tag^{commit}") ||
	commit=$(git -C "$src" rev-parse --verify -q "$tag_commit^{commit}") ||
	{ echo "FAIL compat: neither tag $tag nor commit $tag_commit in $src (a shallow clone? git fetch --unshallow --tags)"; exit 1; }
if [ "$commit" != "$(git -C "$src" rev-parse --verify -q "$tag_commit^{commit}")" ]; then
	echo "FAIL compat: tag $tag is not commit $tag_commit (tests/compat/previous-release)"
	exit 1
fi

# ---- the previous release, built from its tag (kept while the tag stays)
if [ "$(cat "$out/src.commit" 2>/dev/null)" != "$commit" ]; then
	rm -rf "$out/src" "$out/build"
	mkdir -p "$out/src"
	git -C "$src" archive --format=tar "$commit" | tar -x -C "$out/src"
	echo "$commit" >"$out/src.commit"
fi
[ -f "$out/build/build.ninja" ] || cmake -S "$out/src" -B "$out/build" -G Ninja >/dev/null
targets=$(for t in $OLD_TESTS; do case $t in guest-*) echo "$t" ;; esac; done)
ninja -C "$out/build" -j"$jobs" hc hcctl $targets >/dev/null

# ---- today's driver built without the newest feature
mkdir -p "$build/kmod-compat"
cp -u "$src"/kmod/* "$src/VERSION" "$build/kmod-compat/" 2>/dev/null || true
krel=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 |
	sed -n 's/.*linux-headers-\([^ ,]*\).*/\1/p')
make -s -C "/usr/src/linux-headers-$krel" M="$build/kmod-compat" HC1_INCLUDE="$src/include" \
	HC1_WITHHOLD_RING_OFFSETS=1 modules >/dev/null

# ---- the same SONAME: the previous release's programs load today's libhc
# (every symbol bound at start; without a card they stop there, 77 or 3).
echo "== compat: $tag programs on today's libhc.so.0"
for p in "$out"/build/bin/hcctl "$out"/build/bin/guest-libhc-*; do
	r=0
	LD_BIND_NOW=1 LD_LIBRARY_PATH=$build/lib "$p" --version >/dev/null 2>"$out/bind.err" || r=$?
	if grep -q "symbol lookup error\|version .* not found" "$out/bind.err" || [ $r = 127 ]; then
		echo "FAIL $tag-on-libhc:$(basename "$p") ($(head -c 200 "$out/bind.err"))"
	else
		echo "PASS $tag-on-libhc:$(basename "$p")"
	fi
done | tee "$testing/compat-soname.log"
grep -q '^FAIL' "$testing/compat-soname.log" && rc=1

echo "== compat: $tag ($commit) libhc and hcctl on today's driver and card"
HC1_BUILD=$out/build HC1_QEMU=$build/qemu/qemu-system-x86_64 HC1_KMOD=$build/kmod/hc1.ko \
	"$out/src/tools/vm/hc1-vm" --timeout 900 --model "$model" -- \
	"hcctl --version; hc1-run-tests $(echo $OLD_TESTS)" |
	results "$tag" "$testing/compat-previous.log" || {
	rc=1
	echo "FAIL $tag:boot (the guest exited non-zero)" | tee -a "$testing/compat-previous.log"
}

echo "== compat: $tag programs on today's libhc.so.0, today's driver and card"
# A build tree of the previous release's programs and today's library: the
# guest resolves libhc.so.0 through LD_LIBRARY_PATH, before the programs'
# RUNPATH (a host path it does not have), and finds no other copy.
mixed=$out/mixed
rm -rf "$mixed"
mkdir -p "$mixed/bin" "$mixed/lib"
cp "$out"/build/bin/hcctl $(for t in $targets; do echo "$out/build/bin/$t"; done) "$mixed/bin/"
cp -L "$build/lib/libhc.so.0" "$mixed/lib/" # today's, and no other libhc
HC1_BUILD=$mixed HC1_QEMU=$build/qemu/qemu-system-x86_64 HC1_KMOD=$build/kmod/hc1.ko \
	"$out/src/tools/vm/hc1-vm" --timeout 900 --model "$model" -- \
	"hcctl --version; hc1-run-tests $(echo $OLD_TESTS)" |
	results "$tag-abi" "$testing/compat-abi.log" || {
	rc=1
	echo "FAIL $tag-abi:boot (the guest exited non-zero)" | tee -a "$testing/compat-abi.log"
}

echo "== compat: today's libhc and hcctl on a driver without HC1_DRV_F_RING_OFFSETS"
# hcctl names the driver's features: the bit must really be missing.  (The
# first line of output follows the console's escape codes: not a result.)
check='if hcctl info | grep "driver " | grep -q ring_offsets; then
	echo "FAIL withheld-driver (it reports ring_offsets)"; exit 1; fi
	echo "PASS withheld-driver"'
# Fault injection: guest-libhc-session-lifetime paces the card with it.
HC1_BUILD=$build "$src/tools/vm/hc1-vm" --timeout 900 --model "$model" \
	--device-opts ,fault-inject=on --kmod "$build/kmod-compat/hc1.ko" -- \
	"hcctl info | grep 'driver '; $check; hc1-run-tests $(echo $NEW_TESTS)" |
	results withheld "$testing/compat-withheld.log" || {
	rc=1
	echo "FAIL withheld:boot (the guest exited non-zero)" | tee -a "$testing/compat-withheld.log"
}
exit $rc
