// SPDX-License-Identifier: MIT
// AVX2 + FMA kernels.  Only these functions carry the target attribute, and
// they are reached only through avx2_kernels() after the CPU was checked, so
// the rest of the engine (and QEMU linking it) stays baseline x86-64.
#include "kernels.hpp"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#define HC1E_AVX2 __attribute__((target("avx2,fma")))

namespace hc1e {

namespace {

HC1E_AVX2 inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
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
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            out[v * out_stride + r] = hsum(acc[r][v]);
}

template <int V>
HC1E_AVX2 inline void rows_f32(const Matrix& w, const float* x, size_t x_stride, float* out,
                               size_t out_stride) {
    const size_t n = w.cols;
    size_t i = 0;
    for (; i + 4 <= w.rows; i += 4)
        tile_f32<4, V>(w.f32 + i * n, n, x, x_stride, out + i, out_stride);
    for (; i < w.rows; i++)
        tile_f32<1, V>(w.f32 + i * n, n, x, x_stride, out + i, out_stride);
}

HC1E_AVX2 void matmul_f32(const Matrix& w, const float* x, size_t x_stride, size_t n_vec,
                          float* out, size_t out_stride) {
    size_t b = 0;
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

template <int R, int V>
HC1E_AVX2 inline void tile_q8(const Matrix& w, size_t row, const int8_t* xq, const float* xs,
                              float* out, size_t out_stride) {
    const size_t n = w.cols_padded, groups = w.groups_per_row(), chunks = w.group / 32;
    const int8_t* wq = w.q + row * n;
    const float* ws = w.scales + row * groups;
    __m256 acc[R][V];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            acc[r][v] = _mm256_setzero_ps();
    for (size_t g = 0; g < groups; g++) {
        __m256i isum[R][V];
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
                isum[r][v] = _mm256_setzero_si256();
        for (size_t c = 0; c < chunks; c++) {
            const size_t k = g * w.group + c * 32;
            __m256i xv[V];
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
                xv[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + v * n + k));
#pragma GCC unroll 8
            for (int r = 0; r < R; r++) {
                const __m256i wv =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wq + r * n + k));
#pragma GCC unroll 8
                for (int v = 0; v < V; v++)
                    isum[r][v] = _mm256_add_epi32(isum[r][v], dot32_i8(wv, xv[v]));
            }
        }
#pragma GCC unroll 8
        for (int r = 0; r < R; r++)
#pragma GCC unroll 8
            for (int v = 0; v < V; v++) {
                const __m256 scale = _mm256_set1_ps(ws[r * groups + g] * xs[v * groups + g]);
                acc[r][v] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[r][v]), scale, acc[r][v]);
            }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; r++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            out[v * out_stride + r] = hsum(acc[r][v]);
}

template <int V>
HC1E_AVX2 inline void rows_q8(const Matrix& w, const int8_t* xq, const float* xs, float* out,
                              size_t out_stride) {
    size_t i = 0;
    for (; i + 4 <= w.rows; i += 4)
        tile_q8<4, V>(w, i, xq, xs, out + i, out_stride);
    for (; i < w.rows; i++)
        tile_q8<1, V>(w, i, xq, xs, out + i, out_stride);
}

HC1E_AVX2 void matmul_q8(const Matrix& w, const int8_t* xq, const float* xs, size_t n_vec,
                         float* out, size_t out_stride) {
    const size_t n = w.cols_padded, groups = w.groups_per_row();
    size_t b = 0;
    for (; b + 2 <= n_vec; b += 2)
        rows_q8<2>(w, xq + b * n, xs + b * groups, out + b * out_stride, out_stride);
    if (b < n_vec)
        rows_q8<1>(w, xq + b * n, xs + b * groups, out + b * out_stride, out_stride);
}

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

