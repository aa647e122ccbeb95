/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * HC1 hardware contract: PCI identity, BAR0 registers, queue entries,
 * commands, data structures DMA'd between the card and the host.
 *
 * This header is the single definition shared by the QEMU device model
 * (qemu-device/) and the kernel driver (kmod/), which translates what
 * userspace sees into the UAPI's own structures (uapi/linux/hc1.h): no
 * userspace program includes it.  The PCI identity (pci_ids.h) and the
 * fault-injection bits tests write through debugfs (fault_inject.h) are
 * headers of their own for the tools and tests that need only those.
 * docs/hardware.md is its prose companion.
 *
 * All multi-byte fields are little-endian.  All structures have fixed sizes,
 * checked at the end of this file.
 */
#ifndef HC1_HW_H
#define HC1_HW_H

/*
 * Little-endian fields have the hc1_le* types: in the kernel they are
 * __le16/32/64, so sparse (make C=1) flags any field read or written
 * without le*_to_cpu()/cpu_to_le*(); elsewhere (the device model, libhc)
 * they are plain integers and the byte-order helpers of each side apply.
 */
#ifdef __KERNEL__
#include <linux/stddef.h>
#include <linux/types.h>
typedef __le16 hc1_le16;
typedef __le32 hc1_le32;
typedef __le64 hc1_le64;
#else
#include <stddef.h>
#include <stdint.h>
typedef uint16_t hc1_le16;
typedef uint32_t hc1_le32;
typedef uint64_t hc1_le64;
#endif

/* ---------------------------------------------------------------- PCI */

#include "pci_ids.h"

#define HC1_BAR0_SIZE 0x4000		/* registers + doorbells, 16 KiB */

/* Contract version reported in HC1_REG_VERSION and the model card. */
#define HC1_HW_VERSION_MAJOR 1
#define HC1_HW_VERSION_MINOR 0
#define HC1_HW_VERSION ((HC1_HW_VERSION_MAJOR << 16) | HC1_HW_VERSION_MINOR)

/* ------------------------------------------------------------ BAR0 map */

/* All registers are 32 bits wide unless noted; 64-bit ones take two 32-bit
 * accesses (low half first) or one 64-bit access. */
#define HC1_REG_ID 0x000	/* RO  HC1_ID_MAGIC */
#define HC1_REG_VERSION 0x004	/* RO  HC1_HW_VERSION */
#define HC1_REG_CAP 0x008	/* RO  capabilities, HC1_CAP_* */
#define HC1_REG_FEATURES 0x00c	/* RO  feature bits, HC1_FEAT_* */
#define HC1_REG_CC 0x010	/* RW  controller configuration, HC1_CC_* */
#define HC1_REG_CSTS 0x014	/* RO  controller status, HC1_CSTS_* */
#define HC1_REG_AQA 0x018	/* RW  admin queue sizes, HC1_AQA_* */
#define HC1_REG_INTC 0x01c	/* RW  interrupt coalescing, HC1_INTC_* */
#define HC1_REG_ASQ 0x020	/* RW  64-bit admin SQ base (4 KiB aligned) */
#define HC1_REG_ACQ 0x028	/* RW  64-bit admin CQ base (4 KiB aligned) */
#define HC1_REG_ERRCNT 0x030	/* RO  count of ignored bad register writes */
#define HC1_REG_LASTERR 0x034	/* RO  HC1_ERR_* of the last one */
#define HC1_REG_NCTX 0x038	/* RO  number of contexts (KV-cache slots) */
#define HC1_REG_TEST 0x03c	/* RW  fault injection (test builds), 0 = off */

#define HC1_REG_DB_BASE 0x1000	/* doorbells, 4-byte stride */
/* SQ tail doorbell of queue @qid (0 = admin). */
#define HC1_REG_SQ_TAIL_DB(qid) (HC1_REG_DB_BASE + (2 * (qid)) * 4)
/* CQ head doorbell of queue @qid. */
#define HC1_REG_CQ_HEAD_DB(qid) (HC1_REG_DB_BASE + (2 * (qid) + 1) * 4)

