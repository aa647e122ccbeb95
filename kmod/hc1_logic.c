// SPDX-License-Identifier: GPL-2.0
/*
 * HC1 driver logic shared by hc1.ko and its userspace unit tests.
 *
 * Nothing here touches hardware, memory allocation or locks: every function
 * maps values to values, so the tests in tests/kmod can drive each one with
 * the same source the module runs.
 */
#include "hc1_logic.h"

#define HC1_MAX_VOCAB 0x1000000u
#define HC1_MAX_CONTEXT 0x100000u
#define HC1_MAX_CONTEXTS 65536u
#define HC1_MAX_VOCAB_BYTES (64u << 20)

/**
 * hc1_ring_shift_for() - token-ring size for a session
 * @context_len: positions per context on the card
 * @max_shift: largest shift the driver is willing to allocate
 *
 * A generation never produces more tokens than the context holds, so a ring
 * of at least @context_len slots never wraps within one generation and
 * read() can index it directly.
 *
 * Return: the shift, within the card's HC1_RING_SHIFT_MIN..HC1_RING_SHIFT_MAX.
 */
u32 hc1_ring_shift_for(u32 context_len, u32 max_shift)
{
	u32 shift = HC1_RING_SHIFT_MIN;

	if (max_shift > HC1_RING_SHIFT_MAX)
		max_shift = HC1_RING_SHIFT_MAX;
	if (max_shift < HC1_RING_SHIFT_MIN)
		max_shift = HC1_RING_SHIFT_MIN;
	while (shift < max_shift && hc1_ring_slots(shift) < context_len)
		shift++;
	return shift;
}

/**
 * hc1_clamp_produced() - a device-written token count made safe to index with
 * @produced: hc1_ring_header.produced or a completion's token count
 * @max_tokens: the most the generation may produce
 *
 * The ring header lives in memory the device writes; the driver never lets
 * a value read there reach past the tokens it asked for.
 *
 * Return: @produced, at most @max_tokens.
 */
u32 hc1_clamp_produced(u32 produced, u32 max_tokens)
{
	return produced > max_tokens ? max_tokens : produced;
}

/**
 * hc1_queue_depth() - entries for a queue
 * @cap: HC1_REG_CAP
 * @wanted: entries the driver would like
 *
 * Return: @wanted capped to the card's maximum, or 0 if the card cannot hold
 * even two entries (a queue of one entry is always full).
 */
u16 hc1_queue_depth(u32 cap, u32 wanted)
{
	u32 mqes = (cap & HC1_CAP_MQES_MASK) + 1;
	u32 depth = min(wanted, mqes);

	return depth < 2 ? 0 : depth;
}

/**
 * hc1_queue_count() - I/O queue pairs to create
 * @cap: HC1_REG_CAP
 * @card_max: hc1_model_card.max_queues, 0 if unknown
 * @vectors: MSI-X vectors granted (vector 0 serves the admin queue)
 * @cpus: online CPUs; more queues than CPUs buy nothing
 *
 * Return: the queue count, or 0 if no I/O queue is possible.
 */
u16 hc1_queue_count(u32 cap, u32 card_max, u32 vectors, u32 cpus)
{
	u32 nq = (cap & HC1_CAP_NQ_MASK) >> HC1_CAP_NQ_SHIFT;

	if (card_max)
		nq = min(nq, card_max);
	nq = min(nq, vectors ? vectors - 1 : 0);
	nq = min(nq, cpus);
	return nq;
}

/**
 * hc1_cqe_pending() - whether the device has posted this completion entry
 * @cqe: entry at the CQ head
 * @phase: the phase the driver expects on this pass over the queue
 *
 * Return: true if the entry carries @phase, i.e. is new.
 */
bool hc1_cqe_pending(const struct hc1_cqe *cqe, u8 phase)
{
	return (le16_to_cpu(cqe->status) & HC1_CQE_PHASE) == phase;
}

/**
 * hc1_cq_advance() - consume one completion entry
 * @head: CQ head, advanced
 * @phase: expected phase, flipped when @head wraps
 * @depth: entries in the CQ
 */
