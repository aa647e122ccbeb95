/*
 * HC1 inference card: a PCIe device whose silicon is one language model.
 *
 * The register map, queue entries, commands and DMA'd structures are those
 * of include/hc1/hw.h, the contract shared with the Linux driver.  The model
 * itself runs in the C++ engine (qemu-device/engine/hc1_engine.h) on its own
 * threads; this file is the PCI glue around it.
 *
 * Threading: MMIO handlers never DMA, complete or interrupt.  Doorbells
 * latch and schedule the device bottom half; register writes act at once,
 * and a controller reset, a fatal state, HC1_TEST_STALL_ENGINE and
 * HC1_TEST_SLOW_ENGINE call into the engine from the vCPU thread
 * (thread-safe calls; the reset waits for the generations to stop).  The
 * bottom half runs in the main loop with the BQL held and does all queue
 * processing, DMA, completions and interrupts.
 * Engine threads report tokens through callbacks that only append to a
 * per-context buffer under HC1State.lock and schedule the bottom half; they
 * never touch QEMU state.
 *
 * Copyright (c) 2026 The HC1 authors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/units.h"
#include "qemu/datadir.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/thread.h"
#include "qemu/timer.h"
#include "qapi/error.h"
#include "hw/pci/pci.h"
#include "hw/pci/pcie.h"
#include "hw/pci/msix.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "sysemu/dma.h"
#include "qom/object.h"
#include "trace.h"

#include "hc1/hw.h"
#include "hc1_engine.h"

/*
 * The engine reports finish reasons and weight formats in its own names;
 * the device passes them to the host unchanged, so they must be the
 * contract's values (compared as ints: they are two enums on purpose).
 */
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_FINISH_EOS != (int)HC1_FINISH_EOS);
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_FINISH_STOP != (int)HC1_FINISH_STOP);
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_FINISH_LENGTH != (int)HC1_FINISH_LENGTH);
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_FINISH_CONTEXT != (int)HC1_FINISH_CONTEXT);
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_FINISH_CANCELLED !=
                  (int)HC1_FINISH_CANCELLED);
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_FP32 != (int)HC1_WFMT_FP32);
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_INT8 != (int)HC1_WFMT_INT8);
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_KV_F32 != (int)HC1_KVFMT_F32);
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_KV_F16 != (int)HC1_KVFMT_F16);
QEMU_BUILD_BUG_ON((int)HC1_ENGINE_KV_INT8 != (int)HC1_KVFMT_INT8);

/* The model the card burns in when no 'model' property is given. */
#define HC1_DEFAULT_MODEL "hc1-kjv.bin"
#define HC1_DEFAULT_TOKENIZER "hc1-kjv-tok.bin"

/*
 * QEMU API differences, kept here instead of spread through the device.
 * 7.2 is what we build; the newer branches follow the upstream renames.
 */
#if QEMU_VERSION_MAJOR >= 9
#define HC1_BQL_LOCKED() bql_locked()
#else
#define HC1_BQL_LOCKED() qemu_mutex_iothread_locked()
#endif
#if QEMU_VERSION_MAJOR >= 10
#define HC1_CLASS_DATA const void *
#else
#define HC1_CLASS_DATA void *
#endif
/* 9.2 dropped the DEFINE_PROP_END_OF_LIST() terminator. */
#if QEMU_VERSION_MAJOR < 9 || \
    (QEMU_VERSION_MAJOR == 9 && QEMU_VERSION_MINOR < 2)
#define HC1_PROPS_TERMINATED
#endif

#define TYPE_HC1 "hc1"
OBJECT_DECLARE_SIMPLE_TYPE(HC1State, HC1)

#define HC1_MSIX_BAR 4
#define HC1_CAP_TIMEOUT 50          /* CAP.TO: 5 s, in 100 ms units */
#define HC1_CMDS_PER_BH 64          /* keep the main loop responsive */
#define HC1_DELAY_CQE_NS (2 * NANOSECONDS_PER_SECOND)
#define HC1_SLOW_READY_NS (300 * SCALE_MS)
/*
 * While generations run, the main loop moves tokens to guest memory this
 * often; engine threads wake it only for the first tokens of a generation
 * and for its end.  A wake-up per token cost the engine thread ~15% of its
 * time in the eventfd write and IPI alone: see docs/performance.md.
 */
#define HC1_DRAIN_NS (500 * SCALE_US)
#define HC1_MAX_QUEUES 255          /* CAP.NQ is 8 bits */
#define HC1_MAX_QUEUE_ENTRIES 65536 /* CAP.MQES is 16 bits */

typedef struct HC1State HC1State;

typedef struct HC1Queue {
    HC1State *dev;
    uint16_t qid;
    bool live;
    bool irq_enabled;
    uint16_t vector;
    uint32_t sq_size;               /* entries */
    uint32_t cq_size;
    uint64_t sq_addr;
    uint64_t cq_addr;
    uint32_t sq_head;
    uint32_t sq_tail;
    uint32_t cq_head;
    uint32_t cq_tail;
    uint16_t phase;
    /*
     * CQ slots promised to fetched commands whose completion is not posted
     * yet (generations, held completions).  A command is only fetched when
     * its completion is guaranteed a slot, so posting never overruns.
     */
    uint32_t cq_reserved;
    uint32_t tokens_unsignalled;    /* all contexts of the queue */
    QEMUTimer *coalesce_timer;
} HC1Queue;

typedef enum HC1CtxState {
    HC1_CTX_FREE,
    HC1_CTX_IDLE,
    HC1_CTX_RUNNING,
} HC1CtxState;

typedef struct HC1Context {
    /* Main loop (BQL) only. */
    HC1CtxState state;
    uint16_t qid;                   /* queue the GENERATE came from */
    bool orphaned;                  /* that queue was deleted: no CQE */
    bool dma_failed;
    uint16_t cid;
    uint64_t ring_addr;
    uint32_t ring_mask;
    uint32_t produced;
    uint32_t tokens_unsignalled;    /* since its queue's last interrupt */

    /* Written by engine threads, under HC1State.lock. */
    GArray *pending;                /* uint32_t tokens not yet DMA'd */
    bool kicked;                    /* the main loop knows of this generation */
    bool done;
    int finish;
    uint32_t n_prompt;
    uint32_t n_generated;
} HC1Context;

typedef struct HC1HeldCqe {
    uint16_t qid;
    struct hc1_cqe cqe;
} HC1HeldCqe;

struct HC1State {
    PCIDevice parent_obj;

    MemoryRegion mmio;

    /* Properties */
    char *model_path;
    char *tokenizer_path;
    char *format;
    char *kv_format;            /* "f32", "f16" or "int8" */
    uint32_t n_contexts;
    uint32_t n_queues;
    uint32_t max_entries;
    uint32_t n_threads;
    char *engine_cpus;          /* CPU list for the engine threads */
    uint32_t coalesce_tokens;
    uint32_t coalesce_usecs;
    bool fault_inject;
    /*
     * Runtime QOM property: the card fell off the bus (surprise removal).
     * MMIO and config space read all ones, nothing is DMA'd or signalled.
     */
    bool vanished;

    /* The burned-in model */
    hc1_engine *engine;
    struct hc1_engine_info info;
    struct hc1_engine_callbacks engine_cb;
    uint8_t *vocab;
    uint32_t vocab_bytes;

    /* Registers */
    uint32_t cc;
    uint32_t csts;
    uint32_t aqa;
    uint32_t intc;
    uint64_t asq;
    uint64_t acq;
    uint32_t errcnt;
    uint32_t lasterr;
    uint32_t test;

    HC1Queue *queues;               /* [0] admin, [1..n_queues] I/O */
    HC1Context *ctxs;
    QEMUBH *bh;
    GQueue held_cqes;               /* HC1_TEST_DELAY_CQE */
    QEMUTimer *delay_timer;
    QEMUTimer *ready_timer;         /* HC1_TEST_SLOW_READY */
    bool held_due;                  /* flush held_cqes in the next BH */
    QEMUTimer *drain_timer;         /* HC1_DRAIN_NS while generations run */

    struct hc1_stats stats;
    int64_t enabled_at_ns;

    /* Protects HC1Context.pending/kicked/done/finish/n_prompt/n_generated. */
    QemuMutex lock;
};

/* ------------------------------------------------------------ helpers */

static uint32_t hc1_nvectors(HC1State *s)
{
    return s->n_queues + 1;
}

static bool hc1_ready(HC1State *s)
{
    return (s->csts & HC1_CSTS_RDY) && !(s->csts & HC1_CSTS_CFS) &&
           !s->vanished;
}

static bool hc1_dma_ok(HC1State *s, uint64_t addr, uint64_t len, bool write)
{
    if (len == 0 || addr + len < addr) {
        return false;
    }
    return address_space_access_valid(pci_get_address_space(PCI_DEVICE(s)),
                                      addr, len, write,
                                      MEMTXATTRS_UNSPECIFIED);
}

