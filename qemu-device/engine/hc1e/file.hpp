// SPDX-License-Identifier: MIT
// Model files are untrusted: they are mapped read-only and every read goes
// through ByteReader, which checks the remaining length first.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "error.hpp"

namespace hc1e {

class MappedFile {
  public:
    // Throws Error naming the path when it cannot be opened or mapped.
    static MappedFile open(const std::string& path);

    MappedFile() = default;
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    std::span<const std::byte> bytes() const { return {data_, size_}; }
    const std::string& path() const { return path_; }

  private:
    const std::byte* data_ = nullptr;
    size_t size_ = 0;
    std::string path_;
};

class ByteReader {
  public:
    // @what names the file in error messages ("checkpoint", "tokenizer"...).
    ByteReader(std::span<const std::byte> data, std::string what)
        : data_(data), what_(std::move(what)) {}

    size_t offset() const { return pos_; }
    size_t size() const { return data_.size(); }
    size_t remaining() const { return data_.size() - pos_; }

    template <typename T> T read() {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        std::memcpy(&value, take(sizeof(T), "value").data(), sizeof(T));
        return value;
    }

    // The next @n bytes; throws if fewer remain.
    std::span<const std::byte> take(uint64_t n, const char* item);
    void seek(uint64_t offset);
    [[noreturn]] void fail(const std::string& problem) const;

  private:
    std::span<const std::byte> data_;
    size_t pos_ = 0;
    std::string what_;
};

// Overflow-checked arithmetic for sizes read from files.
uint64_t checked_mul(uint64_t a, uint64_t b, const char* what);
uint64_t checked_add(uint64_t a, uint64_t b, const char* what);

} // namespace hc1e
