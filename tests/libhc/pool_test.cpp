// SPDX-License-Identifier: MIT
// Card selectors and the pool where no card is needed: every selector that
// cannot name a card gives its errno and a message that says why.  What
// needs cards (placement, resets, removal) is multicard-libhc in the guest.
#include <hc/hc.hpp>

#include <gtest/gtest.h>

#include <cerrno>

namespace {

// Run @f, return the errno of the hc::Error it throws (0 if none) and its message.
template <typename F> std::pair<int, std::string> error_of(F&& f) {
    try {
        f();
    } catch (const hc::Error& e) {
        return {e.code(), e.what()};
    }
    return {0, ""};
}

bool no_cards() {
    return hc::device_paths().empty();
}

TEST(OpenCard, EmptySelectorIsEinval) {
    auto [code, what] = error_of([] { hc::open_card(""); });
    EXPECT_EQ(code, EINVAL);
    EXPECT_NE(what.find("empty selector"), std::string::npos) << what;
}

TEST(OpenCard, MissingPathIsEnoent) {
    auto [code, what] = error_of([] { hc::open_card("/nonexistent/hc/by-model/x"); });
    EXPECT_EQ(code, ENOENT);
    EXPECT_NE(what.find("/nonexistent/hc/by-model/x"), std::string::npos) << what;
}

TEST(OpenCard, PathThatIsNoCardIsEnotty) {
    EXPECT_EQ(error_of([] { hc::open_card("/dev/null"); }).first, ENOTTY);
}

TEST(OpenCard, MissingIndexIsEnoent) {
    auto [code, what] = error_of([] { hc::open_card("4095"); });
    EXPECT_EQ(code, ENOENT);
    EXPECT_NE(what.find("/dev/hc/4095"), std::string::npos) << what;
}

TEST(OpenCard, ModelWithoutCardsIsEnoent) {
    if (!no_cards())
        GTEST_SKIP() << "cards present: the guest tests cover selection";
    for (const char* sel : {"stories260K", "6230b6c9", "not a model"}) {
        auto [code, what] = error_of([&] { hc::open_card(sel); });
        EXPECT_EQ(code, ENOENT) << sel;
        EXPECT_NE(what.find(hc::driver_loaded() ? "no HC1 card" : "not loaded"), std::string::npos)
            << what;
    }
}

TEST(Pool, OpenWithoutCardsIsEnoent) {
    if (!no_cards())
        GTEST_SKIP() << "cards present: the guest tests cover the pool";
    EXPECT_EQ(error_of([] { hc::Pool::open(); }).first, ENOENT);
}

} // namespace