static void hc1_reg_error(HC1State *s, hwaddr addr, uint64_t val,
                          enum hc1_reg_error err)
{
    trace_hc1_reg_error(addr, val, err);
    s->errcnt++;
    s->lasterr = err;
}

static uint32_t hc1_cq_used(HC1Queue *q)
{
    return (q->cq_tail + q->cq_size - q->cq_head) % q->cq_size;
}

/* One CQ slot stays empty so that a full CQ differs from an empty one. */
static bool hc1_cq_can_reserve(HC1Queue *q)
{
    return hc1_cq_used(q) + q->cq_reserved < q->cq_size - 1;
}

static void hc1_fatal(HC1State *s, enum hc1_fatal reason);

/* ------------------------------------------------------- interrupts */

static void hc1_irq(HC1State *s, HC1Queue *q)
{
    PCIDevice *pci = PCI_DEVICE(s);
    uint32_t i;

    /* The host re-reads every ring of the queue on its interrupt. */
    q->tokens_unsignalled = 0;
    for (i = 0; i < s->n_contexts; i++) {
        if (s->ctxs[i].qid == q->qid) {
            s->ctxs[i].tokens_unsignalled = 0;
        }
    }
    timer_del(q->coalesce_timer);
    if (!q->irq_enabled || s->vanished) {
        return;
    }
    if (s->test & HC1_TEST_DROP_IRQ) {
        trace_hc1_irq_skipped(q->qid, "fault injection");
        return;
    }
    if (!msix_enabled(pci)) {
        trace_hc1_irq_skipped(q->qid, "MSI-X disabled");
        return;
    }
    trace_hc1_irq(q->qid, q->vector);
    msix_notify(pci, q->vector);
    s->stats.interrupts++;
}

static void hc1_coalesce_timer(void *opaque)
{
    HC1Queue *q = opaque;

    if (q->live && q->tokens_unsignalled) {
        hc1_irq(q->dev, q);
    }
}

static uint32_t hc1_intc_tokens(HC1State *s)
{
    uint32_t n = s->intc & HC1_INTC_TOKENS_MASK;

    return n ? n : 1;
}

static uint32_t hc1_intc_usecs(HC1State *s)
{
    return (s->intc & HC1_INTC_USECS_MASK) >> HC1_INTC_USECS_SHIFT;
}

/*
 * Token progress: interrupt once one generation has INTC.TOKENS new tokens,
 * or INTC.USECS after the first token not yet signalled.  Counting per
 * generation, not per queue, means each wake-up of a reader brings it
 * INTC.TOKENS tokens however many sessions share the queue: with a per-queue
 * count, 8 sessions got 2 tokens each per interrupt and their readers made
 * 0.19-0.37 syscalls per token (docs/performance.md).
 */
static void hc1_token_progress(HC1State *s, HC1Queue *q, HC1Context *c,
                               uint32_t n)
{
    uint32_t usecs = hc1_intc_usecs(s);

    if (!q->irq_enabled || !n) {
        return;
    }
    q->tokens_unsignalled += n;
    c->tokens_unsignalled += n;
    /*
     * The first tokens of a generation are signalled at once: a reader
     * waiting for them would otherwise see its time to first token grow by
     * up to INTC.USECS.
     */
    if (c->produced == n || c->tokens_unsignalled >= hc1_intc_tokens(s)) {
        hc1_irq(s, q);
    } else if (usecs && !timer_pending(q->coalesce_timer)) {
        timer_mod(q->coalesce_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + usecs * SCALE_US);
    }
}

/* ------------------------------------------------------- completions */

static void hc1_write_cqe(HC1State *s, HC1Queue *q, struct hc1_cqe *cqe)
{
    PCIDevice *pci = PCI_DEVICE(s);
    uint64_t addr = q->cq_addr + (uint64_t)q->cq_tail * HC1_CQE_SIZE;
    uint16_t status = cqe->status | q->phase;
    uint16_t status_le = cpu_to_le16(status);
    struct hc1_cqe le = {
        .result = cpu_to_le32(cqe->result),
        .info = cpu_to_le32(cqe->info),
        .sq_head = cpu_to_le16(q->sq_head),
        .sq_id = cpu_to_le16(q->qid),
        .cid = cpu_to_le16(cqe->cid),
    };

    /* DMA and MSI-X only with the BQL: from the BH or a main-loop timer. */
    assert(HC1_BQL_LOCKED());
    if (q->cq_reserved) {
        q->cq_reserved--;
    }
    trace_hc1_cqe(q->qid, cqe->cid, cqe->status >> HC1_CQE_STATUS_SHIFT,
                  cqe->result, cqe->info);
    if (pci_dma_write(pci, addr, &le, offsetof(struct hc1_cqe, status))) {
        hc1_fatal(s, HC1_FATAL_CQ_DMA);
        return;
    }
    /* The status word carries the phase: it must land last. */
    smp_wmb();
    if (pci_dma_write(pci, addr + offsetof(struct hc1_cqe, status),
                      &status_le, sizeof(status_le))) {
        hc1_fatal(s, HC1_FATAL_CQ_DMA);
        return;
    }
    s->stats.commands++;
    if (cqe->status >> HC1_CQE_STATUS_SHIFT) {
        s->stats.errors++;
    }
    if (++q->cq_tail == q->cq_size) {
        q->cq_tail = 0;
        q->phase ^= HC1_CQE_PHASE;
    }
    hc1_irq(s, q);
}

static void hc1_flush_held_cqes(HC1State *s)
{
    HC1HeldCqe *h;

    while ((h = g_queue_pop_head(&s->held_cqes))) {
        HC1Queue *q = &s->queues[h->qid];

        if (q->live && hc1_ready(s)) {
            hc1_write_cqe(s, q, &h->cqe);
        }
        g_free(h);
    }
}

static void hc1_free_held_cqes(HC1State *s)
{
    HC1HeldCqe *h;

    while ((h = g_queue_pop_head(&s->held_cqes))) {
        g_free(h);
    }
}

static void hc1_drop_held_cqes(HC1State *s, uint16_t qid)
{
    GList *l = s->held_cqes.head;

    while (l) {
        GList *next = l->next;
        HC1HeldCqe *h = l->data;

        if (h->qid == qid) {
            g_queue_delete_link(&s->held_cqes, l);
            g_free(h);
        }
        l = next;
    }
}

/* DMA only from the (re-entrancy guarded) bottom half. */
static void hc1_delay_timer(void *opaque)
{
    HC1State *s = opaque;

    s->held_due = true;
    qemu_bh_schedule(s->bh);
}

/*
 * Post the completion of a fetched command; its CQ slot was reserved when
 * the command was fetched.
 */
static void hc1_complete(HC1State *s, HC1Queue *q, uint16_t cid,
                         enum hc1_status sc, uint32_t result, uint32_t info)
{
    struct hc1_cqe cqe = {
        .result = result,
        .info = info,
        .cid = cid,
        .status = sc << HC1_CQE_STATUS_SHIFT,
    };

    if (s->test & HC1_TEST_BAD_CID) {
        cqe.cid ^= 0xffff;
    }
    if ((s->test & HC1_TEST_DELAY_CQE) || !g_queue_is_empty(&s->held_cqes)) {
        HC1HeldCqe *h = g_new0(HC1HeldCqe, 1);

        /* Later completions queue behind held ones to keep their order. */
        h->qid = q->qid;
        h->cqe = cqe;
        g_queue_push_tail(&s->held_cqes, h);
        if (!timer_pending(s->delay_timer)) {
            timer_mod(s->delay_timer,
                      qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) + HC1_DELAY_CQE_NS);
        }
        return;
    }
    hc1_write_cqe(s, q, &cqe);
}

/* ------------------------------------------------------ engine side */

/*
 * Engine thread: must not touch anything but the pending buffer.  Only the
 * first tokens of a generation wake the main loop; drain_timer collects
 * the rest.
 */
static void hc1_on_token(void *opaque, uint32_t ctx, uint32_t token)
{
    HC1State *s = opaque;
    HC1Context *c;
    bool kick;

    if (ctx >= s->n_contexts) {
        return;
    }
    c = &s->ctxs[ctx];
    qemu_mutex_lock(&s->lock);
    g_array_append_val(c->pending, token);
    kick = !c->kicked;
    c->kicked = true;
    qemu_mutex_unlock(&s->lock);
    if (kick) {
        qemu_bh_schedule(s->bh);
    }
}

static void hc1_drain_timer(void *opaque)
{
    HC1State *s = opaque;

    qemu_bh_schedule(s->bh);
}

/* Engine thread: the generation on @ctx ended. */
static void hc1_on_done(void *opaque, uint32_t ctx, int finish,
                            uint32_t n_prompt, uint32_t n_generated)
{
    HC1State *s = opaque;

    if (ctx >= s->n_contexts) {
        return;
    }
    qemu_mutex_lock(&s->lock);
    s->ctxs[ctx].done = true;
    s->ctxs[ctx].finish = finish;
    s->ctxs[ctx].n_prompt = n_prompt;
    s->ctxs[ctx].n_generated = n_generated;
    qemu_mutex_unlock(&s->lock);
    qemu_bh_schedule(s->bh);
}

