// SPDX-License-Identifier: MIT
// hc::StopMatcher: stop strings matched on streamed text across the
// pieces it arrives in (hcctl's --stop and hc1-serve's "stop").
#include <hc/tokenizer.hpp>

#include <gtest/gtest.h>

#include <initializer_list>

namespace {

using hc::StopMatcher;

std::string feed(StopMatcher& m, std::initializer_list<std::string_view> pieces) {
    std::string out;
    for (auto p : pieces)
        out += m.push(p);
    return out + m.finish();
}

TEST(StopMatcher, CutsAStopSplitAcrossPieces) {
    StopMatcher m({"Lily"});
    EXPECT_EQ(feed(m, {"a girl named L", "il", "y who", " ran"}), "a girl named ");
    EXPECT_TRUE(m.stopped());
}

TEST(StopMatcher, HoldsBackOnlyWhatCouldStillMatch) {
    StopMatcher m({"\nUser:"});
    EXPECT_EQ(m.push("hello\nUs"), "hello");
    EXPECT_EQ(m.push("ually"), "\nUsually");
    EXPECT_FALSE(m.stopped());
    EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, TheEarliestOfSeveralStopsWins) {
    StopMatcher m({"cat", "a"});
    EXPECT_EQ(feed(m, {"the cat"}), "the "); // "cat" starts before "a"
}

TEST(StopMatcher, NoStopsPassesEverything) {
    StopMatcher m({});
    EXPECT_EQ(feed(m, {"a", "b"}), "ab");
}

TEST(StopMatcher, NothingAfterAStop) {
    StopMatcher m({"end"});
    EXPECT_EQ(m.push("the end and more"), "the ");
    EXPECT_EQ(m.push("text"), "");
    EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, EmptyStopStringsAreIgnored) {
    StopMatcher m({"", "z"});
    EXPECT_EQ(feed(m, {"ab", "c"}), "abc");
    EXPECT_FALSE(m.stopped());
}

} // namespace
