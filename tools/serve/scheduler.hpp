// SPDX-License-Identifier: MIT
/**
 * @file scheduler.hpp
 * @brief Every generation of the server on one libhc event loop: placement
 *        on the cards' contexts, the FIFO queue, cancellation.
 */
#pragma once

#include "metrics.hpp"
#include "openai.hpp"

#include <hc/hc.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace hc1serve {

using Clock = std::chrono::steady_clock;

/**
 * Generation - one request's generation, shared by the HTTP thread that
 * answers the request and the scheduler's thread that drives the card.
 * The scheduler posts events; the HTTP thread takes them with next().
 */
class Generation {
  public:
    struct Event {
        enum class Kind {
            Queued,  ///< every context of the model is busy: waiting in line
            Started, ///< placed on card @c card
            Tokens,  ///< a batch the card delivered
            Done,    ///< the generation ended: @c result
            Failed,  ///< refused or failed: @c error
        } kind;
        std::vector<uint32_t> tokens{};
        std::string card{};
        hc::Result result{};
        std::optional<ApiError> error{};
    };

    Generation(std::string model, std::vector<uint32_t> prompt, hc::GenerateOptions options)
        : model(std::move(model)), prompt(std::move(prompt)), options(std::move(options)) {}

    /** The next event, waiting up to @p timeout; nullopt on timeout. */
    std::optional<Event> next(std::chrono::milliseconds timeout);
    /** Scheduler side: hand an event to the HTTP thread. */
    void post(Event event);

    const std::string model; ///< selector: name or SHA-256
    const std::vector<uint32_t> prompt;
    const hc::GenerateOptions options;
    const Clock::time_point arrived = Clock::now();

  private:
    std::mutex lock_; // guards events_
    std::condition_variable ready_;
    std::deque<Event> events_;
};

/**
 * Scheduler - owns the card pool and the event loop, on a thread of its own.
 *
 * A generation holds a session (one card context) from its start to its
 * end.  When no context of its model is free it waits in FIFO order behind
 * earlier requests for that model, up to max_queue requests in all; one
 * more is refused (503).  A context freed by a generation that ends goes to
 * the oldest waiting request at once; contexts freed by other processes are
 * seen within 100 ms.
 *
 * A session whose generation ended well is kept open for keep_idle and
 * handed to the next request for the same model: opening one costs the
 * card an admin command and the driver a ring allocation (10 ms a session
 * in the TCG guest), paid on this thread, where 64 streams starting at
 * once queued behind each other's.  Kept sessions hold their contexts from
 * other processes for that long; a failed generation drops them all, as
 * the card may have been reset.  The pool is re-scanned every 2 s, so a card that is
 * reset, removed or added is taken up without a restart.
 */
class Scheduler {
  public:
    struct Options {
        size_t max_queue = 256;
        std::chrono::milliseconds queue_timeout{std::chrono::minutes(5)};
        /** How long a session whose generation ended stays open for the next request. */
        std::chrono::milliseconds keep_idle{2000};
    };

    Scheduler(Options options, Metrics& metrics);
    ~Scheduler();
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    /** Queue @p gen for placement; its first event says what became of it. */
    void submit(std::shared_ptr<Generation> gen);
    /** Stop @p gen: the client went away or a stop string ended it. */
    void cancel(std::shared_ptr<Generation> gen);

    /** The cards, or null while none has been found yet. */
    std::shared_ptr<hc::Pool> pool() const;
    /** Per-card gauges for /metrics and /health. */
    std::vector<CardGauge> gauges() const;
    /** Requests waiting for a context. */
    size_t queued() const { return queued_.load(); }

  private:
    struct Running {
        hc::Session session;
        std::shared_ptr<Generation> gen;
        hc::EventLoop::Id id = 0;
        std::string card;
        bool reusable = false; ///< ended without an error: the session can be kept
    };
    struct Idle {
        hc::Session session;
        std::string model; ///< the selector it was opened for
        Clock::time_point since;
    };
    struct Command {
        bool cancel = false;
        std::shared_ptr<Generation> gen;
    };

    void run();
    void take_commands();
    void admit(std::shared_ptr<Generation> gen);
    void stop(const std::shared_ptr<Generation>& gen);
    void dispatch();
    void start(std::shared_ptr<Generation> gen, hc::Session session);
    std::optional<hc::Session> take_idle(const std::string& model);
    void close_idle(Clock::time_point older_than);
    void close_finished();
    void expire_queue();
    void housekeeping();
    void fail_all(const ApiError& why);

    const Options options_;
    Metrics& metrics_;

    // The HTTP threads' side: commands in, published state out.
    mutable std::mutex lock_; // guards inbox_, pool_, sessions_
    std::vector<Command> inbox_;
    std::shared_ptr<hc::Pool> pool_;
    std::unordered_map<std::string, uint32_t> sessions_; // card index -> sessions held
    std::atomic<size_t> queued_{0};
    std::atomic<bool> stopping_{false};

    // The scheduler thread's own: touched by no other thread.
    hc::EventLoop loop_;
    std::list<std::shared_ptr<Generation>> queue_;
    std::unordered_map<Generation*, std::unique_ptr<Running>> running_;
    std::vector<Generation*> finished_;
    std::vector<Idle> idle_; // oldest first
    Clock::time_point next_housekeeping_{};
    std::thread thread_; // last: starts once everything above exists
};

/** The HTTP status and message for a failed generation's errno. */
ApiError generation_error(const hc::Error& e);

} // namespace hc1serve
