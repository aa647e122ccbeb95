// SPDX-License-Identifier: MIT
// A Session destroyed, or move-assigned over, while an EventLoop runs a
// generation on it: the kernel still reads the job's arguments and the card
// still writes the session's ring, so the loop must keep the session's file
// and mapping alive until its last command completed, cancel the
// generation, hand no more tokens to the handler and end the job with one
// on_done (Cancelled, ECANCELED).  Built with AddressSanitizer and UBSan
// against libhc's sanitized copy: a use of the freed session is a report,
// and the report fails the test.  One case per way to drop the session
// (hc1_harness.h).
//
// Every case needs the generation still running when the session goes, so
// the card is paced (HC1_TEST_SLOW_ENGINE: a token every 10 ms, 5 s for
// the whole ring) and the outcome does not hang on the guest being faster
// than the card, which a KASAN kernel under TCG is not.  Needs the card's
// fault injection (make test-guest's second boot).
#include "guest.hpp"

#include <hc/event_loop.hpp>

#include <cerrno>
#include <chrono>
#include <optional>

namespace {

// The card, paced until the case's process exits.
hc::Card paced_card() {
    hc::Card card = guest::open_card_or_skip();
    guest::pace(card);
    return card;
}

// One job's handler calls, to check what the loop reported.
struct Outcome {
    uint32_t tokens_after_drop = 0;
    int done_calls = 0;
    hc::Result result;
    int error = 0;
    bool dropped = false;

    hc::EventLoop::Handlers handlers(std::function<void()> on_first_tokens = nullptr) {
        return {[this, on_first_tokens](std::span<const uint32_t> t) {
                    if (dropped)
                        tokens_after_drop += static_cast<uint32_t>(t.size());
                    if (on_first_tokens && !dropped) {
                        dropped = true;
                        on_first_tokens();
                    }
                },
                [this](const hc::Result& r, const hc::Error* e) {
                    done_calls++;
                    result = r;
                    error = e ? e->code() : 0;
                }};
    }

    void check(const std::string& what) const {
        GUEST_CHECK(done_calls == 1,
                    what + ": on_done ran " + std::to_string(done_calls) + " times, not once");
        GUEST_CHECK(tokens_after_drop == 0, what + ": " + std::to_string(tokens_after_drop) +
                                                " tokens handed over after the Session went");
        GUEST_CHECK(result.finish == hc::Finish::Cancelled,
                    what + ": finish " + hc::to_string(result.finish) + ", not cancelled");
        GUEST_CHECK(error == ECANCELED,
                    what + ": error " + std::to_string(error) + ", not ECANCELED");
    }
};

// Every context of the card can be claimed again: nothing leaked.
void check_contexts_free(const hc::Card& card, const std::string& what) {
    std::vector<hc::Session> all;
    try {
        for (uint32_t i = 0; i < card.info().n_contexts; i++)
            all.push_back(card.session());
    } catch (const hc::Error& e) {
        guest::fail(what + ": only " + std::to_string(all.size()) + " of " +
                    std::to_string(card.info().n_contexts) +
                    " contexts free afterwards: " + e.what());
    }
}

} // namespace

// Destroyed right after submit(): its commands are still in the
// submission queue, not even issued to the driver.
TEST(destroyed_after_submit) {
    hc::Card card = paced_card();
    std::vector<uint32_t> prompt = card.tokenizer().encode(guest::kPrompt);
    using namespace std::chrono;

    {
        hc::EventLoop loop;
        Outcome o;
        std::optional<hc::Session> s(card.session());
        hc::GenerateOptions endless = guest::endless_options(card, *s, prompt.size());
        loop.submit(*s, prompt, endless, o.handlers());
        int fd = s->fd();
        o.dropped = true;
        s.reset();
        GUEST_CHECK(guest::fdinfo_state(fd) != "none",
                    "the loop let the session's file close under its commands");
        auto t0 = steady_clock::now();
        loop.run();
        double secs = duration<double>(steady_clock::now() - t0).count();
        o.check("destroyed after submit");
        GUEST_CHECK(guest::fdinfo_state(fd) == "none", "the session's file outlived its job");
        GUEST_CHECK(o.result.tokens < endless.max_tokens,
                    "the generation was not cut short: " + std::to_string(o.result.tokens) +
                        " tokens");
        std::cout << "destroyed after submit: cancelled after " << o.result.tokens << " of "
                  << endless.max_tokens << " tokens, " << secs << " s\n";
    }
    check_contexts_free(card, "destroyed after submit");
}

