// SPDX-License-Identifier: GPL-2.0
/*
 * hc1.ko: PCI driver for the HC1 inference card.
 *
 * Probe brings the controller up (admin queue, IDENTIFY, vocabulary, I/O
 * queues) and exposes /dev/hc/N; a watchdog polls for lost interrupts,
 * stalled generations and fatal status and resets the card when needed;
 * removal, orderly or not, fails everything in flight and frees the DMA
 * memory while open files linger until closed.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/module.h>
#include <linux/slab.h>

#include "hc1_drv.h"

#define HC1_WATCHDOG_MS 250

unsigned int hc1_timeout_ms = 10000;
module_param_named(timeout_ms, hc1_timeout_ms, uint, 0644);
MODULE_PARM_DESC(timeout_ms,
		 "Reset the card after a command or generation makes no progress for this long (ms)");

static unsigned int max_io_queues = 8;
module_param(max_io_queues, uint, 0444);
MODULE_PARM_DESC(max_io_queues, "Upper bound on I/O queue pairs per card");

static unsigned int coalesce_tokens;
module_param(coalesce_tokens, uint, 0444);
MODULE_PARM_DESC(coalesce_tokens,
		 "Interrupt after this many tokens (0 = card default)");

static unsigned int coalesce_usecs;
module_param(coalesce_usecs, uint, 0444);
MODULE_PARM_DESC(coalesce_usecs,
		 "Interrupt at most this long after a token (0 = card default)");

static unsigned int ring_shift_max = 16;
module_param(ring_shift_max, uint, 0444);
MODULE_PARM_DESC(ring_shift_max, "log2 of the largest token ring per session");

static struct class *hc1_class;
static dev_t hc1_devt;
static DEFINE_IDA(hc1_index_ida);

/**
 * hc1_readl() - read a BAR0 register
 * @hdev: card
 * @reg: HC1_REG_* offset
 *
 * Return: the register, or all ones once the card has left the bus.
 */
u32 hc1_readl(struct hc1_dev *hdev, u32 reg)
{
	return readl(hdev->bar + reg);
}

/**
 * hc1_writel() - write a BAR0 register
 * @hdev: card
 * @val: value
 * @reg: HC1_REG_* offset
 */
void hc1_writel(struct hc1_dev *hdev, u32 val, u32 reg)
{
	writel(val, hdev->bar + reg);
}

/**
 * hc1_dev_state_errno() - what a caller gets from a card in its state
 * @hdev: card
 *
 * Return: 0 if the card is live, -EIO if it is resetting or failed to
 * reset, -ENODEV if it is gone.
 */
int hc1_dev_state_errno(struct hc1_dev *hdev)
{
	switch (READ_ONCE(hdev->state)) {
	case HC1_STATE_LIVE:
		return 0;
	case HC1_STATE_DEAD:
		return -ENODEV;
	default:
		return -EIO;
	}
}

/**
 * hc1_wait_usable() - wait out a reset in progress
 * @hdev: card
 *
 * Return: 0 when the card is live; -EINTR on a signal; otherwise the
 * state's errno.
 */
int hc1_wait_usable(struct hc1_dev *hdev)
{
	if (wait_event_interruptible(hdev->state_wait,
				     READ_ONCE(hdev->state) !=
				     HC1_STATE_RESETTING))
		return -EINTR;
	return hc1_dev_state_errno(hdev);
}

/**
 * hc1_dev_get() - take a reference on the card's struct device
 * @hdev: card
 *
 * Each open file holds one, so @hdev outlives removal until the last close.
 */
void hc1_dev_get(struct hc1_dev *hdev)
{
	get_device(&hdev->dev);
}

/**
 * hc1_dev_put() - drop a reference taken by hc1_dev_get()
 * @hdev: card; freed by the device's release when this was the last one
 */
void hc1_dev_put(struct hc1_dev *hdev)
{
	put_device(&hdev->dev);
}

/* Wait until CSTS.RDY equals @rdy; a fatal status ends the wait early. */
static int hc1_wait_ready(struct hc1_dev *hdev, bool rdy)
{
	unsigned long deadline = jiffies +
		msecs_to_jiffies(hdev->ready_timeout_ms);
	u32 csts;

	for (;;) {
		csts = hc1_readl(hdev, HC1_REG_CSTS);
		if (csts == ~0u)
			return -ENODEV;
		if (!!(csts & HC1_CSTS_RDY) == rdy)
			return 0;
		if (rdy && (csts & HC1_CSTS_CFS)) {
			dev_err(&hdev->pdev->dev,
				"controller fatal status, reason %u\n",
				(csts & HC1_CSTS_FATAL_MASK) >>
				HC1_CSTS_FATAL_SHIFT);
			return -EIO;
		}
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		usleep_range(1000, 2000);
	}
}

