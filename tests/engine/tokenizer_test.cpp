// SPDX-License-Identifier: MIT
// The llama2.c-style BPE tokenizer on the real vocabularies.
#include "hc1e/tokenizer.hpp"
#include "synthetic.hpp"
#include "test_util.hpp"

namespace hc1e::test {
namespace {

const char* const kTexts[] = {
    "Once upon a time",
    "Lily's mom said, \"Lily, let's go to the park.\"",
    "  leading spaces, trailing space ",
    "tabs\tand\nnew\nlines\n",
    "numbers 1234567890 and symbols ~!@#$%^&*()_+{}|:<>?",
    "unicode: h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e "
    "\xf0\x9f\x98\x80",
    "x",
};

void expect_round_trips(const Tokenizer& tok) {
    for (const char* text : kTexts) {
        const std::vector<uint32_t> ids = tok.encode(text, true, false);
        ASSERT_GE(ids.size(), 2u) << text;
        EXPECT_EQ(ids[0], tok.bos());
        for (uint32_t id : ids)
            EXPECT_LT(id, tok.vocab().size());
        EXPECT_EQ(tok.decode_all(std::span(ids).subspan(1)), text);
        const std::vector<uint32_t> with_eos = tok.encode(text, true, true);
        EXPECT_EQ(with_eos.back(), tok.eos());
        EXPECT_EQ(with_eos.size(), ids.size() + 1);
    }
    EXPECT_EQ(tok.encode("", true, false), std::vector<uint32_t>{tok.bos()});
    EXPECT_TRUE(tok.encode("", false, false).empty());
}

TEST(Tokenizer, Tok512RoundTrips) {
    HC1E_REQUIRE_MODEL("tok512.bin");
    Tokenizer tok(load_llama2c_tokenizer(model_file("tok512.bin"), 512));
    expect_round_trips(tok);
    // Merges happen: the prompt is four tokens after BOS, not sixteen bytes.
    EXPECT_EQ(tok.encode("Once upon a time", true, false).size(), 5u);
}

TEST(Tokenizer, Llama32kRoundTripsAndKnownIds) {
    HC1E_REQUIRE_MODEL("tokenizer.bin");
    Tokenizer tok(load_llama2c_tokenizer(model_file("tokenizer.bin"), 32000));
    expect_round_trips(tok);
    // Llama 2's ids for "Hello world": <s> ▁Hello ▁world.
    EXPECT_EQ(tok.encode("Hello world", true, false), (std::vector<uint32_t>{1, 15043, 3186}));
    // A character outside the vocabulary falls back to its UTF-8 bytes.
    const auto ids = tok.encode("\xf0\x9f\x98\x80", false, false);
    ASSERT_GE(ids.size(), 4u);
    EXPECT_EQ(tok.vocab().pieces[ids.back()], "<0x80>");
}

TEST(Tokenizer, ByteFallbackAndBosSpace) {
    const SourceModel m = synthetic_model();
    Tokenizer tok(m.vocab);
    // 'A' is only a byte piece (<0x41>), 'z' has none at all: <unk>.
    const auto ids = tok.encode("A", false, false);
    EXPECT_EQ(ids, (std::vector<uint32_t>{3, 13})); // dummy " ", <0x41>
    EXPECT_EQ(tok.decode(tok.bos(), 13), "A");
    EXPECT_EQ(tok.encode("z", false, false), (std::vector<uint32_t>{3, 0}));
    // Best-scoring merge first: " a" (score -7) beats "ab" (-8) ...
    EXPECT_EQ(tok.encode("ab", false, false), (std::vector<uint32_t>{10})); // " ab"
    EXPECT_EQ(tok.decode(tok.bos(), 7), "a"); // " a" after BOS loses its space
    EXPECT_EQ(tok.decode(4, 7), " a");
    EXPECT_EQ(tok.decode(0, 999), "");
}

} // namespace
} // namespace hc1e::test
