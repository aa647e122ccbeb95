// SPDX-License-Identifier: MIT
// SHA-256 against the FIPS 180-4 / NIST example vectors.
#include <gtest/gtest.h>

#include <string>

#include "hc1e/sha256.hpp"

namespace hc1e {
namespace {

std::string sha(const std::string& s) {
    return Sha256::hex(Sha256::hash(std::as_bytes(std::span(s.data(), s.size()))));
}

TEST(Sha256, KnownVectors) {
    EXPECT_EQ(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    EXPECT_EQ(sha("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
                  "klmnopqrlmnopqrsmnopqrstnopqrstu"),
              "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    EXPECT_EQ(sha(std::string(1000000, 'a')),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Padding edge cases: messages around one block, fed in uneven pieces, give
// the one-shot digest.
TEST(Sha256, IncrementalEqualsOneShot) {
    for (size_t len : {55u, 56u, 63u, 64u, 65u, 119u, 120u, 1000u}) {
        std::string msg(len, '\0');
        for (size_t i = 0; i < len; i++)
            msg[i] = char(i * 7 + 3);
        Sha256 s;
        size_t at = 0, step = 1;
        while (at < len) {
            const size_t n = std::min(step, len - at);
            s.update(std::as_bytes(std::span(msg.data() + at, n)));
            at += n;
            step = step * 3 % 17 + 1;
        }
        EXPECT_EQ(Sha256::hex(s.finish()), sha(msg)) << len;
    }
    // A 55-byte message still fits its length in the same block.
    EXPECT_EQ(sha(std::string(55, 'a')),
              "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
}

} // namespace
} // namespace hc1e
