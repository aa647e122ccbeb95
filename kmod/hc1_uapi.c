// SPDX-License-Identifier: GPL-2.0
/*
 * HC1 user API translation: what userspace reads (uapi/linux/hc1.h) built
 * from what the card reports (hc1/hw.h).  The UAPI has structures of its
 * own so that a card revision that changes the hardware's is absorbed here,
 * and programs built against an older UAPI keep working; its first version
 * happened to share the card's layouts, and this keeps those layouts for
 * them, field by field, whatever the card's become.
 *
 * The mapped token ring is the one structure not copied: the card writes
 * it and userspace reads it in place.  Its layout is reported to
 * userspace (struct hc1_ring_offsets), so moving its fields only changes
 * the offsets; its state and finish words carry the card's values, which
 * must therefore be the UAPI's (checked below).  A card whose values
 * differed would need a driver that withholds HC1_DRV_F_MMAP_RING.
 */
#include <asm/byteorder.h>
#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/string.h>

#include "hc1_uapi.h"

/*
 * make ... HC1_WITHHOLD_RING_OFFSETS=1 builds the driver as one from before
 * HC1_DRV_F_RING_OFFSETS: the compatibility test runs today's libhc on it.
 */
#ifdef HC1_WITHHOLD_RING_OFFSETS
#define HC1_DRV_F_NEW 0
#else
#define HC1_DRV_F_NEW HC1_DRV_F_RING_OFFSETS
#endif

/**
 * hc1_uapi_drv_features() - the driver's HC1_DRV_F_* bits for HC1_IOCTL_INFO
 *
 * Return: the features this build of the driver offers userspace.
 */
u64 hc1_uapi_drv_features(void)
{
	return HC1_DRV_F_URING_CMD | HC1_DRV_F_MMAP_RING | HC1_DRV_F_POLL |
	       HC1_DRV_F_WAIT_BATCH | HC1_DRV_F_NEW;
}

/**
 * hc1_uapi_card_features() - the card's features in the UAPI's bits
 * @hw: the card's HC1_FEAT_* bits, CPU order
 *
 * Return: the HC1_CARD_F_* bits of the features userspace may know of;
 * hardware bits with no UAPI meaning are dropped.
 */
u32 hc1_uapi_card_features(u32 hw)
{
	u32 f = 0;

	if (hw & HC1_FEAT_COALESCE)
		f |= HC1_CARD_F_COALESCE;
	if (hw & HC1_FEAT_POLLED_QUEUES)
		f |= HC1_CARD_F_POLLED_QUEUES;
	if (hw & HC1_FEAT_INT8)
		f |= HC1_CARD_F_INT8;
	if (hw & HC1_FEAT_FAULT_INJECT)
		f |= HC1_CARD_F_FAULT_INJECT;
	return f;
}

static u32 hc1_uapi_weights(u32 hw_format)
{
	switch (hw_format) {
	case HC1_WFMT_FP32:
		return HC1_WEIGHTS_FP32;
	case HC1_WFMT_INT8:
		return HC1_WEIGHTS_INT8;
	}
	/* a card newer than the driver: say so rather than guess */
	return HC1_WEIGHTS_UNKNOWN;
}

static u32 hc1_uapi_kv_format(u32 hw_format)
{
	switch (hw_format) {
	case HC1_KVFMT_F32:
		return HC1_KV_F32;
	case HC1_KVFMT_F16:
		return HC1_KV_F16;
	case HC1_KVFMT_INT8:
		return HC1_KV_INT8;
	}
	/* a card newer than the driver: say so rather than guess */
	return HC1_KV_UNKNOWN;
}

/**
 * hc1_uapi_identity() - build HC1_IOCTL_IDENTIFY's answer from the card's
 * @card: the model card the card reported (little-endian, as read)
 * @hw_features: the card's HC1_FEAT_* bits, CPU order
 * @id: filled in full, reserved space zeroed
 */
void hc1_uapi_identity(const struct hc1_model_card *card, u32 hw_features,
		       struct hc1_identity *id)
{
	BUILD_BUG_ON(sizeof(id->name) != sizeof(card->name));
	BUILD_BUG_ON(sizeof(id->arch) != sizeof(card->arch));
	BUILD_BUG_ON(sizeof(id->sha256) != sizeof(card->sha256));
	/*
	 * Programs of the first version read up to @max_stop; what came later
	 * follows it, and the struct has no implicit padding a 32-bit program
	 * would lay out differently.
	 */
	BUILD_BUG_ON(offsetof(struct hc1_identity, kv_format) !=
		     HC1_IDENTITY_SIZE_V1);
	BUILD_BUG_ON(sizeof(struct hc1_identity) !=
		     offsetofend(struct hc1_identity, rsvd2));

