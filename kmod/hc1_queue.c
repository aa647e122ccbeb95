// SPDX-License-Identifier: GPL-2.0
/*
 * HC1 queue pairs: allocation, submission, completion reaping, interrupts.
 *
 * Each queue bounds its commands in flight to depth - 1, so a submission
 * never finds the SQ full and the card never finds the CQ full: the driver
 * needs no SQ head tracking and reaps completions with one lock.
 */
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/sched.h>

#include "hc1_drv.h"

/**
 * hc1_queue_alloc() - allocate a queue pair's memory
 * @hdev: card
 * @q: queue to set up
 * @qid: queue id
 * @depth: entries in each ring
 * @vector: MSI-X vector
 *
 * The rings are device-managed: they live as long as the PCI binding and
 * are only touched while the queue is live.  The queue structure and its
 * command table live as long as @hdev, which open files may keep after
 * removal.
 *
 * Return: 0 or -ENOMEM.
 */
int hc1_queue_alloc(struct hc1_dev *hdev, struct hc1_queue *q, u16 qid,
		    u16 depth, u16 vector)
{
	struct device *dev = &hdev->pdev->dev;

	q->hdev = hdev;
	hdev->nr_queues_alloc = max_t(u16, hdev->nr_queues_alloc, qid + 1);
	q->qid = qid;
	q->depth = depth;
	q->vector = vector;
	spin_lock_init(&q->lock);
	spin_lock_init(&q->sessions_lock);
	INIT_LIST_HEAD(&q->sessions);
	init_waitqueue_head(&q->slot_wait);

	q->sq = dmam_alloc_coherent(dev, depth * HC1_SQE_SIZE, &q->sq_dma,
				    GFP_KERNEL);
	q->cq = dmam_alloc_coherent(dev, depth * HC1_CQE_SIZE, &q->cq_dma,
				    GFP_KERNEL);
	q->cmds = kcalloc(depth, sizeof(*q->cmds), GFP_KERNEL);
	if (!q->sq || !q->cq || !q->cmds)
		return -ENOMEM;
	hc1_queue_init_rings(q);
	return 0;
}

/**
 * hc1_queue_init_rings() - return a queue to the state the card starts in
 * @q: queue, not live and with nothing in flight
 */
void hc1_queue_init_rings(struct hc1_queue *q)
{
	memset(q->cq, 0, q->depth * HC1_CQE_SIZE);
	q->sq_tail = 0;
	q->cq_head = 0;
	q->cq_phase = 1;
	q->inflight = 0;
}

/**
 * hc1_queue_set_live() - open or close a queue to submissions
 * @q: queue
 * @live: whether the card has it now
 *
 * A dead card's queues never reopen, whatever a racing reset wants.
 */
void hc1_queue_set_live(struct hc1_queue *q, bool live)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	q->live = live && READ_ONCE(q->hdev->state) != HC1_STATE_DEAD;
	spin_unlock_irqrestore(&q->lock, flags);
	wake_up_all(&q->slot_wait);
}

static bool hc1_queue_has_slot(struct hc1_queue *q)
{
	return READ_ONCE(q->inflight) < q->depth - 1 || !READ_ONCE(q->live);
}

static u16 hc1_queue_take_cid(struct hc1_queue *q, struct hc1_cmd *cmd)
{
	u16 cid;

	for (cid = 0; q->cmds[cid]; cid++)
		;
	q->cmds[cid] = cmd;
	q->inflight++;
	return cid;
}

/**
 * hc1_submit() - put a command on a queue
 * @q: queue
 * @cmd: command; @cmd->done must be set, @cmd->cid is assigned here
 * @sqe: encoded entry; its cid is filled in
 * @can_sleep: wait for a free slot instead of failing with -EAGAIN
 *
 * Return: 0; -EAGAIN if the queue is full and @can_sleep is false;
 * -EINTR if a fatal signal interrupted the wait; -EIO while a reset has the
 * queue closed; -ENODEV once the card is gone.
 */
