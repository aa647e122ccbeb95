/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel API differences, answered by the Kbuild probes in hc1_compat.sh
 * (hc1_compat_gen.h), never by version numbers.
 */
#ifndef HC1_COMPAT_H
#define HC1_COMPAT_H

#include <linux/device.h>
#include <linux/mm.h>

#include "hc1_compat_gen.h"

#ifdef HC1_HAVE_IO_URING_CMD_H
#include <linux/io_uring/cmd.h>	/* 6.7+: uring_cmd API moved here */
#else
#include <linux/io_uring.h>
#endif

/* The 16-byte command payload of the SQE (sqe->cmd). */
static inline const void *hc1_uring_cmd_payload(struct io_uring_cmd *ioucmd)
{
#ifdef HC1_HAVE_IO_URING_SQE_CMD
	return io_uring_sqe_cmd(ioucmd->sqe);
#else
	return ioucmd->cmd;
#endif
}

static inline void hc1_uring_cmd_done(struct io_uring_cmd *ioucmd, int res,
				      unsigned int issue_flags)
{
#ifdef HC1_IO_URING_CMD_DONE_ISSUE_FLAGS
	io_uring_cmd_done(ioucmd, res, 0, issue_flags);
#else
	io_uring_cmd_done(ioucmd, res, 0);
#endif
}

#ifdef HC1_CLASS_CREATE_NO_OWNER
#define hc1_class_create(name) class_create(name)
#else
#define hc1_class_create(name) class_create(THIS_MODULE, name)
#endif

/* class->devnode() takes a const device from 6.2 on. */
#ifdef HC1_DEVNODE_CONST_DEV
#define HC1_DEVNODE_CONST const
#else
#define HC1_DEVNODE_CONST
#endif

static inline void hc1_vm_flags_set(struct vm_area_struct *vma,
				    unsigned long flags)
{
#ifdef HC1_HAVE_VM_FLAGS_SET
	vm_flags_set(vma, flags);
#else
	vma->vm_flags |= flags;
#endif
}

static inline void hc1_vm_flags_clear(struct vm_area_struct *vma,
				      unsigned long flags)
{
#ifdef HC1_HAVE_VM_FLAGS_SET
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

#endif /* HC1_COMPAT_H */
