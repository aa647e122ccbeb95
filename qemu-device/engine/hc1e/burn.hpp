// SPDX-License-Identifier: MIT
// "Burning": the model converted into the card's weight image, one
// contiguous, zero-padded, 64-byte-aligned block whose SHA-256 is the
// model's identity.  Layout (little endian):
//
//   ImageHeader (64 bytes)
//   token embedding, then per layer: attn_norm wq wk wv wo ffn_norm w1 w2 w3,
//   then final_norm, then the classifier unless tied to the embedding.
//
// Norm vectors are fp32 in both formats.  A matrix [rows][cols] is fp32
// row-major, or in int8 format: rows x cols_padded int8 values (cols padded
// with zeros to a multiple of the group) followed by rows x groups fp32
// scales, value = q * scale of its group.  Each tensor starts 64-aligned.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "model.hpp"
#include "sha256.hpp"

namespace hc1e {

enum class WeightFormat : uint32_t { Fp32 = 0, Int8 = 1 };

inline constexpr uint32_t kImageMagic = 0x57314348; // "HC1W"
inline constexpr uint32_t kImageVersion = 1;

struct ImageHeader {
    uint32_t magic, version, format, group_size;
    uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, context_len;
    float norm_eps, rope_theta;
    uint32_t tied_classifier;
    uint32_t reserved[2];
};
static_assert(sizeof(ImageHeader) == 64);

// A matrix inside the image.
struct Matrix {
    uint32_t rows = 0;
    uint32_t cols = 0;
    uint32_t cols_padded = 0; // == cols for fp32
    uint32_t group = 0;       // 0 for fp32
    const float* f32 = nullptr;
    const int8_t* q = nullptr;
    const float* scales = nullptr; // [rows][cols_padded / group]

    uint32_t groups_per_row() const { return group ? cols_padded / group : 0; }
    // Row @r as floats (dequantized for int8) into @out[cols].
    void row(uint32_t r, float* out) const;
};

struct BurnedLayer {
    const float* attn_norm = nullptr;
    Matrix wq, wk, wv, wo;
    const float* ffn_norm = nullptr;
    Matrix w1, w2, w3;
};

class BurnedModel {
  public:
    // @group_size: 32 or 64 for Int8; ignored for Fp32.  Throws Error.
    static BurnedModel burn(const SourceModel& src, WeightFormat format, uint32_t group_size);

    const ModelConfig& config() const { return cfg_; }
    WeightFormat format() const { return format_; }
    uint32_t group_size() const { return format_ == WeightFormat::Int8 ? group_ : 0; }
    std::span<const std::byte> image() const { return {image_.get(), image_size_}; }
    const Sha256::Digest& sha256() const { return sha256_; }
    uint64_t n_params() const { return n_params_; }

    const Matrix& embedding() const { return embedding_; }
    const Matrix& classifier() const { return tied_ ? embedding_ : classifier_; }
    const float* final_norm() const { return final_norm_; }
    const std::vector<BurnedLayer>& layers() const { return layers_; }

  private:
    struct FreeDeleter {
        void operator()(std::byte* p) const;
    };

    ModelConfig cfg_;
    WeightFormat format_ = WeightFormat::Fp32;
    uint32_t group_ = 0;
    bool tied_ = true;
    std::unique_ptr<std::byte, FreeDeleter> image_;
    size_t image_size_ = 0;
    Sha256::Digest sha256_{};
    uint64_t n_params_ = 0;
    Matrix embedding_, classifier_;
    const float* final_norm_ = nullptr;
    std::vector<BurnedLayer> layers_;
};

} // namespace hc1e
