// SPDX-License-Identifier: MIT
// AVX2 + FMA kernels.  Only these functions carry the target attribute, and
// they are reached only through avx2_kernels() after the CPU was checked, so
// the rest of the engine (and QEMU linking it) stays baseline x86-64.
#include "kernels.hpp"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#include <algorithm>

#define HC1E_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace hc1e {

namespace {

HC1E_AVX2 inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Eight vectors to one: lane j of the result is the sum of v[j]'s lanes,
// added as ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)).
HC1E_AVX2 inline __m256 hsum8(const __m256 v[8]) {
    const __m256 s01 = _mm256_hadd_ps(v[0], v[1]), s23 = _mm256_hadd_ps(v[2], v[3]);
    const __m256 s45 = _mm256_hadd_ps(v[4], v[5]), s67 = _mm256_hadd_ps(v[6], v[7]);
    const __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20),
                         _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

// One vector's sum in exactly hsum8's order.
HC1E_AVX2 inline float hsum_tree(__m256 v) {
    const __m256 h = _mm256_hadd_ps(v, v);
    const __m256 h2 = _mm256_hadd_ps(h, h);
    return _mm_cvtss_f32(_mm_add_ss(_mm256_castps256_ps128(h2), _mm256_extractf128_ps(h2, 1)));
}

// The sums of an R x V tile of accumulators to out[v * out_stride + r]: a
// full tile of eight reduces all at once, a smaller one pair by pair, each
// sum in the same order either way.
template <int R, int V>
HC1E_AVX2 inline void store_sums(const __m256 (&acc)[R][V], float* out, size_t out_stride) {
    if constexpr (R * V == 8) {
        __m256 flat[8];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
                flat[r * V + v] = acc[r][v];
        const __m256 sums = hsum8(flat);
        if constexpr (V == 1) {
            _mm256_storeu_ps(out, sums);
        } else {
            alignas(32) float s[8];
            _mm256_store_ps(s, sums);
#pragma GCC unroll 8
            for (int r = 0; r < R; r++)
#pragma GCC unroll 8
                for (int v = 0; v < V; v++)
                    out[v * out_stride + r] = s[r * V + v];
        }
    } else {
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
                out[v * out_stride + r] = hsum_tree(acc[r][v]);
    }
}

// Lanes [0, n) set, n in [0, 8].
HC1E_AVX2 inline __m256i tail_mask(size_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), idx);
}

// R rows x V vectors, one 8-lane accumulator per (row, vector); every pair
// sees the same operations as it would in any other tile shape.
template <int R, int V>
HC1E_AVX2 inline void tile_f32(const float* w, size_t n, const float* x, size_t x_stride,
                               float* out, size_t out_stride) {
    __m256 acc[R][V];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            acc[r][v] = _mm256_setzero_ps();
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 xv[V];
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            xv[v] = _mm256_loadu_ps(x + v * x_stride + k);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const __m256 wv = _mm256_loadu_ps(w + r * n + k);
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
                acc[r][v] = _mm256_fmadd_ps(wv, xv[v], acc[r][v]);
        }
    }
    if (k < n) {
        const __m256i m = tail_mask(n - k);
        __m256 xv[V];
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            xv[v] = _mm256_maskload_ps(x + v * x_stride + k, m);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            const __m256 wv = _mm256_maskload_ps(w + r * n + k, m);
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
                acc[r][v] = _mm256_fmadd_ps(wv, xv[v], acc[r][v]);
        }
    }
    store_sums<R, V>(acc, out, out_stride);
}

// Row tile R for V vectors: R * V = 8 independent accumulators, enough to
// keep both FMA ports busy through the 4-cycle latency.
template <int V>
HC1E_AVX2 inline void rows_f32(const Matrix& w, const float* x, size_t x_stride, float* out,
                               size_t out_stride) {
    constexpr int R = 8 / V;
    const size_t n = w.cols;
    size_t i = 0;
    for (; i + R <= w.rows; i += R)
        tile_f32<R, V>(w.f32 + i * n, n, x, x_stride, out + i, out_stride);
    for (; i < w.rows; i++)
        tile_f32<1, V>(w.f32 + i * n, n, x, x_stride, out + i, out_stride);
}

