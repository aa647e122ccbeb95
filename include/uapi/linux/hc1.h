/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * hc1.ko user API: ioctls and io_uring passthrough commands on /dev/hc/N.
 *
 * Model: each open file may own one *session* -- a context (KV-cache slot)
 * on the card plus a token ring in DMA memory.  A session runs one
 * generation at a time; its tokens are consumed by read(), by mmap() of the
 * ring (laid out as struct hc1_ring_offsets says), or by waiting through
 * ioctl or io_uring.  Closing the file cancels and frees the session.
 *
 * This header is the whole contract with userspace: every structure a
 * program reads (the model card, the statistics, the vocabulary, the mapped
 * ring) is defined here, in the UAPI's own terms.  The driver translates
 * from the card's structures, so a card revision changes the driver, not
 * the programs; userspace never needs the hardware's header.
 *
 * Versioning: every argument struct begins with its own size, set by the
 * caller to sizeof() as it knows it.  The driver accepts smaller (older)
 * structs, zero-filling what is missing, and larger (newer) ones as long as
 * the bytes it does not know are zero (copy_struct_from_user() rules);
 * otherwise -E2BIG.  Output is written up to the smaller of the two sizes.
 * New fields are only ever appended; HC1_INFO reports feature bits.
 * Version 1 needs every field: a @size below sizeof() of the struct's first
 * version (HC1_SESSION_SIZE_V1 for the one that has grown since) is
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
#define HC1_DRV_F_RING_OFFSETS (1ULL << 4)	/* hc1_session.offsets */

/* Card features (struct hc1_info.hw_features, struct hc1_identity.features). */
#define HC1_CARD_F_COALESCE (1U << 0)	/* interrupt coalescing (sysfs) */
#define HC1_CARD_F_POLLED_QUEUES (1U << 1)	/* queues without interrupts */
#define HC1_CARD_F_INT8 (1U << 2)	/* int8 weights available */
#define HC1_CARD_F_FAULT_INJECT (1U << 3)	/* debugfs fault_inject works */

/**
 * struct hc1_info - HC1_IOCTL_INFO: what the driver and card are
 * @size: sizeof(struct hc1_info) as the caller knows it
 * @uapi_version: HC1_UAPI_VERSION of the driver
 * @features: HC1_DRV_F_* the driver supports
 * @hw_version: the card's contract version, major << 16 | minor (informative:
 *	what userspace can use is said by @features and @hw_features)
 * @hw_features: HC1_CARD_F_* of the card
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
 * IDENTIFY copies struct hc1_identity, READ_VOCAB the vocabulary blob
 * (struct hc1_vocab_blob and entries), STATS struct hc1_card_stats; each
 * truncated to @len.
 */
struct hc1_buffer {
	__u32 size;
	__u32 len;
	__u64 addr;
	__u32 offset;
	__u32 pad;
};

/*
 * The mapped ring of a driver without HC1_DRV_F_RING_OFFSETS (UAPI 1 as
 * first released): what struct hc1_ring_offsets reads for it.
 */
#define HC1_RING_V1_PRODUCED 0
#define HC1_RING_V1_STATE 4
#define HC1_RING_V1_FINISH 8
#define HC1_RING_V1_N_PROMPT 12
#define HC1_RING_V1_SLOTS 64

/**
 * struct hc1_ring_offsets - where the mapped token ring keeps its fields
 * @produced: tokens the current generation wrote so far (__u32)
 * @state: enum hc1_generation_state (__u32)
 * @finish: enum hc1_gen_end, valid once @state is HC1_GENERATION_DONE (__u32)
 * @n_prompt: prompt tokens consumed, valid once DONE (__u32)
 * @slots: slot 0; token i of a generation is the __u32 at
 *	@slots + 4 * (i & (2^ring_shift - 1))
 * @resv: 0
 *
 * Byte offsets into the mapping, as io_uring's io_sqring_offsets are, so
 * that the layout is the driver's to choose.  The card fills the ring in
 * this order: @produced = 0 and @state = RUNNING; per batch the slots, then
 * @produced; at the end @finish and @n_prompt, then @state = DONE.  A reader
 * that loads @produced with acquire semantics may read every slot below it;
 * one that sees DONE (acquire) may trust @produced, @finish and @n_prompt.
 * The header may still describe the previous generation until the driver
 * has answered a WAIT (or read()) for the new one.
 */
