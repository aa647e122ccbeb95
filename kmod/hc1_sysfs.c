// SPDX-License-Identifier: GPL-2.0
/*
 * HC1 sysfs (model card, counters, state) and debugfs (queues, sessions).
 *
 * /sys/class/hc1/hcN/{state,io_queues,sessions}
 * /sys/class/hc1/hcN/model/{name,arch,dim,...,sha256}
 * /sys/class/hc1/hcN/stats/{tokens,generations,...}
 * /sys/kernel/debug/hc1/hcN/{queues,sessions}
 */
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/seq_file.h>
#include <linux/sysfs.h>

#include "hc1_drv.h"

static struct dentry *hc1_debugfs_root;

static struct hc1_dev *to_hc1(struct device *dev)
{
	return container_of(dev, struct hc1_dev, dev);
}

/* ------------------------------------------------------------- model */

#define HC1_CARD_U32_ATTR(field)					\
static ssize_t field##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%u\n", to_hc1(dev)->card.field);	\
}									\
static DEVICE_ATTR_RO(field)

HC1_CARD_U32_ATTR(dim);
HC1_CARD_U32_ATTR(hidden_dim);
HC1_CARD_U32_ATTR(n_layers);
HC1_CARD_U32_ATTR(n_heads);
HC1_CARD_U32_ATTR(n_kv_heads);
HC1_CARD_U32_ATTR(vocab_size);
HC1_CARD_U32_ATTR(context_len);
HC1_CARD_U32_ATTR(bos_id);
HC1_CARD_U32_ATTR(eos_id);
HC1_CARD_U32_ATTR(group_size);
HC1_CARD_U32_ATTR(n_contexts);

static ssize_t name_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", to_hc1(dev)->card.name);
}
static DEVICE_ATTR_RO(name);

static ssize_t arch_show(struct device *dev, struct device_attribute *attr,
			 char *buf)
{
	return sysfs_emit(buf, "%s\n", to_hc1(dev)->card.arch);
}
static DEVICE_ATTR_RO(arch);

static ssize_t weight_format_show(struct device *dev,
				  struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  hc1_weight_format_name(to_hc1(dev)->card.weight_format));
}
static DEVICE_ATTR_RO(weight_format);

static ssize_t n_params_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_hc1(dev)->card.n_params);
}
static DEVICE_ATTR_RO(n_params);

static ssize_t weight_bytes_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", to_hc1(dev)->card.weight_bytes);
}
static DEVICE_ATTR_RO(weight_bytes);

static ssize_t sha256_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	return sysfs_emit(buf, "%32phN\n", to_hc1(dev)->card.sha256);
}
static DEVICE_ATTR_RO(sha256);

static ssize_t hw_version_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	u32 v = to_hc1(dev)->card.version;

	return sysfs_emit(buf, "%u.%u\n", v >> 16, v & 0xffff);
}
static DEVICE_ATTR_RO(hw_version);

static struct attribute *hc1_model_attrs[] = {
	&dev_attr_name.attr,
	&dev_attr_arch.attr,
	&dev_attr_dim.attr,
	&dev_attr_hidden_dim.attr,
	&dev_attr_n_layers.attr,
	&dev_attr_n_heads.attr,
	&dev_attr_n_kv_heads.attr,
	&dev_attr_vocab_size.attr,
	&dev_attr_context_len.attr,
	&dev_attr_bos_id.attr,
	&dev_attr_eos_id.attr,
	&dev_attr_weight_format.attr,
	&dev_attr_group_size.attr,
	&dev_attr_n_params.attr,
	&dev_attr_weight_bytes.attr,
	&dev_attr_sha256.attr,
	&dev_attr_n_contexts.attr,
	&dev_attr_hw_version.attr,
	NULL
};

static const struct attribute_group hc1_model_group = {
	.name = "model",
	.attrs = hc1_model_attrs,
};

/* ------------------------------------------------------------- stats */

#define HC1_STAT_ATTR(field)						\
static ssize_t field##_show(struct device *dev,				\
			    struct device_attribute *attr, char *buf)	\
{									\
	return sysfs_emit(buf, "%lld\n",				\
			  atomic64_read(&to_hc1(dev)->stats.field));	\
}									\
static DEVICE_ATTR_RO(field)

HC1_STAT_ATTR(tokens);
HC1_STAT_ATTR(prompt_tokens);
HC1_STAT_ATTR(generations);
HC1_STAT_ATTR(cancelled);
HC1_STAT_ATTR(errors);
HC1_STAT_ATTR(resets);
HC1_STAT_ATTR(timeouts);

static ssize_t sessions_created_show(struct device *dev,
				     struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%lld\n",
			  atomic64_read(&to_hc1(dev)->stats.sessions));
}
static DEVICE_ATTR_RO(sessions_created);

