// SPDX-License-Identifier: MIT
#include "file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace hc1e {

MappedFile MappedFile::open(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        throw Error("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    MappedFile file;
    file.path_ = path;
    file.size_ = static_cast<size_t>(st.st_size);
    if (file.size_ > 0) {
        void* p = mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            throw Error("cannot map " + path + ": " + std::strerror(e));
        }
        file.data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);
    return file;
}

MappedFile::MappedFile(MappedFile&& other) noexcept {
    *this = std::move(other);
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        if (data_)
            munmap(const_cast<std::byte*>(data_), size_);
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
        path_ = std::move(other.path_);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (data_)
        munmap(const_cast<std::byte*>(data_), size_);
}

std::span<const std::byte> ByteReader::take(uint64_t n, const char* item) {
    if (n > remaining())
        fail("truncated: " + std::string(item) + " needs " + std::to_string(n) +
             " bytes at offset " + std::to_string(pos_) + ", " + std::to_string(remaining()) +
             " left");
    auto out = data_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
}

void ByteReader::seek(uint64_t offset) {
    if (offset > data_.size())
        fail("offset " + std::to_string(offset) + " is past the end (" +
             std::to_string(data_.size()) + " bytes)");
    pos_ = static_cast<size_t>(offset);
}

void ByteReader::fail(const std::string& problem) const {
    throw Error(what_ + ": " + problem);
}

uint64_t checked_mul(uint64_t a, uint64_t b, const char* what) {
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r))
        throw Error(std::string(what) + ": size overflows");
    return r;
}

uint64_t checked_add(uint64_t a, uint64_t b, const char* what) {
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r))
        throw Error(std::string(what) + ": size overflows");
    return r;
}

} // namespace hc1e
