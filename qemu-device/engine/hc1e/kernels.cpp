// SPDX-License-Identifier: MIT
// Portable kernels and the run-time dispatch.
#include "kernels.hpp"

#include <atomic>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace hc1e {

namespace {

void matmul_f32(const Matrix& w, const void*, const float* x, size_t x_stride, size_t n_vec,
                float* out, size_t out_stride) {
    const size_t n = w.cols;
    for (size_t b = 0; b < n_vec; b++) {
        const float* xb = x + b * x_stride;
        for (size_t i = 0; i < w.rows; i++) {
            const float* wr = w.f32 + i * n;
            float sum = 0.0f;
            for (size_t j = 0; j < n; j++)
                sum += wr[j] * xb[j];
            out[b * out_stride + i] = sum;
        }
    }
}

void matmul_q8(const Matrix& w, const void*, const int8_t* xq, const float* xs, size_t n_vec,
               float* out, size_t out_stride) {
    const size_t groups = w.groups_per_row(), n = w.cols_padded;
    for (size_t b = 0; b < n_vec; b++) {
        const int8_t* xb = xq + b * n;
        const float* sb = xs + b * groups;
        for (size_t i = 0; i < w.rows; i++) {
            const int8_t* wr = w.q + i * n;
            const float* sr = w.scales + i * groups;
            float sum = 0.0f;
            for (size_t g = 0; g < groups; g++) {
                int32_t acc = 0;
                for (size_t j = g * w.group; j < (g + 1) * w.group; j++)
                    acc += int32_t(wr[j]) * int32_t(xb[j]);
                sum += static_cast<float>(acc) * (sr[g] * sb[g]);
            }
            out[b * out_stride + i] = sum;
        }
    }
}

float load(const float* p) {
    return *p;
}

float load(const uint16_t* p) {
    return f16_to_f32(*p);
}

// Softmax's exponentials in place, shifted by the scores' @max; returns
// the reciprocal of their sum, which the weighted values are scaled by.
float softmax_exp(float* att, size_t n_pos, float max) {
    float sum = 0.0f;
    for (size_t t = 0; t < n_pos; t++) {
        att[t] = std::exp(att[t] - max);
        sum += att[t];
    }
    return 1.0f / sum;
}

template <typename T>
void attend_head(const float* q, const T* k, const T* v, size_t n_pos, size_t head_size,
                 float scale, float* att, float* out) {
    const size_t tile = kKvTile * head_size;
    auto at = [&](const T* base, size_t t, size_t i) {
        return load(base + (t / kKvTile) * tile + i * kKvTile + t % kKvTile);
    };
    float max = -INFINITY;
    for (size_t t = 0; t < n_pos; t++) {
        float s = 0.0f;
        for (size_t i = 0; i < head_size; i++)
            s += q[i] * at(k, t, i);
        att[t] = s * scale;
        max = std::max(max, att[t]);
    }
    const float inv = softmax_exp(att, n_pos, max);
    for (size_t i = 0; i < head_size; i++) {
        float o = 0.0f;
        for (size_t t = 0; t < n_pos; t++)
            o += att[t] * at(v, t, i);
        out[i] = o * inv;
    }
}

void swiglu(float* x, const float* y, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] / (1.0f + std::exp(-x[i])) * y[i];
}

void quantize(const float* x, size_t n, size_t n_padded, size_t group, int8_t* q, float* scales) {
    for (size_t g = 0; g * group < n_padded; g++) {
        const size_t begin = g * group, end = std::min(begin + group, n);
        float xmax = 0.0f;
        for (size_t j = begin; j < end; j++)
            xmax = std::max(xmax, std::fabs(x[j]));
        const float scale = xmax / 127.0f;
        const float inv = scale > 0.0f ? 127.0f / xmax : 0.0f;
        scales[g] = scale;
        for (size_t j = begin; j < begin + group; j++)
            q[j] = j < end ? static_cast<int8_t>(std::nearbyint(x[j] * inv)) : 0;
    }
}

template <typename T>
void attend(const float* q, size_t n_heads, const T* k, const T* v, size_t n_pos, size_t head_size,
            float scale, float* att, float* out) {
    for (size_t h = 0; h < n_heads; h++)
        attend_head(q + h * head_size, k, v, n_pos, head_size, scale, att, out + h * head_size);
}

