// SPDX-License-Identifier: MIT
// Hostile model files: every one must give an error naming the problem,
// never a crash, an out-of-bounds read or a huge allocation.  Run under
// AddressSanitizer/UBSan too (hc1_engine_tests_asan).
#include <algorithm>

#include "gguf_writer.hpp"
#include "hc1_engine.h"
#include "hc1e/error.hpp"
#include "hc1e/gguf.hpp"
#include "hc1e/model.hpp"
#include "synthetic.hpp"

namespace hc1e::test {
namespace {

// Loads @model (+ @tokenizer) and returns the error message, or "" if it
// loaded.
std::string load_error(const std::string& model, const std::string& tokenizer) {
    try {
        load_model(model, tokenizer);
        return "";
    } catch (const Error& e) {
        return e.what();
    }
}

class CorruptLlama2c : public ::testing::Test {
  protected:
    void SetUp() override {
        model_ = synthetic_model();
        checkpoint_ = llama2c_checkpoint(model_);
        tokenizer_.write(llama2c_tokenizer(model_.vocab));
    }
    std::string error_with(const std::vector<uint8_t>& checkpoint) {
        file_.write(checkpoint);
        return load_error(file_.path(), tokenizer_.path());
    }
    std::vector<uint8_t> with_header(int field, int32_t value) {
        auto b = checkpoint_;
        std::memcpy(b.data() + 4 * field, &value, 4);
        return b;
    }

