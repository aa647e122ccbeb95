// SPDX-License-Identifier: MIT
#include "scheduler.hpp"

#include <algorithm>
#include <cerrno>
#include <set>

namespace hc1serve {

using namespace std::chrono_literals;

std::optional<Generation::Event> Generation::next(std::chrono::milliseconds timeout) {
    std::unique_lock g(lock_);
    if (!ready_.wait_for(g, timeout, [this] { return !events_.empty(); }))
        return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
}

void Generation::post(Event event) {
    {
        std::lock_guard g(lock_);
        // Tokens the HTTP thread has not taken yet join the batch waiting
        // for it: a writer slower than the card then sends bigger chunks
        // instead of falling behind one small chunk (and one wake-up) at a
        // time.  The thread was woken when that batch was posted.
        if (event.kind == Event::Kind::Tokens && !events_.empty() &&
            events_.back().kind == Event::Kind::Tokens) {
            std::vector<uint32_t>& batch = events_.back().tokens;
            batch.insert(batch.end(), event.tokens.begin(), event.tokens.end());
            return;
        }
        events_.push_back(std::move(event));
    }
    ready_.notify_one();
}

namespace {

Generation::Event failed(ApiError error) {
    Generation::Event e{Generation::Event::Kind::Failed};
    e.error = std::move(error);
    return e;
}

} // namespace

ApiError generation_error(const hc::Error& e) {
    switch (e.code()) {
    case ECANCELED:
        return ApiError(503, "the card was reset during the generation", {}, "card_reset");
    case EIO:
        return ApiError(503, "the card failed during the generation", {}, "card_failed");
    case ENODEV:
        return ApiError(503, "the card was removed during the generation", {}, "card_removed");
    case ETIMEDOUT:
        return ApiError(504, "the generation ran past the server's request time limit", {},
                        "timeout");
    case EINVAL:
        return ApiError(400, e.what());
    default:
        return ApiError(500, e.what());
    }
}

Scheduler::Scheduler(Options options, Metrics& metrics)
    : options_(options), metrics_(metrics), thread_([this] { run(); }) {}

Scheduler::~Scheduler() {
    stopping_ = true;
    loop_.wake();
    thread_.join();
}

void Scheduler::submit(std::shared_ptr<Generation> gen) {
    {
        std::lock_guard g(lock_);
        inbox_.push_back({false, std::move(gen)});
    }
    loop_.wake();
}

void Scheduler::cancel(std::shared_ptr<Generation> gen) {
    {
        std::lock_guard g(lock_);
        inbox_.push_back({true, std::move(gen)});
    }
    loop_.wake();
}

std::shared_ptr<hc::Pool> Scheduler::pool() const {
    std::lock_guard g(lock_);
    return pool_;
}

std::vector<CardGauge> Scheduler::gauges() const {
    std::shared_ptr<hc::Pool> pool;
    std::unordered_map<std::string, uint32_t> sessions;
    {
        std::lock_guard g(lock_);
        pool = pool_;
        sessions = sessions_;
    }
    std::vector<CardGauge> out;
    if (!pool)
        return out;
    for (const hc::Pool::CardStatus& c : pool->cards()) {
        std::string index = c.path.substr(c.path.find_last_of('/') + 1);
        out.push_back({index, c.model, c.state, sessions[index], c.n_contexts});
    }
    return out;
}

void Scheduler::run() {
    while (!stopping_) {
        // With requests waiting, look every 100 ms for contexts that other
        // processes freed; otherwise the loop sleeps until woken.
        loop_.run_once(queue_.empty() ? 1000ms : 100ms);
        close_finished();
        take_commands();
        housekeeping();
        dispatch();
    }
    fail_all(ApiError(503, "hc1-serve is shutting down", {}, "shutting_down"));
}

void Scheduler::take_commands() {
    std::vector<Command> commands;
    {
        std::lock_guard g(lock_);
        commands.swap(inbox_);
    }
    for (Command& c : commands) {
        if (c.cancel)
            stop(c.gen);
        else
            admit(std::move(c.gen));
    }
}

void Scheduler::admit(std::shared_ptr<Generation> gen) {
    if (!pool()) {
        metrics_.rejected("no_card");
        gen->post(failed(ApiError(503, "no HC1 card is live", {}, "no_card")));
        return;
    }
    queue_.push_back(gen);
    dispatch();
    if (running_.contains(gen.get()))
        return;
    if (queue_.size() > options_.max_queue) {
        queue_.pop_back();
        metrics_.rejected("queue_full");
        gen->post(
            failed(ApiError(503,
                            "every context is busy and " + std::to_string(options_.max_queue) +
                                " requests are waiting (--max-queue); retry later",
                            {}, "queue_full")));
    } else if (std::find(queue_.begin(), queue_.end(), gen) != queue_.end()) {
        gen->post({Generation::Event::Kind::Queued});
    }
    queued_ = queue_.size();
}

void Scheduler::stop(const std::shared_ptr<Generation>& gen) {
    if (auto it = running_.find(gen.get()); it != running_.end()) {
        loop_.cancel(it->second->id);
        return;
    }
    auto it = std::find(queue_.begin(), queue_.end(), gen);
    if (it != queue_.end()) {
        queue_.erase(it);
        queued_ = queue_.size();
        Generation::Event e{Generation::Event::Kind::Done};
        e.result.finish = hc::Finish::Cancelled;
        gen->post(std::move(e));
    }
}

// Place waiting requests, oldest first.  A model with no free context stops
// being tried for this pass, so a request never overtakes an older one of
// its model but does overtake those of a busier model.
void Scheduler::dispatch() {
    std::shared_ptr<hc::Pool> pool = this->pool();
    if (!pool)
        return;
    std::set<std::string> busy;
    for (auto it = queue_.begin(); it != queue_.end();) {
        std::shared_ptr<Generation> gen = *it;
        if (busy.contains(gen->model)) {
            ++it;
            continue;
        }
        std::optional<hc::Session> kept = take_idle(gen->model);
        try {
            hc::Session session = kept ? std::move(*kept) : pool->session(gen->model);
            start(gen, std::move(session));
            it = queue_.erase(it);
        } catch (const hc::Error& e) {
            // A kept session the card no longer takes: try again with a new one.
            if (kept)
                continue;
            // EBUSY: every context taken; ENOENT: no card of the model is
            // live now (resetting, or removed until it comes back).
            if (e.code() == EBUSY || e.code() == ENOENT) {
                // Contexts kept for another selector give way, one a pass.
                if (e.code() == EBUSY && !idle_.empty())
                    idle_.erase(idle_.begin());
                busy.insert(gen->model);
                ++it;
                continue;
            }
            it = queue_.erase(it);
            gen->post(failed(generation_error(e)));
        }
    }
    queued_ = queue_.size();
}

void Scheduler::start(std::shared_ptr<Generation> gen, hc::Session session) {
    std::string card = std::to_string(session.info().index);
    auto run = std::make_unique<Running>(Running{std::move(session), gen, 0, std::move(card)});
    Generation* key = gen.get();
    hc::EventLoop::Handlers handlers;
    handlers.on_tokens = [key](std::span<const uint32_t> tokens) {
        Generation::Event e{Generation::Event::Kind::Tokens};
        e.tokens.assign(tokens.begin(), tokens.end());
        key->post(std::move(e));
    };
    handlers.on_done = [this, key](const hc::Result& result, const hc::Error* error) {
        if (error) {
            key->post(failed(generation_error(*error)));
            idle_.clear(); // the card may have been reset under them too
        } else {
            if (auto it = running_.find(key); it != running_.end())
                it->second->reusable = true;
            Generation::Event e{Generation::Event::Kind::Done};
            e.result = result;
            key->post(std::move(e));
        }
        // The session is closed after the loop returns, not inside its handler.
        finished_.push_back(key);
    };
    Generation::Event started{Generation::Event::Kind::Started};
    started.card = run->card;
    run->id = loop_.submit(run->session, gen->prompt, gen->options, std::move(handlers));
    gen->post(std::move(started));
    {
        std::lock_guard g(lock_);
        sessions_[run->card]++;
    }
    running_.emplace(key, std::move(run));
}

void Scheduler::close_finished() {
    for (Generation* key : finished_) {
        auto it = running_.find(key);
        if (it == running_.end())
            continue;
        {
            std::lock_guard g(lock_);
            sessions_[it->second->card]--;
        }
        if (it->second->reusable && options_.keep_idle.count() > 0)
            idle_.push_back({std::move(it->second->session), key->model, Clock::now()});
        running_.erase(it); // closes the session unless kept: its context is free
    }
    finished_.clear();
}

// The session kept last for @p model: its ring is the likeliest in cache.
std::optional<hc::Session> Scheduler::take_idle(const std::string& model) {
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
        if (it->model != model)
            continue;
        hc::Session s = std::move(it->session);
        idle_.erase(std::next(it).base());
        return s;
    }
    return std::nullopt;
}

