// SPDX-License-Identifier: MIT
#include "transformer.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace hc1e {

const char* kv_format_name(KvFormat f) {
    switch (f) {
    case KvFormat::Fp32:
        return "f32";
    case KvFormat::Fp16:
        return "f16";
    case KvFormat::Int8:
        return "int8";
    }
    return "?";
}

bool parse_kv_format(std::string_view name, KvFormat& out) {
    for (KvFormat f : {KvFormat::Fp32, KvFormat::Fp16, KvFormat::Int8})
        if (name == kv_format_name(f)) {
            out = f;
            return true;
        }
    return false;
}

KvCache::KvCache(const ModelConfig& cfg, KvFormat format)
    : format_(format), n_kv_heads_(cfg.n_kv_heads), head_size_(cfg.head_size()),
      head_stride_(size_t((cfg.context_len + kKvTile - 1) / kKvTile) * cfg.head_size() * kKvTile) {
    const size_t n = size_t(cfg.n_layers) * cfg.n_kv_heads * head_stride_;
    switch (format) {
    case KvFormat::Fp32:
        k_.resize(n);
        v_.resize(n);
        break;
    case KvFormat::Fp16:
        k16_.resize(n);
        v16_.resize(n);
        break;
    case KvFormat::Int8:
        key_stride_ = head_stride_ / head_size_ / kKvTile * kv_i8_key_tile(head_size_);
        k8_.resize(size_t(cfg.n_layers) * cfg.n_kv_heads * key_stride_);
        v8_.resize(n);
        ks_.resize(n / head_size_);
        vs_.resize(n / head_size_);
        break;
    }
}

uint64_t KvCache::bytes(const ModelConfig& cfg, KvFormat format) {
    const uint64_t tiles = (uint64_t(cfg.context_len) + kKvTile - 1) / kKvTile;
    const uint64_t slots = 2ull * cfg.n_layers * cfg.n_kv_heads * tiles * kKvTile;
    switch (format) {
    case KvFormat::Fp32:
        return slots * cfg.head_size() * sizeof(float);
    case KvFormat::Fp16:
        return slots * cfg.head_size() * sizeof(uint16_t);
    case KvFormat::Int8: // keys padded to groups of 4 dimensions
        return slots / 2 *
               (kv_i8_key_tile(cfg.head_size()) / kKvTile + cfg.head_size() + 2 * sizeof(float));
    }
    return 0;
}

template <typename T>
void KvCache::store_as(AlignedVector<T>& kc, AlignedVector<T>& vc, uint32_t layer, uint32_t pos,
                       const T* k, const T* v) {
    const size_t tile = size_t(pos / kKvTile) * head_size_ * kKvTile + pos % kKvTile;
    for (uint32_t h = 0; h < n_kv_heads_; h++) {
        T* kd = kc.data() + base(layer, h) + tile;
        T* vd = vc.data() + base(layer, h) + tile;
        for (uint32_t i = 0; i < head_size_; i++) {
            kd[i * kKvTile] = k[h * head_size_ + i];
            vd[i * kKvTile] = v[h * head_size_ + i];
        }
    }
}

void KvCache::store(uint32_t layer, uint32_t pos, const float* k, const float* v) {
    if (format_ == KvFormat::Int8)
        store_i8(layer, pos, k, v);
    else
        store_as(k_, v_, layer, pos, k, v);
}

