// SPDX-License-Identifier: GPL-2.0
/*
 * HC1 sessions: the character device's file operations and the state
 * machine of the session each open file may hold.
 *
 * An open file owns at most one session: a card context, a token ring the
 * card writes and a prompt buffer it reads.  Generations start by ioctl or
 * io_uring; tokens leave by read(), by mmap() of the ring, or by waiting
 * (ioctl or a pending io_uring command, the way ublk parks its commands).
 * The ring lives in hc1_ring.c; the ioctl and io_uring entry points, which
 * copy and check their arguments and call in here, in hc1_ioctl.c.
 */
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hc1_drv.h"
#include "hc1_uapi.h"

/* Tokens copied per pass through the bounce buffer in read(). */
#define HC1_READ_CHUNK 64

/* ------------------------------------------------------------ progress */

/**
 * hc1_wait_satisfied() - whether a wait for tokens past a count is over
 * @s: session
 * @min_produced: the waiter has seen this many tokens
 *
 * Return: true once more tokens are in the ring, the generation is over or
 * the session or card went away.
 */
bool hc1_wait_satisfied(struct hc1_file *s, u32 min_produced)
{
	return !READ_ONCE(s->active) || READ_ONCE(s->dead) ||
	       READ_ONCE(s->gen_state) != HC1_GEN_RUNNING ||
	       READ_ONCE(s->produced) > min_produced;
}

/*
 * Unpark every command on @list: GENERATEs complete with @gen_res, WAITs
 * with @wait_res (a WAIT that succeeds reports the ring's state, whatever
 * the generation's outcome).
 */
static void hc1_pending_finish_list(struct list_head *list, int gen_res,
				    int wait_res)
{
	struct hc1_uring_pdu *pdu, *tmp;

	list_for_each_entry_safe(pdu, tmp, list, node) {
		struct io_uring_cmd *ioucmd =
			container_of((void *)pdu, struct io_uring_cmd, pdu);

		list_del_init(&pdu->node);
		hc1_uring_complete(ioucmd,
				   ioucmd->cmd_op == HC1_URING_CMD_GENERATE ?
				   gen_res : wait_res);
	}
}

/* Fail every parked command of @s with @err. */
static void hc1_pending_fail_all(struct hc1_file *s, int err)
{
	unsigned long flags;
	LIST_HEAD(list);

	spin_lock_irqsave(&s->state_lock, flags);
	list_splice_init(&s->pending, &list);
	spin_unlock_irqrestore(&s->state_lock, flags);
	hc1_pending_finish_list(&list, err, err);
}

/* Called with s->state_lock held: unpark the WAITs that are satisfied. */
static void hc1_pending_wake(struct hc1_file *s, struct list_head *out)
{
	struct hc1_uring_pdu *pdu, *tmp;

	list_for_each_entry_safe(pdu, tmp, &s->pending, node) {
		struct io_uring_cmd *ioucmd =
			container_of((void *)pdu, struct io_uring_cmd, pdu);

		if (ioucmd->cmd_op == HC1_URING_CMD_WAIT &&
		    hc1_wait_satisfied(s, pdu->min_produced))
			list_move_tail(&pdu->node, out);
	}
}

/* Called with s->state_lock held when tokens of a generation show up. */
static void hc1_note_first_token(struct hc1_file *s)
{
	struct hc1_counters *stats = &s->hdev->stats;
	s64 us;

	if (s->first_token || !s->produced)
		return;
	s->first_token = true;
	us = ktime_us_delta(ktime_get(), s->started);
	atomic64_add(us, &stats->ttft_us_sum);
	atomic64_inc(&stats->ttft_count);
	atomic64_set(&stats->ttft_us_last, us);
}

/**
 * hc1_session_progress() - pick up tokens the card wrote to a session's ring
 * @s: session whose ring memory, if it has a ring, the card has not freed:
 *	it is on a queue's list, or the caller is inside hc1_dev_enter()
 *
 * Runs from the interrupt handler, the watchdog and before blocking waits.
 * The ring is looked up under @s->state_lock, which the session's end
 * takes to let go of it.
 */
