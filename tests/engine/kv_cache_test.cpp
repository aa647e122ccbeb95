// SPDX-License-Identifier: MIT
// The fp16 KV cache option: the half conversions every kernel set uses,
// attention over it, batch invariance, and how close its greedy tokens stay
// to the exact fp32 cache's.
#include <bit>
#include <cmath>
#include <cstdio>

#include "hc1e/burn.hpp"
#include "hc1e/kernels.hpp"
#include "hc1e/sampler.hpp"
#include "hc1e/tokenizer.hpp"
#include "hc1e/transformer.hpp"
#include "test_util.hpp"

namespace hc1e::test {
namespace {

std::vector<const Kernels*> all_sets() {
    std::vector<const Kernels*> out{&portable_kernels()};
    for (const Kernels* k : {avx2_kernels(), avx2_vnni_kernels(), avx512_kernels()})
        if (k)
            out.push_back(k);
    return out;
}

TEST(KvF16, EveryHalfRoundTrips) {
    for (uint32_t h = 0; h < 0x10000; h++) {
        const float f = f16_to_f32(uint16_t(h));
        if (std::isnan(f))
            continue;
        ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
    }
    EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
    EXPECT_EQ(f16_to_f32(0x0001), 0x1p-24f);
    EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
}

// Every set rounds like f32_to_f16, ties to even included, on values
// around each rounding boundary, subnormals and overflow among them.
TEST(KvF16, EverySetRoundsToNearestEven) {
    std::vector<float> x{0.0f,       -0.0f,    1.0f + 0x1p-11f, 1.0f + 0x3p-11f, 65504.0f, 65519.0f,
                         65520.0f,   1e6f,     -1e6f,           0x1p-25f,        0x3p-26f, 0x1p-26f,
                         0x1.8p-24f, 0x1p-14f, -0x1.ffcp-15f};
    Rng rng(9);
    for (int i = 0; i < 2000; i++) {
        const float m = rng.uniform() * 2.0f - 1.0f;
        x.push_back(std::ldexp(m, int(rng.next() % 40) - 28));
    }
    std::vector<uint16_t> expect(x.size());
    for (size_t i = 0; i < x.size(); i++)
        expect[i] = f32_to_f16(x[i]);
    EXPECT_EQ(expect[2], 0x3c00);  // a tie rounds to the even 1.0
    EXPECT_EQ(expect[3], 0x3c02);  // and this one up to even
    EXPECT_EQ(expect[6], 0x7c00);  // 65520 rounds to infinity
    EXPECT_EQ(expect[9], 0x0000);  // 2^-25, half the smallest subnormal: to even 0
    EXPECT_EQ(expect[10], 0x0001); // 0.75 * 2^-24: to the nearest subnormal
    EXPECT_EQ(expect[12], 0x0002); // 1.5 * 2^-24, a tie: to the even 2 * 2^-24
    for (const Kernels* k : all_sets())
        for (size_t n : {x.size(), size_t(13), size_t(8), size_t(1)}) {
            std::vector<uint16_t> out(n);
            k->to_f16(x.data(), n, out.data());
            for (size_t i = 0; i < n; i++)
                ASSERT_EQ(out[i], expect[i]) << k->name << " x " << x[i];
        }
}

// Attention over fp16 caches: every set against a plain softmax in double
// over the same (rounded) keys and values.
TEST(KvF16, AttentionMatchesTheDefinition) {
    Rng rng(13);
    for (size_t hs : {8u, 16u, 12u})
        for (size_t n_pos : {1u, 9u, 64u, 137u})
            for (size_t n_heads : {1u, 2u, 3u}) {
                const size_t tiles = (n_pos + kKvTile - 1) / kKvTile, n = tiles * hs * kKvTile;
                std::vector<uint16_t> k(n), v(n);
                for (size_t i = 0; i < n; i++) {
                    k[i] = f32_to_f16(rng.uniform() * 2.0f - 1.0f);
                    v[i] = f32_to_f16(rng.uniform() * 2.0f - 1.0f);
                }
                std::vector<float> q(n_heads * hs);
                for (float& x : q)
                    x = rng.uniform() * 2.0f - 1.0f;
                auto at = [&](const std::vector<uint16_t>& c, size_t t, size_t i) {
                    return double(
                        f16_to_f32(c[(t / kKvTile) * hs * kKvTile + i * kKvTile + t % kKvTile]));
                };
                const double scale = 1.0 / std::sqrt(double(hs));
                const std::vector<double> expect = reference_attention(
                    q, n_heads, hs, n_pos, scale, [&](size_t t, size_t i) { return at(k, t, i); },
                    [&](size_t t, size_t i) { return at(v, t, i); });
                for (const Kernels* ks : all_sets()) {
                    std::vector<float> att(n_heads * tiles * kKvTile), out(n_heads * hs);
                    ks->attend_f16(q.data(), n_heads, k.data(), v.data(), n_pos, hs, float(scale),
                                   att.data(), out.data());
                    for (size_t i = 0; i < out.size(); i++)
                        EXPECT_NEAR(out[i], expect[i], 1e-5)
                            << ks->name << " hs " << hs << " n " << n_pos << " heads " << n_heads;
                }
            }
}

struct Model {
    SourceModel src = load_llama2c(model_file("stories260K.bin"), model_file("tok512.bin"));
    BurnedModel burned = BurnedModel::burn(src, WeightFormat::Fp32, 0);
};

// Contexts decoded together give bit for bit the logits each gives alone,
// whichever the cache format.
TEST(KvF16, TogetherEqualsAlone) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    const Model m;
    const Transformer tf(m.burned, kernels());
    const uint32_t vocab = m.burned.config().vocab_size, n_ctx = 5, steps = 40;
    for (KvFormat format : {KvFormat::Fp32, KvFormat::Fp16}) {
        auto token = [](uint32_t c, uint32_t pos) { return 1 + (c * 131 + pos * 17) % 500; };
        // Alone: one context per pass.
        std::vector<std::vector<float>> alone(n_ctx);
        for (uint32_t c = 0; c < n_ctx; c++) {
            KvCache kv(m.burned.config(), format);
            auto ws = tf.make_workspace(1);
            std::vector<float> logits(vocab);
            for (uint32_t pos = 0; pos < steps; pos++) {
                Row r{&kv, pos, token(c, pos), logits.data()};
                tf.forward({&r, 1}, ws);
                alone[c].insert(alone[c].end(), logits.begin(), logits.end());
            }
        }
        // Together: every context's step in one batch.
        std::vector<KvCache> caches;
        for (uint32_t c = 0; c < n_ctx; c++)
            caches.emplace_back(m.burned.config(), format);
        auto ws = tf.make_workspace(n_ctx);
        std::vector<std::vector<float>> logits(n_ctx, std::vector<float>(vocab));
        for (uint32_t pos = 0; pos < steps; pos++) {
            std::vector<Row> rows;
            for (uint32_t c = 0; c < n_ctx; c++)
                rows.push_back({&caches[c], pos, token(c, pos), logits[c].data()});
            tf.forward(rows, ws);
            for (uint32_t c = 0; c < n_ctx; c++)
                for (uint32_t i = 0; i < vocab; i++)
                    ASSERT_EQ(logits[c][i], alone[c][size_t(pos) * vocab + i])
                        << "format " << int(format) << " context " << c << " pos " << pos;
        }
    }
}

// Greedy tokens of a context with @format cache; with @forced, fed forced[i]
// instead of its own choice (teacher forcing).
std::vector<uint32_t> greedy(const Transformer& tf, KvFormat format,
                             const std::vector<uint32_t>& prompt, uint32_t n,
                             const std::vector<uint32_t>* forced = nullptr) {
    const ModelConfig& c = tf.model().config();
    KvCache kv(c, format);
    auto ws = tf.make_workspace(1);
    std::vector<float> logits(c.vocab_size);
    std::vector<uint32_t> out;
    uint32_t pos = 0;
    for (size_t i = 0; i + 1 < prompt.size(); i++) {
        Row r{&kv, pos++, prompt[i], nullptr};
        tf.forward({&r, 1}, ws);
    }
    uint32_t token = prompt.back();
    while (out.size() < n && pos < c.context_len) {
        Row r{&kv, pos++, token, logits.data()};
        tf.forward({&r, 1}, ws);
        out.push_back(argmax(logits));
        token = forced ? (*forced)[out.size() - 1] : out.back();
    }
    return out;
}

TEST(KvF16, AgreesWithFp32CacheOnGreedyTokens) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    const Model m;
    const Transformer tf(m.burned, kernels());
    Tokenizer tok(m.src.vocab);
    const std::vector<uint32_t> prompt = tok.encode("Once upon a time", true, false);
    const uint32_t n = 512 - static_cast<uint32_t>(prompt.size()) + 1;
    const std::vector<uint32_t> ref = greedy(tf, KvFormat::Fp32, prompt, n);
    const std::vector<uint32_t> free = greedy(tf, KvFormat::Fp16, prompt, n);
    const std::vector<uint32_t> forced = greedy(tf, KvFormat::Fp16, prompt, n, &ref);
    ASSERT_EQ(ref.size(), n);
    size_t prefix = 0, agree = 0;
    while (prefix < n && free[prefix] == ref[prefix])
        prefix++;
    for (size_t i = 0; i < n; i++)
        agree += forced[i] == ref[i];
    std::printf("fp16 KV cache: first %zu of %u greedy tokens identical to the fp32 cache's, "
                "%zu/%u = %.1f%% next-token agreement on its sequence\n",
                prefix, n, agree, n, 100.0 * agree / n);
    EXPECT_GE(agree * 100, n * 95u);
}

} // namespace
} // namespace hc1e::test
