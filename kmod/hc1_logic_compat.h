/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel facilities hc1_logic.c uses, so that the same file builds
 * in hc1.ko and in the userspace unit tests.  In the kernel this is only the
 * real headers; in userspace it maps them onto libc.
 */
#ifndef HC1_LOGIC_COMPAT_H
#define HC1_LOGIC_COMPAT_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/errno.h>
#include <linux/kernel.h>
#include <linux/string.h>
#include <asm/byteorder.h>
#else
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <linux/types.h>

typedef __u8 u8;
typedef __u16 u16;
typedef __u32 u32;
typedef __u64 u64;

#define cpu_to_le16(x) htole16(x)
#define cpu_to_le32(x) htole32(x)
#define cpu_to_le64(x) htole64(x)
#define le16_to_cpu(x) le16toh(x)
#define le32_to_cpu(x) le32toh(x)
#define le64_to_cpu(x) le64toh(x)

#define min(a, b) ({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); \
		    _a < _b ? _a : _b; })
#define max(a, b) ({ __typeof__(a) _a = (a); __typeof__(b) _b = (b); \
		    _a > _b ? _a : _b; })
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define U32_MAX ((u32)~0U)
#endif

#endif /* HC1_LOGIC_COMPAT_H */
