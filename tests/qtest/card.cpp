#include "card.h"

#include <cstring>
#include <stdexcept>
#include <thread>

namespace hc1test {

namespace {

constexpr uint16_t kCfgAddr = 0xcf8;
constexpr uint16_t kCfgData = 0xcfc;
constexpr uint8_t kCapMsix = 0x11;

} // namespace

Card::Card(const std::string& qemu, const std::string& model_dir, const CardOptions& opt) {
    std::string model =
        opt.default_model
            ? std::string()
            : ",model=" + model_dir + "/stories260K.bin,tokenizer=" + model_dir + "/tok512.bin";
    std::string dev = "hc1,id=hc1" + model + ",contexts=" + std::to_string(opt.contexts) +
                      ",queues=" + std::to_string(opt.queues) +
                      ",queue-entries=" + std::to_string(opt.queue_entries) +
                      ",threads=" + std::to_string(opt.threads) +
                      ",fault-inject=" + (opt.fault_inject ? "on" : "off") + opt.extra;
    std::string bios = qemu.substr(0, qemu.rfind('/') + 1) + "pc-bios";
    std::vector<std::string> args{"-M", "q35", "-m", "256M", "-L", bios, "-device", dev};
    args.insert(args.end(), opt.qemu_args.begin(), opt.qemu_args.end());
    qt_ = std::make_unique<Qtest>(qemu, args);
    queues_.resize(opt.queues + 1);
    reattach();
}

void Card::reattach() {
    find_device();
    setup_msix();
    for (auto& q : queues_)
        q = Queue{};
}

uint32_t Card::cfg_addr(uint8_t off) const {
    return 0x80000000u | (uint32_t(devfn_) << 8) | (off & 0xfc);
}

uint32_t Card::cfg_read32(uint8_t off) {
    qt_->outl(kCfgAddr, cfg_addr(off));
    return qt_->inl(kCfgData);
}

void Card::cfg_write32(uint8_t off, uint32_t val) {
    qt_->outl(kCfgAddr, cfg_addr(off));
    qt_->outl(kCfgData, val);
}

uint16_t Card::cfg_read16(uint8_t off) {
    qt_->outl(kCfgAddr, cfg_addr(off));
    return qt_->inw(kCfgData + (off & 2));
}

void Card::cfg_write16(uint8_t off, uint16_t val) {
    qt_->outl(kCfgAddr, cfg_addr(off));
    qt_->outw(kCfgData + (off & 2), val);
}

void Card::find_device() {
    for (unsigned slot = 0; slot < 32; slot++) {
        devfn_ = slot << 3;
        uint32_t id = cfg_read32(0);
        if (id == (uint32_t(HC1_PCI_DEVICE_ID) << 16 | HC1_PCI_VENDOR_ID)) {
            cfg_write32(0x10, uint32_t(kBar0));
            cfg_write32(0x10 + 4 * 4, uint32_t(kMsixBar));
            // Memory space + bus mastering.
            cfg_write16(0x04, cfg_read16(0x04) | 0x6);
            return;
        }
    }
    throw std::runtime_error("hc1 not found on bus 0");
}

void Card::setup_msix() {
    uint8_t cap = cfg_read32(0x34) & 0xff;
    while (cap) {
        uint32_t hdr = cfg_read32(cap);
        if ((hdr & 0xff) == kCapMsix)
            break;
        cap = (hdr >> 8) & 0xff;
    }
    if (!cap)
        throw std::runtime_error("hc1 has no MSI-X capability");
    uint16_t ctrl = cfg_read16(cap + 2);
    nvectors_ = (ctrl & 0x7ff) + 1;
    uint32_t table = cfg_read32(cap + 4);
    if ((table & 7) != 4)
        throw std::runtime_error("MSI-X table not in BAR4");
    uint64_t base = kMsixBar + (table & ~7u);
    // Each vector writes its number + 0x100 into guest RAM: visible to us.
    for (uint16_t v = 0; v < nvectors_; v++) {
        qt_->writel(base + 16 * v + 0, uint32_t(kMsiArea + 4 * v));
        qt_->writel(base + 16 * v + 4, 0);
        qt_->writel(base + 16 * v + 8, 0x100 + v);
        qt_->writel(base + 16 * v + 12, 0);
    }
    cfg_write16(cap + 2, (ctrl | 0x8000) & ~0x4000);
}

uint32_t Card::enable(uint32_t entries) {
    qt_->memset(kAdminSq, 4096, 0);
    qt_->memset(kAdminCq, 4096, 0);
    set_reg(HC1_REG_AQA, (entries - 1) | ((entries - 1) << HC1_AQA_ACQS_SHIFT));
    set_reg(HC1_REG_ASQ, uint32_t(kAdminSq));
    set_reg(HC1_REG_ASQ + 4, 0);
    set_reg(HC1_REG_ACQ, uint32_t(kAdminCq));
    set_reg(HC1_REG_ACQ + 4, 0);
    queues_[0] = Queue{kAdminSq, kAdminCq, entries, entries, 0, 0, 1};
    set_reg(HC1_REG_CC, HC1_CC_EN);
    return reg(HC1_REG_CSTS);
}

void Card::disable() {
    set_reg(HC1_REG_CC, 0);
    for (auto& q : queues_)
        q = Queue{};
}

void Card::ring_sq(uint16_t qid, uint32_t tail) {
    set_reg(HC1_REG_SQ_TAIL_DB(qid), tail);
}

void Card::submit(uint16_t qid, const hc1_sqe& sqe_in) {
    Queue& q = queues_.at(qid);
    hc1_sqe sqe = sqe_in;
    if (!sqe.c.cid) {
        sqe.c.cid = next_cid_++;
        if (!next_cid_)
            next_cid_ = 1;
    }
    qt_->write_obj(q.sq + uint64_t(q.sq_tail) * HC1_SQE_SIZE, sqe);
    q.sq_tail = (q.sq_tail + 1) % q.sq_entries;
    ring_sq(qid, q.sq_tail);
}

std::optional<hc1_cqe> Card::poll_cqe(uint16_t qid, std::chrono::milliseconds timeout) {
    Queue& q = queues_.at(qid);
    uint64_t addr = q.cq + uint64_t(q.cq_head) * HC1_CQE_SIZE;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto cqe = qt_->read_obj<hc1_cqe>(addr);
        if ((cqe.status & HC1_CQE_PHASE) == q.phase) {
            if (++q.cq_head == q.cq_entries) {
                q.cq_head = 0;
                q.phase ^= 1;
            }
            set_reg(HC1_REG_CQ_HEAD_DB(qid), q.cq_head);
            return cqe;
        }
        if (std::chrono::steady_clock::now() > deadline)
            return std::nullopt;
        // Timers need virtual time; the engine and bottom halves run in
        // real time.
        qt_->clock_step(20000);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

hc1_cqe Card::admin(const hc1_sqe& sqe) {
    return io(HC1_ADMIN_QID, sqe);
}

hc1_cqe Card::io(uint16_t qid, const hc1_sqe& sqe) {
    submit(qid, sqe);
    auto cqe = poll_cqe(qid);
    if (!cqe)
        throw std::runtime_error("no completion on queue " + std::to_string(qid));
    return *cqe;
}

hc1_cqe Card::identify(hc1_model_card& card, uint64_t addr) {
    hc1_sqe sqe{};
    sqe.data.c.opcode = HC1_OP_IDENTIFY;
    sqe.data.addr = addr;
    sqe.data.len = HC1_IDENTIFY_SIZE;
    qt_->memset(addr < kOutsideRam ? addr : kData, HC1_IDENTIFY_SIZE, 0xee);
    auto cqe = admin(sqe);
    if (status(cqe) == HC1_SC_SUCCESS)
        card = qt_->read_obj<hc1_model_card>(addr);
    return cqe;
}

std::vector<uint8_t> Card::read_vocab(uint32_t total) {
    std::vector<uint8_t> blob;
    constexpr uint32_t chunk = 4096;
    for (uint32_t off = 0; off < total; off += chunk) {
        uint32_t len = std::min(chunk, total - off);
        hc1_sqe sqe{};
        sqe.data.c.opcode = HC1_OP_READ_VOCAB;
        sqe.data.addr = kData;
        sqe.data.len = len;
        sqe.data.offset = off;
        auto cqe = admin(sqe);
        if (status(cqe))
            throw std::runtime_error("READ_VOCAB failed: " + std::to_string(status(cqe)));
        auto part = qt_->read(kData, len);
        blob.insert(blob.end(), part.begin(), part.end());
    }
    return blob;
}

hc1_cqe Card::create_ioq(uint16_t qid, uint32_t entries, uint16_t vector, uint8_t flags) {
    uint64_t sq = kIoqBase + qid * kIoqStride, cq = sq + 0x8000;
    qt_->memset(sq, entries * HC1_SQE_SIZE, 0);
    qt_->memset(cq, entries * HC1_CQE_SIZE, 0);
    hc1_sqe sqe{};
    sqe.ioq.c.opcode = HC1_OP_CREATE_IOQ;
    sqe.ioq.c.flags = flags;
    sqe.ioq.c.ctx = qid;
    sqe.ioq.sq_addr = sq;
    sqe.ioq.cq_addr = cq;
    sqe.ioq.qsize = entries - 1;
    sqe.ioq.vector = vector == 0xffff ? qid : vector;
    auto cqe = admin(sqe);
    if (status(cqe) == HC1_SC_SUCCESS && qid < queues_.size())
        queues_[qid] = Queue{sq, cq, entries, entries, 0, 0, 1};
    return cqe;
}

hc1_cqe Card::delete_ioq(uint16_t qid) {
    hc1_sqe sqe{};
    sqe.c.opcode = HC1_OP_DELETE_IOQ;
    sqe.c.ctx = qid;
    auto cqe = admin(sqe);
    if (status(cqe) == HC1_SC_SUCCESS)
        queues_[qid] = Queue{};
    return cqe;
}

hc1_cqe Card::get_stats(hc1_stats& st) {
    hc1_sqe sqe{};
    sqe.data.c.opcode = HC1_OP_GET_STATS;
    sqe.data.addr = kData;
    sqe.data.len = sizeof(hc1_stats);
    auto cqe = admin(sqe);
    st = qt_->read_obj<hc1_stats>(kData);
    return cqe;
}

static hc1_sqe ctx_sqe(uint8_t op, uint32_t ctx) {
    hc1_sqe sqe{};
    sqe.c.opcode = op;
    sqe.c.ctx = ctx;
    return sqe;
}

hc1_cqe Card::create_ctx(uint16_t qid, uint32_t ctx) {
    return io(qid, ctx_sqe(HC1_OP_CREATE_CTX, ctx));
}

hc1_cqe Card::destroy_ctx(uint16_t qid, uint32_t ctx) {
    return io(qid, ctx_sqe(HC1_OP_DESTROY_CTX, ctx));
}

hc1_cqe Card::cancel(uint16_t qid, uint32_t ctx) {
    return io(qid, ctx_sqe(HC1_OP_CANCEL, ctx));
}

hc1_sqe Card::generate_sqe(uint32_t ctx, const std::vector<uint32_t>& prompt, uint32_t max_tokens,
                           uint8_t ring_shift) {
    hc1_sqe sqe{};
    sqe.gen.c.opcode = HC1_OP_GENERATE;
    sqe.gen.c.ctx = ctx;
    sqe.gen.prompt_addr = kPrompts + ctx * 0x1000ull;
    sqe.gen.ring_addr = kRings + ctx * kRingStride;
    sqe.gen.n_prompt = prompt.size();
    sqe.gen.max_tokens = max_tokens;
    sqe.gen.ring_shift = ring_shift;
    for (auto& s : sqe.gen.stop)
        s = HC1_TOKEN_NONE;
    return sqe;
}

void Card::start_generate(uint16_t qid, const hc1_sqe& sqe, const std::vector<uint32_t>& prompt) {
    if (!prompt.empty() && sqe.gen.prompt_addr < kOutsideRam)
        qt_->write(sqe.gen.prompt_addr,
                   {reinterpret_cast<const uint8_t*>(prompt.data()), prompt.size() * 4});
    if (sqe.gen.ring_addr < kOutsideRam)
        qt_->memset(sqe.gen.ring_addr, 64, 0xcc);
    submit(qid, sqe);
}

hc1_ring_header Card::ring_header(uint32_t ctx) {
    return qt_->read_obj<hc1_ring_header>(kRings + ctx * kRingStride);
}

Generation Card::collect(uint32_t ctx, const hc1_cqe& cqe, uint8_t ring_shift) {
    Generation g;
    g.cqe = cqe;
    g.header = ring_header(ctx);
    uint32_t n = std::min<uint32_t>(g.header.produced, 1u << ring_shift);
    auto bytes = qt_->read(kRings + ctx * kRingStride + 64, n * 4ull);
    g.tokens.resize(n);
    if (n)
        std::memcpy(g.tokens.data(), bytes.data(), n * 4ull);
    return g;
}

Generation Card::generate(uint16_t qid, uint32_t ctx, const std::vector<uint32_t>& prompt,
                          uint32_t max_tokens) {
    start_generate(qid, generate_sqe(ctx, prompt, max_tokens), prompt);
    auto cqe = poll_cqe(qid);
    if (!cqe)
        throw std::runtime_error("GENERATE did not complete");
    return collect(ctx, *cqe);
}

} // namespace hc1test
