// SPDX-License-Identifier: MIT
// A card reset in the middle of a generation: the blocking reader and the
// event loop both end with EIO, never hang, and the very same sessions carry
// on afterwards.  The card is paced (HC1_TEST_SLOW_ENGINE: a token every
// 10 ms), and the reset waits until both generations run, so both are
// mid-stream when it lands and nothing but EIO is right.  Needs the card's
// fault injection (make test-guest's second boot).  One scenario, one case
// (hc1_harness.h).
#include "guest.hpp"

#include <hc/event_loop.hpp>

#include <cerrno>
#include <chrono>
#include <thread>
#include <unistd.h>

namespace {
// Waits until the session's generation runs (fdinfo), for at most 5 s.
bool wait_running(const hc::Session& s) {
    for (int i = 0; i < 500 && guest::fdinfo_state(s.fd()) != "running"; i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return guest::fdinfo_state(s.fd()) == "running";
}
} // namespace

TEST(sessions_carry_on_after_a_reset) {
    hc::Card card = guest::open_card_or_skip();
    if (::geteuid() != 0)
        guest::skip("resetting needs root");
    guest::need_fault_injection(card, "to pace it");
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
    guest::pace(card); // the whole ring takes 5 s
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
    // Reset once both run; reset anyway if they never do, to end them.
    bool both_running = false;
    std::thread resetter([&] {
        both_running = wait_running(blocking) && wait_running(looped);
        card.reset();
    });

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
    GUEST_CHECK(both_running, "the generations were not both running before the reset");
    GUEST_CHECK(blocking_error == EIO,
                "blocking reader: errno " + std::to_string(blocking_error) + ", not EIO");
    GUEST_CHECK(loop_done, "the loop's generation never ended");
    GUEST_CHECK(loop_error == EIO, "event loop: errno " + std::to_string(loop_error) + ", not EIO");
    GUEST_CHECK(loop_result.tokens < endless.max_tokens,
                "the looped generation was not cut short by the reset");
    guest::set_fault(0);
    GUEST_CHECK(card.attribute("state") == "live", "card not live after reset");

    // The same sessions carry on, with the same (greedy) output.
    std::string after = blocking.complete("Once upon a time", few);
    GUEST_CHECK(after == before, "after reset: '" + after + "' vs '" + before + "'");
    GUEST_CHECK(looped.complete("Once upon a time", few) == before, "looped session");
}

TEST_HARNESS_MAIN
