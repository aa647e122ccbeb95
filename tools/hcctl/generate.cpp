// SPDX-License-Identifier: MIT
// hcctl run, chat and bench: generation from the command line.
#include "hcctl.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <unistd.h>
#include <utility>

namespace hcctl {

namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

// Sampling options shared by run, chat and bench; --stop values that are
// numbers are token ids, anything else is a string matched in the text.
hc::GenerateOptions sampling(const Args& args, const hc::Card& card, uint32_t default_max,
                             std::vector<std::string>& stop_strings, bool stop_at_bos = true) {
    hc::GenerateOptions o;
    o.max_tokens = static_cast<uint32_t>(args.get_uint("max-tokens", default_max));
    o.temperature = static_cast<float>(args.get_double("temperature", 0.0));
    o.top_k = static_cast<uint32_t>(args.get_uint("top-k", 0));
    o.top_p = static_cast<float>(args.get_double("top-p", 0.0));
    o.seed = args.get_uint("seed", 0);
    o.ignore_eos = args.has("ignore-eos");
    o.timeout = std::chrono::milliseconds(args.get_uint("timeout", 0));
    if (o.top_p > 1.0f)
        throw UsageError("--top-p must be in [0, 1]");
    for (const std::string& s : args.all("stop")) {
        if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
            uint64_t id = std::stoull(s);
            if (id >= card.info().vocab_size)
                throw UsageError("--stop " + s + ": no such token (vocabulary has " +
                                 std::to_string(card.info().vocab_size) + ")");
            o.stop_tokens.push_back(static_cast<uint32_t>(id));
        } else if (!s.empty()) {
            stop_strings.push_back(s);
        }
    }
    // A generated BOS starts a new document (stories260K separates its
    // stories so): end there like llama2.c does, unless told to run on.
    if (stop_at_bos && !o.ignore_eos && !args.has("no-bos-stop") &&
        o.stop_tokens.size() < card.info().max_stop)
        o.stop_tokens.push_back(card.info().bos_id);
    if (o.stop_tokens.size() > card.info().max_stop)
        throw UsageError("at most " + std::to_string(card.info().max_stop) + " stop tokens");
    uint32_t ring = 1u << card.info().ring_shift;
    if (o.max_tokens > ring)
        throw UsageError("--max-tokens " + std::to_string(o.max_tokens) + " exceeds the ring of " +
                         std::to_string(ring) + " tokens");
    return o;
}

struct Turn {
    std::string text;
    hc::Result result;
    bool stopped_by_string = false;
    uint32_t prompt_tokens = 0;
    uint64_t syscalls = 0;
    double ttft_ms = 0, elapsed_ms = 0, decode_ms = 0;
};

// One generation, streaming its text to @out (may be null).
Turn generate_turn(hc::Session& session, std::string_view prompt, const hc::GenerateOptions& opts,
                   const std::vector<std::string>& stop_strings, FILE* out) {
    Turn turn;
    std::vector<uint32_t> tokens = session.encode_prompt(prompt, opts);
    turn.prompt_tokens = static_cast<uint32_t>(tokens.size());
    hc::Detokenizer detok(session.tokenizer(),
                          tokens.empty() ? session.tokenizer().bos_id() : tokens.back());
    hc::StopMatcher stops(stop_strings);
    auto emit = [&](const std::string& s) {
        turn.text += s;
        if (out && !s.empty()) {
            std::fwrite(s.data(), 1, s.size(), out);
            std::fflush(out);
        }
    };
    uint64_t syscalls_before = session.syscalls();
    auto t0 = Clock::now();
    Clock::time_point first, last;
    uint32_t n = 0;
    turn.result = session.generate(tokens, opts, [&](uint32_t t) {
        last = Clock::now();
        if (n++ == 0)
            first = last;
        emit(stops.push(detok.push(t)));
        return !stops.stopped();
    });
    if (!stops.stopped())
        emit(stops.push(detok.finish()) + stops.finish());
    turn.stopped_by_string = stops.stopped();
    turn.syscalls = session.syscalls() - syscalls_before;
    turn.elapsed_ms = ms_between(t0, n ? last : Clock::now());
    turn.ttft_ms = n ? ms_between(t0, first) : 0;
    turn.decode_ms = n > 1 ? ms_between(first, last) : 0;
    return turn;
}