#define HC1_ID_MAGIC 0x00314348u	/* "HC1\0" */

/* HC1_REG_CAP */
#define HC1_CAP_MQES_MASK 0x0000ffffu	/* max queue entries - 1 */
#define HC1_CAP_NQ_SHIFT 16		/* max I/O queues (bits 23:16) */
#define HC1_CAP_NQ_MASK 0x00ff0000u
#define HC1_CAP_TO_SHIFT 24		/* ready timeout, 100 ms units */
#define HC1_CAP_TO_MASK 0xff000000u

/* HC1_REG_FEATURES: what this device implements beyond version 1.0. */
#define HC1_FEAT_COALESCE (1u << 0)	/* HC1_REG_INTC is honoured */
#define HC1_FEAT_POLLED_QUEUES (1u << 1)	/* HC1_QF_NO_IRQ */
#define HC1_FEAT_INT8 (1u << 2)		/* int8 weight format available */
#define HC1_FEAT_FAULT_INJECT (1u << 3)	/* HC1_REG_TEST is live */
/* Every feature bit this version of the contract defines. */
#define HC1_FEAT_MASK (HC1_FEAT_COALESCE | HC1_FEAT_POLLED_QUEUES | \
		       HC1_FEAT_INT8 | HC1_FEAT_FAULT_INJECT)

/*
 * HC1_REG_CC.  Writing EN 0->1 validates AQA/ASQ/ACQ and sets CSTS.RDY, or
 * sets CSTS.CFS if they are unusable.  Writing EN 1->0 is a controller reset:
 * every queue is dropped, every generation is aborted without a completion,
 * every context is destroyed, then CSTS reads 0.
 */
#define HC1_CC_EN (1u << 0)

/* HC1_REG_CSTS */
#define HC1_CSTS_RDY (1u << 0)	/* queues live, doorbells accepted */
#define HC1_CSTS_CFS (1u << 1)	/* fatal: only a reset (EN 1->0) leaves it */
#define HC1_CSTS_FATAL_SHIFT 8	/* HC1_FATAL_* reason, bits 15:8 */
#define HC1_CSTS_FATAL_MASK 0x0000ff00u

/* Fatal reasons in CSTS bits 15:8. */
enum hc1_fatal {
	HC1_FATAL_NONE = 0,
	HC1_FATAL_ADMIN_QUEUE = 1,	/* AQA/ASQ/ACQ unusable at enable */
	HC1_FATAL_SQ_DMA = 2,		/* a submission entry could not be read */
	HC1_FATAL_CQ_DMA = 3,		/* a completion entry could not be written */
	HC1_FATAL_ENGINE = 4,		/* the inference engine failed */
	HC1_FATAL_INJECTED = 5,		/* HC1_TEST_FATAL */
};

/* HC1_REG_AQA: entries - 1 of each admin queue; 1..MQES. */
#define HC1_AQA_ASQS_MASK 0x0000ffffu
#define HC1_AQA_ACQS_SHIFT 16
#define HC1_AQA_ACQS_MASK 0xffff0000u

/*
 * HC1_REG_INTC: default interrupt coalescing for token progress.  A queue's
 * vector fires once one generation of the queue received HC1_INTC_TOKENS
 * tokens since the queue's last interrupt, or HC1_INTC_USECS after the
 * first token not yet signalled, whichever comes first.  0 tokens means 1
 * (no coalescing); 0 usecs means no timer.  The first tokens of a
 * generation and completions always interrupt at once.
 */
#define HC1_INTC_TOKENS_MASK 0x0000ffffu
#define HC1_INTC_USECS_SHIFT 16
#define HC1_INTC_USECS_MASK 0xffff0000u

