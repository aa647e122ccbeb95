// SPDX-License-Identifier: MIT
#include "api.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <random>

namespace hc1serve {

using namespace std::chrono_literals;

namespace {

// OpenAI's default for /v1/completions; chat defaults to the rest of the context.
constexpr uint32_t kCompletionsDefaultMaxTokens = 16;

std::string random_id(const char* prefix) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    char buf[17];
    std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
    return std::string(prefix) + buf;
}

// The card whose tokenizer and limits the request uses: 404 for a model no
// card holds, 503 while the cards holding it are not live.
hc::Card model_card(hc::Pool& pool, const std::string& model) {
    try {
        return pool.card(model);
    } catch (const hc::Error& e) {
        if (e.code() != ENOENT)
            throw ApiError(500, e.what());
    }
    for (const hc::Pool::CardStatus& c : pool.cards())
        if (c.model == model || (model.size() >= 8 && c.sha256.starts_with(model)))
            throw ApiError(503,
                           "no card holding model '" + model + "' is live (state " + c.state +
                               "); retry shortly",
                           "model", "card_not_live");
    throw ApiError(404, "the model '" + model + "' is not on any card: GET /v1/models lists them",
                   "model", "model_not_found");
}

const char* finish_reason(hc::Finish f) {
    return (f == hc::Finish::Length || f == hc::Finish::Context) ? "length" : "stop";
}

} // namespace

Completion::Completion(CompletionRequest request, Scheduler& scheduler, Metrics& metrics,
                       std::chrono::milliseconds time_limit)
    : request_(std::move(request)), scheduler_(scheduler), metrics_(metrics),
      time_limit_(time_limit) {}

void Completion::start() {
    std::shared_ptr<hc::Pool> pool = scheduler_.pool();
    if (!pool)
        throw ApiError(503, "no HC1 card is live", {}, "no_card");
    card_.emplace(model_card(*pool, request_.model));
    const hc::DriverInfo& info = card_->info();
    const hc::Tokenizer& tok = card_->tokenizer();
    model_name_ = card_->model().name;

    std::vector<uint32_t> prompt;
    if (auto* text = std::get_if<std::string>(&request_.prompt)) {
        prompt = tok.encode(*text, true);
    } else {
        prompt = std::get<std::vector<uint32_t>>(request_.prompt);
        for (uint32_t t : prompt)
            if (t >= info.vocab_size)
                throw ApiError(400,
                               "token " + std::to_string(t) + " is outside the vocabulary of " +
                                   std::to_string(info.vocab_size),
                               "prompt");
    }
    prompt_tokens_ = static_cast<uint32_t>(prompt.size());
    const uint32_t ctx = info.context_len;
    const uint32_t ring = 1u << info.ring_shift;
    if (prompt_tokens_ >= ctx)
        throw ApiError(400,
                       "the prompt is " + std::to_string(prompt_tokens_) +
                           " tokens; the model's context is " + std::to_string(ctx) +
                           " tokens for prompt and completion together",
                       request_.endpoint == Endpoint::Completions ? "prompt" : "messages",
                       "context_length_exceeded");
    uint32_t max_tokens = request_.max_tokens.value_or(request_.endpoint == Endpoint::Completions
                                                           ? kCompletionsDefaultMaxTokens
                                                           : std::min(ctx - prompt_tokens_, ring));
    if (uint64_t{prompt_tokens_} + max_tokens > ctx)
        throw ApiError(400,
                       "the model's context is " + std::to_string(ctx) + " tokens; the request " +
                           "asks for " + std::to_string(prompt_tokens_ + uint64_t{max_tokens}) +
                           " (" + std::to_string(prompt_tokens_) + " in the prompt, " +
                           std::to_string(max_tokens) + " to generate)",
                       "max_tokens", "context_length_exceeded");
    if (max_tokens > ring)
        throw ApiError(400,
                       "max_tokens " + std::to_string(max_tokens) + " exceeds the " +
                           std::to_string(ring) + " tokens one generation holds",
                       "max_tokens");
    if (request_.top_k > info.vocab_size)
        throw ApiError(400, "top_k above the vocabulary size " + std::to_string(info.vocab_size),
                       "top_k");

    hc::GenerateOptions opts;
    opts.max_tokens = max_tokens;
    opts.temperature = request_.temperature;
    opts.top_p = request_.top_p >= 1.0f ? 0.0f : request_.top_p;
    opts.top_k = request_.top_k;
    opts.seed = request_.seed ? *request_.seed : std::random_device{}();
    opts.timeout = time_limit_;
    // A stop string that is one token's whole text also stops the card
    // itself, which saves the cancel; the text match below still cuts it.
    for (const std::string& s : request_.stop) {
        int64_t t = tok.lookup(s);
        if (t >= 0 && opts.stop_tokens.size() < std::min<uint32_t>(info.max_stop, 4))
            opts.stop_tokens.push_back(static_cast<uint32_t>(t));
    }
    detok_.emplace(tok, prompt.back());
    stops_.emplace(request_.stop);
    id_ = random_id(request_.endpoint == Endpoint::Completions ? "cmpl-" : "chatcmpl-");
    created_ = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();

    gen_ = std::make_shared<Generation>(request_.model, std::move(prompt), std::move(opts));
    scheduler_.submit(gen_);
    // The scheduler answers at once: placed, queued, or refused.
    for (;;) {
        auto e = gen_->next(60s);
        if (!e)
            throw ApiError(500, "the scheduler did not answer");
        if (e->kind == Generation::Event::Kind::Failed)
            throw *e->error;
        if (e->kind == Generation::Event::Kind::Queued)
            return;
        if (e->kind == Generation::Event::Kind::Started) {
            card_index_ = e->card;
            log_start();
            metrics_.prompt_tokens(card_index_, model_name_, prompt_tokens_);
            return;
        }
    }
}