void hc1_session_progress(struct hc1_file *s)
{
	unsigned long flags;
	LIST_HEAD(ready);
	bool moved = false;
	u32 produced;

	spin_lock_irqsave(&s->state_lock, flags);
	if (s->gen_state == HC1_GEN_RUNNING && s->ring) {
		struct hc1_ring_header *hdr = hc1_ring_header(s->ring);

		/* Pairs with the card's barrier before it writes @produced. */
		produced = le32_to_cpu(smp_load_acquire(&hdr->produced));
		produced = hc1_clamp_produced(produced, s->gen_max);
		if (produced > s->produced) {
			WRITE_ONCE(s->produced, produced);
			hc1_note_first_token(s);
			moved = true;
			hc1_pending_wake(s, &ready);
		}
	}
	spin_unlock_irqrestore(&s->state_lock, flags);
	hc1_pending_finish_list(&ready, 0, 0);
	if (moved)
		wake_up_all(&s->wait);
}

/**
 * hc1_session_sync() - refresh a session from its ring before sleeping
 * @s: session
 */
void hc1_session_sync(struct hc1_file *s)
{
	struct hc1_dev *hdev = s->hdev;
	int idx;

	if (!hc1_dev_enter(hdev, &idx))
		return;
	hc1_session_progress(s);
	hc1_dev_exit(hdev, idx);
}

/* The GENERATE command's completion, under its queue's lock. */
static void hc1_gen_done(struct hc1_cmd *cmd, const struct hc1_cqe *cqe,
			 int err)
{
	struct hc1_file *s = container_of(cmd, struct hc1_file, gen_cmd);
	struct hc1_counters *stats = &s->hdev->stats;
	u32 tokens, finish = HC1_FINISH_NONE, prompt = 0;
	unsigned long flags;
	LIST_HEAD(list);
	int status;

	spin_lock_irqsave(&s->state_lock, flags);
	if (cqe) {
		status = hc1_status_to_errno(hc1_cqe_status(cqe));
		tokens = hc1_clamp_produced(le32_to_cpu(cqe->result),
					    s->gen_max);
		finish = HC1_CQE_FINISH(le32_to_cpu(cqe->info));
		prompt = HC1_CQE_PROMPT(le32_to_cpu(cqe->info));
	} else {
		status = err;
		tokens = s->produced;
	}
	WRITE_ONCE(s->produced, tokens);
	hc1_note_first_token(s);
	s->gen_status = status;
	s->gen_finish = finish;
	s->tokens += tokens;
	WRITE_ONCE(s->gen_state, HC1_GEN_DONE);
	list_splice_init(&s->pending, &list);
	spin_unlock_irqrestore(&s->state_lock, flags);

	atomic64_inc(&stats->generations);
	atomic64_add(tokens, &stats->tokens);
	atomic64_add(prompt, &stats->prompt_tokens);
	if (finish == HC1_FINISH_CANCELLED)
		atomic64_inc(&stats->cancelled);
	if (status)
		atomic64_inc(&stats->errors);
	hc1_pending_finish_list(&list, status ? status : tokens, 0);
	wake_up_all(&s->wait);
}

/* ------------------------------------------------------------ contexts */

static int hc1_ctx_cmd(struct hc1_file *s, u8 opcode)
{
	union hc1_sqe sqe;

	hc1_encode_simple(&sqe, opcode, 0, s->ctx);
	return hc1_submit_sync(s->queue, &sqe, NULL);
}

/*
 * Make sure the card holds the session's context.  A reset destroys every
 * context, so one created before the last reset is created again.
 */
static int hc1_ctx_ensure(struct hc1_file *s, bool can_sleep)
{
	unsigned int epoch = READ_ONCE(s->hdev->reset_count);
	int ret;

	if (s->ctx_live && s->ctx_epoch == epoch)
		return 0;
	if (!can_sleep)
		return -EAGAIN;
	ret = hc1_ctx_cmd(s, HC1_OP_CREATE_CTX);
	if (ret == -EEXIST) {
		/* Left behind by a session whose DESTROY_CTX failed. */
		hc1_ctx_cmd(s, HC1_OP_DESTROY_CTX);
		ret = hc1_ctx_cmd(s, HC1_OP_CREATE_CTX);
	}
	if (ret)
		return ret;
	s->ctx_live = true;
	s->ctx_epoch = epoch;
	return 0;
}

static bool hc1_gen_running(struct hc1_file *s)
{
	return READ_ONCE(s->gen_state) == HC1_GEN_RUNNING;
}

