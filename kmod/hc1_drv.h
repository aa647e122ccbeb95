/* SPDX-License-Identifier: GPL-2.0 */
/*
 * hc1.ko internals: the device, its queues and the sessions open files own.
 *
 * Lock order, outermost first:
 *   hc1_file.lock  (mutex, per open file)
 *   hc1_dev.dma_srcu read section (hc1_dev_enter(); may sleep inside)
 *   hc1_dev.admin_lock (mutex)
 *   hc1_dev.sessions_lock (mutex)
 *   hc1_queue.lock or hc1_queue.sessions_lock (spinlocks taken from the
 *	interrupt handler; never one inside the other)
 *   hc1_file.state_lock (spinlock; taken alone, or nested inside either
 *	queue spinlock -- a command's completion runs under hc1_queue.lock,
 *	the interrupt's progress pass under hc1_queue.sessions_lock -- or
 *	inside hc1_dev.sessions_lock)
 *
 * Session DMA memory (rings, prompts) and card removal: the CPU touches it
 * only inside hc1_dev_enter()/hc1_dev_exit() (SRCU, as drm_dev_enter()),
 * or under hc1_dev.sessions_lock, or from the interrupt handler for a
 * session on a queue's list.  Removal marks the card gone, waits for every
 * read section (synchronize_srcu()), takes the sessions off the queues
 * and only then frees the memory, under hc1_dev.sessions_lock.  The
 * memory of one session (its ring, its prompt) is freed by the session
 * under hc1_file.lock, so paths holding that lock may use it inside the
 * read section; the others (WAIT, the watchdog, mmap) go through
 * hc1_file.state_lock or hc1_dev.sessions_lock, see hc1_file.ring.
 * synchronize_srcu() is never called with a lock held that a read section
 * may wait for.
 */
#ifndef HC1_DRV_H
#define HC1_DRV_H

#include <linux/cdev.h>
#include <linux/completion.h>
#include <linux/idr.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/wait.h>
#include <linux/workqueue.h>

#include "hc1_compat.h"
#include "hc1_logic.h"

#ifdef __BIG_ENDIAN
/* The model card and vocabulary reach userspace unchanged (little-endian). */
#error "hc1 supports little-endian hosts only"
#endif

#define HC1_DRV_NAME "hc1"
#define HC1_MAX_CARDS 64
#define HC1_VOCAB_CHUNK (64 * 1024)

struct hc1_dev;
struct hc1_cmd;

/**
 * typedef hc1_cmd_done_t - completion of a submitted command
 * @cmd: the command
 * @cqe: the card's completion, or NULL if @err says why there is none
 * @err: 0 with @cqe; -EIO when a reset dropped the command, -ENODEV when
 *	the card went away
 *
 * Called from the interrupt handler, the watchdog or the reset worker, with
 * no lock held; it must not sleep.
 */
typedef void (*hc1_cmd_done_t)(struct hc1_cmd *cmd, const struct hc1_cqe *cqe,
			       int err);

/**
 * struct hc1_cmd - a command in flight
 * @done: called once when it completes
 * @cid: slot in the queue's @cmds table
 * @status: for synchronous commands: errno of the outcome
 * @cqe: for synchronous commands: copy of the completion
 * @wait: for synchronous commands: signalled by @done
 */
struct hc1_cmd {
	hc1_cmd_done_t done;
	u16 cid;
	int status;
	struct hc1_cqe cqe;
	struct completion wait;
};

/**
 * struct hc1_queue - a submission/completion queue pair
 * @hdev: owning card
 * @qid: 0 for admin, 1..nr_io_queues for I/O
 * @depth: entries in each of SQ and CQ
 * @vector: MSI-X vector index
 * @sq: submission entries (DMA coherent)
 * @cq: completion entries (DMA coherent)
 * @sq_dma: bus address of @sq
 * @cq_dma: bus address of @cq
 * @lock: protects @live, @sq_tail, @cq_head, @cq_phase, @cmds, @inflight
 *	and the doorbells; taken in hard interrupt context
 * @live: the card knows this queue; submissions are refused otherwise
 * @sq_tail: next SQ slot the driver fills
 * @cq_head: next CQ slot the driver reads
 * @cq_phase: phase bit expected at @cq_head
 * @inflight: commands submitted and not completed
 * @cmds: command of each cid, NULL when free; at most @depth - 1 are used
 *	so neither ring can overflow
 * @slot_wait: woken when a cid is freed
 * @sessions_lock: protects @sessions; taken in hard interrupt context
 * @sessions: sessions whose generations run on this queue
 * @interrupts: interrupts handled, for debugfs
 * @irq_requested: the vector's handler is installed
 */
