// SPDX-License-Identifier: MIT
// Shared helpers for the engine tests.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <vector>

#include "hc1_engine.h"

namespace hc1e::test {

// One KV head's attention in double, for checking the kernels: @n_heads
// query heads of @hs dimensions over positions [0, @n_pos); key(t, i) and
// value(t, i) read position t, dimension i of the cache.
template <class Key, class Value>
std::vector<double> reference_attention(const std::vector<float>& q, size_t n_heads, size_t hs,
                                        size_t n_pos, double scale, Key key, Value value) {
    std::vector<double> out(n_heads * hs);
    for (size_t h = 0; h < n_heads; h++) {
        std::vector<double> w(n_pos);
        double max = -1e300, sum = 0;
        for (size_t t = 0; t < n_pos; t++) {
            for (size_t i = 0; i < hs; i++)
                w[t] += q[h * hs + i] * key(t, i);
            max = std::max(max, w[t] *= scale);
        }
        for (double& x : w)
            sum += (x = std::exp(x - max));
        for (size_t i = 0; i < hs; i++)
            for (size_t t = 0; t < n_pos; t++)
                out[h * hs + i] += w[t] / sum * value(t, i);
    }
    return out;
}

inline std::string model_file(const char* name) {
    return std::string(HC1_MODEL_DIR) + "/" + name;
}

inline bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

#define HC1E_REQUIRE_MODEL(file)                                                                   \
    do {                                                                                           \
        if (!::hc1e::test::exists(::hc1e::test::model_file(file)))                                 \
            FAIL() << "model file " << ::hc1e::test::model_file(file)                              \
                   << " is missing from the repository";                                           \
    } while (0)

struct EngineCloser {
    void operator()(hc1_engine* e) const { hc1_engine_close(e); }
};
using EnginePtr = std::unique_ptr<hc1_engine, EngineCloser>;

inline EnginePtr open_engine(const std::string& model, const std::string& tokenizer, int format,
                             uint32_t n_contexts = 1, uint32_t n_threads = 1,
                             int kv_format = HC1_ENGINE_KV_F32) {
    hc1_engine_config cfg{};
    cfg.model_path = model.c_str();
    cfg.tokenizer_path = tokenizer.empty() ? nullptr : tokenizer.c_str();
    cfg.format = format;
    cfg.n_contexts = n_contexts;
    cfg.n_threads = n_threads;
    cfg.kv_format = kv_format;
    char err[512] = "";
    EnginePtr e(hc1_engine_open(&cfg, err, sizeof err));
    EXPECT_TRUE(e) << err;
    return e;
}

inline EnginePtr open_stories(int format, uint32_t n_contexts = 1, uint32_t n_threads = 1,
                              int kv_format = HC1_ENGINE_KV_F32) {
    return open_engine(model_file("stories260K.bin"), model_file("tok512.bin"), format, n_contexts,
                       n_threads, kv_format);
}

// What a finished generation reported.
struct Outcome {
    std::vector<uint32_t> tokens;
    int finish = 0;
    uint32_t n_prompt = 0, n_generated = 0;
};

// One generation's results, filled by the callbacks.
struct Generation {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<uint32_t> tokens;
    bool done = false;
    int done_calls = 0;
    int finish = 0;
    uint32_t n_prompt = 0, n_generated = 0;

    static void on_token(void* o, uint32_t, uint32_t t) {
        auto* g = static_cast<Generation*>(o);
        std::lock_guard lk(g->mu);
        g->tokens.push_back(t);
    }
    static void on_done(void* o, uint32_t, int finish, uint32_t np, uint32_t ng) {
        auto* g = static_cast<Generation*>(o);
        std::lock_guard lk(g->mu);
        g->done = true;
        g->done_calls++;
        g->finish = finish;
        g->n_prompt = np;
        g->n_generated = ng;
        g->cv.notify_all();
    }
    hc1_engine_callbacks callbacks() {
        hc1_engine_callbacks cb{};
        cb.opaque = this;
        cb.token = on_token;
        cb.done = on_done;
        return cb;
    }
    void wait() {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return done; });
    }
    Outcome outcome() {
        std::lock_guard lk(mu);
        return {tokens, finish, n_prompt, n_generated};
    }
};

inline hc1_engine_request greedy_request(const std::vector<uint32_t>& prompt, uint32_t max_tokens) {
    hc1_engine_request req{};
    req.prompt = prompt.data();
    req.n_prompt = static_cast<uint32_t>(prompt.size());
    req.max_tokens = max_tokens;
    return req;
}

// Runs @req on @ctx (creating it) and waits for the end.
inline void run(hc1_engine* e, uint32_t ctx, const hc1_engine_request& req, Generation& g,
                bool create = true) {
    if (create) {
        ASSERT_EQ(hc1_engine_ctx_create(e, ctx), 0);
    }
    const hc1_engine_callbacks cb = g.callbacks();
    ASSERT_EQ(hc1_engine_generate(e, ctx, &req, &cb), 0);
    g.wait();
}

} // namespace hc1e::test
