// SPDX-License-Identifier: MIT
// hc1-bench-card: tokens the QEMU device delivers into guest memory, driven
// through qtest (no guest kernel), against the engine alone in this process.
//
//   hc1-bench-card --qemu QEMU --model-dir DIR [--format fp32|int8]
//                  [--kv-format f32|f16|int8] [--contexts 1,8,64] [--rounds 8]
//                  [--engine-cpus LIST]
//
// --engine-cpus pins both engines, the one in this process and the card's
// (device property engine-cpus), to the same CPUs, so they are compared on
// equal terms; this process and QEMU's other threads keep off them, as
// tools/vm/hc1-vm keeps the vCPU and main loop off the card's engine.
//
// For each context count N, every round generates from BOS to the end of the
// context on N contexts at once, first on the engine alone (hc1_engine_*, one
// thread, the same model and format the card burns), then on the card: the
// GENERATE commands are submitted and the time runs until the last
// completion is in guest memory.  Engine and card rounds alternate so that
// load from other users of the machine hits both alike.  The card's tokens
// are checked against the engine's (greedy: they must be identical).
// Output: one JSON object on stdout.
#include "card.h"
#include "hc1_engine.h"
#include "hc1e/engine.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sched.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using hc1test::Card;
using Json = nlohmann::ordered_json;

double secs_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct Options {
    std::string qemu, model_dir, format = "fp32", kv_format = "f32", engine_cpus;
    std::vector<uint32_t> contexts{1, 8};
    uint32_t rounds = 8;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        if (i + 1 >= argc)
            throw std::invalid_argument(a + " needs a value");
        std::string v = argv[++i];
        if (a == "--qemu")
            o.qemu = v;
        else if (a == "--model-dir")
            o.model_dir = v;
        else if (a == "--format")
            o.format = v;
        else if (a == "--kv-format")
            o.kv_format = v;
        else if (a == "--rounds")
            o.rounds = static_cast<uint32_t>(std::stoul(v));
        else if (a == "--engine-cpus")
            o.engine_cpus = v;
        else if (a == "--contexts") {
            o.contexts.clear();
            std::stringstream list(v);
            for (std::string item; std::getline(list, item, ',');)
                o.contexts.push_back(static_cast<uint32_t>(std::stoul(item)));
        } else
            throw std::invalid_argument("unknown option " + a);
    }
    if (o.qemu.empty() || o.model_dir.empty())
        throw std::invalid_argument(
            "usage: hc1-bench-card --qemu QEMU --model-dir DIR [--format fp32|int8] "
            "[--kv-format f32|f16|int8] [--contexts 1,8] [--rounds N] [--engine-cpus LIST]");
    if (o.format != "fp32" && o.format != "int8")
        throw std::invalid_argument("--format must be fp32 or int8");
    hc1e::KvFormat kv;
    if (!hc1e::parse_kv_format(o.kv_format, kv))
        throw std::invalid_argument("--kv-format must be f32, f16 or int8");
    if (o.rounds < 1 || o.rounds > 1000)
        throw std::invalid_argument("--rounds must be 1..1000");
    for (uint32_t n : o.contexts)
        if (n < 1 || n > 64)
            throw std::invalid_argument("--contexts: 1..64 each (the qtest guest memory layout)");
    return o;
}

// The engine alone: every context's tokens, and a wait for all to finish.
class EngineAlone {
  public:
    EngineAlone(const Options& o, uint32_t n_contexts) : tokens_(n_contexts) {
        const std::string model = o.model_dir + "/stories260K.bin";
        const std::string tok = o.model_dir + "/tok512.bin";
        hc1_engine_config cfg{};
        cfg.model_path = model.c_str();
        cfg.tokenizer_path = tok.c_str();
        cfg.format = o.format == "int8" ? HC1_ENGINE_INT8 : HC1_ENGINE_FP32;
        hc1e::KvFormat kv = hc1e::KvFormat::Fp32;
        hc1e::parse_kv_format(o.kv_format, kv); // checked by parse()
        cfg.kv_format = static_cast<int>(kv);
        cfg.n_contexts = n_contexts;
        cfg.n_threads = 1;
        cfg.cpus = o.engine_cpus.c_str();
        char err[256] = "";
        e_ = hc1_engine_open(&cfg, err, sizeof(err));
        if (!e_)
            throw std::runtime_error(std::string("engine: ") + err);
        hc1_engine_get_info(e_, &info_);
        for (uint32_t c = 0; c < n_contexts; c++)
            if (hc1_engine_ctx_create(e_, c))
                throw std::runtime_error("engine: ctx_create failed");
    }
    ~EngineAlone() { hc1_engine_close(e_); }
    EngineAlone(const EngineAlone&) = delete;
    EngineAlone& operator=(const EngineAlone&) = delete;

