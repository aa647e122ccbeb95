# hcctl info: model card, queues and counters, as text and JSON.
. /tests/hcctl/lib.inc
need_card
expect_rc 0 hcctl info
echo "$out"
for w in model vocabulary sha256 queues contexts counters "state         live at PCI 0000:"; do
	contains "$out" "$w" || fail "info lacks '$w'"
done
expect_rc 0 hcctl -d 0 info --json
contains "$out" '"arch":"llama"' || fail "json: $out"
contains "$out" '"uapi_version":' || fail "json: $out"
expect_rc 0 hcctl --device /dev/hc/0 info
exit 0
