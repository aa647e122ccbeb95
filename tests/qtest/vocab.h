// The card's vocabulary (READ_VOCAB blob) and the llama2.c SentencePiece BPE
// rules, so the tests can turn the known prompt into tokens and the card's
// tokens back into the known text with nothing but what the card reports.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace hc1test {

class Vocab {
  public:
    // Parses a READ_VOCAB blob; throws std::runtime_error if malformed.
    explicit Vocab(std::span<const uint8_t> blob);

    size_t size() const { return pieces_.size(); }
    const std::string& piece(uint32_t id) const { return pieces_.at(id); }
    float score(uint32_t id) const { return scores_.at(id); }
    uint32_t max_token_len() const { return max_len_; }

    std::vector<uint32_t> encode(std::string_view text, uint32_t bos) const;
    // Text of @tokens; @prev is the token before the first one.
    std::string decode(std::span<const uint32_t> tokens, uint32_t prev, uint32_t bos) const;

  private:
    int lookup(const std::string& s) const;

    std::vector<std::string> pieces_;
    std::vector<float> scores_;
    std::unordered_map<std::string, uint32_t> index_;
    uint32_t max_len_ = 0;
};

} // namespace hc1test
