#!/bin/sh
# The repository is all a user has: no file may reach for a path outside the
# clone (a folder beside it, a developer's home or work tree), and the
# reference models the tests need are here, unchanged.
#   self_contained.sh SOURCE_DIR
set -eu
cd "$1"
# Built from pieces so that this file does not match itself.
outside='\.\./'"shared|/work/"'main|/home/[a-z]'
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
	hits=$(git grep -n -I -E "$outside" -- . || true)
else
	hits=$(grep -rn -I -E "$outside" --exclude-dir=build --exclude-dir=.git . || true)
fi
if [ -n "$hits" ]; then
	echo "FAIL: these lines reach outside the repository:"
	echo "$hits"
	exit 1
fi
(cd models/llama2c && sha256sum -c SHA256SUMS)