	memset(id, 0, sizeof(*id));
	id->size = sizeof(*id);
	id->version = le32_to_cpu(card->version);
	id->features = hc1_uapi_card_features(hw_features);
	memcpy(id->name, card->name, sizeof(id->name));
	id->name[sizeof(id->name) - 1] = '\0';
	memcpy(id->arch, card->arch, sizeof(id->arch));
	id->arch[sizeof(id->arch) - 1] = '\0';
	id->dim = le32_to_cpu(card->dim);
	id->hidden_dim = le32_to_cpu(card->hidden_dim);
	id->n_layers = le32_to_cpu(card->n_layers);
	id->n_heads = le32_to_cpu(card->n_heads);
	id->n_kv_heads = le32_to_cpu(card->n_kv_heads);
	id->vocab_size = le32_to_cpu(card->vocab_size);
	id->context_len = le32_to_cpu(card->context_len);
	id->bos_id = le32_to_cpu(card->bos_id);
	id->eos_id = le32_to_cpu(card->eos_id);
	id->weight_format = hc1_uapi_weights(le32_to_cpu(card->weight_format));
	id->group_size = le32_to_cpu(card->group_size);
	id->n_contexts = le32_to_cpu(card->n_contexts);
	id->max_queues = le32_to_cpu(card->max_queues);
	id->max_queue_entries = le32_to_cpu(card->max_queue_entries);
	id->vocab_bytes = le32_to_cpu(card->vocab_bytes);
	id->n_params = le64_to_cpu(card->n_params);
	id->weight_bytes = le64_to_cpu(card->weight_bytes);
	memcpy(id->sha256, card->sha256, sizeof(id->sha256));
	id->msix_vectors = le32_to_cpu(card->msix_vectors);
	id->max_stop = le32_to_cpu(card->max_stop);
	id->kv_format = hc1_uapi_kv_format(le32_to_cpu(card->kv_format));
}

/**
 * hc1_uapi_card_stats() - build HC1_IOCTL_STATS's answer from the card's
 * @st: the statistics the card wrote (little-endian, as read)
 * @out: filled in full, reserved space zeroed
 */
void hc1_uapi_card_stats(const struct hc1_stats *st,
			 struct hc1_card_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->active_contexts = le32_to_cpu(st->active_contexts);
	out->running = le32_to_cpu(st->running);
	out->commands = le64_to_cpu(st->commands);
	out->errors = le64_to_cpu(st->errors);
	out->generations = le64_to_cpu(st->generations);
	out->cancelled = le64_to_cpu(st->cancelled);
	out->prompt_tokens = le64_to_cpu(st->prompt_tokens);
	out->tokens = le64_to_cpu(st->tokens);
	out->interrupts = le64_to_cpu(st->interrupts);
	out->busy_ns = le64_to_cpu(st->busy_ns);
	out->uptime_ns = le64_to_cpu(st->uptime_ns);
	out->reg_errors = le64_to_cpu(st->reg_errors);
}

/**
 * hc1_uapi_ring_offsets() - where userspace finds the mapped ring's words
 * @off: filled with the offsets, or zeroed by a driver built without
 *	HC1_DRV_F_RING_OFFSETS (userspace then uses HC1_RING_V1_*)
 */
void hc1_uapi_ring_offsets(struct hc1_ring_offsets *off)
{
	/*
	 * The words of the card's ring header mean what the UAPI says (the
	 * enums differ in type, not in value).
	 */
	BUILD_BUG_ON((int)HC1_RING_IDLE != (int)HC1_GENERATION_IDLE);
	BUILD_BUG_ON((int)HC1_RING_RUNNING != (int)HC1_GENERATION_RUNNING);
	BUILD_BUG_ON((int)HC1_RING_DONE != (int)HC1_GENERATION_DONE);
	BUILD_BUG_ON((int)HC1_FINISH_NONE != (int)HC1_END_NONE);
	BUILD_BUG_ON((int)HC1_FINISH_EOS != (int)HC1_END_EOS);
	BUILD_BUG_ON((int)HC1_FINISH_STOP != (int)HC1_END_STOP);
	BUILD_BUG_ON((int)HC1_FINISH_LENGTH != (int)HC1_END_LENGTH);
	BUILD_BUG_ON((int)HC1_FINISH_CONTEXT != (int)HC1_END_CONTEXT);
	BUILD_BUG_ON((int)HC1_FINISH_CANCELLED != (int)HC1_END_CANCELLED);
	/* Callers of the first version give the struct without @offsets. */
	BUILD_BUG_ON(offsetof(struct hc1_session, offsets) !=
		     HC1_SESSION_SIZE_V1);
	/* A driver without HC1_DRV_F_RING_OFFSETS maps the first layout. */
	BUILD_BUG_ON(offsetof(struct hc1_ring_header, produced) !=
		     HC1_RING_V1_PRODUCED);
	BUILD_BUG_ON(offsetof(struct hc1_ring_header, state) !=
		     HC1_RING_V1_STATE);
	BUILD_BUG_ON(offsetof(struct hc1_ring_header, finish) !=
		     HC1_RING_V1_FINISH);
	BUILD_BUG_ON(offsetof(struct hc1_ring_header, n_prompt) !=
		     HC1_RING_V1_N_PROMPT);
	BUILD_BUG_ON(sizeof(struct hc1_ring_header) != HC1_RING_V1_SLOTS);
	/* The vocabulary blob is the card's, handed through. */
	BUILD_BUG_ON(HC1_VOCAB_MAGIC != HC1_VOCAB_BLOB_MAGIC);
	BUILD_BUG_ON(sizeof(struct hc1_vocab_header) !=
		     sizeof(struct hc1_vocab_blob));

	memset(off, 0, sizeof(*off));
	if (!HC1_DRV_F_NEW)
		return;
	off->produced = offsetof(struct hc1_ring_header, produced);
	off->state = offsetof(struct hc1_ring_header, state);
	off->finish = offsetof(struct hc1_ring_header, finish);
	off->n_prompt = offsetof(struct hc1_ring_header, n_prompt);
	off->slots = sizeof(struct hc1_ring_header);
}
