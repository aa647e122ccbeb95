// SPDX-License-Identifier: MIT
// A straightforward fp32 forward pass, llama2.c's run.c transcribed: one
// token at a time, scalar loops, RoPE recomputed at every step.  The
// yardstick for the engine's speed and a cross-check of its fp32 results.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "hc1e/model.hpp"

namespace hc1e {

class ReferenceModel {
  public:
    explicit ReferenceModel(const SourceModel& model);
    // Logits of @token at @pos; positions must be fed 0, 1, 2, ...
    std::span<const float> forward(uint32_t token, uint32_t pos);

  private:
    const SourceModel& m_;
    std::vector<float> x_, xb_, xb2_, hb_, hb2_, q_, att_, logits_;
    std::vector<float> key_cache_, value_cache_;
};

// llama2.c's generate(): greedy over @steps positions, BOS-terminated.
std::vector<uint32_t> reference_greedy(const SourceModel& model, std::span<const uint32_t> prompt,
                                       uint32_t steps);

} // namespace hc1e