void print_stats(const Turn& t) {
    double tps = t.elapsed_ms > 0 ? t.result.tokens / (t.elapsed_ms / 1000) : 0;
    double decode = t.decode_ms > 0 ? (t.result.tokens - 1) / (t.decode_ms / 1000) : 0;
    std::fprintf(stderr,
                 "\n--- %u prompt tokens, %u generated (%s%s); time to first token %.1f ms; "
                 "%.1f tokens/s overall, %.1f tokens/s after the first; %llu syscalls "
                 "(%.3f per token)\n",
                 t.prompt_tokens, t.result.tokens, hc::to_string(t.result.finish),
                 t.stopped_by_string ? ", stop string" : "", t.ttft_ms, tps, decode,
                 static_cast<unsigned long long>(t.syscalls),
                 t.result.tokens ? double(t.syscalls) / t.result.tokens : 0.0);
}

} // namespace

double percentile(std::vector<double> v, double p) {
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    // Nearest rank: the smallest value with at least p% of the samples at or below it.
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * v.size()));
    return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

int cmd_run(const Args& args) {
    if (args.positional.size() != 1)
        throw UsageError("run takes one PROMPT (quote it)");
    const std::string& prompt = args.positional[0];
    hc::Card card = open_card(args);
    std::vector<std::string> stops;
    hc::GenerateOptions opts = sampling(args, card, 0, stops);
    hc::Session session = card.session();
    if (!args.json) {
        std::fputs(prompt.c_str(), stdout);
        std::fflush(stdout);
    }
    Turn t = generate_turn(session, prompt, opts, stops, args.json ? nullptr : stdout);
    if (args.json) {
        json j;
        j["prompt"] = prompt;
        j["text"] = t.text;
        j["prompt_tokens"] = t.prompt_tokens;
        j["tokens"] = t.result.tokens;
        j["finish"] = t.stopped_by_string ? "stop" : hc::to_string(t.result.finish);
        j["ttft_ms"] = figure(t.ttft_ms);
        j["elapsed_ms"] = figure(t.elapsed_ms);
        j["tokens_per_s"] =
            figure(t.elapsed_ms > 0 ? t.result.tokens / (t.elapsed_ms / 1000) : 0.0);
        j["syscalls"] = t.syscalls;
        std::cout << dump(j) << "\n";
    } else {
        std::fputs("\n", stdout);
        if (args.has("stats"))
            print_stats(t);
    }
    return kOk;
}

int cmd_chat(const Args& args) {
    hc::Card card = open_card(args);
    std::vector<std::string> stops;
    hc::GenerateOptions opts = sampling(args, card, 128, stops);
    hc::Session session = card.session();
    bool tty = ::isatty(STDIN_FILENO);
    uint32_t used = 0; // positions of the context taken so far
    const uint32_t context = card.info().context_len;
    if (tty)
        std::fprintf(stderr, "chatting with %s on %s; end with Ctrl-D\n", card.model().name.c_str(),
                     card.path().c_str());
    std::string line;
    for (;;) {
        if (tty)
            std::fputs("> ", stdout), std::fflush(stdout);
        if (!std::getline(std::cin, line))
            break;
        if (line.empty())
            continue;
        hc::GenerateOptions turn_opts = opts;
        turn_opts.keep_context = used > 0;
        std::vector<uint32_t> prompt = session.encode_prompt(line, turn_opts);
        uint32_t need =
            static_cast<uint32_t>(prompt.size()) + (opts.max_tokens ? opts.max_tokens : 1);
        if (used > 0 && used + need > context) {
            // The conversation no longer fits: start a fresh context.
            std::fprintf(stderr, "(context full: starting over)\n");
            used = 0;
            turn_opts.keep_context = false;
        }
        Turn t = generate_turn(session, line, turn_opts, stops, stdout);
        std::fputs("\n", stdout);
        if (args.has("stats"))
            print_stats(t);
        used += t.result.prompt_tokens + t.result.tokens;
        if (t.result.finish == hc::Finish::Context)
            used = context; // forces a fresh start next turn
    }
    return kOk;
}

namespace {

// --model: @n sessions placed one after the other by hc::Pool (the least
// loaded live card of the model each time); @cards gets each card used.
void place_by_pool(const std::string& model, uint32_t n, std::vector<hc::Card>& cards,
                   std::vector<hc::Session>& sessions, std::vector<uint32_t>& card_of) {
    hc::Pool pool = hc::Pool::open();
    for (uint32_t i = 0; i < n; i++) {
        sessions.push_back(pool.session(model));
        uint32_t index = sessions.back().info().index;
        auto it = std::find_if(cards.begin(), cards.end(),
                               [&](const hc::Card& c) { return c.info().index == index; });
        if (it == cards.end()) {
            cards.push_back(hc::Card::open(hc::device_path(index)));
            it = cards.end() - 1;
        }
        card_of.push_back(static_cast<uint32_t>(it - cards.begin()));
    }
}

} // namespace

