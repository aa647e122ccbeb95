// Device fuzzer for the hc1 QEMU device, through qtest (no guest kernel):
// random register writes and reads, doorbells, random SQEs pointing at
// random guest addresses (RAM, the card's own BAR, MSI-X table, outside
// RAM, straddling the end of RAM), random bytes over the queues, prompts
// and rings, fault-injection modes and virtual-clock steps.  Afterwards the
// card is reset and must generate exactly what it generated before.
//
//   qtest-hc1-fuzz [OPERATIONS [SEED]]      (default 20000)
//
// Environment as qtest-hc1: HC1_QEMU, HC1_MODEL_DIR.  Run against a QEMU
// built with HC1_QEMU_SANITIZE=1 (qemu-device/build-qemu.sh) the harness
// (tools/stress/run.sh) also greps QEMU's stderr for sanitizer reports.
// Prints one "device-fuzz:" line of figures; exit 0 only if the card still
// works and QEMU survived.
#include "card.h"

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace hc1test;

namespace {

constexpr uint64_t kRamSize = 256ull << 20;
constexpr uint32_t kQueues = 4;
constexpr uint32_t kEntries = 64;
constexpr uint32_t kContexts = 8;
const std::vector<uint32_t> kPrompt = {1, 403, 407, 261, 378};

struct Fuzzer {
    Card& card;
    std::mt19937_64 rng;
    std::array<uint32_t, kQueues + 1> tail{};
    std::array<uint32_t, kQueues + 1> size{};
    uint64_t ops = 0, reg_writes = 0, reg_reads = 0, sqes = 0, doorbells = 0, mem_writes = 0,
             clock_steps = 0, faults = 0, resets = 0, setup_fail = 0;

    uint64_t r64() { return rng(); }
    uint32_t below(uint64_t n) { return n ? uint32_t(rng() % n) : 0; }
    bool one_in(uint32_t n) { return below(n) == 0; }

    uint32_t edgy(uint32_t limit) {
        switch (below(8)) {
        case 0:
            return 0;
        case 1:
            return limit;
        case 2:
            return limit + 1;
        case 3:
            return limit ? limit - 1 : 0;
        case 4:
            return UINT32_MAX - below(4);
        case 5:
            return 1u << below(32);
        default:
            return below(uint64_t(limit) + 2);
        }
    }

    uint64_t address(uint64_t len) {
        switch (below(14)) {
        case 0:
            return 0;
        case 1:
            return kOutsideRam + below(1 << 20);
        case 2:
            return kRamSize - (len > 1 ? len / 2 : 1); // straddles the end
        case 3:
            return kBar0 + below(HC1_BAR0_SIZE); // the card itself
        case 4:
            return kMsixBar + below(4096);
        case 5:
            return 0xfee00000 + below(4096); // MSI window
        case 6:
            return r64();
        case 7:
            return kAdminSq + below(2) * 0x1000; // queues themselves
        case 8:
            return kIoqBase + below(kQueues + 1) * kIoqStride + below(0x9000);
        case 9:
            return below(kRamSize);
        default:
            return (below(2) ? kRings + below(kContexts) * kRingStride : kData + below(64) * 4096) &
                   ~63ull;
        }
    }

    uint64_t queue_sq(uint32_t qid) { return qid ? kIoqBase + qid * kIoqStride : kAdminSq; }

    // A proper bring-up, so that fuzzed commands reach the I/O paths too.
    void setup() {
        resets++;
        card.set_reg(HC1_REG_TEST, 0);
        card.disable();
        tail.fill(0);
        size.fill(0);
        try {
            if (!(card.enable(16) & HC1_CSTS_RDY))
                throw std::runtime_error("not ready");
            size[0] = 16;
            for (uint32_t q = 1; q <= kQueues; q++)
                if (Card::status(card.create_ioq(q, kEntries, q, below(4) ? 0 : HC1_QF_NO_IRQ)) ==
                    HC1_SC_SUCCESS)
                    size[q] = kEntries;
            // The card's own cid/tail bookkeeping is now ours.
            tail[0] = kQueues % 16;
        } catch (const std::exception&) {
            setup_fail++;
        }
    }

