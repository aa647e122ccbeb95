# Exit codes: no card 3, usage 2, permission 5, driver not loaded 4.
. /tests/hcctl/lib.inc
need_card
expect_rc 3 hcctl -d 7 info
grep -q "/dev/hc/7" /tmp/hcctl.err || fail "no device named"
expect_rc 3 hcctl -d /dev/null info
expect_rc 2 hcctl run
expect_rc 2 hcctl run "x" --max-tokens lots
expect_rc 2 hcctl frobnicate
expect_rc 2 hcctl bench -n 100000

# Permission denied, with the udev hint, for a user outside group hc1.
grep -q '^hctest:' /etc/passwd || echo 'hctest:x:1000:1000::/tmp:/bin/sh' >>/etc/passwd
chmod 0660 /dev/hc/0
expect_rc 5 su -p hctest -c "hcctl info"
grep -q "hint:" /tmp/hcctl.err || fail "no hint for permission denied"

# A member of group hc1 may use the card but not reset it (CAP_SYS_ADMIN).
grep -q '^hcuser:' /etc/passwd || echo 'hcuser:x:1001:990::/tmp:/bin/sh' >>/etc/passwd
expect_rc 0 su -p hcuser -c "hcctl run 'Once upon a time' --max-tokens 4"
expect_rc 5 su -p hcuser -c "hcctl reset"
grep -q "CAP_SYS_ADMIN" /tmp/hcctl.err || fail "no hint for reset without privilege"

# Driver not loaded: list still shows the card (without driver), others say 4.
if [ -f /lib/hc1/hc1.ko ] && rmmod hc1 2>/dev/null; then
	expect_rc 4 hcctl info
	hcctl list >/tmp/list.out
	grep -q "no driver" /tmp/list.out || { cat /tmp/list.out; insmod /lib/hc1/hc1.ko; fail "list without driver"; }
	insmod /lib/hc1/hc1.ko || fail "reinsert hc1.ko"
	for n in /dev/hc/*; do chgrp hc1 "$n"; chmod 0660 "$n"; done
	expect_rc 0 hcctl info
fi
exit 0