/* HC1_REG_LASTERR: why a register write was ignored. */
enum hc1_reg_error {
	HC1_ERR_NONE = 0,
	HC1_ERR_DB_NOT_READY = 1,	/* doorbell while CSTS.RDY is clear */
	HC1_ERR_DB_BAD_QUEUE = 2,	/* doorbell of a queue that does not exist */
	HC1_ERR_DB_BAD_VALUE = 3,	/* doorbell value >= queue size */
	HC1_ERR_RO_REGISTER = 4,	/* write to a read-only register */
	HC1_ERR_CONFIG_WHILE_ENABLED = 5,	/* AQA/ASQ/ACQ written while EN */
	HC1_ERR_BAD_OFFSET = 6,		/* no register there */
};

/* HC1_REG_TEST fault injection (only with HC1_FEAT_FAULT_INJECT). */
#include "fault_inject.h"

/* ------------------------------------------------------------- queues */

#define HC1_SQE_SIZE 64
#define HC1_CQE_SIZE 16
#define HC1_QUEUE_ALIGN 4096	/* queue bases are page aligned */
#define HC1_ADMIN_QID 0

/* Commands.  Admin ones go to queue 0, I/O ones to queues 1..NQ. */
enum hc1_opcode {
	/* admin */
	HC1_OP_IDENTIFY = 0x01,		/* model card -> addr (4096 bytes) */
	HC1_OP_READ_VOCAB = 0x02,	/* vocabulary blob slice -> addr */
	HC1_OP_CREATE_IOQ = 0x03,	/* create an I/O SQ/CQ pair */
	HC1_OP_DELETE_IOQ = 0x04,	/* delete an I/O queue pair */
	HC1_OP_GET_STATS = 0x05,	/* struct hc1_stats -> addr */
	/* I/O */
	HC1_OP_CREATE_CTX = 0x10,	/* claim context @ctx */
	HC1_OP_DESTROY_CTX = 0x11,	/* release context @ctx */
	HC1_OP_GENERATE = 0x12,		/* prompt in, tokens to a ring */
	HC1_OP_CANCEL = 0x13,		/* stop the generation on @ctx */
};

/**
 * struct hc1_sqe_common - first 8 bytes of every submission entry
 * @opcode: enum hc1_opcode
 * @flags: per-command flags
 * @cid: command identifier, echoed in the completion
 * @ctx: context id for context commands, queue id for queue commands
 */
struct hc1_sqe_common {
	uint8_t opcode;
	uint8_t flags;
	hc1_le16 cid;
	hc1_le32 ctx;
};

/**
 * struct hc1_cmd_data - IDENTIFY, READ_VOCAB, GET_STATS
 * @c: opcode and cid; flags must be 0
 * @addr: host buffer the device writes into
 * @len: bytes to write; IDENTIFY: 4096; GET_STATS: 1..sizeof(hc1_stats)
 * @offset: READ_VOCAB: byte offset into the vocabulary blob
 * @rsvd: reserved, not checked by the device
 */
struct hc1_cmd_data {
	struct hc1_sqe_common c;
	hc1_le64 addr;
	hc1_le32 len;
	hc1_le32 offset;
	hc1_le32 rsvd[10];
};

/* CREATE_IOQ flags */
#define HC1_QF_NO_IRQ (1u << 0)	/* polled queue: never interrupts */
#define HC1_QF_MASK HC1_QF_NO_IRQ	/* other bits: HC1_SC_INVALID_FIELD */

/**
 * struct hc1_cmd_create_ioq - CREATE_IOQ (c.ctx holds the queue id, 1..NQ)
 * @c: opcode, cid, flags (HC1_QF_*), ctx = the queue id
 * @sq_addr: SQ base, HC1_QUEUE_ALIGN aligned, @qsize * 64 bytes
 * @cq_addr: CQ base, HC1_QUEUE_ALIGN aligned, @qsize * 16 bytes
 * @qsize: entries in each queue - 1 (1..MQES)
 * @vector: MSI-X vector for this queue (< number of vectors)
 * @rsvd: must be 0
 */
