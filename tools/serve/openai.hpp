// SPDX-License-Identifier: MIT
/**
 * @file openai.hpp
 * @brief The OpenAI API's requests as hc1-serve reads them, and its error
 *        objects.  Parsing validates every field: what the card cannot
 *        honour is an error naming the field, never ignored.
 */
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace hc1serve {

using Json = nlohmann::ordered_json;

/**
 * ApiError - an HTTP error with an OpenAI error object:
 * {"error": {"message", "type", "param", "code"}}.
 */
struct ApiError : std::runtime_error {
    ApiError(int status, std::string message, std::string param = {}, std::string code = {},
             std::string type = {});
    int status;
    std::string param, code, type;
    /** The response body. */
    Json body() const;
};

enum class Endpoint { Completions, ChatCompletions };

/** One chat message. */
struct Message {
    std::string role; ///< "system", "user" or "assistant"
    std::string content;
};

/** A validated completion or chat completion request. */
struct CompletionRequest {
    Endpoint endpoint = Endpoint::Completions;
    std::string model;
    /** Text prompt (chat: the messages through the template), or token ids. */
    std::variant<std::string, std::vector<uint32_t>> prompt;
    std::optional<uint32_t> max_tokens; ///< absent: the endpoint's default
    float temperature = 1.0f;           ///< OpenAI's default
    float top_p = 1.0f;
    uint32_t top_k = 0;
    std::optional<uint64_t> seed; ///< absent: a random seed
    std::vector<std::string> stop;
    bool stream = false;
    bool include_usage = false; ///< stream_options.include_usage
};

/**
 * Parse a request body as JSON; throws ApiError (400, "invalid_json") for
 * anything the parser refuses, numbers beyond a double's range included.
 */
Json parse_json_body(std::string_view text);
/** Parse a POST /v1/completions body; throws ApiError (400). */
CompletionRequest parse_completion(const Json& body);
/** Parse a POST /v1/chat/completions body; throws ApiError (400). */
CompletionRequest parse_chat(const Json& body);

/**
 * The chat template: models on the card are not chat-tuned, so messages
 * become plain text ("System: ...", "User: ...", "Assistant: ..." lines)
 * ending in "Assistant:", which the model continues.  docs/serve.md.
 */
std::string chat_prompt(const std::vector<Message>& messages);
/** The stop string every chat generation gets: the next turn's marker. */
inline constexpr const char* kChatTurnStop = "\nUser:";

} // namespace hc1serve
