// SPDX-License-Identifier: MIT
// The fp16 and int8 KV cache formats: the half conversions every kernel
// set uses, the int8 quantization, attention over both, batch invariance,
// and how close their greedy tokens stay to the exact fp32 cache's on the
// recorded prompts.
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string_view>

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

// Attention over int8 caches (element = q * per-position scale, keys in
// KvI8Keys' layout): every set against a plain softmax in double over the
// dequantized keys and values and the query as quantize_query() makes it.
TEST(KvInt8, AttentionMatchesTheDefinition) {
    Rng rng(17);
    for (size_t hs : {8u, 16u, 12u, 6u})
        for (size_t n_pos : {1u, 9u, 64u, 137u})
            for (size_t n_heads : {1u, 2u, 3u}) {
                const size_t tiles = (n_pos + kKvTile - 1) / kKvTile, n = tiles * hs * kKvTile;
                std::vector<uint8_t> k(tiles * kv_i8_key_tile(hs));
                std::vector<int8_t> v(n);
                std::vector<float> ks(tiles * kKvTile), vs(tiles * kKvTile);
                for (size_t t = 0; t < tiles * kKvTile; t++)
                    for (size_t i = 0; i < hs; i++)
                        k[kv_i8_key_index(hs, t, i)] = uint8_t(1 + rng.next() % 255);
                for (int8_t& x : v)
                    x = int8_t(int(rng.next() % 255) - 127);
                for (size_t t = 0; t < ks.size(); t++) {
                    ks[t] = (0.5f + rng.uniform()) / 127.0f;
                    vs[t] = (0.5f + rng.uniform()) / 127.0f;
                }
                std::vector<float> q(n_heads * hs);
                for (float& x : q)
                    x = rng.uniform() * 2.0f - 1.0f;
                const double scale = 1.0 / std::sqrt(double(hs));
                // The query the kernels score with.
                std::vector<float> qq(q.size());
                for (size_t h = 0; h < n_heads; h++) {
                    std::vector<int8_t> qi(hs + 4);
                    const float qs = quantize_query(q.data() + h * hs, hs, float(scale), qi.data());
                    for (size_t i = 0; i < hs; i++)
                        qq[h * hs + i] = float(qi[i]) * qs;
                }
                const std::vector<double> expect = reference_attention(
                    qq, n_heads, hs, n_pos, 1.0,
                    [&](size_t t, size_t i) {
                        return (double(k[kv_i8_key_index(hs, t, i)]) - 128.0) * double(ks[t]);
                    },
                    [&](size_t t, size_t i) {
                        return double(v[(t / kKvTile) * hs * kKvTile + i * kKvTile + t % kKvTile]) *
                               double(vs[t]);
                    });
                for (const Kernels* set : all_sets()) {
                    std::vector<float> att(attend_scratch(n_heads, n_pos, hs)), out(n_heads * hs);
                    set->attend_i8(q.data(), n_heads, {k.data(), ks.data()}, {v.data(), vs.data()},
                                   n_pos, hs, float(scale), att.data(), out.data());
                    // avx512 rounds the softmax weights to integers below
                    // 2^14 (2^-14 of the largest at worst): one weight's
                    // rounding moves an output by up to 1.5 * 2^-14 here.
                    const double tolerance = std::string_view(set->name) == "avx512" &&
                                                     (hs == 8 || hs == 16) && n_heads >= 2
                                                 ? 1e-4
                                                 : 1e-5;
                    for (size_t i = 0; i < out.size(); i++)
                        EXPECT_NEAR(out[i], expect[i], tolerance)
                            << set->name << " hs " << hs << " n " << n_pos << " heads " << n_heads;
                }
            }
}

// Long contexts and extreme scales over an int8 cache: equal scores (zero
// keys) give every position the same weight, so each output is the mean of
// its values.  4200 positions of the largest weights avx512 uses add up to
// more than 32 bits hold unless its integer sums are flushed in blocks;
// values that are all zero, or scaled below 2^-87, still give finite
// outputs within their scale of the answer.
TEST(KvInt8, LongContextsAndExtremeScales) {
    for (size_t hs : {8u, 16u})
        for (size_t n_pos : {4200u, 13u})
            for (float vscale : {0.0156f, 0.0f, 1e-30f, 3e-40f}) {
                const size_t tiles = (n_pos + kKvTile - 1) / kKvTile;
                std::vector<uint8_t> k(tiles * kv_i8_key_tile(hs), 128);
                std::vector<int8_t> v(tiles * hs * kKvTile);
                std::vector<float> ks(tiles * kKvTile, 0.01f), vs(tiles * kKvTile, vscale);
                // Dimension i holds 127 - 16 * (i % 16) at every position,
                // negated at odd positions but for the largest values; the
                // positions past n_pos hold stale values and scales.
                double mean[16] = {};
                for (size_t t = 0; t < tiles * kKvTile; t++)
                    for (size_t i = 0; i < hs; i++) {
                        const int x = 127 - 16 * int(i % 16), q = t % 2 && i ? -x : x;
                        const bool stale = t >= n_pos;
                        v[(t / kKvTile) * hs * kKvTile + i * kKvTile + t % kKvTile] =
                            int8_t(stale ? -q : q);
                        if (stale)
                            vs[t] = 1e3f;
                        else
                            mean[i] += double(q) * vscale / double(n_pos);
                    }
                std::vector<float> q(2 * hs, 0.5f);
                for (const Kernels* set : all_sets()) {
                    std::vector<float> att(attend_scratch(2, n_pos, hs)), out(2 * hs);
                    set->attend_i8(q.data(), 2, {k.data(), ks.data()}, {v.data(), vs.data()}, n_pos,
                                   hs, 1.0f, att.data(), out.data());
                    for (size_t h = 0; h < 2; h++)
                        for (size_t i = 0; i < hs; i++)
                            EXPECT_NEAR(out[h * hs + i], mean[i], 1e-4 * 127.0 * vscale)
                                << set->name << " hs " << hs << " n " << n_pos << " scale "
                                << vscale << " head " << h << " dim " << i;
                }
            }
}