struct hc1_cmd_create_ioq {
	struct hc1_sqe_common c;
	hc1_le64 sq_addr;
	hc1_le64 cq_addr;
	hc1_le16 qsize;
	hc1_le16 vector;
	hc1_le32 rsvd[9];
};

/* GENERATE flags */
#define HC1_GEN_CONTINUE (1u << 0)	/* keep the context's KV cache */
#define HC1_GEN_IGNORE_EOS (1u << 1)	/* EOS does not end generation */
/* Other GENERATE flag bits: HC1_SC_INVALID_FIELD. */
#define HC1_GEN_MASK (HC1_GEN_CONTINUE | HC1_GEN_IGNORE_EOS)

#define HC1_TOKEN_NONE 0xffffffffu	/* unused stop-token slot */
#define HC1_MAX_STOP 4
#define HC1_RING_SHIFT_MIN 4		/* 16 entries */
#define HC1_RING_SHIFT_MAX 24
/* A ring starts on a cache line: the header never straddles two. */
#define HC1_RING_ALIGN 64

/**
 * struct hc1_cmd_generate - GENERATE on context c.ctx
 * @c: opcode, cid, flags (HC1_GEN_*), ctx
 * @prompt_addr: @n_prompt uint32_t token ids
 * @ring_addr: token ring (struct hc1_ring_header + entries), HC1_RING_ALIGN
 *	aligned
 * @n_prompt: prompt tokens, 0..context_len; 0 only with HC1_GEN_CONTINUE
 * @max_tokens: tokens to generate at most, 1..2^@ring_shift
 * @temperature_milli: sampling temperature * 1000; 0 = greedy
 * @top_p_milli: nucleus threshold * 1000; 0 or >= 1000 = off
 * @top_k: keep the k most likely tokens; 0 = off
 * @ring_shift: ring holds 2^@ring_shift token slots
 * @rsvd: must be 0
 * @seed: sampler seed; the same seed and inputs give the same tokens
 * @stop: tokens that end generation (HC1_TOKEN_NONE = unused)
 *
 * Without HC1_GEN_CONTINUE the context restarts at position 0.  Generation
 * ends at EOS (unless HC1_GEN_IGNORE_EOS), a stop token (which is delivered),
 * @max_tokens, the end of the context, or CANCEL.
 */
struct hc1_cmd_generate {
	struct hc1_sqe_common c;
	hc1_le64 prompt_addr;
	hc1_le64 ring_addr;
	hc1_le32 n_prompt;
	hc1_le32 max_tokens;
	hc1_le16 temperature_milli;
	hc1_le16 top_p_milli;
	hc1_le16 top_k;
	uint8_t ring_shift;
	uint8_t rsvd;
	hc1_le64 seed;
	hc1_le32 stop[HC1_MAX_STOP];
};

/** union hc1_sqe - one 64-byte submission queue entry */
union hc1_sqe {
	struct hc1_sqe_common c;
	struct hc1_cmd_data data;
	struct hc1_cmd_create_ioq ioq;
	struct hc1_cmd_generate gen;
	uint8_t bytes[HC1_SQE_SIZE];
};

/* Completion status codes (hc1_cqe.status bits 15:1). */
enum hc1_status {
	HC1_SC_SUCCESS = 0,
	HC1_SC_INVALID_OPCODE = 1,	/* unknown, or admin/I/O on wrong queue */
	HC1_SC_INVALID_FIELD = 2,	/* a field is out of range or reserved != 0 */
	HC1_SC_DMA_ERROR = 3,		/* an address could not be read/written */
	HC1_SC_INVALID_CTX = 4,		/* ctx >= NCTX, or not created */
	HC1_SC_CTX_EXISTS = 5,		/* CREATE_CTX on a live context */
	HC1_SC_CTX_BUSY = 6,		/* context is generating */
	HC1_SC_RING_TOO_SMALL = 7,	/* max_tokens > ring slots, or shift bad */
	HC1_SC_PROMPT_TOO_LONG = 8,	/* prompt does not fit the context */
	HC1_SC_INVALID_QUEUE = 9,	/* bad queue id / size / vector / base */
	HC1_SC_QUEUE_EXISTS = 10,	/* CREATE_IOQ of a live queue */
	HC1_SC_INVALID_TOKEN = 11,	/* prompt or stop token >= vocab_size */
	HC1_SC_INTERNAL = 12,		/* engine failure */
};

