// SPDX-License-Identifier: MIT
// hc1-bench-serve: streamed tokens through hc1-serve against the same
// generations through libhc, in the same guest (make bench, step 6).
//
// No load generator Debian packages reads server-sent events token by token
// (wrk, ab and h2load time whole responses), so this one does, on
// cpp-httplib's client: one thread and one connection per stream, as a chat
// client holds them.  The libhc mode runs the same prompts with the same
// options through hc::Pool and one hc::EventLoop, which is what hc1-serve
// does inside: the ratio of the two is the server's cost.
#include "bench_stats.hpp"

#include <hc/hc.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using hc1bench::Clock;
using hc1bench::ms_between;
using hc1bench::percentile;
using Json = nlohmann::ordered_json;

void usage(FILE* out) {
    std::fputs(
        "usage: hc1-bench-serve http|libhc [options]\n"
        "  http   stream completions through hc1-serve (POST /v1/completions, stream)\n"
        "  libhc  the same generations through hc::Pool and one hc::EventLoop\n"
        "options:\n"
        "  --url URL        the server (http; default http://127.0.0.1:8080)\n"
        "  --streams N      concurrent generations (default 1)\n"
        "  --rounds R       generations per stream, each sent when the last ended\n"
        "                   (default 3)\n"
        "  --tokens T       max_tokens of each (default 256)\n"
        "  --model NAME     model to ask for (default stories260K)\n"
        "  --stagger-ms MS  start stream i at i*MS after the first (http; default 0)\n"
        "  --no-keep-alive  a new connection for every request (http)\n"
        "Prints one JSON object: tokens/s over all generations, time to first token p50/p99,\n"
        "errors, and (http) how many streams started out of the order they were sent.\n",
        out);
}

struct Options {
    std::string mode, url = "http://127.0.0.1:8080", model = "stories260K";
    std::string prompt = "Once upon a time";
    unsigned streams = 1, rounds = 3, tokens = 256, stagger_ms = 0;
    bool keep_alive = true;
};

unsigned number(const char* arg, const char* opt) {
    char* end = nullptr;
    unsigned long v = std::strtoul(arg, &end, 10);
    if (end == arg || *end || v > 1u << 20)
        throw std::invalid_argument(std::string(opt) + ": expected a number, got '" + arg + "'");
    return static_cast<unsigned>(v);
}

Options parse(int argc, char** argv) {
    if (argc < 2)
        throw std::invalid_argument("give a mode: http or libhc");
    Options o;
    o.mode = argv[1];
    if (o.mode == "--help" || o.mode == "-h") {
        usage(stdout);
        std::exit(0);
    }
    if (o.mode != "http" && o.mode != "libhc")
        throw std::invalid_argument("unknown mode '" + o.mode + "'");
    for (int i = 2; i < argc; i++) {
        std::string a = argv[i];
        if (a == "--no-keep-alive") {
            o.keep_alive = false;
            continue;
        }
        if (i + 1 >= argc)
            throw std::invalid_argument(a + " needs a value");
        const char* v = argv[++i];
        if (a == "--url")
            o.url = v;
        else if (a == "--model")
            o.model = v;
        else if (a == "--streams")
            o.streams = std::max(1u, number(v, "--streams"));
        else if (a == "--rounds")
            o.rounds = std::max(1u, number(v, "--rounds"));
        else if (a == "--tokens")
            o.tokens = std::max(1u, number(v, "--tokens"));
        else if (a == "--stagger-ms")
            o.stagger_ms = number(v, "--stagger-ms");
        else
            throw std::invalid_argument("unknown option " + a);
    }
    return o;
}

/** What one generation saw, in ms since its request was sent. */
struct Stream {
    Clock::time_point sent;
    std::optional<double> first_ms; // first token
    uint32_t tokens = 0;
    uint32_t batches = 0; // SSE chunks with tokens, or on_tokens calls
    std::string error;
};

