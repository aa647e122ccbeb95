// SPDX-License-Identifier: MIT
// hc1-engine bench: throughput of the engine through its real scheduling
// path (hc1e::Engine, its threads and callbacks), next to the scalar
// reference forward pass in the same process.
//
//   decode     1 context, BOS then greedy positions 0 .. context_len-1
//   prefill    one prompt of context_len-1 tokens, time to its first token
//   aggregate  N contexts decoding together, total tokens / wall time
#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "args.hpp"
#include "commands.hpp"
#include "hc1e/engine.hpp"
#include "hc1e/sampler.hpp"
#include "reference.hpp"

namespace hc1e::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

uint64_t rss_kib() {
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) != 2)
        resident = 0;
    std::fclose(f);
    return resident * (static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) / 1024);
}

uint64_t peak_rss_kib() {
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<uint64_t>(ru.ru_maxrss);
}

// Counts tokens of all contexts and waits until every generation is done.
struct Tally {
    std::mutex mu;
    std::condition_variable cv;
    uint64_t tokens = 0;
    uint32_t pending = 0;

    hc1_engine_callbacks callbacks() {
        hc1_engine_callbacks cb{};
        cb.opaque = this;
        cb.token = [](void* o, uint32_t, uint32_t) {
            auto* t = static_cast<Tally*>(o);
            std::lock_guard lk(t->mu);
            t->tokens++;
        };
        cb.done = [](void* o, uint32_t, int, uint32_t, uint32_t) {
            auto* t = static_cast<Tally*>(o);
            std::lock_guard lk(t->mu);
            t->pending--;
            t->cv.notify_all();
        };
        return cb;
    }
    void wait() {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return pending == 0; });
    }
};

// Runs @n_ctx generations of @prompt at once; returns tokens generated and
// the wall time.
std::pair<uint64_t, double> run_batch(Engine& e, uint32_t n_ctx,
                                      const std::vector<uint32_t>& prompt, uint32_t max_tokens) {
    Tally tally;
    tally.pending = n_ctx;
    hc1_engine_request req{};
    req.prompt = prompt.data();
    req.n_prompt = static_cast<uint32_t>(prompt.size());
    req.max_tokens = max_tokens;
    req.ignore_eos = 1;
    const hc1_engine_callbacks cb = tally.callbacks();
    // Stall while submitting so every context starts in the same step.
    e.set_stall(true);
    for (uint32_t c = 0; c < n_ctx; c++)
        if (e.generate(c, req, cb) != 0)
            throw std::runtime_error("generate failed on context " + std::to_string(c));
    const auto t0 = Clock::now();
    e.set_stall(false);
    tally.wait();
    return {tally.tokens, seconds_since(t0)};
}

struct FormatResult {
    std::string format;
    std::string kernels;
    uint64_t weight_bytes = 0;
    std::string sha256;
    double decode = 0, prefill = 0;
    std::vector<std::pair<uint32_t, double>> aggregate;
    uint64_t rss_kib = 0;
};

FormatResult bench_format(const SourceModel& src, WeightFormat fmt,
                          const std::vector<uint32_t>& contexts, uint32_t positions,
                          uint32_t threads) {
    const ModelConfig& c = src.cfg;
    EngineOptions opts;
    opts.format = fmt;
    opts.n_threads = threads;
    opts.n_contexts = 1;
    for (uint32_t n : contexts)
        opts.n_contexts = std::max(opts.n_contexts, n);
    Engine e(src, opts);
    for (uint32_t i = 0; i < opts.n_contexts; i++)
        e.ctx_create(i);

    FormatResult r;
    r.format = fmt == WeightFormat::Int8 ? "int8" : "fp32";
    r.kernels = e.kernels().name;
    r.weight_bytes = e.model().image().size();
    r.sha256 = Sha256::hex(e.model().sha256());

    const std::vector<uint32_t> bos{src.vocab.bos_id};
    auto [tokens, secs] = run_batch(e, 1, bos, positions);
    r.decode = tokens / secs;

    // Prefill: a prompt filling the context but for its one generated token.
    std::vector<uint32_t> prompt(positions);
    Rng rng(1);
    prompt[0] = src.vocab.bos_id;
    for (size_t i = 1; i < prompt.size(); i++)
        prompt[i] = 3 + rng.next() % (c.vocab_size - 3);
    auto [ptokens, psecs] = run_batch(e, 1, prompt, 1);
    (void)ptokens;
    r.prefill = prompt.size() / psecs;

    for (uint32_t n : contexts) {
        auto [t, s] = run_batch(e, n, bos, positions);
        r.aggregate.push_back({n, t / s});
    }
    r.rss_kib = rss_kib();
    return r;
}

