// SPDX-License-Identifier: MIT
// SentencePiece BPE with llama2.c's semantics, over the vocabulary blob of
// the card (linux/hc1.h: struct hc1_vocab_blob + packed entries).
#include "internal.hpp"

#include <hc/tokenizer.hpp>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <list>
#include <queue>
#include <vector>

namespace hc {

namespace {

uint32_t load_le32(std::span<const std::byte> blob, size_t at) {
    uint32_t v;
    std::memcpy(&v, blob.data() + at, sizeof(v));
    return v; // the card's data is little-endian, like every host libhc targets
}

// The byte a "<0xNN>" token stands for, or -1.
int byte_of(std::string_view s) {
    if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>')
        return -1;
    int v = 0;
    for (char c : s.substr(3, 2)) {
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else
            return -1;
    }
    return v;
}

// Length of the UTF-8 sequence led by @c, 0 if @c cannot lead one.
size_t utf8_len(unsigned char c) {
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

bool is_cont(unsigned char c) {
    return (c & 0xc0) == 0x80;
}

// Whether bytes [1, n) of @s (first byte @s[0] leading an n-byte sequence)
// form a valid sequence so far (excludes overlongs, surrogates, > U+10FFFF).
bool valid_prefix(std::string_view s) {
    auto c0 = static_cast<unsigned char>(s[0]);
    for (size_t i = 1; i < s.size(); i++) {
        auto c = static_cast<unsigned char>(s[i]);
        if (!is_cont(c))
            return false;
        if (i == 1) {
            if (c0 == 0xe0 && c < 0xa0)
                return false;
            if (c0 == 0xed && c > 0x9f)
                return false;
            if (c0 == 0xf0 && c < 0x90)
                return false;
            if (c0 == 0xf4 && c > 0x8f)
                return false;
        }
    }
    return true;
}

constexpr std::string_view kReplacement = "\xef\xbf\xbd";

} // namespace

Tokenizer Tokenizer::from_blob(std::span<const std::byte> blob, uint32_t bos_id, uint32_t eos_id) {
    if (blob.size() < sizeof(hc1_vocab_blob))
        detail::throw_error(EPROTO, "vocabulary: blob of " + std::to_string(blob.size()) +
                                        " bytes is shorter than its header");
    if (load_le32(blob, 0) != HC1_VOCAB_BLOB_MAGIC)
        detail::throw_error(EPROTO, "vocabulary: bad magic");
    uint32_t n = load_le32(blob, offsetof(hc1_vocab_blob, n_tokens));
    uint32_t max_len = load_le32(blob, offsetof(hc1_vocab_blob, max_token_len));
    if (n == 0 || n > (blob.size() - sizeof(hc1_vocab_blob)) / 8)
        detail::throw_error(EPROTO, "vocabulary: " + std::to_string(n) +
                                        " tokens cannot fit a blob of " +
                                        std::to_string(blob.size()) + " bytes");
    Tokenizer t;
    t.entries_.reserve(n);
    size_t at = sizeof(hc1_vocab_blob);
    for (uint32_t i = 0; i < n; i++) {
        if (blob.size() - at < 8)
            detail::throw_error(EPROTO, "vocabulary: truncated at token " + std::to_string(i));
        float score = std::bit_cast<float>(load_le32(blob, at));
        uint32_t len = load_le32(blob, at + 4);
        at += 8;
        if (len > blob.size() - at || len > max_len)
            detail::throw_error(EPROTO, "vocabulary: token " + std::to_string(i) +
                                            " is longer than the blob or max_token_len");
        std::string text(reinterpret_cast<const char*>(blob.data() + at), len);
        at += len;
        int b = byte_of(text);
        t.entries_.push_back({std::move(text), score, b});
    }
    if (bos_id >= n || eos_id >= n)
        detail::throw_error(EPROTO, "vocabulary: BOS/EOS id outside the vocabulary");
    t.bos_ = bos_id;
    t.eos_ = eos_id;
    t.build_index();
    return t;
}

Tokenizer::Tokenizer(const Tokenizer& o) : entries_(o.entries_), bos_(o.bos_), eos_(o.eos_) {
    build_index();
}

void Tokenizer::build_index() {
    index_.clear();
    index_.reserve(entries_.size());
    max_len_ = 0;
    for (auto& b : byte_token_)
        b = -1;
    for (uint32_t i = 0; i < entries_.size(); i++) {
        const Entry& e = entries_[i];
        // First id wins for duplicate spellings, as llama2.c's sorted lookup
        // does not promise either; SentencePiece vocabularies have none.
        index_.emplace(std::string_view(e.text), i);
        max_len_ = std::max(max_len_, e.text.size());
        if (e.byte >= 0 && byte_token_[e.byte] < 0)
            byte_token_[e.byte] = i;
    }
}

int64_t Tokenizer::lookup(std::string_view text) const {
    auto it = index_.find(text);
    return it == index_.end() ? -1 : static_cast<int64_t>(it->second);
}

std::string_view Tokenizer::token_text(uint32_t token) const {
    return token < entries_.size() ? std::string_view(entries_[token].text) : std::string_view();
}

float Tokenizer::score(uint32_t token) const {
    return token < entries_.size() ? entries_[token].score : 0.0f;
}

std::vector<uint32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
    std::vector<uint32_t> tokens;
    tokens.reserve(text.size() + 2);
    if (add_bos)
        tokens.push_back(bos_);
    if (text.empty())
        return tokens;

    // SentencePiece's add_dummy_prefix: words inside the text follow a
    // space, so make the first one do too.
    if (int64_t space = lookup(" "); space >= 0)
        tokens.push_back(static_cast<uint32_t>(space));

