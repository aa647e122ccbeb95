#include "vocab.h"

#include <hc1/hw.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace hc1test {

Vocab::Vocab(std::span<const uint8_t> blob) {
    hc1_vocab_header hdr;
    if (blob.size() < sizeof(hdr))
        throw std::runtime_error("vocab blob shorter than its header");
    std::memcpy(&hdr, blob.data(), sizeof(hdr));
    if (hdr.magic != HC1_VOCAB_MAGIC)
        throw std::runtime_error("vocab blob has a bad magic");
    max_len_ = hdr.max_token_len;
    size_t off = sizeof(hdr);
    for (uint32_t i = 0; i < hdr.n_tokens; i++) {
        uint32_t entry[2];
        if (off + sizeof(entry) > blob.size())
            throw std::runtime_error("vocab blob truncated");
        std::memcpy(entry, blob.data() + off, sizeof(entry));
        off += sizeof(entry);
        if (off + entry[1] > blob.size())
            throw std::runtime_error("vocab blob truncated");
        float score;
        std::memcpy(&score, &entry[0], sizeof(score));
        pieces_.emplace_back(reinterpret_cast<const char*>(blob.data() + off), entry[1]);
        scores_.push_back(score);
        index_.emplace(pieces_.back(), i);
        off += entry[1];
    }
    if (off != blob.size())
        throw std::runtime_error("vocab blob has trailing bytes");
}

int Vocab::lookup(const std::string& s) const {
    auto it = index_.find(s);
    return it == index_.end() ? -1 : int(it->second);
}

// llama2.c's encode(): dummy prefix, code points (byte fallback at +3), then
// greedy merges of the best-scoring adjacent pair.
std::vector<uint32_t> Vocab::encode(std::string_view text, uint32_t bos) const {
    std::vector<uint32_t> tokens{bos};
    if (text.empty())
        return tokens;
    tokens.push_back(lookup(" "));
    for (size_t i = 0; i < text.size();) {
        size_t len = 1;
        while (i + len < text.size() && len < 4 && (uint8_t(text[i + len]) & 0xc0) == 0x80)
            len++;
        std::string cp(text.substr(i, len));
        int id = lookup(cp);
        if (id >= 0) {
            tokens.push_back(id);
        } else {
            for (unsigned char c : cp)
                tokens.push_back(c + 3);
        }
        i += len;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1;
        size_t best_idx = 0;
        for (size_t i = 1; i + 1 < tokens.size(); i++) {
            int id = lookup(pieces_[tokens[i]] + pieces_[tokens[i + 1]]);
            if (id >= 0 && scores_[id] > best) {
                best = scores_[id];
                best_id = id;
                best_idx = i;
            }
        }
        if (best_id < 0)
            break;
        tokens[best_idx] = best_id;
        tokens.erase(tokens.begin() + best_idx + 1);
    }
    return tokens;
}

std::string Vocab::decode(std::span<const uint32_t> tokens, uint32_t prev, uint32_t bos) const {
    std::string out;
    for (uint32_t t : tokens) {
        std::string p = piece(t);
        if (prev == bos && !p.empty() && p[0] == ' ')
            p.erase(0, 1);
        unsigned byte;
        if (p.size() == 6 && std::sscanf(p.c_str(), "<0x%02X>", &byte) == 1)
            p = std::string(1, char(byte));
        out += p;
        prev = t;
    }
    return out;
}

} // namespace hc1test
