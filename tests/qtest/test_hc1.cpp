// Device-level tests of the hc1 QEMU device: no guest kernel, the test is
// the driver (see card.h).  Needs HC1_QEMU (qemu-system-x86_64 built by
// qemu-device/build-qemu.sh) and HC1_MODEL_DIR (stories260K.bin, tok512.bin).
#include "card.h"
#include "vocab.h"

#include <hc1_engine.h>

#include <gtest/gtest.h>

#include <array>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <random>
#include <thread>

using namespace hc1test;
using namespace std::chrono_literals;

namespace {

// llama2.c known answer for stories260K + tok512, BOS + "Once upon a time",
// greedy, fp32 (models/llama2c/README.md).
constexpr std::string_view kPrompt = "Once upon a time";
constexpr std::string_view kKnownText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in "
    "the park. One day, she saw a big, red ball. She wanted to play with it, but it was "
    "too high.\nLily's mom said";

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

std::string model_dir() {
    std::string dir = env("HC1_MODEL_DIR");
    return dir.empty() ? std::string(HC1_DEFAULT_MODEL_DIR) : dir;
}

// The engine run standalone, in this process: the reference the card must
// match token for token.
struct EngineRun {
    std::vector<uint32_t> tokens;
    int finish = 0;
    uint32_t n_prompt = 0;
};

class Engine {
  public:
    Engine() {
        std::string model = model_dir() + "/stories260K.bin";
        std::string tok = model_dir() + "/tok512.bin";
        hc1_engine_config cfg{model.c_str(), tok.c_str(),      HC1_ENGINE_FP32, 4, 1,
                              nullptr,       HC1_ENGINE_KV_F32};
        char err[256] = "";
        e_ = hc1_engine_open(&cfg, err, sizeof(err));
        if (!e_)
            throw std::runtime_error(std::string("engine: ") + err);
    }
    ~Engine() { hc1_engine_close(e_); }
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    hc1_engine* get() { return e_; }

    EngineRun generate(const std::vector<uint32_t>& prompt, uint32_t max_tokens) {
        struct State {
            std::mutex m;
            std::condition_variable cv;
            bool done = false;
            EngineRun run;
        } st;
        hc1_engine_callbacks cb{};
        cb.token = [](void* o, uint32_t, uint32_t t) {
            auto* s = static_cast<State*>(o);
            std::lock_guard l(s->m);
            s->run.tokens.push_back(t);
        };
        cb.done = [](void* o, uint32_t, int finish, uint32_t n_prompt, uint32_t) {
            auto* s = static_cast<State*>(o);
            std::lock_guard l(s->m);
            s->run.finish = finish;
            s->run.n_prompt = n_prompt;
            s->done = true;
            s->cv.notify_all();
        };
        cb.opaque = &st;
        hc1_engine_request req{};
        req.prompt = prompt.data();
        req.n_prompt = prompt.size();
        req.max_tokens = max_tokens;
        if (hc1_engine_ctx_create(e_, 0) || hc1_engine_generate(e_, 0, &req, &cb))
            throw std::runtime_error("engine generate failed");
        std::unique_lock l(st.m);
        st.cv.wait(l, [&] { return st.done; });
        l.unlock();
        hc1_engine_ctx_destroy(e_, 0);
        return st.run;
    }

  private:
    hc1_engine* e_ = nullptr;
};

class Hc1Test : public ::testing::Test {
  protected:
    void SetUp() override {
        qemu_ = env("HC1_QEMU");
        if (qemu_.empty())
            GTEST_SKIP() << "HC1_QEMU not set (path to the built qemu-system-x86_64)";
        if (!std::filesystem::exists(model_dir() + "/stories260K.bin") ||
            !std::filesystem::exists(model_dir() + "/tok512.bin"))
            FAIL() << "model missing from " << model_dir();
    }

    // A card, enabled, with I/O queue 1 and context 0 created.
    std::unique_ptr<Card> ready_card(const CardOptions& opt = {}) {
        auto card = std::make_unique<Card>(qemu_, model_dir(), opt);
        EXPECT_EQ(card->enable(), HC1_CSTS_RDY);
        EXPECT_EQ(Card::status(card->create_ioq(1)), HC1_SC_SUCCESS);
        EXPECT_EQ(Card::status(card->create_ctx(1, 0)), HC1_SC_SUCCESS);
        return card;
    }

    Vocab vocab(Card& card) {
        hc1_model_card mc{};
        card.identify(mc);
        return Vocab(card.read_vocab(mc.vocab_bytes));
    }

    std::vector<uint32_t> prompt(Card& card) {
        hc1_model_card mc{};
        card.identify(mc);
        return vocab(card).encode(kPrompt, mc.bos_id);
    }

    // The card still works: identify succeeds.
    void expect_alive(Card& card) {
        hc1_model_card mc{};
        EXPECT_EQ(Card::status(card.identify(mc)), HC1_SC_SUCCESS);
        EXPECT_EQ(mc.vocab_size, 512u);
    }

