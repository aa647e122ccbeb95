// SPDX-License-Identifier: MIT
// SentencePiece-style BPE as llama2.c runs it: a dummy-prefix space, one
// token per UTF-8 code point (byte fallback to <0xNN> pieces), then greedy
// merges of the adjacent pair whose merged piece scores highest.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model.hpp"

namespace hc1e {

class Tokenizer {
  public:
    explicit Tokenizer(Vocab vocab);

    std::vector<uint32_t> encode(std::string_view text, bool bos, bool eos) const;
    // The bytes @token stands for after @prev: byte pieces become their
    // byte, and the dummy-prefix space after BOS is dropped.
    std::string_view decode(uint32_t prev, uint32_t token) const;
    // Concatenated decode of @tokens (the first is taken to follow BOS).
    std::string decode_all(std::span<const uint32_t> tokens) const;

    const Vocab& vocab() const { return vocab_; }
    uint32_t bos() const { return vocab_.bos_id; }
    uint32_t eos() const { return vocab_.eos_id; }

  private:
    int lookup(std::string_view piece) const;

    Vocab vocab_;
    std::unordered_map<std::string_view, uint32_t> ids_;
    std::vector<std::string> decoded_;
    int byte_ids_[256];
};

} // namespace hc1e
