// SPDX-License-Identifier: MIT
// Bad requests against the real driver give clear errors, never hangs.  One
// case per kind of refusal (hc1_harness.h).
#include "guest.hpp"

#include <cerrno>

namespace {
int error_of(auto&& f) {
    try {
        f();
    } catch (const hc::Error& e) {
        std::cout << "  " << e.what() << "\n";
        return e.code();
    }
    return 0;
}
} // namespace

TEST(bad_requests_are_einval) {
    hc::Card card = guest::open_card_or_skip();
    hc::Session s = card.session();
    std::vector<uint32_t> bad = {card.info().bos_id, card.info().vocab_size + 7};
    GUEST_CHECK(error_of([&] { s.start(bad); }) == EINVAL, "token outside vocabulary");
    GUEST_CHECK(error_of([&] { s.start({}); }) == EINVAL, "empty prompt");
    hc::GenerateOptions five_stops;
    five_stops.stop_tokens = {3, 4, 5, 6, 7};
    std::vector<uint32_t> ok = card.tokenizer().encode("Hi");
    GUEST_CHECK(error_of([&] { s.start(ok, five_stops); }) == EINVAL, "5 stop tokens");
    hc::GenerateOptions huge;
    huge.max_tokens = s.ring_capacity() + 1;
    GUEST_CHECK(error_of([&] { s.start(ok, huge); }) == EINVAL, "max_tokens > ring");
}

// Running twice at once is EBUSY; the first still completes.
TEST(second_start_is_ebusy) {
    hc::Card card = guest::open_card_or_skip();
    hc::Session s = card.session();
    std::vector<uint32_t> ok = card.tokenizer().encode("Hi");
    hc::GenerateOptions some;
    some.max_tokens = 8;
    s.start(ok, some);
    GUEST_CHECK(error_of([&] { s.start(ok, some); }) == EBUSY, "second start");
    while (s.next()) {
    }
}

// Every context taken: the next session is refused with EBUSY.
TEST(session_beyond_n_contexts_is_ebusy) {
    hc::Card card = guest::open_card_or_skip();
    hc::Session first = card.session();
    std::vector<hc::Session> all;
    int err = 0;
    for (uint32_t i = 0; i <= card.info().n_contexts && !err; i++)
        err = error_of([&] { all.push_back(card.session()); });
    GUEST_CHECK(err == EBUSY, "session beyond n_contexts: " + std::to_string(err));
    GUEST_CHECK(all.size() == card.info().n_contexts - 1, std::to_string(all.size()));
    all.clear(); // closing frees the contexts
    hc::Session again = card.session();
    GUEST_CHECK(card.stats().active_contexts >= 2, "stats do not count sessions");
}

TEST_HARNESS_MAIN
