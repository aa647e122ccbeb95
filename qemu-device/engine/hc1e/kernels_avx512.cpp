// SPDX-License-Identifier: MIT
// AVX-512 kernels.  As in kernels_avx2.cpp, only these functions carry the
// target attribute and they are reached only through avx512_kernels() after
// the CPU was checked, so QEMU linking the engine stays baseline x86-64.
//
// The fp32 matmul reads its own copy of each matrix, packed at load into
// panels of 16 rows interleaved by column: panel p holds, for every k, the
// 16 values w[16p .. 16p+15][k] in one cache line.  One zmm load then feeds
// 16 rows, and a broadcast x[v][k] multiplies it for vector v, so each
// output element is a plain chain of FMAs over k, from k = 0 up, into its
// own lane: no horizontal sums (with dim 64 the row-major kernel spent as
// much on those as on the products), and the same operations whatever the
// batch size, batch position or tile shape (the determinism contract).
#include "kernels.hpp"

#if defined(__x86_64__) && defined(__GNUC__)

#include <immintrin.h>

#include <algorithm>

#define HC1E_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

namespace hc1e {

namespace {

constexpr size_t kPanel = 16; // rows per panel: one zmm of fp32

size_t panels(const Matrix& w) {
    return (w.rows + kPanel - 1) / kPanel;
}

size_t packed_floats(const Matrix& w) {
    return panels(w) * kPanel * w.cols;
}

// Rows past w.rows in the last panel are zeros, so that panel needs no
// special loads; only its stores are masked.
void pack(const Matrix& w, float* packed) {
    for (size_t p = 0; p < panels(w); p++)
        for (size_t k = 0; k < w.cols; k++)
            for (size_t lane = 0; lane < kPanel; lane++) {
                const size_t row = p * kPanel + lane;
                packed[(p * w.cols + k) * kPanel + lane] =
                    row < w.rows ? w.f32[row * w.cols + k] : 0.0f;
            }
}

// P panels x V vectors: P * V independent accumulators, enough to cover
// the FMA latency on both ports (8 or more) while staying in registers.
template <int P, int V>
HC1E_AVX512 inline void tile_f32(const float* panel, size_t n, const float* x, size_t x_stride,
                                 float* out, size_t out_stride, __mmask16 last) {
    __m512 acc[P][V];
#pragma GCC unroll 8
    for (int p = 0; p < P; p++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            acc[p][v] = _mm512_setzero_ps();
    for (size_t k = 0; k < n; k++) {
        __m512 w[P];
#pragma GCC unroll 8
        for (int p = 0; p < P; p++)
            w[p] = _mm512_load_ps(panel + (p * n + k) * kPanel);
#pragma GCC unroll 8
        for (int v = 0; v < V; v++) {
            const __m512 xb = _mm512_set1_ps(x[v * x_stride + k]);
#pragma GCC unroll 8
            for (int p = 0; p < P; p++)
                acc[p][v] = _mm512_fmadd_ps(w[p], xb, acc[p][v]);
        }
    }
#pragma GCC unroll 8
    for (int p = 0; p < P; p++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            _mm512_mask_storeu_ps(out + v * out_stride + p * kPanel,
                                  p + 1 == P ? last : __mmask16(0xffff), acc[p][v]);
}

// All panels for V vectors, P at a time; the last tile holds the matrix's
// last panel, whose stores stop at w.rows.
template <int P, int V>
HC1E_AVX512 inline void panels_f32(const Matrix& w, const float* packed, const float* x,
                                   size_t x_stride, float* out, size_t out_stride) {
    const size_t n = w.cols, np = panels(w), tail = w.rows - (np - 1) * kPanel;
    const __mmask16 last_mask = __mmask16((1u << tail) - 1);
    size_t p = 0;
    for (; p + P <= np; p += P)
        tile_f32<P, V>(packed + p * n * kPanel, n, x, x_stride, out + p * kPanel, out_stride,
                       p + P == np ? last_mask : __mmask16(0xffff));
    for (; p < np; p++)
        tile_f32<1, V>(packed + p * n * kPanel, n, x, x_stride, out + p * kPanel, out_stride,
                       p + 1 == np ? last_mask : __mmask16(0xffff));
}

HC1E_AVX512 void matmul_f32(const Matrix& w, const float* packed, const float* x, size_t x_stride,
                            size_t n_vec, float* out, size_t out_stride) {
    size_t b = 0;
    for (; b + 8 <= n_vec; b += 8)
        panels_f32<2, 8>(w, packed, x + b * x_stride, x_stride, out + b * out_stride, out_stride);
    for (; b + 4 <= n_vec; b += 4)
        panels_f32<4, 4>(w, packed, x + b * x_stride, x_stride, out + b * out_stride, out_stride);
    for (; b + 2 <= n_vec; b += 2)
        panels_f32<4, 2>(w, packed, x + b * x_stride, x_stride, out + b * out_stride, out_stride);
    if (b < n_vec)
        panels_f32<8, 1>(w, packed, x + b * x_stride, x_stride, out + b * out_stride, out_stride);
}

} // namespace

const Kernels* avx512_kernels() {
    static const Kernels* set = []() -> const Kernels* {
        __builtin_cpu_init();
        const Kernels* base = avx2_vnni_kernels();
        if (!base || !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
            !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq"))
            return nullptr;
        static Kernels k = *base;
        k.name = "avx512";
        k.matmul_f32 = matmul_f32;
        k.packed_f32_floats = packed_floats;
        k.pack_f32 = pack;
        return &k;
    }();
    return set;
}

} // namespace hc1e

#else

namespace hc1e {
const Kernels* avx512_kernels() {
    return nullptr;
}
} // namespace hc1e

#endif
