// SPDX-License-Identifier: MIT
#include "engine.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <system_error>

#include <pthread.h>
#include <sched.h>

#include "error.hpp"

namespace hc1e {

namespace {

constexpr uint64_t kMaxKvBytesPerContext = 16ull << 30;
constexpr uint32_t kMaxThreads = 256;
constexpr uint32_t kMaxContexts = 4096;

// Where the engine threads may run, as sched_setaffinity(2) wants it.
cpu_set_t cpu_set_of(const std::vector<uint32_t>& cpus) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (uint32_t c : cpus)
        CPU_SET(c, &set);
    return set;
}

} // namespace

std::vector<uint32_t> parse_cpu_list(std::string_view list) {
    std::vector<uint32_t> cpus;
    auto fail = [&](const std::string& why) -> Error {
        return Error("CPU list \"" + std::string(list) + "\": " + why);
    };
    auto number = [&](std::string_view digits) {
        if (digits.empty() || digits.size() > 4 ||
            digits.find_first_not_of("0123456789") != std::string_view::npos)
            throw fail("\"" + std::string(digits) + "\" is not a CPU number");
        const uint32_t n = static_cast<uint32_t>(std::stoul(std::string(digits)));
        if (n >= CPU_SETSIZE)
            throw fail("CPU " + std::to_string(n) + " is past the last one (" +
                       std::to_string(CPU_SETSIZE - 1) + ")");
        return n;
    };
    while (!list.empty()) {
        const size_t comma = list.find(',');
        const std::string_view item = list.substr(0, comma);
        const size_t dash = item.find('-');
        const uint32_t first = number(item.substr(0, dash));
        const uint32_t last =
            dash == std::string_view::npos ? first : number(item.substr(dash + 1));
        if (last < first)
            throw fail("range " + std::string(item) + " runs backwards");
        for (uint32_t c = first; c <= last; c++)
            cpus.push_back(c);
        if (comma == std::string_view::npos)
            break;
        list.remove_prefix(comma + 1);
        if (list.empty())
            throw fail("it ends with a comma");
    }
    std::sort(cpus.begin(), cpus.end());
    cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
    return cpus;
}

std::unique_ptr<Engine> Engine::open(const EngineOptions& opts) {
    if (opts.n_contexts < 1 || opts.n_contexts > kMaxContexts)
        throw Error("n_contexts " + std::to_string(opts.n_contexts) + " is out of range [1, " +
                    std::to_string(kMaxContexts) + "]");
    if (opts.n_threads < 1 || opts.n_threads > kMaxThreads)
        throw Error("n_threads " + std::to_string(opts.n_threads) + " is out of range [1, " +
                    std::to_string(kMaxThreads) + "]");
    if (opts.max_batch_rows < 1 || opts.prefill_chunk < 1 || opts.decode_group < 1 ||
        opts.group_steps < 1)
        throw Error("max_batch_rows, prefill_chunk, decode_group and group_steps must be >= 1");
    return std::make_unique<Engine>(load_model(opts.model_path, opts.tokenizer_path), opts);
}

Engine::Engine(SourceModel source, const EngineOptions& opts)
    : name_(source.name), vocab_(source.vocab),
      model_(BurnedModel::burn(source, opts.format, opts.group_size)),
      transformer_(model_, hc1e::kernels()), opts_(opts), contexts_(opts.n_contexts) {
    if (KvCache::bytes(model_.config(), opts.kv_format) > kMaxKvBytesPerContext)
        throw Error("a context's KV cache would need " +
                    std::to_string(KvCache::bytes(model_.config(), opts.kv_format)) + " bytes");
    if (vocab_.bos_id >= vocab_.size() || vocab_.eos_id >= vocab_.size())
        throw Error("BOS/EOS id out of the vocabulary");
    source = SourceModel(); // the burned image is all that is kept
    worker_states_.reserve(opts.n_threads);
    for (uint32_t i = 0; i < opts.n_threads; i++)
        worker_states_.emplace_back(transformer_, opts_, model_.config().vocab_size);
    workers_.reserve(opts.n_threads);
    try {
        for (uint32_t i = 0; i < opts.n_threads; i++)
            workers_.emplace_back([this, i] { worker(worker_states_[i]); });
    } catch (const std::system_error& e) {
        const size_t started = workers_.size();
        stop_workers(); // the destructor will not run
        throw Error("cannot start engine thread " + std::to_string(started + 1) + ": " + e.what());
    }
    if (!opts.cpus.empty()) {
        const cpu_set_t set = cpu_set_of(opts.cpus);
        for (auto& t : workers_)
            if (int err = pthread_setaffinity_np(t.native_handle(), sizeof(set), &set)) {
                stop_workers();
                std::string list;
                for (uint32_t c : opts.cpus) {
                    if (!list.empty())
                        list += ',';
                    list += std::to_string(c);
                }
                throw Error("cannot run the engine threads on CPU(s) " + list + ": " +
                            std::system_category().message(err));
            }
    }
}

