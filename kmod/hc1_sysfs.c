// SPDX-License-Identifier: GPL-2.0
/*
 * HC1 sysfs (model card, counters, state) and debugfs (queues, sessions).
 *
 * /sys/class/hc1/hcN/{state,io_queues,sessions}
 * /sys/class/hc1/hcN/model/{name,arch,dim,...,sha256}
 * /sys/class/hc1/hcN/stats/{tokens,generations,...}
 * /sys/kernel/debug/hc1/hcN/{queues,sessions,fault_inject,shutdown}
 */
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/math64.h>
#include <linux/seq_file.h>
#include <linux/sysfs.h>

#include "hc1_drv.h"

static struct dentry *hc1_debugfs_root;

static struct hc1_dev *to_hc1(struct device *dev)
{
	return container_of(dev, struct hc1_dev, dev);
}

/* ------------------------------------------------------------- model */

/* A u32 of the model card, found by offset. */
struct hc1_card_attr {
	struct device_attribute attr;
	size_t offset;
};

static ssize_t hc1_card_u32_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	struct hc1_card_attr *ca = container_of(attr, struct hc1_card_attr,
						attr);
	const u8 *card = (const u8 *)&to_hc1(dev)->card;
	__le32 val;

	memcpy(&val, card + ca->offset, sizeof(val));
	return sysfs_emit(buf, "%u\n", le32_to_cpu(val));
}

#define HC1_CARD_ATTR(_name, _off) \
	{ __ATTR(_name, 0444, hc1_card_u32_show, NULL), _off }

static struct hc1_card_attr hc1_card_u32_attrs[] = {
	HC1_CARD_ATTR(dim, offsetof(struct hc1_model_card, dim)),
	HC1_CARD_ATTR(hidden_dim, offsetof(struct hc1_model_card, hidden_dim)),
	HC1_CARD_ATTR(n_layers, offsetof(struct hc1_model_card, n_layers)),
	HC1_CARD_ATTR(n_heads, offsetof(struct hc1_model_card, n_heads)),
	HC1_CARD_ATTR(n_kv_heads, offsetof(struct hc1_model_card, n_kv_heads)),
	HC1_CARD_ATTR(vocab_size, offsetof(struct hc1_model_card, vocab_size)),
	HC1_CARD_ATTR(context_len,
		      offsetof(struct hc1_model_card, context_len)),
	HC1_CARD_ATTR(bos_id, offsetof(struct hc1_model_card, bos_id)),
	HC1_CARD_ATTR(eos_id, offsetof(struct hc1_model_card, eos_id)),
	HC1_CARD_ATTR(group_size, offsetof(struct hc1_model_card, group_size)),
	HC1_CARD_ATTR(n_contexts, offsetof(struct hc1_model_card, n_contexts)),
};

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
			  hc1_weight_format_name(le32_to_cpu(to_hc1(dev)->card.weight_format)));
}
static DEVICE_ATTR_RO(weight_format);

static ssize_t kv_format_show(struct device *dev,
			      struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n",
			  hc1_kv_format_name(le32_to_cpu(to_hc1(dev)->card.kv_format)));
}
static DEVICE_ATTR_RO(kv_format);

static ssize_t n_params_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	return sysfs_emit(buf, "%llu\n", le64_to_cpu(to_hc1(dev)->card.n_params));
}
static DEVICE_ATTR_RO(n_params);

static ssize_t weight_bytes_show(struct device *dev,
				 struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", le64_to_cpu(to_hc1(dev)->card.weight_bytes));
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
	u32 v = le32_to_cpu(to_hc1(dev)->card.version);

	return sysfs_emit(buf, "%u.%u\n", v >> 16, v & 0xffff);
}
static DEVICE_ATTR_RO(hw_version);

static struct attribute *hc1_model_attrs[] = {
	&dev_attr_name.attr,
	&dev_attr_arch.attr,
	&hc1_card_u32_attrs[0].attr.attr,
	&hc1_card_u32_attrs[1].attr.attr,
	&hc1_card_u32_attrs[2].attr.attr,
	&hc1_card_u32_attrs[3].attr.attr,
	&hc1_card_u32_attrs[4].attr.attr,
	&hc1_card_u32_attrs[5].attr.attr,
	&hc1_card_u32_attrs[6].attr.attr,
	&hc1_card_u32_attrs[7].attr.attr,
	&hc1_card_u32_attrs[8].attr.attr,
	&hc1_card_u32_attrs[9].attr.attr,
	&hc1_card_u32_attrs[10].attr.attr,
	&dev_attr_weight_format.attr,
	&dev_attr_kv_format.attr,
	&dev_attr_n_params.attr,
	&dev_attr_weight_bytes.attr,
	&dev_attr_sha256.attr,
	&dev_attr_hw_version.attr,
	NULL
};

static const struct attribute_group hc1_model_group = {
	.name = "model",
	.attrs = hc1_model_attrs,
};