HC1E_AVX2 void matmul_f32(const Matrix& w, const void*, const float* x, size_t x_stride,
                          size_t n_vec, float* out, size_t out_stride) {
    size_t b = 0;
    for (; b + 4 <= n_vec; b += 4)
        rows_f32<4>(w, x + b * x_stride, x_stride, out + b * out_stride, out_stride);
    for (; b + 2 <= n_vec; b += 2)
        rows_f32<2>(w, x + b * x_stride, x_stride, out + b * out_stride, out_stride);
    if (b < n_vec)
        rows_f32<1>(w, x + b * x_stride, x_stride, out + b * out_stride, out_stride);
}

// 32 int8 products summed into 8 int32 lanes (exact: |q| <= 127).
HC1E_AVX2 inline __m256i dot32_i8(__m256i w, __m256i x) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i abs_w = _mm256_sign_epi8(w, w);
    const __m256i x_signed = _mm256_sign_epi8(x, w);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, x_signed), ones);
}

#define HC1E_Q8_TARGET HC1E_AVX2
#define HC1E_Q8_ACCUMULATE(acc, w, x) _mm256_add_epi32(acc, dot32_i8(w, x))
namespace q8_avx2 {
#include "kernels_q8.inc"
} // namespace q8_avx2
#undef HC1E_Q8_TARGET
#undef HC1E_Q8_ACCUMULATE

// AVX-VNNI: one vpdpbusd (unsigned |w| times x with w's sign) replaces
// maddubs + madd + add.
#define HC1E_Q8_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
#define HC1E_Q8_ACCUMULATE(acc, w, x)                                                              \
    _mm256_dpbusd_avx_epi32(acc, _mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w))
namespace q8_vnni {
#include "kernels_q8.inc"
} // namespace q8_vnni
#undef HC1E_Q8_TARGET
#undef HC1E_Q8_ACCUMULATE

// exp(x) for x <= 0 (softmax after subtracting the max): Cephes' expf
// polynomial, about 1 ulp.
HC1E_AVX2 inline __m256 exp_ps(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.33654f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.37626f));
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    const __m256i n =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(n));
}

// Eight cache entries as floats: fp32 as they are, fp16 through F16C
// (exact: every half is a float).
HC1E_AVX2 inline __m256 load8(const float* p) {
    return _mm256_loadu_ps(p);
}

HC1E_AVX2 inline __m256 load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

HC1E_AVX2 inline __m256 load8(const int8_t* p) {
    return _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}

// Scores of one tile (kKvTile positions): sum over i of q[i] * k_tile[i].
template <int HS, typename T>
HC1E_AVX2 inline void scores_fixed(const float* q, const T* k, size_t tiles, float scale,
                                   float* att) {
    __m256 qb[HS];
#pragma GCC unroll 16
    for (int i = 0; i < HS; i++)
        qb[i] = _mm256_set1_ps(q[i] * scale);
    // Four tiles at a time: four independent FMA chains.
    size_t b = 0;
    for (; b + 4 <= tiles; b += 4) {
        const T* k0 = k + b * HS * kKvTile;
        __m256 a[4];
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            a[j] = _mm256_mul_ps(qb[0], load8(k0 + j * HS * kKvTile));
#pragma GCC unroll 16
        for (int i = 1; i < HS; i++)
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++)
                a[j] = _mm256_fmadd_ps(qb[i], load8(k0 + j * HS * kKvTile + i * kKvTile), a[j]);
#pragma GCC unroll 4
        for (int j = 0; j < 4; j++)
            _mm256_storeu_ps(att + (b + j) * kKvTile, a[j]);
    }
    for (; b < tiles; b++) {
        const T* k0 = k + b * HS * kKvTile;
        __m256 a0 = _mm256_mul_ps(qb[0], load8(k0));
#pragma GCC unroll 16
        for (int i = 1; i < HS; i++)
            a0 = _mm256_fmadd_ps(qb[i], load8(k0 + i * kKvTile), a0);
        _mm256_storeu_ps(att + b * kKvTile, a0);
    }
}

