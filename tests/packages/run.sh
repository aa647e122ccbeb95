#!/bin/bash
# make test-packages: build the Debian packages, install them on this
# machine and test them as a user of the stack would meet them.
#
#   run.sh SRC_DIR BUILD_DIR KREL [JOBS]
#
# KREL is the guest's kernel release (the Makefile's, from
# linux-headers-amd64): DKMS must build hc1.ko for it, and a guest booting
# that kernel loads the module DKMS installed.  Prints one "PASS name",
# "FAIL name (why)" or "SKIP name (why)" line per check, as the guest's
# tests do (tests/summary.py packages reads them).  Runs as root: it
# installs, removes and purges the packages (docs/packaging.md).  A copy of
# the packages left installed by an interrupted run is purged first.
set -uo pipefail
src=$(cd "$1" && pwd) build=$(cd "$2" && pwd) krel=$3 jobs=${4:-2}
version=$(cat "$src/VERSION")
major=${version%%.*}
deb=$build/deb
pkgs=(hc1-dkms libhc0 libhc-dev hcctl hc1-serve)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
rc=0
rules_path=/lib/udev/rules.d/99-hc1.rules

pass() { echo "PASS $1"; }
phase() { echo "== packages: $* (at ${SECONDS}s)"; }
fail() { echo "FAIL $1${2:+ ($2)}"; rc=1; }
# check NAME CMD...: PASS if CMD succeeds; its output is shown either way.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name" "$*"; fi
}
# same NAME WANT GOT
same() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "want '$2', got '$3'"; fi
}

if [ "$(id -u)" != 0 ]; then
	fail packages-root "installing packages needs root"
	exit 1