static void hc1_ring_write(HC1State *s, HC1Context *c, uint64_t off,
                           const void *buf, size_t len)
{
    if (c->dma_failed) {
        return;
    }
    if (pci_dma_write(PCI_DEVICE(s), c->ring_addr + off, buf, len)) {
        /* The ring vanished under us: stop burning compute on it. */
        c->dma_failed = true;
        hc1_engine_cancel(s->engine, c - s->ctxs);
    }
}

static void hc1_deliver_tokens(HC1State *s, HC1Context *c,
                               const uint32_t *tokens, uint32_t n)
{
    uint32_t produced_le;
    uint32_t i;

    for (i = 0; i < n; i++) {
        uint32_t tok_le = cpu_to_le32(tokens[i]);
        uint64_t slot = (c->produced + i) & c->ring_mask;

        hc1_ring_write(s, c, HC1_RING_SLOT_OFFSET(slot), &tok_le,
                       sizeof(tok_le));
    }
    c->produced += n;
    s->stats.tokens += n;
    /* Slots first, then the index that publishes them. */
    smp_wmb();
    produced_le = cpu_to_le32(c->produced);
    hc1_ring_write(s, c, offsetof(struct hc1_ring_header, produced),
                   &produced_le, sizeof(produced_le));
    trace_hc1_tokens(c - s->ctxs, n, c->produced);
    if (!c->orphaned) {
        hc1_token_progress(s, &s->queues[c->qid], c, n);
    }
}

static void hc1_finish_generation(HC1State *s, HC1Context *c, int finish,
                                  uint32_t n_prompt)
{
    uint32_t tail[2] = { cpu_to_le32(finish), cpu_to_le32(n_prompt) };
    uint32_t state_le = cpu_to_le32(HC1_RING_DONE);
    enum hc1_status sc;

    trace_hc1_gen_done(c - s->ctxs, finish, n_prompt, c->produced);
    hc1_ring_write(s, c, offsetof(struct hc1_ring_header, finish), tail,
                   sizeof(tail));
    /* finish and n_prompt are valid once the host sees DONE. */
    smp_wmb();
    hc1_ring_write(s, c, offsetof(struct hc1_ring_header, state), &state_le,
                   sizeof(state_le));
    sc = c->dma_failed ? HC1_SC_DMA_ERROR : HC1_SC_SUCCESS;
    c->state = HC1_CTX_IDLE;
    s->stats.running--;
    s->stats.generations++;
    s->stats.prompt_tokens += n_prompt;
    if (finish == HC1_FINISH_CANCELLED) {
        s->stats.cancelled++;
    }
    if (!c->orphaned) {
        hc1_complete(s, &s->queues[c->qid], c->cid, sc, c->produced,
                     HC1_CQE_INFO(finish, n_prompt));
    }
}

/* Move what the engine threads reported into guest memory. */
static void hc1_drain_engine(HC1State *s)
{
    uint32_t i;

    for (i = 0; i < s->n_contexts; i++) {
        HC1Context *c = &s->ctxs[i];
        GArray *tokens;
        bool done;
        int finish;
        uint32_t n_prompt;

        if (c->state != HC1_CTX_RUNNING) {
            continue;
        }
        qemu_mutex_lock(&s->lock);
        tokens = c->pending;
        c->pending = g_array_new(false, false, sizeof(uint32_t));
        done = c->done;
        finish = c->finish;
        n_prompt = c->n_prompt;
        qemu_mutex_unlock(&s->lock);

        if (tokens->len) {
            hc1_deliver_tokens(s, c, &g_array_index(tokens, uint32_t, 0),
                               tokens->len);
        }
        g_array_free(tokens, true);
        if (done) {
            hc1_finish_generation(s, c, finish, n_prompt);
        }
    }
}

static enum hc1_status hc1_engine_status(int err)
{
    trace_hc1_err_engine(err);
    switch (-err) {
    case HC1_ENGINE_OK:
        return HC1_SC_SUCCESS;
    case HC1_ENGINE_EINVAL:
        return HC1_SC_INVALID_FIELD;
    case HC1_ENGINE_ECTX:
        return HC1_SC_INVALID_CTX;
    case HC1_ENGINE_EEXIST:
        return HC1_SC_CTX_EXISTS;
    case HC1_ENGINE_EBUSY:
        return HC1_SC_CTX_BUSY;
    case HC1_ENGINE_ETOOLONG:
        return HC1_SC_PROMPT_TOO_LONG;
    case HC1_ENGINE_ETOKEN:
        return HC1_SC_INVALID_TOKEN;
    default:
        return HC1_SC_INTERNAL;
    }
}

/* ------------------------------------------------------ admin commands */

/*
 * Every field the device refuses is refused through here, so that the
 * trace names the command's opcode, the field and its value.
 */
static enum hc1_status hc1_invalid_field(uint8_t opcode, const char *field,
                                         uint64_t val)
{
    trace_hc1_err_invalid_field(opcode, field, val);
    return HC1_SC_INVALID_FIELD;
}

/* Flags of a command that defines none must be 0. */
static enum hc1_status hc1_check_no_flags(const struct hc1_sqe_common *c)
{
    return c->flags ? hc1_invalid_field(c->opcode, "flags", c->flags) :
                      HC1_SC_SUCCESS;
}

static uint32_t hc1_features(HC1State *s)
{
    return HC1_FEAT_MASK & ~(s->fault_inject ? 0 : HC1_FEAT_FAULT_INJECT);
}

static void hc1_fill_model_card(HC1State *s, struct hc1_model_card *card)
{
    memset(card, 0, sizeof(*card));
    card->size = cpu_to_le32(sizeof(*card));
    card->version = cpu_to_le32(HC1_HW_VERSION);
    card->features = cpu_to_le32(hc1_features(s));
    memcpy(card->name, s->info.name,
           strnlen(s->info.name, sizeof(card->name) - 1));
    memcpy(card->arch, s->info.arch,
           strnlen(s->info.arch, sizeof(card->arch) - 1));
    card->dim = cpu_to_le32(s->info.dim);
    card->hidden_dim = cpu_to_le32(s->info.hidden_dim);
    card->n_layers = cpu_to_le32(s->info.n_layers);
    card->n_heads = cpu_to_le32(s->info.n_heads);
    card->n_kv_heads = cpu_to_le32(s->info.n_kv_heads);
    card->vocab_size = cpu_to_le32(s->info.vocab_size);
    card->context_len = cpu_to_le32(s->info.context_len);
    card->bos_id = cpu_to_le32(s->info.bos_id);
    card->eos_id = cpu_to_le32(s->info.eos_id);
    card->weight_format = cpu_to_le32(s->info.format);
    card->group_size = cpu_to_le32(s->info.group_size);
    card->n_contexts = cpu_to_le32(s->n_contexts);
    card->max_queues = cpu_to_le32(s->n_queues);
    card->max_queue_entries = cpu_to_le32(s->max_entries);
    card->vocab_bytes = cpu_to_le32(s->vocab_bytes);
    card->n_params = cpu_to_le64(s->info.n_params);
    card->weight_bytes = cpu_to_le64(s->info.weight_bytes);
    memcpy(card->sha256, s->info.sha256, sizeof(card->sha256));
    card->msix_vectors = cpu_to_le32(hc1_nvectors(s));
    card->max_stop = cpu_to_le32(HC1_MAX_STOP);
    card->kv_format = cpu_to_le32(s->info.kv_format);
}

static enum hc1_status hc1_identify(HC1State *s, const struct hc1_cmd_data *cmd)
{
    g_autofree uint8_t *buf = g_malloc0(HC1_IDENTIFY_SIZE);

    if (le32_to_cpu(cmd->len) != HC1_IDENTIFY_SIZE) {
        return hc1_invalid_field(cmd->c.opcode, "len", le32_to_cpu(cmd->len));
    }
    if (cmd->offset) {
        return hc1_invalid_field(cmd->c.opcode, "offset",
                                 le32_to_cpu(cmd->offset));
    }
    hc1_fill_model_card(s, (struct hc1_model_card *)buf);
    if (pci_dma_write(PCI_DEVICE(s), le64_to_cpu(cmd->addr), buf,
                      HC1_IDENTIFY_SIZE)) {
        return HC1_SC_DMA_ERROR;
    }
    return HC1_SC_SUCCESS;
}

static enum hc1_status hc1_read_vocab(HC1State *s,
                                      const struct hc1_cmd_data *cmd)
{
    uint64_t len = le32_to_cpu(cmd->len);
    uint64_t off = le32_to_cpu(cmd->offset);

    if (!len) {
        return hc1_invalid_field(cmd->c.opcode, "len", len);
    }
    if (off + len > s->vocab_bytes) {
        return hc1_invalid_field(cmd->c.opcode, "offset+len", off + len);
    }
    if (pci_dma_write(PCI_DEVICE(s), le64_to_cpu(cmd->addr), s->vocab + off,
                      len)) {
        return HC1_SC_DMA_ERROR;
    }
    return HC1_SC_SUCCESS;
}

