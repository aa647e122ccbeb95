#!/bin/sh
# Userspace talks to hc1.ko through the UAPI alone (include/uapi/linux/hc1.h):
# no program, library or test that runs as a user of the driver includes
# the hardware contract (include/hc1/hw.h), so a card revision that changes
# the hardware's structures changes the driver only.  Users of the card
# itself are exempt: the device model (qemu-device), the driver (kmod), the
# device tests (tests/qtest), and one guest test that pokes the card's
# registers with no driver bound (tests/guest/guest_hc1_probe_timeout.c).
# The PCI identity (hc1/pci_ids.h) and the fault-injection bits tests write
# through debugfs (hc1/fault_inject.h) are separate headers.
#   no_hw_in_userspace.sh SOURCE_DIR
set -eu
cd "$1"
include='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](hc1/)?hw\.h[>"]'
files=$(find libhc include/hc include/uapi tools examples tests \
	-path tests/qtest -prune -o \
	-path tests/guest/guest_hc1_probe_timeout.c -prune -o \
	-type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' -o -name '*.hpp' -o -name '*.in' \) \
	-print)
[ -n "$files" ] || { echo "FAIL: no userspace sources found under $1"; exit 1; }
hits=$(grep -n -E "$include" $files || true)
if [ -n "$hits" ]; then
	echo "FAIL: userspace includes the hardware contract; use linux/hc1.h:"
	echo "$hits"
	exit 1
fi
echo "no_hw_in_userspace: $(echo "$files" | wc -l) userspace sources, none includes hc1/hw.h"