void hc1_cq_advance(u16 *head, u8 *phase, u16 depth)
{
	if (++*head == depth) {
		*head = 0;
		*phase ^= 1;
	}
}

/**
 * hc1_cqe_status() - the enum hc1_status of a completion
 * @cqe: the completion, as the card wrote it
 *
 * Return: the status field without the phase bit.
 */
u16 hc1_cqe_status(const struct hc1_cqe *cqe)
{
	return le16_to_cpu(cqe->status) >> HC1_CQE_STATUS_SHIFT;
}

/**
 * hc1_status_to_errno() - what a card status means to a caller
 * @status: enum hc1_status
 *
 * Statuses that can only follow a driver or device fault (wrong opcode,
 * unknown context, DMA failure) become -EIO: the caller cannot fix them.
 *
 * Return: 0 or a negative errno.
 */
int hc1_status_to_errno(u16 status)
{
	switch (status) {
	case HC1_SC_SUCCESS:
		return 0;
	case HC1_SC_INVALID_FIELD:
	case HC1_SC_RING_TOO_SMALL:
	case HC1_SC_PROMPT_TOO_LONG:
	case HC1_SC_INVALID_TOKEN:
	case HC1_SC_INVALID_QUEUE:
		return -EINVAL;
	case HC1_SC_CTX_EXISTS:
	case HC1_SC_QUEUE_EXISTS:
		return -EEXIST;
	case HC1_SC_CTX_BUSY:
		return -EBUSY;
	default:
		return -EIO;
	}
}

static void hc1_sqe_clear(union hc1_sqe *sqe, u8 opcode, u16 cid, u32 ctx)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->c.opcode = opcode;
	sqe->c.cid = cpu_to_le16(cid);
	sqe->c.ctx = cpu_to_le32(ctx);
}

/**
 * hc1_encode_simple() - a command with no arguments beyond its context
 * @sqe: entry to fill
 * @opcode: CREATE_CTX, DESTROY_CTX, CANCEL or DELETE_IOQ
 * @cid: command id
 * @ctx: context id (queue id for DELETE_IOQ)
 */
void hc1_encode_simple(union hc1_sqe *sqe, u8 opcode, u16 cid, u32 ctx)
{
	hc1_sqe_clear(sqe, opcode, cid, ctx);
}

/**
 * hc1_encode_data() - IDENTIFY, READ_VOCAB or GET_STATS
 * @sqe: entry to fill
 * @opcode: the command
 * @cid: command id
 * @addr: DMA address the card writes to
 * @len: bytes to write
 * @offset: READ_VOCAB offset into the blob, else 0
 */
void hc1_encode_data(union hc1_sqe *sqe, u8 opcode, u16 cid, u64 addr,
		     u32 len, u32 offset)
{
	hc1_sqe_clear(sqe, opcode, cid, 0);
	sqe->data.addr = cpu_to_le64(addr);
	sqe->data.len = cpu_to_le32(len);
	sqe->data.offset = cpu_to_le32(offset);
}

/**
 * hc1_encode_create_ioq() - CREATE_IOQ
 * @sqe: entry to fill
 * @cid: command id
 * @qid: queue id, 1..NQ
 * @sq: SQ DMA base
 * @cq: CQ DMA base
 * @depth: entries in each queue (the card takes depth - 1)
 * @vector: MSI-X vector of the queue
 */
void hc1_encode_create_ioq(union hc1_sqe *sqe, u16 cid, u16 qid, u64 sq,
			   u64 cq, u16 depth, u16 vector)
{
	hc1_sqe_clear(sqe, HC1_OP_CREATE_IOQ, cid, qid);
	sqe->ioq.sq_addr = cpu_to_le64(sq);
	sqe->ioq.cq_addr = cpu_to_le64(cq);
	sqe->ioq.qsize = cpu_to_le16(depth - 1);
	sqe->ioq.vector = cpu_to_le16(vector);
}

/**
 * hc1_effective_max_tokens() - the token budget a GENERATE asks the card for
 * @gen: validated request
 * @ring_shift: the session's ring size
 *
 * Return: @gen->max_tokens, or the ring's slots when it is 0.
 */