static void hc1_fill_stats(HC1State *s, struct hc1_stats *st)
{
    uint32_t i, active = 0;

    for (i = 0; i < s->n_contexts; i++) {
        active += s->ctxs[i].state != HC1_CTX_FREE;
    }
    s->stats.size = sizeof(*st);
    s->stats.active_contexts = active;
    s->stats.busy_ns = hc1_engine_busy_ns(s->engine);
    s->stats.uptime_ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL) -
                         s->enabled_at_ns;
    s->stats.reg_errors = s->errcnt;

    st->size = cpu_to_le32(s->stats.size);
    st->active_contexts = cpu_to_le32(s->stats.active_contexts);
    st->running = cpu_to_le32(s->stats.running);
    st->rsvd = 0;
    st->commands = cpu_to_le64(s->stats.commands);
    st->errors = cpu_to_le64(s->stats.errors);
    st->generations = cpu_to_le64(s->stats.generations);
    st->cancelled = cpu_to_le64(s->stats.cancelled);
    st->prompt_tokens = cpu_to_le64(s->stats.prompt_tokens);
    st->tokens = cpu_to_le64(s->stats.tokens);
    st->interrupts = cpu_to_le64(s->stats.interrupts);
    st->busy_ns = cpu_to_le64(s->stats.busy_ns);
    st->uptime_ns = cpu_to_le64(s->stats.uptime_ns);
    st->reg_errors = cpu_to_le64(s->stats.reg_errors);
}

static enum hc1_status hc1_get_stats(HC1State *s,
                                     const struct hc1_cmd_data *cmd)
{
    struct hc1_stats st;
    uint32_t len = le32_to_cpu(cmd->len);

    if (!len || len > sizeof(st)) {
        return hc1_invalid_field(cmd->c.opcode, "len", len);
    }
    if (cmd->offset) {
        return hc1_invalid_field(cmd->c.opcode, "offset",
                                 le32_to_cpu(cmd->offset));
    }
    hc1_fill_stats(s, &st);
    if (pci_dma_write(PCI_DEVICE(s), le64_to_cpu(cmd->addr), &st, len)) {
        return HC1_SC_DMA_ERROR;
    }
    return HC1_SC_SUCCESS;
}

static bool hc1_queue_base_ok(HC1State *s, uint64_t addr, uint64_t len,
                              bool write)
{
    return !(addr & (HC1_QUEUE_ALIGN - 1)) && hc1_dma_ok(s, addr, len, write);
}

static void hc1_queue_init(HC1Queue *q, uint64_t sq, uint32_t sq_size,
                           uint64_t cq, uint32_t cq_size, uint16_t vector,
                           bool irq)
{
    q->live = true;
    q->irq_enabled = irq;
    q->vector = vector;
    q->sq_size = sq_size;
    q->cq_size = cq_size;
    q->sq_addr = sq;
    q->cq_addr = cq;
    q->sq_head = q->sq_tail = 0;
    q->cq_head = q->cq_tail = 0;
    q->phase = HC1_CQE_PHASE;
    q->cq_reserved = 0;
    q->tokens_unsignalled = 0;
}

static enum hc1_status hc1_create_ioq(HC1State *s,
                                      const struct hc1_cmd_create_ioq *cmd)
{
    uint32_t qid = le32_to_cpu(cmd->c.ctx);
    uint64_t sq = le64_to_cpu(cmd->sq_addr);
    uint64_t cq = le64_to_cpu(cmd->cq_addr);
    uint32_t size = le16_to_cpu(cmd->qsize) + 1;
    uint16_t vector = le16_to_cpu(cmd->vector);
    bool irq = !(cmd->c.flags & HC1_QF_NO_IRQ);
    unsigned i;

    if (cmd->c.flags & ~HC1_QF_MASK) {
        return hc1_invalid_field(cmd->c.opcode, "flags", cmd->c.flags);
    }
    for (i = 0; i < ARRAY_SIZE(cmd->rsvd); i++) {
        if (cmd->rsvd[i]) {
            return hc1_invalid_field(cmd->c.opcode, "rsvd",
                                     le32_to_cpu(cmd->rsvd[i]));
        }
    }
    if (qid < 1 || qid > s->n_queues) {
        trace_hc1_err_invalid_queue(qid, "qid", qid);
        return HC1_SC_INVALID_QUEUE;
    }
    if (s->queues[qid].live) {
        return HC1_SC_QUEUE_EXISTS;
    }
    if (size < 2 || size > s->max_entries) {
        trace_hc1_err_invalid_queue(qid, "qsize", size - 1);
        return HC1_SC_INVALID_QUEUE;
    }
    if (irq && vector >= hc1_nvectors(s)) {
        trace_hc1_err_invalid_queue(qid, "vector", vector);
        return HC1_SC_INVALID_QUEUE;
    }
    if (!hc1_queue_base_ok(s, sq, (uint64_t)size * HC1_SQE_SIZE, false)) {
        trace_hc1_err_invalid_queue(qid, "sq_addr", sq);
        return HC1_SC_INVALID_QUEUE;
    }
    if (!hc1_queue_base_ok(s, cq, (uint64_t)size * HC1_CQE_SIZE, true)) {
        trace_hc1_err_invalid_queue(qid, "cq_addr", cq);
        return HC1_SC_INVALID_QUEUE;
    }
    trace_hc1_create_ioq(qid, sq, cq, size, vector, irq);
    hc1_queue_init(&s->queues[qid], sq, size, cq, size, irq ? vector : 0,
                   irq);
    return HC1_SC_SUCCESS;
}

static enum hc1_status hc1_delete_ioq(HC1State *s,
                                      const struct hc1_sqe_common *cmd)
{
    uint32_t qid = le32_to_cpu(cmd->ctx);
    HC1Queue *q;
    uint32_t i;

    if (qid < 1 || qid > s->n_queues || !s->queues[qid].live) {
        trace_hc1_err_invalid_queue(qid, "qid", qid);
        return HC1_SC_INVALID_QUEUE;
    }
    if (cmd->flags) {
        return hc1_invalid_field(cmd->opcode, "flags", cmd->flags);
    }
    q = &s->queues[qid];
    trace_hc1_delete_ioq(qid);
    /* Its generations are cancelled; they have nowhere to complete to. */
    for (i = 0; i < s->n_contexts; i++) {
        HC1Context *c = &s->ctxs[i];

        if (c->state == HC1_CTX_RUNNING && !c->orphaned && c->qid == qid) {
            c->orphaned = true;
            hc1_engine_cancel(s->engine, i);
        }
    }
    q->live = false;
    timer_del(q->coalesce_timer);
    hc1_drop_held_cqes(s, qid);
    return HC1_SC_SUCCESS;
}

static enum hc1_status hc1_admin_cmd(HC1State *s, const union hc1_sqe *sqe)
{
    switch (sqe->c.opcode) {
    case HC1_OP_IDENTIFY:
        return hc1_check_no_flags(&sqe->c) ?: hc1_identify(s, &sqe->data);
    case HC1_OP_READ_VOCAB:
        return hc1_check_no_flags(&sqe->c) ?: hc1_read_vocab(s, &sqe->data);
    case HC1_OP_CREATE_IOQ:
        return hc1_create_ioq(s, &sqe->ioq);
    case HC1_OP_DELETE_IOQ:
        return hc1_delete_ioq(s, &sqe->c);
    case HC1_OP_GET_STATS:
        return hc1_check_no_flags(&sqe->c) ?: hc1_get_stats(s, &sqe->data);
    default:
        trace_hc1_err_invalid_opcode(HC1_ADMIN_QID, sqe->c.opcode);
        return HC1_SC_INVALID_OPCODE;
    }
}

/* --------------------------------------------------------- I/O commands */

static HC1Context *hc1_lookup_ctx(HC1State *s, uint32_t ctx)
{
    if (ctx >= s->n_contexts || s->ctxs[ctx].state == HC1_CTX_FREE) {
        return NULL;
    }
    return &s->ctxs[ctx];
}

static enum hc1_status hc1_create_ctx(HC1State *s, const union hc1_sqe *sqe)
{
    uint32_t ctx = le32_to_cpu(sqe->c.ctx);
    int ret;

    if (sqe->c.flags) {
        return hc1_invalid_field(sqe->c.opcode, "flags", sqe->c.flags);
    }
    if (ctx >= s->n_contexts) {
        trace_hc1_err_invalid_ctx(sqe->c.opcode, ctx);
        return HC1_SC_INVALID_CTX;
    }
    if (s->ctxs[ctx].state != HC1_CTX_FREE) {
        return HC1_SC_CTX_EXISTS;
    }
    ret = hc1_engine_ctx_create(s->engine, ctx);
    if (ret) {
        return hc1_engine_status(ret);
    }
    s->ctxs[ctx].state = HC1_CTX_IDLE;
    return HC1_SC_SUCCESS;
}

