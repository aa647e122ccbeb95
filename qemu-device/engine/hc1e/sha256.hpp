// SPDX-License-Identifier: MIT
// SHA-256 (FIPS 180-4): the identity of the burned weights.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace hc1e {

class Sha256 {
  public:
    using Digest = std::array<uint8_t, 32>;

    Sha256();
    void update(std::span<const std::byte> data);
    Digest finish();

    static Digest hash(std::span<const std::byte> data);
    static std::string hex(const Digest& d);

  private:
    void block(const uint8_t* p);

    std::array<uint32_t, 8> h_;
    std::array<uint8_t, 64> buf_{};
    size_t buffered_ = 0;
    uint64_t total_ = 0;
};

} // namespace hc1e