    SourceModel model_;
    std::vector<uint8_t> checkpoint_;
    TempFile file_{"model.bin"}, tokenizer_{"tok.bin"};
};

TEST_F(CorruptLlama2c, ValidFileLoads) {
    EXPECT_EQ(error_with(checkpoint_), "");
    auto untied = synthetic_model(false);
    EXPECT_EQ(error_with(llama2c_checkpoint(untied)), "");
}

TEST_F(CorruptLlama2c, EveryTruncationIsRefused) {
    for (size_t len = 0; len < checkpoint_.size(); len += len < 64 ? 1 : 61) {
        std::vector<uint8_t> cut(checkpoint_.begin(), checkpoint_.begin() + long(len));
        const std::string err = error_with(cut);
        EXPECT_NE(err.find("truncated"), std::string::npos) << len << ": " << err;
    }
}

TEST_F(CorruptLlama2c, TrailingDataIsRefused) {
    auto b = checkpoint_;
    b.push_back(0);
    EXPECT_NE(error_with(b).find("trailing data"), std::string::npos);
}

TEST_F(CorruptLlama2c, AbsurdDimensionsAreRefused) {
    const struct {
        int field;
        int32_t value;
        const char* expect;
    } cases[] = {
        {0, 0, "dim = 0"},
        {0, -8, "dim = -8"},
        {0, 1 << 30, "dim = 1073741824 is out of range"},
        {1, INT32_MIN, "hidden_dim"},
        {2, 100000, "n_layers = 100000 is out of range"},
        {3, 3, "n_heads = 3 does not divide dim"},
        {3, 8, "head_size = 1 is odd"},
        {4, 3, "n_kv_heads = 3 is out of range"},
        {5, 0, "vocab_size = 0"},
        {5, INT32_MIN, "vocab_size"},
        {5, 1 << 21, "vocab_size = 2097152 is out of range"},
        {6, -1, "seq_len = -1"},
        {6, 1 << 30, "context_len = 1073741824 is out of range"},
    };
    for (const auto& c : cases) {
        const std::string err = error_with(with_header(c.field, c.value));
        EXPECT_NE(err.find(c.expect), std::string::npos) << c.expect << " -> " << err;
    }
}

TEST_F(CorruptLlama2c, DimensionsDescribingAHugeModelAreRefusedBeforeAllocating) {
    // Large but individually valid: the implied size dwarfs the file.
    auto b = with_header(0, 65536);
    std::memcpy(b.data() + 4, "\x00\x00\x04\x00", 4); // hidden 262144
    std::memcpy(b.data() + 8, "\x00\x04\x00\x00", 4); // 1024 layers
    const std::string err = error_with(b);
    EXPECT_NE(err.find("truncated"), std::string::npos) << err;
}

TEST_F(CorruptLlama2c, HostileTokenizersAreRefused) {
    file_.write(checkpoint_);
    const auto good = llama2c_tokenizer(model_.vocab);
    auto expect = [&](std::vector<uint8_t> tok, const char* what) {
        tokenizer_.write(tok);
        const std::string err = load_error(file_.path(), tokenizer_.path());
        EXPECT_NE(err.find(what), std::string::npos) << what << " -> " << err;
    };
    auto patch = [&](size_t at, auto value) {
        auto t = good;
        std::memcpy(t.data() + at, &value, sizeof value);
        return t;
    };
    expect(std::vector<uint8_t>(good.begin(), good.begin() + 2), "truncated");
    expect(std::vector<uint8_t>(good.begin(), good.end() - 1), "truncated");
    expect(patch(0, int32_t(0)), "max_token_length 0");
    expect(patch(0, int32_t(-5)), "max_token_length -5");
    expect(patch(0, int32_t(1 << 30)), "max_token_length 1073741824");
    expect(patch(8, int32_t(-1)), "token 0 length -1");
    expect(patch(8, int32_t(1000)), "exceeds max_token_length");
    expect(patch(4, std::numeric_limits<float>::quiet_NaN()), "non-finite score");
    for (size_t len = 0; len < good.size(); len++)
        expect(std::vector<uint8_t>(good.begin(), good.begin() + long(len)), "tokenizer");
}

// Limits that no small hostile file can reach through the weights it must
// hold, checked on the configuration directly.
TEST(CorruptFiles, ConfigurationLimits) {
    ModelConfig c = synthetic_model().cfg;
    EXPECT_NO_THROW(c.validate("ok"));
    auto error = [](ModelConfig cfg) {
        try {
            cfg.validate("cfg");
            return std::string();
        } catch (const Error& e) {
            return std::string(e.what());
        }
    };
    ModelConfig rope = c;
    rope.dim = 512;
    rope.n_heads = rope.n_kv_heads = 1;
    rope.context_len = kMaxContext;
    EXPECT_NE(error(rope).find("RoPE tables"), std::string::npos) << error(rope);
    ModelConfig eps = c;
    eps.norm_eps = 0.0f;
    EXPECT_NE(error(eps).find("norm epsilon"), std::string::npos);
    eps.norm_eps = std::numeric_limits<float>::quiet_NaN();
    EXPECT_NE(error(eps).find("norm epsilon"), std::string::npos);
    ModelConfig theta = c;
    theta.rope_theta = std::numeric_limits<float>::infinity();
    EXPECT_NE(error(theta).find("rope theta"), std::string::npos);
}

TEST(CorruptFiles, MissingAndSpecialFiles) {
    EXPECT_NE(load_error("/nonexistent/model.bin", "/nonexistent/tok.bin").find("cannot open"),
              std::string::npos);
    EXPECT_NE(load_error("/tmp", "/tmp").find("not a regular file"), std::string::npos);
    TempFile empty("empty.bin");
    empty.write({});
    EXPECT_NE(load_error(empty.path(), empty.path()).find("truncated"), std::string::npos);
    EXPECT_NE(load_error(empty.path(), "").find("needs a tokenizer"), std::string::npos);
}

TEST(CorruptFiles, CApiReportsTheProblem) {
    TempFile model("capi.bin"), tok("capi-tok.bin");
    auto m = synthetic_model();
    auto b = llama2c_checkpoint(m);
    b.resize(b.size() / 2);
    model.write(b);
    tok.write(llama2c_tokenizer(m.vocab));
    hc1_engine_config cfg{};
    cfg.model_path = model.path().c_str();
    cfg.tokenizer_path = tok.path().c_str();
    cfg.n_contexts = 1;
    cfg.n_threads = 1;
    char err[256] = "";
    EXPECT_EQ(hc1_engine_open(&cfg, err, sizeof err), nullptr);
    EXPECT_NE(std::string(err).find("truncated"), std::string::npos) << err;
    // A tiny buffer still gets a terminated prefix.
    char small[8];
    EXPECT_EQ(hc1_engine_open(&cfg, small, sizeof small), nullptr);
    EXPECT_EQ(std::strlen(small), 7u);
    cfg.format = 7;
    EXPECT_EQ(hc1_engine_open(&cfg, err, sizeof err), nullptr);
    EXPECT_NE(std::string(err).find("format"), std::string::npos);
    cfg.format = HC1_ENGINE_FP32;
    cfg.n_contexts = 0;
    model.write(llama2c_checkpoint(m));
    EXPECT_EQ(hc1_engine_open(&cfg, err, sizeof err), nullptr);
    EXPECT_NE(std::string(err).find("n_contexts"), std::string::npos) << err;
    cfg.n_contexts = 1;
    cfg.n_threads = 0;
    EXPECT_EQ(hc1_engine_open(&cfg, err, sizeof err), nullptr);
    EXPECT_NE(std::string(err).find("n_threads"), std::string::npos) << err;
    EXPECT_EQ(hc1_engine_open(nullptr, err, sizeof err), nullptr);
}

// ------------------------------------------------------------------ GGUF

class CorruptGguf : public ::testing::Test {
  protected:
    void SetUp() override {
        model_ = synthetic_model(false);
        write_gguf(model_, GgufType::F32, file_.path());
        good_ = file_.read();
        ASSERT_FALSE(good_.empty());
    }
    std::string error_with(const std::vector<uint8_t>& bytes) {
        file_.write(bytes);
        try {
            load_gguf(file_.path());
            return "";
        } catch (const Error& e) {
            return e.what();
        }
    }
    // Offset just past the first occurrence of @s (a key or tensor name).
    size_t after(const std::string& s) const {
        auto it = std::search(good_.begin(), good_.end(), s.begin(), s.end());
        EXPECT_NE(it, good_.end()) << s;
        return size_t(it - good_.begin()) + s.size();
    }
    template <typename T> std::vector<uint8_t> patched(size_t at, T value) const {
        auto b = good_;
        std::memcpy(b.data() + at, &value, sizeof value);
        return b;
    }
    void expect(const std::vector<uint8_t>& bytes, const char* what) {
        const std::string err = error_with(bytes);
        EXPECT_NE(err.find(what), std::string::npos) << what << " -> " << err;
    }

