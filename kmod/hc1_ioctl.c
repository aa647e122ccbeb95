// SPDX-License-Identifier: GPL-2.0
/*
 * HC1 ioctl and io_uring entry points: argument copying and checking, then
 * a call into the session (hc1_session.c) or the card.
 *
 * Every argument struct starts with its own size and is copied by
 * copy_struct_from_user() rules, so one command number serves every size
 * of its struct; _IO commands take no argument.
 */
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/nospec.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "hc1_drv.h"
#include "hc1_uapi.h"

static_assert(sizeof(struct hc1_uring_pdu) <=
	      sizeof_field(struct io_uring_cmd, pdu));

/*
 * Read an argument struct that starts with its own size, following
 * copy_struct_from_user() rules: the driver knows @ksize bytes of it, a
 * caller must give at least the @vsize of its first version.  Return: the
 * caller's size, or -errno.
 */
static int hc1_copy_arg_v(void *karg, u32 ksize, u32 vsize,
			  const void __user *uarg)
{
	u32 usize;
	int ret;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	ret = hc1_check_usize(usize, vsize);
	if (ret)
		return ret;
	ret = copy_struct_from_user(karg, ksize, uarg, usize);
	return ret ? ret : usize;
}

/* The same for a struct that has not grown since its first version. */
static int hc1_copy_arg(void *karg, u32 ksize, const void __user *uarg)
{
	return hc1_copy_arg_v(karg, ksize, ksize, uarg);
}

/* Write back the fields of @karg from @from on, leaving the size alone. */
static int hc1_copy_out(void __user *uarg, const void *karg, size_t from,
			size_t ksize)
{
	if (copy_to_user(uarg + from, karg + from, ksize - from))
		return -EFAULT;
	return 0;
}

/* The session's state into the output fields of the caller's hc1_wait. */
static int hc1_wait_out(struct hc1_file *s, void __user *uarg,
			struct hc1_wait *w)
{
	hc1_wait_fill(s, w);
	return hc1_copy_out(uarg, w, offsetof(struct hc1_wait, produced),
			    offsetofend(struct hc1_wait, status));
}

/* ------------------------------------------------------------- ioctls */

static int hc1_ioctl_info(struct hc1_file *s, void __user *uarg)
{
	struct hc1_dev *hdev = s->hdev;
	struct hc1_info info;
	int ret;

	ret = hc1_copy_arg(&info, sizeof(info), uarg);
	if (ret < 0)
		return ret;
	memset(&info, 0, sizeof(info));
	info.uapi_version = HC1_UAPI_VERSION;
	info.features = hc1_uapi_drv_features();
	info.hw_version = le32_to_cpu(hdev->card.version);
	info.hw_features = hc1_uapi_card_features(hdev->features);
	info.index = hdev->index;
	info.n_contexts = le32_to_cpu(hdev->card.n_contexts);
	info.context_len = le32_to_cpu(hdev->card.context_len);
	info.vocab_size = le32_to_cpu(hdev->card.vocab_size);
	info.vocab_bytes = le32_to_cpu(hdev->card.vocab_bytes);
	info.bos_id = le32_to_cpu(hdev->card.bos_id);
	info.eos_id = le32_to_cpu(hdev->card.eos_id);
	info.ring_shift = hdev->ring_shift;
	info.max_stop = le32_to_cpu(hdev->card.max_stop);
	return hc1_copy_out(uarg, &info, sizeof(info.size), sizeof(info));
}

/*
 * Copy in and check the hc1_buffer of IDENTIFY, READ_VOCAB or STATS for a
 * blob of @blob_len bytes (@has_offset: the caller may read it in parts).
 */
static int hc1_buffer_in(struct hc1_file *s, void __user *uarg,
			 struct hc1_buffer *b, bool has_offset, u32 blob_len)
{
	int ret;

	ret = hc1_copy_arg(b, sizeof(*b), uarg);
	if (ret < 0)
		return ret;
	ret = hc1_check_buffer(b, has_offset, blob_len);
	if (ret)
		return ret;
	if (READ_ONCE(s->hdev->state) == HC1_STATE_DEAD)
		return -ENODEV;
	return 0;
}

static int hc1_buffer_out(void __user *uarg, struct hc1_buffer *b,
			  const void *blob, u32 blob_len)
{
	u32 len = min(b->len, blob_len - b->offset);

	if (copy_to_user(u64_to_user_ptr(b->addr), blob + b->offset, len))
		return -EFAULT;
	b->len = len;
	return hc1_copy_out(uarg, b, offsetof(struct hc1_buffer, len),
			    offsetofend(struct hc1_buffer, len));
}