// One streamed completion: tokens counted from the x_hc1 extension every
// chunk carries (OpenAI's chunks carry text only, and a token may be no
// text at all, as the first byte of a split UTF-8 character).
// One client per stream, kept across rounds with its connection open, as
// the OpenAI libraries' HTTP agents keep theirs.
std::unique_ptr<httplib::Client> make_client(const Options& o) {
    auto cli = std::make_unique<httplib::Client>(o.url);
    cli->set_read_timeout(std::chrono::seconds(600));
    cli->set_connection_timeout(std::chrono::seconds(30));
    cli->set_keep_alive(o.keep_alive);
    // As curl and Node's HTTP clients do by default: the request goes out
    // whole, not its body one delayed ACK after its headers.
    cli->set_tcp_nodelay(true);
    return cli;
}

void http_stream(httplib::Client& cli, const Options& o, Stream& s) {
    httplib::Request req;
    req.method = "POST";
    req.path = "/v1/completions";
    req.headers = {{"Content-Type", "application/json"}};
    req.body = Json{
        {"model", o.model},
        {"prompt", o.prompt},
        {"max_tokens", o.tokens},
        {"temperature", 0},
        {"stream",
         true}}.dump();
    std::string pending;
    req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
        pending.append(data, len);
        for (size_t end; (end = pending.find("\n\n")) != std::string::npos;
             pending.erase(0, end + 2)) {
            std::string_view event(pending.data(), end);
            if (!event.starts_with("data: ") || event == "data: [DONE]")
                continue; // ": waiting" while queued
            Json j = Json::parse(event.substr(6), nullptr, false);
            if (j.is_discarded() || j.contains("error")) {
                s.error = j.is_discarded() ? "a chunk that is not JSON" : j["error"].dump();
                return false;
            }
            uint32_t n = j["x_hc1"]["completion_tokens"].get<uint32_t>();
            if (n > 0 && !s.first_ms)
                s.first_ms = ms_between(s.sent, Clock::now());
            s.batches += n > s.tokens;
            s.tokens = n;
        }
        return true;
    };
    s.sent = Clock::now();
    httplib::Result res = cli.send(req);
    if (!res)
        s.error = s.error.empty() ? "HTTP: " + httplib::to_string(res.error()) + " after " +
                                        std::to_string(s.tokens) + " tokens and " +
                                        std::to_string(ms_between(s.sent, Clock::now())) + " ms"
                                  : s.error;
    else if (res->status != 200)
        s.error = "status " + std::to_string(res->status) + ": " + res->body;
}

// Closed loop, as wrk drives a server: each stream sends its next request
// as soon as its last one ended, @c rounds in all, with no barrier between
// streams.  (Rounds that waited for their slowest stream left the others'
// connections idle, and an idle connection costs the server a thread that
// polls it every 10 ms: cpp-httplib's keep-alive wait, which under TCG
// took half the guest's CPU at 64 streams.)
double run_http(const Options& o, std::vector<std::unique_ptr<httplib::Client>>& clients,
                std::vector<Stream>& streams) {
    std::vector<std::thread> threads;
    Clock::time_point t0 = Clock::now();
    for (unsigned i = 0; i < o.streams; i++)
        threads.emplace_back([&, i] {
            std::this_thread::sleep_until(t0 + std::chrono::milliseconds(i * o.stagger_ms));
            for (unsigned k = 0; k < o.rounds; k++)
                http_stream(*clients[i], o, streams[i * o.rounds + k]);
        });
    for (std::thread& t : threads)
        t.join();
    return ms_between(t0, Clock::now());
}

struct Libhc {
    hc::Pool pool = hc::Pool::open();
    hc::EventLoop loop;
    std::vector<hc::Session> sessions;
    std::vector<uint32_t> prompt;
    hc::GenerateOptions opts;

