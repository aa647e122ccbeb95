// SPDX-License-Identifier: MIT
// The known answer: stories260K, fp32, greedy, llama2.c's run semantics
// (BOS first, 200 positions counting the prompt's, BOS ends the text).
#include "hc1e/kernels.hpp"
#include "hc1e/model.hpp"
#include "hc1e/tokenizer.hpp"
#include "reference.hpp"
#include "test_util.hpp"

namespace hc1e::test {
namespace {

constexpr const char* kPrompt = "Once upon a time";
constexpr uint32_t kSteps = 200;
// Prompt pieces after BOS, then the generated text, as llama2.c prints it.
constexpr const char* kKnownText =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. "
    "One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n"
    "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. "
    "She said, \"I want to play with your ball, but I can't find it.\"\n"
    "Lily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what "
    "to do.\"\n"
    "Lily didn't want to help her mom, so she";
constexpr uint32_t kPromptTokens = 5;      // BOS + 4
constexpr uint32_t kGeneratedTokens = 196; // 200 positions - (5 - 1) prompt positions

class KnownAnswer : public ::testing::TestWithParam<bool> {
  protected:
    void TearDown() override { force_portable_kernels(false); }
};

TEST_P(KnownAnswer, Fp32GreedyReproducesLlama2c) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    force_portable_kernels(GetParam());
    auto e = open_stories(HC1_ENGINE_FP32);
    ASSERT_TRUE(e);
    Tokenizer tok(load_llama2c_tokenizer(model_file("tok512.bin"), 512));
    const std::vector<uint32_t> prompt = tok.encode(kPrompt, true, false);
    ASSERT_EQ(prompt.size(), kPromptTokens);

    hc1_engine_request req = greedy_request(prompt, kSteps - kPromptTokens + 1);
    req.stop[0] = tok.bos();
    req.n_stop = 1;
    Generation g;
    run(e.get(), 0, req, g);
    EXPECT_EQ(g.finish, HC1_ENGINE_FINISH_LENGTH);
    EXPECT_EQ(g.n_prompt, kPromptTokens);
    EXPECT_EQ(g.n_generated, kGeneratedTokens);
    ASSERT_EQ(g.tokens.size(), kGeneratedTokens);

    std::vector<uint32_t> all(prompt.begin() + 1, prompt.end());
    all.insert(all.end(), g.tokens.begin(), g.tokens.end());
    EXPECT_EQ(tok.decode_all(all), kKnownText);
}

INSTANTIATE_TEST_SUITE_P(Kernels, KnownAnswer, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "portable" : "simd"; });

TEST(KnownAnswerReference, ScalarReferenceAgrees) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    SourceModel m = load_llama2c(model_file("stories260K.bin"), model_file("tok512.bin"));
    Tokenizer tok(m.vocab);
    const std::vector<uint32_t> prompt = tok.encode(kPrompt, true, false);
    const std::vector<uint32_t> out = reference_greedy(m, prompt, kSteps);
    ASSERT_EQ(out.size(), kGeneratedTokens);
    std::vector<uint32_t> all(prompt.begin() + 1, prompt.end());
    all.insert(all.end(), out.begin(), out.end());
    EXPECT_EQ(tok.decode_all(all), kKnownText);
}

} // namespace
} // namespace hc1e::test
