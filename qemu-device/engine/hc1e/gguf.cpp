// SPDX-License-Identifier: MIT
// GGUF loader for the llama architecture.  Every count, length, dimension
// and offset comes from the file and is checked before it is used.
#include "gguf.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>

#include "file.hpp"
#include "model.hpp"

namespace hc1e {

namespace gguf {

float half_to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalise
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while ((mant & 0x400) == 0);
            bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000 | mant << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | mant << 13;
    }
    return std::bit_cast<float>(bits);
}

uint16_t float_to_half(float f) {
    const uint32_t x = std::bit_cast<uint32_t>(f);
    const uint32_t sign = (x >> 16) & 0x8000;
    const int32_t exp = int32_t((x >> 23) & 0xff) - 127 + 15;
    uint32_t mant = x & 0x7fffff;
    if (((x >> 23) & 0xff) == 0xff)
        return uint16_t(sign | 0x7c00 | (mant ? 0x200 : 0));
    if (exp >= 31)
        return uint16_t(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10)
            return uint16_t(sign);
        mant |= 0x800000;
        const uint32_t shift = uint32_t(14 - exp);
        uint32_t h = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return uint16_t(sign | h);
    }
    uint32_t h = uint32_t(exp) << 10 | mant >> 13;
    const uint32_t rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++; // may carry into the exponent, which is the correct rounding
    return uint16_t(sign | h);
}

} // namespace gguf

namespace {

using namespace gguf;

constexpr uint64_t kMaxTensors = 1u << 16;
constexpr uint64_t kMaxKv = 1u << 16;
constexpr uint64_t kMaxString = 1u << 20;

struct TensorInfo {
    std::vector<uint64_t> dims; // ne[0] innermost
    uint32_t type = 0;
    uint64_t offset = 0;
};

struct Metadata {
    std::map<std::string, int64_t> ints;
    std::map<std::string, double> floats;
    std::map<std::string, std::string> strings;
    std::vector<std::string> tokens;
    std::vector<float> scores;
    bool has_tokens = false;
};

class Parser {
  public:
    Parser(std::span<const std::byte> data, const std::string& path) : in_(data, "GGUF " + path) {}

    std::string string(const char* item) {
        const uint64_t len = in_.read<uint64_t>();
        if (len > kMaxString)
            in_.fail(std::string(item) + " string length " + std::to_string(len) + " is absurd");
        auto b = in_.take(len, item);
        return {reinterpret_cast<const char*>(b.data()), b.size()};
    }

    static uint64_t scalar_size(uint32_t type) {
        switch (type) {
        case kUint8:
        case kInt8:
        case kBool:
            return 1;
        case kUint16:
        case kInt16:
            return 2;
        case kUint32:
        case kInt32:
        case kFloat32:
            return 4;
        case kUint64:
        case kInt64:
        case kFloat64:
            return 8;
        default:
            return 0;
        }
    }

    // A scalar of @type as int64 / double; false for strings and arrays.
    bool scalar(uint32_t type, int64_t& i, double& d) {
        switch (type) {
        case kUint8:
            i = in_.read<uint8_t>();
            break;
        case kInt8:
            i = in_.read<int8_t>();
            break;
        case kBool:
            i = in_.read<uint8_t>();
            break;
        case kUint16:
            i = in_.read<uint16_t>();
            break;
        case kInt16:
            i = in_.read<int16_t>();
            break;
        case kUint32:
            i = in_.read<uint32_t>();
            break;
        case kInt32:
            i = in_.read<int32_t>();
            break;
        case kUint64: {
            uint64_t u = in_.read<uint64_t>();
            i = u > uint64_t(INT64_MAX) ? INT64_MAX : int64_t(u);
            break;
        }
        case kInt64:
            i = in_.read<int64_t>();
            break;
        case kFloat32:
            d = in_.read<float>();
            i = 0;
            return true;
        case kFloat64:
            d = in_.read<double>();
            i = 0;
            return true;
        default:
            return false;
        }
        d = static_cast<double>(i);
        return true;
    }

    void value(const std::string& key, uint32_t type, Metadata& meta) {
        int64_t i;
        double d;
        if (type == kString) {
            meta.strings[key] = string("metadata value");
            return;
        }
        if (type == kArray) {
            array(key, meta);
            return;
        }
        if (!scalar(type, i, d))
            in_.fail("metadata " + key + " has unknown type " + std::to_string(type));
        if (type == kFloat32 || type == kFloat64)
            meta.floats[key] = d;
        else
            meta.ints[key] = i;
    }