    // One token per code point (a run of at most 4 bytes: a lead byte and
    // its continuation bytes), else its bytes as byte-fallback tokens.
    size_t i = 0;
    while (i < text.size()) {
        size_t j = i + 1;
        while (j < text.size() && j - i < 4 && is_cont(static_cast<unsigned char>(text[j])))
            j++;
        std::string_view cp = text.substr(i, j - i);
        if (int64_t id = lookup(cp); id >= 0) {
            tokens.push_back(static_cast<uint32_t>(id));
        } else {
            for (unsigned char c : cp) {
                int64_t b = byte_token_[c];
                // llama2.c's fixed layout (<unk>, <s>, </s>, then 256 bytes)
                // if the vocabulary spells no byte token for it.
                tokens.push_back(b >= 0 ? static_cast<uint32_t>(b) : c + 3u);
            }
        }
        i = j;
    }

    // Merge the best-scoring adjacent pair until none merges, the leftmost
    // of equal scores first: llama2.c's answer.  llama2.c rescans every
    // pair after each merge, quadratic in the prompt (a 1 MB prompt would
    // take hours); here the symbols form a linked list and the candidate
    // pairs a heap, best score then leftmost first, so each merge costs
    // O(log n).  A candidate is stale once either symbol merged away or
    // changed; its replacements were pushed when that happened.
    size_t first = add_bos ? 1 : 0; // BOS never merges: its text is not in the input
    size_t n = tokens.size();
    if (n < first + 2)
        return tokens;
    constexpr size_t kNone = SIZE_MAX;
    std::vector<size_t> prev(n), next(n);
    for (size_t k = first; k < n; k++) {
        prev[k] = k == first ? kNone : k - 1;
        next[k] = k + 1 == n ? kNone : k + 1;
    }
    struct Candidate {
        float score;
        size_t left, right;
        uint32_t left_token, right_token, merged;
    };
    // Heap order: higher score first, then the leftmost (a symbol keeps the
    // position of its first character, so positions follow the list).
    auto later = [](const Candidate& a, const Candidate& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> heap(later);
    std::string pair;
    pair.reserve(2 * max_len_);
    auto consider = [&](size_t l, size_t r) {
        pair.assign(token_text(tokens[l]));
        pair.append(token_text(tokens[r]));
        int64_t id = lookup(pair);
        // llama2.c starts its best score at -1e10 and merges only above it.
        if (id >= 0 && entries_[id].score > -1e10f)
            heap.push({entries_[id].score, l, r, tokens[l], tokens[r], static_cast<uint32_t>(id)});
    };
    for (size_t k = first; k + 1 < n; k++)
        consider(k, k + 1);
    std::vector<bool> gone(n, false);
    while (!heap.empty()) {
        Candidate c = heap.top();
        heap.pop();
        if (gone[c.left] || gone[c.right] || next[c.left] != c.right ||
            tokens[c.left] != c.left_token || tokens[c.right] != c.right_token)
            continue;
        tokens[c.left] = c.merged;
        gone[c.right] = true;
        next[c.left] = next[c.right];
        if (next[c.left] != kNone)
            prev[next[c.left]] = c.left;
        if (prev[c.left] != kNone)
            consider(prev[c.left], c.left);
        if (next[c.left] != kNone)
            consider(c.left, next[c.left]);
    }
    size_t out = first;
    for (size_t k = first; k != kNone; k = next[k])
        tokens[out++] = tokens[k];
    tokens.resize(out);
    return tokens;
}

std::string_view Tokenizer::piece(uint32_t prev, uint32_t token) const {
    if (token >= entries_.size())
        return {};
    const Entry& e = entries_[token];
    if (e.byte >= 0) {
        static const auto bytes = [] {
            std::array<char, 256> b{};
            for (int i = 0; i < 256; i++)
                b[i] = static_cast<char>(i);
            return b;
        }();
        return std::string_view(&bytes[e.byte], 1);
    }
    std::string_view s = e.text;
    if (prev == bos_ && !s.empty() && s[0] == ' ')
        s.remove_prefix(1);
    return s;
}

std::string Tokenizer::decode(std::span<const uint32_t> tokens, uint32_t prev) const {
    std::string out;
    for (uint32_t t : tokens) {
        if (t != bos_ && t != eos_)
            out.append(piece(prev, t));
        prev = t;
    }
    return out;
}

Detokenizer::Detokenizer(const Tokenizer& tok) : tok_(&tok), prev_(tok.bos_id()) {}

Detokenizer::Detokenizer(const Tokenizer& tok, uint32_t prev) : tok_(&tok), prev_(prev) {}

std::string Detokenizer::push(uint32_t token) {
    if (token != tok_->bos_id() && token != tok_->eos_id())
        pending_.append(tok_->piece(prev_, token));
    prev_ = token;
    return take_complete(false);
}

std::string Detokenizer::finish() {
    return take_complete(true);
}

// Move every complete character of pending_ to the result, replacing bytes
// that cannot be part of valid UTF-8; keep an incomplete tail unless @final.
std::string Detokenizer::take_complete(bool final) {
    std::string out;
    size_t i = 0;
    while (i < pending_.size()) {
        auto c = static_cast<unsigned char>(pending_[i]);
        size_t n = utf8_len(c);
        if (n == 0) {
            out.append(kReplacement);
            i++;
            continue;
        }
        size_t have = std::min(n, pending_.size() - i);
        std::string_view seq(pending_.data() + i, have);
        if (!valid_prefix(seq)) {
            out.append(kReplacement); // a lead byte cut short by a non-continuation
            i++;
            continue;
        }
        if (have < n) {
            if (final) {
                out.append(kReplacement);
                i = pending_.size();
            }
            break;
        }
        out.append(seq);
        i += n;
    }
    pending_.erase(0, i);
    return out;
}

} // namespace hc