/*
 * Stop the controller.  A card that does not (CSTS.RDY still set at the
 * ready timeout) may go on working and writing the rings and reading the
 * prompts its caller is about to fail and free: take bus mastering away
 * from it, as NVMe does on that path.  hc1_enable_ctrl() gives it back.
 */
static int hc1_disable_ctrl(struct hc1_dev *hdev)
{
	int ret;

	hc1_writel(hdev, 0, HC1_REG_CC);
	ret = hc1_wait_ready(hdev, false);
	if (ret == -ETIMEDOUT) {
		dev_err(&hdev->pdev->dev,
			"controller does not stop: bus mastering off\n");
		pci_clear_master(hdev->pdev);
	}
	return ret;
}

/*
 * Program the admin queue and coalescing, then enable: the card validates
 * the admin queue at EN 0->1.
 */
static int hc1_enable_ctrl(struct hc1_dev *hdev)
{
	struct hc1_queue *aq = &hdev->queues[HC1_ADMIN_QID];
	int ret;

	ret = hc1_disable_ctrl(hdev);
	if (ret)
		return ret;
	pci_set_master(hdev->pdev);
	hc1_writel(hdev, (aq->depth - 1) |
		   ((u32)(aq->depth - 1) << HC1_AQA_ACQS_SHIFT), HC1_REG_AQA);
	lo_hi_writeq(aq->sq_dma, hdev->bar + HC1_REG_ASQ);
	lo_hi_writeq(aq->cq_dma, hdev->bar + HC1_REG_ACQ);
	if (hdev->features & HC1_FEAT_COALESCE)
		hc1_writel(hdev, READ_ONCE(hdev->intc), HC1_REG_INTC);
	hc1_writel(hdev, HC1_CC_EN, HC1_REG_CC);
	ret = hc1_wait_ready(hdev, true);
	if (ret)
		return ret;
	hc1_queue_set_live(aq, true);
	return 0;
}

static int hc1_create_io_queues(struct hc1_dev *hdev)
{
	int i, ret;

	for (i = 1; i <= hdev->nr_io_queues; i++) {
		ret = hc1_create_io_queue(hdev, &hdev->queues[i]);
		if (ret)
			return ret;
	}
	return 0;
}

static void hc1_close_queues(struct hc1_dev *hdev, int err)
{
	int i;

	for (i = 0; i <= hdev->nr_io_queues; i++)
		hc1_queue_set_live(&hdev->queues[i], false);
	for (i = 0; i <= hdev->nr_io_queues; i++) {
		synchronize_irq(pci_irq_vector(hdev->pdev, hdev->queues[i].vector));
		hc1_queue_fail_all(&hdev->queues[i], err);
	}
}

static void hc1_set_state(struct hc1_dev *hdev, enum hc1_state state)
{
	unsigned long flags;

	spin_lock_irqsave(&hdev->state_lock, flags);
	if (hdev->state != HC1_STATE_DEAD)
		WRITE_ONCE(hdev->state, state);
	spin_unlock_irqrestore(&hdev->state_lock, flags);
	wake_up_all(&hdev->state_wait);
}

/* Return: true if this call is the one that declared the card dead. */
static bool hc1_mark_dead(struct hc1_dev *hdev)
{
	unsigned long flags;
	bool first;

	spin_lock_irqsave(&hdev->state_lock, flags);
	first = hdev->state != HC1_STATE_DEAD;
	WRITE_ONCE(hdev->state, HC1_STATE_DEAD);
	spin_unlock_irqrestore(&hdev->state_lock, flags);
	wake_up_all(&hdev->state_wait);
	return first;
}

/*
 * The card is gone (or going): stop it if it is still there, fail every
 * command with -ENODEV and free what sessions hold in DMA memory.
 */
static void hc1_card_gone(struct hc1_dev *hdev, bool present)
{
	if (present)
		hc1_disable_ctrl(hdev);
	hc1_close_queues(hdev, -ENODEV);
	hc1_sessions_card_gone(hdev);
}