/**
 * hc1_cancel() - ask the card to stop the running generation
 * @s: session, with @s->lock held
 *
 * The generation's completion follows.
 *
 * Return: 0, -ENODEV if the card is gone or -EINTR.
 */
int hc1_cancel(struct hc1_file *s)
{
	int ret;

	if (!hc1_gen_running(s))
		return 0;
	ret = hc1_ctx_cmd(s, HC1_OP_CANCEL);
	/*
	 * The generation may have ended on its own meanwhile, and a reset
	 * fails it anyway: only a vanished card or a signal is news.
	 */
	return ret == -ENODEV || ret == -EINTR ? ret : 0;
}

/* ------------------------------------------------------- session life */

static size_t hc1_prompt_bytes(struct hc1_dev *hdev)
{
	return le32_to_cpu(hdev->card.context_len) * sizeof(u32);
}

/* Called with hdev->sessions_lock held. */
static void hc1_prompt_free(struct hc1_file *s)
{
	struct hc1_dev *hdev = s->hdev;

	if (s->prompt)
		dma_free_coherent(&hdev->pdev->dev, hc1_prompt_bytes(hdev),
				  s->prompt, s->prompt_dma);
	s->prompt = NULL;
}

static int hc1_session_link(struct hc1_file *s)
{
	struct hc1_dev *hdev = s->hdev;
	int ret = 0, idx;

	if (!hc1_dev_enter(hdev, &idx))
		return -ENODEV;
	mutex_lock(&hdev->sessions_lock);
	s->prompt = dma_alloc_coherent(&hdev->pdev->dev, hc1_prompt_bytes(hdev),
				       &s->prompt_dma, GFP_KERNEL);
	if (!s->prompt) {
		ret = -ENOMEM;
		goto out;
	}
	s->ring = hc1_ring_alloc(hdev);
	if (!s->ring) {
		hc1_prompt_free(s);
		ret = -ENOMEM;
		goto out;
	}
	list_add_tail(&s->node, &hdev->sessions);
	hdev->nr_sessions++;
	spin_lock_irq(&s->queue->sessions_lock);
	list_add_tail(&s->qnode, &s->queue->sessions);
	spin_unlock_irq(&s->queue->sessions_lock);
out:
	mutex_unlock(&hdev->sessions_lock);
	hc1_dev_exit(hdev, idx);
	return ret;
}

static void hc1_session_unlink(struct hc1_file *s)
{
	struct hc1_dev *hdev = s->hdev;
	struct hc1_ring *ring;

	spin_lock_irq(&s->queue->sessions_lock);
	list_del_init(&s->qnode);
	spin_unlock_irq(&s->queue->sessions_lock);

	mutex_lock(&hdev->sessions_lock);
	list_del_init(&s->node);
	hdev->nr_sessions--;
	hc1_prompt_free(s);
	spin_lock_irq(&s->state_lock);
	ring = s->ring;
	s->ring = NULL;
	spin_unlock_irq(&s->state_lock);
	mutex_unlock(&hdev->sessions_lock);

	hc1_ring_put(ring);
	ida_free(&hdev->ctx_ida, s->ctx);
}

static void hc1_session_set_active(struct hc1_file *s, bool active)
{
	spin_lock_irq(&s->state_lock);
	WRITE_ONCE(s->active, active);
	if (active) {
		s->dead = false;
		s->gen_state = HC1_GEN_IDLE;
		s->gen_status = 0;
		s->gen_finish = HC1_FINISH_NONE;
		s->produced = 0;
	}
	spin_unlock_irq(&s->state_lock);
	wake_up_all(&s->wait);
}

/**
 * hc1_session_create() - start a session on an open file
 * @s: the file, with @s->lock held
 * @out: the new session's context and ring size, for the caller
 *
 * Return: 0, -EEXIST if the file has one, -EBUSY when every context is
 * taken, or another -errno.
 */
