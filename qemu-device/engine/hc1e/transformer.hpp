// SPDX-License-Identifier: MIT
// The forward pass over a batch of rows.  A row is one token at one position
// of one context; a batch mixes the prompt chunk of one context (prefill)
// with single decode steps of others.  Matmuls run over the whole batch;
// attention, RoPE and norms run per row.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "burn.hpp"
#include "kernels.hpp"

namespace hc1e {

// One context's keys and values: [layer][position][kv_dim] each.
class KvCache {
  public:
    explicit KvCache(const ModelConfig& cfg);
    float* key(uint32_t layer, uint32_t pos) { return k_.data() + offset(layer, pos); }
    float* value(uint32_t layer, uint32_t pos) { return v_.data() + offset(layer, pos); }
    static uint64_t bytes(const ModelConfig& cfg);

  private:
    size_t offset(uint32_t layer, uint32_t pos) const {
        return (size_t(layer) * context_len_ + pos) * kv_dim_;
    }
    uint32_t context_len_, kv_dim_;
    std::vector<float> k_, v_;
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
        std::vector<float> x, xb, xb2, hb, hb2, q, k, v, att, logits;
        std::vector<int8_t> xq;
        std::vector<float> xs;
    };
    Workspace make_workspace(uint32_t max_rows) const;

    // Rows must be at most ws.max_rows(); rows of one context must be in
    // increasing, consecutive positions so each sees its predecessors.
    void forward(std::span<const Row> rows, Workspace& ws) const;

    const BurnedModel& model() const { return model_; }
    const Kernels& kernels() const { return kernels_; }

  private:
    void matmul(const Matrix& w, const float* x, size_t n_rows, float* out, Workspace& ws) const;
    void rope(float* vec, size_t n, uint32_t pos) const;

    const BurnedModel& model_;
    const Kernels& kernels_;
    std::vector<float> rope_cos_, rope_sin_; // [context_len][head_size / 2]
};

} // namespace hc1e
