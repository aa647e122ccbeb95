// SPDX-License-Identifier: MIT
// The C API's contract: model card, vocabulary, error codes, finish
// reasons, cancellation, reset, stall and cache continuation.
#include <atomic>
#include <chrono>
#include <sched.h>
#include <thread>

#include "hc1e/engine.hpp"
#include "hc1e/error.hpp"
#include "hc1e/tokenizer.hpp"
#include "synthetic.hpp"
#include "test_util.hpp"

namespace hc1e::test {
namespace {

using namespace std::chrono_literals;

// The synthetic model (vocab 16, context 16) on disk.
class SyntheticEngine : public ::testing::Test {
  protected:
    void SetUp() override {
        const SourceModel m = synthetic_model();
        model_.write(llama2c_checkpoint(m));
        tok_.write(llama2c_tokenizer(m.vocab));
        e_ = open_engine(model_.path(), tok_.path(), HC1_ENGINE_FP32, 4, 2);
        ASSERT_TRUE(e_);
    }
    Outcome generate(uint32_t ctx, const hc1_engine_request& req) {
        Generation g;
        const hc1_engine_callbacks cb = g.callbacks();
        EXPECT_EQ(hc1_engine_generate(e_.get(), ctx, &req, &cb), 0);
        g.wait();
        return g.outcome();
    }