int hc1_session_create(struct hc1_file *s, struct hc1_session *out)
{
	struct hc1_dev *hdev = s->hdev;
	int ctx, ret;

	lockdep_assert_held(&s->lock);
	if (s->active)
		return -EEXIST;
	ret = hc1_wait_usable(hdev);
	if (ret)
		return ret;
	ctx = ida_alloc_max(&hdev->ctx_ida, le32_to_cpu(hdev->card.n_contexts) - 1,
			    GFP_KERNEL);
	if (ctx < 0)
		return ctx == -ENOSPC ? -EBUSY : ctx;
	s->ctx = ctx;
	s->ctx_live = false;
	s->queue = &hdev->queues[1 + ctx % hdev->nr_io_queues];
	ret = hc1_session_link(s);
	if (ret) {
		ida_free(&hdev->ctx_ida, ctx);
		return ret;
	}
	ret = hc1_ctx_ensure(s, true);
	if (ret) {
		hc1_session_unlink(s);
		return ret;
	}
	s->read_pos = 0;
	hc1_session_set_active(s, true);
	atomic64_inc(&hdev->stats.sessions);
	out->ctx = ctx;
	out->ring_shift = s->ring->shift;
	out->ring_bytes = s->ring->bytes;
	hc1_uapi_ring_offsets(&out->offsets);
	return 0;
}

static bool hc1_session_quiet(struct hc1_file *s)
{
	return !hc1_gen_running(s) && !READ_ONCE(s->cancel_inflight);
}

/**
 * hc1_session_teardown() - end a file's session
 * @s: the file, with @s->lock held and a session active
 *
 * Parked commands complete with -ECANCELED, a running generation is
 * cancelled and waited for (a card that does not stop is reset), the
 * context is destroyed and the memory freed.
 */
void hc1_session_teardown(struct hc1_file *s)
{
	struct hc1_dev *hdev = s->hdev;
	unsigned long timeout = msecs_to_jiffies(hc1_timeout_ms);

	lockdep_assert_held(&s->lock);
	hc1_session_set_active(s, false);
	hc1_pending_fail_all(s, -ECANCELED);
	if (hc1_gen_running(s))
		hc1_cancel(s);
	if (!wait_event_timeout(s->wait, hc1_session_quiet(s), timeout)) {
		atomic64_inc(&hdev->stats.timeouts);
		hc1_schedule_reset(hdev, "cancel timed out");
		wait_event(s->wait, hc1_session_quiet(s));
	}
	if (s->ctx_live && s->ctx_epoch == READ_ONCE(hdev->reset_count) &&
	    !hc1_dev_state_errno(hdev))
		hc1_ctx_cmd(s, HC1_OP_DESTROY_CTX);
	s->ctx_live = false;
	hc1_session_unlink(s);
}

/**
 * hc1_sessions_card_gone() - the card went away under its sessions
 * @hdev: card, whose queues are closed and commands failed
 *
 * Parked commands fail with -ENODEV, sleepers wake to find the card gone,
 * mappings of token rings are zapped (later accesses read the zero page,
 * see hc1_ring_vm_fault()) and all
 * session DMA memory is freed while the PCI binding still exists.
 */
void hc1_sessions_card_gone(struct hc1_dev *hdev)
{
	struct hc1_file *s;

	/*
	 * No read section begins from here on; wait for those that did
	 * before freeing what they may use.
	 */
	WRITE_ONCE(hdev->dma_gone, true);
	synchronize_srcu(&hdev->dma_srcu);
	mutex_lock(&hdev->sessions_lock);
	list_for_each_entry(s, &hdev->sessions, node) {
		spin_lock_irq(&s->queue->sessions_lock);
		list_del_init(&s->qnode);
		spin_unlock_irq(&s->queue->sessions_lock);
		spin_lock_irq(&s->state_lock);
		WRITE_ONCE(s->dead, true);
		spin_unlock_irq(&s->state_lock);
		hc1_pending_fail_all(s, -ENODEV);
		hc1_prompt_free(s);
		wake_up_all(&s->wait);
	}
	hc1_rings_card_gone(hdev);
	mutex_unlock(&hdev->sessions_lock);
}

static void hc1_cancel_done(struct hc1_cmd *cmd, const struct hc1_cqe *cqe,
			    int err)
{
	struct hc1_file *s = container_of(cmd, struct hc1_file, cancel_cmd);
	unsigned long flags;

	spin_lock_irqsave(&s->state_lock, flags);
	WRITE_ONCE(s->cancel_inflight, false);
	spin_unlock_irqrestore(&s->state_lock, flags);
	wake_up_all(&s->wait);
}

