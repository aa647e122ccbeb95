# hcctl list: the card by PCI id, its driver and device node; JSON form.
. /tests/hcctl/lib.inc
need_card
expect_rc 0 hcctl list
echo "$out"
contains "$out" "1234:1c01" || fail "no 1234:1c01 in list"
contains "$out" "hc1" || fail "driver not shown"
contains "$out" "/dev/hc/0" || fail "device node not shown"
expect_rc 0 hcctl list --json
contains "$out" '"device_node":"/dev/hc/0"' || fail "json: $out"
contains "$out" '"subsystem_device":"0001"' || fail "json subsystem: $out"
exit 0
