// SPDX-License-Identifier: MIT
// Helpers shared by the hc1-engine subcommands.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "hc1_engine.h"
#include "hc1e/tokenizer.hpp"

namespace hc1e::cli {

// Collects one context's tokens and waits for its done callback.
struct Collector {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<uint32_t> tokens;
    bool done = false;
    int finish = 0;
    uint32_t n_prompt = 0, n_generated = 0;
    void (*on_token)(Collector&, uint32_t) = nullptr;
    void* user = nullptr;

    hc1_engine_callbacks callbacks();
    void wait();
    void reset();
};

// The tokenizer rebuilt from the engine's vocabulary (as a host would read
// it from the card).
Tokenizer tokenizer_of(const hc1_engine* e);

} // namespace hc1e::cli