/**
 * hc1_schedule_reset() - ask for a controller reset
 * @hdev: card
 * @why: logged reason
 *
 * Does nothing while a reset runs, while probe brings the card up (a
 * command that times out there fails the probe) or after the card is gone.
 */
void hc1_schedule_reset(struct hc1_dev *hdev, const char *why)
{
	unsigned long flags;
	bool start = false;

	spin_lock_irqsave(&hdev->state_lock, flags);
	if (hdev->state == HC1_STATE_LIVE || hdev->state == HC1_STATE_FAILED) {
		WRITE_ONCE(hdev->state, HC1_STATE_RESETTING);
		start = true;
	}
	spin_unlock_irqrestore(&hdev->state_lock, flags);
	if (start) {
		dev_warn(&hdev->pdev->dev, "resetting: %s\n", why);
		queue_work(system_unbound_wq, &hdev->reset_work);
	}
}

static void hc1_reset_uevent(struct hc1_dev *hdev, int ret)
{
	char event[] = "HC1_EVENT=RESET";
	char result[32];
	char *envp[3];

	envp[0] = event;
	envp[1] = result;
	envp[2] = NULL;
	snprintf(result, sizeof(result), "HC1_RESET=%s", ret ? "failed" : "ok");
	kobject_uevent_env(&hdev->dev.kobj, KOBJ_CHANGE, envp);
}

static void hc1_reset_work(struct work_struct *work)
{
	struct hc1_dev *hdev = container_of(work, struct hc1_dev, reset_work);
	int ret, i;

	if (READ_ONCE(hdev->state) != HC1_STATE_RESETTING)
		return;
	atomic64_inc(&hdev->stats.resets);
	ret = hc1_disable_ctrl(hdev);
	hc1_close_queues(hdev, -EIO);
	WRITE_ONCE(hdev->reset_count, hdev->reset_count + 1);
	if (ret == -ENODEV && !pci_device_is_present(hdev->pdev)) {
		if (hc1_mark_dead(hdev))
			hc1_card_gone(hdev, false);
		return;
	}

	/*
	 * A card that did not stop stays off the bus and is not enabled
	 * again; another reset may try.  Admin users that held admin_lock
	 * were failed above and let go.
	 */
	if (ret != -ETIMEDOUT) {
		mutex_lock(&hdev->admin_lock);
		for (i = 0; i <= hdev->nr_io_queues; i++)
			hc1_queue_init_rings(&hdev->queues[i]);
		ret = hc1_enable_ctrl(hdev);
		if (!ret)
			ret = hc1_create_io_queues(hdev);
		mutex_unlock(&hdev->admin_lock);
		if (ret) {
			hc1_disable_ctrl(hdev);
			hc1_close_queues(hdev, -EIO);
		}
	}

	if (ret) {
		dev_err(&hdev->pdev->dev, "reset failed: %d\n", ret);
		hc1_set_state(hdev, HC1_STATE_FAILED);
	} else {
		dev_info(&hdev->pdev->dev, "reset complete\n");
		hc1_set_state(hdev, HC1_STATE_LIVE);
	}
	hc1_reset_uevent(hdev, ret);
}

/**
 * hc1_reset_sync() - reset the card and wait for the outcome
 * @hdev: card
 *
 * Return: 0 if the card came back, -EIO if not, -ENODEV if it is gone.
 */
int hc1_reset_sync(struct hc1_dev *hdev)
{
	hc1_schedule_reset(hdev, "requested");
	flush_work(&hdev->reset_work);
	return hc1_dev_state_errno(hdev);
}

static void hc1_watchdog(struct work_struct *work)
{
	struct hc1_dev *hdev = container_of(to_delayed_work(work),
					    struct hc1_dev, watchdog);
	u32 csts;
	int i;

	if (READ_ONCE(hdev->state) == HC1_STATE_DEAD)
		return;
	csts = hc1_readl(hdev, HC1_REG_CSTS);
	if (csts == ~0u && !pci_device_is_present(hdev->pdev)) {
		dev_warn(&hdev->pdev->dev, "card vanished from the bus\n");
		if (hc1_mark_dead(hdev))
			hc1_card_gone(hdev, false);
		return;
	}
	if (READ_ONCE(hdev->state) == HC1_STATE_LIVE) {
		if (csts & HC1_CSTS_CFS)
			hc1_schedule_reset(hdev, "controller fatal status");
		else if (!(csts & HC1_CSTS_RDY))
			hc1_schedule_reset(hdev, "controller not ready");
		/* Interrupts can be lost; completions must not be. */
		for (i = 0; i <= hdev->nr_io_queues; i++)
			hc1_queue_reap(&hdev->queues[i]);
	}
	hc1_sessions_watch(hdev);
	schedule_delayed_work(&hdev->watchdog,
			      msecs_to_jiffies(HC1_WATCHDOG_MS));
}