int hc1_submit(struct hc1_queue *q, struct hc1_cmd *cmd, union hc1_sqe *sqe,
	       bool can_sleep)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	while (q->live && q->inflight >= q->depth - 1) {
		spin_unlock_irqrestore(&q->lock, flags);
		if (!can_sleep)
			return -EAGAIN;
		if (wait_event_killable(q->slot_wait, hc1_queue_has_slot(q)))
			return -EINTR;
		spin_lock_irqsave(&q->lock, flags);
	}
	if (!q->live) {
		spin_unlock_irqrestore(&q->lock, flags);
		return hc1_dev_state_errno(q->hdev) ?: -EIO;
	}
	cmd->cid = hc1_queue_take_cid(q, cmd);
	sqe->c.cid = cpu_to_le16(cmd->cid);
	memcpy(&q->sq[q->sq_tail], sqe, sizeof(*sqe));
	q->sq_tail = hc1_sq_next(q->sq_tail, q->depth);
	/* writel() orders the entry's memory writes before the doorbell. */
	writel(q->sq_tail, q->hdev->bar + HC1_REG_SQ_TAIL_DB(q->qid));
	spin_unlock_irqrestore(&q->lock, flags);
	return 0;
}

static void hc1_sync_done(struct hc1_cmd *cmd, const struct hc1_cqe *cqe,
			  int err)
{
	if (cqe) {
		cmd->cqe = *cqe;
		cmd->status = hc1_status_to_errno(hc1_cqe_status(cqe));
	} else {
		cmd->status = err;
	}
	complete(&cmd->wait);
}

/*
 * A synchronous command outlived hc1_timeout_ms.  Normally a reset fails it.
 * The reset worker cannot wait for itself, and probe must not start a reset
 * (its error path frees what the reset would touch): they close the queue
 * instead, which fails the command and, with it, the reset or the probe.
 */
static void hc1_sync_timeout(struct hc1_queue *q, struct hc1_cmd *cmd)
{
	struct hc1_dev *hdev = q->hdev;

	atomic64_inc(&hdev->stats.timeouts);
	dev_warn(&hdev->pdev->dev, "queue %u: command %u timed out\n", q->qid,
		 cmd->cid);
	if (current_work() == &hdev->reset_work ||
	    READ_ONCE(hdev->state) == HC1_STATE_PROBING) {
		hc1_queue_set_live(q, false);
		hc1_queue_fail_all(q, -ETIMEDOUT);
	} else {
		hc1_schedule_reset(hdev, "command timeout");
	}
	wait_for_completion(&cmd->wait);
}

/**
 * hc1_submit_sync() - run a command and wait for its completion
 * @q: queue
 * @sqe: encoded entry
 * @cqe: if not NULL, receives the completion
 *
 * A command the card does not complete within hc1_timeout_ms resets the
 * card, which fails the command with -EIO.
 *
 * Return: 0, the errno of the card's status, or a submission error.
 */
int hc1_submit_sync(struct hc1_queue *q, union hc1_sqe *sqe,
		    struct hc1_cqe *cqe)
{
	struct hc1_cmd cmd = { .done = hc1_sync_done };
	int ret;

	init_completion(&cmd.wait);
	ret = hc1_submit(q, &cmd, sqe, true);
	if (ret)
		return ret;
	if (!wait_for_completion_timeout(&cmd.wait,
					 msecs_to_jiffies(hc1_timeout_ms)))
		hc1_sync_timeout(q, &cmd);
	if (cqe)
		*cqe = cmd.cqe;
	return cmd.status;
}

/* Called with q->lock held: complete one entry the card posted. */
static void hc1_queue_complete(struct hc1_queue *q, const struct hc1_cqe *cqe)
{
	u16 cid = le16_to_cpu(cqe->cid);
	struct hc1_cmd *cmd;

	if (cid >= q->depth || !q->cmds[cid]) {
		/*
		 * The card completed a command we never gave it: its queue
		 * state cannot be trusted, and the real command would only
		 * end by timeout.  Reset now; the reset fails what is in
		 * flight with -EIO.
		 */
		dev_warn_ratelimited(&q->hdev->pdev->dev,
				     "queue %u: completion for unknown cid %u\n",
				     q->qid, cid);
		hc1_schedule_reset(q->hdev, "completion for an unknown command");
		return;
	}
	cmd = q->cmds[cid];
	q->cmds[cid] = NULL;
	q->inflight--;
	cmd->done(cmd, cqe, 0);
}