Engine::WorkerState::WorkerState(const Transformer& tf, const EngineOptions& opts,
                                 uint32_t vocab_size)
    : ws(tf.make_workspace(opts.max_batch_rows)), sampler(vocab_size) {
    batch.reserve(opts.n_contexts);
    rows.reserve(opts.max_batch_rows);
    finished.reserve(opts.n_contexts);
}

Engine::~Engine() {
    stop_workers();
}

void Engine::stop_workers() {
    {
        std::unique_lock lk(mu_);
        stopping_ = true;
        for (auto& c : contexts_)
            c.cancel = c.busy;
        work_cv_.notify_all();
    }
    for (auto& t : workers_)
        t.join();
    workers_.clear();
}

int Engine::check_ctx(uint32_t ctx) const {
    if (ctx >= contexts_.size() || !contexts_[ctx].created)
        return -HC1_ENGINE_ECTX;
    return 0;
}

int Engine::ctx_create(uint32_t ctx) {
    if (ctx >= contexts_.size())
        return -HC1_ENGINE_ECTX;
    // Allocate outside the lock: the cache can be large.
    std::unique_ptr<KvCache> kv;
    std::vector<float> logits;
    std::vector<uint32_t> queue; // never grows past the context
    try {
        kv = std::make_unique<KvCache>(model_.config(), opts_.kv_format);
        logits.resize(model_.config().vocab_size);
        queue.reserve(model_.config().context_len);
    } catch (const std::bad_alloc&) {
        return -HC1_ENGINE_ENOMEM;
    }
    std::lock_guard lk(mu_);
    Context& c = contexts_[ctx];
    if (c.created)
        return -HC1_ENGINE_EEXIST;
    c.created = true;
    c.pos = 0;
    c.has_pending = false;
    c.kv = std::move(kv);
    c.logits = std::move(logits);
    c.queue = std::move(queue);
    return 0;
}

void Engine::wait_idle(std::unique_lock<std::mutex>& lk, Context& c) {
    if (c.busy) {
        c.cancel = true;
        work_cv_.notify_all();
    }
    idle_cv_.wait(lk, [&] { return !c.busy && !c.claimed; });
}

int Engine::ctx_destroy(uint32_t ctx) {
    std::unique_ptr<KvCache> kv;
    {
        std::unique_lock lk(mu_);
        if (int r = check_ctx(ctx))
            return r;
        Context& c = contexts_[ctx];
        wait_idle(lk, c);
        if (!c.created) // destroyed by a concurrent call while we waited
            return -HC1_ENGINE_ECTX;
        c.created = false;
        kv = std::move(c.kv);
        c.logits = {};
    }
    return 0;
}