    hc1_sqe random_sqe() {
        hc1_sqe sqe{};
        static const uint8_t ops[] = {HC1_OP_IDENTIFY,    HC1_OP_READ_VOCAB, HC1_OP_CREATE_IOQ,
                                      HC1_OP_DELETE_IOQ,  HC1_OP_GET_STATS,  HC1_OP_CREATE_CTX,
                                      HC1_OP_DESTROY_CTX, HC1_OP_GENERATE,   HC1_OP_CANCEL};
        if (one_in(8)) {
            for (auto& b : sqe.bytes)
                b = uint8_t(r64());
            return sqe;
        }
        sqe.c.opcode = one_in(16) ? uint8_t(r64()) : ops[below(sizeof(ops))];
        sqe.c.flags = one_in(4) ? uint8_t(r64()) : 0;
        sqe.c.cid = uint16_t(r64());
        sqe.c.ctx = one_in(4) ? edgy(kContexts) : below(kContexts);
        switch (sqe.c.opcode) {
        case HC1_OP_CREATE_IOQ:
            sqe.ioq.c.ctx = edgy(kQueues);
            sqe.ioq.sq_addr = one_in(2) ? address(4096) : (address(4096) & ~4095ull);
            sqe.ioq.cq_addr = one_in(2) ? address(4096) : (address(4096) & ~4095ull);
            sqe.ioq.qsize = uint16_t(edgy(kEntries));
            sqe.ioq.vector = uint16_t(edgy(kQueues + 1));
            break;
        case HC1_OP_GENERATE:
            sqe.gen.prompt_addr = address(64);
            sqe.gen.ring_addr = address(4096);
            sqe.gen.n_prompt = one_in(3) ? edgy(512) : 1 + below(8);
            sqe.gen.max_tokens = one_in(3) ? edgy(1u << 9) : 1 + below(16);
            sqe.gen.temperature_milli = uint16_t(r64());
            sqe.gen.top_p_milli = uint16_t(edgy(1000));
            sqe.gen.top_k = uint16_t(edgy(512));
            sqe.gen.ring_shift = uint8_t(one_in(3) ? r64() : 4 + below(6));
            sqe.gen.rsvd = one_in(8) ? uint8_t(r64()) : 0;
            sqe.gen.seed = r64();
            for (auto& s : sqe.gen.stop)
                s = one_in(2) ? HC1_TOKEN_NONE : edgy(512);
            break;
        default:
            sqe.data.addr = address(4096);
            sqe.data.len = edgy(one_in(2) ? 4096 : 8192);
            sqe.data.offset = edgy(6000);
            if (one_in(8))
                sqe.data.rsvd[below(10)] = uint32_t(r64());
            break;
        }
        return sqe;
    }

    void submit_random() {
        uint32_t qid = one_in(8) ? below(kQueues + 3) : below(kQueues + 1);
        if (qid > kQueues || !size[qid]) {
            card.set_reg(HC1_REG_SQ_TAIL_DB(qid), below(kEntries + 2));
            doorbells++;
            return;
        }
        uint32_t n = 1 + (one_in(4) ? below(size[qid] - 1) : 0);
        for (uint32_t i = 0; i < n; i++) {
            card.qt().write_obj(queue_sq(qid) + uint64_t(tail[qid]) * HC1_SQE_SIZE, random_sqe());
            tail[qid] = (tail[qid] + 1) % size[qid];
            sqes++;
        }
        card.set_reg(HC1_REG_SQ_TAIL_DB(qid), one_in(16) ? edgy(size[qid]) : tail[qid]);
        doorbells++;
        // Consume completions now and then, like a (careless) driver.
        if (one_in(2))
            card.set_reg(HC1_REG_CQ_HEAD_DB(qid), below(size[qid]));
    }

    void reg_write() {
        static const uint32_t regs[] = {HC1_REG_CC,   HC1_REG_CSTS,    HC1_REG_AQA,
                                        HC1_REG_INTC, HC1_REG_ASQ,     HC1_REG_ASQ + 4,
                                        HC1_REG_ACQ,  HC1_REG_ACQ + 4, HC1_REG_ERRCNT,
                                        HC1_REG_TEST, HC1_REG_ID,      HC1_REG_NCTX};
        uint32_t off = one_in(4) ? (below(HC1_BAR0_SIZE) & ~3u) : regs[below(sizeof(regs) / 4)];
        uint32_t val = uint32_t(r64());
        if (off == HC1_REG_TEST) {
            val &= 0x1f;
            faults++;
        } else if (off == HC1_REG_ASQ || off == HC1_REG_ACQ) {
            val = uint32_t(address(4096));
        } else if (off == HC1_REG_CC && one_in(2)) {
            val &= 1;
        }
        card.set_reg(off, val);
        reg_writes++;
    }

