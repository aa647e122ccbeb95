// SPDX-License-Identifier: MIT
/**
 * @file api.hpp
 * @brief One completion request answered: prompt to tokens, limits checked,
 *        the generation's events turned into OpenAI responses and chunks.
 */
#pragma once

#include "metrics.hpp"
#include "openai.hpp"
#include "scheduler.hpp"

#include <functional>
#include <memory>
#include <string>

namespace hc1serve {

/**
 * Completion - a validated request bound to a card's model, submitted to
 * the scheduler.  prepare() throws ApiError for what makes it invalid
 * against the card (model unknown, prompt longer than the context, ...).
 */
class Completion {
  public:
    Completion(CompletionRequest request, Scheduler& scheduler, Metrics& metrics,
               std::chrono::milliseconds time_limit);

    /**
     * Tokenise, check the limits, submit, and wait for the scheduler's
     * answer: throws ApiError if the request is refused (503 when every
     * context is busy and the queue is full).
     */
    void start();
    /** The whole response of a non-streaming request (blocks). */
    Json run_to_end();
    /**
     * Stream: call @p write with each server-sent event ("data: ...\n\n")
     * as the card delivers; stop and cancel if it returns false.  Returns
     * false if the client went away.  Blocks.
     */
    bool stream(const std::function<bool(const std::string&)>& write);
    /** The client went away: stop the generation on the card. */
    void abandon();

  private:
    struct Step {
        std::string text;
        bool done = false;
        std::string finish_reason;
        std::optional<ApiError> error;
    };
    // Wait for the next event and turn it into text; waits up to @p wait.
    std::optional<Step> step(std::chrono::milliseconds wait);
    Json chunk(const std::string& text, const Json& finish_reason) const;
    Json usage() const;
    // One line on stderr as the card takes the request: the server's log.
    void log_start() const;

    CompletionRequest request_;
    Scheduler& scheduler_;
    Metrics& metrics_;
    std::chrono::milliseconds time_limit_;
    std::shared_ptr<Generation> gen_;
    std::optional<hc::Card> card_;
    std::optional<hc::Detokenizer> detok_;
    std::optional<hc::StopMatcher> stops_;
    std::string id_, model_name_, card_index_;
    int64_t created_ = 0;
    uint32_t prompt_tokens_ = 0, completion_tokens_ = 0;
    Clock::time_point last_tokens_;
    bool first_tokens_ = true, finished_ = false;
};

} // namespace hc1serve