u32 hc1_effective_max_tokens(const struct hc1_generate *gen, u32 ring_shift)
{
	return gen->max_tokens ? gen->max_tokens : hc1_ring_slots(ring_shift);
}

/**
 * hc1_encode_generate() - GENERATE from a validated UAPI request
 * @sqe: entry to fill
 * @gen: request, already accepted by hc1_check_generate()
 * @cid: command id
 * @ctx: the session's card context
 * @prompt_dma: DMA address of the prompt copy
 * @ring_dma: DMA address of the token ring
 * @ring_shift: log2 of the ring's slots
 */
void hc1_encode_generate(union hc1_sqe *sqe, const struct hc1_generate *gen,
			 u16 cid, u32 ctx, u64 prompt_dma, u64 ring_dma,
			 u32 ring_shift)
{
	struct hc1_cmd_generate *g = &sqe->gen;
	u32 i;

	hc1_sqe_clear(sqe, HC1_OP_GENERATE, cid, ctx);
	if (gen->flags & HC1_GENERATE_CONTINUE)
		g->c.flags |= HC1_GEN_CONTINUE;
	if (gen->flags & HC1_GENERATE_IGNORE_EOS)
		g->c.flags |= HC1_GEN_IGNORE_EOS;
	g->prompt_addr = cpu_to_le64(prompt_dma);
	g->ring_addr = cpu_to_le64(ring_dma);
	g->n_prompt = cpu_to_le32(gen->n_prompt);
	g->max_tokens = cpu_to_le32(hc1_effective_max_tokens(gen, ring_shift));
	g->temperature_milli = cpu_to_le16(gen->temperature_milli);
	g->top_p_milli = cpu_to_le16(gen->top_p_milli);
	g->top_k = cpu_to_le16(gen->top_k);
	g->ring_shift = ring_shift;
	g->seed = cpu_to_le64(gen->seed);
	for (i = 0; i < HC1_MAX_STOP; i++)
		g->stop[i] = cpu_to_le32(i < gen->n_stop ? gen->stop[i] :
					 HC1_TOKEN_NONE);
}

/**
 * hc1_check_usize() - the size a caller put at the start of an argument
 * @usize: the caller's struct size
 * @ksize: the driver's struct size
 *
 * Every field of version 1 of each struct is required, so a struct smaller
 * than the driver's is only possible from a caller that predates a field the
 * driver added later: today, smaller means malformed.  Larger is fine if the
 * extra bytes are zero, which copy_struct_from_user() checks.
 *
 * Return: 0, -EINVAL or -E2BIG.
 */
int hc1_check_usize(u32 usize, u32 ksize)
{
	if (usize < ksize)
		return -EINVAL;
	if (usize > HC1_USIZE_MAX)
		return -E2BIG;
	return 0;
}

/**
 * hc1_check_generate() - validate HC1_IOCTL_GENERATE's argument
 * @gen: the request (prompt tokens are checked by hc1_check_prompt())
 * @lim: card and session limits
 *
 * Return: 0 or -EINVAL.
 */
int hc1_check_generate(const struct hc1_generate *gen,
		       const struct hc1_limits *lim)
{
	u32 max_stop = lim->max_stop < HC1_MAX_STOP ? lim->max_stop :
					       HC1_MAX_STOP;
	u32 i;

	if (gen->flags & ~(HC1_GENERATE_CONTINUE | HC1_GENERATE_IGNORE_EOS))
		return -EINVAL;
	if (!gen->n_prompt && !(gen->flags & HC1_GENERATE_CONTINUE))
		return -EINVAL;
	if (gen->n_prompt > lim->context_len)
		return -EINVAL;
	if (gen->max_tokens > hc1_ring_slots(lim->ring_shift))
		return -EINVAL;
	if (gen->temperature_milli > 0xffff || gen->top_p_milli > 1000)
		return -EINVAL;
	if (gen->top_k > min(lim->vocab_size, 0xffffu))
		return -EINVAL;
	if (gen->n_stop > max_stop)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(gen->stop); i++) {
		if (i < gen->n_stop && gen->stop[i] >= lim->vocab_size)
			return -EINVAL;
		if (i >= gen->n_stop && gen->stop[i])
			return -EINVAL;
	}
	return 0;
}