/**
 * hc1_queue_reap() - consume every completion the card has posted
 * @q: queue
 *
 * Callbacks run under @q->lock; the CQ head doorbell is written before the
 * lock drops, so a cid freed here is reused only once the card knows its
 * CQ slot is free.
 */
void hc1_queue_reap(struct hc1_queue *q)
{
	unsigned long flags;
	bool any = false;

	spin_lock_irqsave(&q->lock, flags);
	while (q->live && hc1_cqe_pending(&q->cq[q->cq_head], q->cq_phase)) {
		struct hc1_cqe cqe;

		/* The status (with the phase) is written last: read it first. */
		dma_rmb();
		cqe = q->cq[q->cq_head];
		hc1_cq_advance(&q->cq_head, &q->cq_phase, q->depth);
		hc1_queue_complete(q, &cqe);
		any = true;
	}
	if (any)
		writel(q->cq_head, q->hdev->bar + HC1_REG_CQ_HEAD_DB(q->qid));
	spin_unlock_irqrestore(&q->lock, flags);
	if (any)
		wake_up(&q->slot_wait);
}

/**
 * hc1_queue_fail_all() - complete every command in flight without the card
 * @q: queue, closed so nothing new arrives
 * @err: -EIO for a reset, -ENODEV for a vanished card
 */
void hc1_queue_fail_all(struct hc1_queue *q, int err)
{
	unsigned long flags;
	u16 cid;

	spin_lock_irqsave(&q->lock, flags);
	for (cid = 0; cid < q->depth; cid++) {
		struct hc1_cmd *cmd = q->cmds[cid];

		if (!cmd)
			continue;
		q->cmds[cid] = NULL;
		q->inflight--;
		cmd->done(cmd, NULL, err);
	}
	spin_unlock_irqrestore(&q->lock, flags);
	wake_up_all(&q->slot_wait);
}

/**
 * hc1_irq() - a queue's MSI-X vector fired
 * @irq: the Linux interrupt
 * @data: the struct hc1_queue
 *
 * Completions end commands; token progress, which the card signals on the
 * same vector without a completion, wakes the queue's sessions.
 *
 * Return: IRQ_HANDLED; the vector is the queue's alone.
 */
irqreturn_t hc1_irq(int irq, void *data)
{
	struct hc1_queue *q = data;
	struct hc1_file *s;
	unsigned long flags;

	q->interrupts++;
	hc1_queue_reap(q);
	spin_lock_irqsave(&q->sessions_lock, flags);
	list_for_each_entry(s, &q->sessions, qnode)
		hc1_session_progress(s);
	spin_unlock_irqrestore(&q->sessions_lock, flags);
	return IRQ_HANDLED;
}

/**
 * hc1_create_io_queue() - tell the card about an I/O queue pair
 * @hdev: card, with a live admin queue
 * @q: queue, allocated and with empty rings
 *
 * Return: 0, or the CREATE_IOQ command's errno.
 */
int hc1_create_io_queue(struct hc1_dev *hdev, struct hc1_queue *q)
{
	union hc1_sqe sqe;
	int ret;

	hc1_encode_create_ioq(&sqe, 0, q->qid, q->sq_dma, q->cq_dma, q->depth,
			      q->vector);
	ret = hc1_submit_sync(&hdev->queues[HC1_ADMIN_QID], &sqe, NULL);
	if (ret) {
		dev_err(&hdev->pdev->dev, "creating queue %u failed: %d\n",
			q->qid, ret);
		return ret;
	}
	hc1_queue_set_live(q, true);
	return 0;
}
