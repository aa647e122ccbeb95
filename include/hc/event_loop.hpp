// SPDX-License-Identifier: MIT
/**
 * @file hc/event_loop.hpp
 * @brief One io_uring driving many sessions on one or more cards from one
 *        thread.
 */
#pragma once

#if __cplusplus < 202002L
#error "libhc's C++ headers need C++20: compile with -std=c++20 (hc::hc in CMake sets it)"
#endif

#include <hc/session.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace hc {

/**
 * EventLoop - asynchronous generation over io_uring.
 *
 * submit() queues a HC1_URING_CMD_GENERATE for a session together with a
 * HC1_URING_CMD_WAIT; each WAIT completion means new tokens in the session's
 * mapped ring, which the loop hands to on_tokens and re-arms the WAIT in the
 * same io_uring_enter() as it waits for the next event.  One enter serves
 * every session that made progress, so syscalls per token fall well below
 * one as sessions and coalescing grow; counters() reports them.
 *
 * The loop is single-threaded: call submit/cancel/run from one thread; the
 * handlers run inside run()/run_once().  The one exception is wake(), which
 * other threads call to make that thread look at work they handed it (a
 * server's HTTP threads do).  The loop shares ownership of each running
 * session's file and ring, so a Session destroyed or move-assigned over (on
 * the loop's thread) while its generation runs is safe: the generation is
 * cancelled, no more tokens reach on_tokens, and on_done reports
 * Finish::Cancelled with ECANCELED.  That on_done must not touch the
 * destroyed Session.
 */
class HC_API EventLoop {
  public:
    /** Handle of a submitted generation. */
    using Id = uint64_t;

    /** Callbacks of one generation. */
    struct Handlers {
        /**
         * New tokens, in order, never an empty batch; called zero or more
         * times before on_done.  The span is valid during the call only.
         */
        std::function<void(std::span<const uint32_t> tokens)> on_tokens;
        /** The generation ended: @p error is null on success, else why it failed. */
        std::function<void(const Result& result, const Error* error)> on_done;
    };

    /** Counters for measuring the loop's cost. */
    struct Counters {
        uint64_t enters = 0;         ///< io_uring_enter() syscalls the loop made
        uint64_t other_syscalls = 0; ///< ioctls (cancel) the loop made
        uint64_t completions = 0;    ///< CQEs reaped
        uint64_t waits = 0;          ///< WAIT commands armed
        uint64_t tokens = 0;         ///< tokens delivered to on_tokens
    };

    /** Create the loop with an io_uring of @p entries SQEs (ENOMEM, ENOSYS on failure). */
    explicit EventLoop(unsigned entries = 256);
    /**
     * Cancels every generation still pending and waits until the kernel has
     * completed every command of the loop, however long the card takes (a
     * hung one is reset by the driver after its timeout); no handler runs.
     */
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    /**
     * Start a generation on @p session; the prompt is copied.  Throws EBUSY
     * if the session already runs one, EINVAL for bad options, EOPNOTSUPP if
     * the driver lacks io_uring passthrough.
     */
    Id submit(Session& session, std::span<const uint32_t> prompt, const GenerateOptions& opts,
              Handlers handlers);
    /** Ask the card to stop generation @p id; its on_done reports Finish::Cancelled. */
    void cancel(Id id);
    /** Generations submitted and not yet done. */
    size_t pending() const;
    /** Run until no generation is pending. */
    void run();
    /**
     * Wait up to @p timeout (negative: forever) for events and handle them;
     * returns false on timeout without events.
     */
    bool run_once(std::chrono::milliseconds timeout = std::chrono::milliseconds(-1));
    /**
     * Make the run_once() in progress, or else the next one, return true at
     * once.  The only method safe to call from any thread (it writes an
     * eventfd the loop always has a read pending on); wake-ups before the
     * loop waits are not lost, several may merge into one.
     */
    void wake();
    /** Syscall and completion counters since construction. */
    Counters counters() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace hc
