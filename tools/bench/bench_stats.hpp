// SPDX-License-Identifier: MIT
// What the guest benchmarks (hc1-bench-guest, hc1-bench-serve) compute
// their figures with: one clock, milliseconds between two of its points,
// and percentiles by nearest rank.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <vector>

namespace hc1bench {

using Clock = std::chrono::steady_clock;

inline double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

/** The @p p-th percentile of @p v (nearest rank); 0 for no values. */
inline double percentile(std::vector<double> v, double p) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    size_t i = static_cast<size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

} // namespace hc1bench