// The query is quantized like an activation group, and to zero when it is
// zero.
TEST(KvInt8, QuantizesTheQueryPerHead) {
    const float q[6] = {0.5f, -1.0f, 0.25f, 0.0f, 1.0f / 127.0f, 0.75f};
    int8_t qi[8];
    std::memset(qi, 99, sizeof qi);
    EXPECT_EQ(quantize_query(q, 6, 2.0f, qi), 2.0f / 127.0f);
    const int8_t expect[8] = {64, -127, 32, 0, 1, 95, 0, 0}; // 63.5 and 95.25 round to even
    for (int i = 0; i < 8; i++)
        EXPECT_EQ(qi[i], expect[i]) << i;
    const float zero[2] = {0.0f, -0.0f};
    EXPECT_EQ(quantize_query(zero, 2, 1.0f, qi), 0.0f);
    EXPECT_EQ(qi[0], 0);
    EXPECT_EQ(qi[3], 0);
}

// The cache quantizes each head's key and value at a position on its own:
// scale max|x| / 127, values rounded half to even, a zero vector exact.
TEST(KvInt8, StoresPerPositionAndHeadScales) {
    ModelConfig c;
    c.dim = 32;
    c.hidden_dim = 64;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = 2;
    c.vocab_size = 16;
    c.context_len = 20;
    const uint32_t hs = c.head_size(), kv_dim = c.kv_dim();
    KvCache kv(c, KvFormat::Int8);
    EXPECT_EQ(KvCache::bytes(c, KvFormat::Int8), 2ull * 2 * 2 * 24 * (hs + 4));
    std::vector<float> k(kv_dim), v(kv_dim, 0.0f);
    for (uint32_t i = 0; i < kv_dim; i++)
        k[i] = (i % hs == 3 ? 2.54f : 0.01f * float(i)) * (i % 2 ? -1.0f : 1.0f);
    kv.store(1, 13, k.data(), v.data());
    for (uint32_t h = 0; h < c.n_kv_heads; h++) {
        float xmax = 0.0f;
        for (uint32_t i = 0; i < hs; i++)
            xmax = std::max(xmax, std::fabs(k[h * hs + i]));
        EXPECT_EQ(kv.key_scales(1, h)[13], xmax / 127.0f);
        EXPECT_EQ(kv.value_scales(1, h)[13], 0.0f);
        const size_t tile = size_t(13 / kKvTile) * hs * kKvTile + 13 % kKvTile;
        for (uint32_t i = 0; i < hs; i++) {
            const int q = int(kv.keys_i8(1, h)[kv_i8_key_index(hs, 13, i)]) - 128;
            EXPECT_EQ(q, int(std::nearbyint(k[h * hs + i] * (127.0f / xmax))));
            EXPECT_NEAR(q * kv.key_scales(1, h)[13], k[h * hs + i], xmax / 254.0f * 1.0001f);
            EXPECT_EQ(kv.values_i8(1, h)[tile + i * kKvTile], 0);
        }
        // The largest magnitude is the scale's own: +-127.
        EXPECT_EQ(std::abs(int(kv.keys_i8(1, h)[kv_i8_key_index(hs, 13, 3)]) - 128), 127);
    }
    // Other positions and layers untouched.
    EXPECT_EQ(kv.key_scales(0, 0)[13], 0.0f);
    EXPECT_EQ(kv.key_scales(1, 0)[12], 0.0f);
}

TEST(KvInt8, RoundsHalfToEvenLikeNearbyint) {
    Rng rng(23);
    std::vector<float> x{0.5f,  1.5f,   2.5f,    -0.5f,       -1.5f,
                         -2.5f, 126.5f, -127.0f, 0.49999997f, -0.0f};
    for (int i = 0; i < 100000; i++)
        x.push_back((rng.uniform() * 2.0f - 1.0f) * 127.0f);
    for (float v : x)
        ASSERT_EQ(round_half_even(v), std::nearbyint(v)) << v;
}

