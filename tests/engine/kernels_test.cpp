// SPDX-License-Identifier: MIT
// Every kernel set against the portable one, and the determinism contract:
// a vector's results do not depend on the batch around it.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "hc1e/kernels.hpp"
#include "hc1e/sampler.hpp"
#include "test_util.hpp"

namespace hc1e {
namespace {

using test::reference_attention;

std::vector<const Kernels*> simd_sets() {
    std::vector<const Kernels*> out;
    for (const Kernels* k : {avx2_kernels(), avx2_vnni_kernels(), avx512_kernels()})
        if (k)
            out.push_back(k);
    return out;
}

std::vector<float> random_floats(size_t n, Rng& rng) {
    std::vector<float> v(n);
    for (float& x : v)
        x = rng.uniform() * 2.0f - 1.0f;
    return v;
}

// A matrix in burned layout: fp32, or int8 with zero-padded groups.
struct TestMatrix {
    TestMatrix(uint32_t rows, uint32_t cols, uint32_t group, Rng& rng)
        : values(random_floats(size_t(rows) * cols, rng)) {
        m.rows = rows;
        m.cols = cols;
        if (!group) {
            m.cols_padded = cols;
            m.f32 = values.data();
            return;
        }
        m.group = group;
        m.cols_padded = (cols + group - 1) / group * group;
        q.resize(size_t(rows) * m.cols_padded);
        scales.resize(size_t(rows) * m.groups_per_row());
        for (uint32_t r = 0; r < rows; r++)
            portable_kernels().quantize(values.data() + size_t(r) * cols, cols, m.cols_padded,
                                        group, q.data() + size_t(r) * m.cols_padded,
                                        scales.data() + size_t(r) * m.groups_per_row());
        m.q = q.data();
        m.scales = scales.data();
    }
    std::vector<float> values, scales;
    std::vector<int8_t> q;
    Matrix m;
};

std::vector<float> run_matmul(const Kernels& k, const Matrix& m, const std::vector<float>& x,
                              size_t n_vec) {
    std::vector<float> out(size_t(m.rows) * n_vec);
    const PackedMatrix packed(k, m);
    if (m.f32) {
        k.matmul_f32(m, packed.get(), x.data(), m.cols, n_vec, out.data(), m.rows);
        return out;
    }
    std::vector<int8_t> xq(size_t(m.cols_padded) * n_vec);
    std::vector<float> xs(size_t(m.groups_per_row()) * n_vec);
    for (size_t v = 0; v < n_vec; v++)
        k.quantize(x.data() + v * m.cols, m.cols, m.cols_padded, m.group,
                   xq.data() + v * m.cols_padded, xs.data() + v * m.groups_per_row());
    k.matmul_q8(m, packed.get(), xq.data(), xs.data(), n_vec, out.data(), m.rows);
    return out;
}

TEST(Kernels, MatmulAgreesAcrossSetsAndBatchSizes) {
    Rng rng(7);
    const std::vector<const Kernels*> sets = simd_sets();
    for (uint32_t group : {0u, 32u, 64u})
        for (auto [rows, cols] :
             {std::pair{64u, 64u}, {172u, 64u}, {64u, 172u}, {13u, 5u}, {1u, 33u}, {512u, 64u}}) {
            TestMatrix t(rows, cols, group, rng);
            const size_t max_vec = 11;
            const std::vector<float> x = random_floats(size_t(cols) * max_vec, rng);
            const auto ref = run_matmul(portable_kernels(), t.m, x, max_vec);
            std::vector<std::vector<float>> avx2_full;
            for (const Kernels* k : sets) {
                const auto full = run_matmul(*k, t.m, x, max_vec);
                for (size_t i = 0; i < full.size(); i++)
                    ASSERT_NEAR(full[i], ref[i], 1e-4f * (1.0f + std::fabs(ref[i])))
                        << k->name << " group " << group << " " << rows << "x" << cols;
                // Any batch size: each vector's results are bit-identical
                // to the full batch's.
                for (size_t n : {size_t(1), size_t(2), size_t(3), size_t(4), size_t(8)}) {
                    for (size_t start = 0; start + n <= max_vec; start += n) {
                        std::vector<float> sub(x.begin() + long(start * cols),
                                               x.begin() + long((start + n) * cols));
                        const auto part = run_matmul(*k, t.m, sub, n);
                        for (size_t i = 0; i < part.size(); i++)
                            ASSERT_EQ(part[i], full[start * rows + i])
                                << k->name << " n_vec " << n << " at " << start;
                    }
                }
                if (k == avx2_kernels() || k == avx2_vnni_kernels())
                    avx2_full.push_back(full);
            }
            // int8 dot products are exact, so the AVX2 sets, which also sum
            // the scaled group sums in the same order, agree bit for bit.
            // (avx512 sums per row lane in another order: it is held to the
            // portable results' tolerance above, and to its own batch
            // invariance.)
            if (group) {
                for (const auto& f : avx2_full)
                    EXPECT_EQ(f, avx2_full.front());
            }
        }
}

TEST(Kernels, QuantizeIsIdenticalEverywhere) {
    Rng rng(3);
    const std::vector<float> x = random_floats(200, rng);
    for (const Kernels* k : simd_sets())
        for (uint32_t group : {32u, 64u}) {
            const size_t padded = (x.size() + group - 1) / group * group;
            std::vector<int8_t> qa(padded), qb(padded);
            std::vector<float> sa(padded / group), sb(padded / group);
            portable_kernels().quantize(x.data(), x.size(), padded, group, qa.data(), sa.data());
            k->quantize(x.data(), x.size(), padded, group, qb.data(), sb.data());
            EXPECT_EQ(qa, qb) << k->name;
            EXPECT_EQ(sa, sb) << k->name;
            for (size_t i = x.size(); i < padded; i++)
                EXPECT_EQ(qa[i], 0);
        }
}

// Attention over a tiled cache: every set against a plain softmax in double,
// for GQA groups of 1 to 3 query heads sharing the KV head (kernels may take
// heads in pairs and the odd one alone).
TEST(Kernels, AttentionMatchesTheDefinition) {
    Rng rng(11);
    std::vector<const Kernels*> sets = simd_sets();
    sets.push_back(&portable_kernels());
    for (size_t hs : {8u, 16u, 12u, 64u})
        for (size_t n_pos : {1u, 7u, 8u, 9u, 64u, 100u, 137u})
            for (size_t n_heads : {1u, 2u, 3u}) {
                const size_t tiles = (n_pos + kKvTile - 1) / kKvTile;
                // Stale garbage in the last tile's unused lanes must not matter.
                std::vector<float> k = random_floats(tiles * hs * kKvTile, rng);
                std::vector<float> v = random_floats(tiles * hs * kKvTile, rng);
                const std::vector<float> q = random_floats(n_heads * hs, rng);
                auto at = [&](const std::vector<float>& c, size_t t, size_t i) {
                    return double(c[(t / kKvTile) * hs * kKvTile + i * kKvTile + t % kKvTile]);
                };
                const double scale = 1.0 / std::sqrt(double(hs));
                const std::vector<double> expect = reference_attention(
                    q, n_heads, hs, n_pos, scale, [&](size_t t, size_t i) { return at(k, t, i); },
                    [&](size_t t, size_t i) { return at(v, t, i); });
                for (const Kernels* ks : sets) {
                    std::vector<float> att(n_heads * tiles * kKvTile), out(n_heads * hs);
                    ks->attend(q.data(), n_heads, k.data(), v.data(), n_pos, hs, float(scale),
                               att.data(), out.data());
                    for (size_t i = 0; i < out.size(); i++)
                        EXPECT_NEAR(out[i], expect[i], 1e-5)
                            << ks->name << " hs " << hs << " n " << n_pos << " heads " << n_heads;
                }
            }
}

TEST(Kernels, SwiGlu) {
    Rng rng(5);
    std::vector<float> x = random_floats(37, rng), y = random_floats(37, rng);
    x[0] = -200.0f; // exp overflow territory: silu is -0
    x[1] = 90.0f;
    for (float& v : x)
        v *= 8.0f;
    for (const Kernels* k : simd_sets()) {
        std::vector<float> a = x, b = x;
        portable_kernels().swiglu(a.data(), y.data(), a.size());
        k->swiglu(b.data(), y.data(), b.size());
        for (size_t i = 0; i < a.size(); i++)
            EXPECT_NEAR(a[i], b[i], 1e-5f * (1.0f + std::fabs(a[i]))) << k->name << " " << i;
        EXPECT_TRUE(std::isfinite(b[0]) && std::isfinite(b[1]));
    }
}

} // namespace
} // namespace hc1e