static enum hc1_status hc1_destroy_ctx(HC1State *s, const union hc1_sqe *sqe)
{
    uint32_t ctx = le32_to_cpu(sqe->c.ctx);
    HC1Context *c = hc1_lookup_ctx(s, ctx);
    int ret;

    if (sqe->c.flags) {
        return hc1_invalid_field(sqe->c.opcode, "flags", sqe->c.flags);
    }
    if (!c) {
        trace_hc1_err_invalid_ctx(sqe->c.opcode, ctx);
        return HC1_SC_INVALID_CTX;
    }
    if (c->state == HC1_CTX_RUNNING) {
        return HC1_SC_CTX_BUSY;
    }
    ret = hc1_engine_ctx_destroy(s->engine, ctx);
    if (ret) {
        return hc1_engine_status(ret);
    }
    c->state = HC1_CTX_FREE;
    return HC1_SC_SUCCESS;
}

static enum hc1_status hc1_cancel(HC1State *s, const union hc1_sqe *sqe)
{
    uint32_t ctx = le32_to_cpu(sqe->c.ctx);
    HC1Context *c = hc1_lookup_ctx(s, ctx);

    if (sqe->c.flags) {
        return hc1_invalid_field(sqe->c.opcode, "flags", sqe->c.flags);
    }
    if (!c) {
        trace_hc1_err_invalid_ctx(sqe->c.opcode, ctx);
        return HC1_SC_INVALID_CTX;
    }
    /* An idle context has nothing to stop: cancelling it is harmless. */
    if (c->state == HC1_CTX_RUNNING && !(s->test & HC1_TEST_IGNORE_CANCEL)) {
        hc1_engine_cancel(s->engine, ctx);
    }
    return HC1_SC_SUCCESS;
}

/*
 * GENERATE: validate, write the ring header, start the engine.  On success
 * the completion comes later, from hc1_finish_generation().
 */
static enum hc1_status hc1_generate(HC1State *s, HC1Queue *q,
                                    const union hc1_sqe *sqe)
{
    const struct hc1_cmd_generate *g = &sqe->gen;
    uint32_t ctx = le32_to_cpu(g->c.ctx);
    HC1Context *c = hc1_lookup_ctx(s, ctx);
    uint32_t n_prompt = le32_to_cpu(g->n_prompt);
    uint32_t max_tokens = le32_to_cpu(g->max_tokens);
    uint64_t prompt_addr = le64_to_cpu(g->prompt_addr);
    uint64_t ring_addr = le64_to_cpu(g->ring_addr);
    bool keep = g->c.flags & HC1_GEN_CONTINUE;
    g_autofree uint32_t *prompt = NULL;
    struct hc1_engine_request req = { 0 };
    struct hc1_ring_header hdr = { 0 };
    uint32_t i;
    int ret;

    if (!c) {
        trace_hc1_err_invalid_ctx(g->c.opcode, ctx);
        return HC1_SC_INVALID_CTX;
    }
    if (c->state == HC1_CTX_RUNNING) {
        return HC1_SC_CTX_BUSY;
    }
    if (g->c.flags & ~HC1_GEN_MASK) {
        return hc1_invalid_field(g->c.opcode, "flags", g->c.flags);
    }
    if (g->rsvd) {
        return hc1_invalid_field(g->c.opcode, "rsvd", g->rsvd);
    }
    if (!max_tokens) {
        return hc1_invalid_field(g->c.opcode, "max_tokens", max_tokens);
    }
    /* Only a continuation may start without prompt tokens. */
    if (!n_prompt && !keep) {
        return hc1_invalid_field(g->c.opcode, "n_prompt", n_prompt);
    }
    if (ring_addr & (HC1_RING_ALIGN - 1)) {
        return hc1_invalid_field(g->c.opcode, "ring_addr", ring_addr);
    }
    if (g->ring_shift < HC1_RING_SHIFT_MIN ||
        g->ring_shift > HC1_RING_SHIFT_MAX ||
        max_tokens > (1u << g->ring_shift)) {
        trace_hc1_err_ring_too_small(ctx, g->ring_shift, max_tokens);
        return HC1_SC_RING_TOO_SMALL;
    }
    if (n_prompt > s->info.context_len) {
        trace_hc1_err_prompt_too_long(ctx, n_prompt, s->info.context_len);
        return HC1_SC_PROMPT_TOO_LONG;
    }
    for (i = 0; i < HC1_MAX_STOP; i++) {
        uint32_t stop = le32_to_cpu(g->stop[i]);

        if (stop == HC1_TOKEN_NONE) {
            continue;
        }
        if (stop >= s->info.vocab_size) {
            trace_hc1_err_invalid_token(ctx, "stop", i, stop);
            return HC1_SC_INVALID_TOKEN;
        }
        req.stop[req.n_stop++] = stop;
    }
    if (n_prompt) {
        prompt = g_new(uint32_t, n_prompt);
        if (pci_dma_read(PCI_DEVICE(s), prompt_addr, prompt,
                         (uint64_t)n_prompt * 4)) {
            return HC1_SC_DMA_ERROR;
        }
        for (i = 0; i < n_prompt; i++) {
            prompt[i] = le32_to_cpu(prompt[i]);
            if (prompt[i] >= s->info.vocab_size) {
                trace_hc1_err_invalid_token(ctx, "prompt", i, prompt[i]);
                return HC1_SC_INVALID_TOKEN;
            }
        }
    }
    if (!hc1_dma_ok(s, ring_addr, HC1_RING_BYTES(g->ring_shift), true)) {
        return HC1_SC_DMA_ERROR;
    }
    hdr.state = cpu_to_le32(HC1_RING_RUNNING);
    hdr.cid = cpu_to_le32(le16_to_cpu(g->c.cid));
    if (pci_dma_write(PCI_DEVICE(s), ring_addr, &hdr, sizeof(hdr))) {
        return HC1_SC_DMA_ERROR;
    }

    req.prompt = prompt;
    req.n_prompt = n_prompt;
    req.keep_cache = keep;
    req.ignore_eos = !!(g->c.flags & HC1_GEN_IGNORE_EOS);
    req.max_tokens = max_tokens;
    req.temperature = le16_to_cpu(g->temperature_milli) / 1000.0f;
    req.top_p = le16_to_cpu(g->top_p_milli) / 1000.0f;
    req.top_k = le16_to_cpu(g->top_k);
    req.seed = le64_to_cpu(g->seed);

    /* Engine callbacks may fire before generate() returns: arm first. */
    qemu_mutex_lock(&s->lock);
    g_array_set_size(c->pending, 0);
    c->kicked = false;
    c->done = false;
    qemu_mutex_unlock(&s->lock);
    c->qid = q->qid;
    c->cid = le16_to_cpu(g->c.cid);
    c->orphaned = false;
    c->dma_failed = false;
    c->ring_addr = ring_addr;
    c->ring_mask = (1u << g->ring_shift) - 1;
    c->produced = 0;
    c->tokens_unsignalled = 0;

    ret = hc1_engine_generate(s->engine, ctx, &req, &s->engine_cb);
    if (ret) {
        return hc1_engine_status(ret);
    }
    trace_hc1_gen_start(ctx, q->qid, c->cid, n_prompt, max_tokens);
    c->state = HC1_CTX_RUNNING;
    s->stats.running++;
    return HC1_SC_SUCCESS;
}

/* Returns true when the command completes later (its slot stays reserved). */
static bool hc1_io_cmd(HC1State *s, HC1Queue *q, const union hc1_sqe *sqe,
                       enum hc1_status *sc)
{
    switch (sqe->c.opcode) {
    case HC1_OP_CREATE_CTX:
        *sc = hc1_create_ctx(s, sqe);
        return false;
    case HC1_OP_DESTROY_CTX:
        *sc = hc1_destroy_ctx(s, sqe);
        return false;
    case HC1_OP_GENERATE:
        *sc = hc1_generate(s, q, sqe);
        return *sc == HC1_SC_SUCCESS;
    case HC1_OP_CANCEL:
        *sc = hc1_cancel(s, sqe);
        return false;
    default:
        trace_hc1_err_invalid_opcode(q->qid, sqe->c.opcode);
        *sc = HC1_SC_INVALID_OPCODE;
        return false;
    }
}

/* ------------------------------------------------------ queue processing */