TEST(KvFormats, NamesRoundTrip) {
    for (KvFormat f : {KvFormat::Fp32, KvFormat::Fp16, KvFormat::Int8}) {
        KvFormat g = KvFormat::Fp32;
        ASSERT_TRUE(parse_kv_format(kv_format_name(f), g));
        EXPECT_EQ(g, f);
    }
    KvFormat g;
    EXPECT_FALSE(parse_kv_format("fp32", g));
    EXPECT_FALSE(parse_kv_format("", g));
    EXPECT_FALSE(parse_kv_format("int4", g));
}

struct Model {
    SourceModel src = load_llama2c(model_file("stories260K.bin"), model_file("tok512.bin"));
    BurnedModel burned = BurnedModel::burn(src, WeightFormat::Fp32, 0);
};

// Contexts decoded together give bit for bit the logits each gives alone,
// whichever the cache format.
TEST(KvFormats, TogetherEqualsAlone) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    const Model m;
    const Transformer tf(m.burned, kernels());
    const uint32_t vocab = m.burned.config().vocab_size, n_ctx = 5, steps = 40;
    for (KvFormat format : {KvFormat::Fp32, KvFormat::Fp16, KvFormat::Int8}) {
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

struct Agreement {
    size_t n = 0, prefix = 0, agree = 0;
};

// @format's greedy tokens against the fp32 cache's after @prompt until the
// context is full: how many stay identical free-running, and how many next
// tokens agree when fed the fp32 cache's sequence.
Agreement agreement(const BurnedModel& burned, const Tokenizer& tok, const char* prompt_text,
                    KvFormat format, const char* what) {
    const Transformer tf(burned, kernels());
    const std::vector<uint32_t> prompt = tok.encode(prompt_text, true, false);
    const uint32_t n = burned.config().context_len - static_cast<uint32_t>(prompt.size()) + 1;
    const std::vector<uint32_t> ref = greedy(tf, KvFormat::Fp32, prompt, n);
    const std::vector<uint32_t> free = greedy(tf, format, prompt, n);
    const std::vector<uint32_t> forced = greedy(tf, format, prompt, n, &ref);
    Agreement a;
    a.n = ref.size();
    EXPECT_EQ(a.n, n);
    while (a.prefix < a.n && free[a.prefix] == ref[a.prefix])
        a.prefix++;
    for (size_t i = 0; i < a.n; i++)
        a.agree += forced[i] == ref[i];
    std::printf("%s, %s KV cache, \"%s\": first %zu of %zu greedy tokens identical to the fp32 "
                "cache's, %zu/%zu = %.1f%% next-token agreement on its sequence\n",
                what, kv_format_name(format), prompt_text, a.prefix, a.n, a.agree, a.n,
                100.0 * double(a.agree) / double(a.n));
    return a;
}

// The recorded prompts: stories260K's known answer and hc1-kjv's
// (tests/model/expected-greedy.txt), the repository's default model, one
// directory up from HC1_MODEL_DIR.
constexpr const char* kKjv = "../hc1-kjv.bin";
constexpr const char* kKjvTokenizer = "../hc1-kjv-tok.bin";
TEST(KvF16, SameGreedyTokensAsFp32CacheOverTheWholeContext) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    const Model m;
    const Agreement a = agreement(m.burned, Tokenizer(m.src.vocab), "Once upon a time",
                                  KvFormat::Fp16, "stories260K");
    EXPECT_EQ(a.prefix, a.n);
}

TEST(KvF16, SameGreedyTokensAsFp32CacheOnHc1Kjv) {
    HC1E_REQUIRE_MODEL(kKjv);
    const SourceModel src = load_llama2c(model_file(kKjv), model_file(kKjvTokenizer));
    const BurnedModel burned = BurnedModel::burn(src, WeightFormat::Fp32, 0);
    const Agreement a =
        agreement(burned, Tokenizer(src.vocab), "And the LORD said", KvFormat::Fp16, "hc1-kjv");
    EXPECT_EQ(a.prefix, a.n);
}

TEST(KvInt8, AgreesWithFp32CacheOnNextTokens) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    const Model m;
    const Agreement a = agreement(m.burned, Tokenizer(m.src.vocab), "Once upon a time",
                                  KvFormat::Int8, "stories260K");
    EXPECT_GE(a.agree * 100, a.n * 95);
}

TEST(KvInt8, AgreesWithFp32CacheOnHc1Kjv) {
    HC1E_REQUIRE_MODEL(kKjv);
    const SourceModel src = load_llama2c(model_file(kKjv), model_file(kKjvTokenizer));
    const BurnedModel burned = BurnedModel::burn(src, WeightFormat::Fp32, 0);
    const Agreement a =
        agreement(burned, Tokenizer(src.vocab), "And the LORD said", KvFormat::Int8, "hc1-kjv");
    EXPECT_GE(a.agree * 100, a.n * 95);
}

} // namespace
} // namespace hc1e::test