/* CANCEL without waiting, from the watchdog. */
static void hc1_cancel_async(struct hc1_file *s)
{
	union hc1_sqe sqe;

	hc1_encode_simple(&sqe, HC1_OP_CANCEL, 0, s->ctx);
	s->cancel_cmd.done = hc1_cancel_done;
	if (hc1_submit(s->queue, &s->cancel_cmd, &sqe, false)) {
		spin_lock_irq(&s->state_lock);
		WRITE_ONCE(s->cancel_inflight, false);
		spin_unlock_irq(&s->state_lock);
		wake_up_all(&s->wait);
	}
}

/* Called with s->state_lock held. */
static bool hc1_owner_gone(struct hc1_file *s)
{
	return s->owner && !atomic_read(&s->owner->signal->live);
}

/**
 * hc1_set_owner() - record the task parking io_uring commands on a session
 * @s: session; called before parking, outside @s->state_lock
 */
void hc1_set_owner(struct hc1_file *s)
{
	struct task_struct *old;

	if (READ_ONCE(s->owner) == current)
		return;
	get_task_struct(current);
	spin_lock_irq(&s->state_lock);
	old = s->owner;
	s->owner = current;
	spin_unlock_irq(&s->state_lock);
	if (old)
		put_task_struct(old);
}

/*
 * Claim the cancel of a generation whose parking process is gone (its
 * parked commands keep the file open, and nobody else will collect it);
 * true if the caller must send it.  Called with s->state_lock held.
 */
static bool hc1_claim_orphan(struct hc1_file *s)
{
	/*
	 * Only a generation with io_uring commands parked is the owner's: an
	 * earlier user of io_uring that has exited (after a fork, or passing
	 * the file on) says nothing about who collects this one.
	 */
	if (s->gen_state != HC1_GEN_RUNNING || s->cancel_sent ||
	    s->cancel_inflight || list_empty(&s->pending) ||
	    !hc1_owner_gone(s))
		return false;
	s->cancel_sent = true;
	WRITE_ONCE(s->cancel_inflight, true);
	return true;
}

/* Called from the watchdog with sessions_lock held. */
static void hc1_session_check(struct hc1_file *s, unsigned long now)
{
	struct hc1_dev *hdev = s->hdev;
	struct hc1_uring_pdu *pdu, *tmp;
	unsigned long limit = msecs_to_jiffies(hc1_timeout_ms);
	LIST_HEAD(expired);
	bool stalled = false, orphaned;

	hc1_session_progress(s);
	spin_lock_irq(&s->state_lock);
	orphaned = hc1_claim_orphan(s);
	if (s->gen_state == HC1_GEN_RUNNING) {
		if (s->produced != s->progress) {
			s->progress = s->produced;
			s->progress_at = now;
		} else if (time_after(now, s->progress_at + limit)) {
			stalled = true;
			s->progress_at = now;
		}
	}
	list_for_each_entry_safe(pdu, tmp, &s->pending, node) {
		if (pdu->deadline && (s32)((u32)now - pdu->deadline) >= 0)
			list_move_tail(&pdu->node, &expired);
	}
	spin_unlock_irq(&s->state_lock);
	hc1_pending_finish_list(&expired, -ETIMEDOUT, -ETIMEDOUT);
	if (orphaned)
		hc1_cancel_async(s);
	if (stalled && READ_ONCE(hdev->state) == HC1_STATE_LIVE) {
		atomic64_inc(&hdev->stats.timeouts);
		dev_warn(&hdev->pdev->dev, "context %u: no tokens for %u ms\n",
			 s->ctx, hc1_timeout_ms);
		hc1_schedule_reset(hdev, "generation stalled");
	}
}

/**
 * hc1_sessions_watch() - the watchdog's look at every session
 * @hdev: card
 *
 * Picks up token progress whose interrupt was lost or coalesced away,
 * expires io_uring WAITs, and resets the card when a generation makes no
 * progress for hc1_timeout_ms.
 */
void hc1_sessions_watch(struct hc1_dev *hdev)
{
	unsigned long now = jiffies;
	struct hc1_file *s;
	int idx;

	if (!hc1_dev_enter(hdev, &idx))
		return;
	/* For the list only: read() and WAIT do not take it. */
	mutex_lock(&hdev->sessions_lock);
	list_for_each_entry(s, &hdev->sessions, node)
		hc1_session_check(s, now);
	mutex_unlock(&hdev->sessions_lock);
	hc1_dev_exit(hdev, idx);
}