    void array(const std::string& key, Metadata& meta) {
        const uint32_t type = in_.read<uint32_t>();
        const uint64_t count = in_.read<uint64_t>();
        // Each element takes at least one byte (a string at least eight):
        // a count beyond what remains is a lie, refuse it before reserving.
        const uint64_t min_size = type == kString ? 8 : scalar_size(type);
        if (min_size == 0)
            in_.fail("metadata array " + key + " has unsupported element type " +
                     std::to_string(type));
        if (count > in_.remaining() / min_size)
            in_.fail("metadata array " + key + " claims " + std::to_string(count) +
                     " elements, more than the file holds");
        if (key == "tokenizer.ggml.tokens") {
            if (type != kString)
                in_.fail("tokenizer.ggml.tokens is not an array of strings");
            meta.tokens.reserve(count);
            for (uint64_t j = 0; j < count; j++)
                meta.tokens.push_back(string("token"));
            meta.has_tokens = true;
            return;
        }
        if (key == "tokenizer.ggml.scores") {
            if (type != kFloat32)
                in_.fail("tokenizer.ggml.scores is not an array of float32");
            meta.scores.resize(count);
            auto b = in_.take(count * 4, "scores");
            std::memcpy(meta.scores.data(), b.data(), b.size());
            return;
        }
        for (uint64_t j = 0; j < count; j++) {
            if (type == kString)
                string("array element");
            else
                in_.take(scalar_size(type), "array element");
        }
    }

    ByteReader in_;
};

uint64_t tensor_bytes(const TensorInfo& t, uint64_t n, const std::string& name) {
    switch (t.type) {
    case kF32:
        return checked_mul(n, 4, name.c_str());
    case kF16:
        return checked_mul(n, 2, name.c_str());
    case kQ8_0:
    case kQ4_0:
        // Blocks never span rows.
        if (t.dims[0] % 32 != 0)
            throw Error("GGUF tensor " + name + ": rows of " + std::to_string(t.dims[0]) +
                        " values are not whole blocks of 32");
        return n / 32 * (t.type == kQ8_0 ? 34 : 18);
    default:
        throw Error("GGUF tensor " + name + ": unsupported type " + std::to_string(t.type) +
                    " (F32, F16, Q8_0, Q4_0 are)");
    }
}

void dequantize(const TensorInfo& t, const std::byte* src, uint64_t n, float* out) {
    auto u16 = [](const std::byte* p) {
        uint16_t v;
        std::memcpy(&v, p, 2);
        return v;
    };
    switch (t.type) {
    case kF32:
        std::memcpy(out, src, n * 4);
        break;
    case kF16:
        for (uint64_t i = 0; i < n; i++)
            out[i] = half_to_float(u16(src + 2 * i));
        break;
    case kQ8_0:
        for (uint64_t b = 0; b < n / 32; b++) {
            const std::byte* blk = src + b * 34;
            const float d = half_to_float(u16(blk));
            for (int j = 0; j < 32; j++)
                out[b * 32 + j] = static_cast<float>(static_cast<int8_t>(blk[2 + j])) * d;
        }
        break;
    case kQ4_0:
        for (uint64_t b = 0; b < n / 32; b++) {
            const std::byte* blk = src + b * 18;
            const float d = half_to_float(u16(blk));
            for (int j = 0; j < 16; j++) {
                const uint8_t q = static_cast<uint8_t>(blk[2 + j]);
                out[b * 32 + j] = static_cast<float>(int(q & 0x0f) - 8) * d;
                out[b * 32 + j + 16] = static_cast<float>(int(q >> 4) - 8) * d;
            }
        }
        break;
    }
}

// SentencePiece writes a space as U+2581; llama2.c's tokenizer.bin and this
// engine use a plain space.
std::string from_sentencepiece(const std::string& piece) {
    static const std::string kSpace = "\xe2\x96\x81";
    std::string out;
    for (size_t i = 0; i < piece.size();) {
        if (piece.compare(i, kSpace.size(), kSpace) == 0) {
            out += ' ';
            i += kSpace.size();
        } else {
            out += piece[i++];
        }
    }
    return out;
}

} // namespace

