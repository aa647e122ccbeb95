# hcctl chat: each stdin line is a turn on one session.
. /tests/hcctl/lib.inc
need_card
out=$(printf 'Once upon a time\nThe dog\n' | hcctl chat --max-tokens 16) || fail "chat exited $?"
echo "$out"
[ "$(echo "$out" | grep -c .)" -ge 2 ] || fail "expected two replies"
exit 0
