// SPDX-License-Identifier: MIT
// What every loader shares: dimension validation, parameter counting and
// choosing the loader by the file's magic.
#include <cmath>
#include <cstring>

#include "file.hpp"
#include "model.hpp"

namespace hc1e {

std::string dim_error(const std::string& what, const char* field, int64_t value, const char* rule) {
    return what + ": " + field + " = " + std::to_string(value) + " " + rule;
}

void ModelConfig::validate(const std::string& what) const {
    auto range = [&](const char* field, uint64_t v, uint64_t max) {
        if (v == 0 || v > max)
            throw Error(dim_error(what, field, static_cast<int64_t>(v),
                                  ("is out of range [1, " + std::to_string(max) + "]").c_str()));
    };
    range("dim", dim, kMaxDim);
    range("hidden_dim", hidden_dim, 4ull * kMaxDim);
    range("n_layers", n_layers, kMaxLayers);
    range("n_heads", n_heads, dim);
    range("n_kv_heads", n_kv_heads, n_heads);
    range("vocab_size", vocab_size, kMaxVocab);
    range("context_len", context_len, kMaxContext);
    if (dim % n_heads != 0)
        throw Error(dim_error(what, "n_heads", n_heads, "does not divide dim"));
    if (n_heads % n_kv_heads != 0)
        throw Error(dim_error(what, "n_kv_heads", n_kv_heads, "does not divide n_heads"));
    if (head_size() % 2 != 0)
        throw Error(dim_error(what, "head_size", head_size(), "is odd (RoPE rotates pairs)"));
    // The RoPE tables hold context_len x head_size / 2 pairs; nothing in a
    // file bounds the context by the weights it holds, so bound the tables.
    if (uint64_t(context_len) * (head_size() / 2) > kMaxRopeEntries)
        throw Error(what + ": context_len " + std::to_string(context_len) + " x head_size " +
                    std::to_string(head_size()) + " needs RoPE tables larger than " +
                    std::to_string(kMaxRopeEntries) + " entries");
    if (!(norm_eps > 0.0f && norm_eps < 1.0f))
        throw Error(what + ": norm epsilon " + std::to_string(norm_eps) + " is not in (0, 1)");
    if (!(rope_theta > 1.0f && std::isfinite(rope_theta)))
        throw Error(what + ": rope theta " + std::to_string(rope_theta) + " is not > 1");
}

uint64_t SourceModel::n_params() const {
    uint64_t n = token_embedding.size() + final_norm.size() + classifier.size();
    for (const auto& l : layers)
        n += l.attn_norm.size() + l.wq.size() + l.wk.size() + l.wv.size() + l.wo.size() +
             l.ffn_norm.size() + l.w1.size() + l.w2.size() + l.w3.size();
    return n;
}

SourceModel load_model(const std::string& model_path, const std::string& tokenizer_path) {
    {
        MappedFile file = MappedFile::open(model_path);
        auto b = file.bytes();
        if (b.size() >= 4 && std::memcmp(b.data(), "GGUF", 4) == 0)
            return load_gguf(model_path);
    }
    if (tokenizer_path.empty())
        throw Error("checkpoint " + model_path +
                    ": not GGUF, so a llama2.c checkpoint, which needs a tokenizer file");
    return load_llama2c(model_path, tokenizer_path);
}

} // namespace hc1e