static int hc1_ioctl_identify(struct hc1_file *s, void __user *uarg)
{
	struct hc1_dev *hdev = s->hdev;
	struct hc1_identity id;
	struct hc1_buffer b;
	int ret;

	ret = hc1_buffer_in(s, uarg, &b, false, sizeof(id));
	if (ret)
		return ret;
	hc1_uapi_identity(&hdev->card, hdev->features, &id);
	return hc1_buffer_out(uarg, &b, &id, sizeof(id));
}

static int hc1_ioctl_read_vocab(struct hc1_file *s, void __user *uarg)
{
	struct hc1_dev *hdev = s->hdev;
	struct hc1_buffer b;
	int ret;

	ret = hc1_buffer_in(s, uarg, &b, true, le32_to_cpu(hdev->card.vocab_bytes));
	if (ret)
		return ret;
	return hc1_buffer_out(uarg, &b, hdev->vocab, le32_to_cpu(hdev->card.vocab_bytes));
}

static int hc1_ioctl_stats(struct hc1_file *s, void __user *uarg)
{
	struct hc1_dev *hdev = s->hdev;
	struct hc1_card_stats out;
	struct hc1_stats stats;
	struct hc1_buffer b;
	union hc1_sqe sqe;
	int ret;

	ret = hc1_buffer_in(s, uarg, &b, false, sizeof(out));
	if (ret)
		return ret;
	ret = mutex_lock_interruptible(&hdev->admin_lock);
	if (ret)
		return ret;
	ret = hc1_dev_state_errno(hdev);
	if (!ret) {
		memset(hdev->admin_buf, 0, sizeof(stats));
		hc1_encode_data(&sqe, HC1_OP_GET_STATS, 0, hdev->admin_buf_dma,
				sizeof(stats), 0);
		ret = hc1_submit_sync(&hdev->queues[HC1_ADMIN_QID], &sqe, NULL);
		memcpy(&stats, hdev->admin_buf, sizeof(stats));
	}
	mutex_unlock(&hdev->admin_lock);
	if (ret)
		return ret;
	hc1_uapi_card_stats(&stats, &out);
	return hc1_buffer_out(uarg, &b, &out, sizeof(out));
}

static int hc1_ioctl_session_create(struct hc1_file *s, void __user *uarg)
{
	struct hc1_session args;
	u32 usize;
	int ret;

	ret = hc1_copy_arg_v(&args, sizeof(args), HC1_SESSION_SIZE_V1, uarg);
	if (ret < 0)
		return ret;
	usize = ret;
	ret = hc1_check_session(&args);
	if (ret)
		return ret;
	ret = mutex_lock_killable(&s->lock);
	if (ret)
		return ret;
	ret = hc1_session_create(s, &args);
	mutex_unlock(&s->lock);
	if (ret)
		return ret;
	ret = hc1_copy_out(uarg, &args, offsetof(struct hc1_session, ctx),
			   min_t(u32, usize, sizeof(args)));
	return ret;
}

static int hc1_ioctl_session_destroy(struct hc1_file *s, void __user *uarg)
{
	int ret;

	ret = mutex_lock_killable(&s->lock);
	if (ret)
		return ret;
	if (s->active)
		hc1_session_teardown(s);
	else
		ret = -ENOENT;
	mutex_unlock(&s->lock);
	return ret;
}

static int hc1_ioctl_generate(struct hc1_file *s, void __user *uarg)
{
	struct hc1_generate gen;
	int ret;

	ret = hc1_copy_arg(&gen, sizeof(gen), uarg);
	if (ret < 0)
		return ret;
	ret = mutex_lock_killable(&s->lock);
	if (ret)
		return ret;
	ret = hc1_generate_start(s, &gen, NULL, true);
	mutex_unlock(&s->lock);
	return ret;
}

static int hc1_wait_errno(struct hc1_file *s)
{
	if (READ_ONCE(s->dead))
		return -ENODEV;
	if (!READ_ONCE(s->active))
		return -ECANCELED;
	return 0;
}