    const hc1_engine_info& info() const { return info_; }
    const std::vector<uint32_t>& tokens(uint32_t ctx) const { return tokens_[ctx]; }
    uint64_t busy_ns() const { return hc1_engine_busy_ns(e_); }

    // Generates @max_tokens from BOS on every context; returns the seconds.
    double round(uint32_t max_tokens) {
        for (auto& t : tokens_)
            t.clear();
        const uint32_t bos = info_.bos_id;
        hc1_engine_request req{};
        req.prompt = &bos;
        req.n_prompt = 1;
        req.ignore_eos = 1;
        req.max_tokens = max_tokens;
        hc1_engine_callbacks cb{};
        cb.opaque = this;
        cb.token = [](void* o, uint32_t ctx, uint32_t tok) {
            static_cast<EngineAlone*>(o)->tokens_[ctx].push_back(tok);
        };
        cb.done = [](void* o, uint32_t, int, uint32_t, uint32_t) {
            auto* self = static_cast<EngineAlone*>(o);
            std::lock_guard lk(self->mu_);
            self->pending_--;
            self->cv_.notify_all();
        };
        pending_ = static_cast<uint32_t>(tokens_.size());
        // Stall while submitting so every context starts in the same step.
        hc1_engine_set_stall(e_, 1);
        for (uint32_t c = 0; c < tokens_.size(); c++)
            if (hc1_engine_generate(e_, c, &req, &cb))
                throw std::runtime_error("engine: generate failed");
        const auto t0 = Clock::now();
        hc1_engine_set_stall(e_, 0);
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return pending_ == 0; });
        return secs_since(t0);
    }

  private:
    hc1_engine* e_ = nullptr;
    hc1_engine_info info_{};
    std::vector<std::vector<uint32_t>> tokens_;
    std::mutex mu_;
    std::condition_variable cv_;
    uint32_t pending_ = 0;
};

constexpr uint16_t kQid = 1;
constexpr uint8_t kRingShift = 9;
// More than the 64 GENERATEs of 64 contexts (a queue holds entries - 1).
constexpr uint32_t kQueueEntries = 128;

// Waits for the I/O queue's completion number @seen (counting from the
// queue's creation) by watching its phase bit with one 4-byte read every
// 50 us: Card::poll_cqe() sleeps 200 us and steps the virtual clock, which
// would add up to 1% to a 30 ms generation.  Card::poll_cqe() then consumes
// it at once.  Every read is a qtest command that QEMU's main loop serves,
// on a core the engine could use: the caller sleeps through most of the
// generation first.
hc1_cqe wait_cqe(Card& card, uint64_t seen) {
    const uint64_t cq = hc1test::kIoqBase + kQid * hc1test::kIoqStride + 0x8000;
    const uint64_t word = cq + (seen % kQueueEntries) * HC1_CQE_SIZE + offsetof(hc1_cqe, cid);
    const uint32_t phase = (seen / kQueueEntries) % 2 == 0 ? HC1_CQE_PHASE : 0;
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    while (((card.qt().readl(word) >> 16) & HC1_CQE_PHASE) != phase) {
        if (Clock::now() > deadline)
            throw std::runtime_error("card: no completion within 60 s");
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    auto c = card.poll_cqe(kQid, std::chrono::seconds(1));
    if (!c)
        throw std::runtime_error("card: completion vanished");
    return *c;
}

// One round on the card: N GENERATEs, then until N completions are in guest
// memory.  Returns the seconds and the tokens the rings received.
std::pair<double, uint64_t> card_round(Card& card, uint64_t& seen, uint32_t n, uint32_t bos,
                                       uint32_t max_tokens, const EngineAlone& ref,
                                       double expect_secs) {
    const std::vector<uint32_t> prompt{bos};
    std::vector<hc1_sqe> sqes;
    for (uint32_t c = 0; c < n; c++) {
        sqes.push_back(card.generate_sqe(c, prompt, max_tokens, kRingShift));
        // The prompt and ring header are set up before the clock starts.
        card.qt().write(sqes.back().gen.prompt_addr,
                        {reinterpret_cast<const uint8_t*>(prompt.data()), 4});
        card.qt().memset(sqes.back().gen.ring_addr, 64, 0);
    }
    const auto t0 = Clock::now();
    for (const hc1_sqe& s : sqes)
        card.submit(kQid, s);
    // 80% of what the engine alone took for the same work.
    std::this_thread::sleep_for(std::chrono::duration<double>(0.8 * expect_secs));
    std::vector<hc1_cqe> cqes;
    while (cqes.size() < n)
        cqes.push_back(wait_cqe(card, seen++));
    const double secs = secs_since(t0);
    uint64_t tokens = 0;
    for (const hc1_cqe& c : cqes)
        if (Card::status(c) != HC1_SC_SUCCESS)
            throw std::runtime_error("card: GENERATE failed with status " +
                                     std::to_string(Card::status(c)));
    for (uint32_t c = 0; c < n; c++) {
        hc1test::Generation g = card.collect(c, cqes[c], kRingShift);
        if (g.tokens != ref.tokens(c))
            throw std::runtime_error("card: context " + std::to_string(c) +
                                     " produced other tokens than the engine alone");
        tokens += g.tokens.size();
    }
    return {secs, tokens};
}

} // namespace