std::optional<Completion::Step> Completion::step(std::chrono::milliseconds wait) {
    auto e = gen_->next(wait);
    if (!e)
        return std::nullopt;
    Step s;
    using Kind = Generation::Event::Kind;
    switch (e->kind) {
    case Kind::Queued:
        break;
    case Kind::Started:
        card_index_ = e->card;
        log_start();
        metrics_.prompt_tokens(card_index_, model_name_, prompt_tokens_);
        break;
    case Kind::Tokens: {
        Clock::time_point now = Clock::now();
        if (first_tokens_) {
            metrics_.time_to_first_token(
                card_index_, model_name_,
                std::chrono::duration<double>(now - gen_->arrived).count());
            if (e->tokens.size() > 1)
                metrics_.inter_token(card_index_, model_name_, 0, e->tokens.size() - 1);
            first_tokens_ = false;
        } else {
            metrics_.inter_token(card_index_, model_name_,
                                 std::chrono::duration<double>(now - last_tokens_).count(),
                                 e->tokens.size());
        }
        last_tokens_ = now;
        for (uint32_t t : e->tokens) {
            completion_tokens_++;
            s.text += stops_->push(detok_->push(t));
            if (stops_->stopped()) {
                // The rest of the batch and of the generation is not wanted.
                metrics_.cancelled("stop_string");
                scheduler_.cancel(gen_);
                s.done = true;
                s.finish_reason = "stop";
                break;
            }
        }
        metrics_.generated_tokens(card_index_, model_name_, e->tokens.size());
        break;
    }
    case Kind::Done:
        if (e->result.finish == hc::Finish::Cancelled) {
            // Not by this request (a stop string or a client that left
            // ends the stream before): the card was reset or removed.
            s.done = true;
            s.error = ApiError(503, "the card ended the generation: it was reset or removed", {},
                               "generation_cancelled");
            break;
        }
        s.text = stops_->push(detok_->finish());
        s.text += stops_->finish();
        s.done = true;
        s.finish_reason = finish_reason(e->result.finish);
        break;
    case Kind::Failed:
        s.done = true;
        s.error = e->error;
        break;
    }
    if (s.done)
        finished_ = true;
    return s;
}

