/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HC1 driver logic that needs no kernel services: ring and queue index
 * arithmetic, submission-entry encoding, completion decoding and the
 * validation of every UAPI argument.  hc1_logic.c is compiled into hc1.ko
 * and, unchanged, into the userspace unit tests (tests/kmod), which is why
 * it only uses what hc1_logic_compat.h provides.
 */
#ifndef HC1_LOGIC_H
#define HC1_LOGIC_H

#include "hc1_logic_compat.h"

#include <hc1/hw.h>
#include <linux/hc1.h>

/* Smallest and largest struct the driver accepts for each UAPI argument. */
#define HC1_USIZE_MAX 4096

/* Entries of every queue the driver creates, capped to what the card allows. */
#define HC1_ADMIN_DEPTH 32
#define HC1_IO_DEPTH 128

/**
 * struct hc1_limits - what the card and the session allow a generation
 * @vocab_size: tokens in the vocabulary
 * @context_len: positions per context
 * @ring_shift: log2 of the session's token-ring slots
 * @max_stop: stop tokens the card takes per generation
 */
struct hc1_limits {
	u32 vocab_size;
	u32 context_len;
	u32 ring_shift;
	u32 max_stop;
};

/* ---------------------------------------------------------- rings */

static inline u32 hc1_ring_slots(u32 shift)
{
	return 1u << shift;
}

static inline u32 hc1_ring_slot(u32 index, u32 shift)
{
	return index & (hc1_ring_slots(shift) - 1);
}

u32 hc1_ring_shift_for(u32 context_len, u32 max_shift);
u32 hc1_clamp_produced(u32 produced, u32 max_tokens);

/* ---------------------------------------------------------- queues */

u16 hc1_queue_depth(u32 cap, u32 wanted);
u16 hc1_queue_count(u32 cap, u32 card_max, u32 vectors, u32 cpus);

/**
 * hc1_sq_next() - the tail after one more entry
 * @tail: current SQ tail
 * @depth: entries in the queue
 *
 * Return: the next tail, wrapped.
 */
static inline u16 hc1_sq_next(u16 tail, u16 depth)
{
	return tail + 1 == depth ? 0 : tail + 1;
}

bool hc1_cqe_pending(const struct hc1_cqe *cqe, u8 phase);
void hc1_cq_advance(u16 *head, u8 *phase, u16 depth);
u16 hc1_cqe_status(const struct hc1_cqe *cqe);
int hc1_status_to_errno(u16 status);

/* ---------------------------------------------------------- encoding */

void hc1_encode_simple(union hc1_sqe *sqe, u8 opcode, u16 cid, u32 ctx);
void hc1_encode_data(union hc1_sqe *sqe, u8 opcode, u16 cid, u64 addr,
		     u32 len, u32 offset);
void hc1_encode_create_ioq(union hc1_sqe *sqe, u16 cid, u16 qid, u64 sq,
			   u64 cq, u16 depth, u16 vector);
void hc1_encode_generate(union hc1_sqe *sqe, const struct hc1_generate *gen,
			 u16 cid, u32 ctx, u64 prompt_dma, u64 ring_dma,
			 u32 ring_shift);

/* ---------------------------------------------------------- validation */

int hc1_check_usize(u32 usize, u32 ksize);
int hc1_check_generate(const struct hc1_generate *gen,
		       const struct hc1_limits *lim);
int hc1_check_prompt(const u32 *tokens, u32 n, u32 vocab_size);
int hc1_check_session(const struct hc1_session *s);
int hc1_check_wait(const struct hc1_wait *w);
u32 hc1_wait_batch_target(u32 min_produced, u32 intc);
int hc1_check_buffer(const struct hc1_buffer *b, bool has_offset,
		     u32 blob_len);
int hc1_check_uring_cmd(const struct hc1_uring_cmd *c);
u32 hc1_effective_max_tokens(const struct hc1_generate *gen, u32 ring_shift);

int hc1_check_model_card(struct hc1_model_card *card);
int hc1_check_vocab(const void *blob, u32 len, u32 vocab_size);

const char *hc1_weight_format_name(u32 fmt);
const char *hc1_kv_format_name(u32 fmt);
const char *hc1_finish_name(u32 finish);

#endif /* HC1_LOGIC_H */
