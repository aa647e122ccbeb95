// SPDX-License-Identifier: MIT
/**
 * @file hc/tokenizer.hpp
 * @brief SentencePiece-BPE tokenizer built from the vocabulary the card
 *        reports, a streaming detokenizer and a stop-string matcher.
 */
#pragma once

#if __cplusplus < 202002L
#error "libhc's C++ headers need C++20: compile with -std=c++20 (hc::hc in CMake sets it)"
#endif

#include <hc/export.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hc {

/**
 * Tokenizer - text <-> token ids, with the semantics of llama2.c.
 *
 * Encoding: optional BOS, then a dummy-prefix space token (as SentencePiece's
 * add_dummy_prefix) if the text is not empty, then one token per UTF-8 code
 * point (or its bytes as <0xNN> byte-fallback tokens when the code point is
 * not in the vocabulary), then repeatedly merge the adjacent pair whose
 * concatenation is the vocabulary entry of highest score.
 *
 * Decoding: a byte-fallback token decodes to its byte; the leading space of
 * the first token after BOS is dropped.  Pieces may be incomplete UTF-8; use
 * Detokenizer to stream text.
 *
 * A Tokenizer is immutable after construction and safe to share between
 * threads.
 */
class HC_API Tokenizer {
  public:
    /**
     * Build from an HC1 vocabulary blob (struct hc1_vocab_blob followed by
     * entries, see linux/hc1.h).  Throws hc::Error(EPROTO) if it is malformed.
     */
    static Tokenizer from_blob(std::span<const std::byte> blob, uint32_t bos_id, uint32_t eos_id);

    /** Text to tokens, BOS first if @p add_bos. */
    std::vector<uint32_t> encode(std::string_view text, bool add_bos = true) const;

    /**
     * The bytes of @p token as it appears after @p prev: byte tokens become
     * their byte, a leading space after BOS is dropped.  Unknown ids give "".
     */
    std::string_view piece(uint32_t prev, uint32_t token) const;

    /** Decode a whole sequence (first token's predecessor taken as @p prev). */
    std::string decode(std::span<const uint32_t> tokens, uint32_t prev = UINT32_MAX) const;

    /** The raw vocabulary entry (byte tokens spelled "<0xNN>"). */
    std::string_view token_text(uint32_t token) const;
    /** The merge score of @p token. */
    float score(uint32_t token) const;
    /** Id of the exact vocabulary entry @p text, or -1. */
    int64_t lookup(std::string_view text) const;

    /** Tokens in the vocabulary. */
    size_t size() const { return entries_.size(); }
    /** Beginning-of-sequence token (encode() puts it first). */
    uint32_t bos_id() const { return bos_; }
    /** End-of-sequence token (decoding skips it). */
    uint32_t eos_id() const { return eos_; }

  private:
    struct Entry {
        std::string text;
        float score;
        int byte; // the byte of a <0xNN> token, else -1
    };
    std::vector<Entry> entries_;
    std::unordered_map<std::string_view, uint32_t> index_; // views into entries_
    int64_t byte_token_[256];
    uint32_t bos_ = 0, eos_ = 0;
    size_t max_len_ = 0;

    Tokenizer() = default;
    void build_index();

  public:
    /** Copies rebuild the lookup index; moves keep it. */
    Tokenizer(const Tokenizer&);
    Tokenizer& operator=(const Tokenizer&) = delete;
    Tokenizer(Tokenizer&&) noexcept = default;
    Tokenizer& operator=(Tokenizer&&) = delete;
};

/**
 * Detokenizer - turns a token stream into text that never splits a UTF-8
 * sequence.
 *
 * push() returns the text that became complete with this token (possibly
 * empty: a multi-byte character spread over byte tokens is held back until
 * its last byte).  Bytes that cannot start or continue valid UTF-8 are
 * replaced by U+FFFD.  finish() flushes what is left (an incomplete trailing
 * sequence becomes U+FFFD).
 */
class HC_API Detokenizer {
  public:
    /** Start as if after BOS: the leading space of the first piece is dropped. */
    explicit Detokenizer(const Tokenizer& tok);
    /** Continue after token @p prev (e.g. the prompt's last token). */
    Detokenizer(const Tokenizer& tok, uint32_t prev);
    /** Feed one token; returns the newly complete text. */
    std::string push(uint32_t token);
    /** Flush held-back bytes. */
    std::string finish();

  private:
    const Tokenizer* tok_;
    uint32_t prev_;
    std::string pending_;
    std::string take_complete(bool final);
};

/**
 * StopMatcher - cut streamed text at the first of several stop strings.
 *
 * Text arrives in pieces (a Detokenizer's output) that may split a stop
 * string anywhere.  push() returns what can be shown now: everything except
 * a tail that could still grow into a stop string.  Once a stop string is
 * complete, stopped() is true, the text before it has been returned and the
 * stop string itself never is (as OpenAI's API and llama.cpp leave it out).
 * finish() returns the tail held back when the stream ends without a stop.
 * Empty stop strings are ignored.
 */
class HC_API StopMatcher {
  public:
    explicit StopMatcher(std::vector<std::string> stops);

    /** Add @p piece; returns the text that is now safe to show. */
    std::string push(std::string_view piece);
    /** The stream ended: returns what was held back (nothing after a stop). */
    std::string finish();
    /** Whether a stop string was found. */
    bool stopped() const { return stopped_; }

  private:
    // Longest suffix of held_ that is a proper prefix of a stop string.
    size_t pending_prefix() const;

    std::vector<std::string> stops_;
    std::string held_;
    bool stopped_ = false;
};

} // namespace hc