static int hc1_admin_data(struct hc1_dev *hdev, u8 opcode, u32 len,
			  u32 offset, dma_addr_t dma)
{
	union hc1_sqe sqe;

	hc1_encode_data(&sqe, opcode, 0, dma, len, offset);
	return hc1_submit_sync(&hdev->queues[HC1_ADMIN_QID], &sqe, NULL);
}

static int hc1_identify(struct hc1_dev *hdev)
{
	struct hc1_model_card *card = hdev->admin_buf;
	int ret;

	memset(card, 0, HC1_IDENTIFY_SIZE);
	ret = hc1_admin_data(hdev, HC1_OP_IDENTIFY, HC1_IDENTIFY_SIZE, 0,
			     hdev->admin_buf_dma);
	if (ret)
		return ret;
	hdev->card = *card;
	ret = hc1_check_model_card(&hdev->card);
	if (ret)
		dev_err(&hdev->pdev->dev, "IDENTIFY data is malformed\n");
	return ret;
}

/* Fetch the vocabulary blob in slices through a bounce buffer. */
static int hc1_read_vocab(struct hc1_dev *hdev)
{
	struct device *dev = &hdev->pdev->dev;
	u32 total = le32_to_cpu(hdev->card.vocab_bytes);
	dma_addr_t dma;
	void *chunk;
	u32 off, len;
	int ret = 0;

	hdev->vocab = kvzalloc(total, GFP_KERNEL);
	if (!hdev->vocab)
		return -ENOMEM;
	chunk = dma_alloc_coherent(dev, HC1_VOCAB_CHUNK, &dma, GFP_KERNEL);
	if (!chunk)
		return -ENOMEM;
	for (off = 0; off < total && !ret; off += len) {
		len = min_t(u32, total - off, HC1_VOCAB_CHUNK);
		ret = hc1_admin_data(hdev, HC1_OP_READ_VOCAB, len, off, dma);
		if (!ret)
			memcpy(hdev->vocab + off, chunk, len);
	}
	dma_free_coherent(dev, HC1_VOCAB_CHUNK, chunk, dma);
	if (ret)
		return ret;
	ret = hc1_check_vocab(hdev->vocab, total, le32_to_cpu(hdev->card.vocab_size));
	if (ret)
		dev_err(dev, "vocabulary blob is malformed\n");
	return ret;
}

static int hc1_check_id(struct hc1_dev *hdev)
{
	u32 id = hc1_readl(hdev, HC1_REG_ID);
	u32 ver = hc1_readl(hdev, HC1_REG_VERSION);

	if (id != HC1_ID_MAGIC) {
		dev_err(&hdev->pdev->dev, "bad ID register %#x\n", id);
		return -ENODEV;
	}
	if (ver >> 16 != HC1_HW_VERSION_MAJOR) {
		dev_err(&hdev->pdev->dev, "unsupported version %u.%u\n",
			ver >> 16, ver & 0xffff);
		return -ENODEV;
	}
	return 0;
}

static int hc1_request_irq(struct hc1_dev *hdev, struct hc1_queue *q)
{
	int ret;

	ret = devm_request_irq(&hdev->pdev->dev,
			       pci_irq_vector(hdev->pdev, q->vector), hc1_irq,
			       0, HC1_DRV_NAME, q);
	if (!ret)
		q->irq_requested = true;
	return ret;
}

/*
 * The handlers' data lives in @hdev, which open files may keep or the last
 * put may free: release the interrupts before the binding's own devres
 * would, while @hdev is surely alive.
 */
static void hc1_free_irqs(struct hc1_dev *hdev)
{
	int i;

	for (i = 0; i < hdev->nr_queues_alloc; i++) {
		struct hc1_queue *q = &hdev->queues[i];

		if (q->irq_requested)
			devm_free_irq(&hdev->pdev->dev,
				      pci_irq_vector(hdev->pdev, q->vector), q);
		q->irq_requested = false;
	}
}

