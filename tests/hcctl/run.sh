# hcctl run: the known answer streamed, --stats, --json, --stop.
. /tests/hcctl/lib.inc
need_card
expect_rc 0 hcctl run "Once upon a time" --max-tokens 120 --stats
echo "$out"
if grep -q '"vocab_size":512' <<EOF2
$(hcctl info --json)
EOF2
then
	contains "$out" "$KNOWN" || fail "not the known answer"
fi
grep -q "time to first token" /tmp/hcctl.err || fail "--stats printed nothing"
grep -q "tokens/s" /tmp/hcctl.err || fail "--stats lacks tokens/s"

expect_rc 0 hcctl run "Once upon a time" --max-tokens 10 --json
contains "$out" '"tokens":10' || fail "json: $out"
contains "$out" '"finish":"length"' || fail "json: $out"

# A stop string ends the text before it and is not printed.
expect_rc 0 hcctl run "Once upon a time" --max-tokens 120 --stop "Lily" --json
contains "$out" '"finish":"stop"' || fail "stop string: $out"
contains "$out" 'Lily' && fail "stop string printed: $out"

# Sampling with a seed is repeatable.
a=$(hcctl run "The cat" --temperature 1.0 --top-p 0.9 --seed 42 --max-tokens 30)
b=$(hcctl run "The cat" --temperature 1.0 --top-p 0.9 --seed 42 --max-tokens 30)
[ "$a" = "$b" ] || fail "same seed, different text"
exit 0
