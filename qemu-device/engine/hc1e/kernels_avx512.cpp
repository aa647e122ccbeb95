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

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_ps() and the
// like, self-initialized variables that -W(maybe-)uninitialized reports
// wherever they inline (GCC PR 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#define HC1E_AVX512                                                                                \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

namespace hc1e {

namespace {

constexpr size_t kPanel = 16; // rows per panel: one zmm of fp32

// The best AVX2 set, for what these kernels do not take: head sizes other
// than 8 and 16, an odd head of a GQA group, a matrix without a packed
// copy (groups not a multiple of 4; the burn makes 32 or 64).
const Kernels* g_fallback = nullptr;

size_t panels(const Matrix& w) {
    return (w.rows + kPanel - 1) / kPanel;
}

size_t packed_f32_bytes(const Matrix& w) {
    return panels(w) * kPanel * w.cols * sizeof(float);
}

// Rows past w.rows in the last panel are zeros, so that panel needs no
// special loads; only its stores are masked.
void pack_f32(const Matrix& w, float* packed) {
    for (size_t p = 0; p < panels(w); p++)
        for (size_t k = 0; k < w.cols; k++)
            for (size_t lane = 0; lane < kPanel; lane++) {
                const size_t row = p * kPanel + lane;
                packed[(p * w.cols + k) * kPanel + lane] =
                    row < w.rows ? w.f32[row * w.cols + k] : 0.0f;
            }
}

// A tile's P x V accumulators to out[v * out_stride + p * kPanel + lane];
// @last masks the lanes of the last panel past the matrix's rows.
template <int P, int V>
HC1E_AVX512 inline void store_tile(const __m512 (&acc)[P][V], float* out, size_t out_stride,
                                   __mmask16 last) {
#pragma GCC unroll 8
    for (int p = 0; p < P; p++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            _mm512_mask_storeu_ps(out + v * out_stride + p * kPanel,
                                  p + 1 == P ? last : __mmask16(0xffff), acc[p][v]);
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
    store_tile<P, V>(acc, out, out_stride, last);
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

HC1E_AVX512 void matmul_f32(const Matrix& w, const void* packed_bytes, const float* x,
                            size_t x_stride, size_t n_vec, float* out, size_t out_stride) {
    if (!packed_bytes)
        return g_fallback->matmul_f32(w, nullptr, x, x_stride, n_vec, out, out_stride);
    const float* packed = static_cast<const float*>(packed_bytes);
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

// ---- int8 matmul (AVX-512 VNNI) ----------------------------------------
//
// The same panels of 16 rows, interleaved by groups of 4 columns: one zmm
// holds w[16p .. 16p+15][4j .. 4j+3], and vpdpbusd adds, per row lane, the
// four products with x[v][4j .. 4j+3] broadcast.  vpdpbusd multiplies
// unsigned by signed bytes, so x goes in as x + 128 and the pack stores,
// per row and group, 128 * sum(w) to take back off: the group's integer
// dot product stays exact.  Per panel: the quads (cols_padded * 16 bytes),
// then per group 16 int32 corrections and 16 row scales.

size_t q8_panel_bytes(const Matrix& w) {
    return size_t(w.cols_padded) * kPanel + w.groups_per_row() * kPanel * 8;
}

void pack_q8(const Matrix& w, std::byte* packed) {
    const size_t n = w.cols_padded, groups = w.groups_per_row();
    for (size_t p = 0; p < panels(w); p++) {
        std::byte* panel = packed + p * q8_panel_bytes(w);
        auto* quads = reinterpret_cast<int8_t*>(panel);
        auto* corr = reinterpret_cast<int32_t*>(panel + n * kPanel);
        auto* scales = reinterpret_cast<float*>(panel + n * kPanel + groups * kPanel * 4);
        for (size_t lane = 0; lane < kPanel; lane++) {
            const size_t row = p * kPanel + lane;
            const bool real = row < w.rows;
            for (size_t k = 0; k < n; k++)
                quads[(k / 4) * kPanel * 4 + lane * 4 + k % 4] = real ? w.q[row * n + k] : 0;
            for (size_t g = 0; g < groups; g++) {
                int32_t sum = 0;
                for (size_t k = g * w.group; real && k < (g + 1) * w.group; k++)
                    sum += w.q[row * n + k];
                corr[g * kPanel + lane] = 128 * sum;
                scales[g * kPanel + lane] = real ? w.scales[row * groups + g] : 0.0f;
            }
        }
    }
}

// P panels x V vectors: P * V integer sums for the group under way and as
// many float accumulators, all in registers.  Per output element the
// float operations are one FMA per group, in group order, whatever the
// tile: the determinism contract.
template <int P, int V>
HC1E_AVX512 inline void tile_q8(const Matrix& w, const std::byte* panel, const uint8_t* xu,
                                const float* xs, float* out, size_t out_stride, __mmask16 last) {
    const size_t n = w.cols_padded, groups = w.groups_per_row(), quads = w.group / 4;
    const size_t panel_bytes = q8_panel_bytes(w);
    __m512 acc[P][V];
#pragma GCC unroll 8
    for (int p = 0; p < P; p++)
#pragma GCC unroll 8
        for (int v = 0; v < V; v++)
            acc[p][v] = _mm512_setzero_ps();
    for (size_t g = 0; g < groups; g++) {
        __m512i isum[P][V];
#pragma GCC unroll 8
        for (int p = 0; p < P; p++)
#pragma GCC unroll 8
            for (int v = 0; v < V; v++)
                isum[p][v] = _mm512_setzero_si512();
        for (size_t j = g * quads; j < (g + 1) * quads; j++) {
            __m512i wq[P];
#pragma GCC unroll 8
            for (int p = 0; p < P; p++)
                wq[p] = _mm512_load_si512(panel + p * panel_bytes + j * kPanel * 4);
#pragma GCC unroll 8
            for (int v = 0; v < V; v++) {
                int32_t x4;
                __builtin_memcpy(&x4, xu + v * n + j * 4, 4);
                const __m512i xb = _mm512_set1_epi32(x4);
#pragma GCC unroll 8
                for (int p = 0; p < P; p++)
                    isum[p][v] = _mm512_dpbusd_epi32(isum[p][v], xb, wq[p]);
            }
        }
#pragma GCC unroll 8
        for (int p = 0; p < P; p++) {
            const std::byte* tail = panel + p * panel_bytes + n * kPanel;
            const __m512i corr = _mm512_load_si512(tail + g * kPanel * 4);
            const __m512 ws = _mm512_load_ps(tail + (groups + g) * kPanel * 4);
#pragma GCC unroll 8
            for (int v = 0; v < V; v++) {
                const __m512 scale = _mm512_mul_ps(ws, _mm512_set1_ps(xs[v * groups + g]));
                const __m512 dot = _mm512_cvtepi32_ps(_mm512_sub_epi32(isum[p][v], corr));
                acc[p][v] = _mm512_fmadd_ps(dot, scale, acc[p][v]);
            }
        }
    }
    store_tile<P, V>(acc, out, out_stride, last);
}

template <int P, int V>
HC1E_AVX512 inline void panels_q8(const Matrix& w, const std::byte* packed, const uint8_t* xu,
                                  const float* xs, float* out, size_t out_stride) {
    const size_t np = panels(w), tail = w.rows - (np - 1) * kPanel;
    const size_t panel_bytes = q8_panel_bytes(w);
    const __mmask16 last_mask = __mmask16((1u << tail) - 1);
    size_t p = 0;
    for (; p + P <= np; p += P)
        tile_q8<P, V>(w, packed + p * panel_bytes, xu, xs, out + p * kPanel, out_stride,
                      p + P == np ? last_mask : __mmask16(0xffff));
    for (; p < np; p++)
        tile_q8<1, V>(w, packed + p * panel_bytes, xu, xs, out + p * kPanel, out_stride,
                      p + 1 == np ? last_mask : __mmask16(0xffff));
}

HC1E_AVX512 void matmul_q8(const Matrix& w, const void* packed_bytes, const int8_t* xq,
                           const float* xs, size_t n_vec, float* out, size_t out_stride) {
    if (!packed_bytes)
        return g_fallback->matmul_q8(w, nullptr, xq, xs, n_vec, out, out_stride);
    const auto* packed = static_cast<const std::byte*>(packed_bytes);
    const size_t n = w.cols_padded, groups = w.groups_per_row();
    // x + 128 as unsigned bytes, once per call (flipping the sign bit).
    thread_local std::vector<uint8_t> shifted;
    if (shifted.size() < n * n_vec)
        shifted.resize(n * n_vec);
    uint8_t* xu = shifted.data();
    const __m512i flip = _mm512_set1_epi8(char(0x80));
    size_t i = 0;
    for (; i + 64 <= n * n_vec; i += 64)
        _mm512_storeu_si512(xu + i, _mm512_xor_si512(_mm512_loadu_si512(xq + i), flip));
    for (; i < n * n_vec; i++)
        xu[i] = uint8_t(xq[i]) ^ 0x80;
    size_t b = 0;
    for (; b + 8 <= n_vec; b += 8)
        panels_q8<1, 8>(w, packed, xu + b * n, xs + b * groups, out + b * out_stride, out_stride);
    for (; b + 4 <= n_vec; b += 4)
        panels_q8<2, 4>(w, packed, xu + b * n, xs + b * groups, out + b * out_stride, out_stride);
    for (; b + 2 <= n_vec; b += 2)
        panels_q8<4, 2>(w, packed, xu + b * n, xs + b * groups, out + b * out_stride, out_stride);
    if (b < n_vec)
        panels_q8<8, 1>(w, packed, xu + b * n, xs + b * groups, out + b * out_stride, out_stride);
}

size_t packed_bytes(const Matrix& w) {
    if (w.f32)
        return packed_f32_bytes(w);
    // vpdpbusd takes 4 columns per lane: groups of 32 or 64 always divide.
    if (w.q && w.group % 4 == 0)
        return panels(w) * q8_panel_bytes(w);
    return 0;
}

void pack(const Matrix& w, void* packed) {
    if (w.f32)
        pack_f32(w, static_cast<float*>(packed));
    else
        pack_q8(w, static_cast<std::byte*>(packed));
}

// ---- SwiGLU -------------------------------------------------------------
//
// The AVX2 set's swiglu 16 lanes at a time: the same clamps, the same
// Cephes polynomial and the same division, lane for lane, so both sets'
// results are bit-identical (the f32 cache's known answers were recorded
// with the AVX2 one).

// The AVX2 kernels' Cephes exp polynomial, 16 lanes, on an argument its
// caller has clamped: max(x, -87.33654) first, then, where x may be
// positive, min(x, 88.37626), the AVX2 kernels' order.
HC1E_AVX512 inline __m512 exp_cephes_clamped(__m512 x) {
    __m512 fx = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f));
    fx = _mm512_roundscale_ps(fx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    const __m512i n =
        _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(fx), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(n));
}

HC1E_AVX512 void swiglu(float* x, const float* y, size_t n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        const __m512 arg =
            _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), xv), _mm512_set1_ps(-87.33654f));
        const __m512 e = exp_cephes_clamped(_mm512_min_ps(arg, _mm512_set1_ps(88.37626f)));
        _mm512_mask_storeu_ps(x + i, m,
                              _mm512_mul_ps(_mm512_div_ps(xv, _mm512_add_ps(one, e)),
                                            _mm512_maskz_loadu_ps(m, y + i)));
    }
}

