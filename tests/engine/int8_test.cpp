// SPDX-License-Identifier: MIT
// int8 group-wise weights against fp32 on 512 greedy tokens.
#include <cstdio>

#include "hc1e/burn.hpp"
#include "hc1e/kernels.hpp"
#include "hc1e/sampler.hpp"
#include "hc1e/tokenizer.hpp"
#include "hc1e/transformer.hpp"
#include "test_util.hpp"

namespace hc1e::test {
namespace {

// Greedy-decodes @n tokens after @prompt with @model; with @forced, feeds
// forced[i] instead of its own choice (teacher forcing) but still records
// its argmax.
std::vector<uint32_t> greedy(const BurnedModel& model, const std::vector<uint32_t>& prompt,
                             uint32_t n, const std::vector<uint32_t>* forced = nullptr) {
    Transformer tf(model, kernels());
    auto ws = tf.make_workspace(1);
    KvCache kv(model.config());
    std::vector<float> logits(model.config().vocab_size);
    std::vector<uint32_t> out;
    uint32_t pos = 0;
    for (size_t i = 0; i + 1 < prompt.size(); i++) {
        Row r{&kv, pos++, prompt[i], nullptr};
        tf.forward({&r, 1}, ws);
    }
    uint32_t token = prompt.back();
    while (out.size() < n && pos < model.config().context_len) {
        Row r{&kv, pos++, token, logits.data()};
        tf.forward({&r, 1}, ws);
        const uint32_t next = argmax(logits);
        out.push_back(next);
        token = forced ? (*forced)[out.size() - 1] : next;
    }
    return out;
}

TEST(Int8, AgreesWithFp32OnGreedyTokens) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    const SourceModel src = load_llama2c(model_file("stories260K.bin"), model_file("tok512.bin"));
    Tokenizer tok(src.vocab);
    const std::vector<uint32_t> prompt = tok.encode("Once upon a time", true, false);
    const uint32_t n = 512 - static_cast<uint32_t>(prompt.size()) + 1;
    const BurnedModel fp32 = BurnedModel::burn(src, WeightFormat::Fp32, 0);
    const std::vector<uint32_t> ref = greedy(fp32, prompt, n);
    ASSERT_EQ(ref.size(), n);

    for (uint32_t group : {32u, 64u}) {
        const BurnedModel q8 = BurnedModel::burn(src, WeightFormat::Int8, group);
        // Free running: the same tokens position by position.
        const std::vector<uint32_t> free = greedy(q8, prompt, n);
        size_t same = 0, prefix = 0;
        for (size_t i = 0; i < n; i++)
            same += free[i] == ref[i];
        while (prefix < n && free[prefix] == ref[prefix])
            prefix++;
        // Teacher forced: on fp32's sequence, how often int8 picks fp32's token.
        const std::vector<uint32_t> forced = greedy(q8, prompt, n, &ref);
        size_t agree = 0;
        for (size_t i = 0; i < n; i++)
            agree += forced[i] == ref[i];
        std::printf("int8 group %u: %zu/%u tokens equal free-running (first %zu identical), "
                    "%zu/%u = %.1f%% next-token agreement on fp32's sequence\n",
                    group, same, n, prefix, agree, n, 100.0 * agree / n);
        EXPECT_GE(agree * 100, n * 95u) << "group " << group;
    }
}

} // namespace
} // namespace hc1e::test
