// SPDX-License-Identifier: MIT
// 16 sessions on one event loop: each must produce exactly what it produces
// alone (sampling with its own seed), and the loop must need well under one
// syscall per token.  One behaviour, one case (hc1_harness.h).
#include "guest.hpp"

#include <hc/event_loop.hpp>

#include <algorithm>

TEST(loop_matches_solo_runs) {
    hc::Card card = guest::open_card_or_skip();
    const uint32_t n = std::min<uint32_t>(16, card.info().n_contexts);
    GUEST_CHECK(n >= 2, "card holds fewer than 2 contexts");
    const char* prompts[] = {"Once upon a time", "The cat", "Lily and Tom", "One day"};
    std::vector<hc::Session> sessions;
    std::vector<std::vector<uint32_t>> prompt_tokens;
    std::vector<hc::GenerateOptions> opts(n);
    for (uint32_t i = 0; i < n; i++) {
        sessions.push_back(card.session());
        prompt_tokens.push_back(card.tokenizer().encode(prompts[i % 4]));
        opts[i].max_tokens = 48;
        opts[i].temperature = 0.9f;
        opts[i].top_p = 0.9f;
        opts[i].seed = 1000 + i;
    }

    // Solo: one session at a time, blocking.
    std::vector<std::vector<uint32_t>> solo(n);
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t t : sessions[i].tokens(prompt_tokens[i], opts[i]))
            solo[i].push_back(t);

    // Together on one loop.
    hc::EventLoop loop;
    std::vector<std::vector<uint32_t>> together(n);
    uint32_t done = 0;
    for (uint32_t i = 0; i < n; i++)
        loop.submit(sessions[i], prompt_tokens[i], opts[i],
                    {[&, i](std::span<const uint32_t> b) {
                         together[i].insert(together[i].end(), b.begin(), b.end());
                     },
                     [&, i](const hc::Result&, const hc::Error* e) {
                         GUEST_CHECK(!e,
                                     "session " + std::to_string(i) + ": " + (e ? e->what() : ""));
                         done++;
                     }});
    loop.run();
    GUEST_CHECK(done == n, "not every generation finished");
    uint64_t tokens = 0;
    for (uint32_t i = 0; i < n; i++) {
        GUEST_CHECK(!solo[i].empty(), "session " + std::to_string(i) + " made no tokens");
        GUEST_CHECK(together[i] == solo[i],
                    "session " + std::to_string(i) +
                        " differs from its solo run: " + card.tokenizer().decode(together[i]) +
                        " vs " + card.tokenizer().decode(solo[i]));
        tokens += together[i].size();
    }
    auto c = loop.counters();
    double per_token = double(c.enters + c.other_syscalls) / double(tokens);
    std::cout << n << " sessions, " << tokens << " tokens, " << c.enters << " io_uring_enter, "
              << c.waits << " WAITs: " << per_token << " syscalls per token\n";
    GUEST_CHECK(per_token < 0.5, "too many syscalls per token");
}

TEST_HARNESS_MAIN
