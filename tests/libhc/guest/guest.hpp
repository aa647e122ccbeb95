// SPDX-License-Identifier: MIT
// Helpers of the in-guest libhc tests: each is a program that runs against
// the real driver and card, exits 0 (pass), 1 (fail) or 77 (skip).
#pragma once

#include <hc/hc.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

namespace guest {

// The known answer (tests/engine/known_answer_test.cpp): stories260K +
// tok512, greedy, BOS first.
inline const std::string kPrompt = "Once upon a time";
inline const std::string kKnownAnswer =
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
    "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\n"
    "Lily's mom said,";

[[noreturn]] inline void fail(const std::string& why) {
    std::cerr << "FAIL: " << why << "\n";
    std::exit(1);
}

#define GUEST_CHECK(cond, msg)                                                                     \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ::guest::fail(std::string(#cond) + ": " + (msg));                                      \
    } while (0)

// Card 0, or skip the test when there is none.
inline hc::Card open_card_or_skip() {
    if (hc::device_paths().empty()) {
        std::cerr << "SKIP: no /dev/hc/N (driver not loaded or no card)\n";
        std::exit(77);
    }
    return hc::Card::open(hc::device_paths().front());
}

// Whether the card carries the model the known answer is for.
inline bool is_stories260k(const hc::Card& card) {
    return card.model().vocab_size == 512 && card.model().dim == 64 && card.model().n_layers == 5;
}

// A generation that runs as long as the card lets it: EOS does not stop it,
// and it asks for all the ring and the context after @prompt_len hold.
inline hc::GenerateOptions endless_options(const hc::Card& card, const hc::Session& s,
                                           size_t prompt_len) {
    hc::GenerateOptions o;
    o.ignore_eos = true;
    o.max_tokens = std::min<uint32_t>(s.ring_capacity(),
                                      card.info().context_len - static_cast<uint32_t>(prompt_len));
    return o;
}

// Run @body, turning an escaped hc::Error into a failure with its message.
template <typename F> int run(F&& body) {
    try {
        body();
    } catch (const hc::Error& e) {
        fail(std::string("unexpected hc::Error: ") + e.what());
    }
    std::cout << "ok\n";
    return 0;
}

} // namespace guest
