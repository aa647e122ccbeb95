// SPDX-License-Identifier: MIT
// The tokenizer against the real vocabularies (tok512 and Llama 2's 32000),
// with expected ids from llama2.c's encode() algorithm.
#include "llama2c_vocab.hpp"

#include <hc/error.hpp>
#include <hc/tokenizer.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <time.h>

namespace {

constexpr uint32_t kBos = 1, kEos = 2; // llama2.c's fixed ids

class TokenizerTest : public testing::TestWithParam<const char*> {
  protected:
    void SetUp() override {
        std::string path = hctest::model_dir() + "/" + GetParam();
        auto blob = hctest::vocab_blob_from_llama2c(path);
        if (!blob)
            FAIL() << path << " is missing from the repository";
        tok_.emplace(hc::Tokenizer::from_blob(*blob, kBos, kEos));
    }
    const hc::Tokenizer& tok() const { return *tok_; }
    std::optional<hc::Tokenizer> tok_;
};

std::string detokenize_streaming(const hc::Tokenizer& tok, const std::vector<uint32_t>& ids,
                                 std::vector<std::string>* pieces = nullptr) {
    hc::Detokenizer d(tok);
    std::string out;
    for (uint32_t t : ids) {
        std::string p = d.push(t);
        if (pieces)
            pieces->push_back(p);
        out += p;
    }
    return out + d.finish();
}

TEST_P(TokenizerTest, RoundTrips) {
    for (const char* text : {"Once upon a time", "Hello, wörld! 😀", "  two  spaces", "a\nb\tc",
                             "Ünïcödé ∑ 中文 テスト", "x", "The end."}) {
        std::vector<uint32_t> ids = tok().encode(text);
        ASSERT_FALSE(ids.empty());
        EXPECT_EQ(ids.front(), kBos);
        EXPECT_EQ(tok().decode(ids), text) << text;
        EXPECT_EQ(detokenize_streaming(tok(), ids), text) << text;
    }
}

TEST_P(TokenizerTest, EmptyTextIsJustBos) {
    EXPECT_EQ(tok().encode(""), std::vector<uint32_t>{kBos});
    EXPECT_TRUE(tok().encode("", false).empty());
}

TEST_P(TokenizerTest, WithoutBosKeepsLeadingSpace) {
    std::vector<uint32_t> ids = tok().encode("time", false);
    ASSERT_FALSE(ids.empty());
    EXPECT_NE(ids.front(), kBos);
    // No BOS before it: decoding keeps the dummy-prefix space.
    EXPECT_EQ(tok().decode(ids, 0), " time");
}

TEST_P(TokenizerTest, StreamingNeverSplitsUtf8) {
    std::string text = "Emoji 😀 and ∑ and é";
    std::vector<uint32_t> ids = tok().encode(text);
    std::vector<std::string> pieces;
    EXPECT_EQ(detokenize_streaming(tok(), ids, &pieces), text);
    for (const std::string& p : pieces) {
        // Every piece on its own is valid UTF-8: it ends on a boundary.
        size_t i = 0;
        while (i < p.size()) {
            auto c = static_cast<unsigned char>(p[i]);
            size_t n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
            ASSERT_LE(i + n, p.size()) << "piece splits a character";
            i += n;
        }
    }
}

// llama2.c's merge loop as it is: every pass scans all pairs and merges the
// leftmost of the best score.  encode() must give exactly its answer.
std::vector<uint32_t> reference_merge(const hc::Tokenizer& tok, std::vector<uint32_t> t,
                                      size_t first) {
    for (;;) {
        float best = -1e10f;
        int64_t best_id = -1;
        size_t at = 0;
        for (size_t k = first; k + 1 < t.size(); k++) {
            std::string pair(tok.token_text(t[k]));
            pair += tok.token_text(t[k + 1]);
            int64_t id = tok.lookup(pair);
            if (id >= 0 && tok.score(static_cast<uint32_t>(id)) > best) {
                best = tok.score(static_cast<uint32_t>(id));
                best_id = id;
                at = k;
            }
        }
        if (best_id < 0)
            return t;
        t[at] = static_cast<uint32_t>(best_id);
        t.erase(t.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
}

// The unmerged tokens of @text: BOS, the dummy prefix, one per code point
// (or its bytes).  encode() of a text whose every character is its own
// token and that no pair of which merges gives them; else build them here.
std::vector<uint32_t> unmerged(const hc::Tokenizer& tok, std::string_view text) {
    std::vector<uint32_t> t{kBos};
    if (int64_t sp = tok.lookup(" "); sp >= 0)
        t.push_back(static_cast<uint32_t>(sp));
    for (size_t i = 0; i < text.size();) {
        size_t j = i + 1;
        while (j < text.size() && j - i < 4 && (static_cast<unsigned char>(text[j]) & 0xc0) == 0x80)
            j++;
        if (int64_t id = tok.lookup(text.substr(i, j - i)); id >= 0) {
            t.push_back(static_cast<uint32_t>(id));
        } else {
            for (size_t k = i; k < j; k++) {
                std::string b = "<0x00>";
                std::snprintf(b.data(), b.size() + 1, "<0x%02X>",
                              static_cast<unsigned char>(text[k]));
                int64_t id = tok.lookup(b);
                t.push_back(id >= 0 ? static_cast<uint32_t>(id)
                                    : static_cast<unsigned char>(text[k]) + 3u);
            }
        }
        i = j;
    }
    return t;
}

std::string random_text(std::mt19937& rng, size_t len) {
    static const char* const pieces[] = {
        "the", " ",  "a", "e", "ee", "aa", "ab", "ba", "ing", " upon", "time", "Once", ",",
        ".",   "\n", "ö", "😀", "∑",  "zz", "x",  "  ", "tt",  "an",    "and",  "ll"};
    std::string s;
    while (s.size() < len)
        s += pieces[rng() % std::size(pieces)];
    return s;
}

TEST_P(TokenizerTest, MergesLikeLlama2c) {
    std::mt19937 rng(20261205);
    std::vector<std::string> texts = {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                      "abababababababababababababab", "eeeeeeeeeeeeeeeeeeeeeee e",
                                      "the the the the the the", "     "};
    for (int i = 0; i < 300; i++)
        texts.push_back(random_text(rng, 1 + rng() % 400));
    for (const std::string& text : texts) {
        std::vector<uint32_t> want = reference_merge(tok(), unmerged(tok(), text), 1);
        ASSERT_EQ(tok().encode(text), want) << "text: " << text;
    }
}

double thread_cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A hostile prompt: 1 MB of text must not cost seconds (llama2.c's merge
// loop is quadratic: hours at this size).  CPU time, not wall time: the
// machine may be busy with other tests.
TEST_P(TokenizerTest, LongPromptIsNotQuadratic) {
    std::mt19937 rng(7);
    std::string text = random_text(rng, 1 << 20);
    double t0 = thread_cpu_seconds();
    std::vector<uint32_t> ids = tok().encode(text);
    double secs = thread_cpu_seconds() - t0;
    std::cout << "encode of " << text.size() << " bytes: " << ids.size() << " tokens in " << secs
              << " s of CPU\n";
    EXPECT_LT(secs, 5.0);
    EXPECT_EQ(tok().decode(ids), text);
}

INSTANTIATE_TEST_SUITE_P(Vocabularies, TokenizerTest,
                         testing::Values("tok512.bin", "tokenizer.bin"));

// Expected ids computed with llama2.c's encode() (bos=1, dummy prefix,
// merges by score, byte fallback = byte + 3).
TEST(Tok512, KnownEncodings) {
    auto blob = hctest::vocab_blob_from_llama2c(hctest::model_dir() + "/tok512.bin");
    if (!blob)
        FAIL() << "tok512.bin is missing from the repository";
    hc::Tokenizer tok = hc::Tokenizer::from_blob(*blob, kBos, kEos);
    EXPECT_EQ(tok.size(), 512u);
    EXPECT_EQ(tok.encode("Once upon a time"), (std::vector<uint32_t>{1, 403, 407, 261, 378}));
    EXPECT_EQ(tok.encode("Hello, wörld! 😀"),
              (std::vector<uint32_t>{1, 346, 306, 414, 432, 263, 198, 185, 420, 341, 443, 410, 243,
                                     162, 155, 131}));
}

TEST(Llama2Vocab, KnownEncodings) {
    auto blob = hctest::vocab_blob_from_llama2c(hctest::model_dir() + "/tokenizer.bin");
    if (!blob)
        FAIL() << "tokenizer.bin is missing from the repository";
    hc::Tokenizer tok = hc::Tokenizer::from_blob(*blob, kBos, kEos);
    EXPECT_EQ(tok.size(), 32000u);
    EXPECT_EQ(tok.encode("Once upon a time"), (std::vector<uint32_t>{1, 9038, 2501, 263, 931}));
    EXPECT_EQ(tok.encode("I believe the meaning of life is"),
              (std::vector<uint32_t>{1, 306, 4658, 278, 6593, 310, 2834, 338}));
    EXPECT_EQ(
        tok.encode("Hello, wörld! 😀"),
        (std::vector<uint32_t>{1, 15043, 29892, 281, 1340, 430, 29991, 29871, 243, 162, 155, 131}));
}

// A tiny hand-made vocabulary for the detokenizer's edge cases.
std::vector<std::byte> tiny_blob(const std::vector<std::string>& words) {
    std::vector<std::byte> b(sizeof(hc1_vocab_blob));
    uint32_t max_len = 0;
    auto put = [&](const void* p, size_t n) {
        auto* c = static_cast<const std::byte*>(p);
        b.insert(b.end(), c, c + n);
    };
    for (const std::string& w : words) {
        float score = 0;
        uint32_t len = static_cast<uint32_t>(w.size());
        put(&score, 4);
        put(&len, 4);
        put(w.data(), w.size());
        max_len = std::max(max_len, len);
    }
    hc1_vocab_blob h{HC1_VOCAB_BLOB_MAGIC, static_cast<uint32_t>(words.size()), max_len, 0};
    std::memcpy(b.data(), &h, sizeof(h));
    return b;
}

TEST(Detokenizer, InvalidBytesBecomeReplacementCharacters) {
    auto blob = tiny_blob({"<unk>", "<s>", "</s>", "<0xFF>", "<0xE2>", "<0x88>", "a"});
    hc::Tokenizer tok = hc::Tokenizer::from_blob(blob, 1, 2);
    hc::Detokenizer d(tok);
    EXPECT_EQ(d.push(3), "\xef\xbf\xbd"); // 0xFF never starts UTF-8
    EXPECT_EQ(d.push(4), "");             // E2: first of three, held back
    EXPECT_EQ(d.push(5), "");             // 88: second
    EXPECT_EQ(d.push(6), "\xef\xbf\xbd\xef\xbf\xbd"
                         "a"); // 'a' cuts it short
    EXPECT_EQ(d.push(4), "");
    EXPECT_EQ(d.finish(), "\xef\xbf\xbd"); // dangling lead byte at the end
}

TEST(Detokenizer, SkipsBosAndEos) {
    auto blob = tiny_blob({"<unk>", "<s>", "</s>", " hi"});
    hc::Tokenizer tok = hc::Tokenizer::from_blob(blob, 1, 2);
    hc::Detokenizer d(tok, 0);
    EXPECT_EQ(d.push(1), "");
    EXPECT_EQ(d.push(3), "hi"); // leading space dropped after BOS
    EXPECT_EQ(d.push(3), " hi");
    EXPECT_EQ(d.push(2), "");
}

TEST(Tokenizer, RejectsMalformedBlobs) {
    auto good = tiny_blob({"<unk>", "<s>", "</s>", "abc"});
    auto expect_eproto = [](std::vector<std::byte> blob, uint32_t bos = 1) {
        try {
            hc::Tokenizer::from_blob(blob, bos, 2);
            ADD_FAILURE() << "malformed blob accepted";
        } catch (const hc::Error& e) {
            EXPECT_EQ(e.code(), EPROTO) << e.what();
        }
    };
    EXPECT_NO_THROW(hc::Tokenizer::from_blob(good, 1, 2));
    expect_eproto({});                                                   // no header
    expect_eproto(std::vector<std::byte>(good.begin(), good.end() - 1)); // cut inside a token
    auto bad_magic = good;
    bad_magic[0] = std::byte{0};
    expect_eproto(bad_magic);
    auto huge_count = good;
    uint32_t n = 0xffffffff;
    std::memcpy(huge_count.data() + 4, &n, 4);
    expect_eproto(huge_count);
    auto long_token = good;
    uint32_t len = 1000;
    std::memcpy(long_token.data() + sizeof(hc1_vocab_blob) + 4, &len, 4);
    expect_eproto(long_token);
    expect_eproto(good, 99); // BOS outside the vocabulary
}

} // namespace