    TempFile model_{"api.bin"}, tok_{"api-tok.bin"};
    EnginePtr e_;
};

TEST_F(SyntheticEngine, ErrorCodes) {
    hc1_engine* e = e_.get();
    const std::vector<uint32_t> prompt{1, 4, 5};
    hc1_engine_request req = greedy_request(prompt, 4);
    Generation g;
    const hc1_engine_callbacks cb = g.callbacks();

    EXPECT_EQ(hc1_engine_ctx_create(e, 4), -HC1_ENGINE_ECTX);
    EXPECT_EQ(hc1_engine_generate(e, 0, &req, &cb), -HC1_ENGINE_ECTX); // not created
    EXPECT_EQ(hc1_engine_cancel(e, 0), -HC1_ENGINE_ECTX);
    EXPECT_EQ(hc1_engine_ctx_destroy(e, 0), -HC1_ENGINE_ECTX);
    EXPECT_EQ(hc1_engine_ctx_create(e, 0), 0);
    EXPECT_EQ(hc1_engine_ctx_create(e, 0), -HC1_ENGINE_EEXIST);
    EXPECT_EQ(hc1_engine_generate(e, 9, &req, &cb), -HC1_ENGINE_ECTX);

    auto bad = [&](auto mutate, int code) {
        hc1_engine_request r = req;
        mutate(r);
        EXPECT_EQ(hc1_engine_generate(e, 0, &r, &cb), -code);
    };
    bad([](auto& r) { r.max_tokens = 0; }, HC1_ENGINE_EINVAL);
    bad([](auto& r) { r.n_stop = 9; }, HC1_ENGINE_EINVAL);
    bad([](auto& r) { r.temperature = -1.0f; }, HC1_ENGINE_EINVAL);
    bad([](auto& r) { r.temperature = std::numeric_limits<float>::quiet_NaN(); },
        HC1_ENGINE_EINVAL);
    bad([](auto& r) { r.temperature = std::numeric_limits<float>::infinity(); }, HC1_ENGINE_EINVAL);
    bad([](auto& r) { r.top_p = std::numeric_limits<float>::quiet_NaN(); }, HC1_ENGINE_EINVAL);
    bad([](auto& r) { r.n_prompt = 0; }, HC1_ENGINE_EINVAL);
    bad([](auto& r) { r.prompt = nullptr; }, HC1_ENGINE_EINVAL);
    const std::vector<uint32_t> out_of_vocab{1, 16};
    bad([&](auto& r) { r.prompt = out_of_vocab.data(), r.n_prompt = 2; }, HC1_ENGINE_ETOKEN);
    const std::vector<uint32_t> too_long(17, 4);
    bad([&](auto& r) { r.prompt = too_long.data(), r.n_prompt = 17; }, HC1_ENGINE_ETOOLONG);
    EXPECT_EQ(hc1_engine_generate(e, 0, nullptr, &cb), -HC1_ENGINE_EINVAL);

    // Busy while a generation is pending.
    hc1_engine_set_stall(e, 1);
    ASSERT_EQ(hc1_engine_generate(e, 0, &req, &cb), 0);
    Generation other;
    const hc1_engine_callbacks cb2 = other.callbacks();
    EXPECT_EQ(hc1_engine_generate(e, 0, &req, &cb2), -HC1_ENGINE_EBUSY);
    hc1_engine_set_stall(e, 0);
    g.wait();
    EXPECT_EQ(g.finish, HC1_ENGINE_FINISH_LENGTH);
    EXPECT_EQ(g.n_generated, 4u);
    EXPECT_EQ(g.tokens.size(), 4u);
    EXPECT_EQ(other.done_calls, 0);
}

TEST_F(SyntheticEngine, FinishReasons) {
    ASSERT_EQ(hc1_engine_ctx_create(e_.get(), 0), 0);
    // Free run to the end of the context, EOS ignored: 16 positions, a
    // 3-token prompt, so 14 tokens (the last is sampled but never fed).
    const std::vector<uint32_t> prompt{1, 4, 5};
    hc1_engine_request req = greedy_request(prompt, 100);
    req.ignore_eos = 1;
    Outcome free = generate(0, req);
    EXPECT_EQ(free.finish, HC1_ENGINE_FINISH_CONTEXT);
    ASSERT_EQ(free.n_generated, 14u);
    EXPECT_EQ(free.n_prompt, 3u);

    // Max tokens.
    req.max_tokens = 5;
    Outcome len = generate(0, req);
    EXPECT_EQ(len.finish, HC1_ENGINE_FINISH_LENGTH);
    EXPECT_EQ(len.tokens, std::vector<uint32_t>(free.tokens.begin(), free.tokens.begin() + 5));

    // A stop token ends at its first occurrence and is reported.
    req.max_tokens = 100;
    req.stop[0] = 999; // outside the vocabulary: never matches
    req.stop[1] = free.tokens[3];
    req.n_stop = 2;
    Outcome stop = generate(0, req);
    const auto first = std::find(free.tokens.begin(), free.tokens.end(), free.tokens[3]);
    EXPECT_EQ(stop.finish, HC1_ENGINE_FINISH_STOP);
    EXPECT_EQ(stop.tokens, std::vector<uint32_t>(free.tokens.begin(), first + 1));
    EXPECT_EQ(stop.n_generated, stop.tokens.size());

    // EOS ends generation unless ignored: sample (seeded, so repeatable)
    // until a run produces EOS (token 2), then check the engine stops there.
    bool saw_eos = false;
    for (uint64_t seed = 0; seed < 200 && !saw_eos; seed++) {
        hc1_engine_request r = greedy_request(prompt, 100);
        r.temperature = 1.0f;
        r.seed = seed;
        r.ignore_eos = 1;
        Outcome ignored = generate(0, r);
        const auto eos = std::find(ignored.tokens.begin(), ignored.tokens.end(), 2u);
        if (eos == ignored.tokens.end())
            continue;
        saw_eos = true;
        r.ignore_eos = 0;
        Outcome stopped = generate(0, r);
        EXPECT_EQ(stopped.finish, HC1_ENGINE_FINISH_EOS);
        EXPECT_EQ(stopped.tokens, std::vector<uint32_t>(ignored.tokens.begin(), eos));
    }
    EXPECT_TRUE(saw_eos) << "no prompt of the synthetic model reaches EOS";
}

TEST_F(SyntheticEngine, KeepCacheContinuesTheConversation) {
    ASSERT_EQ(hc1_engine_ctx_create(e_.get(), 0), 0);
    ASSERT_EQ(hc1_engine_ctx_create(e_.get(), 1), 0);
    // Turn 1, then turn 2 on the kept cache...
    const std::vector<uint32_t> a{1, 4, 5}, b{6, 7};
    hc1_engine_request r1 = greedy_request(a, 3);
    r1.ignore_eos = 1;
    Outcome t1 = generate(0, r1);
    ASSERT_EQ(t1.tokens.size(), 3u);
    hc1_engine_request r2 = greedy_request(b, 4);
    r2.ignore_eos = 1;
    r2.keep_cache = 1;
    Outcome t2 = generate(0, r2);
    // ... equals one generation over the whole history.
    std::vector<uint32_t> all = a;
    all.insert(all.end(), t1.tokens.begin(), t1.tokens.end());
    all.insert(all.end(), b.begin(), b.end());
    hc1_engine_request whole = greedy_request(all, 4);
    whole.ignore_eos = 1;
    Outcome w = generate(1, whole);
    EXPECT_EQ(t2.tokens, w.tokens);
    EXPECT_EQ(t2.n_prompt, 2u);

    // Continuing with no new prompt feeds just the last generated token.
    hc1_engine_request r3 = greedy_request({}, 2);
    r3.keep_cache = 1;
    r3.ignore_eos = 1;
    r3.prompt = nullptr;
    Outcome t3 = generate(0, r3);
    EXPECT_EQ(t3.tokens.size(), 2u);
    // 13 of 16 positions hold tokens and one token is pending: the pending
    // token and 3 more do not fit.
    const std::vector<uint32_t> more{4, 4, 4};
    hc1_engine_request r4 = greedy_request(more, 1);
    r4.keep_cache = 1;
    Generation g;
    const hc1_engine_callbacks cb = g.callbacks();
    EXPECT_EQ(hc1_engine_generate(e_.get(), 0, &r4, &cb), -HC1_ENGINE_ETOOLONG);
    // Without keep_cache the context starts over.
    r4.keep_cache = 0;
    EXPECT_EQ(hc1_engine_generate(e_.get(), 0, &r4, &cb), 0);
    g.wait();
    EXPECT_EQ(g.n_generated, 1u);
}

TEST_F(SyntheticEngine, CancelStalledAndRunning) {
    hc1_engine* e = e_.get();
    ASSERT_EQ(hc1_engine_ctx_create(e, 0), 0);
    const std::vector<uint32_t> prompt{1, 4};
    hc1_engine_request req = greedy_request(prompt, 10);
    req.ignore_eos = 1;

    // Stalled: nothing is produced, cancel ends it with no tokens.
    hc1_engine_set_stall(e, 1);
    Generation g;
    const hc1_engine_callbacks cb = g.callbacks();
    ASSERT_EQ(hc1_engine_generate(e, 0, &req, &cb), 0);
    std::this_thread::sleep_for(30ms);
    {
        std::lock_guard lk(g.mu);
        EXPECT_TRUE(g.tokens.empty());
        EXPECT_FALSE(g.done);
    }
    EXPECT_EQ(hc1_engine_cancel(e, 0), 0);
    g.wait();
    EXPECT_EQ(g.finish, HC1_ENGINE_FINISH_CANCELLED);
    EXPECT_EQ(g.n_generated, 0u);
    hc1_engine_set_stall(e, 0);

    // Cancel from the token callback (allowed): the generation ends early.
    struct Canceller {
        Generation g;
        hc1_engine* e;
        std::atomic<int> seen{0};
    } c;
    c.e = e;
    hc1_engine_callbacks ccb = c.g.callbacks();
    ccb.opaque = &c;
    ccb.token = [](void* o, uint32_t ctx, uint32_t t) {
        auto* c = static_cast<Canceller*>(o);
        {
            std::lock_guard lk(c->g.mu);
            c->g.tokens.push_back(t);
        }
        if (++c->seen == 2)
            hc1_engine_cancel(c->e, ctx);
    };
    ccb.done = [](void* o, uint32_t ctx, int f, uint32_t np, uint32_t ng) {
        Generation::on_done(&static_cast<Canceller*>(o)->g, ctx, f, np, ng);
    };
    ASSERT_EQ(hc1_engine_generate(e, 0, &req, &ccb), 0);
    c.g.wait();
    EXPECT_EQ(c.g.finish, HC1_ENGINE_FINISH_CANCELLED);
    EXPECT_EQ(c.g.n_generated, 2u);
    EXPECT_EQ(c.g.tokens.size(), 2u);
}

// The pacing hook (HC1_TEST_SLOW_ENGINE): every step takes at least its
// time, the tokens are the unpaced ones, and a cancel ends the wait at once.
TEST_F(SyntheticEngine, PacedStepsKeepTheirTokensAndCancelAtOnce) {
    hc1_engine* e = e_.get();
    ASSERT_EQ(hc1_engine_ctx_create(e, 0), 0);
    const std::vector<uint32_t> prompt{1, 4};
    hc1_engine_request req = greedy_request(prompt, 6);
    req.ignore_eos = 1;
    const Outcome fast = generate(0, req);

    // A prefill step and 5 decode steps (the 6th token is sampled, not fed),
    // each at least 20 ms: a lower bound, which no scheduling can break.
    hc1_engine_set_step_time(e, 20000);
    const auto t0 = std::chrono::steady_clock::now();
    const Outcome paced = generate(0, req);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 6 * 20ms);
    EXPECT_EQ(paced.tokens, fast.tokens);
    EXPECT_EQ(paced.finish, HC1_ENGINE_FINISH_LENGTH);

