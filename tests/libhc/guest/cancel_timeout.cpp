// SPDX-License-Identifier: MIT
// Cancellation (from another thread, by a callback, in the event loop) and
// timeouts end generations early with the right result, and leave the
// session reusable.  One case each (hc1_harness.h).  The cancel cases pace
// the card, so they need its fault injection (make test-guest's second
// boot); the timeout cases run on any card.
#include "guest.hpp"

#include <hc/event_loop.hpp>

#include <cerrno>
#include <thread>

namespace {

// A session and a generation of it that only a cancel or timeout ends.
struct Endless {
    hc::Card card = guest::open_card_or_skip();
    hc::Session s = card.session();
    std::vector<uint32_t> prompt = card.tokenizer().encode("Once upon a time");
    hc::GenerateOptions endless = guest::endless_options(card, s, prompt.size());

    // The same with a timeout of 1 ms, which cannot hold the prompt and a
    // ring's worth of tokens.
    hc::GenerateOptions quick() const {
        hc::GenerateOptions o = endless;
        o.timeout = std::chrono::milliseconds(1);
        return o;
    }

    // Four tokens: what the session generates when it works.
    std::vector<uint32_t> few_tokens() {
        hc::GenerateOptions few;
        few.max_tokens = 4;
        few.ignore_eos = true;
        std::vector<uint32_t> out;
        for (uint32_t t : s.tokens(prompt, few))
            out.push_back(t);
        return out;
    }
};

// The same on a paced card (HC1_TEST_SLOW_ENGINE: the ring takes 5 s), so
// a cancel always lands while the generation runs: exactly Cancelled.
struct PacedEndless : Endless {
    PacedEndless() { guest::pace(card); }

    void check_cancelled(const hc::Result& r, const std::string& what) const {
        GUEST_CHECK(r.finish == hc::Finish::Cancelled,
                    what + ": " + hc::to_string(r.finish) + ", not cancelled");
        GUEST_CHECK(r.tokens < endless.max_tokens, what + ": the generation ran to its end");
    }
};

} // namespace

// Callback returning false: cancelled after exactly what it saw.
TEST(callback_stop) {
    PacedEndless e;
    uint32_t seen = 0;
    hc::Result r = e.s.generate(e.prompt, e.endless, [&](uint32_t) { return ++seen < 3; });
    std::cout << "callback stop: " << r.tokens << " tokens, " << hc::to_string(r.finish) << "\n";
    GUEST_CHECK(seen >= 3, "callback saw fewer tokens than it asked for");
    e.check_cancelled(r, "callback stop");
}

// Cancel from another thread while the reader blocks.
TEST(cancel_from_another_thread) {
    PacedEndless e;
    e.s.start(e.prompt, e.endless);
    std::thread canceller([&] { e.s.cancel(); });
    uint32_t got = 0;
    while (e.s.next())
        got++;
    canceller.join();
    std::cout << "thread cancel: " << got << " tokens, " << hc::to_string(e.s.result().finish)
              << "\n";
    e.check_cancelled(e.s.result(), "thread cancel");
    GUEST_CHECK(got == e.s.result().tokens, "tokens read != tokens reported");
}

// Timeout: ETIMEDOUT, then the session still works.
TEST(timeout) {
    Endless e;
    std::vector<uint32_t> before = e.few_tokens();
    bool timed_out = false;
    try {
        for (uint32_t t : e.s.tokens(e.prompt, e.quick()))
            (void)t;
    } catch (const hc::Error& err) {
        GUEST_CHECK(err.code() == ETIMEDOUT, err.what());
        timed_out = true;
    }
    std::cout << "timeout: " << (timed_out ? "ETIMEDOUT" : "finished first") << "\n";
    GUEST_CHECK(timed_out, "no ETIMEDOUT");
    std::vector<uint32_t> after = e.few_tokens();
    GUEST_CHECK(after.size() == 4, "session unusable after a timeout");
    GUEST_CHECK(after == before, "session generates differently after a timeout");
}

// Event loop cancel.
TEST(event_loop_cancel) {
    PacedEndless e;
    hc::EventLoop loop;
    hc::Result lr;
    bool errored = false;
    uint32_t loop_tokens = 0;
    hc::EventLoop::Id id = 0;
    id = loop.submit(e.s, e.prompt, e.endless,
                     {[&](std::span<const uint32_t> b) {
                          loop_tokens += b.size();
                          loop.cancel(id);
                      },
                      [&](const hc::Result& res, const hc::Error* err) {
                          lr = res;
                          errored = err != nullptr;
                      }});
    loop.run();
    std::cout << "loop cancel: " << lr.tokens << " tokens, " << hc::to_string(lr.finish) << "\n";
    GUEST_CHECK(!errored, "cancel reported as an error");
    e.check_cancelled(lr, "loop cancel");
    GUEST_CHECK(loop_tokens == lr.tokens, "delivered != reported");
}

// Event loop timeout: ETIMEDOUT, then the session still works.
TEST(event_loop_timeout) {
    Endless e;
    std::vector<uint32_t> before = e.few_tokens();
    hc::EventLoop loop;
    bool loop_timeout = false;
    loop.submit(e.s, e.prompt, e.quick(), {nullptr, [&](const hc::Result&, const hc::Error* err) {
                                               loop_timeout = err && err->code() == ETIMEDOUT;
                                           }});
    loop.run();
    std::cout << "loop timeout: " << (loop_timeout ? "ETIMEDOUT" : "finished first") << "\n";
    GUEST_CHECK(loop_timeout, "no ETIMEDOUT from the event loop");
    GUEST_CHECK(e.few_tokens() == before, "session unusable after an event-loop timeout");
}

TEST_HARNESS_MAIN