struct hc1_queue {
	struct hc1_dev *hdev;
	u16 qid;
	u16 depth;
	u16 vector;
	union hc1_sqe *sq;
	struct hc1_cqe *cq;
	dma_addr_t sq_dma;
	dma_addr_t cq_dma;

	spinlock_t lock;	/* see @lock above */
	bool live;
	u16 sq_tail;
	u16 cq_head;
	u8 cq_phase;
	u16 inflight;
	struct hc1_cmd **cmds;
	wait_queue_head_t slot_wait;

	spinlock_t sessions_lock;	/* see @sessions_lock above */
	struct list_head sessions;
	u64 interrupts;
	bool irq_requested;
};

/* hc1_dev.state */
enum hc1_state {
	HC1_STATE_LIVE,
	HC1_STATE_RESETTING,
	HC1_STATE_FAILED,	/* a reset did not bring the card back */
	HC1_STATE_DEAD,		/* removed, or vanished from the bus */
	HC1_STATE_PROBING,	/* probe brings the card up: no resets */
};

/**
 * struct hc1_counters - driver-side counters, exported in sysfs
 * @tokens: tokens delivered by finished generations
 * @prompt_tokens: prompt tokens the card consumed
 * @generations: generations finished, however they ended
 * @cancelled: generations ended by a cancel
 * @errors: generations that failed
 * @sessions: sessions created since probe
 * @resets: controller resets
 * @timeouts: commands or generations that stopped making progress
 * @ttft_us_sum: time to first token of every generation that had one (µs)
 * @ttft_count: generations in @ttft_us_sum
 * @ttft_us_last: time to first token of the latest such generation
 */
struct hc1_counters {
	atomic64_t tokens;
	atomic64_t prompt_tokens;
	atomic64_t generations;
	atomic64_t cancelled;
	atomic64_t errors;
	atomic64_t sessions;
	atomic64_t resets;
	atomic64_t timeouts;
	atomic64_t ttft_us_sum;
	atomic64_t ttft_count;
	atomic64_t ttft_us_last;
};

/**
 * struct hc1_dev - one HC1 card
 * @pdev: the PCI function (a reference is held until @ref drops)
 * @bar: BAR0 registers
 * @index: N of /dev/hc/N
 * @cdev: the character device
 * @dev: the class device (/sys/class/hc1/hcN); its reference count is the
 *	card's: the PCI binding holds one and each open file one (through
 *	@cdev), and its release frees this structure
 * @state_lock: protects @state transitions
 * @state: enum hc1_state; read without the lock by fast paths
 * @state_wait: woken when a reset ends
 * @reset_count: bumped by each reset; card contexts created before the
 *	current count are gone
 * @reset_work: performs a controller reset
 * @watchdog: periodic progress, timeout and fatal-status check
 * @cap: HC1_REG_CAP
 * @features: HC1_REG_FEATURES
 * @ready_timeout_ms: CSTS.RDY transition limit from CAP.TO
 * @intc: HC1_REG_INTC the driver programs (coalescing), under @admin_lock
 * @admin_lock: serialises admin commands and the buffers they DMA into
 * @admin_buf: DMA-coherent page for IDENTIFY and GET_STATS
 * @admin_buf_dma: its bus address
 * @card: cached IDENTIFY data
 * @vocab: cached READ_VOCAB blob (card.vocab_bytes)
 * @ring_shift: ring size given to every session
 * @nr_io_queues: I/O queue pairs
 * @nr_queues_alloc: entries of @queues that were set up (for teardown)
 * @queues: admin queue then I/O queues
 * @ctx_ida: card context ids in use
 * @dma_srcu: read sections (hc1_dev_enter()) in which session DMA memory
 *	is used; removal waits for them before it frees that memory
 * @dma_gone: the card is gone: no read section may begin, and the session
 *	DMA memory is freed once those in progress end
 * @sessions_lock: protects @sessions, @nr_sessions and @rings, and
 *	serialises the allocation and freeing of session DMA memory with
 *	removal; not taken by read(), WAIT or the interrupt handler
 * @sessions: every session with a context on this card
 * @nr_sessions: entries in @sessions
 * @rings: every token ring still allocated (sessions' and mapped ones)
 * @stats: counters
 * @debugfs: this card's debugfs directory
 */