    // An hour a step: only the cancel, waking the paced wait, can end it.
    hc1_engine_set_step_time(e, 3600u * 1000 * 1000);
    Generation g;
    const hc1_engine_callbacks cb = g.callbacks();
    ASSERT_EQ(hc1_engine_generate(e, 0, &req, &cb), 0);
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(hc1_engine_cancel(e, 0), 0);
    g.wait();
    EXPECT_EQ(g.finish, HC1_ENGINE_FINISH_CANCELLED);
    EXPECT_LT(g.n_generated, 6u);
    hc1_engine_set_step_time(e, 0);
}

TEST_F(SyntheticEngine, ResetWaitsForEveryDoneAndDestroysContexts) {
    hc1_engine* e = e_.get();
    const std::vector<uint32_t> prompt{1, 4};
    hc1_engine_request req = greedy_request(prompt, 10);
    std::vector<Generation> gens(3);
    hc1_engine_set_stall(e, 1);
    for (uint32_t i = 0; i < 3; i++) {
        ASSERT_EQ(hc1_engine_ctx_create(e, i), 0);
        const hc1_engine_callbacks cb = gens[i].callbacks();
        ASSERT_EQ(hc1_engine_generate(e, i, &req, &cb), 0);
    }
    hc1_engine_reset(e); // stalled, yet reset completes
    for (auto& g : gens) {
        std::lock_guard lk(g.mu);
        EXPECT_EQ(g.done_calls, 1);
        EXPECT_EQ(g.finish, HC1_ENGINE_FINISH_CANCELLED);
    }
    Generation g;
    const hc1_engine_callbacks cb = g.callbacks();
    EXPECT_EQ(hc1_engine_generate(e, 0, &req, &cb), -HC1_ENGINE_ECTX);
    hc1_engine_set_stall(e, 0);
    // Contexts can be created again.
    EXPECT_EQ(hc1_engine_ctx_create(e, 0), 0);
    Outcome again = generate(0, req);
    EXPECT_GT(again.n_generated, 0u);
}

TEST_F(SyntheticEngine, DestroyCancelsAndWaits) {
    hc1_engine* e = e_.get();
    ASSERT_EQ(hc1_engine_ctx_create(e, 2), 0);
    const std::vector<uint32_t> prompt{1, 4};
    const hc1_engine_request req = greedy_request(prompt, 10);
    Generation g;
    const hc1_engine_callbacks cb = g.callbacks();
    hc1_engine_set_stall(e, 1);
    ASSERT_EQ(hc1_engine_generate(e, 2, &req, &cb), 0);
    EXPECT_EQ(hc1_engine_ctx_destroy(e, 2), 0);
    {
        std::lock_guard lk(g.mu);
        EXPECT_EQ(g.done_calls, 1); // before destroy returned
    }
    EXPECT_EQ(hc1_engine_ctx_destroy(e, 2), -HC1_ENGINE_ECTX);
    hc1_engine_set_stall(e, 0);
}

TEST_F(SyntheticEngine, CloseWithGenerationsRunning) {
    std::vector<Generation> gens(4);
    const std::vector<uint32_t> prompt{1, 4};
    hc1_engine_request req = greedy_request(prompt, 14);
    req.ignore_eos = 1;
    for (uint32_t i = 0; i < 4; i++) {
        ASSERT_EQ(hc1_engine_ctx_create(e_.get(), i), 0);
        const hc1_engine_callbacks cb = gens[i].callbacks();
        ASSERT_EQ(hc1_engine_generate(e_.get(), i, &req, &cb), 0);
    }
    e_.reset(); // close
    for (auto& g : gens)
        EXPECT_EQ(g.done_calls, 1);
}

TEST(EngineInfo, Stories260K) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    auto fp32 = open_stories(HC1_ENGINE_FP32);
    auto int8 = open_stories(HC1_ENGINE_INT8);
    hc1_engine_info a, b;
    hc1_engine_get_info(fp32.get(), &a);
    hc1_engine_get_info(int8.get(), &b);
    EXPECT_STREQ(a.name, "stories260K");
    EXPECT_STREQ(a.arch, "llama");
    EXPECT_EQ(a.dim, 64u);
    EXPECT_EQ(a.hidden_dim, 172u);
    EXPECT_EQ(a.n_layers, 5u);
    EXPECT_EQ(a.n_heads, 8u);
    EXPECT_EQ(a.n_kv_heads, 4u);
    EXPECT_EQ(a.vocab_size, 512u);
    EXPECT_EQ(a.context_len, 512u);
    EXPECT_EQ(a.bos_id, 1u);
    EXPECT_EQ(a.eos_id, 2u);
    EXPECT_EQ(a.n_params, 260032u);
    EXPECT_EQ(a.format, uint32_t(HC1_ENGINE_FP32));
    EXPECT_EQ(a.group_size, 0u);
    EXPECT_EQ(b.format, uint32_t(HC1_ENGINE_INT8));
    EXPECT_EQ(b.group_size, 32u);
    // fp32 keeps every weight: 4 bytes each plus the header and alignment.
    EXPECT_GE(a.weight_bytes, 4 * a.n_params);
    EXPECT_LT(a.weight_bytes, 4 * a.n_params + 64 * 64);
    EXPECT_LT(b.weight_bytes, a.weight_bytes / 3);
    EXPECT_NE(std::memcmp(a.sha256, b.sha256, 32), 0);
    auto again = open_stories(HC1_ENGINE_FP32);
    hc1_engine_info c;
    hc1_engine_get_info(again.get(), &c);
    EXPECT_EQ(std::memcmp(a.sha256, c.sha256, 32), 0);

