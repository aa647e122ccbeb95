/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * hc1.ko user API: ioctls and io_uring passthrough commands on /dev/hc/N.
 *
 * Model: each open file may own one *session* -- a context (KV-cache slot)
 * on the card plus a token ring in DMA memory.  A session runs one
 * generation at a time; its tokens are consumed by read(), by mmap() of the
 * ring (struct hc1_ring_header, see hc1/hw.h), or by waiting through ioctl or
 * io_uring.  Closing the file cancels and frees the session.
 *
 * Versioning: every argument struct begins with its own size, set by the
 * caller to sizeof() as it knows it.  The driver accepts smaller (older)
 * structs, zero-filling what is missing, and larger (newer) ones as long as
 * the bytes it does not know are zero (copy_struct_from_user() rules);
 * otherwise -E2BIG.  Output is written up to the smaller of the two sizes.
 * New fields are only ever appended; HC1_INFO reports feature bits.
 * Version 1 needs every field: a @size below sizeof() of version 1 is
 * -EINVAL, and one above 4096 is -E2BIG.  The driver never writes @size
 * back.  It matches ioctl numbers without their size bits, so the struct's
 * own @size is what counts.  _IO ioctls take an argument of 0 (else
 * -EINVAL).  An unknown ioctl is -ENOTTY.
 *
 * Without a session, session operations fail with -ENOENT.  Once the card
 * is gone (surprise removal), every call fails with -ENODEV; while the
 * card resets, calls that need it wait, and generations in flight fail
 * with -EIO.
 *
 * read() returns the session's tokens as __u32 values, in order, from the
 * start of the current generation: it blocks until at least one token is
 * there (-EAGAIN with O_NONBLOCK), returns 0 once the generation ended
 * and every token was read (or no generation ever ran), and the
 * generation's errno if it failed after its last token was read.  A count
 * below 4 bytes is -EINVAL.  poll() reports EPOLLIN when read() would not
 * block, EPOLLERR without a session, EPOLLERR | EPOLLHUP once the card is
 * gone.  mmap() at offset 0 of at most hc1_session.ring_bytes maps the
 * token ring read-only (PROT_WRITE: -EPERM); the mapping stays valid after
 * the session ends; once the card is gone it reads as zeros (an idle,
 * empty ring) and every call says -ENODEV.  A
 * generation produces at most 2^ring_shift tokens (@max_tokens is bounded
 * by the ring), so token i of a generation is at slot i and is never
 * overwritten while it runs.
 */
#ifndef _UAPI_LINUX_HC1_H
#define _UAPI_LINUX_HC1_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define HC1_UAPI_VERSION 1

#define HC1_IOCTL_BASE 0xc1

/* Driver features (struct hc1_info.features). */
#define HC1_DRV_F_URING_CMD (1ULL << 0)	/* io_uring passthrough */
#define HC1_DRV_F_MMAP_RING (1ULL << 1)	/* mmap() of the token ring */
#define HC1_DRV_F_POLL (1ULL << 2)	/* poll()/read() streaming */
#define HC1_DRV_F_WAIT_BATCH (1ULL << 3)	/* HC1_WAIT_BATCH */

/**
 * struct hc1_info - HC1_IOCTL_INFO: what the driver and card are
 * @size: sizeof(struct hc1_info) as the caller knows it
 * @uapi_version: HC1_UAPI_VERSION of the driver
 * @features: HC1_DRV_F_* the driver supports
 * @hw_version: HC1_HW_VERSION the card reports
 * @hw_features: HC1_FEAT_* the card reports
 * @index: N of /dev/hc/N
 * @n_contexts: sessions the card can hold at once
 * @context_len: positions per session
 * @vocab_size: tokens in the vocabulary
 * @vocab_bytes: size of the blob HC1_IOCTL_READ_VOCAB returns
 * @bos_id: beginning-of-sequence token
 * @eos_id: end-of-sequence token
 * @ring_shift: log2 of the token-ring slots a session gets
 * @max_stop: stop tokens per generation
 * @pad: 0
 */
struct hc1_info {
	__u32 size;
	__u32 uapi_version;
	__u64 features;
	__u32 hw_version;
	__u32 hw_features;
	__u32 index;
	__u32 n_contexts;
	__u32 context_len;
	__u32 vocab_size;
	__u32 vocab_bytes;
	__u32 bos_id;
	__u32 eos_id;
	__u32 ring_shift;
	__u32 max_stop;
	__u32 pad;
};

