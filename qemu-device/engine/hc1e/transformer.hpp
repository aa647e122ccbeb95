// SPDX-License-Identifier: MIT
// The forward pass over a batch of rows.  A row is one token at one position
// of one context; a batch mixes the prompt chunk of one context (prefill)
// with single decode steps of others.  Matmuls run over the whole batch;
// attention, RoPE and norms run per row.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "aligned.hpp"
#include "burn.hpp"
#include "kernels.hpp"

namespace hc1e {

// Element type of the KV caches, a property the card is built with like its
// weight format.  Fp32 is exact and the default (the known answers are
// recorded with it).  With many contexts their caches leave L2 and the
// bytes attention streams per token bound decode: Fp16 halves them,
// rounding every key and value to half precision; Int8 stores each key and
// value vector of a head as int8 with one fp32 scale per position and head
// (max|x| / 127, as the int8 weights are quantized), 3/8 of fp32's bytes
// for head size 8.  The values match hc1_kv_format in include/hc1/hw.h.
enum class KvFormat : uint32_t { Fp32 = 0, Fp16 = 1, Int8 = 2 };

// "f32", "f16", "int8" (what hc1-engine, the QEMU device and sysfs say).
const char* kv_format_name(KvFormat f);
// The inverse; false for any other string.
bool parse_kv_format(std::string_view name, KvFormat& out);

// One context's keys and values.  Positions are grouped in tiles of
// kKvTile: per layer and KV head, tile b holds head_size rows of kKvTile
// floats, element (pos, i) at [b = pos / kKvTile][i][pos % kKvTile].  The
// attention kernel then scores a whole tile with one multiply-add per
// head dimension, with no horizontal sums.  An int8 cache keeps its values
// in the same tiles, its keys in the tiles of KvI8Keys (kernels.hpp), and,
// per layer and KV head, one scale per position for each.
class KvCache {
  public:
    explicit KvCache(const ModelConfig& cfg, KvFormat format = KvFormat::Fp32);
    KvFormat format() const { return format_; }
    // Stores @k and @v (kv_dim values each) at @pos of @layer: floats into
    // an fp32 cache (as they are) or an int8 one (quantized per head), halves
    // into an fp16 one.
    void store(uint32_t layer, uint32_t pos, const float* k, const float* v);
    void store(uint32_t layer, uint32_t pos, const uint16_t* k, const uint16_t* v);
    // The fp32 cache's elements (keys, values) or the fp16 cache's (*_f16).
    const float* keys(uint32_t layer, uint32_t kv_head) const {
        return k_.data() + base(layer, kv_head);
    }
    const float* values(uint32_t layer, uint32_t kv_head) const {
        return v_.data() + base(layer, kv_head);
    }
    const uint16_t* keys_f16(uint32_t layer, uint32_t kv_head) const {
        return k16_.data() + base(layer, kv_head);
    }
    const uint16_t* values_f16(uint32_t layer, uint32_t kv_head) const {
        return v16_.data() + base(layer, kv_head);
    }
    const uint8_t* keys_i8(uint32_t layer, uint32_t kv_head) const {
        return k8_.data() + (size_t(layer) * n_kv_heads_ + kv_head) * key_stride_;
    }
    const int8_t* values_i8(uint32_t layer, uint32_t kv_head) const {
        return v8_.data() + base(layer, kv_head);
    }
    // The int8 cache's scales: one per position.
    const float* key_scales(uint32_t layer, uint32_t kv_head) const {
        return ks_.data() + scale_base(layer, kv_head);
    }
    const float* value_scales(uint32_t layer, uint32_t kv_head) const {
        return vs_.data() + scale_base(layer, kv_head);
    }
    static uint64_t bytes(const ModelConfig& cfg, KvFormat format = KvFormat::Fp32);
    // Prefetches, for writing, the lines store() will write for @layer and
    // @pos.
    void prefetch_store(uint32_t layer, uint32_t pos) const;

  private:
    size_t base(uint32_t layer, uint32_t kv_head) const {
        return (size_t(layer) * n_kv_heads_ + kv_head) * head_stride_;
    }
    size_t scale_base(uint32_t layer, uint32_t kv_head) const {
        return (size_t(layer) * n_kv_heads_ + kv_head) * (head_stride_ / head_size_);
    }
    void store_i8(uint32_t layer, uint32_t pos, const float* k, const float* v);
    template <typename T>
    void store_as(AlignedVector<T>& kc, AlignedVector<T>& vc, uint32_t layer, uint32_t pos,
                  const T* k, const T* v);

    KvFormat format_;
    uint32_t n_kv_heads_, head_size_;
    size_t head_stride_;                // elements per (layer, head): tiles * head_size * kKvTile
    size_t key_stride_ = 0;             // an int8 cache's key bytes per (layer, head)
    AlignedVector<float> k_, v_;        // fp32 caches
    AlignedVector<uint16_t> k16_, v16_; // fp16 caches
    AlignedVector<uint8_t> k8_;         // int8 caches
    AlignedVector<int8_t> v8_;
    AlignedVector<float> ks_, vs_; // and their scales
};

struct Row {
    KvCache* kv;
    uint32_t pos;
    uint32_t token;
    float* logits; // vocab_size floats, or null when this row needs none
};

class Transformer {
  public:
    Transformer(const BurnedModel& model, const Kernels& kernels);

    // Scratch for up to @max_rows rows; one per thread running forward().
    class Workspace {
      public:
        Workspace(const ModelConfig& cfg, uint32_t max_rows, uint32_t max_padded);
        uint32_t max_rows() const { return max_rows_; }

      private:
        friend class Transformer;
        uint32_t max_rows_;
        AlignedVector<float> x, xb, xb2, hb, hb2, q, k, v, att, logits;
        AlignedVector<uint16_t> kv16; // one row's key and value for an fp16 cache
        // The int8 path quantizes each matmul input once, for all the
        // matrices that read it.
        AlignedVector<int8_t> xq;
        AlignedVector<float> xs;
        std::vector<uint32_t> sampled; // the rows that need logits
    };
    Workspace make_workspace(uint32_t max_rows) const;

    // Rows must be at most ws.max_rows(); rows of one context must be in
    // increasing, consecutive positions so each sees its predecessors.
    void forward(std::span<const Row> rows, Workspace& ws) const;

    const BurnedModel& model() const { return model_; }
    const Kernels& kernels() const { return kernels_; }

  private:
    // For int8, @quantize says whether @x must be (re)quantized or the
    // workspace already holds it from the previous matmul on the same input.
    void matmul(const Matrix& w, const PackedMatrix& packed, const float* x, size_t n_rows,
                float* out, Workspace& ws, bool quantize = true) const;
    void rope(float* vec, size_t n, uint32_t pos) const;

    const BurnedModel& model_;
    const Kernels& kernels_;
    // The kernels' own copies of the matrices (empty for sets that read
    // the image as burned).
    struct PackedLayer {
        PackedMatrix wq, wk, wv, wo, w1, w2, w3;
    };
    std::vector<PackedLayer> packed_;
    PackedMatrix packed_classifier_;
    std::vector<float> rope_cos_, rope_sin_; // [context_len][head_size / 2]
};

} // namespace hc1e