    // The KV-cache format: per position, 5 layers x 4 KV heads x 8
    // dimensions, keys and values: 4 bytes each in f32, 2 in f16, 1 plus a
    // 4-byte scale per head in int8.  The weights do not depend on it.
    EXPECT_EQ(a.kv_format, uint32_t(HC1_ENGINE_KV_F32));
    EXPECT_EQ(a.kv_bytes, 512u * 2 * 5 * 4 * 8 * 4);
    for (auto [kv, bytes] : {std::pair{HC1_ENGINE_KV_F16, 512u * 2 * 5 * 4 * 8 * 2},
                             std::pair{HC1_ENGINE_KV_INT8, 512u * 2 * 5 * 4 * (8 + 4)}}) {
        auto e = open_stories(HC1_ENGINE_FP32, 1, 1, kv);
        hc1_engine_info d;
        hc1_engine_get_info(e.get(), &d);
        EXPECT_EQ(d.kv_format, uint32_t(kv));
        EXPECT_EQ(d.kv_bytes, bytes);
        EXPECT_EQ(std::memcmp(a.sha256, d.sha256, 32), 0);
    }
    hc1_engine_config bad{};
    bad.model_path = "unused";
    bad.kv_format = 3;
    char err[128] = "";
    EXPECT_EQ(hc1_engine_open(&bad, err, sizeof err), nullptr);
    EXPECT_STREQ(err, "unknown KV-cache format");