static int hc1_setup_admin(struct hc1_dev *hdev, int nvec)
{
	struct device *dev = &hdev->pdev->dev;
	u16 depth = hc1_queue_depth(hdev->cap, HC1_ADMIN_DEPTH);
	int ret;

	if (!depth)
		return -ENODEV;
	/* Open files outlive the binding: the queues live as long as hdev. */
	hdev->queues = kcalloc(nvec, sizeof(*hdev->queues), GFP_KERNEL);
	hdev->admin_buf = dmam_alloc_coherent(dev, HC1_IDENTIFY_SIZE,
					      &hdev->admin_buf_dma, GFP_KERNEL);
	if (!hdev->queues || !hdev->admin_buf)
		return -ENOMEM;
	ret = hc1_queue_alloc(hdev, &hdev->queues[HC1_ADMIN_QID],
			      HC1_ADMIN_QID, depth, 0);
	if (ret)
		return ret;
	ret = hc1_request_irq(hdev, &hdev->queues[HC1_ADMIN_QID]);
	if (ret)
		return ret;
	return hc1_enable_ctrl(hdev);
}

static int hc1_setup_io_queues(struct hc1_dev *hdev, int nvec)
{
	u16 depth = hc1_queue_depth(hdev->cap, HC1_IO_DEPTH);
	int i, ret;

	hdev->nr_io_queues = hc1_queue_count(hdev->cap, le32_to_cpu(hdev->card.max_queues),
					     nvec, num_online_cpus());
	hdev->nr_io_queues = min_t(u16, hdev->nr_io_queues, max_io_queues);
	if (!hdev->nr_io_queues || !depth) {
		dev_err(&hdev->pdev->dev, "no I/O queue possible\n");
		return -ENODEV;
	}
	for (i = 1; i <= hdev->nr_io_queues; i++) {
		struct hc1_queue *q = &hdev->queues[i];

		ret = hc1_queue_alloc(hdev, q, i, depth, i);
		if (ret)
			return ret;
		ret = hc1_request_irq(hdev, q);
		if (ret)
			return ret;
		ret = hc1_create_io_queue(hdev, q);
		if (ret)
			return ret;
	}
	return 0;
}

static int hc1_map(struct hc1_dev *hdev)
{
	struct pci_dev *pdev = hdev->pdev;
	int ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = pcim_iomap_regions(pdev, BIT(0), HC1_DRV_NAME);
	if (ret)
		return ret;
	if (pci_resource_len(pdev, 0) < HC1_BAR0_SIZE)
		return -ENODEV;
	hdev->bar = pcim_iomap_table(pdev)[0];
	pci_set_master(pdev);
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	ret = hc1_check_id(hdev);
	if (ret)
		return ret;
	hdev->cap = hc1_readl(hdev, HC1_REG_CAP);
	hdev->features = hc1_readl(hdev, HC1_REG_FEATURES);
	hdev->ready_timeout_ms =
		max(100u * ((hdev->cap & HC1_CAP_TO_MASK) >> HC1_CAP_TO_SHIFT),
		    500u);
	/* The card's default coalescing unless the module says otherwise. */
	hdev->intc = hc1_readl(hdev, HC1_REG_INTC);
	if (coalesce_tokens || coalesce_usecs)
		hdev->intc = min(coalesce_tokens, 0xffffu) |
			     min(coalesce_usecs, 0xffffu) << HC1_INTC_USECS_SHIFT;
	return 0;
}

static int hc1_alloc_vectors(struct hc1_dev *hdev)
{
	u32 nq = (hdev->cap & HC1_CAP_NQ_MASK) >> HC1_CAP_NQ_SHIFT;
	u32 want = 1 + min3(nq, max_io_queues, num_online_cpus());

	if (want < 2) {
		dev_err(&hdev->pdev->dev,
			"no I/O queue possible (card offers %u, max_io_queues=%u)\n",
			nq, max_io_queues);
		return -ENODEV;
	}
	return pci_alloc_irq_vectors(hdev->pdev, 2, want, PCI_IRQ_MSIX);
}