// Per head, as quantize() does a weight group: scale = max|x| / 127,
// q = x * (127 / max) rounded half to even (a zero vector gets scale 0).
// Keys go into KvI8Keys' layout, biased by 128.
void KvCache::store_i8(uint32_t layer, uint32_t pos, const float* k, const float* v) {
    // Everything the loops read in locals: their byte stores may alias any
    // object, so members read through `this` would be reloaded after each.
    const size_t hs = head_size_;
    // Stores the scale, returns what x is multiplied by.
    auto scales = [hs](const float* x, float* scale) {
        float xmax = 0.0f;
        for (size_t i = 0; i < hs; i++)
            xmax = std::max(xmax, std::fabs(x[i]));
        *scale = xmax / 127.0f;
        return xmax > 0.0f ? 127.0f / xmax : 0.0f;
    };
    // A plain loop into a local array, which the compiler vectorizes;
    // the stores scatter the results afterwards.
    constexpr size_t kChunk = 32;
    auto quantize = [](const float* x, size_t n, float inv, int32_t* q) {
        for (size_t i = 0; i < n; i++)
            q[i] = static_cast<int32_t>(round_half_even(x[i] * inv));
    };
    const size_t tile = size_t(pos / kKvTile) * hs * kKvTile + pos % kKvTile;
    const size_t key_tile = size_t(pos / kKvTile) * kv_i8_key_tile(hs) + pos % kKvTile * 4;
    for (uint32_t h = 0; h < n_kv_heads_; h++) {
        uint8_t* kd = k8_.data() + (size_t(layer) * n_kv_heads_ + h) * key_stride_ + key_tile;
        int8_t* vd = v8_.data() + base(layer, h) + tile;
        const float kinv = scales(k + h * hs, ks_.data() + scale_base(layer, h) + pos);
        const float vinv = scales(v + h * hs, vs_.data() + scale_base(layer, h) + pos);
        for (size_t i0 = 0; i0 < hs; i0 += kChunk) {
            const size_t n = std::min(kChunk, hs - i0);
            int32_t qk[kChunk], qv[kChunk];
            quantize(k + h * hs + i0, n, kinv, qk);
            quantize(v + h * hs + i0, n, vinv, qv);
            // A key's 4 dimensions of a group share a 32-bit lane: one
            // store each (padding dimensions stay 0, as the cache was
            // made), the lane put together in a register.
            for (size_t g = 0; g < n; g += 4) {
                uint32_t lane = 0;
                for (size_t j = 0; j < 4 && g + j < n; j++)
                    lane |= uint32_t(qk[g + j] + 128) << (8 * j);
                const uint8_t bytes[4] = {uint8_t(lane), uint8_t(lane >> 8), uint8_t(lane >> 16),
                                          uint8_t(lane >> 24)};
                std::memcpy(kd + (i0 + g) / 4 * 4 * kKvTile, bytes, 4);
            }
            for (size_t i = 0; i < n; i++)
                vd[(i0 + i) * kKvTile] = static_cast<int8_t>(qv[i]);
        }
    }
}

void KvCache::prefetch_store(uint32_t layer, uint32_t pos) const {
    auto line = [](const void* p) { __builtin_prefetch(p, 1, 3); };
    const size_t tile = size_t(pos / kKvTile) * head_size_ * kKvTile + pos % kKvTile;
    for (uint32_t h = 0; h < n_kv_heads_; h++)
        switch (format_) {
        case KvFormat::Fp32:
            for (size_t i = 0; i < head_size_; i += 64 / (kKvTile * sizeof(float))) {
                line(k_.data() + base(layer, h) + tile + i * kKvTile);
                line(v_.data() + base(layer, h) + tile + i * kKvTile);
            }
            break;
        case KvFormat::Fp16:
            for (size_t i = 0; i < head_size_; i += 64 / (kKvTile * sizeof(uint16_t))) {
                line(k16_.data() + base(layer, h) + tile + i * kKvTile);
                line(v16_.data() + base(layer, h) + tile + i * kKvTile);
            }
            break;
        case KvFormat::Int8:
            for (size_t i = 0; i < head_size_; i += 64 / kKvTile) {
                line(k8_.data() + (size_t(layer) * n_kv_heads_ + h) * key_stride_ +
                     kv_i8_key_index(head_size_, pos, i));
                line(v8_.data() + base(layer, h) + tile + i * kKvTile);
            }
            line(ks_.data() + scale_base(layer, h) + pos);
            line(vs_.data() + scale_base(layer, h) + pos);
            break;
        }
}

void KvCache::store(uint32_t layer, uint32_t pos, const uint16_t* k, const uint16_t* v) {
    store_as(k16_, v16_, layer, pos, k, v);
}

namespace {

// llama2.c's RMSNorm, operation for operation, of @K rows.  Each row's
// sum of squares stays one chain of adds in index order, so a row's result
// does not depend on the batch; K rows at a time make K independent
// chains, which the core overlaps instead of waiting out every add's
// latency in turn.
template <size_t K>
void rmsnorm_block(float* out, const float* const (&x)[K], const float* weight, size_t n,
                   float eps) {
    float ss[K] = {};
    for (size_t j = 0; j < n; j++)
#pragma GCC unroll 8
        for (size_t r = 0; r < K; r++)
            ss[r] += x[r][j] * x[r][j];
    for (size_t r = 0; r < K; r++) {
        float s = ss[r] / static_cast<float>(n);
        s += eps;
        s = 1.0f / std::sqrt(s);
        for (size_t j = 0; j < n; j++)
            out[r * n + j] = weight[j] * (s * x[r][j]);
    }
}

// Rows x(0) .. x(n_rows - 1) into out, n floats a row: 8 at a time, then
// 4, 2 and 1.
template <typename Rows>
void rmsnorm(float* out, Rows x, size_t n_rows, const float* weight, size_t n, float eps) {
    size_t r = 0;
    auto blocks = [&]<size_t K>(std::integral_constant<size_t, K>) {
        for (; r + K <= n_rows; r += K) {
            const float* rows[K];
            for (size_t i = 0; i < K; i++)
                rows[i] = x(r + i);
            rmsnorm_block<K>(out + r * n, rows, weight, n, eps);
        }
    };
    blocks(std::integral_constant<size_t, 8>{});
    blocks(std::integral_constant<size_t, 4>{});
    blocks(std::integral_constant<size_t, 2>{});
    blocks(std::integral_constant<size_t, 1>{});
}

} // namespace