    // The vocabulary as the card exposes it.
    uint32_t len = 0;
    float score = 1;
    const char* piece = hc1_engine_token(fp32.get(), 1, &len, &score);
    ASSERT_NE(piece, nullptr);
    EXPECT_GT(len, 0u);
    EXPECT_EQ(hc1_engine_token(fp32.get(), 512, &len, &score), nullptr);
    EXPECT_LE(len, a.max_token_len);

    // busy_ns counts computing time.
    EXPECT_EQ(hc1_engine_busy_ns(fp32.get()), 0u);
    Generation g;
    const std::vector<uint32_t> prompt{1};
    run(fp32.get(), 0, greedy_request(prompt, 20), g);
    EXPECT_GT(hc1_engine_busy_ns(fp32.get()), 0u);
}

TEST(CpuList, ParsesWhatTasksetWrites) {
    EXPECT_EQ(parse_cpu_list(""), std::vector<uint32_t>{});
    EXPECT_EQ(parse_cpu_list("1"), std::vector<uint32_t>{1});
    EXPECT_EQ(parse_cpu_list("0,2-4"), (std::vector<uint32_t>{0, 2, 3, 4}));
    EXPECT_EQ(parse_cpu_list("3,1,1-1"), (std::vector<uint32_t>{1, 3}));
    for (const char* bad : {"a", "1-", "-1", "5-3", "1,", ",1", "1,,2", "1024", "0-99999", "1 "})
        EXPECT_THROW(parse_cpu_list(bad), Error) << bad;
}

