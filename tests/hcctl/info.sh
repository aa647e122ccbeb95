# hcctl info: model card, queues and counters, as text and JSON.
. /tests/hcctl/lib.inc
need_card
expect_rc 0 hcctl info
echo "$out"
for w in model vocabulary sha256 queues contexts counters "state         live at PCI 0000:"; do
	contains "$out" "$w" || fail "info lacks '$w'"
done
# The KV-cache format the card was booted with (hc1-vm passes it on).
[ -n "${HC1_KV_FORMAT:-}" ] || fail "HC1_KV_FORMAT is not set: boot with tools/vm/hc1-vm"
kv=$(cat /sys/class/hc1/hc0/model/kv_format)
[ "$kv" = "$HC1_KV_FORMAT" ] || fail "sysfs model/kv_format is $kv, booted with $HC1_KV_FORMAT"
contains "$out" " weights, $kv KV cache" || fail "info lacks the $kv KV cache"
expect_rc 0 hcctl -d 0 info --json
contains "$out" '"arch":"llama"' || fail "json: $out"
contains "$out" "\"kv_format\":\"$kv\"" || fail "json lacks kv_format $kv: $out"
contains "$out" '"uapi_version":' || fail "json: $out"
expect_rc 0 hcctl --device /dev/hc/0 info
exit 0