    SourceModel model_;
    TempFile file_{"model.gguf"};
    std::vector<uint8_t> good_;
};

TEST_F(CorruptGguf, ValidFileLoads) {
    EXPECT_EQ(error_with(good_), "");
}

TEST_F(CorruptGguf, HeaderProblems) {
    expect(patched(0, uint32_t(0x46554746)), "bad magic");
    expect(patched(4, uint32_t(1)), "unsupported version 1");
    expect(patched(4, uint32_t(99)), "unsupported version 99");
    expect(patched(8, uint64_t(1) << 40), "absurd counts");
    expect(patched(16, uint64_t(1) << 40), "absurd counts");
    EXPECT_NE(error_with(patched(8, uint64_t(1000))), ""); // more tensor infos than present
}

TEST_F(CorruptGguf, MetadataProblems) {
    // The first key's length.
    expect(patched(24, uint64_t(1) << 62), "string length");
    expect(patched(24, uint64_t(1) << 19), "truncated");
    // Value type of general.architecture.
    expect(patched(after("general.architecture"), uint32_t(77)), "unknown type 77");
    // The token array's element count.
    const size_t tokens = after("tokenizer.ggml.tokens") + 4 + 4;
    expect(patched(tokens, uint64_t(1) << 60), "more than the file holds");
    expect(patched(after("tokenizer.ggml.tokens") + 4, uint32_t(gguf::kArray)), "unsupported");
    // Vocabulary ids out of range.
    expect(patched(after("tokenizer.ggml.bos_token_id") + 4, uint32_t(16)), "outside the vocab");
    expect(patched(after("tokenizer.ggml.eos_token_id") + 4, uint32_t(1u << 31)), "out of range");
    // Dimensions.
    expect(patched(after("llama.embedding_length") + 4, uint32_t(0)), "dim = 0");
    expect(patched(after("llama.attention.head_count") + 4, uint32_t(3)), "does not divide");
    expect(patched(after("general.alignment") + 4, uint32_t(48)), "power of two");
    auto arch = good_;
    std::memcpy(arch.data() + after("general.architecture") + 4 + 8, "llamb", 5);
    expect(arch, "is not llama");
    auto key = good_;
    key[after("llama.block_count") - 1] = 'X';
    expect(key, "llama.block_count is missing");
}

TEST_F(CorruptGguf, TensorProblems) {
    const size_t q = after("blk.0.attn_q.weight"); // n_dims, dims[2], type, offset
    expect(patched(q, uint32_t(0)), "0 dimensions");
    expect(patched(q, uint32_t(5)), "5 dimensions");
    expect(patched(q + 4, uint64_t(0)), "is absurd");
    expect(patched(q + 4, uint64_t(1) << 40), "is absurd");
    expect(patched(q + 4, uint64_t(9)), "has shape 9x8, expected 8x8");
    expect(patched(q + 4 + 16, uint32_t(3)), "unsupported type 3");
    const size_t down = after("blk.0.ffn_down.weight"); // 8 rows of 12 values
    expect(patched(down + 4 + 16, uint32_t(gguf::kQ8_0)), "rows of 12 values");
    expect(patched(q + 4 + 16 + 4, uint64_t(good_.size())), "past the end");
    expect(patched(q + 4 + 16 + 4, ~uint64_t(0) - 8), "overflows");
    // Two dimensions of 2^32: the element count overflows 64 bits.
    auto big = patched(q + 4, uint64_t(1) << 32);
    std::memcpy(big.data() + q + 12, big.data() + q + 4, 8);
    expect(big, "overflows");
    auto name = good_;
    name[q - 1] = 'X';
    expect(name, "blk.0.attn_q.weight is missing");
    auto dup = good_;
    const std::string k = "blk.0.attn_k.weight";
    std::memcpy(dup.data() + after(k) - k.size(), "blk.0.attn_q.weight", k.size());
    expect(dup, "appears twice");
}

TEST_F(CorruptGguf, EveryTruncationIsRefused) {
    for (size_t len = 0; len < good_.size(); len += len < 512 ? 1 : 37) {
        std::vector<uint8_t> cut(good_.begin(), good_.begin() + long(len));
        EXPECT_NE(error_with(cut), "") << len;
    }
}

// Random byte corruption: whatever happens, it is an Error or a valid
// load, never a crash (the sanitizer build makes "never" strict).
TEST_F(CorruptGguf, RandomCorruptionNeverCrashes) {
    Rng rng(1234);
    int refused = 0;
    const int runs = 1000;
    for (int i = 0; i < runs; i++) {
        auto b = good_;
        const int flips = 1 + int(rng.next() % 4);
        for (int f = 0; f < flips; f++) {
            // Mostly the header and metadata, where the structure is.
            const size_t span = rng.next() % 4 ? std::min<size_t>(b.size(), 2048) : b.size();
            b[rng.next() % span] = uint8_t(rng.next());
        }
        refused += error_with(b) != "";
    }
    std::printf("%d of %d corrupted files refused, the rest loaded\n", refused, runs);
    EXPECT_GT(refused, 0);
}

} // namespace
} // namespace hc1e::test
