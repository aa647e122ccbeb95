/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The card's structures in the UAPI's terms (hc1_uapi.c).
 */
#ifndef HC1_UAPI_H
#define HC1_UAPI_H

#include <linux/types.h>
#include <hc1/hw.h>
#include <linux/hc1.h>

u64 hc1_uapi_drv_features(void);
u32 hc1_uapi_card_features(u32 hw_features);
void hc1_uapi_identity(const struct hc1_model_card *card, u32 hw_features,
		       struct hc1_identity *id);
void hc1_uapi_card_stats(const struct hc1_stats *st,
			 struct hc1_card_stats *out);
void hc1_uapi_ring_offsets(struct hc1_ring_offsets *off);

#endif /* HC1_UAPI_H */