// ---- attention ----------------------------------------------------------
//
// Two query heads of a GQA group at once over their shared KV head: lanes
// 0-7 of a zmm are head 0's values for the kKvTile positions of one cache
// tile, lanes 8-15 head 1's for the same positions.  Every key and value
// row (8 floats) is loaded once, broadcast to both halves, and feeds both
// heads: half the loads and half the instructions of one head at a time.

// One row of a cache tile in both halves; an fp16 row converted (exactly).
HC1E_AVX512 inline __m512 row_both(const float* p) {
    return _mm512_broadcast_f32x8(_mm256_loadu_ps(p));
}

HC1E_AVX512 inline __m512 row_both(const uint16_t* p) {
    return _mm512_cvtph_ps(
        _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

// Within each 8-lane half, every lane gets the half's max / sum.
HC1E_AVX512 inline __m512 half_max(__m512 v) {
    v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_max_ps(v, _mm512_shuffle_ps(v, v, 0x4e));
    return _mm512_max_ps(v, _mm512_shuffle_ps(v, v, 0xb1));
}

HC1E_AVX512 inline __m512 half_sum(__m512 v) {
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_shuffle_ps(v, v, 0x4e));
    return _mm512_add_ps(v, _mm512_shuffle_ps(v, v, 0xb1));
}

// exp(x) for x <= 0: no upper clamp needed.
HC1E_AVX512 inline __m512 exp512(__m512 x) {
    return exp_cephes_clamped(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)));
}