static int hc1_bring_up(struct hc1_dev *hdev)
{
	int nvec, ret;

	ret = hc1_map(hdev);
	if (ret)
		return ret;
	nvec = hc1_alloc_vectors(hdev);
	if (nvec < 0)
		return nvec;
	ret = hc1_setup_admin(hdev, nvec);
	if (ret)
		return ret;
	ret = hc1_identify(hdev);
	if (ret)
		return ret;
	ret = hc1_read_vocab(hdev);
	if (ret)
		return ret;
	hdev->ring_shift = hc1_ring_shift_for(le32_to_cpu(hdev->card.context_len),
					      ring_shift_max);
	return hc1_setup_io_queues(hdev, nvec);
}

static char *hc1_devnode(HC1_DEVNODE_CONST struct device *dev, umode_t *mode)
{
	return kasprintf(GFP_KERNEL, "hc/%u", MINOR(dev->devt));
}

static void hc1_dev_release(struct device *dev)
{
	struct hc1_dev *hdev = container_of(dev, struct hc1_dev, dev);
	int i;

	if (hdev->queues)
		for (i = 0; i < hdev->nr_queues_alloc; i++)
			kfree(hdev->queues[i].cmds);
	kfree(hdev->queues);
	kvfree(hdev->vocab);
	ida_destroy(&hdev->ctx_ida);
	cleanup_srcu_struct(&hdev->dma_srcu);
	ida_free(&hc1_index_ida, hdev->index);
	pci_dev_put(hdev->pdev);
	kfree(hdev);
}

static struct hc1_dev *hc1_dev_alloc(struct pci_dev *pdev)
{
	struct hc1_dev *hdev;
	int index;

	index = ida_alloc_max(&hc1_index_ida, HC1_MAX_CARDS - 1, GFP_KERNEL);
	if (index < 0)
		return ERR_PTR(index);
	hdev = kzalloc(sizeof(*hdev), GFP_KERNEL);
	if (!hdev || init_srcu_struct(&hdev->dma_srcu)) {
		kfree(hdev);
		ida_free(&hc1_index_ida, index);
		return ERR_PTR(-ENOMEM);
	}
	hdev->pdev = pci_dev_get(pdev);
	hdev->index = index;
	hdev->state = HC1_STATE_PROBING;
	spin_lock_init(&hdev->state_lock);
	init_waitqueue_head(&hdev->state_wait);
	INIT_WORK(&hdev->reset_work, hc1_reset_work);
	INIT_DELAYED_WORK(&hdev->watchdog, hc1_watchdog);
	mutex_init(&hdev->admin_lock);
	mutex_init(&hdev->sessions_lock);
	INIT_LIST_HEAD(&hdev->sessions);
	INIT_LIST_HEAD(&hdev->rings);
	ida_init(&hdev->ctx_ida);

	device_initialize(&hdev->dev);
	hdev->dev.class = hc1_class;
	hdev->dev.parent = &pdev->dev;
	hdev->dev.devt = MKDEV(MAJOR(hc1_devt), index);
	hdev->dev.groups = hc1_dev_groups;
	hdev->dev.release = hc1_dev_release;
	dev_set_drvdata(&hdev->dev, hdev);
	cdev_init(&hdev->cdev, &hc1_fops);
	hdev->cdev.owner = THIS_MODULE;
	if (dev_set_name(&hdev->dev, "hc%d", index)) {
		put_device(&hdev->dev);
		return ERR_PTR(-ENOMEM);
	}
	return hdev;
}

static int hc1_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct hc1_dev *hdev;
	int ret;

	hdev = hc1_dev_alloc(pdev);
	if (IS_ERR(hdev))
		return PTR_ERR(hdev);
	pci_set_drvdata(pdev, hdev);

	ret = hc1_bring_up(hdev);
	if (ret)
		goto err_disable;
	hc1_set_state(hdev, HC1_STATE_LIVE);
	ret = cdev_device_add(&hdev->cdev, &hdev->dev);
	if (ret)
		goto err_disable;

	hc1_debugfs_init(hdev);
	schedule_delayed_work(&hdev->watchdog,
			      msecs_to_jiffies(HC1_WATCHDOG_MS));
	dev_info(&pdev->dev,
		 "/dev/hc/%d: %s (%s, %s, vocab %u, context %u), %u contexts, %u I/O queues\n",
		 hdev->index, hdev->card.name, hdev->card.arch,
		 hc1_weight_format_name(le32_to_cpu(hdev->card.weight_format)),
		 le32_to_cpu(hdev->card.vocab_size), le32_to_cpu(hdev->card.context_len),
		 le32_to_cpu(hdev->card.n_contexts), hdev->nr_io_queues);
	return 0;