    void mem_write() {
        uint64_t addr;
        switch (below(4)) {
        case 0:
            addr = kAdminSq + below(0x2000);
            break;
        case 1:
            addr = kIoqBase + below(kQueues + 1) * kIoqStride + below(0x9000);
            break;
        case 2:
            addr = kRings + below(kContexts) * kRingStride + below(256);
            break;
        default:
            addr = kPrompts + below(kContexts) * 0x1000 + below(64);
            break;
        }
        std::vector<uint8_t> data(1 + below(128));
        for (auto& b : data)
            b = uint8_t(r64());
        card.qt().write(addr, data);
        mem_writes++;
    }

    void step() {
        uint32_t what = below(100);
        if (what < 30)
            submit_random();
        else if (what < 50)
            reg_write();
        else if (what < 60) {
            card.reg(below(HC1_BAR0_SIZE) & ~3u);
            reg_reads++;
        } else if (what < 75) {
            card.set_reg(one_in(2) ? HC1_REG_SQ_TAIL_DB(below(kQueues + 2))
                                   : HC1_REG_CQ_HEAD_DB(below(kQueues + 2)),
                         edgy(kEntries));
            doorbells++;
        } else if (what < 92)
            mem_write();
        else if (what < 99) {
            card.qt().clock_step(1 + below(5'000'000));
            clock_steps++;
        } else if (one_in(4))
            setup();
        ops++;
    }
};

std::vector<uint32_t> known_run(Card& card) {
    card.set_reg(HC1_REG_TEST, 0);
    card.disable();
    if (!(card.enable() & HC1_CSTS_RDY))
        throw std::runtime_error("card does not become ready");
    if (Card::status(card.create_ioq(1)) != HC1_SC_SUCCESS)
        throw std::runtime_error("CREATE_IOQ failed");
    if (Card::status(card.create_ctx(1, 0)) != HC1_SC_SUCCESS)
        throw std::runtime_error("CREATE_CTX failed");
    auto g = card.generate(1, 0, kPrompt, 48);
    if (Card::status(g.cqe) != HC1_SC_SUCCESS)
        throw std::runtime_error("GENERATE failed");
    return g.tokens;
}

} // namespace

int main(int argc, char** argv) {
    uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 0) : 20000;
    uint64_t seed = argc > 2
                        ? std::strtoull(argv[2], nullptr, 0)
                        : uint64_t(std::chrono::steady_clock::now().time_since_epoch().count());
    const char* qemu = std::getenv("HC1_QEMU");
    const char* md = std::getenv("HC1_MODEL_DIR");
    std::string model_dir = md ? md : HC1_DEFAULT_MODEL_DIR;

    if (!qemu) {
        std::fprintf(stderr, "qtest-hc1-fuzz: set HC1_QEMU\n");
        return 2;
    }
    if (!std::ifstream(model_dir + "/stories260K.bin")) {
        std::fprintf(stderr, "qtest-hc1-fuzz: no model in %s\n", model_dir.c_str());
        return 1;
    }
    try {
        CardOptions opt;
        opt.contexts = kContexts;
        opt.queues = kQueues;
        opt.queue_entries = kEntries;
        Card card(qemu, model_dir, opt);
        auto before = known_run(card);
        Fuzzer f{card, std::mt19937_64(seed)};
        auto t0 = std::chrono::steady_clock::now();

        std::printf("device-fuzz: seed %llu, %llu operations\n", (unsigned long long)seed,
                    (unsigned long long)n);
        std::fflush(stdout);
        f.setup();
        while (f.ops < n)
            f.step();
        double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        uint32_t errcnt = card.reg(HC1_REG_ERRCNT);
        auto after = known_run(card);
        bool same = before == after;
        std::printf("device-fuzz: operations %llu in %.1f s: register writes %llu reads %llu "
                    "sqes %llu doorbells %llu memory writes %llu clock steps %llu fault modes "
                    "%llu bring-ups %llu (failed %llu); device counted %u bad register writes; "
                    "after reset the card %s\n",
                    (unsigned long long)f.ops, secs, (unsigned long long)f.reg_writes,
                    (unsigned long long)f.reg_reads, (unsigned long long)f.sqes,
                    (unsigned long long)f.doorbells, (unsigned long long)f.mem_writes,
                    (unsigned long long)f.clock_steps, (unsigned long long)f.faults,
                    (unsigned long long)f.resets, (unsigned long long)f.setup_fail, errcnt,
                    same ? "generates the same tokens" : "GENERATES DIFFERENT TOKENS");
        return same ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "device-fuzz: FAIL: %s\n", e.what());
        return 1;
    }
}
