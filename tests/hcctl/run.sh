# hcctl run: the greedy answer streamed, --stats, --json, --stop.  Each model
# it accepts has its answer: a card is its model, so a test must say which
# model's text it expects (make test-guest burns stories260K; the default
# card and make demo hc1-kjv).
. /tests/hcctl/lib.inc
need_card
name=$(hcctl info --json | sed -n 's/.*"model":{"name":"\([^"]*\)".*/\1/p')
case "$name" in
stories260K)
	PROMPT="Once upon a time" ANSWER=$KNOWN STOPWORD=Lily ;;
hc1-kjv)
	PROMPT="And the LORD said" STOPWORD=Moses
	ANSWER="And the LORD said unto Moses, Thus saith the LORD of hosts." ;;
*)
	echo "SKIP: no known answer for model '$name'" >&2; exit 77 ;;
esac
expect_rc 0 hcctl run "$PROMPT" --max-tokens 120 --stats
echo "$out"
contains "$out" "$ANSWER" || fail "not the known answer of $name"
grep -q "time to first token" /tmp/hcctl.err || fail "--stats printed nothing"
grep -q "tokens/s" /tmp/hcctl.err || fail "--stats lacks tokens/s"

expect_rc 0 hcctl run "$PROMPT" --max-tokens 10 --json
contains "$out" '"tokens":10' || fail "json: $out"
contains "$out" '"finish":"length"' || fail "json: $out"

# A stop string ends the text before it and is not printed.
expect_rc 0 hcctl run "$PROMPT" --max-tokens 120 --stop "$STOPWORD" --json
contains "$out" '"finish":"stop"' || fail "stop string: $out"
contains "$out" "$STOPWORD" && fail "stop string printed: $out"

# Sampling with a seed is repeatable.
a=$(hcctl run "The cat" --temperature 1.0 --top-p 0.9 --seed 42 --max-tokens 30)
b=$(hcctl run "The cat" --temperature 1.0 --top-p 0.9 --seed 42 --max-tokens 30)
[ "$a" = "$b" ] || fail "same seed, different text"
exit 0
