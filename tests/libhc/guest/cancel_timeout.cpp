// SPDX-License-Identifier: MIT
// Cancellation (from another thread, by a callback, in the event loop) and
// timeouts end generations early with the right result, and leave the
// session reusable.
#include "guest.hpp"

#include <hc/event_loop.hpp>

#include <cerrno>
#include <thread>

int main() {
    return guest::run([] {
        hc::Card card = guest::open_card_or_skip();
        hc::Session s = card.session();
        std::vector<uint32_t> prompt = card.tokenizer().encode("Once upon a time");
        hc::GenerateOptions endless = guest::endless_options(card, s, prompt.size());

        // Callback returning false: cancelled after exactly what it saw.
        uint32_t seen = 0;
        hc::Result r = s.generate(prompt, endless, [&](uint32_t) { return ++seen < 3; });
        std::cout << "callback stop: " << r.tokens << " tokens, " << hc::to_string(r.finish)
                  << "\n";
        GUEST_CHECK(seen >= 3, "callback saw fewer tokens than it asked for");
        GUEST_CHECK(r.finish == hc::Finish::Cancelled || r.tokens == endless.max_tokens,
                    hc::to_string(r.finish));

        // Cancel from another thread while the reader blocks.
        s.start(prompt, endless);
        std::thread canceller([&] { s.cancel(); });
        uint32_t got = 0;
        while (s.next())
            got++;
        canceller.join();
        std::cout << "thread cancel: " << got << " tokens, " << hc::to_string(s.result().finish)
                  << "\n";
        GUEST_CHECK(s.result().finish == hc::Finish::Cancelled ||
                        s.result().tokens == endless.max_tokens,
                    hc::to_string(s.result().finish));
        GUEST_CHECK(got == s.result().tokens, "tokens read != tokens reported");

        // Timeout: ETIMEDOUT, then the session still works.
        hc::GenerateOptions quick = endless;
        quick.timeout = std::chrono::milliseconds(1);
        bool timed_out = false;
        try {
            for (uint32_t t : s.tokens(prompt, quick))
                (void)t;
        } catch (const hc::Error& e) {
            GUEST_CHECK(e.code() == ETIMEDOUT, e.what());
            timed_out = true;
        }
        std::cout << "timeout: " << (timed_out ? "ETIMEDOUT" : "finished first") << "\n";
        // 1 ms cannot hold the prompt and a ring's worth of tokens.
        GUEST_CHECK(timed_out, "no ETIMEDOUT");
        hc::GenerateOptions few;
        few.max_tokens = 4;
        few.ignore_eos = true;
        std::vector<uint32_t> after;
        for (uint32_t t : s.tokens(prompt, few))
            after.push_back(t);
        GUEST_CHECK(after.size() == 4, "session unusable after a timeout");

        // Event loop cancel.
        hc::EventLoop loop;
        hc::Result lr;
        bool errored = false;
        uint32_t loop_tokens = 0;
        hc::EventLoop::Id id = 0;
        id = loop.submit(s, prompt, endless,
                         {[&](std::span<const uint32_t> b) {
                              loop_tokens += b.size();
                              loop.cancel(id);
                          },
                          [&](const hc::Result& res, const hc::Error* e) {
                              lr = res;
                              errored = e != nullptr;
                          }});
        loop.run();
        std::cout << "loop cancel: " << lr.tokens << " tokens, " << hc::to_string(lr.finish)
                  << "\n";
        GUEST_CHECK(!errored, "cancel reported as an error");
        GUEST_CHECK(lr.finish == hc::Finish::Cancelled || lr.tokens == endless.max_tokens,
                    hc::to_string(lr.finish));
        GUEST_CHECK(loop_tokens == lr.tokens, "delivered != reported");

        // Event loop timeout.
        bool loop_timeout = false;
        loop.submit(s, prompt, quick, {nullptr, [&](const hc::Result&, const hc::Error* e) {
                                           loop_timeout = e && e->code() == ETIMEDOUT;
                                       }});
        loop.run();
        std::cout << "loop timeout: " << (loop_timeout ? "ETIMEDOUT" : "finished first") << "\n";
        GUEST_CHECK(loop_timeout, "no ETIMEDOUT from the event loop");
        std::vector<uint32_t> again;
        for (uint32_t t : s.tokens(prompt, few))
            again.push_back(t);
        GUEST_CHECK(again == after, "session unusable after an event-loop timeout");
    });
}
