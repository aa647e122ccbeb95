// SPDX-License-Identifier: MIT
// hc1-engine bench: throughput of the engine through its real scheduling
// path (hc1e::Engine, its threads and callbacks), next to the scalar
// reference forward pass in the same process.
//
//   decode     1 context, BOS then greedy positions 0 .. context_len-1
//   prefill    one prompt of context_len-1 tokens, time to its first token
//   aggregate  N contexts decoding together, total tokens / wall time
//
// --cpus LIST runs all of it on those CPUs (make bench gives the engine alone
// the CPU the card's engine gets in the card and guest runs).
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <sched.h>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

#include "args.hpp"
#include "commands.hpp"
#include "hc1e/engine.hpp"
#include "hc1e/kernels.hpp"
#include "hc1e/sampler.hpp"
#include "reference.hpp"

#include <nlohmann/json.hpp>

namespace hc1e::cli {

namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::ordered_json;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds of the whole process: on a shared machine, tokens per CPU
// second measure the engine, tokens per wall second the machine's load too.
double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Rate {
    double wall = 0; // tokens per second
    double cpu = 0;  // tokens per CPU second
};

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

// Runs @n_ctx generations of @prompt at once; @count says whether the rate
// counts generated tokens or prompt tokens.
Rate run_batch(Engine& e, uint32_t n_ctx, const std::vector<uint32_t>& prompt, uint32_t max_tokens,
               bool count_prompt = false) {
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
    const double c0 = cpu_seconds();
    e.set_stall(false);
    tally.wait();
    const double wall = seconds_since(t0), cpu = cpu_seconds() - c0;
    const double n = count_prompt ? double(prompt.size()) * n_ctx : double(tally.tokens);
    return {n / wall, n / cpu};
}

// Every matrix of the model (what one decode step multiplies), @n_vec
// vectors at a time, repeated for ~0.2 CPU seconds; GMAC per CPU second.
double matmul_gmacs(const Engine& e, uint32_t n_vec) {
    const BurnedModel& m = e.model();
    const Kernels& k = e.kernels();
    std::vector<const Matrix*> mats{&m.classifier()};
    for (const auto& l : m.layers())
        for (const Matrix* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2, &l.w3})
            mats.push_back(w);
    size_t max_rows = 0, max_cols = 0;
    uint64_t macs_per_pass = 0;
    for (const Matrix* w : mats) {
        max_rows = std::max<size_t>(max_rows, w->rows);
        max_cols = std::max<size_t>(max_cols, w->cols_padded);
        macs_per_pass += uint64_t(w->rows) * w->cols * n_vec;
    }
    // The engine's Transformer holds the same packed copies.
    std::vector<PackedMatrix> packed;
    for (const Matrix* w : mats)
        packed.emplace_back(k, *w);
    std::vector<float> x(max_cols * n_vec, 0.5f), out(max_rows * n_vec);
    std::vector<int8_t> xq(max_cols * n_vec);
    std::vector<float> xs(max_cols * n_vec);
    uint64_t passes = 0;
    const double c0 = cpu_seconds();
    double spent = 0;
    while (spent < 0.2) {
        for (size_t i = 0; i < mats.size(); i++) {
            const Matrix* w = mats[i];
            if (w->f32) {
                k.matmul_f32(*w, packed[i].get(), x.data(), w->cols, n_vec, out.data(), w->rows);
            } else {
                for (uint32_t v = 0; v < n_vec; v++)
                    k.quantize(x.data() + v * w->cols, w->cols, w->cols_padded, w->group,
                               xq.data() + v * w->cols_padded, xs.data() + v * w->groups_per_row());
                k.matmul_q8(*w, packed[i].get(), xq.data(), xs.data(), n_vec, out.data(), w->rows);
            }
        }
        passes++;
        spent = cpu_seconds() - c0;
    }
    return double(macs_per_pass) * double(passes) / spent / 1e9;
}

struct FormatResult {
    std::string format;
    KvFormat kv = KvFormat::Fp32;
    std::string kernels;
    uint64_t weight_bytes = 0;
    std::string sha256;
    Rate decode, prefill;
    // Matmul kernel throughput on the whole model's matrices, in MACs per
    // CPU second, for 1 and 8 vectors: whether batching can save anything.
    double gmacs_1 = 0, gmacs_8 = 0;
    std::vector<std::pair<uint32_t, Rate>> aggregate;
    uint64_t rss_kib = 0;
};