/**
 * hc1_check_prompt() - every prompt token names a vocabulary entry
 * @tokens: the driver's copy of the prompt
 * @n: tokens
 * @vocab_size: tokens in the vocabulary
 *
 * Return: 0 or -EINVAL.
 */
int hc1_check_prompt(const u32 *tokens, u32 n, u32 vocab_size)
{
	u32 i;

	for (i = 0; i < n; i++)
		if (tokens[i] >= vocab_size)
			return -EINVAL;
	return 0;
}

/**
 * hc1_check_session() - validate HC1_IOCTL_SESSION_CREATE's input fields
 * @s: the caller's struct hc1_session
 *
 * Return: 0, or -EINVAL if a flag or the padding is set.
 */
int hc1_check_session(const struct hc1_session *s)
{
	return s->flags || s->pad ? -EINVAL : 0;
}

/**
 * hc1_check_wait() - validate HC1_IOCTL_WAIT's input fields
 * @w: the caller's struct hc1_wait
 *
 * Return: 0, or -EINVAL for a flag other than HC1_WAIT_BATCH.
 */
int hc1_check_wait(const struct hc1_wait *w)
{
	return w->flags & ~HC1_WAIT_BATCH ? -EINVAL : 0;
}

/**
 * hc1_wait_batch_target() - what an HC1_WAIT_BATCH wait waits for
 * @min_produced: the caller's struct hc1_wait.min_produced
 * @intc: HC1_REG_INTC as the driver programmed it
 *
 * Return: the min_produced that means "a whole coalescing batch past
 * @min_produced" (saturating), or @min_produced when batches are of one
 * token.
 */
u32 hc1_wait_batch_target(u32 min_produced, u32 intc)
{
	u32 batch = intc & HC1_INTC_TOKENS_MASK;

	if (batch <= 1)
		return min_produced;
	if (min_produced > U32_MAX - (batch - 1))
		return U32_MAX;
	return min_produced + batch - 1;
}

/**
 * hc1_check_buffer() - validate a struct hc1_buffer
 * @b: the request
 * @has_offset: the ioctl takes an offset (READ_VOCAB)
 * @blob_len: bytes of the object copied out
 *
 * Return: 0 or -EINVAL.
 */
int hc1_check_buffer(const struct hc1_buffer *b, bool has_offset,
		     u32 blob_len)
{
	if (b->pad)
		return -EINVAL;
	if (!has_offset && b->offset)
		return -EINVAL;
	if (b->offset > blob_len)
		return -EINVAL;
	return 0;
}

/**
 * hc1_check_uring_cmd() - validate the 16-byte uring_cmd payload
 * @c: the payload in the submission entry
 *
 * Return: 0, or -EINVAL if the padding is set.
 */
int hc1_check_uring_cmd(const struct hc1_uring_cmd *c)
{
	if (c->pad)
		return -EINVAL;
	return 0;
}

static void hc1_terminate(char *s, size_t len)
{
	s[len - 1] = '\0';
}

/**
 * hc1_check_model_card() - sanity of IDENTIFY data
 * @card: the 4096-byte IDENTIFY buffer, fixed up in place
 *
 * The card's answer is input like any other: strings are forced to end,
 * bytes past what the card says it filled are zeroed, and sizes the driver
 * sizes allocations by must be plausible.
 *
 * Return: 0, or -EPROTO for data no HC1 can produce.
 */
