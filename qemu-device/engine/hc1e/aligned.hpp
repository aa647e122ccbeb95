// SPDX-License-Identifier: MIT
// Cache-line-aligned storage for the vectors the kernels stream through
// (KV caches, activations).  malloc only promises 16 bytes: a KV cache
// large enough to be mmap()ed starts 16 bytes into a page, so half of the
// attention kernel's 32-byte loads straddle two cache lines, and how the
// rest land depends on the heap's history: the same engine ran its
// kernels ~1.2x slower linked into QEMU than in a benchmark process.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace hc1e {

inline constexpr std::size_t kCacheLine = 64;

template <class T> struct CacheAligned {
    using value_type = T;
    CacheAligned() = default;
    template <class U> constexpr CacheAligned(const CacheAligned<U>&) noexcept {}
    T* allocate(std::size_t n) {
        return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kCacheLine}));
    }
    void deallocate(T* p, std::size_t) noexcept {
        ::operator delete (p, std::align_val_t{kCacheLine});
    }
    template <class U> bool operator==(const CacheAligned<U>&) const noexcept { return true; }
};

template <class T> using AlignedVector = std::vector<T, CacheAligned<T>>;

} // namespace hc1e