int Engine::generate(uint32_t ctx, const hc1_engine_request& req, const hc1_engine_callbacks& cb) {
    const ModelConfig& cfg = model_.config();
    if (req.max_tokens < 1 || req.n_stop > 8 || !(req.temperature >= 0.0f) ||
        !std::isfinite(req.temperature) || !(req.top_p >= 0.0f) || std::isnan(req.top_p) ||
        (req.n_prompt > 0 && !req.prompt))
        return -HC1_ENGINE_EINVAL;
    for (uint32_t i = 0; i < req.n_prompt; i++)
        if (req.prompt[i] >= cfg.vocab_size)
            return -HC1_ENGINE_ETOKEN;

    std::lock_guard lk(mu_);
    if (int r = check_ctx(ctx))
        return r;
    Context& c = contexts_[ctx];
    if (c.busy || c.cancel)
        return -HC1_ENGINE_EBUSY;
    const bool carry = req.keep_cache && c.has_pending;
    const uint64_t start = req.keep_cache ? c.pos : 0;
    const uint64_t feed = uint64_t(req.n_prompt) + (carry ? 1 : 0);
    if (feed == 0)
        return -HC1_ENGINE_EINVAL; // nothing to condition the first token on
    if (start + feed > cfg.context_len)
        return -HC1_ENGINE_ETOOLONG;

    // The context is neither busy nor runnable: no worker reads these now.
    // A worker may still hold the claim while in the previous done
    // callback; it touches none of this.
    c.queue.clear();
    if (carry)
        c.queue.push_back(c.pending);
    c.queue.insert(c.queue.end(), req.prompt, req.prompt + req.n_prompt);
    c.queued = 0;
    c.pos = static_cast<uint32_t>(start);
    c.has_pending = false;
    c.n_prompt = req.n_prompt;
    c.n_generated = 0;
    c.req = req;
    c.req.prompt = nullptr;
    c.cb = cb;
    c.rng = Rng(req.seed);
    c.busy = true;
    work_cv_.notify_one();
    return 0;
}

int Engine::cancel(uint32_t ctx) {
    std::lock_guard lk(mu_);
    if (int r = check_ctx(ctx))
        return r;
    Context& c = contexts_[ctx];
    if (c.busy) {
        c.cancel = true;
        work_cv_.notify_all();
    }
    return 0;
}

void Engine::reset() {
    std::unique_lock lk(mu_);
    for (auto& c : contexts_)
        if (c.busy)
            c.cancel = true;
    work_cv_.notify_all();
    idle_cv_.wait(lk, [&] {
        return std::none_of(contexts_.begin(), contexts_.end(),
                            [](const Context& c) { return c.busy || c.claimed; });
    });
    for (auto& c : contexts_) {
        c.created = false;
        c.kv.reset();
        c.logits = {};
        c.has_pending = false;
        c.pos = 0;
    }
}

void Engine::set_stall(bool stall) {
    std::lock_guard lk(mu_);
    stall_ = stall;
    work_cv_.notify_all();
}

void Engine::set_step_time(std::chrono::microseconds step) {
    std::lock_guard lk(mu_);
    step_time_ = step;
}

void Engine::finish(const Finished& f) {
    Context& c = *f.ctx;
    hc1_engine_callbacks cb;
    uint32_t n_prompt, n_generated;
    {
        std::lock_guard lk(mu_);
        cb = c.cb;
        n_prompt = c.n_prompt;
        n_generated = c.n_generated;
        c.busy = false;
        c.cancel = false;
        c.queue.clear();
        c.queued = 0;
    }
    if (cb.done)
        cb.done(cb.opaque, f.index, f.reason, n_prompt, n_generated);
    std::lock_guard lk(mu_);
    c.claimed = false;
    idle_cv_.notify_all();
    work_cv_.notify_all();
}