Transformer::Transformer(const BurnedModel& model, const Kernels& kernels)
    : model_(model), kernels_(kernels), packed_classifier_(kernels, model.classifier()) {
    for (const BurnedLayer& L : model.layers())
        packed_.push_back({PackedMatrix(kernels, L.wq), PackedMatrix(kernels, L.wk),
                           PackedMatrix(kernels, L.wv), PackedMatrix(kernels, L.wo),
                           PackedMatrix(kernels, L.w1), PackedMatrix(kernels, L.w2),
                           PackedMatrix(kernels, L.w3)});
    const ModelConfig& c = model.config();
    const uint32_t half = c.head_size() / 2;
    rope_cos_.resize(size_t(c.context_len) * half);
    rope_sin_.resize(size_t(c.context_len) * half);
    for (uint32_t pos = 0; pos < c.context_len; pos++)
        for (uint32_t i = 0; i < half; i++) {
            // Computed in float exactly as llama2.c does at every step.
            const float freq = 1.0f / std::pow(c.rope_theta, static_cast<float>(2 * i) /
                                                                 static_cast<float>(c.head_size()));
            const float val = static_cast<float>(pos) * freq;
            rope_cos_[size_t(pos) * half + i] = std::cos(val);
            rope_sin_[size_t(pos) * half + i] = std::sin(val);
        }
}

Transformer::Workspace::Workspace(const ModelConfig& c, uint32_t max_rows, uint32_t max_padded)
    : max_rows_(max_rows), x(size_t(max_rows) * c.dim), xb(size_t(max_rows) * c.dim),
      xb2(size_t(max_rows) * c.dim), hb(size_t(max_rows) * c.hidden_dim),
      hb2(size_t(max_rows) * c.hidden_dim), q(size_t(max_rows) * c.dim),
      k(size_t(max_rows) * c.kv_dim()), v(size_t(max_rows) * c.kv_dim()),
      att(attend_scratch(c.n_heads / c.n_kv_heads, c.context_len + 1, c.head_size())),
      logits(size_t(max_rows) * c.vocab_size), kv16(2 * size_t(c.kv_dim())),
      xq(size_t(max_rows) * max_padded), xs(size_t(max_rows) * max_padded), sampled(max_rows) {}

Transformer::Workspace Transformer::make_workspace(uint32_t max_rows) const {
    const ModelConfig& c = model_.config();
    uint32_t padded = std::max(c.dim, c.hidden_dim);
    if (uint32_t g = model_.group_size())
        padded = (padded + g - 1) / g * g;
    return Workspace(c, std::max(max_rows, 1u), padded);
}

void Transformer::matmul(const Matrix& w, const PackedMatrix& packed, const float* x, size_t n_rows,
                         float* out, Workspace& ws, bool quantize) const {
    if (w.f32) {
        kernels_.matmul_f32(w, packed.get(), x, w.cols, n_rows, out, w.rows);
        return;
    }
    const size_t groups = w.groups_per_row();
    if (quantize)
        for (size_t r = 0; r < n_rows; r++)
            kernels_.quantize(x + r * w.cols, w.cols, w.cols_padded, w.group,
                              ws.xq.data() + r * w.cols_padded, ws.xs.data() + r * groups);
    kernels_.matmul_q8(w, packed.get(), ws.xq.data(), ws.xs.data(), n_rows, out, w.rows);
}

void Transformer::rope(float* vec, size_t n, uint32_t pos) const {
    const uint32_t hs = model_.config().head_size(), half = hs / 2;
    const float* cs = rope_cos_.data() + size_t(pos) * half;
    const float* sn = rope_sin_.data() + size_t(pos) * half;
    for (size_t h = 0; h < n; h += hs) {
        float* v = vec + h;
        for (uint32_t j = 0; j < half; j++) {
            const float v0 = v[2 * j], v1 = v[2 * j + 1];
            v[2 * j] = v0 * cs[j] - v1 * sn[j];
            v[2 * j + 1] = v0 * sn[j] + v1 * cs[j];
        }
    }
}

