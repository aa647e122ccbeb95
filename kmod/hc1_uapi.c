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

u64 hc1_uapi_drv_features(void)
{
	return HC1_DRV_F_URING_CMD | HC1_DRV_F_MMAP_RING | HC1_DRV_F_POLL |
	       HC1_DRV_F_WAIT_BATCH | HC1_DRV_F_NEW;
}

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
	/* hc1_check_model_card() let no other through */
	return HC1_WEIGHTS_FP32;
}

void hc1_uapi_identity(const struct hc1_model_card *card, u32 hw_features,
		       struct hc1_identity *id)
{
	BUILD_BUG_ON(sizeof(id->name) != sizeof(card->name));
	BUILD_BUG_ON(sizeof(id->arch) != sizeof(card->arch));
	BUILD_BUG_ON(sizeof(id->sha256) != sizeof(card->sha256));

	memset(id, 0, sizeof(*id));
	id->size = sizeof(*id);
	id->version = card->version;
	id->features = hc1_uapi_card_features(hw_features);
	memcpy(id->name, card->name, sizeof(id->name));
	id->name[sizeof(id->name) - 1] = '\0';
	memcpy(id->arch, card->arch, sizeof(id->arch));
	id->arch[sizeof(id->arch) - 1] = '\0';
	id->dim = card->dim;
	id->hidden_dim = card->hidden_dim;
	id->n_layers = card->n_layers;
	id->n_heads = card->n_heads;
	id->n_kv_heads = card->n_kv_heads;
	id->vocab_size = card->vocab_size;
	id->context_len = card->context_len;
	id->bos_id = card->bos_id;
	id->eos_id = card->eos_id;
	id->weight_format = hc1_uapi_weights(card->weight_format);
	id->group_size = card->group_size;
	id->n_contexts = card->n_contexts;
	id->max_queues = card->max_queues;
	id->max_queue_entries = card->max_queue_entries;
	id->vocab_bytes = card->vocab_bytes;
	id->n_params = card->n_params;
	id->weight_bytes = card->weight_bytes;
	memcpy(id->sha256, card->sha256, sizeof(id->sha256));
	id->msix_vectors = card->msix_vectors;
	id->max_stop = card->max_stop;
}

void hc1_uapi_card_stats(const struct hc1_stats *st,
			 struct hc1_card_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->size = sizeof(*out);
	out->active_contexts = st->active_contexts;
	out->running = st->running;
	out->commands = st->commands;
	out->errors = st->errors;
	out->generations = st->generations;
	out->cancelled = st->cancelled;
	out->prompt_tokens = st->prompt_tokens;
	out->tokens = st->tokens;
	out->interrupts = st->interrupts;
	out->busy_ns = st->busy_ns;
	out->uptime_ns = st->uptime_ns;
	out->reg_errors = st->reg_errors;
}

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
