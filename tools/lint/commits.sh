#!/bin/bash
# Check the commits of REF..HEAD as the kernel writes them
# (docs/contributing.md): a subject "subsystem: summary" of at most 72
# characters, with a known subsystem and no full stop; a body (it says
# why); and no merge of main into a branch (rebase it instead).  Merges of
# a branch into main ("Merge branch 'NAME'") are the coordinator's and
# pass.
#
#   tools/lint/commits.sh REF [HEAD]     exit 0 when every commit passes
#
# Commits listed in tools/lint/commits.landed (landed before this check
# ran; main's history is not rewritten) are skipped.
set -euo pipefail

SUBSYSTEMS="hc1 libhc hcctl qemu-hc1 hc1-serve tests debian"
MAX=72

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 REF [HEAD]" >&2; exit 2; }
ref=$1
head=${2:-HEAD}
git rev-parse -q --verify "$ref^{commit}" >/dev/null || { echo "$0: no commit $ref" >&2; exit 2; }

landed=$(dirname "$0")/commits.landed
bad=0
n=0
complain() {
	echo "$1 $2"
	echo "    $3"
	bad=$((bad + 1))
}

while read -r sha parents; do
	subject=$(git log -1 --format=%s "$sha")
	short=$(git rev-parse --short "$sha")
	if grep -q "^$sha " "$landed" 2>/dev/null; then
		continue
	fi
	n=$((n + 1))
	set -- $parents
	if [ $# -gt 1 ]; then
		case $subject in
		"Merge branch 'main'"* | "Merge branch 'master'"* | "Merge remote-tracking branch"*)
			complain "$short" "$subject" "a merge of main into a branch: rebase the branch instead" ;;
		"Merge branch '"*) ;;
		*)
			complain "$short" "$subject" "a merge that is not a branch's merge into main" ;;
		esac
		continue
	fi
	if [ ${#subject} -gt $MAX ]; then
		complain "$short" "$subject" "subject is ${#subject} characters, more than $MAX"
	fi
	sub=${subject%%: *}
	if [ "$sub" = "$subject" ]; then
		complain "$short" "$subject" "subject is not 'subsystem: summary' ($SUBSYSTEMS)"
	elif [[ " $SUBSYSTEMS " != *" $sub "* ]]; then
		complain "$short" "$subject" "unknown subsystem '$sub' (one of: $SUBSYSTEMS)"
	fi
	case $subject in
	*.) complain "$short" "$subject" "subject ends with a full stop" ;;
	esac
	if [ -z "$(git log -1 --format=%b "$sha" | grep -v -e '^[[:space:]]*$' -e '^[A-Za-z-]*: ')" ]; then
		complain "$short" "$subject" "no body: say why the change is made"
	fi
done < <(git rev-list --parents "$ref..$head")

echo "commits: $n checked since $ref, $bad problems"
[ $bad -eq 0 ]