struct hc1_ring_offsets {
	__u32 produced;
	__u32 state;
	__u32 finish;
	__u32 n_prompt;
	__u32 slots;
	__u32 resv[3];
};

/**
 * struct hc1_session - HC1_IOCTL_SESSION_CREATE
 * @size: sizeof(struct hc1_session)
 * @flags: 0
 * @ctx: out: the card context backing the session
 * @ring_shift: out: ring holds 2^@ring_shift token slots
 * @ring_bytes: out: bytes to mmap() at offset 0 to see the ring
 * @pad: 0
 * @offsets: out: the ring's layout, with HC1_DRV_F_RING_OFFSETS (a driver
 *	without it leaves it zero and maps the HC1_RING_V1_* layout)
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
	struct hc1_ring_offsets offsets;
};

/* sizeof(struct hc1_session) of its first version, without @offsets */
#define HC1_SESSION_SIZE_V1 24

/* What a generation is doing (hc1_wait.state, the ring's state word). */
enum hc1_generation_state {
	HC1_GENERATION_IDLE = 0,
	HC1_GENERATION_RUNNING = 1,
	HC1_GENERATION_DONE = 2,
};

/* Why a generation ended (hc1_wait.finish, the ring's finish word). */
enum hc1_gen_end {
	HC1_END_NONE = 0,
	HC1_END_EOS = 1,	/* the model produced end-of-sequence */
	HC1_END_STOP = 2,	/* a stop token (delivered) */
	HC1_END_LENGTH = 3,	/* max_tokens reached */
	HC1_END_CONTEXT = 4,	/* the context is full */
	HC1_END_CANCELLED = 5,	/* HC1_IOCTL_CANCEL, or the session ended */
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
 * (0 if none runs); the generation then ends with HC1_END_CANCELLED.
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
 * @state: out: enum hc1_generation_state
 * @finish: out: enum hc1_gen_end once done
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

#define HC1_MODEL_NAME_LEN 64
#define HC1_MODEL_ARCH_LEN 16

/* struct hc1_identity.weight_format */
#define HC1_WEIGHTS_FP32 0	/* exact */
#define HC1_WEIGHTS_INT8 1	/* int8, group-wise scales */
#define HC1_WEIGHTS_UNKNOWN 0xffffffffU	/* one this driver predates */

/* struct hc1_identity.kv_format: what the card's KV caches hold */
#define HC1_KV_F32 0		/* exact */
#define HC1_KV_F16 1		/* IEEE half */
#define HC1_KV_INT8 2		/* int8, one scale per position and KV head */
#define HC1_KV_UNKNOWN 0xffffffffU	/* one this driver predates */

/* sizeof(struct hc1_identity) of its first version, up to @max_stop */
#define HC1_IDENTITY_SIZE_V1 216

/**
 * struct hc1_identity - HC1_IOCTL_IDENTIFY: the model the card carries
 * @size: bytes of this structure the driver filled in; grows at the end
 * @version: the card's contract version, major << 16 | minor (informative)
 * @features: HC1_CARD_F_*
 * @rsvd0: 0
 * @name: model name, NUL terminated
 * @arch: architecture, NUL terminated ("llama")
 * @dim: embedding width
 * @hidden_dim: feed-forward width
 * @n_layers: transformer blocks
 * @n_heads: attention heads
 * @n_kv_heads: key/value heads (grouped-query attention)
 * @vocab_size: tokens in the vocabulary
 * @context_len: positions per context
 * @bos_id: beginning-of-sequence token
 * @eos_id: end-of-sequence token
 * @weight_format: HC1_WEIGHTS_*; HC1_WEIGHTS_UNKNOWN for a card whose
 *	format this driver predates (it still generates: the weights never
 *	leave the card)
 * @group_size: int8 quantisation group (0 for fp32)
 * @n_contexts: contexts (sessions) the card holds at once
 * @max_queues: I/O queue pairs the card supports
 * @max_queue_entries: entries per queue the card supports
 * @vocab_bytes: size of the READ_VOCAB blob
 * @rsvd1: 0
 * @n_params: parameters in the model
 * @weight_bytes: bytes of burned weights in @weight_format
 * @sha256: SHA-256 of the burned weights: the model's identity
 * @msix_vectors: MSI-X vectors of the card
 * @max_stop: stop tokens per generation
 * @kv_format: HC1_KV_*, the format the card's KV caches hold, a property
 *	it is built with like @weight_format (precision, not behaviour:
 *	only HC1_KV_F32 is exact).  A driver whose @size ends before this
 *	field does not say: read that as HC1_KV_F32, the one format of the
 *	cards released with such drivers.  HC1_KV_UNKNOWN is a card's format
 *	newer than the driver.
 * @rsvd2: 0
 *
 * Ask with @len of sizeof() as the caller knows it (version 1 callers gave
 * 4096): the driver writes min(@len, its size) bytes and says in @size how
 * many it filled.  Fields are only ever appended.
 */
struct hc1_identity {
	__u32 size;
	__u32 version;
	__u32 features;
	__u32 rsvd0;
	char name[HC1_MODEL_NAME_LEN];
	char arch[HC1_MODEL_ARCH_LEN];
	__u32 dim;
	__u32 hidden_dim;
	__u32 n_layers;
	__u32 n_heads;
	__u32 n_kv_heads;
	__u32 vocab_size;
	__u32 context_len;
	__u32 bos_id;
	__u32 eos_id;
	__u32 weight_format;
	__u32 group_size;
	__u32 n_contexts;
	__u32 max_queues;
	__u32 max_queue_entries;
	__u32 vocab_bytes;
	__u32 rsvd1;
	__u64 n_params;
	__u64 weight_bytes;
	__u8 sha256[32];
	__u32 msix_vectors;
	__u32 max_stop;
	__u32 kv_format;
	__u32 rsvd2;
};

/**
 * struct hc1_card_stats - HC1_IOCTL_STATS: the card's counters since its reset
 * @size: bytes the driver filled in; grows at the end
 * @active_contexts: sessions alive now
 * @running: generations in progress now
 * @rsvd: 0
 * @commands: commands the card completed
 * @errors: of which failed
 * @generations: generations completed
 * @cancelled: generations ended by a cancel
 * @prompt_tokens: prompt tokens consumed
 * @tokens: tokens generated and delivered
 * @interrupts: interrupts the card raised
 * @busy_ns: time the card spent computing
 * @uptime_ns: time since the card was enabled
 * @reg_errors: bad register writes the card ignored
 */
struct hc1_card_stats {
	__u32 size;
	__u32 active_contexts;
	__u32 running;
	__u32 rsvd;
	__u64 commands;
	__u64 errors;
	__u64 generations;
	__u64 cancelled;
	__u64 prompt_tokens;
	__u64 tokens;
	__u64 interrupts;
	__u64 busy_ns;
	__u64 uptime_ns;
	__u64 reg_errors;
};

#define HC1_VOCAB_BLOB_MAGIC 0x42564348U	/* "HCVB" */

/**
 * struct hc1_vocab_blob - start of the HC1_IOCTL_READ_VOCAB blob
 * @magic: HC1_VOCAB_BLOB_MAGIC
 * @n_tokens: entries that follow (hc1_info.vocab_size)
 * @max_token_len: longest entry in bytes
 * @flags: 0
 *
 * Followed by @n_tokens packed entries: __u32 score (IEEE-754 float bits,
 * the merge priority of SentencePiece BPE), __u32 len, then len bytes (no
 * NUL).  Byte-fallback tokens are spelled "<0xNN>".  All little-endian.
 */
struct hc1_vocab_blob {
	__u32 magic;
	__u32 n_tokens;
	__u32 max_token_len;
	__u32 flags;
};

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
