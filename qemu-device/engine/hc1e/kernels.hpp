// SPDX-License-Identifier: MIT
// The compute kernels, chosen once at run time: AVX2+FMA when the CPU has
// them, a portable version otherwise.
//
// Determinism contract: every output element of a matmul is computed by the
// same sequence of operations whatever the batch size, the batch position of
// its vector and the row tiling.  That is what lets decode batch contexts
// together without changing any context's tokens.
#pragma once

#include "aligned.hpp"
#include "burn.hpp"
#include <cstddef>
#include <cstdint>

namespace hc1e {

// Positions per KV-cache tile (see KvCache).
inline constexpr uint32_t kKvTile = 8;

// One KV head of an int8 cache's values: tiled int8 elements (the fp32
// layout) and one scale per position; element (pos, i) is q[...] *
// scale[pos].
struct KvI8 {
    const int8_t* q;
    const float* scale;
};

// Its keys are laid out for integer dot products with a quantized query
// (vpdpbusd: 4 unsigned bytes times 4 signed ones per 32-bit lane): per
// tile of kKvTile positions, groups of 4 head dimensions (the head padded
// with zero dimensions to a multiple of 4), each group kKvTile x 4 bytes,
// position-major, so a position's 4 dimensions share a lane.  Stored biased
// by 128, unsigned: key q = byte - 128.
struct KvI8Keys {
    const uint8_t* q;
    const float* scale;
};
inline size_t kv_i8_key_tile(size_t head_size) {
    return (head_size + 3) / 4 * 4 * kKvTile;
}
inline size_t kv_i8_key_index(size_t head_size, size_t pos, size_t i) {
    return pos / kKvTile * kv_i8_key_tile(head_size) + i / 4 * 4 * kKvTile + pos % kKvTile * 4 +
           i % 4;
}

// nearbyint() for |x| <= 2^22 in the default rounding mode (half to even),
// without the libm call baseline x86-64 makes of it: adding 1.5 * 2^23
// leaves no fraction bits, so the sum is rounded to an integer as the FPU
// rounds, and subtracting it again is exact.  The caches quantize every
// key and value with it.
inline float round_half_even(float x) {
    constexpr float kMagic = 0x1.8p23f;
    return (x + kMagic) - kMagic;
}

// One query head for scoring an int8 cache: q * @scale quantized to int8
// like an activation group (max|x| / 127, half to even) into @qi, padded
// with zeros to a multiple of 4; returns its scale.  attend_i8 keeps @qi
// in @att past the scores (see attend_scratch()).  Every set scores with
// the same exact integer dot products, sum qi * key q; the portable and
// AVX2 sets as float(dot) * (its scale * key scale), the AVX-512 set
// applies its scale inside exp (kernels_avx512.cpp).
float quantize_query(const float* q, size_t head_size, float scale, int8_t* qi);

// Floats of @att an attend*() call needs: the scores, and for an int8
// cache the quantized query (two heads at once at most) behind them.
inline size_t attend_scratch(size_t n_heads, size_t n_pos, size_t head_size) {
    return n_heads * ((n_pos + kKvTile - 1) / kKvTile * kKvTile) + head_size / 2 + 1;
}
// Where attend_i8 keeps the quantized query.
inline int8_t* attend_query_scratch(float* att, size_t n_heads, size_t n_pos) {
    return reinterpret_cast<int8_t*>(att + n_heads * ((n_pos + kKvTile - 1) / kKvTile * kKvTile));
}

struct Kernels {
    const char* name;
    // out[b * out_stride + i] = w.row(i) . x[b * x_stride ...], i < w.rows,
    // b < n_vec, for an fp32 matrix.  @packed is the set's own copy of w
    // (see PackedMatrix), null for sets without one.
    void (*matmul_f32)(const Matrix& w, const void* packed, const float* x, size_t x_stride,
                       size_t n_vec, float* out, size_t out_stride);
    // The same for an int8 matrix and vectors made by quantize()
    // (w.cols_padded values and w.groups_per_row() scales per vector).
    void (*matmul_q8)(const Matrix& w, const void* packed, const int8_t* xq, const float* xs,
                      size_t n_vec, float* out, size_t out_stride);
    // The @n_heads query heads that share one KvCache head (a GQA group;
    // q and out hold n_heads * head_size floats) over positions [0, n_pos)
    // of that head (tiled layout): per query head, scores q.k[t] * scale,
    // softmax, out = sum att[t] v[t].  @att has room for n_heads times
    // n_pos rounded up to kKvTile.  Taking the whole group lets a kernel
    // read the keys and values once for all its heads.
    void (*attend)(const float* q, size_t n_heads, const float* k, const float* v, size_t n_pos,
                   size_t head_size, float scale, float* att, float* out);
    // The same over an fp16 cache (IEEE half keys and values).
    void (*attend_f16)(const float* q, size_t n_heads, const uint16_t* k, const uint16_t* v,
                       size_t n_pos, size_t head_size, float scale, float* att, float* out);
    // The same over an int8 cache; @att has room for attend_scratch() floats.
    void (*attend_i8)(const float* q, size_t n_heads, KvI8Keys k, KvI8 v, size_t n_pos,
                      size_t head_size, float scale, float* att, float* out);
    // x to IEEE half, rounding to nearest even (what f32_to_f16 does).
    void (*to_f16)(const float* x, size_t n, uint16_t* out);
    // x[i] = silu(x[i]) * y[i]
    void (*swiglu)(float* x, const float* y, size_t n);
    // x (n values) to int8 groups of @group (n_padded values, zero padded)
    // and n_padded / group scales, rounding half to even.
    void (*quantize)(const float* x, size_t n, size_t n_padded, size_t group, int8_t* q,
                     float* scales);
    // Sets whose matmuls read a layout of their own (the burned image stays
    // as it is: its bytes are the model's identity) say how many bytes it
    // takes for @w (0: none) and write it, 64-byte aligned; null for sets
    // that read the image.
    size_t (*packed_bytes)(const Matrix& w);
    void (*pack)(const Matrix& w, void* packed);
};

// A kernel set's packed copy of one matrix, made once at load; empty
// (get() null) for sets that need none.
class PackedMatrix {
  public:
    PackedMatrix() = default;
    PackedMatrix(const Kernels& k, const Matrix& w);
    const void* get() const { return data_.empty() ? nullptr : data_.data(); }

  private:
    AlignedVector<std::byte> data_; // whole-cache-line panel loads
};

// IEEE half <-> float, round to nearest even; every kernel set converts
// exactly so.
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

const Kernels& portable_kernels();
// Null when the CPU lacks AVX2/FMA.
const Kernels* avx2_kernels();
// AVX2 with AVX-VNNI int8 dot products (bit-identical results); null when
// the CPU lacks either.
const Kernels* avx2_vnni_kernels();
// AVX-512 (F, BW, DQ, VL, VNNI): its own fp32 and int8 matmuls over packed
// matrices, attention for pairs of heads and SwiGLU (bit-identical to the
// AVX2 one); the rest from the best AVX2 set.  Null when the CPU lacks any
// of these.
const Kernels* avx512_kernels();
// The set in use: the one named by HC1_ENGINE_KERNELS (portable, avx2,
// avx2+vnni, avx512) if available, else the best the CPU has;
// the portable set while force_portable_kernels(true) is in effect.
const Kernels& kernels();
void force_portable_kernels(bool portable);

} // namespace hc1e
