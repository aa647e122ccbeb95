// SPDX-License-Identifier: MIT
// Destroying an EventLoop with generations outstanding must not return
// while the kernel still holds its commands: their argument structs live in
// the loop's jobs, and a WAIT that completes later writes its result there.
// The destructor cancels every generation and reaps every command, however
// long the card takes.
//
// The card hangs (HC1_TEST_STALL_ENGINE with HC1_TEST_IGNORE_CANCEL: the
// cancel succeeds and stops nothing) and timeout_ms is 8 s, so only the
// driver's stall reset, 8 s on, ends the generation.  When the destructor
// returns, the session's generation must be over (fdinfo: not running).
// Needs the card's fault injection (make test-guest's second boot).  One
// behaviour, one case (hc1_harness.h).
#include "guest.hpp"

#include <hc/event_loop.hpp>

#include <chrono>
#include <optional>
#include <unistd.h>

namespace {

void set_timeout_ms(unsigned ms) {
    guest::write_file("/sys/module/hc1/parameters/timeout_ms", std::to_string(ms));
}

} // namespace

TEST(destructor_waits_for_the_kernel) {
    hc::Card card = guest::open_card_or_skip();
    if (!(card.info().hw_features & hc::kCardFaultInject))
        guest::skip("card has no fault injection");
    std::atexit([] {
        guest::set_fault(0);
        set_timeout_ms(10000);
    });
    hc::Session s = card.session();
    std::vector<uint32_t> prompt = card.tokenizer().encode("Once upon a time");
    hc::GenerateOptions endless = guest::endless_options(card, s, prompt.size());

    set_timeout_ms(8000);
    guest::set_fault(HC1_TEST_STALL_ENGINE);
    bool done = false;
    std::optional<hc::EventLoop> loop(std::in_place);
    loop->submit(s, prompt, endless,
                 {nullptr, [&](const hc::Result&, const hc::Error*) { done = true; }});
    // GENERATE issued, WAIT parked: the card makes no progress.
    for (int i = 0; i < 3; i++)
        loop->run_once(std::chrono::milliseconds(100));
    GUEST_CHECK(guest::fdinfo_state(s.fd()) == "running", "the generation did not start");
    guest::set_fault(HC1_TEST_STALL_ENGINE | HC1_TEST_IGNORE_CANCEL);
    auto t0 = std::chrono::steady_clock::now();
    loop.reset();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string state = guest::fdinfo_state(s.fd());
    std::cout << "EventLoop destroyed after " << secs << " s; session state " << state
              << (done ? "; on_done ran" : "") << "\n";
    GUEST_CHECK(state != "running",
                "the destructor returned with the generation running: the kernel still "
                "holds the loop's commands and writes their results into freed jobs");
    guest::set_fault(0);
    hc::GenerateOptions few;
    few.max_tokens = 4;
    few.ignore_eos = true;
    uint32_t n = 0;
    for (uint32_t t : s.tokens(prompt, few)) {
        (void)t;
        n++;
    }
    GUEST_CHECK(n == 4, "session unusable after the loop's teardown");
}

TEST_HARNESS_MAIN
