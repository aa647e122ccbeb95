// SPDX-License-Identifier: MIT
#include "tokenizer.hpp"

#include <cstdio>

namespace hc1e {

Tokenizer::Tokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
    ids_.reserve(vocab_.size());
    decoded_.resize(vocab_.size());
    for (uint32_t i = 0; i < vocab_.size(); i++) {
        // First occurrence wins, as in a sorted-vocabulary binary search
        // over distinct pieces.
        ids_.emplace(vocab_.pieces[i], i);
        decoded_[i] = vocab_.pieces[i];
    }
    for (int b = 0; b < 256; b++) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", b);
        byte_ids_[b] = lookup(name);
        if (byte_ids_[b] >= 0)
            decoded_[byte_ids_[b]] = std::string(1, static_cast<char>(b));
    }
}

int Tokenizer::lookup(std::string_view piece) const {
    auto it = ids_.find(piece);
    return it == ids_.end() ? -1 : static_cast<int>(it->second);
}

std::vector<uint32_t> Tokenizer::encode(std::string_view text, bool bos, bool eos) const {
    std::vector<uint32_t> tokens;
    tokens.reserve(text.size() + 3);
    if (bos)
        tokens.push_back(vocab_.bos_id);
    if (!text.empty()) {
        if (int space = lookup(" "); space >= 0)
            tokens.push_back(static_cast<uint32_t>(space));
    }
    auto unknown_byte = [&](unsigned char c) {
        int id = byte_ids_[c];
        tokens.push_back(id >= 0 ? static_cast<uint32_t>(id) : 0u);
    };
    // One code point at a time: a lead byte plus at most three continuation
    // bytes; a code point with no piece falls back to its bytes.
    for (size_t i = 0; i < text.size();) {
        size_t len = 1;
        while (i + len < text.size() && len < 4 &&
               (static_cast<unsigned char>(text[i + len]) & 0xC0) == 0x80)
            len++;
        std::string_view cp = text.substr(i, len);
        if (int id = lookup(cp); id >= 0)
            tokens.push_back(static_cast<uint32_t>(id));
        else
            for (char c : cp)
                unknown_byte(static_cast<unsigned char>(c));
        i += len;
    }
    // Merge the best-scoring adjacent pair until no pair forms a piece.
    const size_t first = bos ? 1 : 0;
    std::string merged;
    for (;;) {
        float best_score = -1e10f;
        int best_id = -1;
        size_t best_at = 0;
        for (size_t i = first; i + 1 < tokens.size(); i++) {
            merged = vocab_.pieces[tokens[i]];
            merged += vocab_.pieces[tokens[i + 1]];
            int id = lookup(merged);
            if (id >= 0 && vocab_.scores[id] > best_score) {
                best_score = vocab_.scores[id];
                best_id = id;
                best_at = i;
            }
        }
        if (best_id < 0)
            break;
        tokens[best_at] = static_cast<uint32_t>(best_id);
        tokens.erase(tokens.begin() + static_cast<ptrdiff_t>(best_at) + 1);
    }
    if (eos)
        tokens.push_back(vocab_.eos_id);
    return tokens;
}

std::string_view Tokenizer::decode(uint32_t prev, uint32_t token) const {
    if (token >= decoded_.size())
        return {};
    std::string_view piece = decoded_[token];
    if (prev == vocab_.bos_id && !piece.empty() && piece[0] == ' ')
        piece.remove_prefix(1);
    return piece;
}

std::string Tokenizer::decode_all(std::span<const uint32_t> tokens) const {
    std::string out;
    uint32_t prev = vocab_.bos_id;
    for (uint32_t t : tokens) {
        out += decode(prev, t);
        prev = t;
    }
    return out;
}

} // namespace hc1e