template <typename T>
HC1E_AVX2 void scores_any(const float* q, const T* k, size_t hs, size_t tiles, float scale,
                          float* att) {
    for (size_t b = 0; b < tiles; b++) {
        const T* kt = k + b * hs * kKvTile;
        __m256 a = _mm256_setzero_ps();
        for (size_t i = 0; i < hs; i++)
            a = _mm256_fmadd_ps(_mm256_set1_ps(q[i] * scale), load8(kt + i * kKvTile), a);
        _mm256_storeu_ps(att + b * kKvTile, a);
    }
}

// acc + (low byte of each lane - 128) * q.
HC1E_AVX2 inline __m256i key_byte_dot(__m256i acc, __m256i bytes, __m256i low, __m256i bias,
                                      int8_t q) {
    const __m256i kq = _mm256_sub_epi32(_mm256_and_si256(bytes, low), bias);
    return _mm256_add_epi32(acc, _mm256_mullo_epi32(kq, _mm256_set1_epi32(q)));
}

// An int8 cache's scores (KvI8Keys) for the query quantized to @qi with
// scale @qs: exact integer dot products, then float(dot) * (qs * key
// scale) as every set computes them.
HC1E_AVX2 void scores_i8(const int8_t* qi, float qs, const uint8_t* k, const float* ks,
                         size_t head_size, size_t tiles, float* att) {
    const size_t groups = (head_size + 3) / 4, tile = kv_i8_key_tile(head_size);
    const __m256i low = _mm256_set1_epi32(0xff), bias = _mm256_set1_epi32(128);
    const __m256 qsv = _mm256_set1_ps(qs);
    for (size_t b = 0; b < tiles; b++) {
        __m256i acc = _mm256_setzero_si256();
        for (size_t g = 0; g < groups; g++) {
            // Lane t: position t's 4 dimensions 4g .. 4g + 3, one per byte.
            const __m256i kb =
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k + b * tile + g * 32));
            acc = key_byte_dot(acc, kb, low, bias, qi[4 * g]);
            acc = key_byte_dot(acc, _mm256_srli_epi32(kb, 8), low, bias, qi[4 * g + 1]);
            acc = key_byte_dot(acc, _mm256_srli_epi32(kb, 16), low, bias, qi[4 * g + 2]);
            acc = key_byte_dot(acc, _mm256_srli_epi32(kb, 24), low, bias, qi[4 * g + 3]);
        }
        _mm256_storeu_ps(att + b * kKvTile,
                         _mm256_mul_ps(_mm256_cvtepi32_ps(acc),
                                       _mm256_mul_ps(qsv, _mm256_loadu_ps(ks + b * kKvTile))));
    }
}