// exp(x) for the approximate caches' attention (f16, int8), in 10
// operations instead of exp512's 16: 2^(x log2 e) as 2^n * 2^f with n the
// nearest integer, 2^f by Cephes' exp2f polynomial on [-0.5, 0.5]
// (relative error ~2e-7, below the caches' own rounding by three orders),
// and vscalefps for 2^n, which also underflows to 0 without a clamp.  The
// f32 cache keeps exp512: its known answers are recorded with it.
// exp2_fast(t) is 2^t, for callers that fold more into t.
HC1E_AVX512 inline __m512 exp2_fast(__m512 t) {
    const __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_sub_ps(t, n);
    __m512 p = _mm512_set1_ps(1.535336188319500e-4f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.339887440266574e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(9.618437357674640e-3f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.550332471162809e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.402264791363012e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.931472028550421e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

HC1E_AVX512 inline __m512 exp512_fast(__m512 x) {
    return exp2_fast(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)));
}

// Eight vectors to one: lane j is the sum of v[j]'s lanes.
HC1E_AVX512 inline __m256 hsum8(const __m256 v[8]) {
    const __m256 s01 = _mm256_hadd_ps(v[0], v[1]), s23 = _mm256_hadd_ps(v[2], v[3]);
    const __m256 s45 = _mm256_hadd_ps(v[4], v[5]), s67 = _mm256_hadd_ps(v[6], v[7]);
    const __m256 s0123 = _mm256_hadd_ps(s01, s23), s4567 = _mm256_hadd_ps(s45, s67);
    return _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20),
                         _mm256_permute2f128_ps(s0123, s4567, 0x31));
}

// Scores of tiles [b, b + J): J independent FMA chains over the head
// dimensions hide the FMA latency.
template <int HS, int J, typename T>
HC1E_AVX512 inline void score_tiles(const __m512 (&qq)[HS], const T* k, size_t b, float* att) {
    constexpr size_t kTile = HS * kKvTile;
    __m512 a[J];
#pragma GCC unroll 8
    for (int j = 0; j < J; j++)
        a[j] = _mm512_mul_ps(qq[0], row_both(k + (b + j) * kTile));
#pragma GCC unroll 16
    for (int i = 1; i < HS; i++)
#pragma GCC unroll 8
        for (int j = 0; j < J; j++)
            a[j] = _mm512_fmadd_ps(qq[i], row_both(k + (b + j) * kTile + i * kKvTile), a[j]);
#pragma GCC unroll 8
    for (int j = 0; j < J; j++)
        _mm512_storeu_ps(att + (b + j) * 2 * kKvTile, a[j]);
}

// Where both heads' softmax starts, over scores att[tile][head][kKvTile]:
// the last tile's lanes past n_pos (stale or zero cache entries) are set to
// -inf so they get weight 0, @last marks the valid ones, and @max is each
// head's largest score broadcast over its half.
struct SoftmaxStart {
    __mmask16 last;
    __m512 max;
};

// Both heads' lanes of the last tile that hold positions below n_pos.
inline __mmask16 last_tile_mask(size_t n_pos, size_t tiles) {
    const unsigned valid = unsigned(n_pos - (tiles - 1) * kKvTile);
    return __mmask16(((1u << valid) - 1) * 0x101u);
}