    explicit Libhc(const Options& o) {
        // hc1-serve keeps its sessions open for a while after a run
        // (--keep-idle): wait for their contexts, as a second client would.
        Clock::time_point give_up = Clock::now() + std::chrono::seconds(30);
        while (sessions.size() < o.streams) {
            try {
                sessions.push_back(pool.session(o.model));
            } catch (const hc::Error& e) {
                if (e.code() != EBUSY || Clock::now() > give_up)
                    throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        prompt = sessions[0].tokenizer().encode(o.prompt, true);
        opts.max_tokens = o.tokens;
        opts.temperature = 0;
    }

    // The same closed loop as run_http: a stream's next generation starts
    // as soon as its last one ended.
    double run(std::vector<Stream>& streams, unsigned rounds) {
        std::vector<unsigned> sent(sessions.size(), 0);
        std::vector<bool> busy(sessions.size(), false);
        auto start = [&](size_t i) {
            Stream& s = streams[i * rounds + sent[i]++];
            busy[i] = true;
            s.sent = Clock::now();
            loop.submit(sessions[i], prompt, opts,
                        {[&s](std::span<const uint32_t> t) {
                             if (!s.first_ms)
                                 s.first_ms = ms_between(s.sent, Clock::now());
                             s.tokens += static_cast<uint32_t>(t.size());
                             s.batches++;
                         },
                         [&s, &busy, i](const hc::Result&, const hc::Error* e) {
                             if (e)
                                 s.error = e->what();
                             busy[i] = false;
                         }});
        };
        Clock::time_point t0 = Clock::now();
        for (size_t i = 0; i < sessions.size(); i++)
            start(i);
        while (loop.pending() > 0) {
            loop.run_once();
            for (size_t i = 0; i < sessions.size(); i++)
                if (!busy[i] && sent[i] < rounds)
                    start(i);
        }
        return ms_between(t0, Clock::now());
    }
};

// Streams sent later that saw their first token more than 10 ms before an
// earlier one: with a queue, what FIFO order rules out.
unsigned inversions(const std::vector<Stream>& streams) {
    unsigned n = 0;
    for (size_t i = 0; i < streams.size(); i++)
        for (size_t j = i + 1; j < streams.size(); j++)
            if (streams[i].first_ms && streams[j].first_ms &&
                ms_between(streams[0].sent, streams[j].sent) + *streams[j].first_ms + 10 <
                    ms_between(streams[0].sent, streams[i].sent) + *streams[i].first_ms)
                n++;
    return n;
}

int run(const Options& o) {
    std::optional<Libhc> libhc;
    std::vector<std::unique_ptr<httplib::Client>> clients;
    if (o.mode == "libhc")
        libhc.emplace(o);
    else
        for (unsigned i = 0; i < o.streams; i++)
            clients.push_back(make_client(o));
    uint64_t tokens = 0, batches = 0;
    unsigned errors = 0, order = 0;
    std::string first_error;
    std::vector<double> ttft;
    // Stream i's requests are streams[i * rounds ...]; each stream's first
    // went out in the order of i.
    std::vector<Stream> streams(size_t(o.streams) * o.rounds);
    double wall_ms = libhc ? libhc->run(streams, o.rounds) : run_http(o, clients, streams);
    for (const Stream& s : streams) {
        tokens += s.tokens;
        batches += s.batches;
        if (s.first_ms)
            ttft.push_back(*s.first_ms);
        if (!s.error.empty() && errors++ == 0)
            first_error = s.error;
    }
    if (!libhc) {
        std::vector<Stream> first;
        for (unsigned i = 0; i < o.streams; i++)
            first.push_back(streams[size_t(i) * o.rounds]);
        order = inversions(first);
    }
    Json j = {{"mode", o.mode},
              {"streams", o.streams},
              {"rounds", o.rounds},
              {"max_tokens", o.tokens},
              {"tokens", tokens},
              {"wall_ms", wall_ms},
              {"tokens_per_s", tokens / (wall_ms / 1000)},
              {"tokens_per_batch", batches ? double(tokens) / batches : 0},
              {"ttft_p50_ms", percentile(ttft, 50)},
              {"ttft_p99_ms", percentile(ttft, 99)},
              {"errors", errors}};
    if (!libhc)
        j["order_inversions"] = order;
    if (errors)
        j["first_error"] = first_error;
    std::printf("%s\n", j.dump().c_str());
    return errors ? 1 : 0;
}

} // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "hc1-bench-serve: %s\n", e.what());
        return 2;
    }
}
