// SPDX-License-Identifier: MIT
// hc1-bench-guest: what an application receives from the card, in the guest,
// through each way of consuming tokens.
//
//   hc1-bench-guest throughput --path mmap|read|uring --sessions N [--rounds R]
//                              [--warmup W]
//   hc1-bench-guest ttft [--runs N] [--prompt-tokens 16]
//   hc1-bench-guest calls --path read|wait --sessions N [--rounds R]
//
// throughput: every session generates from BOS to the end of the context
// (as `hc1-engine bench` does), R rounds; the figures are over the whole run.
// Before the clock starts, every session runs W (default 1) untimed
// generations and the consumer threads are started and parked, so the
// figures are the steady state an application streaming tokens sees, not
// the first touch of its ring pages, its card context or thread creation.
//   mmap   libhc Session::next(): tokens read from the mapped ring, WAIT
//          ioctl only when caught up; one thread per session
//   read   libhc's session, GENERATE then read() on its fd until 0 (libhc
//          itself has no read() consumer); one thread per session
//   uring  libhc EventLoop: uring_cmd GENERATE + WAIT, all sessions on one
//          thread
// calls: the driver's own cost per system call, without the engine: every
// session holds a finished generation (untimed) and one thread per session
// makes the calls of a streaming consumer that are not waiting for tokens:
//   read   read() of one token at a time until the generation's end (0)
//   wait   HC1_IOCTL_WAIT for tokens already there (returns at once), as
//          many times as the generation has tokens
// R rounds (read: each on a new generation); figures: calls per second of
// all sessions together and each call's latency.  Every session's calls
// went through one device-wide mutex before the SRCU guard
// (docs/performance.md).
// Syscalls are counted by wrapping ioctl() and read() in this program (libhc
// calls them through libc) plus the EventLoop's own io_uring_enter counter;
// interrupts are the /proc/interrupts delta of the hc1 vectors.
// Output: one JSON object on stdout.
#include "bench_stats.hpp"

#include <hc/hc.hpp>

#include <linux/hc1.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <latch>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

std::atomic<uint64_t> g_ioctls{0};
std::atomic<uint64_t> g_reads{0};

} // namespace

// libhc reaches the driver through libc's ioctl(); this definition takes
// precedence over libc's, counts the call and makes the system call itself.
extern "C" int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void* arg = va_arg(ap, void*);
    va_end(ap);
    g_ioctls.fetch_add(1, std::memory_order_relaxed);
    return static_cast<int>(syscall(SYS_ioctl, fd, request, arg));
}

namespace {

using hc1bench::Clock;
using hc1bench::ms_between;
using hc1bench::percentile;
using Json = nlohmann::ordered_json;

// Sum of every CPU's count on the lines of /proc/interrupts naming hc1.
uint64_t hc1_interrupts() {
    std::ifstream f("/proc/interrupts");
    uint64_t total = 0;
    for (std::string line; std::getline(f, line);) {
        if (line.find("hc1") == std::string::npos)
            continue;
        std::istringstream in(line.substr(line.find(':') + 1));
        for (std::string word; in >> word;) {
            if (word.find_first_not_of("0123456789") != std::string::npos)
                break;
            total += std::stoull(word);
        }
    }
    return total;
}

uint64_t syscalls_now() {
    return g_ioctls.load() + g_reads.load();
}

struct Args {
    std::string mode, path = "mmap";
    uint32_t sessions = 1, rounds = 4, runs = 40, prompt_tokens = 16, max_tokens = 0, warmup = 1;

    Args(int argc, char** argv) {
        if (argc < 2)
            throw std::invalid_argument("usage: hc1-bench-guest throughput|ttft|calls [options]");
        mode = argv[1];
        for (int i = 2; i < argc; i++) {
            std::string a = argv[i];
            if (i + 1 >= argc)
                throw std::invalid_argument(a + " needs a value");
            std::string v = argv[++i];
            auto num = [&] {
                unsigned long n = std::stoul(v);
                if (n == 0 || n > 100000)
                    throw std::invalid_argument(a + " " + v + " is out of range");
                return static_cast<uint32_t>(n);
            };
            if (a == "--path")
                path = v;
            else if (a == "--sessions")
                sessions = num();
            else if (a == "--rounds")
                rounds = num();
            else if (a == "--runs")
                runs = num();
            else if (a == "--prompt-tokens")
                prompt_tokens = num();
            else if (a == "--max-tokens")
                max_tokens = num();
            else if (a == "--warmup")
                warmup = v == "0" ? 0 : num();
            else
                throw std::invalid_argument("unknown option " + a);
        }
        if (mode == "calls") {
            if (path != "read" && path != "wait")
                throw std::invalid_argument("calls: --path must be read or wait");
        } else if (path != "mmap" && path != "read" && path != "uring") {
            throw std::invalid_argument("--path must be mmap, read or uring");
        }
    }
};

// Arrival times of one session's tokens across all its rounds.
struct Arrivals {
    std::vector<double> gaps_ms;
    // Per generation: start to its first token, its last token to the end
    // being known (the engine idles in both unless other sessions run).
    std::vector<double> head_ms, tail_ms;
    Clock::time_point started;
    uint64_t tokens = 0;
    Clock::time_point last;
    bool have_last = false;