HC1E_AVX512 inline SoftmaxStart softmax_start(float* att, size_t n_pos, size_t tiles) {
    const __mmask16 last = last_tile_mask(n_pos, tiles);
    float* last_att = att + (tiles - 1) * 2 * kKvTile;
    _mm512_storeu_ps(last_att, _mm512_mask_blend_ps(last, _mm512_set1_ps(-__builtin_inff()),
                                                    _mm512_loadu_ps(last_att)));
    __m512 mx = _mm512_loadu_ps(att);
    for (size_t b = 1; b < tiles; b++)
        mx = _mm512_max_ps(mx, _mm512_loadu_ps(att + b * 2 * kKvTile));
    return {last, half_max(mx)};
}

// Heads q0 and q1 (HS dimensions each) over positions [0, n_pos).  @att
// holds 2 * kKvTile floats per tile: both heads' scores side by side.
template <int HS, typename T>
HC1E_AVX512 void attend_pair(const float* q0, const float* q1, const T* k, const T* v, size_t n_pos,
                             float scale, float* att, float* out0, float* out1) {
    constexpr size_t kTile = HS * kKvTile;
    const size_t tiles = (n_pos + kKvTile - 1) / kKvTile;
    __m512 qq[HS];
#pragma GCC unroll 16
    for (int i = 0; i < HS; i++)
        qq[i] = _mm512_insertf32x8(_mm512_set1_ps(q0[i] * scale), _mm256_set1_ps(q1[i] * scale), 1);
    size_t b = 0;
    for (; b + 8 <= tiles; b += 8)
        score_tiles<HS, 8>(qq, k, b, att);
    for (; b + 2 <= tiles; b += 2)
        score_tiles<HS, 2>(qq, k, b, att);
    if (b < tiles)
        score_tiles<HS, 1>(qq, k, b, att);

    // Softmax per half.
    const SoftmaxStart st = softmax_start(att, n_pos, tiles);
    const __mmask16 last = st.last;
    const __m512 mx = st.max;

    // Weights and weighted values in one pass (with many contexts the
    // values come from L3: their loads overlap the exps): one accumulator
    // per head dimension, both heads in it, each a chain over the tiles;
    // reduced per half once at the end.
    __m512 acc[HS];
#pragma GCC unroll 16
    for (int i = 0; i < HS; i++)
        acc[i] = _mm512_setzero_ps();
    __m512 sum = _mm512_setzero_ps();
    for (b = 0; b < tiles; b++) {
        __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(att + b * 2 * kKvTile), mx));
        // exp clamps its argument, so -inf would still give ~1e-38.
        if (b + 1 == tiles)
            e = _mm512_maskz_mov_ps(last, e);
        sum = _mm512_add_ps(sum, e);
#pragma GCC unroll 16
        for (int i = 0; i < HS; i++)
            acc[i] = _mm512_fmadd_ps(e, row_both(v + b * kTile + i * kKvTile), acc[i]);
    }
    const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), half_sum(sum));
    const __m256 inv0 = _mm512_castps512_ps256(inv), inv1 = _mm512_extractf32x8_ps(inv, 1);
#pragma GCC unroll 2
    for (int i0 = 0; i0 < HS; i0 += 8) {
        __m256 lo[8], hi[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) {
            lo[i] = _mm512_castps512_ps256(acc[i0 + i]);
            hi[i] = _mm512_extractf32x8_ps(acc[i0 + i], 1);
        }
        _mm256_storeu_ps(out0 + i0, _mm256_mul_ps(hsum8(lo), inv0));
        _mm256_storeu_ps(out1 + i0, _mm256_mul_ps(hsum8(hi), inv1));
    }
}