void Scheduler::close_idle(Clock::time_point older_than) {
    std::erase_if(idle_, [older_than](const Idle& i) { return i.since < older_than; });
}

void Scheduler::expire_queue() {
    Clock::time_point now = Clock::now();
    for (auto it = queue_.begin(); it != queue_.end();) {
        if (now - (*it)->arrived < options_.queue_timeout) {
            ++it;
            continue;
        }
        metrics_.rejected("queue_timeout");
        (*it)->post(failed(ApiError(503, "no context became free within the queue time limit", {},
                                    "queue_timeout")));
        it = queue_.erase(it);
    }
    queued_ = queue_.size();
}

// Every 2 s: find the cards (the first time, or after all were removed)
// and re-scan them, so resets, removals and new cards are seen.
void Scheduler::housekeeping() {
    Clock::time_point now = Clock::now();
    if (now < next_housekeeping_)
        return;
    next_housekeeping_ = now + 2s;
    expire_queue();
    close_idle(now - options_.keep_idle);
    std::shared_ptr<hc::Pool> pool = this->pool();
    try {
        if (pool) {
            pool->refresh();
        } else {
            auto opened = std::make_shared<hc::Pool>(hc::Pool::open());
            std::lock_guard g(lock_);
            pool_ = std::move(opened);
        }
    } catch (const hc::Error&) {
        // No card yet (ENOENT) or the driver is gone: /health says so.
    }
}

void Scheduler::fail_all(const ApiError& why) {
    for (auto& gen : queue_)
        gen->post(failed(why));
    queue_.clear();
    queued_ = 0;
    for (auto& [key, run] : running_)
        loop_.cancel(run->id);
    while (loop_.pending() > 0 && loop_.run_once(5000ms)) {
    }
    close_finished();
    idle_.clear();
}

} // namespace hc1serve