void Engine::worker(WorkerState& st) {
    std::vector<Context*>& batch = st.batch;
    std::vector<Finished>& finished = st.finished;
    const size_t n = contexts_.size();

    std::unique_lock lk(mu_);
    for (;;) {
        // Cancelled generations end first, stalled or not, so that reset and
        // destroy always complete.
        Context* cancelled = nullptr;
        size_t runnable = 0, active = 0;
        for (auto& c : contexts_) {
            active += c.busy;
            if (!c.busy || c.claimed)
                continue;
            if (c.cancel) {
                cancelled = &c;
                break;
            }
            runnable++;
        }
        if (cancelled) {
            cancelled->claimed = true;
            lk.unlock();
            finish({cancelled, index_of(cancelled), HC1_ENGINE_FINISH_CANCELLED});
            lk.lock();
            continue;
        }
        if (stopping_)
            break;
        if (runnable == 0 || stall_) {
            work_cv_.wait(lk);
            continue;
        }

        // Take a fair share of the runnable contexts, at most a group, round
        // robin from where the last claim ended.
        const size_t share =
            std::min<size_t>((active + opts_.n_threads - 1) / opts_.n_threads, opts_.decode_group);
        size_t budget = opts_.max_batch_rows;
        batch.clear();
        for (size_t i = 0; i < n && batch.size() < share && budget > 0; i++) {
            Context& c = contexts_[(next_ + i) % n];
            if (!c.busy || c.claimed || c.cancel)
                continue;
            const size_t want = std::min<size_t>(c.queue.size() - c.queued, opts_.prefill_chunk);
            if (want > budget && !batch.empty())
                continue;
            budget -= std::min(want, budget);
            c.claimed = true;
            batch.push_back(&c);
        }
        next_ = batch.empty() ? (next_ + 1) % n : (index_of(batch.back()) + 1) % n;
        if (runnable > batch.size())
            work_cv_.notify_one(); // another worker can take the rest
        const std::chrono::microseconds step_time = step_time_;
        lk.unlock();

        // The group's steps; its caches stay warm between them.
        finished.clear();
        const auto interrupted = [&] {
            return stall_ || stopping_ ||
                   std::any_of(batch.begin(), batch.end(),
                               [](const Context* c) { return c->cancel; });
        };
        for (uint32_t s = 1;; s++) {
            const auto t0 = std::chrono::steady_clock::now();
            step(st);
            const bool last = !finished.empty() || s >= opts_.group_steps;
            if (last && step_time.count() == 0)
                break; // the common case: no lock between steps
            lk.lock();
            // A paced step (set_step_time) waits out its time, but cancel,
            // stall and shutdown notify work_cv_ and end the wait at once.
            if (step_time.count() > 0)
                work_cv_.wait_until(lk, t0 + step_time, interrupted);
            const bool go_on = !interrupted();
            lk.unlock();
            if (last || !go_on)
                break;
        }

        lk.lock();
        for (Context* c : batch)
            if (std::none_of(finished.begin(), finished.end(),
                             [c](const Finished& f) { return f.ctx == c; }))
                c->claimed = false;
        idle_cv_.notify_all();
        lk.unlock();
        for (const Finished& f : finished)
            finish(f);
        lk.lock();
    }
}

void Engine::step(WorkerState& st) {
    std::vector<Row>& rows = st.rows;
    const auto t0 = std::chrono::steady_clock::now();
    const ModelConfig& cfg = model_.config();
    size_t budget = st.ws.max_rows();
    rows.clear();
    for (Context* c : st.batch) {
        // Every queued token fits: generate() checked the prompt and the
        // decode path below checks the position before queueing a token.
        const size_t take =
            std::min({c->queue.size() - c->queued, size_t(opts_.prefill_chunk), budget});
        budget -= take;
        for (size_t i = 0; i < take; i++) {
            const bool last = c->queued + 1 == c->queue.size();
            rows.push_back(
                {c->kv.get(), c->pos, c->queue[c->queued], last ? c->logits.data() : nullptr});
            c->pos++;
            c->queued++;
        }
    }
    if (!rows.empty())
        transformer_.forward(rows, st.ws);

    for (Context* c : st.batch) {
        if (c->queued < c->queue.size())
            continue; // still prefilling
        const SamplingParams sp{c->req.temperature, c->req.top_p, c->req.top_k};
        const uint32_t token = st.sampler.sample(c->logits, sp, c->rng);
        c->has_pending = true;
        c->pending = token;
        int reason = 0;
        if (!c->req.ignore_eos && token == vocab_.eos_id) {
            reason = HC1_ENGINE_FINISH_EOS;
        } else if (std::find(c->req.stop, c->req.stop + c->req.n_stop, token) !=
                   c->req.stop + c->req.n_stop) {
            // The card delivers the stop token (include/hc1/hw.h), EOS not.
            c->n_generated++;
            if (c->cb.token)
                c->cb.token(c->cb.opaque, index_of(c), token);
            reason = HC1_ENGINE_FINISH_STOP;
        } else {
            c->n_generated++;
            if (c->cb.token)
                c->cb.token(c->cb.opaque, index_of(c), token);
            if (c->n_generated >= c->req.max_tokens)
                reason = HC1_ENGINE_FINISH_LENGTH;
            else if (c->pos >= cfg.context_len)
                reason = HC1_ENGINE_FINISH_CONTEXT;
            else
                c->queue.push_back(token);
        }
        if (reason)
            st.finished.push_back({c, index_of(c), reason});
    }
    const auto t1 = std::chrono::steady_clock::now();
    busy_ns_.fetch_add(static_cast<uint64_t>(
                           std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()),
                       std::memory_order_relaxed);
}

} // namespace hc1e