// The same over an fp16 cache.  Converting each row as it is broadcast
// costs a two-uop conversion per 8 values and bound the kernel; here one
// conversion takes two adjacent rows (16 halves, contiguous in a tile):
// Z_i = [row 2i | row 2i+1].  Scores then multiply Z_i by [q[2i] | q[2i+1]]
// and add the halves at the end; values multiply Z_i by the head's weights
// in both halves and reduce each half to its own dimension.
// Rows 2i and 2i + 1 of an fp16 tile (16 contiguous values) as floats.
HC1E_AVX512 inline __m512 row_pair(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// The values of the tiles being scored, so that the weighted sum finds
// them in L1: the keys' stream warms the prefetchers, the values' (another
// stream, read in a second pass) would start cold once the caches of
// several contexts no longer fit in L2.
HC1E_AVX512 inline void prefetch_values(const void* v, size_t bytes) {
    for (size_t i = 0; i < bytes; i += 64)
        _mm_prefetch(static_cast<const char*>(v) + i, _MM_HINT_T0);
}

// Stores tile @b's scores (both heads) and folds them into the running
// max @mx: the same values and the same order of max operations as
// softmax_start()'s separate pass, without reading the scores back.  The
// last tile's lanes past n_pos become -inf first.
HC1E_AVX512 inline __m512 score_max(float* att, size_t b, size_t tiles, __mmask16 last, __m512 sc,
                                    __m512 mx) {
    if (b + 1 == tiles)
        sc = _mm512_mask_blend_ps(last, _mm512_set1_ps(-__builtin_inff()), sc);
    _mm512_storeu_ps(att + b * 2 * kKvTile, sc);
    return _mm512_max_ps(mx, sc);
}

// A tile's kKvTile scales in both halves.
HC1E_AVX512 inline __m512 tile_scales(const float* s) {
    return _mm512_broadcast_f32x8(_mm256_loadu_ps(s));
}

template <int HS>
HC1E_AVX512 void attend_pair_f16(const float* q0, const float* q1, const uint16_t* k,
                                 const uint16_t* v, size_t n_pos, float scale, float* att,
                                 float* out0, float* out1) {
    constexpr int R = HS / 2; // row pairs per tile
    constexpr size_t kTile = HS * kKvTile;
    constexpr int kLo = _MM_SHUFFLE(1, 0, 1, 0), kHi = _MM_SHUFFLE(3, 2, 3, 2);
    const size_t tiles = (n_pos + kKvTile - 1) / kKvTile;
    const __mmask16 last = last_tile_mask(n_pos, tiles);
    __m512 mx = _mm512_set1_ps(-__builtin_inff());
    __m512 qa[R], qb[R];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++) {
        qa[i] = _mm512_insertf32x8(_mm512_set1_ps(q0[2 * i] * scale),
                                   _mm256_set1_ps(q0[2 * i + 1] * scale), 1);
        qb[i] = _mm512_insertf32x8(_mm512_set1_ps(q1[2 * i] * scale),
                                   _mm256_set1_ps(q1[2 * i + 1] * scale), 1);
    }
    // Two tiles at a time: four independent chains.
    for (size_t b = 0; b < tiles; b += 2) {
        const int n = b + 1 < tiles ? 2 : 1;
        prefetch_values(v + b * kTile, n * kTile * sizeof(uint16_t));
        __m512 a[2][2];
        for (int j = 0; j < n; j++) {
            const __m512 z = row_pair(k + (b + j) * kTile);
            a[j][0] = _mm512_mul_ps(qa[0], z);
            a[j][1] = _mm512_mul_ps(qb[0], z);
        }
#pragma GCC unroll 8
        for (int i = 1; i < R; i++)
            for (int j = 0; j < n; j++) {
                const __m512 z = row_pair(k + (b + j) * kTile + i * 16);
                a[j][0] = _mm512_fmadd_ps(qa[i], z, a[j][0]);
                a[j][1] = _mm512_fmadd_ps(qb[i], z, a[j][1]);
            }
        for (int j = 0; j < n; j++)
            mx = score_max(att, b + j, tiles, last,
                           _mm512_add_ps(_mm512_shuffle_f32x4(a[j][0], a[j][1], kLo),
                                         _mm512_shuffle_f32x4(a[j][0], a[j][1], kHi)),
                           mx);
    }
    mx = half_max(mx);

    __m512 acc0[R], acc1[R];
#pragma GCC unroll 8
    for (int i = 0; i < R; i++)
        acc0[i] = acc1[i] = _mm512_setzero_ps();
    __m512 sum = _mm512_setzero_ps();
    // The last tile, whose lanes past n_pos get weight 0, on its own: the
    // loop over the others is unrolled without a test per tile.
    auto tile = [&](size_t b, __mmask16 valid) HC1E_AVX512 {
        const __m512 e0w = exp512_fast(_mm512_sub_ps(_mm512_loadu_ps(att + b * 2 * kKvTile), mx));
        const __m512 e = _mm512_maskz_mov_ps(valid, e0w);
        sum = _mm512_add_ps(sum, e);
        const __m512 e0 = _mm512_shuffle_f32x4(e, e, kLo), e1 = _mm512_shuffle_f32x4(e, e, kHi);
#pragma GCC unroll 8
        for (int i = 0; i < R; i++) {
            const __m512 z = row_pair(v + b * kTile + i * 16);
            acc0[i] = _mm512_fmadd_ps(e0, z, acc0[i]);
            acc1[i] = _mm512_fmadd_ps(e1, z, acc1[i]);
        }
    };
#pragma GCC unroll 2
    for (size_t b = 0; b + 1 < tiles; b++)
        tile(b, __mmask16(0xffff));
    tile(tiles - 1, last);
    const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), half_sum(sum));
    const __m256 inv0 = _mm512_castps512_ps256(inv), inv1 = _mm512_extractf32x8_ps(inv, 1);
    // acc[i]'s low half sums to dimension 2i, its high half to 2i + 1.
#pragma GCC unroll 2
    for (int i0 = 0; i0 < R; i0 += 4) {
        __m256 h0[8], h1[8];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            h0[2 * i] = _mm512_castps512_ps256(acc0[i0 + i]);
            h0[2 * i + 1] = _mm512_extractf32x8_ps(acc0[i0 + i], 1);
            h1[2 * i] = _mm512_castps512_ps256(acc1[i0 + i]);
            h1[2 * i + 1] = _mm512_extractf32x8_ps(acc1[i0 + i], 1);
        }
        _mm256_storeu_ps(out0 + 2 * i0, _mm256_mul_ps(hsum8(h0), inv0));
        _mm256_storeu_ps(out1 + 2 * i0, _mm256_mul_ps(hsum8(h1), inv1));
    }
}

