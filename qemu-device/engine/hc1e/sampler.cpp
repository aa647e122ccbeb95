// SPDX-License-Identifier: MIT
#include "sampler.hpp"

#include <algorithm>
#include <cmath>

namespace hc1e {

namespace {

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

} // namespace

Rng::Rng(uint64_t seed) {
    uint64_t s = seed;
    state_ = splitmix64(s);
    inc_ = splitmix64(s) | 1;
}

uint32_t Rng::next() {
    const uint64_t old = state_;
    state_ = old * 6364136223846793005ull + inc_;
    const uint32_t xorshifted = static_cast<uint32_t>(((old >> 18) ^ old) >> 27);
    const uint32_t rot = static_cast<uint32_t>(old >> 59);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
}

float Rng::uniform() {
    return static_cast<float>(next() >> 8) / 16777216.0f;
}

uint32_t argmax(std::span<const float> v) {
    // Eight running maxima over interleaved lanes, each kept in registers:
    // eight independent compare chains instead of one.  Strict > keeps
    // each lane's lowest index of its maximum, and the merge takes the
    // lowest index among equal maxima: the index one pass would return
    // (the lowest of the largest value; a NaN never wins, and with no
    // value above -inf it is 0).
    constexpr size_t kLanes = 8;
    const size_t n = v.size();
    float best_value[kLanes];
    uint32_t best[kLanes];
    for (size_t l = 0; l < kLanes; l++) {
        best_value[l] = -INFINITY;
        best[l] = 0;
    }
    size_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
#pragma GCC unroll 8
        for (size_t l = 0; l < kLanes; l++) {
            const bool greater = v[i + l] > best_value[l];
            best_value[l] = greater ? v[i + l] : best_value[l];
            best[l] = greater ? static_cast<uint32_t>(i + l) : best[l];
        }
    uint32_t b = best[0];
    float b_value = best_value[0];
    for (size_t l = 1; l < kLanes; l++)
        if (best_value[l] > b_value || (best_value[l] == b_value && best[l] < b)) {
            b_value = best_value[l];
            b = best[l];
        }
    for (; i < n; i++)
        if (v[i] > b_value) {
            b_value = v[i];
            b = static_cast<uint32_t>(i);
        }
    return b;
}

uint32_t Sampler::sample(std::span<float> logits, const SamplingParams& p, Rng& rng) {
    if (!(p.temperature > 0.0f))
        return argmax(logits);
    // Softmax of logits / temperature, as llama2.c does it.
    float max = logits[0];
    for (float& l : logits) {
        l /= p.temperature;
        max = std::max(max, l);
    }
    float sum = 0.0f;
    for (float& l : logits) {
        l = std::exp(l - max);
        sum += l;
    }
    for (float& l : logits)
        l /= sum;

    const float coin = rng.uniform();
    const uint32_t n = static_cast<uint32_t>(logits.size());
    if (n == 1)
        return 0;
    const bool use_k = p.top_k > 0 && p.top_k < n;
    const bool use_p = p.top_p > 0.0f && p.top_p < 1.0f;
    if (!use_k && !use_p) {
        float cdf = 0.0f;
        for (uint32_t i = 0; i < n; i++) {
            cdf += logits[i];
            if (coin < cdf)
                return i;
        }
        return n - 1; // rounding left the cdf short of the coin
    }

    // Candidates in decreasing probability (ties by id: deterministic),
    // cut to top_k, then to the smallest prefix whose mass exceeds top_p.
    candidates_.clear();
    // llama2.c's top-p shortcut: tokens below (1 - p) / (n - 1) cannot be in
    // the nucleus.
    const float cutoff = use_p && !use_k ? (1.0f - p.top_p) / static_cast<float>(n - 1) : 0.0f;
    for (uint32_t i = 0; i < n; i++)
        if (logits[i] >= cutoff)
            candidates_.push_back({logits[i], i});
    if (candidates_.empty())
        return argmax(logits);
    auto by_prob = [](const Candidate& a, const Candidate& b) {
        return a.prob > b.prob || (a.prob == b.prob && a.id < b.id);
    };
    size_t keep = candidates_.size();
    if (use_k && p.top_k < keep) {
        std::partial_sort(candidates_.begin(), candidates_.begin() + p.top_k, candidates_.end(),
                          by_prob);
        keep = p.top_k;
    } else {
        std::sort(candidates_.begin(), candidates_.end(), by_prob);
    }
    float mass = 0.0f;
    size_t last = keep - 1;
    for (size_t i = 0; i < keep; i++) {
        mass += candidates_[i].prob;
        if (use_p && mass > p.top_p) {
            last = i;
            break;
        }
    }
    if (!use_p) {
        mass = 0.0f;
        for (size_t i = 0; i < keep; i++)
            mass += candidates_[i].prob;
    }
    const float r = coin * mass;
    float cdf = 0.0f;
    for (size_t i = 0; i <= last; i++) {
        cdf += candidates_[i].prob;
        if (r < cdf)
            return candidates_[i].id;
    }
    return candidates_[last].id;
}

} // namespace hc1e
