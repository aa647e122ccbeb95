// SPDX-License-Identifier: MIT
// The known answer through libhc's generation forms: blocking text
// iteration, the callback form, the token form and the event loop, all
// greedy from "Once upon a time" on stories260K.  One case per form
// (hc1_harness.h); each compares with the blocking text of its own session.
#include "guest.hpp"

#include <hc/event_loop.hpp>

namespace {

hc::GenerateOptions greedy() {
    hc::GenerateOptions opts;
    opts.max_tokens = 120;
    return opts;
}

// The blocking text form on @s: the known answer, with a finish reason.
std::string blocking_text(hc::Session& s) {
    std::string text = guest::kPrompt;
    for (const std::string& piece : s.text(guest::kPrompt, greedy()))
        text += piece;
    std::cout << text << "\n";
    GUEST_CHECK(text.rfind(guest::kKnownAnswer, 0) == 0, "blocking output differs");
    GUEST_CHECK(s.result().finish != hc::Finish::None, "no finish reason");
    GUEST_CHECK(s.result().prompt_tokens == 5, std::to_string(s.result().prompt_tokens));
    return text;
}

// The token form on @s, which must decode to @text.
std::vector<uint32_t> token_form(const hc::Card& card, hc::Session& s, const std::string& text) {
    std::vector<uint32_t> prompt = card.tokenizer().encode(guest::kPrompt);
    std::vector<uint32_t> tokens;
    for (uint32_t t : s.tokens(prompt, greedy()))
        tokens.push_back(t);
    GUEST_CHECK(guest::kPrompt + card.tokenizer().decode(tokens, prompt.back()) == text,
                "decoded tokens differ");
    return tokens;
}

} // namespace

TEST(blocking_text) {
    hc::Card card = guest::open_stories260k_or_skip();
    std::cout << "model " << card.model().name << " (" << card.model().weight_format_name()
              << ", KV cache " << card.model().kv_format_name() << "), sha256 "
              << card.model().sha256_hex() << "\n";
    // The format the card was booted with (hc1-vm passes it on), as sysfs says it.
    const char* booted = std::getenv("HC1_KV_FORMAT");
    GUEST_CHECK(booted && card.model().kv_format_name() == booted,
                "KV cache " + card.model().kv_format_name() + ", booted with " +
                    (booted ? booted : "(HC1_KV_FORMAT unset)"));
    GUEST_CHECK(card.attribute("model/kv_format") == card.model().kv_format_name(),
                "sysfs model/kv_format: " + card.attribute("model/kv_format"));
    GUEST_CHECK(card.attribute("state") == "live", "sysfs state: " + card.attribute("state"));
    GUEST_CHECK(!card.pci_address().empty(), "no PCI address from sysfs");
    hc::Session s = card.session();
    blocking_text(s);
}

// Callback form on the same session: the session is reusable.
TEST(callback_form) {
    hc::Card card = guest::open_stories260k_or_skip();
    hc::Session s = card.session();
    std::string text = blocking_text(s);
    std::string again = guest::kPrompt + s.complete(guest::kPrompt, greedy());
    GUEST_CHECK(again == text, "second run differs: " + again);
}

// Token form: decode must give the same text.
TEST(token_form) {
    hc::Card card = guest::open_stories260k_or_skip();
    hc::Session s = card.session();
    token_form(card, s, blocking_text(s));
}

// The event loop delivers the same tokens.
TEST(event_loop) {
    hc::Card card = guest::open_stories260k_or_skip();
    hc::Session s = card.session();
    std::vector<uint32_t> tokens = token_form(card, s, blocking_text(s));
    std::vector<uint32_t> prompt = card.tokenizer().encode(guest::kPrompt);
    hc::EventLoop loop;
    std::vector<uint32_t> async_tokens;
    bool done = false;
    loop.submit(s, prompt, greedy(),
                {[&](std::span<const uint32_t> b) {
                     async_tokens.insert(async_tokens.end(), b.begin(), b.end());
                 },
                 [&](const hc::Result& r, const hc::Error* e) {
                     GUEST_CHECK(!e, e ? e->what() : "");
                     GUEST_CHECK(r.tokens == async_tokens.size(), "count mismatch");
                     done = true;
                 }});
    loop.run();
    GUEST_CHECK(done, "on_done not called");
    GUEST_CHECK(async_tokens == tokens, "event loop tokens differ");
}

TEST_HARNESS_MAIN