// Destroyed by its own token handler, while the card streams into
// the ring and a WAIT is being re-armed.
TEST(destroyed_in_on_tokens) {
    hc::Card card = paced_card();
    std::vector<uint32_t> prompt = card.tokenizer().encode(guest::kPrompt);

    {
        hc::EventLoop loop;
        Outcome o;
        std::optional<hc::Session> s(card.session());
        hc::GenerateOptions endless = guest::endless_options(card, *s, prompt.size());
        loop.submit(*s, prompt, endless, o.handlers([&] { s.reset(); }));
        loop.run();
        GUEST_CHECK(o.dropped, "no tokens arrived");
        o.check("destroyed in on_tokens");
        GUEST_CHECK(o.result.tokens < endless.max_tokens, "the generation was not cut short");
        std::cout << "destroyed in on_tokens: cancelled after " << o.result.tokens << " tokens\n";
    }
    check_contexts_free(card, "destroyed in on_tokens");
}

// Move-assigned over mid-stream: the old generation is cancelled,
// the new session works, in the same loop too.
TEST(move_assigned_over) {
    hc::Card card = paced_card();
    std::vector<uint32_t> prompt = card.tokenizer().encode(guest::kPrompt);

    {
        hc::EventLoop loop;
        Outcome o;
        hc::Session s = card.session();
        hc::GenerateOptions endless = guest::endless_options(card, s, prompt.size());
        loop.submit(s, prompt, endless, o.handlers([&] { s = card.session(); }));
        loop.run();
        o.check("move-assigned over in on_tokens");
        hc::GenerateOptions greedy;
        greedy.max_tokens = 24;
        std::vector<uint32_t> blocking, looped;
        for (uint32_t t : s.tokens(prompt, greedy))
            blocking.push_back(t);
        loop.submit(
            s, prompt, greedy,
            {[&](std::span<const uint32_t> t) { looped.insert(looped.end(), t.begin(), t.end()); },
             [&](const hc::Result&, const hc::Error* e) {
                 GUEST_CHECK(!e, std::string("new session in the loop: ") + (e ? e->what() : ""));
             }});
        loop.run();
        GUEST_CHECK(blocking.size() == 24 && looped == blocking,
                    "the session assigned in its place does not generate as one should");
        std::string text = guest::kPrompt + card.tokenizer().decode(blocking, prompt.back());
        if (guest::is_stories260k(card))
            GUEST_CHECK(guest::kKnownAnswer.compare(0, text.size(), text) == 0,
                        "the new session's greedy answer is not the known one: " + text);
        std::cout << "move-assigned over: cancelled after " << o.result.tokens
                  << " tokens; the new session generated " << blocking.size() << "\n";
    }
    check_contexts_free(card, "move-assigned over");
}

// Destroyed, then the loop destroyed with the job still pending:
// the loop's destructor reaps the commands of a session nobody holds.
TEST(destroyed_with_the_loop) {
    hc::Card card = paced_card();
    std::vector<uint32_t> prompt = card.tokenizer().encode(guest::kPrompt);
    using namespace std::chrono;

    {
        std::optional<hc::EventLoop> loop(std::in_place);
        Outcome o;
        std::optional<hc::Session> s(card.session());
        hc::GenerateOptions endless = guest::endless_options(card, *s, prompt.size());
        loop->submit(*s, prompt, endless, o.handlers());
        loop->run_once(milliseconds(200));
        int fd = s->fd();
        s.reset();
        loop.reset();
        GUEST_CHECK(guest::fdinfo_state(fd) == "none", "the session's file outlived the loop");
        GUEST_CHECK(o.done_calls == 0, "the loop's destructor ran a handler");
    }
    check_contexts_free(card, "destroyed with the loop");
}

TEST_HARNESS_MAIN