// @vs: an int8 cache's value scales (null otherwise); with @scored, att
// already holds the scores (scores_i8) and @k is not read.
template <typename T>
HC1E_AVX2 void attend_head(const float* q, const T* k, const T* v, size_t n_pos, size_t head_size,
                           float scale, float* att, float* out, const float* vs = nullptr,
                           bool scored = false) {
    const size_t tiles = (n_pos + kKvTile - 1) / kKvTile;
    if (!scored) {
        if (head_size == 8)
            scores_fixed<8>(q, k, tiles, scale, att);
        else if (head_size == 16)
            scores_fixed<16>(q, k, tiles, scale, att);
        else
            scores_any(q, k, head_size, tiles, scale, att);
    }

    // Softmax over [0, n_pos); the last tile's lanes past n_pos (stale or
    // zero cache entries) get weight 0.
    const __m256i last_mask = tail_mask(n_pos - (tiles - 1) * kKvTile);
    float* last = att + (tiles - 1) * kKvTile;
    _mm256_storeu_ps(last, _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()),
                                            _mm256_loadu_ps(last), _mm256_castsi256_ps(last_mask)));
    __m256 mx = _mm256_loadu_ps(att);
    for (size_t b = 1; b < tiles; b++)
        mx = _mm256_max_ps(mx, _mm256_loadu_ps(att + b * kKvTile));
    mx = _mm256_max_ps(mx, _mm256_permute2f128_ps(mx, mx, 0x01));
    mx = _mm256_max_ps(mx, _mm256_shuffle_ps(mx, mx, 0x4e));
    mx = _mm256_max_ps(mx, _mm256_shuffle_ps(mx, mx, 0xb1));
    __m256 sumv = _mm256_setzero_ps();
    for (size_t b = 0; b < tiles; b++) {
        __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(att + b * kKvTile), mx));
        if (b + 1 == tiles)
            e = _mm256_and_ps(e, _mm256_castsi256_ps(last_mask));
        _mm256_storeu_ps(att + b * kKvTile, e);
        sumv = _mm256_add_ps(sumv, e);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / hsum(sumv));

    // Weighted values, eight head dimensions at a time: one accumulator per
    // dimension, each a tile-wide vector, reduced once at the end.
    for (size_t i0 = 0; i0 < head_size; i0 += 8) {
        const size_t width = std::min<size_t>(8, head_size - i0);
        __m256 acc[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++)
            acc[i] = _mm256_setzero_ps();
        for (size_t b = 0; b < tiles; b++) {
            __m256 a = _mm256_loadu_ps(att + b * kKvTile);
            if (vs)
                a = _mm256_mul_ps(a, _mm256_loadu_ps(vs + b * kKvTile));
            const T* vt = v + b * head_size * kKvTile + i0 * kKvTile;
            if (width == 8) {
#pragma GCC unroll 8
                for (int i = 0; i < 8; i++)
                    acc[i] = _mm256_fmadd_ps(a, load8(vt + i * kKvTile), acc[i]);
            } else {
                for (size_t i = 0; i < width; i++)
                    acc[i] = _mm256_fmadd_ps(a, load8(vt + i * kKvTile), acc[i]);
            }
        }
        const __m256 r = _mm256_mul_ps(hsum8(acc), inv);
        if (width == 8)
            _mm256_storeu_ps(out + i0, r);
        else
            _mm256_maskstore_ps(out + i0, tail_mask(width), r);
    }
}

// silu(x) * y = x / (1 + exp(-x)) * y; exp_ps clamps its argument, so a
// very negative x gives x / huge = -0 as it should.
HC1E_AVX2 void swiglu(float* x, const float* y, size_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), xv));
        _mm256_storeu_ps(
            x + i, _mm256_mul_ps(_mm256_div_ps(xv, _mm256_add_ps(one, e)), _mm256_loadu_ps(y + i)));
    }
    if (i < n) {
        const __m256i m = tail_mask(n - i);
        const __m256 xv = _mm256_maskload_ps(x + i, m);
        const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), xv));
        _mm256_maskstore_ps(
            x + i, m,
            _mm256_mul_ps(_mm256_div_ps(xv, _mm256_add_ps(one, e)), _mm256_maskload_ps(y + i, m)));
    }
}