// Pinned threads still generate; a CPU the process may not use is a clear
// error at open, not a thread left running anywhere.
TEST_F(SyntheticEngine, EngineCpus) {
    char err[256] = "";
    hc1_engine_config cfg{};
    const std::string model = model_.path(), tok = tok_.path();
    cfg.model_path = model.c_str();
    cfg.tokenizer_path = tok.c_str();
    cfg.format = HC1_ENGINE_FP32;
    cfg.n_contexts = 1;
    cfg.n_threads = 2;
    cpu_set_t mine;
    ASSERT_EQ(sched_getaffinity(0, sizeof(mine), &mine), 0);
    uint32_t first = 0;
    while (!CPU_ISSET(first, &mine))
        first++;
    const std::string ok = std::to_string(first);
    cfg.cpus = ok.c_str();
    EnginePtr pinned(hc1_engine_open(&cfg, err, sizeof err));
    ASSERT_TRUE(pinned) << err;
    ASSERT_EQ(hc1_engine_ctx_create(pinned.get(), 0), 0);
    Generation g;
    const hc1_engine_callbacks cb = g.callbacks();
    const std::vector<uint32_t> prompt{1, 4, 5};
    const hc1_engine_request req = greedy_request(prompt, 4);
    ASSERT_EQ(hc1_engine_generate(pinned.get(), 0, &req, &cb), 0);
    g.wait();
    EXPECT_EQ(g.outcome().n_generated, 4u);

    cfg.cpus = "1023";
    EXPECT_FALSE(EnginePtr(hc1_engine_open(&cfg, err, sizeof err)));
    EXPECT_NE(std::string(err).find("cannot run the engine threads on CPU(s) 1023"),
              std::string::npos)
        << err;
    cfg.cpus = "x";
    EXPECT_FALSE(EnginePtr(hc1_engine_open(&cfg, err, sizeof err)));
    EXPECT_NE(std::string(err).find("is not a CPU number"), std::string::npos) << err;
}

} // namespace
} // namespace hc1e::test