err_disable:
	hc1_mark_dead(hdev);
	cancel_work_sync(&hdev->reset_work);
	if (hdev->bar && pci_device_is_present(pdev))
		hc1_writel(hdev, 0, HC1_REG_CC);
	hc1_free_irqs(hdev);
	put_device(&hdev->dev);
	return ret;
}

static void hc1_remove(struct pci_dev *pdev)
{
	struct hc1_dev *hdev = pci_get_drvdata(pdev);
	bool present = pci_device_is_present(pdev);
	bool first = hc1_mark_dead(hdev);

	cdev_device_del(&hdev->cdev, &hdev->dev);
	cancel_delayed_work_sync(&hdev->watchdog);
	cancel_work_sync(&hdev->reset_work);
	hc1_debugfs_exit(hdev);
	if (first)
		hc1_card_gone(hdev, present);
	/* Wait out admin users still copying from the admin buffer. */
	mutex_lock(&hdev->admin_lock);
	mutex_unlock(&hdev->admin_lock);
	hc1_free_irqs(hdev);
	put_device(&hdev->dev);
}

/**
 * hc1_shutdown_card() - stop the card for reboot, power off or kexec
 * @hdev: card
 *
 * The PCI driver's shutdown callback; also offered in debugfs on cards with
 * fault injection, so that a test can watch what happens after it.
 */
void hc1_shutdown_card(struct hc1_dev *hdev)
{
	bool present = pci_device_is_present(hdev->pdev);

	/*
	 * The watchdog resets a card it finds not ready, which would turn it
	 * back on as the system goes down (into memory a kexec'd kernel may
	 * already use).  A dead card is neither watched nor reset: mark it
	 * so, wait out both workers, then stop it and fail what is in flight
	 * as a removal does.  remove(), if it comes, has nothing left to do
	 * to the card.
	 */
	if (!hc1_mark_dead(hdev))
		return;
	cancel_delayed_work_sync(&hdev->watchdog);
	cancel_work_sync(&hdev->reset_work);
	hc1_card_gone(hdev, present);
}

static void hc1_shutdown(struct pci_dev *pdev)
{
	hc1_shutdown_card(pci_get_drvdata(pdev));
}

static const struct pci_device_id hc1_ids[] = {
	{ PCI_DEVICE_SUB(HC1_PCI_VENDOR_ID, HC1_PCI_DEVICE_ID,
			 HC1_PCI_SUBSYS_VENDOR_ID, HC1_PCI_SUBSYS_ID) },
	{ }
};
MODULE_DEVICE_TABLE(pci, hc1_ids);

static struct pci_driver hc1_driver = {
	.name = HC1_DRV_NAME,
	.id_table = hc1_ids,
	.probe = hc1_probe,
	.remove = hc1_remove,
	.shutdown = hc1_shutdown,
};

static int __init hc1_init(void)
{
	int ret;

	ret = alloc_chrdev_region(&hc1_devt, 0, HC1_MAX_CARDS, HC1_DRV_NAME);
	if (ret)
		return ret;
	hc1_class = hc1_class_create(HC1_DRV_NAME);
	if (IS_ERR(hc1_class)) {
		ret = PTR_ERR(hc1_class);
		goto err_region;
	}
	hc1_class->devnode = hc1_devnode;
	hc1_debugfs_register();
	ret = pci_register_driver(&hc1_driver);
	if (ret)
		goto err_class;
	return 0;

err_class:
	hc1_debugfs_unregister();
	class_destroy(hc1_class);
err_region:
	unregister_chrdev_region(hc1_devt, HC1_MAX_CARDS);
	return ret;
}

static void __exit hc1_exit(void)
{
	pci_unregister_driver(&hc1_driver);
	hc1_debugfs_unregister();
	class_destroy(hc1_class);
	unregister_chrdev_region(hc1_devt, HC1_MAX_CARDS);
}

module_init(hc1_init);
module_exit(hc1_exit);

MODULE_DESCRIPTION("HC1 inference card");
MODULE_AUTHOR("HC1 project");
MODULE_LICENSE("GPL");
MODULE_VERSION(HC1_VERSION);
