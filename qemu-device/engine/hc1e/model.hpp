// SPDX-License-Identifier: MIT
// A model as read from a file, before burning: fp32 tensors in llama2.c's
// row-major [out][in] layout, plus the vocabulary.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hc1e {

// Sanity limits on dimensions read from files: far above any model this card
// could hold, low enough that products of them cannot overflow 64 bits.
inline constexpr uint32_t kMaxDim = 1u << 16;
inline constexpr uint32_t kMaxLayers = 1024;
inline constexpr uint32_t kMaxVocab = 1u << 20;
inline constexpr uint32_t kMaxContext = 1u << 17;
inline constexpr uint32_t kMaxTokenBytes = 1024;
inline constexpr uint64_t kMaxRopeEntries = 1ull << 24;

struct ModelConfig {
    uint32_t dim = 0;
    uint32_t hidden_dim = 0;
    uint32_t n_layers = 0;
    uint32_t n_heads = 0;
    uint32_t n_kv_heads = 0;
    uint32_t vocab_size = 0;
    uint32_t context_len = 0;
    float norm_eps = 1e-5f;
    float rope_theta = 10000.0f;

    uint32_t head_size() const { return dim / n_heads; }
    uint32_t kv_dim() const { return dim / n_heads * n_kv_heads; }
    // Throws Error naming the first dimension that is zero, absurd or
    // inconsistent (heads not dividing dim, ...).
    void validate(const std::string& what) const;
};

struct Vocab {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    uint32_t max_token_len = 0;
    uint32_t bos_id = 1;
    uint32_t eos_id = 2;

    size_t size() const { return pieces.size(); }
};

struct LayerWeights {
    std::vector<float> attn_norm; // [dim]
    std::vector<float> wq;        // [dim][dim]
    std::vector<float> wk;        // [kv_dim][dim]
    std::vector<float> wv;        // [kv_dim][dim]
    std::vector<float> wo;        // [dim][dim]
    std::vector<float> ffn_norm;  // [dim]
    std::vector<float> w1;        // [hidden][dim] (gate)
    std::vector<float> w2;        // [dim][hidden] (down)
    std::vector<float> w3;        // [hidden][dim] (up)
};

struct SourceModel {
    std::string name;
    std::string arch = "llama";
    ModelConfig cfg;
    std::vector<float> token_embedding; // [vocab][dim]
    std::vector<LayerWeights> layers;
    std::vector<float> final_norm; // [dim]
    std::vector<float> classifier; // [vocab][dim]; empty when tied to the embedding
    Vocab vocab;

    uint64_t n_params() const;
};

// llama2.c legacy checkpoint (7 int32 header; negative vocab_size means an
// untied classifier) and its tokenizer.bin.
SourceModel load_llama2c(const std::string& model_path, const std::string& tokenizer_path);
Vocab load_llama2c_tokenizer(const std::string& path, uint32_t vocab_size);

// GGUF v2/v3, llama architecture, F32/F16/Q8_0/Q4_0 tensors.
SourceModel load_gguf(const std::string& path);

// "what: field = value rule", the shape of every dimension error.
std::string dim_error(const std::string& what, const char* field, int64_t value, const char* rule);

// Either of the above, by the file's magic.
SourceModel load_model(const std::string& model_path, const std::string& tokenizer_path);

} // namespace hc1e