/**
 * struct hc1_buffer - HC1_IOCTL_IDENTIFY, HC1_IOCTL_READ_VOCAB, HC1_IOCTL_STATS
 * @size: sizeof(struct hc1_buffer)
 * @len: bytes available at @addr; on return, bytes written
 * @addr: user buffer
 * @offset: READ_VOCAB: first byte of the blob to copy; others: 0
 * @pad: 0
 *
 * IDENTIFY copies struct hc1_model_card, READ_VOCAB the vocabulary blob
 * (struct hc1_vocab_header and entries), STATS struct hc1_stats; each from
 * hc1/hw.h, truncated to @len.
 */
struct hc1_buffer {
	__u32 size;
	__u32 len;
	__u64 addr;
	__u32 offset;
	__u32 pad;
};

/**
 * struct hc1_session - HC1_IOCTL_SESSION_CREATE
 * @size: sizeof(struct hc1_session)
 * @flags: 0
 * @ctx: out: the card context backing the session
 * @ring_shift: out: ring holds 2^@ring_shift token slots
 * @ring_bytes: out: bytes to mmap() at offset 0 to see the ring
 * @pad: 0
 *
 * Errors: -EINVAL for non-zero @flags or @pad, -EEXIST if the file already
 * has a session, -EBUSY if every context of the card is taken.
 * HC1_IOCTL_SESSION_DESTROY ends the session as close() would: a running
 * generation is cancelled and waited for.
 */
struct hc1_session {
	__u32 size;
	__u32 flags;
	__u32 ctx;
	__u32 ring_shift;
	__u32 ring_bytes;
	__u32 pad;
};

/* struct hc1_generate.flags */
#define HC1_GENERATE_CONTINUE (1U << 0)	/* keep the KV cache (chat) */
#define HC1_GENERATE_IGNORE_EOS (1U << 1)

/**
 * struct hc1_generate - HC1_IOCTL_GENERATE and HC1_URING_CMD_GENERATE
 * @size: sizeof(struct hc1_generate)
 * @flags: HC1_GENERATE_*
 * @prompt: user pointer to @n_prompt __u32 token ids
 * @n_prompt: prompt tokens (0 only with HC1_GENERATE_CONTINUE)
 * @max_tokens: tokens to generate at most; 0 = as many as the ring holds
 * @temperature_milli: temperature * 1000; 0 = greedy
 * @top_p_milli: top-p * 1000; 0 = off
 * @top_k: 0 = off
 * @n_stop: entries used in @stop (at most hc1_info.max_stop)
 * @seed: sampler seed
 * @stop: stop tokens; entries past @n_stop must be 0
 *
 * Errors: -EINVAL for a bad field (unknown flag, a prompt longer than the
 * context, @max_tokens above the ring's slots, @temperature_milli above
 * 65535, @top_p_milli above 1000, @top_k above vocab_size, a prompt or stop
 * token outside the vocabulary), -EFAULT for an unreadable @prompt,
 * -ENOENT without a session, -EBUSY while the session is generating,
 * -EIO if the card failed the command, -ENODEV if the card is gone.
 * HC1_IOCTL_GENERATE returns once the card has the command; how the
 * generation ended is reported by HC1_IOCTL_WAIT (@status, @finish) and
 * read().  HC1_IOCTL_CANCEL asks the card to stop the running generation
 * (0 if none runs); the generation then ends with HC1_FINISH_CANCELLED.
 */
struct hc1_generate {
	__u32 size;
	__u32 flags;
	__u64 prompt;
	__u32 n_prompt;
	__u32 max_tokens;
	__u32 temperature_milli;
	__u32 top_p_milli;
	__u32 top_k;
	__u32 n_stop;
	__u64 seed;
	__u32 stop[4];
};

/* struct hc1_wait.flags */
#define HC1_WAIT_BATCH (1U << 0)