/* ----------------------------------------------------------- generate */

/* Called with s->lock held, which keeps the prompt and the ring. */
static int hc1_load_prompt(struct hc1_file *s, const u32 *prompt, u32 n)
{
	struct hc1_dev *hdev = s->hdev;
	int idx;

	if (!hc1_dev_enter(hdev, &idx))
		return -ENODEV;
	if (n)
		memcpy(s->prompt, prompt, n * sizeof(u32));
	/* No generation runs on the ring: the host may write it. */
	memset(s->ring->vaddr, 0, sizeof(struct hc1_ring_header));
	hc1_dev_exit(hdev, idx);
	return 0;
}

static void hc1_gen_arm(struct hc1_file *s, u32 max_tokens,
			struct io_uring_cmd *ioucmd)
{
	spin_lock_irq(&s->state_lock);
	s->gen_state = HC1_GEN_RUNNING;
	s->gen_status = 0;
	s->gen_finish = HC1_FINISH_NONE;
	s->gen_max = max_tokens;
	s->produced = 0;
	s->progress = 0;
	s->progress_at = jiffies;
	s->cancel_sent = false;
	s->first_token = false;
	s->started = ktime_get();
	if (ioucmd)
		list_add_tail(&hc1_pdu(ioucmd)->node, &s->pending);
	spin_unlock_irq(&s->state_lock);
	s->read_pos = 0;
}

/*
 * Undo hc1_gen_arm() after a failed submission.  Card removal may have
 * taken @ioucmd off s->pending meanwhile (it does not hold s->lock) and
 * queued its completion; it must not complete twice.
 *
 * Return: true if the caller completes @ioucmd (or there is none), false
 * if it was already taken.
 */
static bool hc1_gen_disarm(struct hc1_file *s, struct io_uring_cmd *ioucmd)
{
	struct hc1_uring_pdu *pdu;
	bool parked = !ioucmd;

	spin_lock_irq(&s->state_lock);
	s->gen_state = HC1_GEN_IDLE;
	if (ioucmd) {
		list_for_each_entry(pdu, &s->pending, node) {
			if (pdu == hc1_pdu(ioucmd)) {
				list_del_init(&pdu->node);
				parked = true;
				break;
			}
		}
	}
	spin_unlock_irq(&s->state_lock);
	return parked;
}

/**
 * hc1_generate_start() - start a generation
 * @s: session, with @s->lock held
 * @gen: the caller's arguments, copied in
 * @ioucmd: an io_uring GENERATE to park on the session until the
 *	generation ends, or NULL
 * @can_sleep: the caller may wait for a reset or a queue slot
 *
 * Return: 0, -EIOCBQUEUED if it failed to start but @ioucmd was completed
 * meanwhile by card removal, or -errno.
 */
int hc1_generate_start(struct hc1_file *s, const struct hc1_generate *gen,
		       struct io_uring_cmd *ioucmd, bool can_sleep)
{
	struct hc1_dev *hdev = s->hdev;
	struct hc1_limits lim;
	u32 *prompt = NULL;
	union hc1_sqe sqe;
	u32 max_tokens;
	int ret;

	lockdep_assert_held(&s->lock);
	if (!s->active)
		return -ENOENT;
	lim.vocab_size = le32_to_cpu(hdev->card.vocab_size);
	lim.context_len = le32_to_cpu(hdev->card.context_len);
	lim.ring_shift = s->ring->shift;
	lim.max_stop = le32_to_cpu(hdev->card.max_stop);
	ret = hc1_check_generate(gen, &lim);
	if (ret)
		return ret;
	if (hc1_gen_running(s))
		return -EBUSY;
	if (gen->n_prompt) {
		prompt = vmemdup_user(u64_to_user_ptr(gen->prompt),
				      gen->n_prompt * sizeof(u32));
		if (IS_ERR(prompt))
			return PTR_ERR(prompt);
		ret = hc1_check_prompt(prompt, gen->n_prompt, lim.vocab_size);
		if (ret)
			goto out;
	}
	if (can_sleep)
		ret = hc1_wait_usable(hdev);
	else if (READ_ONCE(hdev->state) == HC1_STATE_RESETTING)
		ret = -EAGAIN;
	else
		ret = hc1_dev_state_errno(hdev);
	if (ret)
		goto out;
	ret = hc1_ctx_ensure(s, can_sleep);
	if (ret)
		goto out;
	ret = hc1_load_prompt(s, prompt, gen->n_prompt);
	if (ret)
		goto out;