#define HC1_CQE_PHASE (1u << 0)
#define HC1_CQE_STATUS_SHIFT 1

/* Why a generation ended (GENERATE completion, info bits 7:0). */
enum hc1_finish {
	HC1_FINISH_NONE = 0,
	HC1_FINISH_EOS = 1,
	HC1_FINISH_STOP = 2,
	HC1_FINISH_LENGTH = 3,		/* max_tokens reached */
	HC1_FINISH_CONTEXT = 4,		/* context_len reached */
	HC1_FINISH_CANCELLED = 5,
};

/**
 * struct hc1_cqe - one 16-byte completion queue entry
 * @result: GENERATE: tokens generated; others: 0
 * @info: GENERATE: finish reason (bits 7:0) | prompt tokens (bits 31:8)
 * @sq_head: the SQ head after this command was consumed
 * @sq_id: queue the command came from
 * @cid: hc1_sqe_common.cid of the command
 * @status: phase (bit 0) | enum hc1_status << 1
 *
 * The device flips the phase it writes each time the CQ wraps, starting at
 * 1, and writes @status last.
 */
struct hc1_cqe {
	hc1_le32 result;
	hc1_le32 info;
	hc1_le16 sq_head;
	hc1_le16 sq_id;
	hc1_le16 cid;
	hc1_le16 status;
};

/* GENERATE completion info: finish reason (bits 7:0), prompt (bits 31:8). */
#define HC1_CQE_FINISH_MASK 0x000000ffu
#define HC1_CQE_PROMPT_SHIFT 8
#define HC1_CQE_INFO(finish, n_prompt) \
	(((finish) & HC1_CQE_FINISH_MASK) | ((n_prompt) << HC1_CQE_PROMPT_SHIFT))
#define HC1_CQE_FINISH(info) ((info) & HC1_CQE_FINISH_MASK)
#define HC1_CQE_PROMPT(info) ((info) >> HC1_CQE_PROMPT_SHIFT)

/* ---------------------------------------------------------- token ring */

/* hc1_ring_header.state */
enum hc1_ring_state {
	HC1_RING_IDLE = 0,
	HC1_RING_RUNNING = 1,
	HC1_RING_DONE = 2,
};

/**
 * struct hc1_ring_header - first 64 bytes of a token ring, written by the device
 * @produced: tokens written to the ring by this generation so far
 * @state: enum hc1_ring_state
 * @finish: enum hc1_finish, valid once @state is HC1_RING_DONE
 * @n_prompt: prompt tokens consumed
 * @cid: cid of the GENERATE command filling the ring
 * @rsvd: written as 0
 *
 * Token i of a generation lives at slot (i & (2^ring_shift - 1)) after the
 * header.  The device writes, in order: header {produced = 0, state =
 * RUNNING}; then per batch, the token slots, a write barrier, @produced; at
 * the end @finish and @n_prompt, a barrier, @state = DONE; then the CQE.  A
 * reader that loads @produced (acquire) may read every slot below it; a
 * reader that sees DONE (acquire) may trust @produced and @finish.  The
 * host never writes the ring while a generation runs.
 */
struct hc1_ring_header {
	hc1_le32 produced;
	hc1_le32 state;
	hc1_le32 finish;
	hc1_le32 n_prompt;
	hc1_le32 cid;
	hc1_le32 rsvd[11];
};

/* Each slot holds one little-endian 32-bit token id. */
#define HC1_RING_SLOT_SIZE 4u
/* Byte offset of token slot @slot from the start of the ring. */
#define HC1_RING_SLOT_OFFSET(slot) \
	(sizeof(struct hc1_ring_header) + (slot) * HC1_RING_SLOT_SIZE)