/*
 * The batch half of an HC1_WAIT_BATCH wait: sleep until a whole coalescing
 * batch past @min_produced is in the ring, but no longer than the card's
 * coalescing window, which bounds how long a token may wait for its
 * reader.  Wake-ups for other sessions' batches (they share the interrupt
 * vector) put the task back to sleep here instead of returning to user
 * space.  Returns what is left of @timeout for the plain wait that
 * follows, or -ERESTARTSYS.
 */
static long hc1_wait_batch(struct hc1_file *s, u32 min_produced, long timeout)
{
	u32 intc = READ_ONCE(s->hdev->intc);
	u32 target = hc1_wait_batch_target(min_produced, intc);
	long window, left;

	if (target == min_produced)
		return timeout;
	window = usecs_to_jiffies((intc & HC1_INTC_USECS_MASK) >>
				  HC1_INTC_USECS_SHIFT);
	if (!window || window > timeout)
		window = timeout;
	left = wait_event_interruptible_timeout(s->wait,
						hc1_wait_satisfied(s, target),
						window);
	if (left < 0)
		return left;
	if (timeout == MAX_SCHEDULE_TIMEOUT)
		return timeout;
	return timeout - window + left;
}

static int hc1_ioctl_wait(struct hc1_file *s, void __user *uarg)
{
	struct hc1_wait w;
	long timeout, left;
	int ret;

	ret = hc1_copy_arg(&w, sizeof(w), uarg);
	if (ret < 0)
		return ret;
	ret = hc1_check_wait(&w);
	if (ret)
		return ret;
	if (!READ_ONCE(s->active))
		return -ENOENT;
	hc1_session_sync(s);
	timeout = w.timeout_ms ? msecs_to_jiffies(w.timeout_ms) :
				 MAX_SCHEDULE_TIMEOUT;
	if (w.flags & HC1_WAIT_BATCH) {
		timeout = hc1_wait_batch(s, w.min_produced, timeout);
		if (timeout < 0)
			return timeout;
	}
	left = wait_event_interruptible_timeout(s->wait,
						hc1_wait_satisfied(s, w.min_produced),
						timeout);
	if (left < 0)
		return left;
	ret = hc1_wait_errno(s);
	if (ret)
		return ret;
	if (hc1_wait_out(s, uarg, &w))
		return -EFAULT;
	return left ? 0 : -ETIMEDOUT;
}

static int hc1_ioctl_cancel(struct hc1_file *s, void __user *uarg)
{
	int ret;

	ret = mutex_lock_killable(&s->lock);
	if (ret)
		return ret;
	ret = s->active ? hc1_cancel(s) : -ENOENT;
	mutex_unlock(&s->lock);
	return ret;
}

static int hc1_ioctl_reset(struct hc1_file *s, void __user *uarg)
{
	return hc1_reset_sync(s->hdev);
}

/* hc1_ioctl_desc.flags */
#define HC1_IOC_F_NOARG		BIT(0)	/* _IO: the argument must be 0 */
#define HC1_IOC_F_ADMIN		BIT(1)	/* needs CAP_SYS_ADMIN */
#define HC1_IOC_F_NO_CARD	BIT(2)	/* also once the card is gone */

/**
 * struct hc1_ioctl_desc - one ioctl, in the style of drm_ioctl_desc
 * @cmd: the command; its size field is the driver's struct size, and any
 *	other size matches too (the struct's own size field decides) unless
 *	the command takes no argument
 * @flags: HC1_IOC_F_*
 * @func: the handler, with the user's argument
 */
struct hc1_ioctl_desc {
	unsigned int cmd;
	u32 flags;
	int (*func)(struct hc1_file *s, void __user *uarg);
};

