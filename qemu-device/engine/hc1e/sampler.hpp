// SPDX-License-Identifier: MIT
// Sampling on the card.  Each context owns its generator, reseeded by every
// request, so a session's tokens depend only on its own request and model,
// never on what else runs concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace hc1e {

// PCG32 (XSH RR), seeded through splitmix64 so nearby seeds diverge.
class Rng {
  public:
    explicit Rng(uint64_t seed = 0);
    uint32_t next();
    float uniform(); // [0, 1)

  private:
    uint64_t state_, inc_;
};

struct SamplingParams {
    float temperature = 0.0f; // 0: greedy
    float top_p = 0.0f;       // 0 or >= 1: off
    uint32_t top_k = 0;       // 0: off
};

class Sampler {
  public:
    // Reserves room for @vocab_size candidates so sampling never allocates.
    explicit Sampler(uint32_t vocab_size = 0) { candidates_.reserve(vocab_size); }
    // @logits is modified (scaled, turned into probabilities).
    uint32_t sample(std::span<float> logits, const SamplingParams& p, Rng& rng);

  private:
    struct Candidate {
        float prob;
        uint32_t id;
    };
    std::vector<Candidate> candidates_;
};

uint32_t argmax(std::span<const float> v);

} // namespace hc1e