	max_tokens = hc1_effective_max_tokens(gen, s->ring->shift);
	hc1_gen_arm(s, max_tokens, ioucmd);
	s->gen_cmd.done = hc1_gen_done;
	hc1_encode_generate(&sqe, gen, 0, s->ctx, s->prompt_dma, s->ring->dma,
			    s->ring->shift);
	ret = hc1_submit(s->queue, &s->gen_cmd, &sqe, can_sleep);
	if (!ret)
		s->generations++;
	else if (!hc1_gen_disarm(s, ioucmd))
		ret = -EIOCBQUEUED;	/* completed by whoever took it */
out:
	kvfree(prompt);
	return ret;
}

/**
 * hc1_wait_fill() - the session's state as HC1_IOCTL_WAIT reports it
 * @s: session
 * @w: its output fields are filled in
 */
void hc1_wait_fill(struct hc1_file *s, struct hc1_wait *w)
{
	spin_lock_irq(&s->state_lock);
	w->produced = s->produced;
	w->state = s->gen_state;
	w->finish = s->gen_finish;
	w->status = s->gen_status;
	spin_unlock_irq(&s->state_lock);
}

/* ------------------------------------------------------ read/poll */

/*
 * Tokens available to read(), or 0 with *@end set when read() must return
 * (end of generation, or error in *@end).
 */
static u32 hc1_read_avail(struct hc1_file *s, int *end)
{
	u32 avail = 0;

	*end = 1;
	spin_lock_irq(&s->state_lock);
	if (s->dead) {
		*end = -ENODEV;
	} else if (s->produced > s->read_pos) {
		avail = s->produced - s->read_pos;
		*end = 0;
	} else if (s->gen_state == HC1_GEN_RUNNING) {
		*end = 0;
	} else if (s->gen_state == HC1_GEN_DONE && s->gen_status) {
		*end = s->gen_status;
	}
	spin_unlock_irq(&s->state_lock);
	return avail;
}

static bool hc1_readable(struct hc1_file *s)
{
	return !READ_ONCE(s->active) || READ_ONCE(s->dead) ||
	       READ_ONCE(s->produced) > READ_ONCE(s->read_pos) ||
	       READ_ONCE(s->gen_state) != HC1_GEN_RUNNING;
}

static ssize_t hc1_read_tokens(struct hc1_file *s, char __user *buf,
			       u32 want, u32 avail)
{
	u32 bounce[HC1_READ_CHUNK];
	u32 done = 0, n;
	int ret;

	while (done < want && done < avail) {
		n = min3(want - done, avail - done, (u32)HC1_READ_CHUNK);
		ret = hc1_ring_copy(s, bounce, s->read_pos, n);
		if (!ret && copy_to_user(buf + done * sizeof(u32), bounce,
					 n * sizeof(u32)))
			ret = -EFAULT;
		if (ret)
			return done ? done * sizeof(u32) : ret;
		s->read_pos += n;
		done += n;
	}
	return done * sizeof(u32);
}

static ssize_t hc1_read(struct file *file, char __user *buf, size_t count,
			loff_t *ppos)
{
	struct hc1_file *s = file->private_data;
	u32 want = min_t(size_t, count / sizeof(u32), U32_MAX);
	ssize_t ret;
	int end;
	u32 avail;

	if (!want)
		return -EINVAL;
	if (mutex_lock_interruptible(&s->lock))
		return -ERESTARTSYS;
	for (;;) {
		if (!s->active) {
			ret = -ENOENT;
			break;
		}
		hc1_session_sync(s);
		avail = hc1_read_avail(s, &end);
		if (avail) {
			ret = hc1_read_tokens(s, buf, want, avail);
			break;
		}
		if (end) {
			ret = end < 0 ? end : 0;
			break;
		}
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			break;
		}
		mutex_unlock(&s->lock);
		if (wait_event_interruptible(s->wait, hc1_readable(s)))
			return -ERESTARTSYS;
		if (mutex_lock_interruptible(&s->lock))
			return -ERESTARTSYS;
	}
	mutex_unlock(&s->lock);
	return ret;
}