/* As DRM_IOCTL_DEF_DRV(): HC1_IOCTL_DEF(INFO, ...) for HC1_IOCTL_INFO. */
#define HC1_IOCTL_DEF(ioctl, _func, _flags)				\
	[_IOC_NR(HC1_IOCTL_##ioctl)] = {				\
		.cmd = HC1_IOCTL_##ioctl, .func = _func, .flags = _flags \
	}

static const struct hc1_ioctl_desc hc1_ioctls[] = {
	HC1_IOCTL_DEF(INFO, hc1_ioctl_info, 0),
	HC1_IOCTL_DEF(IDENTIFY, hc1_ioctl_identify, 0),
	HC1_IOCTL_DEF(READ_VOCAB, hc1_ioctl_read_vocab, 0),
	HC1_IOCTL_DEF(STATS, hc1_ioctl_stats, 0),
	HC1_IOCTL_DEF(SESSION_CREATE, hc1_ioctl_session_create, 0),
	/* A session may still be ended (and its memory freed) without a card. */
	HC1_IOCTL_DEF(SESSION_DESTROY, hc1_ioctl_session_destroy,
		      HC1_IOC_F_NOARG | HC1_IOC_F_NO_CARD),
	HC1_IOCTL_DEF(GENERATE, hc1_ioctl_generate, 0),
	HC1_IOCTL_DEF(WAIT, hc1_ioctl_wait, 0),
	HC1_IOCTL_DEF(CANCEL, hc1_ioctl_cancel, HC1_IOC_F_NOARG),
	HC1_IOCTL_DEF(RESET, hc1_ioctl_reset,
		      HC1_IOC_F_NOARG | HC1_IOC_F_ADMIN),
};

static const struct hc1_ioctl_desc *hc1_ioctl_lookup(unsigned int cmd)
{
	unsigned int nr = _IOC_NR(cmd), ignore = _IOC_SIZEMASK << _IOC_SIZESHIFT;
	const struct hc1_ioctl_desc *desc;

	if (nr >= ARRAY_SIZE(hc1_ioctls))
		return NULL;
	nr = array_index_nospec(nr, ARRAY_SIZE(hc1_ioctls));
	desc = &hc1_ioctls[nr];
	if (!desc->func)
		return NULL;
	if (desc->flags & HC1_IOC_F_NOARG)
		ignore = 0;
	return (cmd ^ desc->cmd) & ~ignore ? NULL : desc;
}

/**
 * hc1_ioctl() - the character device's ioctl entry point
 * @file: an open /dev/hc/N
 * @cmd: HC1_IOCTL_*
 * @arg: the argument's user address, or 0
 *
 * Return: what the command's handler returns, -ENOTTY for an unknown
 * command, -ENODEV once the card is gone.
 */
long hc1_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct hc1_file *s = file->private_data;
	const struct hc1_ioctl_desc *desc = hc1_ioctl_lookup(cmd);

	if (!desc)
		return -ENOTTY;
	if (!(desc->flags & HC1_IOC_F_NO_CARD) &&
	    READ_ONCE(s->hdev->state) == HC1_STATE_DEAD)
		return -ENODEV;
	if ((desc->flags & HC1_IOC_F_NOARG) && arg)
		return -EINVAL;
	if ((desc->flags & HC1_IOC_F_ADMIN) && !capable(CAP_SYS_ADMIN))
		return -EPERM;
	return desc->func(s, (void __user *)arg);
}

/* ----------------------------------------------------------- io_uring */

/*
 * Whether the task that submitted the command is gone, so that nothing may
 * be copied to its memory.  A dead task's task work runs in io_uring's
 * fallback worker, a kernel thread with no mm of its own: its user
 * addresses are those of whichever mm it borrowed last (lazy TLB), another
 * process's memory.  The test is io_uring's own (io_should_terminate_tw(),
 * IO_URING_F_TASK_DEAD in later kernels); 6.1 does not pass it on.
 */
static bool hc1_uring_submitter_gone(void)
{
	return current->flags & (PF_EXITING | PF_KTHREAD);
}

static void hc1_uring_task_cb(struct io_uring_cmd *ioucmd,
			      unsigned int issue_flags)
{
	struct hc1_uring_pdu *pdu = hc1_pdu(ioucmd);
	struct hc1_file *s = ioucmd->file->private_data;
	int res = pdu->res;
	struct hc1_wait w;

	if (ioucmd->cmd_op == HC1_URING_CMD_WAIT &&
	    (res >= 0 || res == -ETIMEDOUT)) {
		if (hc1_uring_submitter_gone())
			res = -ECANCELED;
		else if (hc1_wait_out(s, u64_to_user_ptr(pdu->addr), &w))
			res = -EFAULT;
		else if (res >= 0)
			res = w.produced;
	}
	hc1_uring_cmd_done(ioucmd, res, issue_flags);
}

/**
 * hc1_uring_complete() - complete a parked io_uring command
 * @ioucmd: the command, off the session's list
 * @res: its result (a WAIT that succeeds reports the ring's state instead)
 *
 * The completion is posted from task context, where a WAIT's state is
 * copied out to its caller; once the caller has exited, not at all (it
 * completes with -ECANCELED, which nobody reads).
 */
void hc1_uring_complete(struct io_uring_cmd *ioucmd, int res)
{
	hc1_pdu(ioucmd)->res = res;
	io_uring_cmd_complete_in_task(ioucmd, hc1_uring_task_cb);
}