HC1E_AVX2 void attend(const float* q, const float* k, const float* v, size_t stride, size_t n_pos,
                      size_t head_size, float divisor, float* att, float* out) {
    // Scores.
    const size_t hs8 = head_size & ~size_t(7);
    const __m256 div = _mm256_set1_ps(divisor);
    float max = -__builtin_inff();
    if (head_size == 8) {
        const __m256 qv = _mm256_loadu_ps(q);
        size_t t = 0;
        for (; t + 8 <= n_pos; t += 8) {
            // Eight positions at once: products, then a transpose-free
            // reduction through hadd keeps one score per lane.
            __m256 p[8];
#pragma GCC unroll 8
            for (int j = 0; j < 8; j++)
                p[j] = _mm256_mul_ps(qv, _mm256_loadu_ps(k + (t + j) * stride));
            __m256 s01 = _mm256_hadd_ps(p[0], p[1]), s23 = _mm256_hadd_ps(p[2], p[3]);
            __m256 s45 = _mm256_hadd_ps(p[4], p[5]), s67 = _mm256_hadd_ps(p[6], p[7]);
            __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
            // Lanes: s0123 = [t0 t1 t2 t3 | t0 t1 t2 t3] halves (low, high).
            __m256 lo = _mm256_permute2f128_ps(s0123, s4567, 0x20);
            __m256 hi = _mm256_permute2f128_ps(s0123, s4567, 0x31);
            __m256 s = _mm256_div_ps(_mm256_add_ps(lo, hi), div);
            _mm256_storeu_ps(att + t, s);
        }
        for (; t < n_pos; t++) {
            __m256 p = _mm256_mul_ps(qv, _mm256_loadu_ps(k + t * stride));
            __m256 s01 = _mm256_hadd_ps(p, p);
            __m256 s = _mm256_hadd_ps(s01, s01);
            float lo = _mm_cvtss_f32(_mm256_castps256_ps128(s));
            float hi = _mm_cvtss_f32(_mm256_extractf128_ps(s, 1));
            att[t] = (lo + hi) / divisor;
        }
    } else {
        for (size_t t = 0; t < n_pos; t++) {
            const float* kt = k + t * stride;
            __m256 acc = _mm256_setzero_ps();
            size_t i = 0;
            for (; i < hs8; i += 8)
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kt + i), acc);
            float s = hsum(acc);
            for (; i < head_size; i++)
                s += q[i] * kt[i];
            att[t] = s / divisor;
        }
    }
    for (size_t t = 0; t < n_pos; t++)
        max = att[t] > max ? att[t] : max;

    // Softmax.
    const __m256 mv = _mm256_set1_ps(max);
    __m256 sumv = _mm256_setzero_ps();
    size_t t = 0;
    for (; t + 8 <= n_pos; t += 8) {
        __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(att + t), mv));
        _mm256_storeu_ps(att + t, e);
        sumv = _mm256_add_ps(sumv, e);
    }
    if (t < n_pos) {
        const __m256i m = tail_mask(n_pos - t);
        __m256 e = exp_ps(_mm256_sub_ps(_mm256_maskload_ps(att + t, m), mv));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(att + t, m, e);
        sumv = _mm256_add_ps(sumv, e);
    }
    const float inv = 1.0f / hsum(sumv);

    // Weighted values.
    if (head_size == 8) {
        __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
        size_t u = 0;
        for (; u + 2 <= n_pos; u += 2) {
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(att[u]), _mm256_loadu_ps(v + u * stride), acc0);
            acc1 = _mm256_fmadd_ps(_mm256_set1_ps(att[u + 1]),
                                   _mm256_loadu_ps(v + (u + 1) * stride), acc1);
        }
        if (u < n_pos)
            acc0 = _mm256_fmadd_ps(_mm256_set1_ps(att[u]), _mm256_loadu_ps(v + u * stride), acc0);
        _mm256_storeu_ps(out, _mm256_mul_ps(_mm256_add_ps(acc0, acc1), _mm256_set1_ps(inv)));
        return;
    }
    for (size_t i = 0; i < head_size; i++)
        out[i] = 0.0f;
    for (size_t u = 0; u < n_pos; u++) {
        const float a = att[u] * inv;
        const float* vt = v + u * stride;
        const __m256 av = _mm256_set1_ps(a);
        size_t i = 0;
        for (; i < hs8; i += 8)
            _mm256_storeu_ps(
                out + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(vt + i), _mm256_loadu_ps(out + i)));
        for (; i < head_size; i++)
            out[i] += a * vt[i];
    }
}

const Kernels kAvx2 = {"avx2", matmul_f32, matmul_q8, attend};

} // namespace

const Kernels* avx2_kernels() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &kAvx2;
    return nullptr;
}

} // namespace hc1e

#else

namespace hc1e {
const Kernels* avx2_kernels() {
    return nullptr;
}
} // namespace hc1e

#endif