static __poll_t hc1_poll(struct file *file, struct poll_table_struct *wait)
{
	struct hc1_file *s = file->private_data;

	poll_wait(file, &s->wait, wait);
	/*
	 * The card state turns DEAD before the sessions are marked: a
	 * reader woken by its failed command may poll in between.
	 */
	if (READ_ONCE(s->dead) || READ_ONCE(s->hdev->state) == HC1_STATE_DEAD)
		return EPOLLERR | EPOLLHUP;
	if (!READ_ONCE(s->active))
		return EPOLLERR;
	if (hc1_readable(s))
		return EPOLLIN | EPOLLRDNORM;
	return 0;
}

/* ------------------------------------------------------- open/release */

static int hc1_open(struct inode *inode, struct file *file)
{
	struct hc1_dev *hdev = container_of(inode->i_cdev, struct hc1_dev,
					    cdev);
	struct hc1_file *s;

	if (READ_ONCE(hdev->state) == HC1_STATE_DEAD)
		return -ENODEV;
	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	s->hdev = hdev;
	mutex_init(&s->lock);
	spin_lock_init(&s->state_lock);
	init_waitqueue_head(&s->wait);
	INIT_LIST_HEAD(&s->node);
	INIT_LIST_HEAD(&s->qnode);
	INIT_LIST_HEAD(&s->pending);
	hc1_dev_get(hdev);
	file->private_data = s;
	return stream_open(inode, file);
}

/*
 * Every close() of the file, the one at process exit included.  io_uring
 * commands an exiting process parked keep the file open (6.1 cannot cancel
 * them), so release() is not called yet; cancel the orphaned generation
 * here rather than let the card generate for nobody until the watchdog
 * looks.  The owner's thread group is no longer live by the time its files
 * are closed (do_exit() counts it down before exit_files()).
 */
static int hc1_flush(struct file *file, fl_owner_t id)
{
	struct hc1_file *s = file->private_data;
	struct hc1_dev *hdev = s->hdev;
	bool orphaned;
	int idx;

	if (!hc1_dev_enter(hdev, &idx))
		return 0;
	spin_lock_irq(&s->state_lock);
	orphaned = hc1_claim_orphan(s);
	spin_unlock_irq(&s->state_lock);
	if (orphaned)
		hc1_cancel_async(s);
	hc1_dev_exit(hdev, idx);
	return 0;
}

static int hc1_release(struct inode *inode, struct file *file)
{
	struct hc1_file *s = file->private_data;
	struct hc1_dev *hdev = s->hdev;

	mutex_lock(&s->lock);
	if (s->active)
		hc1_session_teardown(s);
	mutex_unlock(&s->lock);
	mutex_destroy(&s->lock);
	if (s->owner)
		put_task_struct(s->owner);
	kfree(s);
	hc1_dev_put(hdev);
	return 0;
}

static void hc1_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct hc1_file *s = file->private_data;

	spin_lock_irq(&s->state_lock);
	seq_printf(m, "hc1-card:\t%d\n", s->hdev->index);
	seq_printf(m, "hc1-session:\t%s\n", s->active ? "yes" : "no");
	if (s->active) {
		seq_printf(m, "hc1-context:\t%u\n", s->ctx);
		seq_printf(m, "hc1-state:\t%s\n",
			   s->gen_state == HC1_GEN_RUNNING ? "running" :
			   s->gen_state == HC1_GEN_DONE ? "done" : "idle");
		seq_printf(m, "hc1-produced:\t%u\n", s->produced);
	}
	seq_printf(m, "hc1-generations:\t%llu\n", s->generations);
	seq_printf(m, "hc1-tokens:\t%llu\n", s->tokens);
	spin_unlock_irq(&s->state_lock);
}

const struct file_operations hc1_fops = {
	.owner = THIS_MODULE,
	.open = hc1_open,
	.flush = hc1_flush,
	.release = hc1_release,
	.read = hc1_read,
	.poll = hc1_poll,
	.mmap = hc1_mmap,
	.unlocked_ioctl = hc1_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.uring_cmd = hc1_uring_cmd,
	.show_fdinfo = hc1_show_fdinfo,
	.llseek = no_llseek,
};