// The portable quantize() vectorized: same max, same scale, same
// round-half-even, so both kernel sets quantize identically.
HC1E_AVX2 void quantize(const float* x, size_t n, size_t n_padded, size_t group, int8_t* q,
                        float* scales) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (size_t g = 0; g * group < n_padded; g++) {
        const size_t begin = g * group;
        const size_t valid = begin < n ? std::min(group, n - begin) : 0;
        __m256 mx = _mm256_setzero_ps();
        for (size_t j = 0; j < group; j += 8) {
            const size_t left = j < valid ? valid - j : 0;
            const __m256 xv =
                _mm256_maskload_ps(x + begin + j, tail_mask(std::min<size_t>(left, 8)));
            mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, xv));
        }
        mx = _mm256_max_ps(mx, _mm256_permute2f128_ps(mx, mx, 0x01));
        mx = _mm256_max_ps(mx, _mm256_shuffle_ps(mx, mx, 0x4e));
        mx = _mm256_max_ps(mx, _mm256_shuffle_ps(mx, mx, 0xb1));
        const float xmax = _mm256_cvtss_f32(mx);
        scales[g] = xmax / 127.0f;
        const __m256 inv = _mm256_set1_ps(xmax > 0.0f ? 127.0f / xmax : 0.0f);
        for (size_t j = 0; j < group; j += 8) {
            const size_t left = j < valid ? valid - j : 0;
            const __m256 xv =
                _mm256_maskload_ps(x + begin + j, tail_mask(std::min<size_t>(left, 8)));
            const __m256i qi = _mm256_cvtps_epi32(_mm256_mul_ps(xv, inv)); // nearest even
            const __m128i q16 =
                _mm_packs_epi32(_mm256_castsi256_si128(qi), _mm256_extracti128_si256(qi, 1));
            const __m128i q8 = _mm_packs_epi16(q16, q16);
            _mm_storel_epi64(reinterpret_cast<__m128i*>(q + begin + j), q8);
        }
    }
}

template <typename T>
HC1E_AVX2 void attend(const float* q, size_t n_heads, const T* k, const T* v, size_t n_pos,
                      size_t head_size, float scale, float* att, float* out) {
    for (size_t h = 0; h < n_heads; h++)
        attend_head(q + h * head_size, k, v, n_pos, head_size, scale, att, out + h * head_size);
}

HC1E_AVX2 void attend_i8(const float* q, size_t n_heads, KvI8Keys k, KvI8 v, size_t n_pos,
                         size_t head_size, float scale, float* att, float* out) {
    const size_t tiles = (n_pos + kKvTile - 1) / kKvTile;
    int8_t* qi = attend_query_scratch(att, n_heads, n_pos);
    for (size_t h = 0; h < n_heads; h++) {
        const float qs = quantize_query(q + h * head_size, head_size, scale, qi);
        scores_i8(qi, qs, k.q, k.scale, head_size, tiles, att);
        attend_head(q + h * head_size, v.q, v.q, n_pos, head_size, scale, att, out + h * head_size,
                    v.scale, true);
    }
}

// F16C rounds to nearest even like f32_to_f16; the tail goes through a
// zero-padded vector so no lane reads past @n.
HC1E_AVX2 void to_f16(const float* x, size_t n, uint16_t* out) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        alignas(16) uint16_t h[8];
        _mm_store_si128(reinterpret_cast<__m128i*>(h),
                        _mm256_cvtps_ph(_mm256_maskload_ps(x + i, tail_mask(n - i)),
                                        _MM_FROUND_TO_NEAREST_INT));
        for (size_t j = 0; i + j < n; j++)
            out[i + j] = h[j];
    }
}

const Kernels kAvx2 = {
    "avx2", matmul_f32, q8_avx2::matmul_q8, attend<float>, attend<uint16_t>, attend_i8,
    to_f16, swiglu,     quantize,           nullptr,       nullptr};
const Kernels kAvx2Vnni = {
    "avx2+vnni", matmul_f32, q8_vnni::matmul_q8, attend<float>, attend<uint16_t>, attend_i8,
    to_f16,      swiglu,     quantize,           nullptr,       nullptr};

} // namespace

const Kernels* avx2_kernels() {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ||
        !__builtin_cpu_supports("f16c"))
        return nullptr;
    return &kAvx2;
}

const Kernels* avx2_vnni_kernels() {
    __builtin_cpu_init();
    if (!avx2_kernels() || !__builtin_cpu_supports("avxvnni"))
        return nullptr;
    return &kAvx2Vnni;
}

} // namespace hc1e

#else

namespace hc1e {
const Kernels* avx2_kernels() {
    return nullptr;
}
const Kernels* avx2_vnni_kernels() {
    return nullptr;
}
} // namespace hc1e

#endif
