// SPDX-License-Identifier: MIT
// A tiny random model, and writers for the llama2.c formats, so file tests
// need no model on disk and can corrupt copies freely.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

#include "hc1e/model.hpp"
#include "hc1e/sampler.hpp"

namespace hc1e::test {

inline SourceModel synthetic_model(bool tied = true, uint32_t hidden = 12) {
    SourceModel m;
    m.name = "synthetic";
    ModelConfig& c = m.cfg;
    c.dim = 8;
    c.hidden_dim = hidden;
    c.n_layers = 2;
    c.n_heads = 2;
    c.n_kv_heads = 1;
    c.vocab_size = 16;
    c.context_len = 16;
    Rng rng(42);
    auto fill = [&](size_t n) {
        std::vector<float> v(n);
        for (float& x : v)
            x = rng.uniform() - 0.5f;
        return v;
    };
    const size_t dim = c.dim, hid = c.hidden_dim, kv = c.kv_dim();
    m.token_embedding = fill(c.vocab_size * dim);
    m.layers.resize(c.n_layers);
    for (auto& l : m.layers) {
        l.attn_norm = fill(dim);
        l.wq = fill(dim * dim);
        l.wk = fill(kv * dim);
        l.wv = fill(kv * dim);
        l.wo = fill(dim * dim);
        l.ffn_norm = fill(dim);
        l.w1 = fill(hid * dim);
        l.w2 = fill(dim * hid);
        l.w3 = fill(hid * dim);
    }
    m.final_norm = fill(dim);
    if (!tied)
        m.classifier = fill(c.vocab_size * dim);
    const char* pieces[16] = {"<unk>", "\n<s>\n", "\n</s>\n", " ",  "a",  "b",      "c", " a",
                              "ab",    "abc",     " ab",      "ba", "cc", "<0x41>", "x", "y"};
    for (uint32_t i = 0; i < c.vocab_size; i++) {
        m.vocab.pieces.push_back(pieces[i]);
        m.vocab.scores.push_back(-float(i));
        m.vocab.max_token_len =
            std::max<uint32_t>(m.vocab.max_token_len, uint32_t(std::strlen(pieces[i])));
    }
    return m;
}

class Bytes {
  public:
    template <typename T> Bytes& put(T v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        data.insert(data.end(), p, p + sizeof(T));
        return *this;
    }
    Bytes& floats(const std::vector<float>& v) {
        for (float x : v)
            put(x);
        return *this;
    }
    std::vector<uint8_t> data;
};

inline std::vector<uint8_t> llama2c_checkpoint(const SourceModel& m) {
    const ModelConfig& c = m.cfg;
    Bytes b;
    const int32_t vocab = m.classifier.empty() ? int32_t(c.vocab_size) : -int32_t(c.vocab_size);
    b.put<int32_t>(c.dim).put<int32_t>(c.hidden_dim).put<int32_t>(c.n_layers);
    b.put<int32_t>(c.n_heads).put<int32_t>(c.n_kv_heads).put<int32_t>(vocab);
    b.put<int32_t>(c.context_len);
    b.floats(m.token_embedding);
    for (auto f : {&LayerWeights::attn_norm, &LayerWeights::wq, &LayerWeights::wk,
                   &LayerWeights::wv, &LayerWeights::wo, &LayerWeights::ffn_norm, &LayerWeights::w1,
                   &LayerWeights::w2, &LayerWeights::w3})
        for (const auto& l : m.layers)
            b.floats(l.*f);
    b.floats(m.final_norm);
    b.floats(std::vector<float>(size_t(c.context_len) * c.head_size(), 0.0f)); // freq_cis
    if (!m.classifier.empty())
        b.floats(m.classifier);
    return b.data;
}

inline std::vector<uint8_t> llama2c_tokenizer(const Vocab& v) {
    Bytes b;
    b.put<int32_t>(static_cast<int32_t>(v.max_token_len));
    for (size_t i = 0; i < v.size(); i++) {
        b.put<float>(v.scores[i]).put<int32_t>(static_cast<int32_t>(v.pieces[i].size()));
        for (char ch : v.pieces[i])
            b.put<char>(ch);
    }
    return b.data;
}

// A file in the test's temporary directory, removed at the end.
class TempFile {
  public:
    explicit TempFile(const std::string& name) {
        const char* dir = std::getenv("TMPDIR");
        path_ = std::string(dir && *dir ? dir : "/tmp") + "/hc1e-" + std::to_string(getpid()) +
                "-" + name;
    }
    ~TempFile() { std::remove(path_.c_str()); }
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;

    const std::string& path() const { return path_; }
    void write(const std::vector<uint8_t>& bytes) const {
        FILE* f = std::fopen(path_.c_str(), "wb");
        ASSERT_NE(f, nullptr) << path_;
        if (!bytes.empty()) {
            ASSERT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
        }
        std::fclose(f);
    }
    std::vector<uint8_t> read() const {
        std::vector<uint8_t> out;
        FILE* f = std::fopen(path_.c_str(), "rb");
        if (!f)
            return out;
        uint8_t buf[65536];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;)
            out.insert(out.end(), buf, buf + n);
        std::fclose(f);
        return out;
    }

  private:
    std::string path_;
};

} // namespace hc1e::test