int cmd_bench(const Args& args) {
    // Every card (or the one --card names) gets the same load, or --model
    // places the sessions as a server would; all run on one event loop.
    uint32_t per_card = static_cast<uint32_t>(args.get_uint("sessions", 4));
    uint32_t max_tokens = static_cast<uint32_t>(args.get_uint("tokens", 64));
    if (per_card == 0 || max_tokens == 0)
        throw UsageError("--sessions and --tokens must be > 0");
    std::vector<hc::Card> cards;
    std::vector<hc::Session> sessions;
    std::vector<uint32_t> card_of;
    if (auto model = args.get("model")) {
        if (!args.device.empty())
            throw UsageError("--model places the sessions: do not name a --card too");
        place_by_pool(*model, per_card, cards, sessions, card_of);
    } else {
        cards = open_cards(args);
        for (const hc::Card& c : cards)
            if (per_card > c.info().n_contexts)
                throw UsageError(std::to_string(per_card) + " sessions, but " + c.path() +
                                 " holds " + std::to_string(c.info().n_contexts));
        for (uint32_t c = 0; c < cards.size(); c++) {
            for (uint32_t i = 0; i < per_card; i++) {
                sessions.push_back(cards[c].session());
                card_of.push_back(c);
            }
        }
    }
    hc::Card& card = cards.front();
    std::vector<std::string> stops;
    hc::GenerateOptions opts = sampling(args, card, 0, stops, false);
    opts.max_tokens = max_tokens;
    opts.ignore_eos = true; // every session makes exactly M tokens
    for (const hc::Card& c : cards)
        if (opts.max_tokens > (1u << c.info().ring_shift))
            throw UsageError("--tokens exceeds the ring of " +
                             std::to_string(1u << c.info().ring_shift) + " on " + c.path());
    std::string prompt = args.get("prompt").value_or("Once upon a time");

    // Each card encodes the prompt with its own vocabulary.
    std::vector<std::vector<uint32_t>> encoded;
    for (const hc::Card& c : cards)
        encoded.push_back(c.tokenizer().encode(prompt));
    std::vector<std::vector<uint32_t>> prompt_of;
    for (uint32_t c : card_of)
        prompt_of.push_back(encoded[c]);
    const uint32_t n_sessions = static_cast<uint32_t>(sessions.size());
    std::vector<uint32_t>& tokens = prompt_of.front();
    auto interrupts = [&] {
        uint64_t n = 0;
        for (const hc::Card& c : cards)
            n += c.stats().interrupts;
        return n;
    };

    struct PerSession {
        Clock::time_point submitted, first, last;
        std::vector<double> gaps_ms;
        uint32_t tokens = 0;
        std::string error;
        hc::Result result;
    };
    std::vector<PerSession> per(n_sessions);
    hc::EventLoop loop;
    uint64_t irqs_before = interrupts();
    auto t0 = Clock::now();
    for (uint32_t i = 0; i < n_sessions; i++) {
        PerSession& p = per[i];
        p.submitted = Clock::now();
        loop.submit(sessions[i], prompt_of[i], opts,
                    {[&p](std::span<const uint32_t> batch) {
                         auto now = Clock::now();
                         for (size_t k = 0; k < batch.size(); k++) {
                             if (p.tokens == 0)
                                 p.first = now;
                             else
                                 p.gaps_ms.push_back(ms_between(p.last, now));
                             p.last = now;
                             p.tokens++;
                         }
                     },
                     [&p](const hc::Result& r, const hc::Error* e) {
                         p.result = r;
                         if (e)
                             p.error = e->what();
                     }});
    }
    loop.run();
    double wall_ms = ms_between(t0, Clock::now());
    hc::EventLoop::Counters c = loop.counters();

    uint64_t total = 0;
    std::vector<double> ttfts, gaps;
    int failures = 0;
    for (const PerSession& p : per) {
        total += p.tokens;
        if (p.tokens)
            ttfts.push_back(ms_between(p.submitted, p.first));
        gaps.insert(gaps.end(), p.gaps_ms.begin(), p.gaps_ms.end());
        failures += !p.error.empty();
    }
    double agg_tps = total / (wall_ms / 1000);
    uint64_t syscalls = c.enters + c.other_syscalls;
    double per_token = total ? static_cast<double>(syscalls) / total : 0;
    uint64_t irqs = interrupts() - irqs_before;

    if (args.json) {
        json j;
        j["device"] = card.path();
        j["cards"] = cards.size();
        j["placement"] = args.has("model") ? "pool" : "per-card";
        j["sessions"] = n_sessions;
        j["tokens_per_session"] = opts.max_tokens;
        j["prompt_tokens"] = tokens.size();
        j["total_tokens"] = total;
        j["wall_ms"] = figure(wall_ms);
        j["tokens_per_s"] = figure(agg_tps);
        j["ttft_p50_ms"] = figure(percentile(ttfts, 50));
        j["ttft_p99_ms"] = figure(percentile(ttfts, 99));
        j["inter_token_p50_ms"] = figure(percentile(gaps, 50));
        j["inter_token_p99_ms"] = figure(percentile(gaps, 99));
        j["syscalls"] = syscalls;
        j["syscalls_per_token"] = figure(per_token);
        j["wait_commands"] = c.waits;
        j["interrupts"] = irqs;
        j["failures"] = failures;
        json per_session = json::array();
        for (uint32_t i = 0; i < n_sessions; i++) {
            const PerSession& p = per[i];
            double span = p.tokens ? ms_between(p.submitted, p.last) : 0;
            json s;
            s["session"] = i;
            s["card"] = cards[card_of[i]].path();
            s["tokens"] = p.tokens;
            s["finish"] = hc::to_string(p.result.finish);
            s["tokens_per_s"] = figure(span > 0 ? p.tokens / (span / 1000) : 0.0);
            s["ttft_ms"] = figure(p.tokens ? ms_between(p.submitted, p.first) : 0.0);
            s["inter_token_p50_ms"] = figure(percentile(p.gaps_ms, 50));
            s["inter_token_p99_ms"] = figure(percentile(p.gaps_ms, 99));
            s["error"] = p.error.empty() ? json(nullptr) : json(p.error);
            per_session.push_back(std::move(s));
        }
        j["per_session"] = std::move(per_session);
        std::cout << dump(j) << "\n";
    } else {
        std::string where = card.path();
        for (size_t k = 1; k < cards.size(); k++)
            where += (k + 1 == cards.size() ? " and " : ", ") + cards[k].path();
        std::printf("%s: %u sessions x %u tokens%s, prompt of %zu tokens, one event loop\n\n",
                    where.c_str(), n_sessions, opts.max_tokens,
                    args.has("model") ? " placed by hc::Pool" : "", tokens.size());
        std::printf("%7s %-10s %7s %10s %9s %11s %11s %s\n", "session", "card", "tokens",
                    "tokens/s", "ttft ms", "itl p50 ms", "itl p99 ms", "finish");
        for (uint32_t i = 0; i < n_sessions; i++) {
            const PerSession& p = per[i];
            double span = p.tokens ? ms_between(p.submitted, p.last) : 0;
            std::printf("%7u %-10s %7u %10.1f %9.1f %11.2f %11.2f %s\n", i,
                        cards[card_of[i]].path().c_str(), p.tokens,
                        span > 0 ? p.tokens / (span / 1000) : 0.0,
                        p.tokens ? ms_between(p.submitted, p.first) : 0.0,
                        percentile(p.gaps_ms, 50), percentile(p.gaps_ms, 99),
                        p.error.empty() ? hc::to_string(p.result.finish) : p.error.c_str());
        }
        std::printf("\naggregate: %llu tokens in %.1f ms = %.1f tokens/s\n",
                    (unsigned long long)total, wall_ms, agg_tps);
        std::printf("ttft p50 %.1f ms, p99 %.1f ms; inter-token p50 %.2f ms, p99 %.2f ms\n",
                    percentile(ttfts, 50), percentile(ttfts, 99), percentile(gaps, 50),
                    percentile(gaps, 99));
        std::printf("syscalls: %llu (%llu io_uring_enter) = %.3f per token; %llu WAITs, "
                    "%llu card interrupts\n",
                    (unsigned long long)syscalls, (unsigned long long)c.enters, per_token,
                    (unsigned long long)c.waits, (unsigned long long)irqs);
    }
    return failures ? kCardError : kOk;
}

} // namespace hcctl