FormatResult bench_format(const SourceModel& src, WeightFormat fmt,
                          const std::vector<uint32_t>& contexts, uint32_t positions,
                          uint32_t threads, KvFormat kv_format, const EngineOptions& sched) {
    const ModelConfig& c = src.cfg;
    EngineOptions opts;
    opts.format = fmt;
    opts.n_threads = threads;
    opts.kv_format = kv_format;
    opts.decode_group = sched.decode_group;
    opts.group_steps = sched.group_steps;
    opts.n_contexts = 1;
    for (uint32_t n : contexts)
        opts.n_contexts = std::max(opts.n_contexts, n);
    Engine e(src, opts);
    for (uint32_t i = 0; i < opts.n_contexts; i++)
        e.ctx_create(i);

    FormatResult r;
    r.format = fmt == WeightFormat::Int8 ? "int8" : "fp32";
    r.kv = kv_format;
    r.kernels = e.kernels().name;
    r.weight_bytes = e.model().image().size();
    r.sha256 = Sha256::hex(e.model().sha256());

    const std::vector<uint32_t> bos{src.vocab.bos_id};
    r.decode = run_batch(e, 1, bos, positions);

    // Prefill: a prompt filling the context but for its one generated token.
    std::vector<uint32_t> prompt(positions);
    Rng rng(1);
    prompt[0] = src.vocab.bos_id;
    for (size_t i = 1; i < prompt.size(); i++)
        prompt[i] = 3 + rng.next() % (c.vocab_size - 3);
    r.prefill = run_batch(e, 1, prompt, 1, true);

    for (uint32_t n : contexts)
        r.aggregate.push_back({n, run_batch(e, n, bos, positions)});
    r.gmacs_1 = matmul_gmacs(e, 1);
    r.gmacs_8 = matmul_gmacs(e, 8);
    r.rss_kib = rss_kib();
    return r;
}

Rate bench_reference(const SourceModel& src, uint32_t positions) {
    ReferenceModel ref(src);
    uint32_t token = src.vocab.bos_id;
    const auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    for (uint32_t pos = 0; pos < positions; pos++)
        token = argmax(ref.forward(token, pos));
    return {positions / seconds_since(t0), positions / (cpu_seconds() - c0)};
}

} // namespace

