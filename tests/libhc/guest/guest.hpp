// SPDX-License-Identifier: MIT
// Helpers of the in-guest libhc tests: each is a program of cases of
// tests/guest/hc1_harness.h (TEST(name) ... TEST_HARNESS_MAIN, TAP output,
// one child process a case) that runs against the real driver and card.
// A case fails by guest::fail() or GUEST_CHECK (exit 1), or by an exception
// that escapes it (an hc::Error is one: its what() is reported), and skips
// by guest::skip() (exit 77).
#pragma once

#include <hc/hc.hpp>
#include <hc1/fault_inject.h>

#include "hc1_harness.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

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

[[noreturn]] inline void skip(const std::string& why) {
    std::cerr.flush();
    ::skip(why.c_str());
}

#define GUEST_CHECK(cond, msg)                                                                     \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ::guest::fail(std::string(#cond) + ": " + (msg));                                      \
    } while (0)

// Card 0, or skip the case when there is none.
inline hc::Card open_card_or_skip() {
    if (hc::device_paths().empty())
        skip("no /dev/hc/N (driver not loaded or no card)");
    return hc::Card::open(hc::device_paths().front());
}

// Whether the card carries the model the known answer is for.
inline bool is_stories260k(const hc::Card& card) {
    return card.model().vocab_size == 512 && card.model().dim == 64 && card.model().n_layers == 5;
}

// Card 0, or skip the case when it does not carry stories260K.
inline hc::Card open_stories260k_or_skip() {
    hc::Card card = open_card_or_skip();
    if (!is_stories260k(card))
        skip("card carries " + card.model().name + ", not stories260K");
    return card;
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

// Write @text and a newline to the file at @path (sysfs, debugfs), or fail.
inline void write_file(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text << "\n";
    f.close();
    GUEST_CHECK(f.good(), "write " + text + " to " + path);
}

// The driver's view of session fd @fd ("none" once the fd is closed): the
// hc1-state line of /proc/self/fdinfo (docs/driver.md).
inline std::string fdinfo_state(int fd) {
    std::ifstream f("/proc/self/fdinfo/" + std::to_string(fd));
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("hc1-state:", 0) == 0)
            return line.substr(line.find_first_not_of(" \t", 10));
    return "none";
}

// Set the first card's fault-injection modes (HC1_TEST_* of
// hc1/fault_inject.h): the driver's debugfs file hands them to the card.
inline void set_fault(uint32_t bits) {
    write_file("/sys/kernel/debug/hc1/hc0/fault_inject", std::to_string(bits));
}

// Skip the case unless @card can inject faults (make test-guest's second
// boot runs such cases), and clear its modes when the case's process ends.
inline void need_fault_injection(const hc::Card& card, std::string_view why) {
    if (!(card.info().hw_features & hc::kCardFaultInject))
        skip("card has no fault injection " + std::string(why));
    std::atexit([] { set_fault(0); });
}

// Pace @card (HC1_TEST_SLOW_ENGINE: a token per 10 ms, 5 s for a ring)
// until the case ends, so that what the case does mid-stream lands
// mid-stream however slow the guest; skips without fault injection.
inline void pace(const hc::Card& card) {
    need_fault_injection(card, "to pace it");
    set_fault(HC1_TEST_SLOW_ENGINE);
}

} // namespace guest
