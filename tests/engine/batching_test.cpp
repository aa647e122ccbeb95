// SPDX-License-Identifier: MIT
// Contexts decoded together give exactly the tokens each gives alone:
// batching, thread count and scheduling never change a session's output.
#include <cmath>
#include <thread>
#include <vector>

#include "hc1e/kernels.hpp"
#include "hc1e/sampler.hpp"
#include "hc1e/tokenizer.hpp"
#include "test_util.hpp"

namespace hc1e::test {
namespace {

struct Spec {
    const char* prompt;
    float temperature;
    float top_p;
    uint32_t top_k;
    uint64_t seed;
};

const Spec kSpecs[] = {
    {"Once upon a time", 0.0f, 0.0f, 0, 0},
    {"The cat", 1.0f, 0.0f, 0, 1},
    {"Tom and Lily went to the beach. They saw", 0.8f, 0.9f, 0, 2},
    {"Once upon a time", 0.9f, 0.0f, 40, 3},
    {"A little bird", 0.0f, 0.0f, 0, 0},
    {"One day", 1.2f, 0.95f, 20, 4},
    {"Once upon a time", 1.0f, 0.0f, 0, 1}, // same seed as spec 1, other prompt
    {"Mom said", 0.7f, 0.5f, 0, 99},
};
constexpr uint32_t kMaxTokens = 120;

struct Result {
    std::vector<uint32_t> tokens;
    int finish;
};

hc1_engine_request request_for(const Spec& s, const std::vector<uint32_t>& prompt) {
    hc1_engine_request req = greedy_request(prompt, kMaxTokens);
    req.temperature = s.temperature;
    req.top_p = s.top_p;
    req.top_k = s.top_k;
    req.seed = s.seed;
    return req;
}

std::vector<std::vector<uint32_t>> prompts() {
    Tokenizer tok(load_llama2c_tokenizer(model_file("tok512.bin"), 512));
    std::vector<std::vector<uint32_t>> out;
    for (const Spec& s : kSpecs)
        out.push_back(tok.encode(s.prompt, true, false));
    return out;
}

std::vector<Result> alone(int format, int kv) {
    const auto ps = prompts();
    std::vector<Result> out;
    for (size_t i = 0; i < std::size(kSpecs); i++) {
        auto e = open_stories(format, 1, 1, kv);
        Generation g;
        run(e.get(), 0, request_for(kSpecs[i], ps[i]), g);
        out.push_back({g.tokens, g.finish});
    }
    return out;
}

// Eight contexts: one decode group with one thread; groups of 3, 3 and 2
// taking turns with three.
std::vector<Result> together(int format, uint32_t threads, int kv) {
    const auto ps = prompts();
    const uint32_t n = static_cast<uint32_t>(std::size(kSpecs));
    auto e = open_stories(format, n, threads, kv);
    std::vector<Generation> gens(n);
    hc1_engine_set_stall(e.get(), 1); // all start in the same step
    for (uint32_t i = 0; i < n; i++) {
        EXPECT_EQ(hc1_engine_ctx_create(e.get(), i), 0);
        const hc1_engine_request req = request_for(kSpecs[i], ps[i]);
        const hc1_engine_callbacks cb = gens[i].callbacks();
        EXPECT_EQ(hc1_engine_generate(e.get(), i, &req, &cb), 0);
    }
    hc1_engine_set_stall(e.get(), 0);
    std::vector<Result> out;
    for (auto& g : gens) {
        g.wait();
        out.push_back({g.tokens, g.finish});
    }
    return out;
}

class Batching : public ::testing::TestWithParam<std::tuple<int, uint32_t, bool, int>> {
  protected:
    void TearDown() override { force_portable_kernels(false); }
};

TEST_P(Batching, TogetherEqualsAlone) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    const auto [format, threads, portable, kv] = GetParam();
    force_portable_kernels(portable);
    const auto a = alone(format, kv);
    const auto t = together(format, threads, kv);
    ASSERT_EQ(a.size(), t.size());
    bool sampled_differs = false;
    for (size_t i = 0; i < a.size(); i++) {
        EXPECT_EQ(a[i].tokens, t[i].tokens) << "context " << i;
        EXPECT_EQ(a[i].finish, t[i].finish) << "context " << i;
        EXPECT_FALSE(a[i].tokens.empty());
        sampled_differs |= a[i].tokens != a[0].tokens;
    }
    // The specs really sample differently (the comparison is not vacuous).
    EXPECT_TRUE(sampled_differs);
}

std::string kv_suffix(int kv) {
    return kv == HC1_ENGINE_KV_F16 ? "_kvf16" : kv == HC1_ENGINE_KV_INT8 ? "_kvint8" : "";
}

INSTANTIATE_TEST_SUITE_P(
    Engine, Batching,
    ::testing::Values(std::tuple{HC1_ENGINE_FP32, 1u, false, HC1_ENGINE_KV_F32},
                      std::tuple{HC1_ENGINE_FP32, 2u, false, HC1_ENGINE_KV_F32},
                      std::tuple{HC1_ENGINE_INT8, 1u, false, HC1_ENGINE_KV_F32},
                      std::tuple{HC1_ENGINE_INT8, 3u, false, HC1_ENGINE_KV_F32},
                      std::tuple{HC1_ENGINE_FP32, 2u, true, HC1_ENGINE_KV_F32},
                      std::tuple{HC1_ENGINE_INT8, 1u, true, HC1_ENGINE_KV_F32},
                      std::tuple{HC1_ENGINE_FP32, 1u, false, HC1_ENGINE_KV_F16},
                      std::tuple{HC1_ENGINE_FP32, 3u, false, HC1_ENGINE_KV_INT8},
                      std::tuple{HC1_ENGINE_INT8, 2u, false, HC1_ENGINE_KV_INT8},
                      std::tuple{HC1_ENGINE_FP32, 2u, true, HC1_ENGINE_KV_INT8}),
    [](const auto& info) {
        return std::string(std::get<0>(info.param) == HC1_ENGINE_INT8 ? "int8" : "fp32") + "_" +
               std::to_string(std::get<1>(info.param)) + "threads" +
               (std::get<2>(info.param) ? "_portable" : "") + kv_suffix(std::get<3>(info.param));
    });

TEST(Sampling, SeedsAreDeterministicAndMatter) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    const auto ps = prompts();
    auto e = open_stories(HC1_ENGINE_FP32, 1);
    auto sample = [&](uint64_t seed) {
        Spec s = kSpecs[1];
        s.seed = seed;
        Generation g;
        run(e.get(), 0, request_for(s, ps[1]), g, false);
        return g.tokens;
    };
    ASSERT_EQ(hc1_engine_ctx_create(e.get(), 0), 0);
    const auto a = sample(5), b = sample(5), c = sample(6);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

// argmax runs eight lanes at once; it must still return the lowest index of
// the largest value, wherever it and its ties fall among the lanes and the
// tail.
TEST(Sampling, ArgmaxIsTheLowestIndexOfTheMaximum) {
    Rng rng(7);
    for (size_t n = 1; n <= 40; n++)
        for (int round = 0; round < 200; round++) {
            std::vector<float> v(n);
            for (float& x : v) // few distinct values: many ties
                x = static_cast<float>(rng.next() % 5) - 2.0f;
            uint32_t want = 0;
            for (uint32_t i = 1; i < n; i++)
                if (v[i] > v[want])
                    want = i;
            ASSERT_EQ(argmax(v), want) << "n " << n << " round " << round;
        }
    std::vector<float> v(512, -INFINITY);
    EXPECT_EQ(argmax(v), 0u);
    v[300] = -1.0f;
    v[301] = -1.0f;
    EXPECT_EQ(argmax(v), 300u);
    v[511] = 0.0f;
    EXPECT_EQ(argmax(v), 511u);
}

} // namespace
} // namespace hc1e::test
