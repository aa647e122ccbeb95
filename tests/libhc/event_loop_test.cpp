// SPDX-License-Identifier: MIT
// EventLoop::wake(), the one call other threads make: it needs no card, only
// io_uring, so it is tested on the host.  Generations are tested in the guest.
#include <hc/event_loop.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace {

using namespace std::chrono_literals;

TEST(EventLoopWake, WakeFromAnotherThreadEndsAWaitForever) {
    hc::EventLoop loop;
    std::thread waker([&loop] {
        std::this_thread::sleep_for(50ms);
        loop.wake();
    });
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(loop.run_once());
    waker.join();
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 40ms);
}

TEST(EventLoopWake, WakeBeforeTheWaitIsNotLost) {
    hc::EventLoop loop;
    loop.wake();
    EXPECT_TRUE(loop.run_once(5s));
}

TEST(EventLoopWake, WakeUpsMergeAndTheLoopWaitsAgain) {
    hc::EventLoop loop;
    loop.wake();
    loop.wake();
    loop.wake();
    EXPECT_TRUE(loop.run_once(5s));
    // One read took all three: the next wait times out without an event.
    EXPECT_FALSE(loop.run_once(50ms));
    loop.wake();
    EXPECT_TRUE(loop.run_once(5s));
}

} // namespace
