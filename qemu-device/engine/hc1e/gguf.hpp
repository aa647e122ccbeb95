// SPDX-License-Identifier: MIT
// GGUF (v2/v3) constants shared by the loader and the exporter.
#pragma once

#include <cstdint>

namespace hc1e::gguf {

inline constexpr uint32_t kMagic = 0x46554747; // "GGUF"
inline constexpr uint32_t kDefaultAlignment = 32;

enum ValueType : uint32_t {
    kUint8 = 0,
    kInt8 = 1,
    kUint16 = 2,
    kInt16 = 3,
    kUint32 = 4,
    kInt32 = 5,
    kFloat32 = 6,
    kBool = 7,
    kString = 8,
    kArray = 9,
    kUint64 = 10,
    kInt64 = 11,
    kFloat64 = 12,
};

enum TensorType : uint32_t {
    kF32 = 0,
    kF16 = 1,
    kQ4_0 = 2,
    kQ8_0 = 8,
};

float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

} // namespace hc1e::gguf