SourceModel load_gguf(const std::string& path) {
    MappedFile file = MappedFile::open(path);
    Parser p(file.bytes(), path);
    ByteReader& in = p.in_;
    const std::string what = "GGUF " + path;
    if (in.read<uint32_t>() != kMagic)
        in.fail("bad magic (not a GGUF file)");
    const uint32_t version = in.read<uint32_t>();
    if (version != 2 && version != 3)
        in.fail("unsupported version " + std::to_string(version) + " (2 and 3 are)");
    const uint64_t n_tensors = in.read<uint64_t>();
    const uint64_t n_kv = in.read<uint64_t>();
    if (n_tensors > kMaxTensors || n_kv > kMaxKv)
        in.fail("absurd counts: " + std::to_string(n_tensors) + " tensors, " +
                std::to_string(n_kv) + " metadata entries");

    Metadata meta;
    for (uint64_t i = 0; i < n_kv; i++) {
        std::string key = p.string("metadata key");
        const uint32_t type = in.read<uint32_t>();
        p.value(key, type, meta);
    }

    std::map<std::string, TensorInfo> tensors;
    for (uint64_t i = 0; i < n_tensors; i++) {
        std::string name = p.string("tensor name");
        TensorInfo t;
        const uint32_t n_dims = in.read<uint32_t>();
        if (n_dims < 1 || n_dims > 4)
            in.fail("tensor " + name + " has " + std::to_string(n_dims) + " dimensions");
        for (uint32_t d = 0; d < n_dims; d++) {
            t.dims.push_back(in.read<uint64_t>());
            if (t.dims.back() == 0 || t.dims.back() > (1ull << 32))
                in.fail("tensor " + name + " dimension " + std::to_string(t.dims.back()) +
                        " is absurd");
        }
        t.type = in.read<uint32_t>();
        t.offset = in.read<uint64_t>();
        if (!tensors.emplace(name, t).second)
            in.fail("tensor " + name + " appears twice");
    }
    uint64_t alignment = kDefaultAlignment;
    if (auto it = meta.ints.find("general.alignment"); it != meta.ints.end()) {
        if (it->second <= 0 || it->second > 65536 || (it->second & (it->second - 1)) != 0)
            in.fail("general.alignment " + std::to_string(it->second) +
                    " is not a power of two <= 65536");
        alignment = static_cast<uint64_t>(it->second);
    }
    const uint64_t data_start = (in.offset() + alignment - 1) / alignment * alignment;
    if (data_start > file.bytes().size())
        in.fail("tensor data would start past the end of the file");

    auto get_int = [&](const std::string& key, std::optional<int64_t> fallback) -> uint32_t {
        auto it = meta.ints.find(key);
        if (it == meta.ints.end()) {
            if (!fallback)
                throw Error(what + ": metadata " + key + " is missing");
            return static_cast<uint32_t>(*fallback);
        }
        if (it->second < 0 || it->second > INT32_MAX)
            throw Error(what + ": metadata " + key + " = " + std::to_string(it->second) +
                        " is out of range");
        return static_cast<uint32_t>(it->second);
    };
    auto get_float = [&](const std::string& key, double fallback) {
        auto it = meta.floats.find(key);
        return static_cast<float>(it == meta.floats.end() ? fallback : it->second);
    };

    auto arch = meta.strings.find("general.architecture");
    if (arch == meta.strings.end() || arch->second != "llama")
        throw Error(what + ": architecture " +
                    (arch == meta.strings.end() ? std::string("(missing)") : arch->second) +
                    " is not llama");
    if (!meta.has_tokens)
        throw Error(what + ": tokenizer.ggml.tokens is missing");

    SourceModel m;
    ModelConfig& c = m.cfg;
    c.dim = get_int("llama.embedding_length", {});
    c.hidden_dim = get_int("llama.feed_forward_length", {});
    c.n_layers = get_int("llama.block_count", {});
    c.n_heads = get_int("llama.attention.head_count", {});
    c.n_kv_heads = get_int("llama.attention.head_count_kv", c.n_heads);
    c.context_len = get_int("llama.context_length", {});
    c.vocab_size = static_cast<uint32_t>(std::min<uint64_t>(meta.tokens.size(), UINT32_MAX));
    c.norm_eps = get_float("llama.attention.layer_norm_rms_epsilon", 1e-5);
    c.rope_theta = get_float("llama.rope.freq_base", 10000.0);
    c.validate(what);
    if (c.head_size() != get_int("llama.rope.dimension_count", c.head_size()))
        throw Error(what + ": partial rotary embeddings are not supported");

    auto tensor = [&](const std::string& name, uint64_t cols, uint64_t rows) {
        auto it = tensors.find(name);
        if (it == tensors.end())
            throw Error(what + ": tensor " + name + " is missing");
        const TensorInfo& t = it->second;
        uint64_t n = 1;
        for (uint64_t d : t.dims)
            n = checked_mul(n, d, name.c_str());
        const bool shape_ok = (t.dims.size() == 1 && rows == 1 && t.dims[0] == cols) ||
                              (t.dims.size() == 2 && t.dims[0] == cols && t.dims[1] == rows);
        if (!shape_ok) {
            std::string shape;
            for (uint64_t d : t.dims) {
                if (!shape.empty())
                    shape += 'x';
                shape += std::to_string(d);
            }
            throw Error(what + ": tensor " + name + " has shape " + shape + ", expected " +
                        std::to_string(cols) + "x" + std::to_string(rows));
        }
        const uint64_t bytes = tensor_bytes(t, n, name);
        const uint64_t begin = checked_add(data_start, t.offset, name.c_str());
        const uint64_t end = checked_add(begin, bytes, name.c_str());
        if (end > file.bytes().size())
            throw Error(what + ": tensor " + name + " data [" + std::to_string(begin) + ", " +
                        std::to_string(end) + ") is past the end of the file (" +
                        std::to_string(file.bytes().size()) + " bytes)");
        std::vector<float> out(n);
        dequantize(t, file.bytes().data() + begin, n, out.data());
        return out;
    };

    const uint64_t dim = c.dim, hid = c.hidden_dim, kv = c.kv_dim(), vocab = c.vocab_size;
    m.token_embedding = tensor("token_embd.weight", dim, vocab);
    m.layers.resize(c.n_layers);
    for (uint32_t l = 0; l < c.n_layers; l++) {
        const std::string b = "blk." + std::to_string(l) + ".";
        LayerWeights& L = m.layers[l];
        L.attn_norm = tensor(b + "attn_norm.weight", dim, 1);
        L.wq = tensor(b + "attn_q.weight", dim, dim);
        L.wk = tensor(b + "attn_k.weight", dim, kv);
        L.wv = tensor(b + "attn_v.weight", dim, kv);
        L.wo = tensor(b + "attn_output.weight", dim, dim);
        L.ffn_norm = tensor(b + "ffn_norm.weight", dim, 1);
        L.w1 = tensor(b + "ffn_gate.weight", dim, hid);
        L.w2 = tensor(b + "ffn_down.weight", hid, dim);
        L.w3 = tensor(b + "ffn_up.weight", dim, hid);
    }
    m.final_norm = tensor("output_norm.weight", dim, 1);
    if (tensors.count("output.weight"))
        m.classifier = tensor("output.weight", dim, vocab);

    Vocab& v = m.vocab;
    if (!meta.scores.empty() && meta.scores.size() != meta.tokens.size())
        throw Error(what + ": " + std::to_string(meta.scores.size()) + " scores for " +
                    std::to_string(meta.tokens.size()) + " tokens");
    v.pieces.reserve(meta.tokens.size());
    for (const auto& t : meta.tokens) {
        v.pieces.push_back(from_sentencepiece(t));
        if (v.pieces.back().size() > kMaxTokenBytes)
            throw Error(what + ": a token is longer than " + std::to_string(kMaxTokenBytes) +
                        " bytes");
        v.max_token_len = std::max<uint32_t>(v.max_token_len, uint32_t(v.pieces.back().size()));
    }
    v.scores = meta.scores.empty() ? std::vector<float>(v.pieces.size(), 0.0f) : meta.scores;
    v.bos_id = get_int("tokenizer.ggml.bos_token_id", 1);
    v.eos_id = get_int("tokenizer.ggml.eos_token_id", 2);
    if (v.bos_id >= vocab || v.eos_id >= vocab)
        throw Error(what + ": BOS " + std::to_string(v.bos_id) + " or EOS " +
                    std::to_string(v.eos_id) + " is outside the vocabulary of " +
                    std::to_string(vocab));
    if (auto name = meta.strings.find("general.name"); name != meta.strings.end())
        m.name = name->second;
    else
        m.name = path.substr(path.find_last_of('/') + 1);
    return m;
}

} // namespace hc1e
