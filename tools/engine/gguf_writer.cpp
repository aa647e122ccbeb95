// SPDX-License-Identifier: MIT
#include "gguf_writer.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "hc1e/error.hpp"
#include "hc1e/gguf.hpp"

namespace hc1e {

namespace {

using namespace gguf;

class Buffer {
  public:
    template <typename T> void put(T v) {
        const auto* p = reinterpret_cast<const uint8_t*>(&v);
        bytes_.insert(bytes_.end(), p, p + sizeof(T));
    }
    void str(const std::string& s) {
        put<uint64_t>(s.size());
        bytes_.insert(bytes_.end(), s.begin(), s.end());
    }
    void raw(const void* p, size_t n) {
        const auto* b = static_cast<const uint8_t*>(p);
        bytes_.insert(bytes_.end(), b, b + n);
    }
    void pad_to(size_t alignment) {
        while (bytes_.size() % alignment)
            bytes_.push_back(0);
    }
    size_t size() const { return bytes_.size(); }
    const std::vector<uint8_t>& bytes() const { return bytes_; }

  private:
    std::vector<uint8_t> bytes_;
};

struct Tensor {
    std::string name;
    const std::vector<float>* data;
    uint64_t cols, rows; // ne0, ne1 (rows = 1 for a vector)
    bool vector;
};

std::string to_sentencepiece(const std::string& piece) {
    std::string out;
    for (char c : piece) {
        if (c == ' ')
            out += "\xe2\x96\x81";
        else
            out += c;
    }
    return out;
}

// SentencePiece token types, as llama.cpp's vocabulary expects them.
int32_t token_type(const std::string& piece, uint32_t id, const Vocab& v) {
    if (id == 0)
        return 2; // unknown
    if (id == v.bos_id || id == v.eos_id)
        return 3; // control
    if (piece.size() == 6 && piece.rfind("<0x", 0) == 0 && piece[5] == '>')
        return 6; // byte
    return 1;
}

void quantize_q8_0(const float* x, size_t n, Buffer& out) {
    for (size_t b = 0; b < n / 32; b++) {
        float amax = 0.0f;
        for (int j = 0; j < 32; j++)
            amax = std::max(amax, std::fabs(x[b * 32 + j]));
        const float d = amax / 127.0f;
        const float id = d > 0.0f ? 1.0f / d : 0.0f;
        out.put<uint16_t>(float_to_half(d));
        for (int j = 0; j < 32; j++)
            out.put<int8_t>(static_cast<int8_t>(std::round(x[b * 32 + j] * id)));
    }
}

// llama.cpp's Q4_0: d = the value of largest magnitude / -8, q = x / d + 8
// clamped to 4 bits; low nibbles hold values 0..15, high nibbles 16..31.
void quantize_q4_0(const float* x, size_t n, Buffer& out) {
    for (size_t b = 0; b < n / 32; b++) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < 32; j++) {
            const float v = x[b * 32 + j];
            if (std::fabs(v) > amax) {
                amax = std::fabs(v);
                max = v;
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        out.put<uint16_t>(float_to_half(d));
        for (int j = 0; j < 16; j++) {
            auto q = [&](int k) {
                const int v = static_cast<int>(x[b * 32 + k] * id + 8.5f);
                return static_cast<uint8_t>(std::min(15, std::max(0, v)));
            };
            out.put<uint8_t>(static_cast<uint8_t>(q(j) | q(j + 16) << 4));
        }
    }
}

} // namespace

void write_gguf(const SourceModel& m, GgufType type, const std::string& path) {
    const ModelConfig& c = m.cfg;
    c.validate("export");
    std::vector<Tensor> tensors;
    const uint64_t dim = c.dim, hid = c.hidden_dim, kv = c.kv_dim(), vocab = c.vocab_size;
    tensors.push_back({"token_embd.weight", &m.token_embedding, dim, vocab, false});
    for (uint32_t l = 0; l < c.n_layers; l++) {
        const std::string b = "blk." + std::to_string(l) + ".";
        const LayerWeights& L = m.layers[l];
        tensors.push_back({b + "attn_norm.weight", &L.attn_norm, dim, 1, true});
        tensors.push_back({b + "attn_q.weight", &L.wq, dim, dim, false});
        tensors.push_back({b + "attn_k.weight", &L.wk, dim, kv, false});
        tensors.push_back({b + "attn_v.weight", &L.wv, dim, kv, false});
        tensors.push_back({b + "attn_output.weight", &L.wo, dim, dim, false});
        tensors.push_back({b + "ffn_norm.weight", &L.ffn_norm, dim, 1, true});
        tensors.push_back({b + "ffn_gate.weight", &L.w1, dim, hid, false});
        tensors.push_back({b + "ffn_down.weight", &L.w2, hid, dim, false});
        tensors.push_back({b + "ffn_up.weight", &L.w3, dim, hid, false});
    }
    tensors.push_back({"output_norm.weight", &m.final_norm, dim, 1, true});
    if (!m.classifier.empty())
        tensors.push_back({"output.weight", &m.classifier, dim, vocab, false});

    Buffer data;
    std::vector<std::pair<uint32_t, uint64_t>> placed; // type, offset
    for (const Tensor& t : tensors) {
        if (t.data->size() != t.cols * t.rows)
            throw Error("export: tensor " + t.name + " has the wrong size");
        data.pad_to(kDefaultAlignment);
        const uint64_t offset = data.size();
        const bool blocks = !t.vector && t.cols % 32 == 0;
        if (type == GgufType::Q8_0 && blocks) {
            quantize_q8_0(t.data->data(), t.data->size(), data);
            placed.push_back({kQ8_0, offset});
        } else if (type == GgufType::Q4_0 && blocks) {
            quantize_q4_0(t.data->data(), t.data->size(), data);
            placed.push_back({kQ4_0, offset});
        } else if (type == GgufType::F16 && !t.vector) {
            for (float v : *t.data)
                data.put<uint16_t>(float_to_half(v));
            placed.push_back({kF16, offset});
        } else {
            data.raw(t.data->data(), t.data->size() * 4);
            placed.push_back({kF32, offset});
        }
    }

    Buffer h;
    uint64_t n_kv = 0;
    auto key = [&](const std::string& k, uint32_t vtype) {
        h.str(k);
        h.put<uint32_t>(vtype);
        n_kv++;
    };
    h.put<uint32_t>(kMagic);
    h.put<uint32_t>(3);
    h.put<uint64_t>(tensors.size());
    const size_t n_kv_at = h.size();
    h.put<uint64_t>(0); // patched below
    key("general.architecture", kString);
    h.str("llama");
    key("general.name", kString);
    h.str(m.name);
    key("general.alignment", kUint32);
    h.put<uint32_t>(kDefaultAlignment);
    const std::pair<const char*, uint32_t> dims[] = {
        {"llama.context_length", c.context_len},
        {"llama.embedding_length", c.dim},
        {"llama.block_count", c.n_layers},
        {"llama.feed_forward_length", c.hidden_dim},
        {"llama.rope.dimension_count", c.head_size()},
        {"llama.attention.head_count", c.n_heads},
        {"llama.attention.head_count_kv", c.n_kv_heads},
    };
    for (auto [k, v] : dims) {
        key(k, kUint32);
        h.put<uint32_t>(v);
    }
    key("llama.attention.layer_norm_rms_epsilon", kFloat32);
    h.put<float>(c.norm_eps);
    key("llama.rope.freq_base", kFloat32);
    h.put<float>(c.rope_theta);
    key("tokenizer.ggml.model", kString);
    h.str("llama");
    key("tokenizer.ggml.tokens", kArray);
    h.put<uint32_t>(kString);
    h.put<uint64_t>(m.vocab.size());
    for (const auto& p : m.vocab.pieces)
        h.str(to_sentencepiece(p));
    key("tokenizer.ggml.scores", kArray);
    h.put<uint32_t>(kFloat32);
    h.put<uint64_t>(m.vocab.size());
    for (float s : m.vocab.scores)
        h.put<float>(s);
    key("tokenizer.ggml.token_type", kArray);
    h.put<uint32_t>(kInt32);
    h.put<uint64_t>(m.vocab.size());
    for (uint32_t i = 0; i < m.vocab.size(); i++)
        h.put<int32_t>(token_type(m.vocab.pieces[i], i, m.vocab));
    key("tokenizer.ggml.bos_token_id", kUint32);
    h.put<uint32_t>(m.vocab.bos_id);
    key("tokenizer.ggml.eos_token_id", kUint32);
    h.put<uint32_t>(m.vocab.eos_id);
    key("tokenizer.ggml.unknown_token_id", kUint32);
    h.put<uint32_t>(0);

    for (size_t i = 0; i < tensors.size(); i++) {
        const Tensor& t = tensors[i];
        h.str(t.name);
        h.put<uint32_t>(t.vector ? 1 : 2);
        h.put<uint64_t>(t.cols);
        if (!t.vector)
            h.put<uint64_t>(t.rows);
        h.put<uint32_t>(placed[i].first);
        h.put<uint64_t>(placed[i].second);
    }
    h.pad_to(kDefaultAlignment);

    std::vector<uint8_t> header = h.bytes();
    std::memcpy(header.data() + n_kv_at, &n_kv, sizeof n_kv);
    struct Closer {
        void operator()(FILE* f) const { std::fclose(f); }
    };
    std::unique_ptr<FILE, Closer> f(std::fopen(path.c_str(), "wb"));
    if (!f)
        throw Error("cannot create " + path);
    if (std::fwrite(header.data(), 1, header.size(), f.get()) != header.size() ||
        std::fwrite(data.bytes().data(), 1, data.size(), f.get()) != data.size() ||
        std::fflush(f.get()) != 0)
        throw Error("cannot write " + path);
}

} // namespace hc1e