void attend_i8(const float* q, size_t n_heads, KvI8Keys k, KvI8 v, size_t n_pos, size_t head_size,
               float scale, float* att, float* out) {
    const size_t tile = kKvTile * head_size;
    int8_t* qi = attend_query_scratch(att, n_heads, n_pos);
    for (size_t h = 0; h < n_heads; h++, q += head_size, out += head_size) {
        const float qs = quantize_query(q, head_size, scale, qi);
        float max = -INFINITY;
        for (size_t t = 0; t < n_pos; t++) {
            int32_t dot = 0;
            for (size_t i = 0; i < head_size; i++)
                dot += int32_t(qi[i]) * (int32_t(k.q[kv_i8_key_index(head_size, t, i)]) - 128);
            att[t] = static_cast<float>(dot) * (qs * k.scale[t]);
            max = std::max(max, att[t]);
        }
        const float inv = softmax_exp(att, n_pos, max);
        for (size_t i = 0; i < head_size; i++) {
            float o = 0.0f;
            for (size_t t = 0; t < n_pos; t++)
                o += att[t] * v.scale[t] *
                     static_cast<float>(v.q[(t / kKvTile) * tile + i * kKvTile + t % kKvTile]);
            out[i] = o * inv;
        }
    }
}

void to_f16(const float* x, size_t n, uint16_t* out) {
    for (size_t i = 0; i < n; i++)
        out[i] = f32_to_f16(x[i]);
}

const Kernels kPortable = {"portable",       matmul_f32, matmul_q8, attend<float>,
                           attend<uint16_t>, attend_i8,  to_f16,    swiglu,
                           quantize,         nullptr,    nullptr};

std::atomic<bool> g_force_portable{false};

// HC1_ENGINE_KERNELS names the set to use (for tests and comparisons); an
// unknown or unavailable name leaves the choice to the CPU check.
const Kernels* from_env() {
    const char* e = std::getenv("HC1_ENGINE_KERNELS");
    if (!e || !*e)
        return nullptr;
    for (const Kernels* k : {&kPortable, avx2_kernels(), avx2_vnni_kernels(), avx512_kernels()})
        if (k && std::strcmp(k->name, e) == 0)
            return k;
    return nullptr;
}

} // namespace

float quantize_query(const float* q, size_t head_size, float scale, int8_t* qi) {
    float xmax = 0.0f;
    for (size_t i = 0; i < head_size; i++)
        xmax = std::max(xmax, std::fabs(q[i] * scale));
    const float inv = xmax > 0.0f ? 127.0f / xmax : 0.0f;
    const size_t padded = (head_size + 3) / 4 * 4;
    for (size_t i = 0; i < padded; i++)
        qi[i] = i < head_size ? static_cast<int8_t>(round_half_even(q[i] * scale * inv)) : 0;
    return xmax / 127.0f;
}

float f16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) // zero or subnormal: mant * 2^-24, exact in float
        return std::bit_cast<float>(sign | std::bit_cast<uint32_t>(float(mant) * 0x1p-24f));
    if (exp == 31)
        return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
    return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

// Round to nearest even (F. Giesen's float_to_half_fast3_rtne): half
// subnormals by letting the FPU round in an addition whose ulp is 2^-24,
// normals by adding the rounding bias to the bits.
uint16_t f32_to_f16(float f) {
    uint32_t x = std::bit_cast<uint32_t>(f);
    const uint32_t sign = (x >> 16) & 0x8000;
    x &= 0x7fffffffu;
    if (x >= (127u + 16) << 23) // 65536 or more (the rounding covers 65520+): inf
        return uint16_t(sign | (x > 0x7f800000u ? 0x7e00 : 0x7c00));
    if (x < 113u << 23) { // below 2^-14: a half subnormal or zero
        const float half = 0.5f;
        return uint16_t(sign | (std::bit_cast<uint32_t>(std::bit_cast<float>(x) + half) -
                                std::bit_cast<uint32_t>(half)));
    }
    const uint32_t odd = (x >> 13) & 1;
    x += ((15u - 127u) << 23) + 0xfff + odd;
    return uint16_t(sign | (x >> 13));
}

PackedMatrix::PackedMatrix(const Kernels& k, const Matrix& w) {
    const size_t bytes = k.packed_bytes ? k.packed_bytes(w) : 0;
    if (!bytes)
        return;
    data_.resize(bytes);
    k.pack(w, data_.data());
}

const Kernels& portable_kernels() {
    return kPortable;
}

const Kernels& kernels() {
    if (g_force_portable.load(std::memory_order_relaxed))
        return kPortable;
    static const Kernels* chosen = [] {
        if (const Kernels* k = from_env())
            return k;
        for (const Kernels* k : {avx512_kernels(), avx2_vnni_kernels(), avx2_kernels()})
            if (k)
                return k;
        return &kPortable;
    }();
    return *chosen;
}

void force_portable_kernels(bool portable) {
    g_force_portable.store(portable, std::memory_order_relaxed);
}

} // namespace hc1e