struct hc1_dev {
	struct pci_dev *pdev;
	void __iomem *bar;
	int index;
	struct cdev cdev;
	struct device dev;

	spinlock_t state_lock;	/* see @state_lock above */
	enum hc1_state state;
	wait_queue_head_t state_wait;
	unsigned int reset_count;
	struct work_struct reset_work;
	struct delayed_work watchdog;

	u32 cap;
	u32 features;
	unsigned int ready_timeout_ms;
	u32 intc;

	struct mutex admin_lock;	/* see @admin_lock above */
	void *admin_buf;
	dma_addr_t admin_buf_dma;
	struct hc1_model_card card;
	void *vocab;
	u32 ring_shift;

	u16 nr_io_queues;
	u16 nr_queues_alloc;
	struct hc1_queue *queues;

	struct ida ctx_ida;
	struct srcu_struct dma_srcu;
	bool dma_gone;
	struct mutex sessions_lock;	/* see @sessions_lock above */
	struct list_head sessions;
	unsigned int nr_sessions;
	struct list_head rings;

	struct hc1_counters stats;
	struct dentry *debugfs;
};

/* hc1_file.gen_state; values match enum hc1_ring_state for WAIT */
enum hc1_gen_state {
	HC1_GEN_IDLE = HC1_RING_IDLE,
	HC1_GEN_RUNNING = HC1_RING_RUNNING,
	HC1_GEN_DONE = HC1_RING_DONE,
};

/**
 * struct hc1_ring - a token ring and the users of its memory
 * @ref: the session and each mapping of it hold one
 * @hdev: card whose DMA memory this is (a reference is held)
 * @node: entry in @hdev->rings, under @hdev->sessions_lock
 * @vaddr: kernel address; NULL once the card is gone (written under
 *	@hdev->sessions_lock after the SRCU grace period; valid inside
 *	hc1_dev_enter() for as long as the caller holds a reference)
 * @dma: bus address
 * @bytes: allocation size (page multiple), what mmap() may map
 * @shift: log2 of the token slots
 * @mapping: address space of the file it was mapped through, for zapping
 *	the mappings when the card goes away
 * @sgt: the pages of @vaddr (dma_get_sgtable()), which mappings fault in
 */
struct hc1_ring {
	struct kref ref;
	struct hc1_dev *hdev;
	struct list_head node;
	void *vaddr;
	dma_addr_t dma;
	size_t bytes;
	u32 shift;
	struct address_space *mapping;
	struct sg_table sgt;
};

static inline struct hc1_ring_header *hc1_ring_header(struct hc1_ring *ring)
{
	return ring->vaddr;
}

/**
 * struct hc1_uring_pdu - per-command state of a parked io_uring command
 * @node: entry in hc1_file.pending while parked
 * @addr: WAIT: the caller's struct hc1_wait, updated at completion
 * @min_produced: WAIT: complete once more tokens than this are in the ring
 * @res: once unparked: the result to post
 * @deadline: WAIT: low 32 bits of jiffies to give up at, 0 = never
 *	(GENERATE: 0)
 *
 * Every field is set at issue: 6.1 hands a recycled request's bytes over.
 */
struct hc1_uring_pdu {
	struct list_head node;
	u64 addr;
	union {
		u32 min_produced;
		s32 res;
	};
	u32 deadline;
};

static inline struct hc1_uring_pdu *hc1_pdu(struct io_uring_cmd *ioucmd)
{
	return (struct hc1_uring_pdu *)ioucmd->pdu;
}

