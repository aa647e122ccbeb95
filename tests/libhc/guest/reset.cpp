// SPDX-License-Identifier: MIT
// A card reset in the middle of a generation: the blocking reader and the
// event loop end with ECANCELED/EIO (or their generation finished first),
// never hang, and the very same sessions carry on afterwards.
// One scenario, one case (hc1_harness.h).
#include "guest.hpp"

#include <hc/event_loop.hpp>

#include <cerrno>
#include <thread>
#include <unistd.h>

namespace {
bool acceptable(int code) {
    return code == 0 || code == ECANCELED || code == EIO;
}
} // namespace

TEST(sessions_carry_on_after_a_reset) {
    hc::Card card = guest::open_card_or_skip();
    if (::geteuid() != 0)
        guest::skip("resetting needs root");
    std::vector<uint32_t> prompt = card.tokenizer().encode("Once upon a time");
    hc::GenerateOptions endless;
    endless.ignore_eos = true;
    hc::Session blocking = card.session();
    hc::Session looped = card.session();
    endless.max_tokens = blocking.ring_capacity();

    // Known output before the reset, to compare with after it.
    hc::GenerateOptions few;
    few.max_tokens = 24;
    std::string before = blocking.complete("Once upon a time", few);

    int loop_error = 0;
    bool loop_done = false;
    hc::Result loop_result;
    blocking.start(prompt, endless);
    std::thread looper([&] {
        hc::EventLoop loop;
        loop.submit(looped, prompt, endless,
                    {nullptr, [&](const hc::Result& r, const hc::Error* e) {
                         loop_result = r;
                         loop_done = true;
                         loop_error = e ? e->code() : 0;
                     }});
        loop.run();
    });
    std::thread resetter([&] { card.reset(); });

    int blocking_error = 0;
    try {
        while (blocking.next()) {
        }
    } catch (const hc::Error& e) {
        blocking_error = e.code();
    }
    looper.join();
    resetter.join();
    std::cout << "reset mid-stream: blocking errno " << blocking_error << ", loop errno "
              << loop_error << " (" << loop_result.tokens << " tokens, "
              << hc::to_string(loop_result.finish) << ")\n";
    GUEST_CHECK(acceptable(blocking_error), std::to_string(blocking_error));
    GUEST_CHECK(loop_done && acceptable(loop_error), std::to_string(loop_error));
    GUEST_CHECK(card.attribute("state") == "live", "card not live after reset");

    // The same sessions carry on, with the same (greedy) output.
    std::string after = blocking.complete("Once upon a time", few);
    GUEST_CHECK(after == before, "after reset: '" + after + "' vs '" + before + "'");
    GUEST_CHECK(looped.complete("Once upon a time", few) == before, "looped session");
}

TEST_HARNESS_MAIN