double bench_reference(const SourceModel& src, uint32_t positions) {
    ReferenceModel ref(src);
    uint32_t token = src.vocab.bos_id;
    const auto t0 = Clock::now();
    for (uint32_t pos = 0; pos < positions; pos++)
        token = argmax(ref.forward(token, pos));
    return positions / seconds_since(t0);
}

} // namespace

int cmd_bench(int argc, char** argv) {
    try {
        Args args(argc, argv, {"model", "tokenizer", "contexts", "positions", "threads"}, {"json"});
        const SourceModel src = load_model(args.required("model"), args.str("tokenizer"));
        const uint32_t positions = static_cast<uint32_t>(
            std::min<uint64_t>(args.u64("positions", src.cfg.context_len), src.cfg.context_len));
        if (positions < 2)
            throw std::invalid_argument("--positions must be at least 2");
        const uint32_t threads = static_cast<uint32_t>(args.u64("threads", 1));
        std::vector<uint32_t> contexts;
        std::stringstream list(args.str("contexts", "1,2,4,8,16,32,64"));
        for (std::string item; std::getline(list, item, ',');) {
            const unsigned long n = std::stoul(item);
            if (n < 1 || n > 4096)
                throw std::invalid_argument("--contexts: " + item + " is out of range");
            contexts.push_back(static_cast<uint32_t>(n));
        }

        const double reference = bench_reference(src, positions);
        std::vector<FormatResult> results;
        for (WeightFormat f : {WeightFormat::Fp32, WeightFormat::Int8})
            results.push_back(bench_format(src, f, contexts, positions, threads));

        if (args.has("json")) {
            std::printf("{\n  \"model\": \"%s\",\n  \"params\": %llu,\n  \"positions\": %u,\n"
                        "  \"threads\": %u,\n  \"reference_decode_tok_s\": %.0f,\n"
                        "  \"formats\": [\n",
                        src.name.c_str(), static_cast<unsigned long long>(src.n_params()),
                        positions, threads, reference);
            for (size_t i = 0; i < results.size(); i++) {
                const FormatResult& r = results[i];
                std::printf("    {\"format\": \"%s\", \"kernels\": \"%s\", \"weight_bytes\": "
                            "%llu, \"sha256\": \"%s\",\n     \"decode_tok_s\": %.0f, "
                            "\"prefill_tok_s\": %.0f, \"decode_vs_reference\": %.2f,\n"
                            "     \"aggregate_tok_s\": {",
                            r.format.c_str(), r.kernels.c_str(),
                            static_cast<unsigned long long>(r.weight_bytes), r.sha256.c_str(),
                            r.decode, r.prefill, r.decode / reference);
                for (size_t j = 0; j < r.aggregate.size(); j++)
                    std::printf("%s\"%u\": %.0f", j ? ", " : "", r.aggregate[j].first,
                                r.aggregate[j].second);
                std::printf("},\n     \"rss_kib\": %llu}%s\n",
                            static_cast<unsigned long long>(r.rss_kib),
                            i + 1 < results.size() ? "," : "");
            }
            std::printf("  ],\n  \"peak_rss_kib\": %llu\n}\n",
                        static_cast<unsigned long long>(peak_rss_kib()));
            return 0;
        }

        std::printf("model %s: %llu parameters, %u positions, %u engine thread(s)\n",
                    src.name.c_str(), static_cast<unsigned long long>(src.n_params()), positions,
                    threads);
        std::printf("reference (scalar fp32, llama2.c-style)  decode %10.0f tok/s\n", reference);
        for (const FormatResult& r : results) {
            std::printf("\n%s (%s kernels, %llu weight bytes, sha256 %.16s...)\n", r.format.c_str(),
                        r.kernels.c_str(), static_cast<unsigned long long>(r.weight_bytes),
                        r.sha256.c_str());
            std::printf("  decode, 1 context   %10.0f tok/s  (%.2fx reference)\n", r.decode,
                        r.decode / reference);
            std::printf("  prefill             %10.0f tok/s\n", r.prefill);
            for (auto [n, tps] : r.aggregate)
                std::printf("  aggregate, %2u ctx   %10.0f tok/s  (%.2fx 1 context)\n", n, tps,
                            tps / r.decode);
            std::printf("  RSS after run       %10llu KiB\n",
                        static_cast<unsigned long long>(r.rss_kib));
        }
        std::printf("\npeak RSS %llu KiB\n", static_cast<unsigned long long>(peak_rss_kib()));
        return 0;
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "hc1-engine bench: %s\n", ex.what());
        return 2;
    }
}

} // namespace hc1e::cli