/* Fetch and execute up to @budget commands of @q; returns how many ran. */
static unsigned hc1_process_sq(HC1State *s, HC1Queue *q, unsigned budget)
{
    unsigned done = 0;

    while (q->live && hc1_ready(s) && q->sq_head != q->sq_tail &&
           done < budget && hc1_cq_can_reserve(q)) {
        union hc1_sqe sqe;
        enum hc1_status sc;
        bool deferred = false;
        uint64_t addr = q->sq_addr + (uint64_t)q->sq_head * HC1_SQE_SIZE;

        if (pci_dma_read(PCI_DEVICE(s), addr, &sqe, sizeof(sqe))) {
            hc1_fatal(s, HC1_FATAL_SQ_DMA);
            break;
        }
        q->sq_head = (q->sq_head + 1) % q->sq_size;
        q->cq_reserved++;
        done++;
        trace_hc1_cmd(q->qid, le16_to_cpu(sqe.c.cid), sqe.c.opcode,
                      le32_to_cpu(sqe.c.ctx));
        if (q->qid == HC1_ADMIN_QID) {
            sc = hc1_admin_cmd(s, &sqe);
        } else {
            deferred = hc1_io_cmd(s, q, &sqe, &sc);
        }
        if (!deferred) {
            hc1_complete(s, q, le16_to_cpu(sqe.c.cid), sc, 0, 0);
        }
    }
    return done;
}

static void hc1_bh(void *opaque)
{
    HC1State *s = opaque;
    unsigned budget = HC1_CMDS_PER_BH;
    uint32_t i;

    if (!hc1_ready(s)) {
        return;
    }
    if (s->held_due) {
        s->held_due = false;
        hc1_flush_held_cqes(s);
    }
    hc1_drain_engine(s);
    if (s->stats.running && !timer_pending(s->drain_timer)) {
        timer_mod(s->drain_timer,
                  qemu_clock_get_ns(QEMU_CLOCK_REALTIME) + HC1_DRAIN_NS);
    }
    for (i = 0; i <= s->n_queues && budget; i++) {
        budget -= hc1_process_sq(s, &s->queues[i], budget);
    }
    if (!budget) {
        qemu_bh_schedule(s->bh);
    }
}

/* ------------------------------------------------------ state machine */

/* The engine's test modes follow HC1_REG_TEST, across resets too. */
static void hc1_apply_engine_faults(HC1State *s)
{
    hc1_engine_set_stall(s->engine, !!(s->test & HC1_TEST_STALL_ENGINE));
    hc1_engine_set_step_time(s->engine, s->test & HC1_TEST_SLOW_ENGINE ?
                             HC1_TEST_SLOW_STEP_US : 0);
}

/*
 * Abort every generation without a completion, destroy every context and
 * drop every queue.  Engine threads are quiescent when this returns.
 */
static void hc1_controller_reset(HC1State *s)
{
    uint32_t i;

    trace_hc1_reset();
    hc1_engine_set_stall(s->engine, 0);
    hc1_engine_reset(s->engine);
    hc1_apply_engine_faults(s);

    qemu_mutex_lock(&s->lock);
    for (i = 0; i < s->n_contexts; i++) {
        g_array_set_size(s->ctxs[i].pending, 0);
        s->ctxs[i].done = false;
    }
    qemu_mutex_unlock(&s->lock);
    for (i = 0; i < s->n_contexts; i++) {
        s->ctxs[i].state = HC1_CTX_FREE;
    }
    for (i = 0; i <= s->n_queues; i++) {
        s->queues[i].live = false;
        timer_del(s->queues[i].coalesce_timer);
    }
    timer_del(s->delay_timer);
    timer_del(s->ready_timer);
    timer_del(s->drain_timer);
    hc1_free_held_cqes(s);
    s->held_due = false;
    memset(&s->stats, 0, sizeof(s->stats));
    s->cc &= ~HC1_CC_EN;
    s->csts = 0;
}

/*
 * Stop all work until the host resets the controller.  Generations are
 * cancelled; their ends are swallowed by hc1_bh() which no longer runs.
 */
static void hc1_fatal(HC1State *s, enum hc1_fatal reason)
{
    uint32_t i;

    if (s->csts & HC1_CSTS_CFS) {
        return;
    }
    trace_hc1_fatal(reason);
    s->csts = HC1_CSTS_CFS | (reason << HC1_CSTS_FATAL_SHIFT);
    for (i = 0; i < s->n_contexts; i++) {
        if (s->ctxs[i].state == HC1_CTX_RUNNING) {
            hc1_engine_cancel(s->engine, i);
        }
    }
}

static void hc1_enable(HC1State *s)
{
    uint32_t sqs = (s->aqa & HC1_AQA_ASQS_MASK) + 1;
    uint32_t cqs = ((s->aqa & HC1_AQA_ACQS_MASK) >> HC1_AQA_ACQS_SHIFT) + 1;

    trace_hc1_enable(s->asq, s->acq, s->aqa);
    if (sqs < 2 || cqs < 2 || sqs > s->max_entries || cqs > s->max_entries) {
        trace_hc1_err_invalid_queue(HC1_ADMIN_QID, "aqa", s->aqa);
        hc1_fatal(s, HC1_FATAL_ADMIN_QUEUE);
        return;
    }
    if (!hc1_queue_base_ok(s, s->asq, (uint64_t)sqs * HC1_SQE_SIZE, false)) {
        trace_hc1_err_invalid_queue(HC1_ADMIN_QID, "asq", s->asq);
        hc1_fatal(s, HC1_FATAL_ADMIN_QUEUE);
        return;
    }
    if (!hc1_queue_base_ok(s, s->acq, (uint64_t)cqs * HC1_CQE_SIZE, true)) {
        trace_hc1_err_invalid_queue(HC1_ADMIN_QID, "acq", s->acq);
        hc1_fatal(s, HC1_FATAL_ADMIN_QUEUE);
        return;
    }
    hc1_queue_init(&s->queues[HC1_ADMIN_QID], s->asq, sqs, s->acq, cqs, 0,
                   true);
    s->enabled_at_ns = qemu_clock_get_ns(QEMU_CLOCK_VIRTUAL);
    if (s->test & HC1_TEST_SLOW_READY) {
        timer_mod(s->ready_timer, s->enabled_at_ns + HC1_SLOW_READY_NS);
        return;
    }
    s->csts = HC1_CSTS_RDY;
}

/* HC1_TEST_SLOW_READY: the enable completes now, unless reset since. */
static void hc1_ready_timer(void *opaque)
{
    HC1State *s = opaque;

    if ((s->cc & HC1_CC_EN) && !(s->csts & HC1_CSTS_CFS)) {
        s->csts = HC1_CSTS_RDY;
        qemu_bh_schedule(s->bh);
    }
}

/* ------------------------------------------------------------ doorbells */

static void hc1_doorbell(HC1State *s, hwaddr addr, uint32_t val)
{
    uint32_t idx = (addr - HC1_REG_DB_BASE) / 4;
    uint32_t qid = idx / 2;
    bool is_cq = idx & 1;
    HC1Queue *q;

    if (!hc1_ready(s)) {
        hc1_reg_error(s, addr, val, HC1_ERR_DB_NOT_READY);
        return;
    }
    if (qid > s->n_queues || !s->queues[qid].live) {
        hc1_reg_error(s, addr, val, HC1_ERR_DB_BAD_QUEUE);
        return;
    }
    q = &s->queues[qid];
    if (val >= (is_cq ? q->cq_size : q->sq_size)) {
        hc1_reg_error(s, addr, val, HC1_ERR_DB_BAD_VALUE);
        return;
    }
    if (is_cq) {
        /* The new head may only move over entries the device posted. */
        if ((val + q->cq_size - q->cq_head) % q->cq_size > hc1_cq_used(q)) {
            hc1_reg_error(s, addr, val, HC1_ERR_DB_BAD_VALUE);
            return;
        }
        trace_hc1_doorbell_cq(qid, val);
        q->cq_head = val;
    } else {
        trace_hc1_doorbell_sq(qid, val);
        q->sq_tail = val;
    }
    qemu_bh_schedule(s->bh);
}

/* ------------------------------------------------------------ registers */

static uint64_t hc1_mmio_read(void *opaque, hwaddr addr, unsigned size)
{
    HC1State *s = opaque;
    uint64_t val = 0;

    if (s->vanished) {
        return UINT32_MAX;
    }
    switch (addr) {
    case HC1_REG_ID:
        val = HC1_ID_MAGIC;
        break;
    case HC1_REG_VERSION:
        val = HC1_HW_VERSION;
        break;
    case HC1_REG_CAP:
        val = (s->max_entries - 1) |
              (s->n_queues << HC1_CAP_NQ_SHIFT) |
              ((uint32_t)HC1_CAP_TIMEOUT << HC1_CAP_TO_SHIFT);
        break;
    case HC1_REG_FEATURES:
        val = hc1_features(s);
        break;
    case HC1_REG_CC:
        val = s->cc;
        break;
    case HC1_REG_CSTS:
        val = s->csts;
        break;
    case HC1_REG_AQA:
        val = s->aqa;
        break;
    case HC1_REG_INTC:
        val = s->intc;
        break;
    case HC1_REG_ASQ:
        val = (uint32_t)s->asq;
        break;
    case HC1_REG_ASQ + 4:
        val = s->asq >> 32;
        break;
    case HC1_REG_ACQ:
        val = (uint32_t)s->acq;
        break;
    case HC1_REG_ACQ + 4:
        val = s->acq >> 32;
        break;
    case HC1_REG_ERRCNT:
        val = s->errcnt;
        break;
    case HC1_REG_LASTERR:
        val = s->lasterr;
        break;
    case HC1_REG_NCTX:
        val = s->n_contexts;
        break;
    case HC1_REG_TEST:
        val = s->test;
        break;
    default:
        /* Doorbells are write-only; holes read as zero. */
        break;
    }
    trace_hc1_mmio_read(addr, val);
    return val;
}