static ssize_t interrupts_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	struct hc1_dev *hdev = to_hc1(dev);
	u64 sum = 0;
	int i;

	for (i = 0; i <= hdev->nr_io_queues; i++)
		sum += READ_ONCE(hdev->queues[i].interrupts);
	return sysfs_emit(buf, "%llu\n", sum);
}
static DEVICE_ATTR_RO(interrupts);

static struct attribute *hc1_stats_attrs[] = {
	&dev_attr_tokens.attr,
	&dev_attr_prompt_tokens.attr,
	&dev_attr_generations.attr,
	&dev_attr_cancelled.attr,
	&dev_attr_errors.attr,
	&dev_attr_resets.attr,
	&dev_attr_timeouts.attr,
	&dev_attr_sessions_created.attr,
	&dev_attr_interrupts.attr,
	NULL
};

static const struct attribute_group hc1_stats_group = {
	.name = "stats",
	.attrs = hc1_stats_attrs,
};

/* ------------------------------------------------------------- state */

static const char *hc1_state_name(enum hc1_state state)
{
	switch (state) {
	case HC1_STATE_LIVE:
		return "live";
	case HC1_STATE_RESETTING:
		return "resetting";
	case HC1_STATE_FAILED:
		return "failed";
	default:
		return "dead";
	}
}

static ssize_t state_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  hc1_state_name(READ_ONCE(to_hc1(dev)->state)));
}
static DEVICE_ATTR_RO(state);

static ssize_t sessions_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%u\n", READ_ONCE(to_hc1(dev)->nr_sessions));
}
static DEVICE_ATTR_RO(sessions);

static ssize_t io_queues_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", to_hc1(dev)->nr_io_queues);
}
static DEVICE_ATTR_RO(io_queues);

static ssize_t ring_shift_show(struct device *dev,
			       struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%u\n", to_hc1(dev)->ring_shift);
}
static DEVICE_ATTR_RO(ring_shift);

static struct attribute *hc1_dev_attrs[] = {
	&dev_attr_state.attr,
	&dev_attr_sessions.attr,
	&dev_attr_io_queues.attr,
	&dev_attr_ring_shift.attr,
	NULL
};

static const struct attribute_group hc1_dev_group = {
	.attrs = hc1_dev_attrs,
};

const struct attribute_group *hc1_dev_groups[] = {
	&hc1_dev_group,
	&hc1_model_group,
	&hc1_stats_group,
	NULL
};

/* ----------------------------------------------------------- debugfs */

static int hc1_queues_show(struct seq_file *m, void *unused)
{
	struct hc1_dev *hdev = m->private;
	int i;

	for (i = 0; i <= hdev->nr_io_queues; i++) {
		struct hc1_queue *q = &hdev->queues[i];
		unsigned long flags;

		spin_lock_irqsave(&q->lock, flags);
		seq_printf(m,
			   "qid %u depth %u vector %u live %d sq_tail %u cq_head %u phase %u inflight %u interrupts %llu\n",
			   q->qid, q->depth, q->vector, q->live, q->sq_tail,
			   q->cq_head, q->cq_phase, q->inflight,
			   q->interrupts);
		spin_unlock_irqrestore(&q->lock, flags);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hc1_queues);

static const char * const hc1_gen_state_names[] = {
	[HC1_GEN_IDLE] = "idle",
	[HC1_GEN_RUNNING] = "running",
	[HC1_GEN_DONE] = "done",
};

static int hc1_sessions_show(struct seq_file *m, void *unused)
{
	struct hc1_dev *hdev = m->private;
	struct hc1_file *s;

	mutex_lock(&hdev->sessions_lock);
	list_for_each_entry(s, &hdev->sessions, node) {
		spin_lock_irq(&s->state_lock);
		seq_printf(m,
			   "ctx %u queue %u state %s produced %u max %u finish %s status %d pending %d\n",
			   s->ctx, s->queue->qid,
			   hc1_gen_state_names[s->gen_state], s->produced,
			   s->gen_max, hc1_finish_name(s->gen_finish),
			   s->gen_status, !list_empty(&s->pending));
		spin_unlock_irq(&s->state_lock);
	}
	mutex_unlock(&hdev->sessions_lock);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(hc1_sessions);

void hc1_debugfs_init(struct hc1_dev *hdev)
{
	hdev->debugfs = debugfs_create_dir(dev_name(&hdev->dev),
					   hc1_debugfs_root);
	debugfs_create_file("queues", 0400, hdev->debugfs, hdev,
			    &hc1_queues_fops);
	debugfs_create_file("sessions", 0400, hdev->debugfs, hdev,
			    &hc1_sessions_fops);
}

void hc1_debugfs_exit(struct hc1_dev *hdev)
{
	debugfs_remove_recursive(hdev->debugfs);
	hdev->debugfs = NULL;
}

void hc1_debugfs_register(void)
{
	hc1_debugfs_root = debugfs_create_dir(HC1_DRV_NAME, NULL);
}

void hc1_debugfs_unregister(void)
{
	debugfs_remove_recursive(hc1_debugfs_root);
}