/**
 * struct hc1_wait - HC1_IOCTL_WAIT and HC1_URING_CMD_WAIT
 * @size: sizeof(struct hc1_wait)
 * @min_produced: return once the ring holds more than this many tokens
 *	(or the generation is done)
 * @timeout_ms: give up after this long with -ETIMEDOUT; 0 = forever
 * @produced: out: tokens in the ring
 * @state: out: enum hc1_ring_state
 * @finish: out: enum hc1_finish once done
 * @status: out: 0, or the negative errno the generation failed with
 * @flags: HC1_WAIT_BATCH or 0 (in; left unchanged)
 *
 * With HC1_WAIT_BATCH (HC1_IOCTL_WAIT only; HC1_DRV_F_WAIT_BATCH says the
 * driver has it) the wait is for a whole batch as the card coalesces
 * interrupts: it returns once the ring holds at least @min_produced plus
 * the card's coalesce_tokens (sysfs) tokens, or once coalesce_usecs have
 * passed and it holds more than @min_produced, or when the generation is
 * done.  Several sessions share an interrupt vector, so a plain WAIT also
 * returns on the interrupts other sessions' batches raise; a streaming
 * reader that has its first token asks for a batch and makes one system
 * call per batch of its own.
 *
 * Errors: -ENOENT without a session, -ETIMEDOUT (with the out fields
 * written), -ECANCELED if the session was destroyed meanwhile, -EINTR on a
 * signal, -EINVAL for unknown @flags (and for HC1_WAIT_BATCH on io_uring).
 * io_uring WAIT timeouts have a granularity of about 250 ms.
 */
struct hc1_wait {
	__u32 size;
	__u32 min_produced;
	__u32 timeout_ms;
	__u32 produced;
	__u32 state;
	__u32 finish;
	__s32 status;
	__u32 flags;
};

#define HC1_IOCTL_INFO _IOWR(HC1_IOCTL_BASE, 0x00, struct hc1_info)
#define HC1_IOCTL_IDENTIFY _IOWR(HC1_IOCTL_BASE, 0x01, struct hc1_buffer)
#define HC1_IOCTL_READ_VOCAB _IOWR(HC1_IOCTL_BASE, 0x02, struct hc1_buffer)
#define HC1_IOCTL_STATS _IOWR(HC1_IOCTL_BASE, 0x03, struct hc1_buffer)
#define HC1_IOCTL_SESSION_CREATE _IOWR(HC1_IOCTL_BASE, 0x10, struct hc1_session)
#define HC1_IOCTL_SESSION_DESTROY _IO(HC1_IOCTL_BASE, 0x11)
#define HC1_IOCTL_GENERATE _IOW(HC1_IOCTL_BASE, 0x12, struct hc1_generate)
#define HC1_IOCTL_WAIT _IOWR(HC1_IOCTL_BASE, 0x13, struct hc1_wait)
#define HC1_IOCTL_CANCEL _IO(HC1_IOCTL_BASE, 0x14)
#define HC1_IOCTL_RESET _IO(HC1_IOCTL_BASE, 0x20)	/* CAP_SYS_ADMIN */

/*
 * io_uring passthrough: IORING_OP_URING_CMD on the session's fd, with
 * sqe->cmd_op one of these and the 16-byte sqe->cmd holding struct
 * hc1_uring_cmd (so plain 64-byte SQEs suffice).
 *
 * HC1_URING_CMD_GENERATE starts a generation like HC1_IOCTL_GENERATE and
 * completes when it ends: cqe->res = tokens generated, or -errno.
 * HC1_URING_CMD_WAIT completes like HC1_IOCTL_WAIT: cqe->res = tokens in
 * the ring, or -errno; it is the way to sleep until tokens arrive.
 * Both complete with -ECANCELED when the session is destroyed under them.
 */
#define HC1_URING_CMD_GENERATE 0x01
#define HC1_URING_CMD_WAIT 0x02

/**
 * struct hc1_uring_cmd - payload of an HC1 uring_cmd
 * @addr: user pointer to struct hc1_generate or struct hc1_wait
 * @len: sizeof that struct, equal to its own @size (else -EINVAL)
 * @pad: 0
 *
 * Unknown cmd_op values complete with -ENOTTY; rings set up with
 * IORING_SETUP_IOPOLL get -EOPNOTSUPP.
 */
struct hc1_uring_cmd {
	__u64 addr;
	__u32 len;
	__u32 pad;
};

#endif /* _UAPI_LINUX_HC1_H */