static void hc1_write_test(HC1State *s, hwaddr addr, uint32_t val)
{
    if (!s->fault_inject) {
        hc1_reg_error(s, addr, val, HC1_ERR_RO_REGISTER);
        return;
    }
    /* FATAL acts once, at the write; the other bits are modes. */
    s->test = val & HC1_TEST_MASK & ~HC1_TEST_FATAL;
    hc1_apply_engine_faults(s);
    if (val & HC1_TEST_FATAL) {
        hc1_fatal(s, HC1_FATAL_INJECTED);
    }
    if (!(s->test & HC1_TEST_DELAY_CQE) && !g_queue_is_empty(&s->held_cqes)) {
        timer_del(s->delay_timer);
        s->held_due = true;
        qemu_bh_schedule(s->bh);
    }
}

static void hc1_write_config(HC1State *s, hwaddr addr, uint32_t val)
{
    if (s->cc & HC1_CC_EN) {
        hc1_reg_error(s, addr, val, HC1_ERR_CONFIG_WHILE_ENABLED);
        return;
    }
    switch (addr) {
    case HC1_REG_AQA:
        s->aqa = val;
        break;
    case HC1_REG_ASQ:
        s->asq = deposit64(s->asq, 0, 32, val);
        break;
    case HC1_REG_ASQ + 4:
        s->asq = deposit64(s->asq, 32, 32, val);
        break;
    case HC1_REG_ACQ:
        s->acq = deposit64(s->acq, 0, 32, val);
        break;
    case HC1_REG_ACQ + 4:
        s->acq = deposit64(s->acq, 32, 32, val);
        break;
    }
}

static void hc1_mmio_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    HC1State *s = opaque;

    trace_hc1_mmio_write(addr, val);
    if (s->vanished) {
        return;
    }
    switch (addr) {
    case HC1_REG_CC:
        if ((val & HC1_CC_EN) && !(s->cc & HC1_CC_EN)) {
            s->cc = val & HC1_CC_EN;
            hc1_enable(s);
        } else if (!(val & HC1_CC_EN) &&
                   !((s->test & HC1_TEST_STUCK_EN) && (s->cc & HC1_CC_EN))) {
            /* EN 1->0 resets; EN 0 again also clears a fatal state. */
            hc1_controller_reset(s);
        }
        break;
    case HC1_REG_AQA:
    case HC1_REG_ASQ:
    case HC1_REG_ASQ + 4:
    case HC1_REG_ACQ:
    case HC1_REG_ACQ + 4:
        hc1_write_config(s, addr, val);
        break;
    case HC1_REG_INTC:
        s->intc = val;
        break;
    case HC1_REG_TEST:
        hc1_write_test(s, addr, val);
        break;
    case HC1_REG_ID:
    case HC1_REG_VERSION:
    case HC1_REG_CAP:
    case HC1_REG_FEATURES:
    case HC1_REG_CSTS:
    case HC1_REG_ERRCNT:
    case HC1_REG_LASTERR:
    case HC1_REG_NCTX:
        hc1_reg_error(s, addr, val, HC1_ERR_RO_REGISTER);
        break;
    default:
        if (addr >= HC1_REG_DB_BASE) {
            hc1_doorbell(s, addr, val);
        } else {
            hc1_reg_error(s, addr, val, HC1_ERR_BAD_OFFSET);
        }
        break;
    }
}

static const MemoryRegionOps hc1_mmio_ops = {
    .read = hc1_mmio_read,
    .write = hc1_mmio_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    /* 64-bit registers are accessed as two 32-bit halves. */
    .valid = {
        .min_access_size = 4,
        .max_access_size = 8,
    },
    .impl = {
        .min_access_size = 4,
        .max_access_size = 4,
    },
};

/* ------------------------------------------------------------ lifecycle */

static uint32_t hc1_default_intc(HC1State *s)
{
    return (s->coalesce_tokens & HC1_INTC_TOKENS_MASK) |
           (s->coalesce_usecs << HC1_INTC_USECS_SHIFT);
}

static void hc1_reset(DeviceState *dev)
{
    HC1State *s = HC1(dev);

    s->test = 0;
    hc1_controller_reset(s);
    s->cc = 0;
    s->aqa = 0;
    s->asq = 0;
    s->acq = 0;
    s->errcnt = 0;
    s->lasterr = HC1_ERR_NONE;
    s->intc = hc1_default_intc(s);
}

/*
 * Without a 'model' property the card burns in the model this project ships
 * (models/ in the repository), which build-qemu.sh installs among QEMU's data
 * files like an option ROM.  Said out loud: a card whose model nobody chose
 * must not pass for one whose model somebody did.
 */
static bool hc1_default_model(HC1State *s, Error **errp)
{
    g_autofree char *model = qemu_find_file(QEMU_FILE_TYPE_BIOS,
                                            HC1_DEFAULT_MODEL);
    g_autofree char *tok = qemu_find_file(QEMU_FILE_TYPE_BIOS,
                                          HC1_DEFAULT_TOKENIZER);

    if (!model || !tok) {
        error_setg(errp, "hc1: no 'model' given and the default model "
                   "%s is not among QEMU's data files (-L); give "
                   "model=FILE (a llama2.c checkpoint or GGUF file)",
                   HC1_DEFAULT_MODEL);
        return false;
    }
    info_report("hc1: no 'model' given: burning in the default %s", model);
    s->model_path = g_steal_pointer(&model);
    g_free(s->tokenizer_path);
    s->tokenizer_path = g_steal_pointer(&tok);
    return true;
}

static bool hc1_check_props(HC1State *s, int *format, int *kv_format,
                            Error **errp)
{
    if ((!s->model_path || !*s->model_path) && !hc1_default_model(s, errp)) {
        return false;
    }
    if (!s->format || !strcmp(s->format, "fp32")) {
        *format = HC1_ENGINE_FP32;
    } else if (!strcmp(s->format, "int8")) {
        *format = HC1_ENGINE_INT8;
    } else {
        error_setg(errp, "hc1: format '%s' is not 'fp32' or 'int8'",
                   s->format);
        return false;
    }
    if (!s->kv_format || !strcmp(s->kv_format, "f32")) {
        *kv_format = HC1_ENGINE_KV_F32;
    } else if (!strcmp(s->kv_format, "f16")) {
        *kv_format = HC1_ENGINE_KV_F16;
    } else if (!strcmp(s->kv_format, "int8")) {
        *kv_format = HC1_ENGINE_KV_INT8;
    } else {
        error_setg(errp, "hc1: kv-format '%s' is not 'f32', 'f16' or 'int8'",
                   s->kv_format);
        return false;
    }
    if (s->n_contexts < 1 || s->n_contexts > 65536) {
        error_setg(errp, "hc1: contexts must be 1..65536");
        return false;
    }
    if (s->n_queues < 1 || s->n_queues > HC1_MAX_QUEUES) {
        error_setg(errp, "hc1: queues must be 1..%d", HC1_MAX_QUEUES);
        return false;
    }
    if (s->max_entries < 2 || s->max_entries > HC1_MAX_QUEUE_ENTRIES) {
        error_setg(errp, "hc1: queue-entries must be 2..%d",
                   HC1_MAX_QUEUE_ENTRIES);
        return false;
    }
    if (s->n_threads < 1 || s->n_threads > 256) {
        error_setg(errp, "hc1: threads must be 1..256");
        return false;
    }
    if (s->coalesce_tokens > 0xffff || s->coalesce_usecs > 0xffff) {
        error_setg(errp, "hc1: coalesce-tokens and coalesce-usecs must "
                   "be 0..65535");
        return false;
    }
    return true;
}

/* The READ_VOCAB blob: struct hc1_vocab_header, then packed entries. */
static void hc1_build_vocab(HC1State *s)
{
    GByteArray *blob = g_byte_array_new();
    struct hc1_vocab_header hdr = {
        .magic = cpu_to_le32(HC1_VOCAB_MAGIC),
        .n_tokens = cpu_to_le32(s->info.vocab_size),
        .max_token_len = 0,
    };
    uint32_t max_len = 0;
    uint32_t id;

    g_byte_array_append(blob, (const guint8 *)&hdr, sizeof(hdr));
    for (id = 0; id < s->info.vocab_size; id++) {
        uint32_t len = 0;
        float score = 0;
        const char *piece = hc1_engine_token(s->engine, id, &len, &score);
        uint32_t entry[2];

        if (!piece) {
            len = 0;
        }
        memcpy(&entry[0], &score, sizeof(score));
        entry[0] = cpu_to_le32(entry[0]);
        entry[1] = cpu_to_le32(len);
        g_byte_array_append(blob, (const guint8 *)entry, sizeof(entry));
        g_byte_array_append(blob, (const guint8 *)piece, len);
        max_len = MAX(max_len, len);
    }
    ((struct hc1_vocab_header *)blob->data)->max_token_len =
        cpu_to_le32(max_len);
    s->vocab_bytes = blob->len;
    s->vocab = g_byte_array_free(blob, false);
}

