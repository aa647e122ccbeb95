/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * HC1_REG_TEST: the fault injection of test builds of the card (feature
 * HC1_FEAT_FAULT_INJECT).  Part of the hardware contract (hc1/hw.h includes
 * it), in a header of its own for the tests that write these bits through
 * the driver's debugfs file fault_inject, which hands them to the register
 * unchanged: a test hook, not part of the user API.
 */
#ifndef HC1_FAULT_INJECT_H
#define HC1_FAULT_INJECT_H

#define HC1_TEST_DROP_IRQ (1u << 0)	/* never raise MSI-X */
#define HC1_TEST_STALL_ENGINE (1u << 1)	/* generations make no progress */
#define HC1_TEST_BAD_CID (1u << 2)	/* completions carry a wrong cid */
#define HC1_TEST_DELAY_CQE (1u << 3)	/* completions held back 2 s */
#define HC1_TEST_FATAL (1u << 4)	/* enter CSTS.CFS now */
#define HC1_TEST_SLOW_READY (1u << 5)	/* CSTS.RDY comes 300 ms after EN */
#define HC1_TEST_IGNORE_CANCEL (1u << 6)	/* CANCEL succeeds, stops nothing */
#define HC1_TEST_STUCK_EN (1u << 7)	/* CC.EN 1->0 ignored: a wedged card */
#define HC1_TEST_SLOW_ENGINE (1u << 8)	/* a step every HC1_TEST_SLOW_STEP_US */
/* Every HC1_REG_TEST bit; the device ignores the others. */
#define HC1_TEST_MASK 0x000001ffu

/*
 * HC1_TEST_SLOW_ENGINE paces every context at one token per 10 ms, so a
 * full 512-token generation lasts 5 s however fast the host: long enough
 * for a guest as slow as a KASAN kernel under TCG to cancel it mid-stream,
 * short enough that a lost cancel still ends the test.  A cancel, reset or
 * stall still acts at once.
 */
#define HC1_TEST_SLOW_STEP_US 10000u

#endif /* HC1_FAULT_INJECT_H */