/* ------------------------------------------------------------- stats */

/* A driver counter, found by offset. */
struct hc1_stat_attr {
	struct device_attribute attr;
	size_t offset;
};

static ssize_t hc1_stat_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct hc1_stat_attr *sa = container_of(attr, struct hc1_stat_attr,
						attr);
	atomic64_t *counter = (void *)&to_hc1(dev)->stats + sa->offset;

	return sysfs_emit(buf, "%lld\n", atomic64_read(counter));
}

#define HC1_STAT_ATTR(_name, _off) \
	{ __ATTR(_name, 0444, hc1_stat_show, NULL), _off }

static struct hc1_stat_attr hc1_stat_attrs[] = {
	HC1_STAT_ATTR(tokens, offsetof(struct hc1_counters, tokens)),
	HC1_STAT_ATTR(prompt_tokens,
		      offsetof(struct hc1_counters, prompt_tokens)),
	HC1_STAT_ATTR(generations, offsetof(struct hc1_counters, generations)),
	HC1_STAT_ATTR(cancelled, offsetof(struct hc1_counters, cancelled)),
	HC1_STAT_ATTR(errors, offsetof(struct hc1_counters, errors)),
	HC1_STAT_ATTR(resets, offsetof(struct hc1_counters, resets)),
	HC1_STAT_ATTR(timeouts, offsetof(struct hc1_counters, timeouts)),
	HC1_STAT_ATTR(sessions_created,
		      offsetof(struct hc1_counters, sessions)),
	HC1_STAT_ATTR(ttft_us_last,
		      offsetof(struct hc1_counters, ttft_us_last)),
};

static ssize_t ttft_us_avg_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct hc1_counters *stats = &to_hc1(dev)->stats;
	u64 n = atomic64_read(&stats->ttft_count);

	return sysfs_emit(buf, "%llu\n",
			  n ? div64_u64(atomic64_read(&stats->ttft_us_sum), n) :
			      0);
}
static DEVICE_ATTR_RO(ttft_us_avg);

/* Commands in flight on all queues: the card's queue depth now. */
static ssize_t inflight_show(struct device *dev, struct device_attribute *attr,
			     char *buf)
{
	struct hc1_dev *hdev = to_hc1(dev);
	unsigned int sum = 0;
	int i;

	for (i = 0; i <= hdev->nr_io_queues; i++)
		sum += READ_ONCE(hdev->queues[i].inflight);
	return sysfs_emit(buf, "%u\n", sum);
}
static DEVICE_ATTR_RO(inflight);

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
	&hc1_stat_attrs[0].attr.attr,
	&hc1_stat_attrs[1].attr.attr,
	&hc1_stat_attrs[2].attr.attr,
	&hc1_stat_attrs[3].attr.attr,
	&hc1_stat_attrs[4].attr.attr,
	&hc1_stat_attrs[5].attr.attr,
	&hc1_stat_attrs[6].attr.attr,
	&hc1_stat_attrs[7].attr.attr,
	&hc1_stat_attrs[8].attr.attr,
	&dev_attr_ttft_us_avg.attr,
	&dev_attr_inflight.attr,
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
	case HC1_STATE_PROBING:
		return "probing";
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

/*
 * Session DMA buffers still allocated: token rings (a mapped ring outlives
 * its session) and prompt buffers.  0 once every file and mapping is gone;
 * the stress tests check it after killing processes mid-generation.
 */
static ssize_t dma_buffers_show(struct device *dev,
				struct device_attribute *attr, char *buf)
{
	struct hc1_dev *hdev = to_hc1(dev);
	struct hc1_ring *ring;
	struct hc1_file *s;
	unsigned int n = 0;

	mutex_lock(&hdev->sessions_lock);
	list_for_each_entry(ring, &hdev->rings, node)
		n += !!ring->vaddr;
	list_for_each_entry(s, &hdev->sessions, node)
		n += !!s->prompt;
	mutex_unlock(&hdev->sessions_lock);
	return sysfs_emit(buf, "%u\n", n);
}
static DEVICE_ATTR_RO(dma_buffers);

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

/*
 * Interrupt coalescing (HC1_REG_INTC): an interrupt once this many tokens
 * are waiting, or this long after the first of them.  Survives resets.
 */
static ssize_t hc1_intc_show(struct device *dev, char *buf, u32 mask,
			     u32 shift)
{
	return sysfs_emit(buf, "%u\n",
			  (READ_ONCE(to_hc1(dev)->intc) & mask) >> shift);
}