void Transformer::forward(std::span<const Row> rows, Workspace& ws) const {
    const ModelConfig& c = model_.config();
    const size_t n = rows.size(), dim = c.dim, hid = c.hidden_dim, kv_dim = c.kv_dim();
    const uint32_t hs = c.head_size(), group = c.n_heads / c.n_kv_heads;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
    auto x_row = [&](size_t r) -> const float* { return ws.x.data() + r * dim; };

    for (size_t r = 0; r < n; r++)
        model_.embedding().row(rows[r].token, ws.x.data() + r * dim);

    for (uint32_t l = 0; l < c.n_layers; l++) {
        const BurnedLayer& L = model_.layers()[l];
        const PackedLayer& P = packed_[l];
        // The cache lines this layer's keys and values go to were last
        // written a step ago and have likely left L2 since: fetch them
        // while the matmuls run, not when the stores wait on them.
        for (size_t r = 0; r < n; r++)
            rows[r].kv->prefetch_store(l, rows[r].pos);
        rmsnorm(ws.xb.data(), x_row, n, L.attn_norm, dim, c.norm_eps);
        matmul(L.wq, P.wq, ws.xb.data(), n, ws.q.data(), ws);
        matmul(L.wk, P.wk, ws.xb.data(), n, ws.k.data(), ws, false);
        matmul(L.wv, P.wv, ws.xb.data(), n, ws.v.data(), ws, false);
        // Every row's key and value go into the caches before any row
        // attends, so a prompt chunk's rows see their predecessors.
        for (size_t r = 0; r < n; r++) {
            rope(ws.q.data() + r * dim, dim, rows[r].pos);
            rope(ws.k.data() + r * kv_dim, kv_dim, rows[r].pos);
            const float* kr = ws.k.data() + r * kv_dim;
            const float* vr = ws.v.data() + r * kv_dim;
            if (rows[r].kv->format() != KvFormat::Fp16) {
                rows[r].kv->store(l, rows[r].pos, kr, vr);
            } else {
                uint16_t* k16 = ws.kv16.data();
                kernels_.to_f16(kr, kv_dim, k16);
                kernels_.to_f16(vr, kv_dim, k16 + kv_dim);
                rows[r].kv->store(l, rows[r].pos, k16, k16 + kv_dim);
            }
        }
        for (size_t r = 0; r < n; r++) {
            const KvCache& kv = *rows[r].kv;
            for (uint32_t g = 0; g < c.n_kv_heads; g++) {
                const float* q = ws.q.data() + r * dim + size_t(g) * group * hs;
                float* out = ws.xb.data() + r * dim + size_t(g) * group * hs;
                switch (kv.format()) {
                case KvFormat::Fp32:
                    kernels_.attend(q, group, kv.keys(l, g), kv.values(l, g), rows[r].pos + 1, hs,
                                    scale, ws.att.data(), out);
                    break;
                case KvFormat::Fp16:
                    kernels_.attend_f16(q, group, kv.keys_f16(l, g), kv.values_f16(l, g),
                                        rows[r].pos + 1, hs, scale, ws.att.data(), out);
                    break;
                case KvFormat::Int8:
                    kernels_.attend_i8(q, group, {kv.keys_i8(l, g), kv.key_scales(l, g)},
                                       {kv.values_i8(l, g), kv.value_scales(l, g)}, rows[r].pos + 1,
                                       hs, scale, ws.att.data(), out);
                    break;
                }
            }
        }
        matmul(L.wo, P.wo, ws.xb.data(), n, ws.xb2.data(), ws);
        for (size_t i = 0; i < n * dim; i++)
            ws.x[i] += ws.xb2[i];

        rmsnorm(ws.xb.data(), x_row, n, L.ffn_norm, dim, c.norm_eps);
        matmul(L.w1, P.w1, ws.xb.data(), n, ws.hb.data(), ws);
        matmul(L.w3, P.w3, ws.xb.data(), n, ws.hb2.data(), ws, false);
        kernels_.swiglu(ws.hb.data(), ws.hb2.data(), n * hid);
        matmul(L.w2, P.w2, ws.hb.data(), n, ws.xb.data(), ws);
        for (size_t i = 0; i < n * dim; i++)
            ws.x[i] += ws.xb[i];
    }

    // Only rows that sample need the classifier: gather them.
    size_t m = 0;
    for (size_t r = 0; r < n; r++)
        if (rows[r].logits)
            ws.sampled[m++] = static_cast<uint32_t>(r);
    if (m == 0)
        return;
    rmsnorm(
        ws.xb.data(), [&](size_t i) { return x_row(ws.sampled[i]); }, m, model_.final_norm(), dim,
        c.norm_eps);
    matmul(model_.classifier(), packed_classifier_, ws.xb.data(), m, ws.logits.data(), ws);
    size_t j = 0;
    for (size_t r = 0; r < n; r++)
        if (rows[r].logits) {
            std::memcpy(rows[r].logits, ws.logits.data() + j * c.vocab_size, c.vocab_size * 4);
            j++;
        }
}

} // namespace hc1e
