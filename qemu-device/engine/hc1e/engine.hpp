// SPDX-License-Identifier: MIT
// The engine behind the C API: contexts (KV-cache slots), generations and
// the threads that run them.
//
// Scheduling: each of n_threads workers repeatedly claims a share of the
// runnable contexts (at most decode_group), runs forward steps over all of
// them as one batch (a prompt chunk for a context still prefilling, one
// token for a context decoding), samples and reports after each, and
// releases them after group_steps steps, or sooner when one of them ends,
// is cancelled or the engine stalls.  A context is claimed by
// at most one worker at a time, so its callbacks arrive in order.
//
// Locking: mu_ guards every Context field except kv/logits/rng, which only
// the worker holding the claim touches, and the generation fields, which
// generate() writes only while the context is neither busy nor claimed.
// Callbacks run without mu_ held.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "burn.hpp"
#include "hc1_engine.h"
#include "sampler.hpp"
#include "transformer.hpp"

namespace hc1e {

struct EngineOptions {
    std::string model_path;
    std::string tokenizer_path; // llama2.c checkpoints only
    WeightFormat format = WeightFormat::Fp32;
    uint32_t group_size = 32;
    uint32_t n_contexts = 1;
    uint32_t n_threads = 1;
    uint32_t max_batch_rows = 64; // rows per forward step per worker
    uint32_t prefill_chunk = 32;  // prompt tokens per context per step
    // Many contexts: a worker claims at most decode_group of them and runs up
    // to group_steps consecutive steps over the group before releasing it.
    // One step over all 64 streams every context's KV cache from L3 or
    // memory once per token (64 f32 caches are 42 MB); a group's caches
    // stay in the core's caches from one step to the next, and eight rows
    // already make the matmuls compute-bound, so the weights are streamed
    // once per group step at no loss.
    uint32_t decode_group = 8;
    uint32_t group_steps = 16;
    KvFormat kv_format = KvFormat::Fp32;
    // CPUs the engine threads may run on (all of them share the set); empty
    // = wherever the scheduler puts them.  Giving the engine CPUs of its own
    // is how an emulated card gets what the silicon has: compute that
    // nothing else on the host competes for.
    std::vector<uint32_t> cpus;
};

// "1", "0,2-3": a CPU list as taskset(1) and cpuset(7) write it; "" is
// empty.  Throws Error naming what is wrong.
std::vector<uint32_t> parse_cpu_list(std::string_view list);

class Engine {
  public:
    // Loads, burns and hashes; throws Error naming the problem.
    static std::unique_ptr<Engine> open(const EngineOptions& opts);
    Engine(SourceModel source, const EngineOptions& opts);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    const BurnedModel& model() const { return model_; }
    const Vocab& vocab() const { return vocab_; }
    const std::string& name() const { return name_; }
    const Kernels& kernels() const { return transformer_.kernels(); }
    uint32_t n_contexts() const { return static_cast<uint32_t>(contexts_.size()); }
    KvFormat kv_format() const { return opts_.kv_format; }

    // These return 0 or -HC1_ENGINE_E*.
    int ctx_create(uint32_t ctx);
    int ctx_destroy(uint32_t ctx);
    int generate(uint32_t ctx, const hc1_engine_request& req, const hc1_engine_callbacks& cb);
    int cancel(uint32_t ctx);
    void reset();
    void set_stall(bool stall);
    // Test hook: each of a group's steps takes at least @step (0: off).
    void set_step_time(std::chrono::microseconds step);
    uint64_t busy_ns() const { return busy_ns_.load(std::memory_order_relaxed); }

  private:
    struct Context {
        bool created = false;
        bool busy = false;    // a generation is registered and not yet finished
        bool claimed = false; // a worker owns it (computing, or in its done callback)
        bool cancel = false;
        uint32_t pos = 0;         // positions in the KV cache
        bool has_pending = false; // last sampled token, not yet fed
        uint32_t pending = 0;
        std::vector<uint32_t> queue; // tokens to feed
        size_t queued = 0;           // of which fed
        uint32_t n_prompt = 0;
        uint32_t n_generated = 0;
        hc1_engine_request req{};
        hc1_engine_callbacks cb{};
        Rng rng;
        std::unique_ptr<KvCache> kv;
        std::vector<float> logits;
    };
    struct Finished {
        Context* ctx;
        uint32_t index;
        int reason;
    };

    // Everything a worker needs, allocated before it starts so that the
    // generation path never allocates (and never throws).
    struct WorkerState {
        WorkerState(const Transformer& tf, const EngineOptions& opts, uint32_t vocab_size);
        Transformer::Workspace ws;
        Sampler sampler;
        std::vector<Context*> batch;
        std::vector<Row> rows;
        std::vector<Finished> finished;
    };

    void worker(WorkerState& st);
    // Cancels every generation (done callbacks run) and joins the workers.
    void stop_workers();
    // Builds rows for the batch, runs them, samples and reports.  Called
    // without mu_.  Appends contexts whose generation ended to st.finished.
    void step(WorkerState& st);
    // Reports done for @f and releases its claim; takes mu_ itself.
    void finish(const Finished& f);
    int check_ctx(uint32_t ctx) const;
    uint32_t index_of(const Context* c) const {
        return static_cast<uint32_t>(c - contexts_.data());
    }
    void wait_idle(std::unique_lock<std::mutex>& lk, Context& c);

    std::string name_;
    Vocab vocab_;
    BurnedModel model_;
    Transformer transformer_;
    EngineOptions opts_;

    mutable std::mutex mu_;
    std::condition_variable work_cv_; // workers: something became runnable
    std::condition_variable idle_cv_; // a context stopped being busy/claimed
    std::vector<Context> contexts_;
    size_t next_ = 0; // round-robin start for claims
    bool stall_ = false;
    std::chrono::microseconds step_time_{0};
    bool stopping_ = false;
    std::atomic<uint64_t> busy_ns_{0};
    std::vector<WorkerState> worker_states_;
    std::vector<std::thread> workers_;
};

} // namespace hc1e
