// SPDX-License-Identifier: MIT
// llama2.c legacy checkpoints and tokenizer.bin.
#include <cmath>
#include <cstring>

#include "file.hpp"
#include "model.hpp"

namespace hc1e {

Vocab load_llama2c_tokenizer(const std::string& path, uint32_t vocab_size) {
    MappedFile file = MappedFile::open(path);
    ByteReader in(file.bytes(), "tokenizer " + path);
    Vocab vocab;
    int32_t max_len = in.read<int32_t>();
    if (max_len <= 0 || static_cast<uint32_t>(max_len) > kMaxTokenBytes)
        in.fail("max_token_length " + std::to_string(max_len) + " is out of range [1, " +
                std::to_string(kMaxTokenBytes) + "]");
    vocab.max_token_len = static_cast<uint32_t>(max_len);
    vocab.pieces.reserve(vocab_size);
    vocab.scores.reserve(vocab_size);
    for (uint32_t i = 0; i < vocab_size; i++) {
        float score = in.read<float>();
        int32_t len = in.read<int32_t>();
        if (!std::isfinite(score))
            in.fail("token " + std::to_string(i) + " has a non-finite score");
        if (len < 0 || len > max_len)
            in.fail("token " + std::to_string(i) + " length " + std::to_string(len) +
                    " exceeds max_token_length " + std::to_string(max_len));
        auto bytes = in.take(static_cast<uint64_t>(len), "token bytes");
        vocab.pieces.emplace_back(reinterpret_cast<const char*>(bytes.data()), bytes.size());
        vocab.scores.push_back(score);
    }
    // llama2.c's sentencepiece export: <unk>=0, <s>=1, </s>=2.
    vocab.bos_id = vocab_size > 1 ? 1 : 0;
    vocab.eos_id = vocab_size > 2 ? 2 : 0;
    return vocab;
}

SourceModel load_llama2c(const std::string& model_path, const std::string& tokenizer_path) {
    MappedFile file = MappedFile::open(model_path);
    const std::string what = "checkpoint " + model_path;
    ByteReader in(file.bytes(), what);
    int32_t header[7];
    for (auto& h : header)
        h = in.read<int32_t>();
    static const char* names[7] = {"dim",        "hidden_dim", "n_layers", "n_heads",
                                   "n_kv_heads", "vocab_size", "seq_len"};
    for (int i = 0; i < 7; i++) {
        if (header[i] == 0 || (header[i] < 0 && i != 5) || header[i] == INT32_MIN)
            throw Error(dim_error(what, names[i], header[i], "is not a positive size"));
    }
    SourceModel m;
    ModelConfig& c = m.cfg;
    c.dim = static_cast<uint32_t>(header[0]);
    c.hidden_dim = static_cast<uint32_t>(header[1]);
    c.n_layers = static_cast<uint32_t>(header[2]);
    c.n_heads = static_cast<uint32_t>(header[3]);
    c.n_kv_heads = static_cast<uint32_t>(header[4]);
    const bool shared = header[5] > 0;
    c.vocab_size = static_cast<uint32_t>(shared ? header[5] : -header[5]);
    c.context_len = static_cast<uint32_t>(header[6]);
    c.validate(what);

    // Every size below is bounded by the limits validate() enforced, so the
    // 64-bit products cannot overflow; the file must hold exactly them.
    const uint64_t dim = c.dim, hid = c.hidden_dim, L = c.n_layers, kv = c.kv_dim();
    const uint64_t vocab = c.vocab_size, rope = uint64_t(c.context_len) * c.head_size();
    uint64_t floats = vocab * dim + L * (2 * dim + 2 * dim * dim + 2 * dim * kv + 3 * dim * hid) +
                      dim + rope + (shared ? 0 : vocab * dim);
    uint64_t expect = 28 + floats * 4;
    if (file.bytes().size() != expect)
        throw Error(what + ": file is " + std::to_string(file.bytes().size()) +
                    " bytes, the header describes " + std::to_string(expect) +
                    (file.bytes().size() < expect ? " (truncated)" : " (trailing data)"));

    auto tensor = [&](uint64_t n, const char* name) {
        auto bytes = in.take(n * 4, name);
        std::vector<float> v(n);
        std::memcpy(v.data(), bytes.data(), n * 4);
        return v;
    };
    m.token_embedding = tensor(vocab * dim, "token_embedding");
    m.layers.resize(c.n_layers);
    auto per_layer = [&](std::vector<float> LayerWeights::*field, uint64_t n, const char* name) {
        for (auto& l : m.layers)
            l.*field = tensor(n, name);
    };
    per_layer(&LayerWeights::attn_norm, dim, "rms_att_weight");
    per_layer(&LayerWeights::wq, dim * dim, "wq");
    per_layer(&LayerWeights::wk, kv * dim, "wk");
    per_layer(&LayerWeights::wv, kv * dim, "wv");
    per_layer(&LayerWeights::wo, dim * dim, "wo");
    per_layer(&LayerWeights::ffn_norm, dim, "rms_ffn_weight");
    per_layer(&LayerWeights::w1, hid * dim, "w1");
    per_layer(&LayerWeights::w2, dim * hid, "w2");
    per_layer(&LayerWeights::w3, hid * dim, "w3");
    m.final_norm = tensor(dim, "rms_final_weight");
    in.take(rope * 4, "freq_cis"); // legacy RoPE tables, recomputed by the engine
    if (!shared)
        m.classifier = tensor(vocab * dim, "wcls");

    m.vocab = load_llama2c_tokenizer(tokenizer_path, c.vocab_size);
    auto slash = model_path.find_last_of('/');
    m.name = model_path.substr(slash == std::string::npos ? 0 : slash + 1);
    if (auto dot = m.name.rfind('.'); dot != std::string::npos && dot > 0)
        m.name.resize(dot);
    return m;
}

} // namespace hc1e