#define HC1_RING_BYTES(shift) HC1_RING_SLOT_OFFSET(1u << (shift))

/* ----------------------------------------------------------- model card */

#define HC1_IDENTIFY_SIZE 4096

enum hc1_weight_format {
	HC1_WFMT_FP32 = 0,	/* exact */
	HC1_WFMT_INT8 = 1,	/* int8, group-wise scales */
};

/*
 * What the card's KV caches hold, a property it is built with like its
 * weight format.  Only f32 is exact; f16 and int8 take a half and 3/8 of
 * its bytes (for head size 8): what attention reads per cached position,
 * and what a context's cache occupies.
 */
enum hc1_kv_format {
	HC1_KVFMT_F32 = 0,	/* exact */
	HC1_KVFMT_F16 = 1,	/* IEEE half, rounded to nearest even */
	HC1_KVFMT_INT8 = 2,	/* int8, one scale per position and KV head */
};

/**
 * struct hc1_model_card - IDENTIFY data (4096 bytes, zero padded)
 * @size: bytes of this structure the device filled in; grows at the end
 * @version: HC1_HW_VERSION of the device
 * @features: HC1_FEAT_*
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
 * @weight_format: enum hc1_weight_format
 * @group_size: int8 quantisation group (0 for fp32)
 * @n_contexts: contexts (KV-cache slots) on the card
 * @max_queues: I/O queue pairs supported
 * @max_queue_entries: entries per queue supported
 * @vocab_bytes: size of the READ_VOCAB blob
 * @rsvd1: 0
 * @n_params: parameters in the model
 * @weight_bytes: bytes of burned weights in @weight_format
 * @sha256: SHA-256 of the burned weights: the model's identity
 * @msix_vectors: MSI-X vectors the function has
 * @max_stop: stop tokens per GENERATE (HC1_MAX_STOP)
 * @kv_format: enum hc1_kv_format (a card whose @size ends before it has
 *	f32 caches)
 */
struct hc1_model_card {
	hc1_le32 size;
	hc1_le32 version;
	hc1_le32 features;
	hc1_le32 rsvd0;
	char name[64];
	char arch[16];
	hc1_le32 dim;
	hc1_le32 hidden_dim;
	hc1_le32 n_layers;
	hc1_le32 n_heads;
	hc1_le32 n_kv_heads;
	hc1_le32 vocab_size;
	hc1_le32 context_len;
	hc1_le32 bos_id;
	hc1_le32 eos_id;
	hc1_le32 weight_format;
	hc1_le32 group_size;
	hc1_le32 n_contexts;
	hc1_le32 max_queues;
	hc1_le32 max_queue_entries;
	hc1_le32 vocab_bytes;
	hc1_le32 rsvd1;
	hc1_le64 n_params;
	hc1_le64 weight_bytes;
	uint8_t sha256[32];
	hc1_le32 msix_vectors;
	hc1_le32 max_stop;
	hc1_le32 kv_format;
};

/* ----------------------------------------------------------- vocabulary */

#define HC1_VOCAB_MAGIC 0x42564348u	/* "HCVB" */

/**
 * struct hc1_vocab_header - start of the READ_VOCAB blob
 * @magic: HC1_VOCAB_MAGIC
 * @n_tokens: entries that follow (== vocab_size)
 * @max_token_len: longest entry in bytes
 * @flags: 0
 *
 * Followed by @n_tokens packed entries: uint32_t score (IEEE-754 float bits,
 * the merge priority of SentencePiece BPE), uint32_t len, then len bytes (no
 * NUL).  Byte-fallback tokens are spelled "<0xNN>".
 */
struct hc1_vocab_header {
	hc1_le32 magic;
	hc1_le32 n_tokens;
	hc1_le32 max_token_len;
	hc1_le32 flags;
};

/* ----------------------------------------------------------- statistics */

