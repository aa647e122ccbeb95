// SPDX-License-Identifier: MIT
// Test helper: turn a llama2.c tokenizer.bin (int32 max_token_length, then
// per token: float score, int32 len, len bytes) into the HC1 vocabulary blob
// a card reports (linux/hc1.h), so tokenizer tests need no card.
#pragma once

#include <linux/hc1.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace hctest {

inline std::string model_dir() {
    return HC1_MODEL_DIR;
}

// The blob for @path, or nullopt if the file does not exist.
inline std::optional<std::vector<std::byte>> vocab_blob_from_llama2c(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    std::vector<char> file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto get32 = [&](size_t at) {
        if (at + 4 > file.size())
            throw std::runtime_error(path + ": truncated");
        uint32_t v;
        std::memcpy(&v, file.data() + at, 4);
        return v;
    };
    std::vector<std::byte> entries;
    uint32_t n = 0, max_len = 0;
    for (size_t at = 4; at < file.size(); n++) {
        uint32_t score = get32(at), len = get32(at + 4);
        at += 8;
        if (at + len > file.size())
            throw std::runtime_error(path + ": truncated token");
        auto put32 = [&](uint32_t v) {
            auto* p = reinterpret_cast<const std::byte*>(&v);
            entries.insert(entries.end(), p, p + 4);
        };
        put32(score);
        put32(len);
        auto* p = reinterpret_cast<const std::byte*>(file.data() + at);
        entries.insert(entries.end(), p, p + len);
        max_len = std::max(max_len, len);
        at += len;
    }
    hc1_vocab_blob h{HC1_VOCAB_BLOB_MAGIC, n, max_len, 0};
    std::vector<std::byte> blob(sizeof(h));
    std::memcpy(blob.data(), &h, sizeof(h));
    blob.insert(blob.end(), entries.begin(), entries.end());
    return blob;
}

} // namespace hctest