// The same over an int8 cache, in integers wherever it can be.
//
// Scores: per 8 head dimensions a tile holds one zmm of keys (KvI8Keys:
// lanes 0-7 dimensions 0-3 of positions 0-7, lanes 8-15 dimensions 4-7,
// biased by 128).  Each 32-byte half is loaded broadcast to both halves of
// a zmm, and vpdpbusd multiplies it by head 0's four dimensions in lanes
// 0-7 and head 1's in lanes 8-15: two vpdpbusd per 8 dimensions give both
// heads' exact integer dot products side by side, with no shuffle, the
// keys' bias taken off by starting from -128 * sum(q).  The scores kept
// are float(dot) * key scale; the query scales (positive, or 0 for a zero
// query, which makes every score 0 anyway) go into exp's argument, where
// they cost nothing.
//
// Weighted values: with int8 values the weights need not be floats.  Each
// weight, exp(s - max) * value scale, is rounded to a 16-bit integer, 2^k
// times its value, with k chosen from the largest value scale so that the
// largest weight possible lies in [2^13, 2^14): rounding costs at most
// 2^-14 of the largest weight, 60 times finer than the values' own 8
// bits.  2^k enters exp2's argument for free and cancels against the sum
// of the weights.  vpmovsxbw widens 4 dimensions x 8 positions of values to
// words, vpdpwssd multiplies them by the tile's 8 weights, repeated per
// dimension, adding pairs of positions in 32-bit lanes: 3 instructions per
// 4 dimensions for both heads (one widening, one vpdpwssd per head)
// instead of 8 with float weights.  The 32-bit sums are exact; they go to float every 256
// tiles, before they could overflow (a tile adds at most 2 * 2^14 * 127).

// 2^t for the integer weights in 6 operations: vreduceps gives the
// fraction f = t - floor(t) directly, a degree-4 minimax polynomial 2^f on
// [0, 1) (relative error 2.7e-6, 23 times below the weights' 2^-14), and
// vscalefps multiplies by 2^floor(t) taking t itself.
HC1E_AVX512 inline __m512 exp2_weight(__m512 t) {
    const __m512 f = _mm512_reduce_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    __m512 p = _mm512_set1_ps(1.353416791169457e-2f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.201146061905540e-2f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.414427568861899e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.930038344710640e-1f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.000002593370665f));
    return _mm512_scalef_ps(p, t);
}

// One tile's scores for both heads (attend_pair_i8()), without the query
// scales: @kt its keys, @ks their scales.
template <int C>
HC1E_AVX512 inline __m512 score_tile_i8(const uint8_t* kt, const float* ks, const __m512i (&qlo)[C],
                                        const __m512i (&qhi)[C], __m512i bias) {
    __m512i dot = bias;
#pragma GCC unroll 2
    for (int c = 0; c < C; c++) {
        const auto* p = reinterpret_cast<const __m256i*>(kt + c * 64);
        dot = _mm512_dpbusd_epi32(dot, _mm512_broadcast_i64x4(_mm256_loadu_si256(p)), qlo[c]);
        dot = _mm512_dpbusd_epi32(dot, _mm512_broadcast_i64x4(_mm256_loadu_si256(p + 1)), qhi[c]);
    }
    return _mm512_mul_ps(_mm512_cvtepi32_ps(dot), tile_scales(ks));
}

// The largest of a ymm's lanes, in every lane.
HC1E_AVX512 inline __m128 max8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_max_ps(m, _mm_shuffle_ps(m, m, _MM_SHUFFLE(2, 3, 0, 1)));
}

template <int HS>
HC1E_AVX512 void attend_pair_i8(const float* q0, const float* q1, const uint8_t* k, const float* ks,
                                const int8_t* v, const float* vs, size_t n_pos, float scale,
                                float* att, float* out0, float* out1) {
    constexpr int C = HS / 8; // 8-dimension key blocks per tile
    constexpr int G = HS / 4; // 4-dimension value groups per tile
    constexpr size_t kTile = HS * kKvTile, kBlock = 256;
    const size_t tiles = (n_pos + kKvTile - 1) / kKvTile;
    const __mmask16 last = last_tile_mask(n_pos, tiles);
    // Both heads' queries, quantized as quantize_query() does, bit for
    // bit: the same products, an exact max, the same divisions, and
    // vcvtps2dq rounding half to even (MXCSR's default) as nearbyint does.
    // Per 8 dimensions x[c] = [head 0's | head 1's].
    const __m512 vscale = _mm512_set1_ps(scale), k127 = _mm512_set1_ps(127.0f);
    __m512 x[C], xmax = _mm512_setzero_ps();
#pragma GCC unroll 2
    for (int c = 0; c < C; c++) {
        x[c] = _mm512_mul_ps(_mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(q0 + 8 * c)),
                                                _mm256_loadu_ps(q1 + 8 * c), 1),
                             vscale);
        xmax = _mm512_max_ps(xmax, _mm512_abs_ps(x[c]));
    }
    xmax = half_max(xmax);
    const __m512 qinv =
        _mm512_maskz_div_ps(_mm512_cmp_ps_mask(xmax, _mm512_setzero_ps(), _CMP_GT_OQ), k127, xmax);
    const __m512 qs = _mm512_div_ps(xmax, k127);
    // vpdpbusd's signed operands: lanes 0-7 head 0's dimensions 8c..8c+3
    // (qlo) or 8c+4..8c+7 (qhi), lanes 8-15 head 1's.
    const __m512i lo_dims = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    const __m512i hi_dims = _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3);
    __m512i qlo[C], qhi[C], qsum = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int c = 0; c < C; c++) {
        const __m512i qc = _mm512_cvtps_epi32(_mm512_mul_ps(x[c], qinv));
        qsum = _mm512_add_epi32(qsum, qc);
        const __m512i bytes = _mm512_castsi128_si512(_mm512_cvtepi32_epi8(qc));
        qlo[c] = _mm512_permutexvar_epi32(lo_dims, bytes);
        qhi[c] = _mm512_permutexvar_epi32(hi_dims, bytes);
    }
    // -128 * each head's sum of q, over its half.
    qsum = _mm512_add_epi32(qsum, _mm512_shuffle_i32x4(qsum, qsum, _MM_SHUFFLE(2, 3, 0, 1)));
    qsum = _mm512_add_epi32(qsum, _mm512_shuffle_epi32(qsum, _MM_PERM_BADC));
    qsum = _mm512_add_epi32(qsum, _mm512_shuffle_epi32(qsum, _MM_PERM_CDAB));
    const __m512i bias = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(qsum, 7));

    // Scores, their max, and the largest value scale (the last tile's
    // positions past n_pos, stale entries, left out of both).
    __m512 mx = _mm512_set1_ps(-__builtin_inff());
    __m256 vmax = _mm256_setzero_ps();
