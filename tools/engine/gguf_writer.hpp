// SPDX-License-Identifier: MIT
// Writes a model as GGUF v3 (llama architecture), the format llama.cpp
// reads: matrices in F32 or Q8_0, norms in F32, the SentencePiece
// vocabulary in tokenizer.ggml.* metadata.
#pragma once

#include <string>

#include "hc1e/model.hpp"

namespace hc1e {

enum class GgufType { F32, F16, Q8_0, Q4_0 };

// Throws Error.  The quantized types apply to matrices whose rows are whole
// 32-value blocks; others stay F32 (as llama.cpp's converters do).
void write_gguf(const SourceModel& model, GgufType type, const std::string& path);

} // namespace hc1e