/**
 * struct hc1_stats - GET_STATS data; counters since device reset
 * @size: bytes filled in; grows at the end
 * @active_contexts: contexts created now
 * @running: generations in progress now
 * @rsvd: 0
 * @commands: commands completed
 * @errors: commands completed with a non-zero status
 * @generations: GENERATE commands completed
 * @cancelled: generations ended by CANCEL
 * @prompt_tokens: prompt tokens consumed
 * @tokens: tokens generated and delivered
 * @interrupts: MSI-X messages sent
 * @busy_ns: time the engine spent computing
 * @uptime_ns: time since the device was enabled
 * @reg_errors: ignored register writes (HC1_REG_ERRCNT)
 */
struct hc1_stats {
	hc1_le32 size;
	hc1_le32 active_contexts;
	hc1_le32 running;
	hc1_le32 rsvd;
	hc1_le64 commands;
	hc1_le64 errors;
	hc1_le64 generations;
	hc1_le64 cancelled;
	hc1_le64 prompt_tokens;
	hc1_le64 tokens;
	hc1_le64 interrupts;
	hc1_le64 busy_ns;
	hc1_le64 uptime_ns;
	hc1_le64 reg_errors;
};

/* ------------------------------------------------------- layout checks */

#ifdef __cplusplus
#define HC1_STATIC_ASSERT(c, m) static_assert(c, m)
#elif defined(__KERNEL__)
#define HC1_STATIC_ASSERT(c, m) _Static_assert(c, m)
#else
#define HC1_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

HC1_STATIC_ASSERT(sizeof(union hc1_sqe) == HC1_SQE_SIZE, "SQE is 64 bytes");
HC1_STATIC_ASSERT(sizeof(struct hc1_cmd_data) == HC1_SQE_SIZE, "data cmd");
HC1_STATIC_ASSERT(sizeof(struct hc1_cmd_create_ioq) == HC1_SQE_SIZE, "ioq cmd");
HC1_STATIC_ASSERT(sizeof(struct hc1_cmd_generate) == HC1_SQE_SIZE, "gen cmd");
HC1_STATIC_ASSERT(sizeof(struct hc1_cqe) == HC1_CQE_SIZE, "CQE is 16 bytes");
HC1_STATIC_ASSERT(sizeof(struct hc1_ring_header) == 64, "ring header");
HC1_STATIC_ASSERT(sizeof(struct hc1_model_card) <= HC1_IDENTIFY_SIZE, "card");
HC1_STATIC_ASSERT(sizeof(struct hc1_vocab_header) == 16, "vocab header");
HC1_STATIC_ASSERT(sizeof(struct hc1_stats) == 96, "stats");
/* The phase-carrying status is the CQE's last word: the device writes it last. */
HC1_STATIC_ASSERT(offsetof(struct hc1_cqe, status) == HC1_CQE_SIZE - 2,
		  "CQE status last");
HC1_STATIC_ASSERT(sizeof(struct hc1_ring_header) % HC1_RING_ALIGN == 0,
		  "ring slots start aligned");
HC1_STATIC_ASSERT(HC1_RING_SLOT_OFFSET(1) == 64 + 4, "ring slot offset");
HC1_STATIC_ASSERT(HC1_RING_BYTES(HC1_RING_SHIFT_MIN) == 64 + 64, "ring bytes");
HC1_STATIC_ASSERT(HC1_CQE_FINISH(HC1_CQE_INFO(HC1_FINISH_CANCELLED, 0xabcdefu)) ==
		  HC1_FINISH_CANCELLED, "CQE info finish");
HC1_STATIC_ASSERT(HC1_CQE_PROMPT(HC1_CQE_INFO(HC1_FINISH_CANCELLED, 0xabcdefu)) ==
		  0xabcdefu, "CQE info prompt");
HC1_STATIC_ASSERT(HC1_FEAT_MASK == 0xf, "feature bits");
HC1_STATIC_ASSERT(HC1_TEST_MASK == (HC1_TEST_SLOW_ENGINE << 1) - 1, "test bits");

#endif /* HC1_HW_H */