int hc1_check_model_card(struct hc1_model_card *card)
{
	u32 size = le32_to_cpu(card->size);
	u32 vocab_size, vocab_bytes, context_len, n_contexts, max_stop;

	if (size < offsetof(struct hc1_model_card, msix_vectors) ||
	    size > HC1_IDENTIFY_SIZE)
		return -EPROTO;
	if (size < sizeof(*card))
		memset((u8 *)card + size, 0, sizeof(*card) - size);
	hc1_terminate(card->name, sizeof(card->name));
	hc1_terminate(card->arch, sizeof(card->arch));
	vocab_size = le32_to_cpu(card->vocab_size);
	vocab_bytes = le32_to_cpu(card->vocab_bytes);
	context_len = le32_to_cpu(card->context_len);
	n_contexts = le32_to_cpu(card->n_contexts);
	max_stop = le32_to_cpu(card->max_stop);
	if (!vocab_size || vocab_size > HC1_MAX_VOCAB)
		return -EPROTO;
	if (!context_len || context_len > HC1_MAX_CONTEXT)
		return -EPROTO;
	if (!n_contexts || n_contexts > HC1_MAX_CONTEXTS)
		return -EPROTO;
	if (le32_to_cpu(card->bos_id) >= vocab_size ||
	    le32_to_cpu(card->eos_id) >= vocab_size)
		return -EPROTO;
	if (vocab_bytes < sizeof(struct hc1_vocab_header) ||
	    vocab_bytes > HC1_MAX_VOCAB_BYTES)
		return -EPROTO;
	if (!max_stop || max_stop > HC1_MAX_STOP)
		card->max_stop = cpu_to_le32(HC1_MAX_STOP);
	return 0;
}

/**
 * hc1_check_vocab() - the READ_VOCAB blob is well formed
 * @blob: the whole blob
 * @len: its bytes (hc1_model_card.vocab_bytes)
 * @vocab_size: entries the model card promises
 *
 * Userspace tokenizers parse this blob straight from the driver, so the
 * driver refuses one whose entries would run past its end.
 *
 * Return: 0 or -EPROTO.
 */
int hc1_check_vocab(const void *blob, u32 len, u32 vocab_size)
{
	const struct hc1_vocab_header *h = blob;
	const u8 *p = blob;
	u32 off = sizeof(*h);
	u32 i;

	if (len < sizeof(*h) || le32_to_cpu(h->magic) != HC1_VOCAB_MAGIC ||
	    le32_to_cpu(h->n_tokens) != vocab_size)
		return -EPROTO;
	for (i = 0; i < vocab_size; i++) {
		__le32 tlen_le;
		u32 tlen;

		if (len - off < 8)
			return -EPROTO;
		memcpy(&tlen_le, p + off + 4, sizeof(tlen_le));
		tlen = le32_to_cpu(tlen_le);
		off += 8;
		if (tlen > le32_to_cpu(h->max_token_len) || tlen > len - off)
			return -EPROTO;
		off += tlen;
	}
	return 0;
}

/**
 * hc1_kv_format_name() - sysfs spelling of enum hc1_kv_format
 * @fmt: the model card's kv_format, CPU order
 *
 * Return: "f32", "f16", "int8", or "unknown" for a format this driver
 * predates.
 */
const char *hc1_kv_format_name(u32 fmt)
{
	switch (fmt) {
	case HC1_KVFMT_F32:
		return "f32";
	case HC1_KVFMT_F16:
		return "f16";
	case HC1_KVFMT_INT8:
		return "int8";
	default:
		return "unknown";
	}
}

/**
 * hc1_weight_format_name() - sysfs spelling of enum hc1_weight_format
 * @fmt: the model card's weight_format, CPU order
 *
 * Return: "fp32", "int8", or "unknown" for a format this driver predates.
 */
const char *hc1_weight_format_name(u32 fmt)
{
	switch (fmt) {
	case HC1_WFMT_FP32:
		return "fp32";
	case HC1_WFMT_INT8:
		return "int8";
	default:
		return "unknown";
	}
}

/**
 * hc1_finish_name() - debugfs spelling of enum hc1_finish
 * @finish: a finish reason from a completion or ring header
 *
 * Return: its name, or "unknown" for a reason this driver predates.
 */
const char *hc1_finish_name(u32 finish)
{
	static const char * const names[] = {
		[HC1_FINISH_NONE] = "none",
		[HC1_FINISH_EOS] = "eos",
		[HC1_FINISH_STOP] = "stop",
		[HC1_FINISH_LENGTH] = "length",
		[HC1_FINISH_CONTEXT] = "context",
		[HC1_FINISH_CANCELLED] = "cancelled",
	};

	return finish < ARRAY_SIZE(names) ? names[finish] : "unknown";
}