    void add(size_t n, Clock::time_point now) {
        if (n && !have_last)
            head_ms.push_back(ms_between(started, now));
        for (size_t k = 0; k < n; k++) {
            if (have_last)
                gaps_ms.push_back(ms_between(last, now));
            last = now;
            have_last = true;
        }
        tokens += n;
    }
    void new_generation() {
        have_last = false;
        started = Clock::now();
    }
    void ended() {
        const auto now = Clock::now();
        if (have_last)
            tail_ms.push_back(ms_between(last, now));
    }
};

void run_mmap(hc::Session& s, const std::vector<uint32_t>& prompt, const hc::GenerateOptions& o,
              uint32_t rounds, Arrivals& arr) {
    for (uint32_t r = 0; r < rounds; r++) {
        arr.new_generation();
        s.start(prompt, o);
        while (s.next())
            arr.add(1, Clock::now());
        arr.ended();
    }
}

void run_read(hc::Session& s, const std::vector<uint32_t>& prompt, const hc::GenerateOptions& o,
              uint32_t rounds, Arrivals& arr) {
    std::vector<uint32_t> buf(s.ring_capacity());
    for (uint32_t r = 0; r < rounds; r++) {
        arr.new_generation();
        hc1_generate g{};
        g.size = sizeof(g);
        g.flags = o.ignore_eos ? HC1_GENERATE_IGNORE_EOS : 0;
        g.prompt = reinterpret_cast<uintptr_t>(prompt.data());
        g.n_prompt = static_cast<uint32_t>(prompt.size());
        g.max_tokens = o.max_tokens;
        if (ioctl(s.fd(), HC1_IOCTL_GENERATE, &g) < 0)
            throw std::runtime_error(std::string("GENERATE: ") + std::strerror(errno));
        for (;;) {
            g_reads.fetch_add(1, std::memory_order_relaxed);
            ssize_t n = ::read(s.fd(), buf.data(), buf.size() * sizeof(uint32_t));
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                throw std::runtime_error(std::string("read: ") + std::strerror(errno));
            if (n == 0) {
                arr.ended();
                break;
            }
            arr.add(static_cast<size_t>(n) / sizeof(uint32_t), Clock::now());
        }
    }
}

// Every session @rounds generations through one EventLoop, each started
// again from its completion callback.
void run_uring(hc::EventLoop& loop, std::vector<hc::Session>& sessions,
               const std::vector<uint32_t>& prompt, const hc::GenerateOptions& o, uint32_t rounds,
               std::vector<Arrivals>& arr) {
    std::vector<uint32_t> left(sessions.size(), rounds);
    std::function<void(uint32_t)> submit = [&](uint32_t i) {
        arr[i].new_generation();
        loop.submit(sessions[i], prompt, o,
                    {[&arr, i](std::span<const uint32_t> t) { arr[i].add(t.size(), Clock::now()); },
                     [&, i](const hc::Result&, const hc::Error* e) {
                         if (e)
                             throw std::runtime_error(e->what());
                         arr[i].ended();
                         if (--left[i])
                             submit(i);
                     }});
    };
    for (uint32_t i = 0; i < sessions.size(); i++)
        submit(i);
    loop.run();
}

int throughput(const Args& a) {
    hc::Card card = hc::Card::open(0);
    std::vector<hc::Session> sessions;
    for (uint32_t i = 0; i < a.sessions; i++)
        sessions.push_back(card.session());
    const uint32_t ctx_len = card.info().context_len;
    const std::vector<uint32_t> prompt{card.tokenizer().bos_id()};
    hc::GenerateOptions o;
    o.ignore_eos = true;
    // As hc1-engine bench: from BOS to the end of the context.
    o.max_tokens = std::min(a.max_tokens ? a.max_tokens : ctx_len, sessions[0].ring_capacity());
    std::vector<Arrivals> arr(a.sessions);
    // Growing these while tokens stream would time the bench's own page
    // faults (slow under TCG) and make the reader fall behind the card.
    for (Arrivals& x : arr) {
        x.gaps_ms.reserve(size_t(a.rounds) * o.max_tokens);
        x.head_ms.reserve(a.rounds);
        x.tail_ms.reserve(a.rounds);
    }
    uint64_t enters = 0;
    // The uring path's ring is set up (and warmed) before the clock too.
    std::optional<hc::EventLoop> loop;
    if (a.path == "uring") {
        loop.emplace();
        std::vector<Arrivals> scratch(a.sessions);
        if (a.warmup)
            run_uring(*loop, sessions, prompt, o, a.warmup, scratch);
    } else {
        for (uint32_t w = 0; w < a.warmup; w++)
            for (hc::Session& s : sessions) {
                s.start(prompt, o);
                while (s.next()) {
                }
            }
    }

    // The card is idle now: nothing moves these counters until @go.
    const uint64_t busy0 = card.stats().busy_ns;
    const uint64_t irq0 = hc1_interrupts(), sys0 = syscalls_now();
    // Consumer threads (mmap, read) are started before the clock and wait
    // for it at @go.
    std::latch ready(a.path == "uring" ? 0 : a.sessions), go(1);
    std::vector<std::thread> threads;
    std::vector<std::string> errors(a.sessions);
    if (a.path != "uring")
        for (uint32_t i = 0; i < a.sessions; i++)
            threads.emplace_back([&, i] {
                ready.count_down();
                go.wait();
                try {
                    if (a.path == "mmap")
                        run_mmap(sessions[i], prompt, o, a.rounds, arr[i]);
                    else
                        run_read(sessions[i], prompt, o, a.rounds, arr[i]);
                } catch (const std::exception& e) {
                    errors[i] = e.what();
                }
            });
    ready.wait();
    const auto t0 = Clock::now();
    go.count_down();
    if (a.path == "uring") {
        const hc::EventLoop::Counters before = loop->counters();
        run_uring(*loop, sessions, prompt, o, a.rounds, arr);
        enters = loop->counters().enters - before.enters + loop->counters().other_syscalls -
                 before.other_syscalls;
    } else {
        for (auto& t : threads)
            t.join();
        for (auto& e : errors)
            if (!e.empty())
                throw std::runtime_error(e);
    }
    const double wall_ms = ms_between(t0, Clock::now());
    const uint64_t irqs = hc1_interrupts() - irq0;
    const uint64_t sys = syscalls_now() - sys0 + enters;
    // The card's engine time over the wall time: how much of the run the
    // engine was computing rather than waiting for the host (less sensitive
    // to other load on the machine than a tokens/s ratio across runs).
    const double busy_ms = (card.stats().busy_ns - busy0) / 1e6;

    uint64_t tokens = 0;
    std::vector<double> gaps, heads, tails;
    for (auto& x : arr) {
        tokens += x.tokens;
        gaps.insert(gaps.end(), x.gaps_ms.begin(), x.gaps_ms.end());
        heads.insert(heads.end(), x.head_ms.begin(), x.head_ms.end());
        tails.insert(tails.end(), x.tail_ms.begin(), x.tail_ms.end());
    }
    const double tps = tokens / (wall_ms / 1000);
    Json j = {{"mode", "throughput"},
              {"path", a.path},
              {"sessions", a.sessions},
              {"rounds", a.rounds},
              {"warmup", a.warmup},
              {"tokens_per_generation", o.max_tokens},
              {"tokens", tokens},
              {"wall_ms", wall_ms},
              {"tokens_per_s", tps},
              {"inter_token_p50_ms", percentile(gaps, 50)},
              {"inter_token_p99_ms", percentile(gaps, 99)},
              {"syscalls", sys},
              {"syscalls_per_token", tokens ? double(sys) / tokens : 0},
              {"interrupts", irqs},
              {"interrupts_per_token", tokens ? double(irqs) / tokens : 0},
              {"engine_busy_ms", busy_ms},
              {"engine_utilisation", busy_ms / wall_ms},
              {"first_token_p50_ms", percentile(heads, 50)},
              {"last_token_to_end_p50_ms", percentile(tails, 50)}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

// Time from start() to the first token in the application, for a prompt of
// exactly @prompt_tokens tokens (BOS + the start of a story), on the mmap path.
int ttft(const Args& a) {
    hc::Card card = hc::Card::open(0);
    hc::Session s = card.session();
    std::vector<uint32_t> prompt = card.tokenizer().encode(
        "Once upon a time, there was a little girl named Lily. She loved to play outside in "
        "the park with her friends and her big red ball every day.");
    if (prompt.size() < a.prompt_tokens)
        throw std::runtime_error("the text encodes to fewer tokens than --prompt-tokens");
    prompt.resize(a.prompt_tokens);
    hc::GenerateOptions o;
    o.ignore_eos = true;
    o.max_tokens = 2;
    std::vector<double> ttfts;
    for (uint32_t r = 0; r < a.runs; r++) {
        const auto t0 = Clock::now();
        s.start(prompt, o);
        if (!s.next())
            throw std::runtime_error("no token");
        ttfts.push_back(ms_between(t0, Clock::now()));
        while (s.next()) {
        }
    }
    Json j = {{"mode", "ttft"},
              {"path", "mmap"},
              {"prompt_tokens", a.prompt_tokens},
              {"runs", a.runs},
              {"ttft_p50_ms", percentile(ttfts, 50)},
              {"ttft_p99_ms", percentile(ttfts, 99)},
              {"ttft_min_ms", *std::min_element(ttfts.begin(), ttfts.end())}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

// One session's timed calls of calls(): latencies in microseconds.
void run_calls(const std::string& path, hc::Session& s, uint32_t n, std::vector<double>& us) {
    if (path == "read") {
        uint32_t token;
        for (;;) {
            const auto t0 = Clock::now();
            ssize_t r = ::read(s.fd(), &token, sizeof(token));
            us.push_back(ms_between(t0, Clock::now()) * 1000);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                throw std::runtime_error(std::string("read: ") + std::strerror(errno));
            if (r == 0)
                return;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        hc1_wait w{};
        w.size = sizeof(w);
        w.min_produced = n - 1;
        const auto t0 = Clock::now();
        int r = ioctl(s.fd(), HC1_IOCTL_WAIT, &w);
        us.push_back(ms_between(t0, Clock::now()) * 1000);
        if (r < 0)
            throw std::runtime_error(std::string("WAIT: ") + std::strerror(errno));
        if (w.produced != n || w.state != HC1_GENERATION_DONE)
            throw std::runtime_error("WAIT: the finished generation changed");
    }
}

int calls(const Args& a) {
    hc::Card card = hc::Card::open(0);
    std::vector<hc::Session> sessions;
    for (uint32_t i = 0; i < a.sessions; i++)
        sessions.push_back(card.session());
    const std::vector<uint32_t> prompt{card.tokenizer().bos_id()};
    hc::GenerateOptions o;
    o.ignore_eos = true;
    o.max_tokens = std::min(a.max_tokens ? a.max_tokens : card.info().context_len,
                            sessions[0].ring_capacity());
    std::vector<std::vector<double>> us(a.sessions);
    for (auto& v : us)
        v.reserve(size_t(a.rounds) * (o.max_tokens + 1));
    double wall_ms = 0;
    for (uint32_t r = 0; r < a.rounds; r++) {
        // The generations end before the clock starts: the engine is idle.
        if (r == 0 || a.path == "read")
            for (hc::Session& s : sessions) {
                s.start(prompt, o);
                uint32_t n = 0;
                while (s.next())
                    n++;
                if (n != o.max_tokens)
                    throw std::runtime_error("a generation ended early");
            }
        std::latch ready(a.sessions), go(1);
        std::vector<std::thread> threads;
        std::vector<std::string> errors(a.sessions);
        for (uint32_t i = 0; i < a.sessions; i++)
            threads.emplace_back([&, i] {
                ready.count_down();
                go.wait();
                try {
                    run_calls(a.path, sessions[i], o.max_tokens, us[i]);
                } catch (const std::exception& e) {
                    errors[i] = e.what();
                }
            });
        ready.wait();
        const auto t0 = Clock::now();
        go.count_down();
        for (auto& t : threads)
            t.join();
        wall_ms += ms_between(t0, Clock::now());
        for (auto& e : errors)
            if (!e.empty())
                throw std::runtime_error(e);
    }
    std::vector<double> all;
    for (auto& v : us)
        all.insert(all.end(), v.begin(), v.end());
    Json j = {{"mode", "calls"},
              {"path", a.path},
              {"sessions", a.sessions},
              {"rounds", a.rounds},
              {"tokens_per_generation", o.max_tokens},
              {"calls", all.size()},
              {"wall_ms", wall_ms},
              {"calls_per_s", all.size() / (wall_ms / 1000)},
              {"call_p50_us", percentile(all, 50)},
              {"call_p99_us", percentile(all, 99)},
              {"call_max_us", all.empty() ? 0 : *std::max_element(all.begin(), all.end())}};
    std::printf("%s\n", j.dump().c_str());
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        Args a(argc, argv);
        if (a.mode == "throughput")
            return throughput(a);
        if (a.mode == "ttft")
            return ttft(a);
        if (a.mode == "calls")
            return calls(a);
        throw std::invalid_argument("unknown mode " + a.mode);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hc1-bench-guest: %s\n", e.what());
        return 1;
    }
}
