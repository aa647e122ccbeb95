#!/bin/bash
# Build the Debian packages of the stack (make deb; docs/packaging.md).
#
#   build.sh SRC_DIR OUT_DIR [JOBS]
#
# dpkg-buildpackage writes into the tree it builds (debian/<package>/,
# obj-*/, debian/changelog), so it runs in a copy, OUT_DIR/src: the working
# tree as git sees it (tracked files and untracked ones not ignored, so
# uncommitted work is packaged too).  debian/changelog is written there from
# VERSION, the stack's one version, which the packages thus carry.  Then
# lintian: an error or a warning fails (each accepted one is overridden, with
# its reason, in debian/*.lintian-overrides).  The packages land in OUT_DIR.
set -euo pipefail
src=$(cd "$1" && pwd) out=$2 jobs=${3:-2}
version=$(cat "$src/VERSION")

rm -rf "$out"
mkdir -p "$out/src"
(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
	while IFS= read -r -d '' f; do
		[ -e "$src/$f" ] && printf '%s\0' "$f"
	done | tar -C "$src" --null -T - -cf - | tar -C "$out/src" -xf -

# The entry's date is the commit's: the same commit builds the same packages.
when=$(date -R -d "@$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)")
cat >"$out/src/debian/changelog" <<END
hc1 ($version) unstable; urgency=medium

  * HC1 stack $version (the repository's VERSION; the changes are in its
    git history).

 -- HC1 project <hc1@example.org>  $when
END

cd "$out/src"
dpkg-buildpackage -b -us -uc -j"$jobs"
cd "$out"
ls -1 ./*.deb
echo "== lintian"
lintian --fail-on error,warning --display-level '>=warning' --show-overrides ./*.changes
echo "lintian: clean (no error, no warning not overridden)"