static void hc1_realize(PCIDevice *pci, Error **errp)
{
    HC1State *s = HC1(pci);
    struct hc1_engine_config cfg = { 0 };
    char err[256] = "";
    int format, kv_format;
    uint32_t i;

    if (!hc1_check_props(s, &format, &kv_format, errp)) {
        return;
    }

    pci_config_set_prog_interface(pci->config, HC1_PCI_CLASS & 0xff);
    memory_region_init_io(&s->mmio, OBJECT(s), &hc1_mmio_ops, s, "hc1-regs",
                          HC1_BAR0_SIZE);
    pci_register_bar(pci, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->mmio);
    if (pci_is_express(pci) && pcie_endpoint_cap_init(pci, 0x80) < 0) {
        error_setg(errp, "hc1: cannot add the PCIe capability");
        return;
    }
    if (msix_init_exclusive_bar(pci, hc1_nvectors(s), HC1_MSIX_BAR, errp)) {
        return;
    }

    cfg.model_path = s->model_path;
    cfg.tokenizer_path = s->tokenizer_path;
    cfg.format = format;
    cfg.n_contexts = s->n_contexts;
    cfg.n_threads = s->n_threads;
    cfg.cpus = s->engine_cpus;
    cfg.kv_format = kv_format;
    s->engine = hc1_engine_open(&cfg, err, sizeof(err));
    if (!s->engine) {
        error_setg(errp, "hc1: cannot load model '%s': %s", s->model_path,
                   err[0] ? err : "unknown error");
        msix_uninit_exclusive_bar(pci);
        return;
    }
    hc1_engine_get_info(s->engine, &s->info);
    hc1_build_vocab(s);

    /* msix_notify() ignores vectors that are not in use. */
    for (i = 0; i < hc1_nvectors(s); i++) {
        msix_vector_use(pci, i);
    }
    s->engine_cb.token = hc1_on_token;
    s->engine_cb.done = hc1_on_done;
    s->engine_cb.opaque = s;
    qemu_mutex_init(&s->lock);
    g_queue_init(&s->held_cqes);
    s->bh = qemu_bh_new_guarded(hc1_bh, s,
                                &DEVICE(pci)->mem_reentrancy_guard);
    s->delay_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, hc1_delay_timer, s);
    s->ready_timer = timer_new_ns(QEMU_CLOCK_VIRTUAL, hc1_ready_timer, s);
    /* Host time: it paces the emulation, not anything the guest sees. */
    s->drain_timer = timer_new_ns(QEMU_CLOCK_REALTIME, hc1_drain_timer, s);
    s->queues = g_new0(HC1Queue, s->n_queues + 1);
    for (i = 0; i <= s->n_queues; i++) {
        s->queues[i].dev = s;
        s->queues[i].qid = i;
        s->queues[i].coalesce_timer =
            timer_new_ns(QEMU_CLOCK_VIRTUAL, hc1_coalesce_timer,
                         &s->queues[i]);
    }
    s->ctxs = g_new0(HC1Context, s->n_contexts);
    for (i = 0; i < s->n_contexts; i++) {
        s->ctxs[i].pending = g_array_new(false, false, sizeof(uint32_t));
    }
    s->intc = hc1_default_intc(s);
}

static void hc1_exit(PCIDevice *pci)
{
    HC1State *s = HC1(pci);
    uint32_t i;

    /* Joins the engine threads: no callback runs after this. */
    hc1_engine_close(s->engine);
    s->engine = NULL;
    msix_unuse_all_vectors(pci);
    msix_uninit_exclusive_bar(pci);
    qemu_bh_delete(s->bh);
    timer_free(s->delay_timer);
    timer_free(s->ready_timer);
    timer_free(s->drain_timer);
    hc1_free_held_cqes(s);
    for (i = 0; i <= s->n_queues; i++) {
        timer_free(s->queues[i].coalesce_timer);
    }
    for (i = 0; i < s->n_contexts; i++) {
        g_array_free(s->ctxs[i].pending, true);
    }
    g_free(s->queues);
    g_free(s->ctxs);
    g_free(s->vocab);
    qemu_mutex_destroy(&s->lock);
}

static uint32_t hc1_config_read(PCIDevice *pci, uint32_t addr, int len)
{
    if (HC1(pci)->vanished) {
        return len == 4 ? UINT32_MAX : (1u << (8 * len)) - 1;
    }
    return pci_default_read_config(pci, addr, len);
}

static void hc1_config_write(PCIDevice *pci, uint32_t addr, uint32_t val,
                             int len)
{
    if (!HC1(pci)->vanished) {
        pci_default_write_config(pci, addr, val, len);
    }
}

static bool hc1_get_vanished(Object *obj, Error **errp)
{
    return HC1(obj)->vanished;
}

/* One way: a card that fell off the bus only comes back by hotplug. */
static void hc1_set_vanished(Object *obj, bool value, Error **errp)
{
    HC1State *s = HC1(obj);
    uint32_t i;

    if (s->vanished == value) {
        return;
    }
    if (!value) {
        error_setg(errp, "hc1: a vanished card cannot come back; "
                   "device_del it and add a new one");
        return;
    }
    if (!s->engine) {
        error_setg(errp, "hc1: the card is not realized");
        return;
    }
    trace_hc1_vanish();
    s->vanished = true;
    for (i = 0; i < s->n_contexts; i++) {
        if (s->ctxs[i].state == HC1_CTX_RUNNING) {
            hc1_engine_cancel(s->engine, i);
        }
    }
}

static void hc1_instance_init(Object *obj)
{
    object_property_add_bool(obj, "vanished", hc1_get_vanished,
                             hc1_set_vanished);
}

static const VMStateDescription vmstate_hc1 = {
    .name = "hc1",
    /* The engine's KV caches and threads are not migratable. */
    .unmigratable = 1,
};

static Property hc1_properties[] = {
    DEFINE_PROP_STRING("model", HC1State, model_path),
    DEFINE_PROP_STRING("tokenizer", HC1State, tokenizer_path),
    DEFINE_PROP_STRING("format", HC1State, format),
    DEFINE_PROP_STRING("kv-format", HC1State, kv_format),
    DEFINE_PROP_UINT32("contexts", HC1State, n_contexts, 64),
    DEFINE_PROP_UINT32("queues", HC1State, n_queues, 8),
    DEFINE_PROP_UINT32("queue-entries", HC1State, max_entries, 1024),
    DEFINE_PROP_UINT32("threads", HC1State, n_threads, 1),
    DEFINE_PROP_STRING("engine-cpus", HC1State, engine_cpus),
    DEFINE_PROP_UINT32("coalesce-tokens", HC1State, coalesce_tokens, 32),
    DEFINE_PROP_UINT32("coalesce-usecs", HC1State, coalesce_usecs, 16000),
    DEFINE_PROP_BOOL("fault-inject", HC1State, fault_inject, false),
#ifdef HC1_PROPS_TERMINATED
    DEFINE_PROP_END_OF_LIST(),
#endif
};

static void hc1_class_init(ObjectClass *klass, HC1_CLASS_DATA data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = hc1_realize;
    k->exit = hc1_exit;
    k->config_read = hc1_config_read;
    k->config_write = hc1_config_write;
    k->vendor_id = HC1_PCI_VENDOR_ID;
    k->device_id = HC1_PCI_DEVICE_ID;
    k->subsystem_vendor_id = HC1_PCI_SUBSYS_VENDOR_ID;
    k->subsystem_id = HC1_PCI_SUBSYS_ID;
    k->revision = HC1_PCI_REVISION;
    k->class_id = HC1_PCI_CLASS >> 8;
    dc->desc = "HC1 inference card";
    dc->vmsd = &vmstate_hc1;
#if QEMU_VERSION_MAJOR >= 9
    device_class_set_legacy_reset(dc, hc1_reset);
#else
    dc->reset = hc1_reset;
#endif
    device_class_set_props(dc, hc1_properties);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
}

static const TypeInfo hc1_info = {
    .name = TYPE_HC1,
    .parent = TYPE_PCI_DEVICE,
    .instance_size = sizeof(HC1State),
    .instance_init = hc1_instance_init,
    .class_init = hc1_class_init,
    .interfaces = (InterfaceInfo[]) {
        { INTERFACE_PCIE_DEVICE },
        { },
    },
};

static void hc1_register_types(void)
{
    type_register_static(&hc1_info);
}

type_init(hc1_register_types)