#pragma GCC unroll 2
    for (size_t b = 0; b + 1 < tiles; b++) {
        prefetch_values(v + b * kTile, kTile);
        vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(vs + b * kKvTile));
        const __m512 sc = score_tile_i8<C>(k + b * kTile, ks + b * kKvTile, qlo, qhi, bias);
        _mm512_storeu_ps(att + b * 2 * kKvTile, sc);
        mx = _mm512_max_ps(mx, sc);
    }
    {
        const size_t b = tiles - 1;
        vmax = _mm256_max_ps(vmax, _mm256_maskz_loadu_ps(__mmask8(last), vs + b * kKvTile));
        const __m512 sc =
            _mm512_mask_blend_ps(last, _mm512_set1_ps(-__builtin_inff()),
                                 score_tile_i8<C>(k + b * kTile, ks + b * kKvTile, qlo, qhi, bias));
        _mm512_storeu_ps(att + b * 2 * kKvTile, sc);
        mx = half_max(_mm512_max_ps(mx, sc));
    }

    // 2^k * the largest value scale in [2^13, 2^14) (values all zero need
    // no k).  Up to k = 100 it goes into exp2's argument; beyond, with
    // scales below 2^-87, the weights would no longer sum to a finite
    // float, and the rest multiplies each tile's scales instead.
    const __m128 vm = max8(vmax);
    const float kw = _mm_cvtss_f32(vm) > 0.0f ? 13.0f - _mm_cvtss_f32(_mm_getexp_ss(vm, vm)) : 0.0f;
    const float kexp = std::min(kw, 100.0f);
    const __m512 kscale = _mm512_set1_ps(kw - kexp);
    // t = (s - max) * query scale * log2(e) + k, one FMA per tile.
    const __m512 mul = _mm512_mul_ps(qs, _mm512_set1_ps(1.44269504088896341f));
    const __m512 off = _mm512_fnmadd_ps(mx, mul, _mm512_set1_ps(kexp));

    // Words 2j (the low half of 32-bit lane j) of the weights, j = 0-7 for
    // head 0 and 8-15 for head 1, in every 128-bit lane.
    alignas(64) static constexpr uint16_t kPick[2][32] = {
        {0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14,
         0, 2, 4, 6, 8, 10, 12, 14, 0, 2, 4, 6, 8, 10, 12, 14},
        {16, 18, 20, 22, 24, 26, 28, 30, 16, 18, 20, 22, 24, 26, 28, 30,
         16, 18, 20, 22, 24, 26, 28, 30, 16, 18, 20, 22, 24, 26, 28, 30}};
    const __m512i pick0 = _mm512_load_si512(kPick[0]), pick1 = _mm512_load_si512(kPick[1]);
    __m512i acc[2][G];
    __m512 accf[2][G];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++)
        accf[0][g] = accf[1][g] = _mm512_setzero_ps();
    __m512 sum = _mm512_setzero_ps();
    // @tiny: whether part of 2^k multiplies the scales (a constant, so
    // that the common case's loop has no test for it).
    auto tile = [&](size_t b, __mmask16 valid, auto tiny) HC1E_AVX512 {
        const __m512 t = _mm512_fmadd_ps(_mm512_loadu_ps(att + b * 2 * kKvTile), mul, off);
        const __m512 e = _mm512_maskz_mov_ps(valid, exp2_weight(t));
        sum = _mm512_add_ps(sum, e);
        __m512 ws = tile_scales(vs + b * kKvTile);
        if constexpr (decltype(tiny)::value)
            ws = _mm512_scalef_ps(ws, kscale);
        const __m512i w = _mm512_cvtps_epi32(_mm512_mul_ps(e, ws));
        const __m512i w0 = _mm512_permutexvar_epi16(pick0, w);
        const __m512i w1 = _mm512_permutexvar_epi16(pick1, w);
#pragma GCC unroll 8
        for (int g = 0; g < G; g++) {
            const __m512i z = _mm512_cvtepi8_epi16(
                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v + b * kTile + g * 32)));
            acc[0][g] = _mm512_dpwssd_epi32(acc[0][g], z, w0);
            acc[1][g] = _mm512_dpwssd_epi32(acc[1][g], z, w1);
        }
    };
    auto weigh = [&](auto tiny) HC1E_AVX512 {
        for (size_t b0 = 0; b0 < tiles; b0 += kBlock) {
            const size_t end = std::min(b0 + kBlock, tiles);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++)
                acc[0][g] = acc[1][g] = _mm512_setzero_si512();
#pragma GCC unroll 2
            for (size_t b = b0; b + 1 < end; b++)
                tile(b, __mmask16(0xffff), tiny);
            tile(end - 1, end == tiles ? last : __mmask16(0xffff), tiny);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++) {
                accf[0][g] = _mm512_add_ps(accf[0][g], _mm512_cvtepi32_ps(acc[0][g]));
                accf[1][g] = _mm512_add_ps(accf[1][g], _mm512_cvtepi32_ps(acc[1][g]));
            }
        }
    };
    if (kw > kexp)
        weigh(std::true_type{});
    else
        weigh(std::false_type{});

    // accf[h][g]'s 128-bit lane j holds 4 partial sums of dimension
    // 4g + j.  Per 8 dimensions: lane j of r is [head 0 dimension j,
    // head 0 dimension 4 + j, head 1 dimension j, head 1 dimension 4 + j],
    // which the permutation puts in order, head 0 in the low half.
    const __m512 inv = _mm512_div_ps(_mm512_set1_ps(1.0f), half_sum(sum));
    // The weights carry 2^k, the sum only the part of it in exp2's argument.
    const __m512 unscale = _mm512_sub_ps(_mm512_setzero_ps(), kscale);
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
#pragma GCC unroll 2
    for (int c = 0; c < C; c++) {
        const __m512 a0 = accf[0][2 * c], a1 = accf[0][2 * c + 1];
        const __m512 b0 = accf[1][2 * c], b1 = accf[1][2 * c + 1];
        const __m512 u = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
        const __m512 w = _mm512_add_ps(_mm512_unpacklo_ps(b0, b1), _mm512_unpackhi_ps(b0, b1));
        const __m512 r = _mm512_add_ps(
            _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(u), _mm512_castps_pd(w))),
            _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(u), _mm512_castps_pd(w))));
        const __m512 o =
            _mm512_scalef_ps(_mm512_mul_ps(_mm512_permutexvar_ps(order, r), inv), unscale);
        _mm256_storeu_ps(out0 + 8 * c, _mm512_castps512_ps256(o));
        _mm256_storeu_ps(out1 + 8 * c, _mm512_extractf32x8_ps(o, 1));
    }
}

