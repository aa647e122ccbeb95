/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * HC1 PCI identity: how the card shows on the bus.  Part of the hardware
 * contract (hc1/hw.h includes it), in a header of its own for tools that
 * look for the card on the bus (hcctl list, through libpci) and need
 * nothing else of the hardware.
 */
#ifndef HC1_PCI_IDS_H
#define HC1_PCI_IDS_H

#define HC1_PCI_VENDOR_ID 0x1234	/* QEMU's test vendor: no silicon yet */
#define HC1_PCI_DEVICE_ID 0x1c01
#define HC1_PCI_SUBSYS_VENDOR_ID 0x1234
#define HC1_PCI_SUBSYS_ID 0x0001
#define HC1_PCI_CLASS 0x120000		/* processing accelerator */
#define HC1_PCI_REVISION 0x01

#endif /* HC1_PCI_IDS_H */
