/* SPDX-License-Identifier: GPL-2.0 */
/*
 * io_uring passthrough for the in-guest tests: one way to put an HC1
 * uring_cmd into an SQE, so every test builds the command the way the UAPI
 * (include/uapi/linux/hc1.h) describes it.  The fuzzers build raw SQEs on
 * purpose and do not use this.
 */
#ifndef HC1_URING_H
#define HC1_URING_H

#include <liburing.h>
#include <stdint.h>
#include <string.h>

#include <linux/hc1.h>

/* IORING_OP_URING_CMD @op on @fd whose argument struct is @arg, @len bytes. */
static inline void hc1_prep_uring_cmd(struct io_uring_sqe* sqe, int fd, uint32_t op,
                                      const void* arg, uint32_t len) {
    struct hc1_uring_cmd cmd = {.addr = (uintptr_t)arg, .len = len};

    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
    sqe->cmd_op = op;
    memcpy(sqe->cmd, &cmd, sizeof(cmd));
}

#endif /* HC1_URING_H */