static int hc1_uring_arg(struct io_uring_cmd *ioucmd, void *karg, u32 ksize,
			 u64 *addr)
{
	const struct hc1_uring_cmd *ucmd = hc1_uring_cmd_payload(ioucmd);
	struct hc1_uring_cmd c;
	int ret;

	c.addr = READ_ONCE(ucmd->addr);
	c.len = READ_ONCE(ucmd->len);
	c.pad = READ_ONCE(ucmd->pad);
	ret = hc1_check_uring_cmd(&c);
	if (ret)
		return ret;
	ret = hc1_copy_arg(karg, ksize, u64_to_user_ptr(c.addr));
	if (ret < 0)
		return ret;
	if (ret != c.len)
		return -EINVAL;
	*addr = c.addr;
	return 0;
}

static int hc1_uring_generate(struct hc1_file *s,
			      struct io_uring_cmd *ioucmd,
			      unsigned int issue_flags)
{
	bool nonblock = issue_flags & IO_URING_F_NONBLOCK;
	struct hc1_generate gen;
	u64 addr;
	int ret;

	ret = hc1_uring_arg(ioucmd, &gen, sizeof(gen), &addr);
	if (ret)
		return ret;
	if (nonblock) {
		if (!mutex_trylock(&s->lock))
			return -EAGAIN;
	} else if (mutex_lock_killable(&s->lock)) {
		return -EINTR;
	}
	/*
	 * io_uring recycles requests without clearing their pdu: a WAIT's
	 * deadline would otherwise expire this GENERATE.
	 */
	*hc1_pdu(ioucmd) = (struct hc1_uring_pdu){};
	INIT_LIST_HEAD(&hc1_pdu(ioucmd)->node);
	hc1_set_owner(s);
	ret = hc1_generate_start(s, &gen, ioucmd, !nonblock);
	mutex_unlock(&s->lock);
	return ret ? ret : -EIOCBQUEUED;
}

static int hc1_uring_wait(struct hc1_file *s, struct io_uring_cmd *ioucmd)
{
	struct hc1_uring_pdu *pdu = hc1_pdu(ioucmd);
	struct hc1_wait w;
	bool parked = false;
	u64 addr;
	int ret;

	ret = hc1_uring_arg(ioucmd, &w, sizeof(w), &addr);
	if (ret)
		return ret;
	ret = hc1_check_wait(&w);
	if (ret)
		return ret;
	/* Parked commands have no timer short enough for the batch window. */
	if (w.flags & HC1_WAIT_BATCH)
		return -EINVAL;
	hc1_session_sync(s);
	hc1_set_owner(s);

	spin_lock_irq(&s->state_lock);
	if (!s->active) {
		ret = -ENOENT;
	} else if (s->dead) {
		ret = -ENODEV;
	} else if (!hc1_wait_satisfied(s, w.min_produced)) {
		pdu->addr = addr;
		pdu->min_produced = w.min_produced;
		pdu->deadline = 0;
		if (w.timeout_ms)
			pdu->deadline = (u32)(jiffies +
					msecs_to_jiffies(w.timeout_ms)) | 1;
		list_add_tail(&pdu->node, &s->pending);
		parked = true;
	}
	spin_unlock_irq(&s->state_lock);
	if (ret)
		return ret;
	if (parked)
		return -EIOCBQUEUED;
	if (hc1_wait_out(s, u64_to_user_ptr(addr), &w))
		return -EFAULT;
	return w.produced;
}

/**
 * hc1_uring_cmd() - the character device's io_uring command entry point
 * @ioucmd: HC1_URING_CMD_GENERATE or HC1_URING_CMD_WAIT
 * @issue_flags: IO_URING_F_*
 *
 * Return: -EIOCBQUEUED when the command is parked on the session, else
 * its result.
 */
int hc1_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags)
{
	struct hc1_file *s = ioucmd->file->private_data;

	/* Completions arrive by interrupt; there is nothing to poll. */
	if (issue_flags & IO_URING_F_IOPOLL)
		return -EOPNOTSUPP;
	switch (ioucmd->cmd_op) {
	case HC1_URING_CMD_GENERATE:
		return hc1_uring_generate(s, ioucmd, issue_flags);
	case HC1_URING_CMD_WAIT:
		return hc1_uring_wait(s, ioucmd);
	default:
		return -ENOTTY;
	}
}