/**
 * struct hc1_file - what an open file owns
 * @hdev: card (a reference is held)
 * @lock: serialises the session's ioctls (but WAIT) and read(); protects
 *	@ctx, @ctx_live, @ctx_epoch, @queue, @read_pos and @prompt, and (with
 *	@hdev->sessions_lock and @state_lock for writing) @ring
 * @ctx: card context id (from @hdev->ctx_ida)
 * @ctx_live: the card has created @ctx
 * @ctx_epoch: @hdev->reset_count when it did; a reset since destroyed it
 * @queue: I/O queue the session's commands go to
 * @node: entry in @hdev->sessions, under @hdev->sessions_lock
 * @qnode: entry in @queue->sessions, under @queue->sessions_lock
 * @ring: token ring; holders of any of its three locks may read the
 *	pointer, and use the memory inside hc1_dev_enter()
 * @prompt: DMA-coherent copy of the current prompt (context_len tokens);
 *	used inside hc1_dev_enter(), freed under @hdev->sessions_lock (also
 *	by removal, which is why it is not @lock alone)
 * @prompt_dma: its bus address
 * @read_pos: tokens of this generation consumed by read()
 * @wait: woken on token progress, at the end of a generation and when the
 *	session or card goes away
 * @generations: generations started on this file, for fdinfo
 * @tokens: tokens those produced, for fdinfo
 * @state_lock: protects everything below; taken in hard interrupt context
 *	(nested inside @queue->lock and @queue->sessions_lock)
 * @active: a session exists on this file (also written under @lock)
 * @dead: the card went away under the session
 * @gen_state: enum hc1_gen_state
 * @gen_status: 0 or the errno the generation failed with
 * @gen_finish: enum hc1_finish of the last generation
 * @gen_max: token budget of the current generation
 * @produced: tokens of the current generation known to be in the ring
 * @progress: @produced as the watchdog last saw it
 * @progress_at: jiffies when @progress last moved
 * @started: when the current generation was submitted
 * @first_token: the current generation's first token was seen
 * @gen_cmd: the GENERATE in flight
 * @pending: io_uring commands waiting on this session
 * @owner: the task that last parked an io_uring command here (a reference
 *	is held): when its whole process has exited while commands are
 *	parked, nobody will collect the generation, so the watchdog cancels
 *	it
 * @cancel_cmd: the CANCEL the watchdog sends for an ownerless generation
 * @cancel_sent: the watchdog cancelled the current generation
 * @cancel_inflight: @cancel_cmd is in flight (the session must not be
 *	freed)
 */
struct hc1_file {
	struct hc1_dev *hdev;
	struct mutex lock;	/* see @lock above */
	u32 ctx;
	bool ctx_live;
	unsigned int ctx_epoch;
	struct hc1_queue *queue;
	struct list_head node;
	struct list_head qnode;
	struct hc1_ring *ring;
	u32 *prompt;
	dma_addr_t prompt_dma;
	u32 read_pos;
	wait_queue_head_t wait;
	u64 generations;
	u64 tokens;

	spinlock_t state_lock;	/* see @state_lock above */
	bool active;
	bool dead;
	enum hc1_gen_state gen_state;
	int gen_status;
	u32 gen_finish;
	u32 gen_max;
	u32 produced;
	u32 progress;
	unsigned long progress_at;
	ktime_t started;
	bool first_token;
	struct hc1_cmd gen_cmd;
	struct list_head pending;
	struct task_struct *owner;
	struct hc1_cmd cancel_cmd;
	bool cancel_sent;
	bool cancel_inflight;
};

/**
 * hc1_dev_enter() - begin using session DMA memory of a card
 * @hdev: card
 * @idx: SRCU index, for hc1_dev_exit()
 *
 * As drm_dev_enter(): the read section may sleep, and card removal frees
 * the memory only after every section that began before it ends.
 *
 * Return: true inside a read section; false if the card is gone (no
 * section to exit: the caller fails with -ENODEV).
 */