static ssize_t hc1_intc_store(struct device *dev, const char *buf,
			      size_t count, u32 mask, u32 shift)
{
	struct hc1_dev *hdev = to_hc1(dev);
	u32 val;
	int ret;

	if (!(hdev->features & HC1_FEAT_COALESCE))
		return -EOPNOTSUPP;
	ret = kstrtou32(buf, 0, &val);
	if (ret)
		return ret;
	if (val > mask >> shift)
		return -ERANGE;
	mutex_lock(&hdev->admin_lock);
	WRITE_ONCE(hdev->intc, (hdev->intc & ~mask) | val << shift);
	if (READ_ONCE(hdev->state) == HC1_STATE_LIVE)
		hc1_writel(hdev, hdev->intc, HC1_REG_INTC);
	mutex_unlock(&hdev->admin_lock);
	return count;
}

static ssize_t coalesce_tokens_show(struct device *dev,
				    struct device_attribute *attr, char *buf)
{
	return hc1_intc_show(dev, buf, HC1_INTC_TOKENS_MASK, 0);
}

static ssize_t coalesce_tokens_store(struct device *dev,
				     struct device_attribute *attr,
				     const char *buf, size_t count)
{
	return hc1_intc_store(dev, buf, count, HC1_INTC_TOKENS_MASK, 0);
}
static DEVICE_ATTR_RW(coalesce_tokens);

static ssize_t coalesce_usecs_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	return hc1_intc_show(dev, buf, HC1_INTC_USECS_MASK,
			     HC1_INTC_USECS_SHIFT);
}

static ssize_t coalesce_usecs_store(struct device *dev,
				    struct device_attribute *attr,
				    const char *buf, size_t count)
{
	return hc1_intc_store(dev, buf, count, HC1_INTC_USECS_MASK,
			      HC1_INTC_USECS_SHIFT);
}
static DEVICE_ATTR_RW(coalesce_usecs);

static struct attribute *hc1_dev_attrs[] = {
	&dev_attr_coalesce_tokens.attr,
	&dev_attr_coalesce_usecs.attr,
	&dev_attr_state.attr,
	&dev_attr_sessions.attr,
	&dev_attr_dma_buffers.attr,
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

/*
 * HC1_REG_TEST, for cards built with fault injection: tests make the card
 * stall, drop interrupts or fail, and watch the driver recover.  BAR0 is
 * the driver's, so userspace cannot reach the register any other way.
 */
static int hc1_fault_get(void *data, u64 *val)
{
	struct hc1_dev *hdev = data;

	if (READ_ONCE(hdev->state) == HC1_STATE_DEAD)
		return -ENODEV;
	*val = hc1_readl(hdev, HC1_REG_TEST);
	return 0;
}

static int hc1_fault_set(void *data, u64 val)
{
	struct hc1_dev *hdev = data;

	if (val > U32_MAX)
		return -EINVAL;
	if (READ_ONCE(hdev->state) == HC1_STATE_DEAD)
		return -ENODEV;
	hc1_writel(hdev, val, HC1_REG_TEST);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(hc1_fault_fops, hc1_fault_get, hc1_fault_set,
			 "0x%llx\n");

/*
 * The shutdown callback, which otherwise runs only as the machine goes
 * down: a test shuts a card with fault injection down and watches it stay
 * off.  Unbinding the driver returns the card to service.
 */
static int hc1_shutdown_set(void *data, u64 val)
{
	if (val != 1)
		return -EINVAL;
	hc1_shutdown_card(data);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(hc1_shutdown_fops, NULL, hc1_shutdown_set, "%llu\n");

/**
 * hc1_debugfs_init() - create the card's debugfs directory
 * @hdev: card, probed far enough that its queues and features are known
 *
 * debugfs failures are not errors: the card works without it.
 */
void hc1_debugfs_init(struct hc1_dev *hdev)
{
	hdev->debugfs = debugfs_create_dir(dev_name(&hdev->dev),
					   hc1_debugfs_root);
	debugfs_create_file("queues", 0400, hdev->debugfs, hdev,
			    &hc1_queues_fops);
	debugfs_create_file("sessions", 0400, hdev->debugfs, hdev,
			    &hc1_sessions_fops);
	if (hdev->features & HC1_FEAT_FAULT_INJECT) {
		debugfs_create_file_unsafe("fault_inject", 0600, hdev->debugfs,
					   hdev, &hc1_fault_fops);
		debugfs_create_file_unsafe("shutdown", 0200, hdev->debugfs,
					   hdev, &hc1_shutdown_fops);
	}
}

/**
 * hc1_debugfs_exit() - remove the card's debugfs directory
 * @hdev: card
 */
void hc1_debugfs_exit(struct hc1_dev *hdev)
{
	debugfs_remove_recursive(hdev->debugfs);
	hdev->debugfs = NULL;
}

/**
 * hc1_debugfs_register() - create the driver's debugfs root at module load
 */
void hc1_debugfs_register(void)
{
	hc1_debugfs_root = debugfs_create_dir(HC1_DRV_NAME, NULL);
}

/**
 * hc1_debugfs_unregister() - remove the driver's debugfs root at unload
 */
void hc1_debugfs_unregister(void)
{
	debugfs_remove_recursive(hc1_debugfs_root);
}
