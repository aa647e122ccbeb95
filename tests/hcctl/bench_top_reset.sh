# hcctl bench (table and JSON), top (sampled) and reset.
. /tests/hcctl/lib.inc
need_card
expect_rc 0 hcctl bench -n 4 -m 32
echo "$out"
contains "$out" "aggregate:" || fail "no aggregate line"
contains "$out" "per token" || fail "no syscall figure"
expect_rc 0 hcctl bench -n 4 -m 32 --json
contains "$out" '"total_tokens":128' || fail "json: $out"
contains "$out" '"failures":0' || fail "json: $out"

expect_rc 0 hcctl top --count 2 --interval 0.2
[ "$(echo "$out" | wc -l)" = 3 ] || fail "top: $out"
expect_rc 0 hcctl top --count 1 --interval 0.1 --json
contains "$out" '"tokens_per_s":' || fail "top json: $out"

expect_rc 0 hcctl reset
echo "$out"
contains "$out" "reset" || fail "reset: $out"
expect_rc 0 hcctl run "Once upon a time" --max-tokens 8
exit 0