    std::string qemu_;
};

TEST_F(Hc1Test, EnumeratesWithContractIdentity) {
    Card card(qemu_, model_dir());
    EXPECT_EQ(card.cfg_read32(0x08) >> 8, uint32_t(HC1_PCI_CLASS));
    EXPECT_EQ(card.cfg_read32(0x08) & 0xff, uint32_t(HC1_PCI_REVISION));
    EXPECT_EQ(card.cfg_read32(0x2c), uint32_t(HC1_PCI_SUBSYS_ID) << 16 | HC1_PCI_SUBSYS_VENDOR_ID);
    EXPECT_EQ(card.reg(HC1_REG_ID), HC1_ID_MAGIC);
    EXPECT_EQ(card.reg(HC1_REG_VERSION), uint32_t(HC1_HW_VERSION));
    uint32_t cap = card.reg(HC1_REG_CAP);
    EXPECT_EQ(cap & HC1_CAP_MQES_MASK, 63u);
    EXPECT_EQ((cap & HC1_CAP_NQ_MASK) >> HC1_CAP_NQ_SHIFT, 4u);
    EXPECT_NE(cap & HC1_CAP_TO_MASK, 0u);
    EXPECT_EQ(card.reg(HC1_REG_NCTX), 8u);
    EXPECT_EQ(card.reg(HC1_REG_CSTS), 0u);
    EXPECT_TRUE(card.reg(HC1_REG_FEATURES) & HC1_FEAT_FAULT_INJECT);
    EXPECT_EQ(card.nvectors(), 5u);
    // Coalescing defaults come from the properties.
    EXPECT_EQ(card.reg(HC1_REG_INTC), 32u | (16000u << HC1_INTC_USECS_SHIFT));
}

TEST_F(Hc1Test, IdentifyReturnsTheModelCard) {
    Card card(qemu_, model_dir());
    ASSERT_EQ(card.enable(), HC1_CSTS_RDY);
    card.clear_msi(0);
    hc1_model_card mc{};
    auto cqe = card.identify(mc);
    ASSERT_EQ(Card::status(cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(cqe.sq_id, 0);
    EXPECT_EQ(cqe.sq_head, 1);
    EXPECT_EQ(card.msi_data(0), 0x100u) << "admin completion raises vector 0";

    EXPECT_EQ(mc.size, sizeof(hc1_model_card));
    EXPECT_EQ(mc.version, uint32_t(HC1_HW_VERSION));
    EXPECT_STREQ(mc.arch, "llama");
    EXPECT_EQ(mc.dim, 64u);
    EXPECT_EQ(mc.n_layers, 5u);
    EXPECT_EQ(mc.n_heads, 8u);
    EXPECT_EQ(mc.n_kv_heads, 4u);
    EXPECT_EQ(mc.vocab_size, 512u);
    EXPECT_EQ(mc.context_len, 512u);
    EXPECT_EQ(mc.weight_format, uint32_t(HC1_WFMT_FP32));
    EXPECT_EQ(mc.n_contexts, 8u);
    EXPECT_EQ(mc.max_queues, 4u);
    EXPECT_EQ(mc.max_queue_entries, 64u);
    EXPECT_EQ(mc.msix_vectors, 5u);
    EXPECT_EQ(mc.max_stop, uint32_t(HC1_MAX_STOP));
    EXPECT_EQ(mc.kv_format, uint32_t(HC1_KVFMT_F32));

    // The same numbers as the engine reports for the same file.
    Engine engine;
    hc1_engine_info info{};
    hc1_engine_get_info(engine.get(), &info);
    EXPECT_STREQ(mc.name, info.name);
    EXPECT_EQ(mc.hidden_dim, info.hidden_dim);
    EXPECT_EQ(mc.bos_id, info.bos_id);
    EXPECT_EQ(mc.eos_id, info.eos_id);
    EXPECT_EQ(mc.n_params, info.n_params);
    EXPECT_EQ(mc.weight_bytes, info.weight_bytes);
    EXPECT_EQ(0, std::memcmp(mc.sha256, info.sha256, sizeof(mc.sha256)));

    // Zero padded to 4096 bytes (the buffer was filled with 0xee).
    auto tail =
        card.qt().read(kData + sizeof(hc1_model_card), HC1_IDENTIFY_SIZE - sizeof(hc1_model_card));
    for (uint8_t b : tail)
        ASSERT_EQ(b, 0);
}

TEST_F(Hc1Test, VocabularyIsTheTokenizer) {
    Card card(qemu_, model_dir());
    ASSERT_EQ(card.enable(), HC1_CSTS_RDY);
    hc1_model_card mc{};
    ASSERT_EQ(Card::status(card.identify(mc)), HC1_SC_SUCCESS);
    Vocab v(card.read_vocab(mc.vocab_bytes));
    ASSERT_EQ(v.size(), 512u);

    Engine engine;
    hc1_engine_info info{};
    hc1_engine_get_info(engine.get(), &info);
    EXPECT_EQ(v.max_token_len(), info.max_token_len);
    for (uint32_t id = 0; id < v.size(); id++) {
        uint32_t len = 0;
        float score = 0;
        const char* p = hc1_engine_token(engine.get(), id, &len, &score);
        ASSERT_NE(p, nullptr);
        EXPECT_EQ(v.piece(id), std::string(p, len)) << "token " << id;
        EXPECT_EQ(v.score(id), score) << "token " << id;
    }
    // Byte fallback tokens are spelled <0xNN>.
    EXPECT_EQ(v.piece(3 + 'A'), "<0x41>");
}

TEST_F(Hc1Test, GenerateDeliversTheKnownAnswer) {
    auto card = ready_card();
    auto p = prompt(*card);
    Vocab v = vocab(*card);
    ASSERT_GE(p.size(), 2u);
    EXPECT_EQ(p[0], 1u);

    const uint32_t max_tokens = 200 - p.size(); // llama2.c's 200 steps
    card->clear_msi(1);
    Generation g = card->generate(1, 0, p, max_tokens);
    ASSERT_EQ(Card::status(g.cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(g.cqe.sq_id, 1);
    EXPECT_EQ(card->msi_data(1), 0x101u) << "I/O queue 1 raises vector 1";
    EXPECT_EQ(g.header.state, uint32_t(HC1_RING_DONE));
    EXPECT_EQ(g.header.produced, g.cqe.result);
    EXPECT_EQ(g.header.finish, HC1_CQE_FINISH(g.cqe.info));
    EXPECT_EQ(g.header.n_prompt, p.size());
    EXPECT_EQ(HC1_CQE_PROMPT(g.cqe.info), p.size());
    EXPECT_EQ(g.header.cid, g.cqe.cid);
    EXPECT_TRUE(HC1_CQE_FINISH(g.cqe.info) == HC1_FINISH_LENGTH ||
                HC1_CQE_FINISH(g.cqe.info) == HC1_FINISH_EOS);

    std::vector<uint32_t> all(p.begin() + 1, p.end());
    all.insert(all.end(), g.tokens.begin(), g.tokens.end());
    std::string text = v.decode(all, p[0], p[0]);
    EXPECT_EQ(text.substr(0, kKnownText.size()), kKnownText) << "got: " << text;

    Engine engine;
    EngineRun ref = engine.generate(p, max_tokens);
    EXPECT_EQ(g.tokens, ref.tokens);
    EXPECT_EQ(HC1_CQE_FINISH(g.cqe.info), uint32_t(ref.finish));
}

TEST_F(Hc1Test, ConcurrentContextsEachEqualSolo) {
    CardOptions opt;
    opt.threads = 2;
    auto card = ready_card(opt);
    ASSERT_EQ(Card::status(card->create_ioq(2)), HC1_SC_SUCCESS);
    auto p = prompt(*card);
    Generation solo = card->generate(1, 0, p, 100);
    ASSERT_EQ(Card::status(solo.cqe), HC1_SC_SUCCESS);

    // Four contexts over two queues, submitted back to back.
    for (uint32_t ctx = 1; ctx < 5; ctx++)
        ASSERT_EQ(Card::status(card->create_ctx(1 + ctx % 2, ctx)), HC1_SC_SUCCESS);
    std::vector<uint16_t> cids(5);
    for (uint32_t ctx = 1; ctx < 5; ctx++) {
        hc1_sqe sqe = card->generate_sqe(ctx, p, 100);
        sqe.c.cid = 0x700 + ctx;
        card->start_generate(1 + ctx % 2, sqe, p);
    }
    int done = 0;
    for (uint16_t qid : {1, 2}) {
        for (int i = 0; i < 2; i++) {
            auto cqe = card->poll_cqe(qid);
            ASSERT_TRUE(cqe.has_value());
            ASSERT_EQ(Card::status(*cqe), HC1_SC_SUCCESS);
            uint32_t ctx = cqe->cid - 0x700;
            ASSERT_TRUE(ctx >= 1 && ctx < 5);
            EXPECT_EQ(1 + ctx % 2, qid);
            Generation g = card->collect(ctx, *cqe);
            EXPECT_EQ(g.tokens, solo.tokens) << "context " << ctx;
            done++;
        }
    }
    EXPECT_EQ(done, 4);
    hc1_stats st{};
    ASSERT_EQ(Card::status(card->get_stats(st)), HC1_SC_SUCCESS);
    EXPECT_EQ(st.generations, 5u);
    EXPECT_EQ(st.active_contexts, 5u);
    EXPECT_EQ(st.running, 0u);
    EXPECT_EQ(st.tokens, 5u * solo.tokens.size());
    EXPECT_EQ(st.prompt_tokens, 5u * p.size());
    EXPECT_GT(st.interrupts, 0u);
}

TEST_F(Hc1Test, CancelStopsAGeneration) {
    auto card = ready_card();
    auto p = prompt(*card);
    // Hold the engine so the cancel lands mid-generation, whatever the speed.
    card->set_reg(HC1_REG_TEST, HC1_TEST_STALL_ENGINE);
    hc1_sqe sqe = card->generate_sqe(0, p, 400);
    sqe.c.flags = HC1_GEN_IGNORE_EOS;
    card->start_generate(1, sqe, p);
    std::this_thread::sleep_for(50ms);
    EXPECT_FALSE(card->poll_cqe(1, 100ms).has_value()) << "stalled engine completed";
    EXPECT_EQ(card->ring_header(0).state, uint32_t(HC1_RING_RUNNING));

    // Busy context: no destroy, no second generation.
    EXPECT_EQ(Card::status(card->destroy_ctx(1, 0)), HC1_SC_CTX_BUSY);
    EXPECT_EQ(Card::status(card->io(1, card->generate_sqe(0, p, 10))), HC1_SC_CTX_BUSY);

    EXPECT_EQ(Card::status(card->cancel(1, 0)), HC1_SC_SUCCESS);
    card->set_reg(HC1_REG_TEST, 0);
    auto cqe = card->poll_cqe(1);
    ASSERT_TRUE(cqe.has_value());
    EXPECT_EQ(Card::status(*cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(HC1_CQE_FINISH(cqe->info), uint32_t(HC1_FINISH_CANCELLED));
    EXPECT_LT(cqe->result, 400u);
    auto hdr = card->ring_header(0);
    EXPECT_EQ(hdr.state, uint32_t(HC1_RING_DONE));
    EXPECT_EQ(hdr.finish, uint32_t(HC1_FINISH_CANCELLED));
    EXPECT_EQ(hdr.produced, cqe->result);

    hc1_stats st{};
    card->get_stats(st);
    EXPECT_EQ(st.cancelled, 1u);
    // The context is reusable.
    Generation g = card->generate(1, 0, p, 20);
    EXPECT_EQ(Card::status(g.cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(g.tokens.size(), 20u);
}

TEST_F(Hc1Test, CancelWhileRunningMidStream) {
    auto card = ready_card();
    auto p = prompt(*card);
    // Paced (a token per 10 ms, 5 s for the generation), so the cancel
    // lands while tokens stream however fast the host.
    card->set_reg(HC1_REG_TEST, HC1_TEST_SLOW_ENGINE);
    EXPECT_EQ(card->reg(HC1_REG_TEST), uint32_t(HC1_TEST_SLOW_ENGINE));
    hc1_sqe sqe = card->generate_sqe(0, p, 500 - p.size());
    sqe.c.flags = HC1_GEN_IGNORE_EOS;
    sqe.c.cid = 0x4242;
    card->start_generate(1, sqe, p);
    // Wait until tokens flow, then cancel.
    auto deadline = std::chrono::steady_clock::now() + 20s;
    while (card->ring_header(0).produced == 0 && std::chrono::steady_clock::now() < deadline)
        card->qt().clock_step(1000);
    hc1_sqe cancel{};
    cancel.c.opcode = HC1_OP_CANCEL;
    cancel.c.cid = 0x4343;
    card->submit(1, cancel); // its CQE may come before or after the GENERATE's
    auto a = card->poll_cqe(1);
    ASSERT_TRUE(a.has_value());
    auto b = card->poll_cqe(1);
    ASSERT_TRUE(b.has_value());
    const hc1_cqe& gen = a->cid == 0x4242 ? *a : *b;
    EXPECT_EQ(gen.cid, 0x4242);
    EXPECT_EQ(Card::status(gen), HC1_SC_SUCCESS);
    EXPECT_EQ(HC1_CQE_FINISH(gen.info), uint32_t(HC1_FINISH_CANCELLED));
    EXPECT_GT(gen.result, 0u);
    EXPECT_LT(gen.result, 500 - p.size());
    EXPECT_EQ(card->ring_header(0).produced, gen.result);
    card->set_reg(HC1_REG_TEST, 0);
}

TEST_F(Hc1Test, ResetMidGenerationAndReenable) {
    auto card = ready_card();
    auto p = prompt(*card);
    card->set_reg(HC1_REG_TEST, HC1_TEST_STALL_ENGINE);
    hc1_sqe sqe = card->generate_sqe(0, p, 300);
    card->start_generate(1, sqe, p);
    std::this_thread::sleep_for(20ms);
    card->qt().clock_step(1000);

    card->disable();
    EXPECT_EQ(card->reg(HC1_REG_CSTS), 0u);
    EXPECT_EQ(card->reg(HC1_REG_CC), 0u);
    // Aborted without a completion.
    // (slot 0 holds CREATE_CTX's completion, slot 1 would hold this one)
    auto cq = card->qt().read_obj<hc1_cqe>(kIoqBase + kIoqStride + 0x8000 + HC1_CQE_SIZE);
    EXPECT_EQ(cq.status & HC1_CQE_PHASE, 0);
    // Doorbells are refused while disabled.
    uint32_t errs = card->reg(HC1_REG_ERRCNT);
    card->ring_sq(0, 1);
    EXPECT_EQ(card->reg(HC1_REG_ERRCNT), errs + 1);
    EXPECT_EQ(card->reg(HC1_REG_LASTERR), uint32_t(HC1_ERR_DB_NOT_READY));

    card->set_reg(HC1_REG_TEST, 0);
    ASSERT_EQ(card->enable(), HC1_CSTS_RDY);
    expect_alive(*card);
    // Queues and contexts were dropped by the reset.
    EXPECT_EQ(Card::status(card->create_ioq(1)), HC1_SC_SUCCESS);
    EXPECT_EQ(Card::status(card->create_ctx(1, 0)), HC1_SC_SUCCESS);
    hc1_stats st{};
    card->get_stats(st);
    EXPECT_EQ(st.generations, 0u);
    Generation g = card->generate(1, 0, p, 30);
    EXPECT_EQ(Card::status(g.cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(g.tokens.size(), 30u);
}

TEST_F(Hc1Test, BadCommandsGetTheirStatusAndTheCardKeepsWorking) {
    auto card = ready_card();
    auto p = prompt(*card);
    hc1_sqe sqe{};

    // Unknown opcodes, and admin/I/O opcodes on the wrong queue.
    sqe.c.opcode = 0x7f;
    EXPECT_EQ(Card::status(card->admin(sqe)), HC1_SC_INVALID_OPCODE);
    EXPECT_EQ(Card::status(card->io(1, sqe)), HC1_SC_INVALID_OPCODE);
    sqe.c.opcode = HC1_OP_GENERATE;
    EXPECT_EQ(Card::status(card->admin(sqe)), HC1_SC_INVALID_OPCODE);
    sqe.c.opcode = HC1_OP_IDENTIFY;
    EXPECT_EQ(Card::status(card->io(1, sqe)), HC1_SC_INVALID_OPCODE);

    // DMA outside guest RAM.
    hc1_model_card mc{};
    EXPECT_EQ(Card::status(card->identify(mc, kOutsideRam)), HC1_SC_DMA_ERROR);
    // Zero and huge lengths.
    sqe = {};
    sqe.data.c.opcode = HC1_OP_IDENTIFY;
    sqe.data.addr = kData;
    EXPECT_EQ(Card::status(card->admin(sqe)), HC1_SC_INVALID_FIELD);
    sqe.data.c.opcode = HC1_OP_READ_VOCAB;
    EXPECT_EQ(Card::status(card->admin(sqe)), HC1_SC_INVALID_FIELD);
    sqe.data.len = 0xffffffff;
    EXPECT_EQ(Card::status(card->admin(sqe)), HC1_SC_INVALID_FIELD);
    sqe.data.len = 16;
    sqe.data.offset = 0xfffffff8;
    EXPECT_EQ(Card::status(card->admin(sqe)), HC1_SC_INVALID_FIELD);
    sqe = {};
    sqe.data.c.opcode = HC1_OP_GET_STATS;
    sqe.data.addr = kData;
    sqe.data.len = sizeof(hc1_stats) + 1;
    EXPECT_EQ(Card::status(card->admin(sqe)), HC1_SC_INVALID_FIELD);

    // Contexts: out of range, double create, double destroy.
    EXPECT_EQ(Card::status(card->create_ctx(1, 8)), HC1_SC_INVALID_CTX);
    EXPECT_EQ(Card::status(card->create_ctx(1, 0xffffffff)), HC1_SC_INVALID_CTX);
    EXPECT_EQ(Card::status(card->create_ctx(1, 0)), HC1_SC_CTX_EXISTS);
    EXPECT_EQ(Card::status(card->create_ctx(1, 3)), HC1_SC_SUCCESS);
    EXPECT_EQ(Card::status(card->destroy_ctx(1, 3)), HC1_SC_SUCCESS);
    EXPECT_EQ(Card::status(card->destroy_ctx(1, 3)), HC1_SC_INVALID_CTX);
    EXPECT_EQ(Card::status(card->cancel(1, 3)), HC1_SC_INVALID_CTX);
    EXPECT_EQ(Card::status(card->io(1, card->generate_sqe(5, p, 10))), HC1_SC_INVALID_CTX);

    // GENERATE fields.
    auto gen = [&](auto tweak) {
        hc1_sqe g = card->generate_sqe(0, p, 10);
        tweak(g);
        card->start_generate(1, g, p);
        auto cqe = card->poll_cqe(1);
        return cqe ? Card::status(*cqe) : 0xffff;
    };
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.ring_shift = 3; }), HC1_SC_RING_TOO_SMALL);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.ring_shift = 25; }), HC1_SC_RING_TOO_SMALL);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.ring_shift = 4, g.gen.max_tokens = 17; }),
              HC1_SC_RING_TOO_SMALL);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.max_tokens = 0; }), HC1_SC_INVALID_FIELD);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.n_prompt = 0; }), HC1_SC_INVALID_FIELD);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.n_prompt = 513; }), HC1_SC_PROMPT_TOO_LONG);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.n_prompt = 0xffffffff; }), HC1_SC_PROMPT_TOO_LONG);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.rsvd = 1; }), HC1_SC_INVALID_FIELD);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.c.flags = 0x80; }), HC1_SC_INVALID_FIELD);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.ring_addr += 4; }), HC1_SC_INVALID_FIELD);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.stop[0] = 512; }), HC1_SC_INVALID_TOKEN);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.prompt_addr = kOutsideRam; }), HC1_SC_DMA_ERROR);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.ring_addr = kOutsideRam; }), HC1_SC_DMA_ERROR);
    EXPECT_EQ(gen([](hc1_sqe& g) { g.gen.ring_addr = 256 * 1024 * 1024 - 64; }), HC1_SC_DMA_ERROR);
    {
        auto bad = p;
        bad[1] = 9999;
        hc1_sqe g = card->generate_sqe(0, bad, 10);
        card->start_generate(1, g, bad);
        auto cqe = card->poll_cqe(1);
        ASSERT_TRUE(cqe);
        EXPECT_EQ(Card::status(*cqe), HC1_SC_INVALID_TOKEN);
    }

    // Queues: bad id, existing, bad size, bad vector, unaligned base.
    EXPECT_EQ(Card::status(card->create_ioq(0)), HC1_SC_INVALID_QUEUE);
    EXPECT_EQ(Card::status(card->create_ioq(5)), HC1_SC_INVALID_QUEUE);
    EXPECT_EQ(Card::status(card->create_ioq(1)), HC1_SC_QUEUE_EXISTS);
    EXPECT_EQ(Card::status(card->create_ioq(2, 65)), HC1_SC_INVALID_QUEUE);
    EXPECT_EQ(Card::status(card->create_ioq(2, 1)), HC1_SC_INVALID_QUEUE);
    EXPECT_EQ(Card::status(card->create_ioq(2, 8, 5)), HC1_SC_INVALID_QUEUE);
    EXPECT_EQ(Card::status(card->create_ioq(2, 8, 0, 0x80)), HC1_SC_INVALID_FIELD);
    sqe = {};
    sqe.ioq.c.opcode = HC1_OP_CREATE_IOQ;
    sqe.ioq.c.ctx = 3;
    sqe.ioq.sq_addr = kIoqBase + 3 * kIoqStride + 64;
    sqe.ioq.cq_addr = kIoqBase + 3 * kIoqStride + 0x8000;
    sqe.ioq.qsize = 7;
    EXPECT_EQ(Card::status(card->admin(sqe)), HC1_SC_INVALID_QUEUE);
    sqe.ioq.sq_addr = kOutsideRam;
    EXPECT_EQ(Card::status(card->admin(sqe)), HC1_SC_INVALID_QUEUE);
    EXPECT_EQ(Card::status(card->delete_ioq(3)), HC1_SC_INVALID_QUEUE);

    hc1_stats st{};
    card->get_stats(st);
    EXPECT_GT(st.errors, 30u);
    EXPECT_EQ(card->reg(HC1_REG_CSTS), HC1_CSTS_RDY);

    // And it still does real work.
    expect_alive(*card);
    Generation g = card->generate(1, 0, p, 10);
    EXPECT_EQ(Card::status(g.cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(g.tokens.size(), 10u);
}

// A refused field is named in the device's trace with its value
// (qemu-device/trace-events), so that a driver bug is found without a
// debugger: here a GENERATE whose ring is not HC1_RING_ALIGN aligned.
TEST_F(Hc1Test, RefusedFieldIsNamedInTheTrace) {
    auto dir =
        std::filesystem::temp_directory_path() / ("qtest-hc1-trace-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    std::string log = (dir / "trace.log").string();
    CardOptions opt;
    opt.qemu_args = {"-trace", "hc1_err_*", "-D", log};
    auto card = ready_card(opt);
    auto p = prompt(*card);

    hc1_sqe g = card->generate_sqe(0, p, 10);
    g.gen.ring_addr += HC1_RING_ALIGN / 2;
    uint64_t bad = g.gen.ring_addr;
    card->start_generate(1, g, p);
    auto cqe = card->poll_cqe(1);
    ASSERT_TRUE(cqe);
    EXPECT_EQ(Card::status(*cqe), HC1_SC_INVALID_FIELD);
    card.reset(); // QEMU exits: the log is complete

    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::filesystem::remove_all(dir);
    char want[96];
    snprintf(want, sizeof(want), "opcode 0x%x: invalid ring_addr 0x%llx", HC1_OP_GENERATE,
             static_cast<unsigned long long>(bad));
    EXPECT_NE(text.find(want), std::string::npos) << "trace log:\n" << text;
}

TEST_F(Hc1Test, BadRegisterWritesAreIgnoredAndCounted) {
    auto card = ready_card();
    uint32_t last = card->reg(HC1_REG_ERRCNT);
    auto expect_err = [&](uint32_t want) {
        uint32_t n = card->reg(HC1_REG_ERRCNT);
        EXPECT_EQ(n, last + 1);
        EXPECT_EQ(card->reg(HC1_REG_LASTERR), want);
        last = n;
    };
    // Doorbell beyond the queue size, of a missing queue, past the last queue.
    card->ring_sq(1, 32);
    expect_err(HC1_ERR_DB_BAD_VALUE);
    card->set_reg(HC1_REG_CQ_HEAD_DB(1), 5); // nothing posted there
    expect_err(HC1_ERR_DB_BAD_VALUE);
    card->ring_sq(2, 0);
    expect_err(HC1_ERR_DB_BAD_QUEUE);
    card->ring_sq(200, 0);
    expect_err(HC1_ERR_DB_BAD_QUEUE);
    // Queue setup while enabled.
    card->set_reg(HC1_REG_ASQ, 0x5000);
    expect_err(HC1_ERR_CONFIG_WHILE_ENABLED);
    EXPECT_EQ(card->reg(HC1_REG_ASQ), uint32_t(kAdminSq));
    card->set_reg(HC1_REG_AQA, 0);
    expect_err(HC1_ERR_CONFIG_WHILE_ENABLED);
    // Read-only registers and holes.
    card->set_reg(HC1_REG_CSTS, 0);
    expect_err(HC1_ERR_RO_REGISTER);
    card->set_reg(HC1_REG_ID, 0);
    expect_err(HC1_ERR_RO_REGISTER);
    card->set_reg(0x800, 1);
    expect_err(HC1_ERR_BAD_OFFSET);
    EXPECT_EQ(card->reg(HC1_REG_CSTS), HC1_CSTS_RDY);
    hc1_stats st{};
    card->get_stats(st);
    EXPECT_EQ(st.reg_errors, card->reg(HC1_REG_ERRCNT));
    expect_alive(*card);
}

TEST_F(Hc1Test, BrokenAdminQueueIsFatalUntilReset) {
    Card card(qemu_, model_dir());
    card.set_reg(HC1_REG_AQA, 0); // one entry: unusable
    card.set_reg(HC1_REG_ASQ, uint32_t(kAdminSq));
    card.set_reg(HC1_REG_ACQ, uint32_t(kAdminCq));
    card.set_reg(HC1_REG_CC, HC1_CC_EN);
    uint32_t csts = card.reg(HC1_REG_CSTS);
    EXPECT_TRUE(csts & HC1_CSTS_CFS);
    EXPECT_FALSE(csts & HC1_CSTS_RDY);
    EXPECT_EQ((csts & HC1_CSTS_FATAL_MASK) >> HC1_CSTS_FATAL_SHIFT,
              uint32_t(HC1_FATAL_ADMIN_QUEUE));
    card.disable();
    EXPECT_EQ(card.reg(HC1_REG_CSTS), 0u);

    // Unaligned, then outside RAM.
    card.set_reg(HC1_REG_AQA, 15 | 15 << 16);
    card.set_reg(HC1_REG_ASQ, uint32_t(kAdminSq) + 8);
    card.set_reg(HC1_REG_CC, HC1_CC_EN);
    EXPECT_TRUE(card.reg(HC1_REG_CSTS) & HC1_CSTS_CFS);
    card.disable();
    card.set_reg(HC1_REG_ASQ, 0);
    card.set_reg(HC1_REG_ASQ + 4, 0x40);
    card.set_reg(HC1_REG_CC, HC1_CC_EN);
    EXPECT_TRUE(card.reg(HC1_REG_CSTS) & HC1_CSTS_CFS);
    card.disable();

    ASSERT_EQ(card.enable(), HC1_CSTS_RDY);
    expect_alive(card);
}

TEST_F(Hc1Test, FaultInjection) {
    auto card = ready_card();
    // Completions carry a wrong cid.
    card->set_reg(HC1_REG_TEST, HC1_TEST_BAD_CID);
    hc1_sqe sqe{};
    sqe.data.c.opcode = HC1_OP_GET_STATS;
    sqe.data.c.cid = 0x1234;
    sqe.data.addr = kData;
    sqe.data.len = 8;
    EXPECT_NE(card->admin(sqe).cid, 0x1234);
    // No interrupts.
    card->set_reg(HC1_REG_TEST, HC1_TEST_DROP_IRQ);
    card->clear_msi(0);
    EXPECT_EQ(card->admin(sqe).cid, 0x1234);
    EXPECT_EQ(card->msi_data(0), 0u);
    // Completions held back 2 s of virtual time.
    card->set_reg(HC1_REG_TEST, HC1_TEST_DELAY_CQE);
    card->submit(0, sqe);
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(card->poll_cqe(0, 50ms).has_value());
    card->qt().clock_step(2'100'000'000);
    EXPECT_TRUE(card->poll_cqe(0, 10s).has_value());
    // Fatal on demand; only a reset leaves it.
    card->set_reg(HC1_REG_TEST, HC1_TEST_FATAL);
    uint32_t csts = card->reg(HC1_REG_CSTS);
    EXPECT_TRUE(csts & HC1_CSTS_CFS);
    EXPECT_EQ((csts & HC1_CSTS_FATAL_MASK) >> HC1_CSTS_FATAL_SHIFT, uint32_t(HC1_FATAL_INJECTED));
    card->set_reg(HC1_REG_TEST, 0);
    card->disable();
    ASSERT_EQ(card->enable(), HC1_CSTS_RDY);
    expect_alive(*card);
}

TEST_F(Hc1Test, FaultInjectionIsOffByDefault) {
    CardOptions opt;
    opt.fault_inject = false;
    Card card(qemu_, model_dir(), opt);
    card.set_reg(HC1_REG_TEST, HC1_TEST_FATAL);
    EXPECT_EQ(card.reg(HC1_REG_TEST), 0u);
    EXPECT_EQ(card.reg(HC1_REG_LASTERR), uint32_t(HC1_ERR_RO_REGISTER));
    EXPECT_FALSE(card.reg(HC1_REG_FEATURES) & HC1_FEAT_FAULT_INJECT);
    ASSERT_EQ(card.enable(), HC1_CSTS_RDY);
}

TEST_F(Hc1Test, TokenInterruptsAreCoalesced) {
    // Every 4 tokens, no timer: a 40-token generation interrupts ~10 times.
    auto card = ready_card();
    auto p = prompt(*card);
    card->set_reg(HC1_REG_INTC, 4);
    hc1_stats before{}, after{};
    card->get_stats(before);
    Generation g = card->generate(1, 0, p, 40);
    ASSERT_EQ(g.tokens.size(), 40u);
    card->get_stats(after);
    uint64_t irqs = after.interrupts - before.interrupts - 1; // GET_STATS's own
    EXPECT_GE(irqs, 2u);
    EXPECT_LE(irqs, 11u);

    // Coalescing off for a polled queue: no interrupts at all.
    ASSERT_EQ(Card::status(card->create_ioq(2, 16, 0, HC1_QF_NO_IRQ)), HC1_SC_SUCCESS);
    ASSERT_EQ(Card::status(card->create_ctx(2, 1)), HC1_SC_SUCCESS);
    card->get_stats(before);
    g = card->generate(2, 1, p, 40);
    card->get_stats(after);
    EXPECT_EQ(after.interrupts - before.interrupts, 1u); // GET_STATS's own
}

TEST_F(Hc1Test, FirstTokensInterruptAtOnce) {
    // Coalescing far beyond the generation and no timer: the first tokens
    // and the completion are the only interrupts.
    auto card = ready_card();
    auto p = prompt(*card);
    card->set_reg(HC1_REG_INTC, 1000);
    hc1_stats before{}, after{};
    card->get_stats(before);
    Generation g = card->generate(1, 0, p, 40);
    ASSERT_EQ(g.tokens.size(), 40u);
    card->get_stats(after);
    EXPECT_EQ(after.interrupts - before.interrupts - 1, 2u); // - GET_STATS's own
}

TEST_F(Hc1Test, DeleteQueueWithAGenerationInFlight) {
    auto card = ready_card();
    auto p = prompt(*card);
    ASSERT_EQ(Card::status(card->create_ioq(2)), HC1_SC_SUCCESS);
    ASSERT_EQ(Card::status(card->create_ctx(2, 1)), HC1_SC_SUCCESS);
    card->set_reg(HC1_REG_TEST, HC1_TEST_STALL_ENGINE);
    hc1_sqe sqe = card->generate_sqe(1, p, 100);
    card->start_generate(2, sqe, p);
    std::this_thread::sleep_for(20ms);
    card->qt().clock_step(1000);
    EXPECT_EQ(Card::status(card->delete_ioq(2)), HC1_SC_SUCCESS);
    card->set_reg(HC1_REG_TEST, 0);
    // The generation ends (cancelled) and its context is usable again.
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (card->ring_header(1).state != HC1_RING_DONE &&
           std::chrono::steady_clock::now() < deadline)
        card->qt().clock_step(1000);
    EXPECT_EQ(card->ring_header(1).finish, uint32_t(HC1_FINISH_CANCELLED));
    Generation g = card->generate(1, 1, p, 5);
    EXPECT_EQ(Card::status(g.cqe), HC1_SC_SUCCESS);
}

TEST_F(Hc1Test, VanishedCardReadsAllOnesAndStaysSilent) {
    auto card = ready_card();
    auto p = prompt(*card);
    card->set_reg(HC1_REG_TEST, HC1_TEST_STALL_ENGINE);
    card->start_generate(1, card->generate_sqe(0, p, 50), p);
    card->clear_msi(1);
    std::string r = card->qt().qmp(R"({"execute": "qom-set", "arguments": )"
                                   R"({"path": "/machine/peripheral/hc1", )"
                                   R"("property": "vanished", "value": true}})");
    ASSERT_NE(r.find("return"), std::string::npos) << r;
    card->set_reg(HC1_REG_TEST, 0); // dropped: the card is gone
    EXPECT_EQ(card->cfg_read32(0), 0xffffffffu);
    EXPECT_EQ(card->reg(HC1_REG_ID), 0xffffffffu);
    EXPECT_EQ(card->reg(HC1_REG_CSTS), 0xffffffffu);
    // No completion, no interrupt, no ring update for the cancelled work.
    EXPECT_FALSE(card->poll_cqe(1, 200ms).has_value());
    EXPECT_EQ(card->msi_data(1), 0u);
    EXPECT_EQ(card->ring_header(0).state, uint32_t(HC1_RING_RUNNING));
    // One way only.
    r = card->qt().qmp(R"({"execute": "qom-set", "arguments": )"
                       R"({"path": "/machine/peripheral/hc1", )"
                       R"("property": "vanished", "value": false}})");
    EXPECT_NE(r.find("error"), std::string::npos) << r;
}

TEST_F(Hc1Test, SystemResetMidGeneration) {
    auto card = ready_card();
    auto p = prompt(*card);
    card->set_reg(HC1_REG_TEST, HC1_TEST_STALL_ENGINE);
    card->start_generate(1, card->generate_sqe(0, p, 100), p);
    card->set_reg(HC1_REG_INTC, 1);
    std::string r = card->qt().qmp(R"({"execute": "system_reset"})");
    ASSERT_NE(r.find("return"), std::string::npos) << r;
    card->qt().clock_step(1000000);
    // Everything is back at its reset value, including the test register.
    card->reattach();
    EXPECT_EQ(card->reg(HC1_REG_CSTS), 0u);
    EXPECT_EQ(card->reg(HC1_REG_CC), 0u);
    EXPECT_EQ(card->reg(HC1_REG_TEST), 0u);
    EXPECT_EQ(card->reg(HC1_REG_ASQ), 0u);
    EXPECT_EQ(card->reg(HC1_REG_INTC), 32u | (16000u << HC1_INTC_USECS_SHIFT));
    ASSERT_EQ(card->enable(), HC1_CSTS_RDY);
    ASSERT_EQ(Card::status(card->create_ioq(1)), HC1_SC_SUCCESS);
    ASSERT_EQ(Card::status(card->create_ctx(1, 0)), HC1_SC_SUCCESS);
    Generation g = card->generate(1, 0, p, 10);
    EXPECT_EQ(Card::status(g.cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(g.tokens.size(), 10u);
}

TEST_F(Hc1Test, FullCompletionQueueHoldsBackCommands) {
    auto card = ready_card();
    ASSERT_EQ(Card::status(card->create_ioq(2, 4)), HC1_SC_SUCCESS);
    ASSERT_EQ(Card::status(card->create_ctx(2, 1)), HC1_SC_SUCCESS); // SQ/CQ slot 0
    const uint64_t sq = kIoqBase + 2 * kIoqStride, cq = sq + 0x8000;
    auto cqe_at = [&](uint32_t slot) { return card->qt().read_obj<hc1_cqe>(cq + 16 * slot); };
    auto cancel_at = [&](uint32_t slot, uint16_t cid) {
        hc1_sqe sqe{};
        sqe.c.opcode = HC1_OP_CANCEL;
        sqe.c.ctx = 1;
        sqe.c.cid = cid;
        card->qt().write_obj(sq + 64 * slot, sqe);
    };
    auto settle = [&] {
        std::this_thread::sleep_for(30ms);
        for (int i = 0; i < 20; i++)
            card->qt().clock_step(10000);
    };
    // poll_cqe consumed CQ slot 0 (head = 1).  Three CANCELs fill slots
    // 1..3: the CQ now holds three, all it can (one slot stays empty).
    for (uint32_t i = 1; i <= 3; i++)
        cancel_at(i, 0x900 + i);
    card->ring_sq(2, 0);
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (cqe_at(3).cid != 0x903 && std::chrono::steady_clock::now() < deadline)
        card->qt().clock_step(10000);
    for (uint32_t i = 1; i <= 3; i++)
        EXPECT_EQ(cqe_at(i).cid, 0x900 + i);
    // A fourth command must wait: its completion would overwrite slot 0.
    const hc1_cqe old0 = cqe_at(0);
    cancel_at(0, 0x904);
    card->ring_sq(2, 1);
    settle();
    EXPECT_EQ(cqe_at(0).cid, old0.cid) << "CQ overrun";
    EXPECT_EQ(cqe_at(0).status, old0.status);
    // The host consumes one entry: the held command completes, phase 0.
    card->set_reg(HC1_REG_CQ_HEAD_DB(2), 2);
    deadline = std::chrono::steady_clock::now() + 10s;
    while (cqe_at(0).cid != 0x904 && std::chrono::steady_clock::now() < deadline)
        card->qt().clock_step(10000);
    EXPECT_EQ(cqe_at(0).cid, 0x904);
    EXPECT_EQ(cqe_at(0).status & HC1_CQE_PHASE, 0);
    EXPECT_EQ(cqe_at(0).sq_head, 1);
    EXPECT_EQ(card->reg(HC1_REG_ERRCNT), 0u);
}

TEST_F(Hc1Test, StopTokenAndContinue) {
    auto card = ready_card();
    auto p = prompt(*card);
    Generation full = card->generate(1, 0, p, 20);
    ASSERT_EQ(full.tokens.size(), 20u);

    // A stop token ends generation and is delivered.
    hc1_sqe sqe = card->generate_sqe(0, p, 20);
    sqe.gen.stop[2] = full.tokens[4];
    card->start_generate(1, sqe, p);
    auto cqe = card->poll_cqe(1);
    ASSERT_TRUE(cqe);
    Generation stopped = card->collect(0, *cqe);
    EXPECT_EQ(HC1_CQE_FINISH(cqe->info), uint32_t(HC1_FINISH_STOP));
    ASSERT_GE(stopped.tokens.size(), 1u);
    EXPECT_LE(stopped.tokens.size(), 5u);
    EXPECT_EQ(stopped.tokens.back(), full.tokens[4]);

    // Ten tokens, then CONTINUE with no prompt: the same as twenty at once.
    Generation first = card->generate(1, 0, p, 10);
    sqe = card->generate_sqe(0, {}, 10);
    sqe.c.flags = HC1_GEN_CONTINUE;
    card->start_generate(1, sqe, {});
    cqe = card->poll_cqe(1);
    ASSERT_TRUE(cqe);
    ASSERT_EQ(Card::status(*cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(HC1_CQE_PROMPT(cqe->info), 0u);
    Generation second = card->collect(0, *cqe);
    std::vector<uint32_t> joined = first.tokens;
    joined.insert(joined.end(), second.tokens.begin(), second.tokens.end());
    EXPECT_EQ(joined, full.tokens);
}

// The KV-cache format is the card's, reported in IDENTIFY; the weights (and
// so the model's identity) do not depend on it.
TEST_F(Hc1Test, KvFormatIsReportedAndGenerates) {
    std::array<uint8_t, 32> sha{};
    for (auto [name, fmt] : {std::pair{"f32", HC1_KVFMT_F32}, std::pair{"f16", HC1_KVFMT_F16},
                             std::pair{"int8", HC1_KVFMT_INT8}}) {
        CardOptions opt;
        opt.extra = std::string(",kv-format=") + name;
        auto card = ready_card(opt);
        hc1_model_card mc{};
        ASSERT_EQ(Card::status(card->identify(mc)), HC1_SC_SUCCESS);
        EXPECT_EQ(mc.kv_format, uint32_t(fmt)) << name;
        EXPECT_EQ(mc.weight_format, uint32_t(HC1_WFMT_FP32));
        if (fmt == HC1_KVFMT_F32)
            std::memcpy(sha.data(), mc.sha256, sha.size());
        else
            EXPECT_EQ(0, std::memcmp(sha.data(), mc.sha256, sha.size())) << name;
        auto p = prompt(*card);
        Generation g = card->generate(1, 0, p, 30);
        EXPECT_EQ(Card::status(g.cqe), HC1_SC_SUCCESS);
        EXPECT_EQ(g.tokens.size(), 30u);
    }
}

TEST_F(Hc1Test, Int8FormatBurnsAndGenerates) {
    CardOptions opt;
    opt.extra = ",format=int8";
    auto card = ready_card(opt);
    hc1_model_card mc{};
    ASSERT_EQ(Card::status(card->identify(mc)), HC1_SC_SUCCESS);
    EXPECT_EQ(mc.weight_format, uint32_t(HC1_WFMT_INT8));
    EXPECT_GT(mc.group_size, 0u);
    auto p = prompt(*card);
    Generation g = card->generate(1, 0, p, 30);
    EXPECT_EQ(Card::status(g.cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(g.tokens.size(), 30u);
}

// Hostile input: random SQEs (valid opcodes with random fields, random
// opcodes, addresses in and out of RAM) and random doorbell values.  The card
// must answer or ignore each, never crash or wedge, and work after a reset.
TEST_F(Hc1Test, RandomInputNeverBreaksTheCard) {
    auto card = ready_card();
    ASSERT_EQ(Card::status(card->create_ioq(2)), HC1_SC_SUCCESS);
    std::mt19937_64 rng(20261201);
    auto pick = [&](uint64_t n) { return rng() % n; };
    auto address = [&]() -> uint64_t {
        switch (pick(4)) {
        case 0:
            return kData + pick(0x20000);
        case 1:
            return rng();
        case 2:
            return 256 * 1024 * 1024 - pick(0x2000);
        default:
            return kRings + pick(8) * kRingStride;
        }
    };
    const uint8_t ops[] = {HC1_OP_IDENTIFY,
                           HC1_OP_READ_VOCAB,
                           HC1_OP_CREATE_IOQ,
                           HC1_OP_GET_STATS,
                           HC1_OP_CREATE_CTX,
                           HC1_OP_DESTROY_CTX,
                           HC1_OP_GENERATE,
                           HC1_OP_CANCEL,
                           0x00,
                           0xff,
                           0x14,
                           0x06};
    int answered = 0;
    for (int i = 0; i < 300; i++) {
        hc1_sqe sqe;
        for (auto& b : sqe.bytes)
            b = rng();
        sqe.c.opcode = ops[pick(sizeof(ops))];
        sqe.c.cid = 0;
        if (pick(2))
            sqe.c.flags = 0;
        if (pick(2))
            sqe.c.ctx = pick(10);
        if (sqe.c.opcode == HC1_OP_CREATE_IOQ)
            sqe.c.ctx = 3 + pick(2); // leave the queues under test alone
        sqe.data.addr = address();
        if (sqe.c.opcode == HC1_OP_GENERATE) {
            sqe.gen.ring_addr = address() & ~63ull;
            sqe.gen.n_prompt = pick(8);
            sqe.gen.max_tokens = pick(40);
            sqe.gen.ring_shift = 4 + pick(4);
            if (pick(2)) { // nearly valid: reach the DMA and engine paths
                sqe.gen.rsvd = 0;
                sqe.gen.c.flags &= HC1_GEN_CONTINUE | HC1_GEN_IGNORE_EOS;
                sqe.gen.prompt_addr = kPrompts;
                sqe.gen.stop[0] = sqe.gen.stop[1] = HC1_TOKEN_NONE;
                sqe.gen.stop[2] = sqe.gen.stop[3] = HC1_TOKEN_NONE;
            }
        } else if (pick(2)) {
            sqe.data.len = pick(2) ? HC1_IDENTIFY_SIZE : pick(8192);
            sqe.data.offset = pick(2) ? 0 : pick(8192);
        }
        const uint16_t qid = sqe.c.opcode < HC1_OP_CREATE_CTX ? 0 : 1 + pick(2);
        card->submit(qid, sqe);
        auto cqe = card->poll_cqe(qid, 300ms);
        answered += cqe.has_value();
        if (pick(10) == 0) // a bogus doorbell somewhere
            card->set_reg(HC1_REG_DB_BASE + 4 * pick(12), rng());
    }
    EXPECT_GT(answered, 150);
    EXPECT_EQ(card->reg(HC1_REG_ID), HC1_ID_MAGIC);

    card->disable();
    ASSERT_EQ(card->enable(), HC1_CSTS_RDY);
    expect_alive(*card);
    ASSERT_EQ(Card::status(card->create_ioq(1)), HC1_SC_SUCCESS);
    ASSERT_EQ(Card::status(card->create_ctx(1, 0)), HC1_SC_SUCCESS);
    auto p = prompt(*card);
    Generation g = card->generate(1, 0, p, 10);
    EXPECT_EQ(Card::status(g.cqe), HC1_SC_SUCCESS);
    EXPECT_EQ(g.tokens.size(), 10u);
}

TEST_F(Hc1Test, WithoutAModelTheCardBurnsInTheShippedOne) {
    CardOptions opt;
    opt.default_model = true;
    Card card(qemu_, model_dir(), opt);
    ASSERT_EQ(card.enable(), HC1_CSTS_RDY);
    hc1_model_card mc{};
    ASSERT_EQ(Card::status(card.identify(mc)), HC1_SC_SUCCESS);
    EXPECT_STREQ(mc.name, "hc1-kjv");
    EXPECT_EQ(mc.dim, 128u);
    EXPECT_EQ(mc.vocab_size, 512u);
}

TEST_F(Hc1Test, MissingModelRefusesToStart) {
    std::string err;
    std::string bios = qemu_.substr(0, qemu_.rfind('/') + 1) + "pc-bios";
    int rc = run_qemu(qemu_,
                      {"-M", "q35", "-accel", "qtest", "-display", "none", "-nodefaults", "-L",
                       bios, "-device", "hc1,model=/nonexistent/model.bin"},
                      err);
    EXPECT_NE(rc, 0);
    EXPECT_NE(err.find("/nonexistent/model.bin"), std::string::npos) << err;

    // No model at all, and no default among the data files: refused.
    namespace fs = std::filesystem;
    fs::path bare = fs::temp_directory_path() / ("hc1-bios-" + std::to_string(getpid()));
    fs::create_directories(bare);
    for (const auto& f : fs::directory_iterator(bios))
        if (f.path().filename().string().rfind("hc1-", 0) != 0)
            fs::create_symlink(fs::absolute(f.path()), bare / f.path().filename());
    rc = run_qemu(qemu_,
                  {"-M", "q35", "-accel", "qtest", "-display", "none", "-nodefaults", "-L",
                   bare.string(), "-device", "hc1"},
                  err);
    fs::remove_all(bare);
    EXPECT_NE(rc, 0);
    EXPECT_NE(err.find("no 'model' given"), std::string::npos) << err;

    rc = run_qemu(qemu_,
                  {"-M", "q35", "-accel", "qtest", "-display", "none", "-nodefaults", "-L", bios,
                   "-device",
                   "hc1,model=" + model_dir() + "/stories260K.bin,tokenizer=" + model_dir() +
                       "/tok512.bin,format=fp16"},
                  err);
    EXPECT_NE(rc, 0);
    EXPECT_NE(err.find("fp16"), std::string::npos) << err;

    rc = run_qemu(qemu_,
                  {"-M", "q35", "-accel", "qtest", "-display", "none", "-nodefaults", "-L", bios,
                   "-device",
                   "hc1,model=" + model_dir() + "/stories260K.bin,tokenizer=" + model_dir() +
                       "/tok512.bin,kv-format=int4"},
                  err);
    EXPECT_NE(rc, 0);
    EXPECT_NE(err.find("kv-format 'int4'"), std::string::npos) << err;
}

} // namespace