// This process (and QEMU, which inherits it) on every CPU it may use but
// the engine's.
void keep_off_engine_cpus(const std::string& list) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        throw std::runtime_error(std::string("sched_getaffinity: ") + std::strerror(errno));
    for (uint32_t c : hc1e::parse_cpu_list(list))
        CPU_CLR(c, &set);
    if (CPU_COUNT(&set) == 0)
        return; // nothing left: share them
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        throw std::runtime_error(std::string("sched_setaffinity: ") + std::strerror(errno));
}

int main(int argc, char** argv) {
    try {
        const Options o = parse(argc, argv);
        if (!o.engine_cpus.empty())
            keep_off_engine_cpus(o.engine_cpus);
        Json results = Json::array();
        for (uint32_t n : o.contexts) {
            EngineAlone engine(o, n);
            const uint32_t max_tokens = engine.info().context_len;
            hc1test::CardOptions copt;
            copt.contexts = n;
            copt.queues = 1;
            copt.queue_entries = kQueueEntries;
            copt.threads = 1;
            copt.fault_inject = false;
            copt.extra = ",format=" + o.format + ",kv-format=" + o.kv_format;
            if (!o.engine_cpus.empty())
                copt.extra += ",engine-cpus=" + o.engine_cpus;
            Card card(o.qemu, o.model_dir, copt);
            if (!(card.enable() & HC1_CSTS_RDY))
                throw std::runtime_error("card: not ready after enable");
            if (Card::status(card.create_ioq(kQid, kQueueEntries)))
                throw std::runtime_error("card: CREATE_IOQ failed");
            uint64_t seen = 0; // completions on the I/O queue
            for (uint32_t c = 0; c < n; c++, seen++)
                if (Card::status(card.create_ctx(kQid, c)))
                    throw std::runtime_error("card: CREATE_CTX failed");

            double e_secs = 0, c_secs = 0, e_busy = 0, c_busy = 0, e_best = 0, c_best = 0;
            uint64_t e_tokens = 0, c_tokens = 0;
            std::vector<double> ratios;
            hc1_stats st{};
            // One round of each first, not counted: first touch of the KV
            // caches and of the rings.
            engine.round(max_tokens);
            card_round(card, seen, n, engine.info().bos_id, max_tokens, engine, 0);
            for (uint32_t r = 0; r < o.rounds; r++) {
                const uint64_t eb0 = engine.busy_ns();
                const double es = engine.round(max_tokens);
                e_busy += (engine.busy_ns() - eb0) / 1e9;
                uint64_t et = 0;
                for (uint32_t c = 0; c < n; c++)
                    et += engine.tokens(c).size();
                card.get_stats(st);
                const uint64_t cb0 = st.busy_ns;
                auto [cs, ct] =
                    card_round(card, seen, n, engine.info().bos_id, max_tokens, engine, es);
                card.get_stats(st);
                c_busy += (st.busy_ns - cb0) / 1e9;
                e_secs += es;
                e_tokens += et;
                c_secs += cs;
                c_tokens += ct;
                e_best = std::max(e_best, et / es);
                c_best = std::max(c_best, ct / cs);
                ratios.push_back((ct / cs) / (et / es));
            }
            std::sort(ratios.begin(), ratios.end());
            const double e_tps = e_tokens / e_secs, c_tps = c_tokens / c_secs;
            // Utilisation: engine compute time over wall time.  The card's
            // falls short of the engine's by what the device costs the engine
            // (token callbacks) and by the time from the last token to the
            // completion in guest memory.
            results.push_back({{"contexts", n},
                               {"tokens_per_generation", engine.tokens(0).size()},
                               {"engine_tok_s", e_tps},
                               {"card_tok_s", c_tps},
                               {"ratio", c_tps / e_tps},
                               {"ratio_median_round", ratios[ratios.size() / 2]},
                               {"engine_best_tok_s", e_best},
                               {"card_best_tok_s", c_best},
                               {"ratio_best", c_best / e_best},
                               {"engine_utilisation", e_busy / e_secs},
                               {"card_engine_utilisation", c_busy / c_secs},
                               {"card_tokens", c_tokens}});
        }
        Json doc = {{"format", o.format},
                    {"kv_format", o.kv_format},
                    {"rounds", o.rounds},
                    {"results", results}};
        std::printf("%s\n", doc.dump(1).c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hc1-bench-card: %s\n", e.what());
        return 1;
    }
}