fi
[ -n "$krel" ] || { fail packages-krel "no guest kernel release (linux-headers-amd64)"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hc1-packages.XXXXXX")
trap 'rm -rf "$work"' EXIT

purge_all() {
	local present=()
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.[^n]' && present+=("$p")
	done
	# dpkg, not apt: apt knows no package of ours once it is removed.
	[ ${#present[@]} -eq 0 ] || dpkg --purge "${present[@]}"
}

# Every path of the places a package of ours could leave something, whose
# name is ours.  Taken before the install and after the purge: they must be
# equal.
snapshot() {
	find /etc /lib/modules /lib/udev /lib/systemd /usr/src /usr/include /usr/bin /usr/sbin \
		/usr/lib/"$multiarch" /usr/share/man /usr/share/doc /var/lib/dkms /var/lib/systemd \
		/var/lib/dpkg/info 2>/dev/null |
		grep -E '(hc1|libhc|hcctl)|/hc(\.pc|/|$)' | sort
}

phase "build (tools/deb/build.sh: dpkg-buildpackage, lintian)"
if "$src/tools/deb/build.sh" "$src" "$deb" "$jobs"; then
	pass packages-build-lintian
else
	fail packages-build-lintian "dpkg-buildpackage or lintian failed"
	echo "packages: cannot go on without the packages"
	exit 1
fi
debs=()
for p in "${pkgs[@]}"; do
	f=$(ls "$deb/${p}_${version}_"*.deb 2>/dev/null | head -1)
	if [ -n "$f" ]; then debs+=("$f"); else fail "package-$p" "no ${p}_${version}_*.deb in $deb"; fi
done
[ ${#debs[@]} -eq ${#pkgs[@]} ] || exit 1
pass packages-all-five-at-version-$version

# Every warning lintian accepts is explained: a comment right above it.
unexplained=$(awk 'FNR == 1 { prev = "" } /^[^#]/ && NF && prev !~ /^#/ { print FILENAME ": " $0 } { prev = $0 }' \
	"$src"/debian/*.lintian-overrides 2>/dev/null)
same lintian-overrides-explained "" "$unexplained"

phase "the SDK from a relocated prefix (the packages unpacked elsewhere)"
root=$work/relocated
for p in libhc0 libhc-dev; do dpkg-deb -x "$deb/${p}_${version}_"*.deb "$root"; done
cat >"$work/app.cpp" <<'END'
#include <hc/hc.hpp>
#include <iostream>
#include <span>
int main() {
    std::cout << hc::version() << " " << HC_VERSION_STRING << "\n";
    // No card here: the API still runs (an empty list, an error with errno).
    std::cout << hc::device_paths().size() << "\n";
    try {
        hc::Card::open(0);
    } catch (const hc::Error& e) {
        std::cout << "error " << e.code() << "\n";
    }
}
END
cat >"$work/app.c" <<'END'
#include <hc/hc.h>
#include <stdio.h>
int main(void) {
    struct hc_card* card = NULL;
    int rc = hc_card_open("/nonexistent/hc/9", &card);
    printf("%s %d\n", hc_version(), rc < 0);
    hc_card_close(card);
    return 0;
}
END
mkdir -p "$work/cmake-app"
cp "$work/app.cpp" "$work/cmake-app/app.cpp"
cat >"$work/cmake-app/CMakeLists.txt" <<'END'
cmake_minimum_required(VERSION 3.25)
project(app LANGUAGES CXX)
find_package(hc REQUIRED)
add_executable(app app.cpp)
target_link_libraries(app PRIVATE hc::hc)
END
# The four-line project of the issue, no C++ standard of its own: hc::hc
# must bring C++20 (GCC 12 defaults to C++17).
cmake_app() { # NAME BUILD_DIR CMAKE_ARGS...: configure, build, run
	local name=$1 dir=$2
	shift 2
	rm -rf "$dir"
	if cmake -S "$work/cmake-app" -B "$dir" -G Ninja "$@" >"$dir.log" 2>&1 &&
		ninja -C "$dir" >>"$dir.log" 2>&1; then
		"$dir/app" >"$dir.out" 2>&1 || true
		same "$name" "$version $version
0
error 2" "$(cat "$dir.out")"
	else
		cat "$dir.log"
		fail "$name" "configure or build failed"
	fi
}
mkdir -p "$work/b"
cmake_app sdk-relocated-cmake "$work/b/reloc-cmake" -DCMAKE_PREFIX_PATH="$root/usr" \
	-DCMAKE_FIND_USE_CMAKE_SYSTEM_PATH=OFF -DCMAKE_BUILD_RPATH="$root/usr/lib/$multiarch"
grep -q -- "$root/usr/include" "$work/b/reloc-cmake/build.ninja" ||
	fail sdk-relocated-cmake-includes "the relocated headers were not used"
pcdir=$root/usr/lib/$multiarch/pkgconfig
cflags=$(PKG_CONFIG_LIBDIR=$pcdir pkg-config --cflags hc)
libs=$(PKG_CONFIG_LIBDIR=$pcdir pkg-config --libs hc)
case "$cflags $libs" in
*"$root"*) pass sdk-relocated-pc-paths ;;
*) fail sdk-relocated-pc-paths "hc.pc does not follow its prefix: $cflags $libs" ;;
esac
if g++ $(PKG_CONFIG_LIBDIR=$pcdir pkg-config --variable=cxxflags hc) $cflags "$work/app.cpp" \
	-o "$work/b/reloc-pc" $libs -Wl,-rpath,"$root/usr/lib/$multiarch"; then
	same sdk-relocated-pkgconfig-cxx "$version $version
0
error 2" "$("$work/b/reloc-pc" 2>&1)"
else
	fail sdk-relocated-pkgconfig-cxx "g++ failed"
fi

phase "install"
purge_all >/dev/null 2>&1 || true
snapshot >"$work/before"
# apt installs what they depend on (dkms, adduser, liburing2, ...).
if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${debs[@]}"; then
	pass packages-install
else
	fail packages-install "apt-get install failed"
	purge_all || true
	exit 1
fi
for p in "${pkgs[@]}"; do
	same "installed-version-$p" "$version" "$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null)"
done
# The listing must see what is installed, or its comparison proves nothing.
snapshot >"$work/installed"
if grep -qx "/usr/src/hc1-$version" "$work/installed" && grep -qx /usr/include/hc "$work/installed" &&
	grep -qx "$rules_path" "$work/installed"; then
	pass snapshot-sees-installed
else
	fail snapshot-sees-installed "the listing misses the installed files"
fi
declare -A files
for p in "${pkgs[@]}"; do files[$p]=$(dpkg -L "$p"); done

phase "DKMS"
dkms status hc1
# The postinst builds for the running kernel, or for every installed one
# when the running kernel has no /lib/modules (a container, this CI).  A
# host running another kernel than the guest's gets the guest's module as
# any kernel does whose headers come later: from DKMS's hook for them.
if ! dkms status "hc1/$version" -k "$krel" | grep -q ': installed' && [ -e "/lib/modules/$(uname -r)" ]; then
	echo "packages: the running kernel $(uname -r) is not the guest's: DKMS's headers hook for $krel"
	/etc/kernel/header_postinst.d/dkms "$krel"
	dkms status hc1
fi
case "$(dkms status "hc1/$version" -k "$krel")" in
*": installed"*) pass dkms-installed-for-$krel ;;
*) fail dkms-installed-for-$krel "dkms status: $(dkms status hc1)" ;;
esac
ko=$(find "/lib/modules/$krel/updates" -name 'hc1.ko*' 2>/dev/null | head -1)
if [ -n "$ko" ]; then
	pass "dkms-module-file ($ko)"
	same dkms-module-version "$version" "$(modinfo -F version "$ko")"
	same dkms-conf-version "PACKAGE_VERSION=\"$version\"" \
		"$(grep '^PACKAGE_VERSION=' "/usr/src/hc1-$version/dkms.conf")"
	grep -q "updates/dkms/hc1.ko" "/lib/modules/$krel/modules.dep" &&
		pass dkms-depmod || fail dkms-depmod "hc1.ko not in modules.dep"
	# hc1-vm inserts the file as is: give it an uncompressed one.
	case "$ko" in
	*.xz) xz -dc "$ko" >"$work/hc1.ko" ;;
	*.zst) zstd -dcq "$ko" >"$work/hc1.ko" ;;
	*.gz) gzip -dc "$ko" >"$work/hc1.ko" ;;
	*) cp "$ko" "$work/hc1.ko" ;;
	esac
	srcversion=$(modinfo -F srcversion "$work/hc1.ko")
else
	fail dkms-module-file "no hc1.ko under /lib/modules/$krel/updates"
fi

phase "what the packages put in place"
rules=$rules_path
check udev-rule-installed cmp "$src/kmod/99-hc1.rules" "$rules"
check group-hc1-exists getent group hc1
same hcctl-version "hcctl $version" "$(hcctl --version 2>&1)"
same hc1-serve-version "hc1-serve $version" "$(hc1-serve --version 2>&1)"
lib=/usr/lib/$multiarch/libhc.so.$version
same libhc-soname "libhc.so.$major" "$(objdump -p "$lib" 2>/dev/null | awk '/SONAME/ { print $2 }')"
same libhc-pc-version "$version" "$(pkg-config --modversion hc 2>&1)"
unit=/lib/systemd/system/hc1-serve.service
if [ -f "$unit" ] && grep -qx 'DynamicUser=yes' "$unit" && grep -qx 'SupplementaryGroups=hc1' "$unit"; then
	pass hc1-serve-unit-unprivileged-in-hc1
else
	fail hc1-serve-unit-unprivileged-in-hc1 "$unit: no DynamicUser=yes and SupplementaryGroups=hc1"
fi
if out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
	pass hc1-serve-unit-verify
else
	fail hc1-serve-unit-verify "systemd-analyze verify: $out"
fi
for m in hcctl.1 hc1-serve.8 libhc.3; do
	page=$(find /usr/share/man -name "$m.gz" | head -1)
	if [ -n "$page" ] && out=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null) &&
		[ -z "$out" ]; then
		pass "man-$m"
	else
		fail "man-$m" "${page:-missing} ${out:-}"
	fi
done

phase "outside programs against the installed libhc-dev"
cmake_app sdk-installed-cmake "$work/b/cmake"
if g++ -std=c++20 $(pkg-config --cflags hc) "$work/app.cpp" -o "$work/b/pc" $(pkg-config --libs hc); then
	same sdk-installed-pkgconfig-cxx "$version $version
0
error 2" "$("$work/b/pc" 2>&1)"
else
	fail sdk-installed-pkgconfig-cxx "g++ failed"
fi
# Without C++20 the headers say what they need, not 'std::span' errors.
out=$(g++ -std=c++17 $(pkg-config --cflags hc) -c "$work/app.cpp" -o "$work/b/x.o" 2>&1)
case "$out" in
*"need C++20"*) pass sdk-cxx17-says-cxx20 ;;
*) fail sdk-cxx17-says-cxx20 "g++ -std=c++17: ${out:0:300}" ;;
esac
if cc $(pkg-config --cflags hc) "$work/app.c" -o "$work/b/c" $(pkg-config --libs hc); then
	same sdk-installed-pkgconfig-c "$version 1" "$("$work/b/c" 2>&1)"
else
	fail sdk-installed-pkgconfig-c "cc failed"
fi

phase "a guest boots the module DKMS built"
if [ -f "$work/hc1.ko" ]; then
	out=$(HC1_BUILD=$build "$src/tools/vm/hc1-vm" --timeout 300 --kmod "$work/hc1.ko" -- \
		'echo "HC1-MODULE $(cat /sys/module/hc1/version) $(cat /sys/module/hc1/srcversion)"; hcctl list && hcctl info' 2>&1)
	vmrc=$?
	echo "$out" | tail -40
	same guest-loads-dkms-module "HC1-MODULE $version $srcversion" \
		"$(echo "$out" | tr -d '\r' | grep -m1 -o 'HC1-MODULE .*')"
	if [ $vmrc = 0 ]; then pass guest-hcctl-list-info; else fail guest-hcctl-list-info "hc1-vm exit $vmrc"; fi
else
	fail guest-loads-dkms-module "no module from DKMS"
fi

phase "remove, then purge"
if DEBIAN_FRONTEND=noninteractive apt-get remove -y -q "${pkgs[@]}"; then
	pass packages-remove
else
	fail packages-remove "apt-get remove failed"
fi
left=$(find /lib/modules -path '*/updates/*' -name 'hc1.ko*' 2>/dev/null)
same remove-module-gone "" "$left"
same remove-dkms-tree-gone "" "$(ls -d /var/lib/dkms/hc1 /usr/src/hc1-* 2>/dev/null)"
same remove-modules-dep-clean "" "$(grep -h 'hc1\.ko' /lib/modules/*/modules.dep 2>/dev/null)"
same remove-udev-rule-gone "" "$(ls "$rules" 2>/dev/null)"
if dpkg --purge "${pkgs[@]}"; then
	pass packages-purge
else
	fail packages-purge "dpkg --purge failed"
fi
states=$(for p in "${pkgs[@]}"; do dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "$p" 2>/dev/null; done |
	grep -v '^.n' || true)
same purge-no-package-state "" "$states"
left=""
for p in "${pkgs[@]}"; do
	while IFS= read -r f; do
		# A directory stays when it holds others' files or another package
		# has it too (/usr/bin; /lib, a symlink with usrmerge).
		if [ -d "$f" ]; then
			[ -n "$(ls -A "$f" 2>/dev/null)" ] || dpkg -S "$f" >/dev/null 2>&1 || left="$left $f"
			continue
		fi
		[ -e "$f" ] || [ -L "$f" ] && left="$left $f"
	done <<<"${files[$p]}"
done
same purge-every-file-gone "" "${left# }"
snapshot >"$work/after"
same purge-leaves-nothing-named-ours "" "$(diff "$work/before" "$work/after")"
# The group stays, as Debian's packages keep their system groups
# (docs/packaging.md): this checks the policy is what the docs say.
check purge-keeps-group-hc1 getent group hc1

exit $rc