static inline bool hc1_dev_enter(struct hc1_dev *hdev, int *idx)
{
	*idx = srcu_read_lock(&hdev->dma_srcu);
	if (READ_ONCE(hdev->dma_gone)) {
		srcu_read_unlock(&hdev->dma_srcu, *idx);
		return false;
	}
	return true;
}

/**
 * hc1_dev_exit() - end a read section of hc1_dev_enter()
 * @hdev: card
 * @idx: what hc1_dev_enter() returned in *@idx
 */
static inline void hc1_dev_exit(struct hc1_dev *hdev, int idx)
{
	srcu_read_unlock(&hdev->dma_srcu, idx);
}

extern unsigned int hc1_timeout_ms;
extern const struct file_operations hc1_fops;

/* hc1_main.c */
u32 hc1_readl(struct hc1_dev *hdev, u32 reg);
void hc1_writel(struct hc1_dev *hdev, u32 val, u32 reg);
bool hc1_dev_usable(struct hc1_dev *hdev);
int hc1_dev_state_errno(struct hc1_dev *hdev);
void hc1_dev_get(struct hc1_dev *hdev);
void hc1_dev_put(struct hc1_dev *hdev);
void hc1_schedule_reset(struct hc1_dev *hdev, const char *why);
int hc1_reset_sync(struct hc1_dev *hdev);
int hc1_wait_usable(struct hc1_dev *hdev);
void hc1_shutdown_card(struct hc1_dev *hdev);

/* hc1_queue.c */
int hc1_queue_alloc(struct hc1_dev *hdev, struct hc1_queue *q, u16 qid,
		    u16 depth, u16 vector);
void hc1_queue_init_rings(struct hc1_queue *q);
int hc1_submit(struct hc1_queue *q, struct hc1_cmd *cmd, union hc1_sqe *sqe,
	       bool can_sleep);
int hc1_submit_sync(struct hc1_queue *q, union hc1_sqe *sqe,
		    struct hc1_cqe *cqe);
void hc1_queue_reap(struct hc1_queue *q);
void hc1_queue_fail_all(struct hc1_queue *q, int err);
void hc1_queue_set_live(struct hc1_queue *q, bool live);
irqreturn_t hc1_irq(int irq, void *data);
int hc1_create_io_queue(struct hc1_dev *hdev, struct hc1_queue *q);

/* hc1_session.c */
void hc1_session_progress(struct hc1_file *s);
void hc1_session_sync(struct hc1_file *s);
void hc1_sessions_watch(struct hc1_dev *hdev);
void hc1_sessions_card_gone(struct hc1_dev *hdev);
int hc1_session_create(struct hc1_file *s, struct hc1_session *out);
void hc1_session_teardown(struct hc1_file *s);
int hc1_generate_start(struct hc1_file *s, const struct hc1_generate *gen,
		       struct io_uring_cmd *ioucmd, bool can_sleep);
int hc1_cancel(struct hc1_file *s);
void hc1_set_owner(struct hc1_file *s);
bool hc1_wait_satisfied(struct hc1_file *s, u32 min_produced);
void hc1_wait_fill(struct hc1_file *s, struct hc1_wait *w);

/* hc1_ring.c */
struct hc1_ring *hc1_ring_alloc(struct hc1_dev *hdev);
void hc1_ring_put(struct hc1_ring *ring);
int hc1_ring_copy(struct hc1_file *s, u32 *dst, u32 pos, u32 n);
void hc1_rings_card_gone(struct hc1_dev *hdev);
int hc1_mmap(struct file *file, struct vm_area_struct *vma);

/* hc1_ioctl.c */
long hc1_ioctl(struct file *file, unsigned int cmd, unsigned long arg);
int hc1_uring_cmd(struct io_uring_cmd *ioucmd, unsigned int issue_flags);
void hc1_uring_complete(struct io_uring_cmd *ioucmd, int res);

/* hc1_sysfs.c */
extern const struct attribute_group *hc1_dev_groups[];
void hc1_debugfs_init(struct hc1_dev *hdev);
void hc1_debugfs_exit(struct hc1_dev *hdev);
void hc1_debugfs_register(void);
void hc1_debugfs_unregister(void);

#endif /* HC1_DRV_H */