void Completion::log_start() const {
    double waited = std::chrono::duration<double, std::milli>(Clock::now() - gen_->arrived).count();
    std::fprintf(stderr, "hc1-serve: %s started on card %s after %.1f ms (%u prompt tokens)\n",
                 id_.c_str(), card_index_.c_str(), waited, prompt_tokens_);
}

Json Completion::usage() const {
    return {{"prompt_tokens", prompt_tokens_},
            {"completion_tokens", completion_tokens_},
            {"total_tokens", prompt_tokens_ + completion_tokens_}};
}

Json Completion::run_to_end() {
    std::string text;
    std::string reason;
    while (!finished_) {
        auto s = step(1s);
        if (!s)
            continue;
        text += s->text;
        if (s->error)
            throw *s->error;
        if (s->done)
            reason = s->finish_reason;
    }
    Json choice = {{"index", 0}};
    Json r = {{"id", id_}};
    if (request_.endpoint == Endpoint::Completions) {
        r["object"] = "text_completion";
        choice["text"] = text;
    } else {
        r["object"] = "chat.completion";
        choice["message"] = {{"role", "assistant"}, {"content", text}};
    }
    choice["logprobs"] = nullptr;
    choice["finish_reason"] = reason;
    r["created"] = created_;
    r["model"] = model_name_;
    r["choices"] = Json::array({choice});
    r["usage"] = usage();
    return r;
}

Json Completion::chunk(const std::string& text, const Json& reason) const {
    Json choice = {{"index", 0}};
    Json r = {{"id", id_}};
    if (request_.endpoint == Endpoint::Completions) {
        r["object"] = "text_completion";
        choice["text"] = text;
        choice["logprobs"] = nullptr;
    } else {
        r["object"] = "chat.completion.chunk";
        choice["delta"] = text.empty() && reason.is_null()
                              ? Json{{"role", "assistant"}, {"content", ""}}
                              : (text.empty() ? Json::object() : Json{{"content", text}});
        choice["logprobs"] = nullptr;
    }
    choice["finish_reason"] = reason;
    r["created"] = created_;
    r["model"] = model_name_;
    r["choices"] = Json::array({choice});
    if (request_.include_usage)
        r["usage"] = nullptr;
    // Extension: tokens so far, for live figures (the chat page's tokens/s).
    r["x_hc1"] = {{"completion_tokens", completion_tokens_}, {"card", card_index_}};
    return r;
}

namespace {
std::string sse(const Json& j) {
    return "data: " + j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
}
} // namespace

bool Completion::stream(const std::function<bool(const std::string&)>& write) {
    if (request_.endpoint == Endpoint::ChatCompletions && !write(sse(chunk("", nullptr))))
        return abandon(), false;
    // The events that end the stream (the last text, the finish reason,
    // usage, [DONE]) leave in one write: with TCP_NODELAY each write is a
    // segment of its own, which the client wakes up for.
    std::string tail;
    while (!finished_) {
        auto s = step(250ms);
        if (!s) {
            // Nothing for a while (waiting in the queue): a comment line
            // keeps proxies from timing out and finds a client that left.
            if (!write(": waiting\n\n"))
                return abandon(), false;
            continue;
        }
        if (s->error) {
            tail = sse(s->error->body());
            break;
        }
        if (!s->done) {
            if (!s->text.empty() && !write(sse(chunk(s->text, nullptr))))
                return abandon(), false;
            continue;
        }
        if (!s->text.empty())
            tail = sse(chunk(s->text, nullptr));
        tail += sse(chunk("", s->finish_reason));
    }
    if (request_.include_usage) {
        Json u = chunk("", nullptr);
        u["choices"] = Json::array();
        u["usage"] = usage();
        tail += sse(u);
    }
    tail += "data: [DONE]\n\n";
    return write(tail);
}

void Completion::abandon() {
    if (gen_ && !finished_) {
        metrics_.cancelled("disconnect");
        scheduler_.cancel(gen_);
        finished_ = true;
    }
}

} // namespace hc1serve