template <typename T, typename K = T>
HC1E_AVX512 void attend_any(const float* q, size_t n_heads, const K* k, const T* v, size_t n_pos,
                            size_t head_size, float scale, float* att, float* out,
                            const float* ks = nullptr, const float* vs = nullptr) {
    size_t h = 0;
    if (head_size == 8 || head_size == 16)
        for (; h + 2 <= n_heads; h += 2) {
            const float* q0 = q + h * head_size;
            float* o0 = out + h * head_size;
            if constexpr (std::is_same_v<T, float>) {
                if (head_size == 8)
                    attend_pair<8>(q0, q0 + 8, k, v, n_pos, scale, att, o0, o0 + 8);
                else
                    attend_pair<16>(q0, q0 + 16, k, v, n_pos, scale, att, o0, o0 + 16);
            } else if constexpr (std::is_same_v<T, uint16_t>) {
                if (head_size == 8)
                    attend_pair_f16<8>(q0, q0 + 8, k, v, n_pos, scale, att, o0, o0 + 8);
                else
                    attend_pair_f16<16>(q0, q0 + 16, k, v, n_pos, scale, att, o0, o0 + 16);
            } else {
                if (head_size == 8)
                    attend_pair_i8<8>(q0, q0 + 8, k, ks, v, vs, n_pos, scale, att, o0, o0 + 8);
                else
                    attend_pair_i8<16>(q0, q0 + 16, k, ks, v, vs, n_pos, scale, att, o0, o0 + 16);
            }
        }
    if (h == n_heads)
        return;
    if constexpr (std::is_same_v<T, float>)
        g_fallback->attend(q + h * head_size, n_heads - h, k, v, n_pos, head_size, scale, att,
                           out + h * head_size);
    else if constexpr (std::is_same_v<T, uint16_t>)
        g_fallback->attend_f16(q + h * head_size, n_heads - h, k, v, n_pos, head_size, scale, att,
                               out + h * head_size);
    else
        g_fallback->attend_i8(q + h * head_size, n_heads - h, {k, ks}, {v, vs}, n_pos, head_size,
                              scale, att, out + h * head_size);
}

HC1E_AVX512 void attend_i8(const float* q, size_t n_heads, KvI8Keys k, KvI8 v, size_t n_pos,
                           size_t head_size, float scale, float* att, float* out) {
    attend_any<int8_t, uint8_t>(q, n_heads, k.q, v.q, n_pos, head_size, scale, att, out, k.scale,
                                v.scale);
}

template <typename T>
HC1E_AVX512 void attend(const float* q, size_t n_heads, const T* k, const T* v, size_t n_pos,
                        size_t head_size, float scale, float* att, float* out) {
    attend_any<T>(q, n_heads, k, v, n_pos, head_size, scale, att, out);
}

} // namespace

const Kernels* avx512_kernels() {
    static const Kernels* set = []() -> const Kernels* {
        __builtin_cpu_init();
        const Kernels* base = avx2_vnni_kernels() ? avx2_vnni_kernels() : avx2_kernels();
        if (!base || !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
            !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512dq") ||
            !__builtin_cpu_supports("avx512vnni"))
            return nullptr;
        static Kernels k = *base;
        k.name = "avx512";
        k.matmul_f32 = matmul_f32;
        k.matmul_q8 = matmul_q8;
        k.packed_bytes = packed_bytes;
        k.pack = pack;
        g_fallback = base;
        k.attend = attend<float>;
        k.attend_f16 = attend<uint16_t>;
        k.attend_i8 = attend_i8;
        k.swiglu = swiglu;
        return &k;
    }();
    return set;
}

} // namespace hc1e

#pragma GCC diagnostic pop

#else

namespace hc1e {
const Kernels* avx512_kernels() {
    return nullptr;
}
} // namespace hc1e

#endif