int cmd_bench(int argc, char** argv) {
    try {
        Args args(argc, argv,
                  {"model", "tokenizer", "contexts", "positions", "threads", "kv-cache", "cpus",
                   "decode-group", "group-steps"},
                  {"json"});
        // Pinning this thread first makes every engine thread and the
        // reference inherit the CPUs.
        if (const std::string cpus = args.str("cpus"); !cpus.empty()) {
            cpu_set_t set;
            CPU_ZERO(&set);
            for (uint32_t c : parse_cpu_list(cpus))
                CPU_SET(c, &set);
            if (sched_setaffinity(0, sizeof(set), &set) != 0)
                throw std::runtime_error("--cpus " + cpus + ": " + std::strerror(errno));
        }
        const SourceModel src = load_model(args.required("model"), args.str("tokenizer"));
        const uint32_t positions = static_cast<uint32_t>(
            std::min<uint64_t>(args.u64("positions", src.cfg.context_len), src.cfg.context_len));
        if (positions < 2)
            throw std::invalid_argument("--positions must be at least 2");
        const uint32_t threads = static_cast<uint32_t>(args.u64("threads", 1));
        EngineOptions sched; // the engine's defaults unless asked otherwise
        sched.decode_group = static_cast<uint32_t>(args.u64("decode-group", sched.decode_group));
        sched.group_steps = static_cast<uint32_t>(args.u64("group-steps", sched.group_steps));
        if (sched.decode_group < 1 || sched.group_steps < 1)
            throw std::invalid_argument("--decode-group and --group-steps must be at least 1");
        // Every KV format in one run by default: their ratios are against
        // the f32 cache's single context measured minutes apart, not hours.
        std::vector<KvFormat> kv_formats;
        std::stringstream kv_list(args.str("kv-cache", "f32,f16,int8"));
        for (std::string item; std::getline(kv_list, item, ',');) {
            KvFormat f;
            if (!parse_kv_format(item, f))
                throw std::invalid_argument("--kv-cache: " + item +
                                            " is not a KV format (f32, f16, int8)");
            kv_formats.push_back(f);
        }
        if (kv_formats.empty())
            throw std::invalid_argument("--kv-cache: no KV format given");
        std::vector<uint32_t> contexts;
        std::stringstream list(args.str("contexts", "1,2,4,8,16,32,64"));
        for (std::string item; std::getline(list, item, ',');) {
            const unsigned long n = std::stoul(item);
            if (n < 1 || n > 4096)
                throw std::invalid_argument("--contexts: " + item + " is out of range");
            contexts.push_back(static_cast<uint32_t>(n));
        }

        const Rate reference = bench_reference(src, positions);
        std::vector<FormatResult> results;
        for (WeightFormat f : {WeightFormat::Fp32, WeightFormat::Int8})
            for (KvFormat kv : kv_formats)
                results.push_back(bench_format(src, f, contexts, positions, threads, kv, sched));
        // The f32 cache's single-context rate with the same weights, the
        // yardstick of the many-context targets (null when not measured).
        auto f32_single = [&](const FormatResult& r) -> const Rate* {
            for (const FormatResult& o : results)
                if (o.format == r.format && o.kv == KvFormat::Fp32)
                    return &o.decode;
            return nullptr;
        };
        std::string kv_names;
        for (KvFormat kv : kv_formats)
            kv_names += (kv_names.empty() ? "" : ",") + std::string(kv_format_name(kv));

        if (args.has("json")) {
            auto rate = [](const Rate& r) { return Json{{"wall", r.wall}, {"cpu", r.cpu}}; };
            Json formats = Json::array();
            for (const FormatResult& r : results) {
                Json aggregate = Json::object(), vs_f32 = Json::object();
                const Rate* base = f32_single(r);
                for (auto [n, rt] : r.aggregate) {
                    aggregate[std::to_string(n)] = rate(rt);
                    if (base)
                        vs_f32[std::to_string(n)] = rt.cpu / base->cpu;
                }
                formats.push_back({{"format", r.format},
                                   {"kv_cache", kv_format_name(r.kv)},
                                   {"kv_bytes_per_context", KvCache::bytes(src.cfg, r.kv)},
                                   {"kernels", r.kernels},
                                   {"weight_bytes", r.weight_bytes},
                                   {"sha256", r.sha256},
                                   {"decode", rate(r.decode)},
                                   {"prefill", rate(r.prefill)},
                                   {"decode_vs_reference_cpu", r.decode.cpu / reference.cpu},
                                   {"matmul_gmac_per_cpu_s", {{"1", r.gmacs_1}, {"8", r.gmacs_8}}},
                                   {"aggregate", aggregate},
                                   {"aggregate_vs_f32_cache_1_context_cpu", vs_f32},
                                   {"rss_kib", r.rss_kib}});
            }
            Json doc = {{"model", src.name},
                        {"params", src.n_params()},
                        {"positions", positions},
                        {"threads", threads},
                        {"kv_caches", kv_names},
                        {"decode_group", sched.decode_group},
                        {"group_steps", sched.group_steps},
                        {"unit", "tokens per second (wall) and per CPU second (cpu)"},
                        {"reference_decode", rate(reference)},
                        {"formats", formats},
                        {"peak_rss_kib", peak_rss_kib()}};
            std::printf("%s\n", doc.dump(2).c_str());
            return 0;
        }

        std::printf("model %s: %llu parameters, %u positions, %u engine thread(s), KV caches %s,\n"
                    "decode groups of %u contexts for %u steps\n"
                    "rates in tokens per wall-clock second and per CPU second; aggregates also\n"
                    "against 1 context with the same weights and the f32 cache (tok/cpu-s)\n\n",
                    src.name.c_str(), static_cast<unsigned long long>(src.n_params()), positions,
                    threads, kv_names.c_str(), sched.decode_group, sched.group_steps);
        std::printf("%-34s %10s %10s\n", "", "tok/s", "tok/cpu-s");
        std::printf("%-34s %10.0f %10.0f\n", "reference decode (scalar fp32)", reference.wall,
                    reference.cpu);
        for (const FormatResult& r : results) {
            std::printf("\n%s weights, %s KV cache (%llu bytes a context): %s kernels, %llu weight "
                        "bytes, sha256 %s\n",
                        r.format.c_str(), kv_format_name(r.kv),
                        static_cast<unsigned long long>(KvCache::bytes(src.cfg, r.kv)),
                        r.kernels.c_str(), static_cast<unsigned long long>(r.weight_bytes),
                        r.sha256.c_str());
            const Rate* base = f32_single(r);
            std::printf("%-34s %10.0f %10.0f   %.2fx reference\n", "  decode, 1 context",
                        r.decode.wall, r.decode.cpu, r.decode.cpu / reference.cpu);
            std::printf("%-34s %10.0f %10.0f\n", "  prefill", r.prefill.wall, r.prefill.cpu);
            for (auto [n, rate] : r.aggregate) {
                char label[64];
                std::snprintf(label, sizeof label, "  aggregate, %u contexts", n);
                std::printf("%-34s %10.0f %10.0f   %.2fx 1 context", label, rate.wall, rate.cpu,
                            rate.cpu / r.decode.cpu);
                if (base)
                    std::printf(", %.2fx f32 cache's", rate.cpu / base->cpu);
                std::printf("\n");
            }
            std::printf("  matmul kernels on the model's matrices: %.1f GMAC/cpu-s for 1 vector, "
                        "%.1f for 8\n",
                        r.gmacs_1, r.gmacs_8);
            std::printf("%-34s %10llu KiB\n", "  RSS after the runs",
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
