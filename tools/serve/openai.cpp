// SPDX-License-Identifier: MIT
#include "openai.hpp"

#include <cmath>
#include <limits>
#include <set>

namespace hc1serve {

ApiError::ApiError(int status_, std::string message, std::string param_, std::string code_,
                   std::string type_)
    : std::runtime_error(std::move(message)), status(status_), param(std::move(param_)),
      code(std::move(code_)), type(std::move(type_)) {
    if (type.empty())
        type = status >= 500 ? "server_error" : "invalid_request_error";
}

Json ApiError::body() const {
    Json e = {{"message", what()}, {"type", type}};
    e["param"] = param.empty() ? Json(nullptr) : Json(param);
    e["code"] = code.empty() ? Json(nullptr) : Json(code);
    return {{"error", e}};
}

namespace {

[[noreturn]] void bad(const std::string& param, const std::string& message,
                      const std::string& code = "invalid_value") {
    throw ApiError(400, message, param, code);
}

// Fields each endpoint reads.  Fields that OpenAI defines but the card
// cannot honour are in unsupported_*: accepted only at their neutral value.
const std::set<std::string> kCommonFields = {
    "model",      "max_tokens",       "temperature",       "top_p", "top_k", "seed",
    "stop",       "stream",           "stream_options",    "n",     "user",  "logprobs",
    "logit_bias", "presence_penalty", "frequency_penalty",
};
const std::set<std::string> kCompletionFields = {"prompt", "echo", "best_of", "suffix"};
const std::set<std::string> kChatFields = {
    "messages",      "max_completion_tokens", "top_logprobs",
    "tools",         "tool_choice",           "functions",
    "function_call", "response_format",       "parallel_tool_calls"};

void check_known(const Json& body, const std::set<std::string>& extra) {
    for (const auto& [key, value] : body.items())
        if (!kCommonFields.contains(key) && !extra.contains(key))
            bad(key, "unsupported field '" + key + "'", "unsupported_parameter");
}

// A field the card cannot honour is accepted only at its neutral value.
template <typename Neutral> void neutral_only(const Json& body, const char* key, Neutral ok) {
    auto it = body.find(key);
    if (it != body.end() && !it->is_null() && !ok(*it))
        bad(key,
            std::string("'") + key + "' is not supported by hc1-serve (the card " +
                "generates one sampled sequence without it)",
            "unsupported_parameter");
}

double number(const Json& v, const char* key, double lo, double hi) {
    if (!v.is_number())
        bad(key, std::string("'") + key + "' must be a number");
    double d = v.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
        bad(key, std::string("'") + key + "' must be between " + Json(lo).dump() + " and " +
                     Json(hi).dump());
    return d;
}

uint64_t integer(const Json& v, const char* key, int64_t lo, uint64_t hi) {
    if (!v.is_number_integer())
        bad(key, std::string("'") + key + "' must be an integer");
    if (v.is_number_unsigned()) {
        uint64_t u = v.get<uint64_t>();
        if (u > hi || (lo > 0 && u < static_cast<uint64_t>(lo)))
            bad(key, std::string("'") + key + "' must be between " + std::to_string(lo) + " and " +
                         std::to_string(hi));
        return u;
    }
    int64_t i = v.get<int64_t>();
    if (i < lo || (i >= 0 && static_cast<uint64_t>(i) > hi))
        bad(key, std::string("'") + key + "' must be between " + std::to_string(lo) + " and " +
                     std::to_string(hi));
    return static_cast<uint64_t>(i);
}

void parse_common(const Json& body, CompletionRequest& r) {
    if (!body.is_object())
        throw ApiError(400, "the request body must be a JSON object");
    auto model = body.find("model");
    if (model == body.end() || !model->is_string() || model->get<std::string>().empty())
        bad("model", "'model' is required: a model name or weight SHA-256 from GET /v1/models",
            "missing_required_parameter");
    r.model = model->get<std::string>();

    if (auto it = body.find("max_tokens"); it != body.end() && !it->is_null())
        r.max_tokens = static_cast<uint32_t>(integer(*it, "max_tokens", 1, UINT32_MAX));
    if (auto it = body.find("temperature"); it != body.end() && !it->is_null())
        r.temperature = static_cast<float>(number(*it, "temperature", 0, 2));
    if (auto it = body.find("top_p"); it != body.end() && !it->is_null()) {
        r.top_p = static_cast<float>(number(*it, "top_p", 0, 1));
        if (r.top_p <= 0)
            bad("top_p", "'top_p' must be above 0");
    }
    if (auto it = body.find("top_k"); it != body.end() && !it->is_null())
        r.top_k = static_cast<uint32_t>(integer(*it, "top_k", 0, 0xffff));
    if (auto it = body.find("seed"); it != body.end() && !it->is_null())
        r.seed = integer(*it, "seed", std::numeric_limits<int64_t>::min(), UINT64_MAX);
    if (auto it = body.find("stream"); it != body.end() && !it->is_null()) {
        if (!it->is_boolean())
            bad("stream", "'stream' must be a boolean");
        r.stream = it->get<bool>();
    }
    if (auto it = body.find("stream_options"); it != body.end() && !it->is_null()) {
        if (!r.stream)
            bad("stream_options", "'stream_options' is only allowed with 'stream': true");
        if (!it->is_object())
            bad("stream_options", "'stream_options' must be an object");
        for (const auto& [k, v] : it->items()) {
            if (k != "include_usage")
                bad("stream_options." + k, "unsupported field 'stream_options." + k + "'",
                    "unsupported_parameter");
            if (!v.is_boolean())
                bad("stream_options.include_usage", "'include_usage' must be a boolean");
            r.include_usage = v.get<bool>();
        }
    }
    if (auto it = body.find("stop"); it != body.end() && !it->is_null()) {
        if (it->is_string()) {
            r.stop.push_back(it->get<std::string>());
        } else if (it->is_array() && it->size() <= 4) {
            for (const Json& s : *it) {
                if (!s.is_string())
                    bad("stop", "'stop' must be a string or an array of up to 4 strings");
                r.stop.push_back(s.get<std::string>());
            }
        } else {
            bad("stop", "'stop' must be a string or an array of up to 4 strings");
        }
        for (const std::string& s : r.stop)
            if (s.empty())
                bad("stop", "a stop string must not be empty");
    }
    if (auto it = body.find("user"); it != body.end() && !it->is_null() && !it->is_string())
        bad("user", "'user' must be a string");
    neutral_only(body, "n", [](const Json& v) { return v.is_number_integer() && v == 1; });
    neutral_only(body, "logprobs", [](const Json& v) {
        return (v.is_boolean() && !v.get<bool>()) || (v.is_number_integer() && v == 0);
    });
    neutral_only(body, "logit_bias", [](const Json& v) { return v.is_object() && v.empty(); });
    neutral_only(body, "presence_penalty", [](const Json& v) { return v.is_number() && v == 0; });
    neutral_only(body, "frequency_penalty", [](const Json& v) { return v.is_number() && v == 0; });
}

std::string text_content(const Json& content, size_t i) {
    std::string param = "messages[" + std::to_string(i) + "].content";
    if (content.is_string())
        return content.get<std::string>();
    if (!content.is_array())
        bad(param, "'content' must be a string or an array of text parts");
    std::string text;
    for (const Json& part : content) {
        if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
            !part["text"].is_string())
            bad(param,
                "only text content parts are supported ({\"type\": \"text\", \"text\": ...})",
                "unsupported_parameter");
        text += part["text"].get<std::string>();
    }
    return text;
}

} // namespace

Json parse_json_body(std::string_view text) {
    try {
        return Json::parse(text);
    } catch (const Json::exception& e) {
        // parse_error, and out_of_range for a number like 1e999.
        throw ApiError(400, std::string("the body is not valid JSON: ") + e.what(), {},
                       "invalid_json");
    }
}

CompletionRequest parse_completion(const Json& body) {
    CompletionRequest r;
    r.endpoint = Endpoint::Completions;
    parse_common(body, r);
    check_known(body, kCompletionFields);
    neutral_only(body, "echo", [](const Json& v) { return v.is_boolean() && !v.get<bool>(); });
    neutral_only(body, "best_of", [](const Json& v) { return v.is_number_integer() && v == 1; });
    neutral_only(body, "suffix", [](const Json& v) { return v.is_string() && v.empty(); });
    auto p = body.find("prompt");
    if (p == body.end() || p->is_null())
        bad("prompt", "'prompt' is required", "missing_required_parameter");
    if (p->is_string()) {
        r.prompt = p->get<std::string>();
    } else if (p->is_array() && p->size() == 1 && (*p)[0].is_string()) {
        r.prompt = (*p)[0].get<std::string>();
    } else if (p->is_array() && !p->empty() && std::all_of(p->begin(), p->end(), [](const Json& t) {
                   return t.is_number_integer();
               })) {
        std::vector<uint32_t> tokens;
        for (const Json& t : *p)
            tokens.push_back(static_cast<uint32_t>(integer(t, "prompt", 0, UINT32_MAX)));
        r.prompt = std::move(tokens);
    } else if (p->is_array() && p->size() > 1) {
        bad("prompt", "one prompt per request: hc1-serve does not batch prompts",
            "unsupported_parameter");
    } else {
        bad("prompt",
            "'prompt' must be a string, an array of one string, or an array of token ids");
    }
    if (std::holds_alternative<std::string>(r.prompt) && std::get<std::string>(r.prompt).empty())
        bad("prompt", "'prompt' must not be empty");
    return r;
}

CompletionRequest parse_chat(const Json& body) {
    CompletionRequest r;
    r.endpoint = Endpoint::ChatCompletions;
    parse_common(body, r);
    check_known(body, kChatFields);
    neutral_only(body, "top_logprobs",
                 [](const Json& v) { return v.is_number_integer() && v == 0; });
    neutral_only(body, "tools", [](const Json& v) { return v.is_array() && v.empty(); });
    neutral_only(body, "functions", [](const Json& v) { return v.is_array() && v.empty(); });
    neutral_only(body, "tool_choice", [](const Json& v) { return v == "none"; });
    neutral_only(body, "function_call", [](const Json& v) { return v == "none"; });
    neutral_only(body, "parallel_tool_calls", [](const Json&) { return false; });
    neutral_only(body, "response_format", [](const Json& v) {
        return v.is_object() && v.size() == 1 && v.value("type", "") == "text";
    });
    if (auto it = body.find("max_completion_tokens"); it != body.end() && !it->is_null()) {
        if (r.max_tokens)
            bad("max_completion_tokens", "give 'max_tokens' or 'max_completion_tokens', not both");
        r.max_tokens = static_cast<uint32_t>(integer(*it, "max_completion_tokens", 1, UINT32_MAX));
    }
    auto m = body.find("messages");
    if (m == body.end() || !m->is_array() || m->empty())
        bad("messages", "'messages' must be a non-empty array", "missing_required_parameter");
    std::vector<Message> messages;
    for (size_t i = 0; i < m->size(); i++) {
        const Json& msg = (*m)[i];
        std::string at = "messages[" + std::to_string(i) + "]";
        if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string())
            bad(at, "each message must be an object with a 'role'");
        std::string role = msg["role"].get<std::string>();
        if (role == "developer")
            role = "system";
        if (role != "system" && role != "user" && role != "assistant")
            bad(at + ".role", "role '" + role + "' is not supported (system, user, assistant)",
                "unsupported_parameter");
        for (const auto& [k, v] : msg.items())
            if (k != "role" && k != "content" && k != "name")
                bad(at + "." + k, "unsupported field '" + k + "' in a message",
                    "unsupported_parameter");
        if (!msg.contains("content") || msg["content"].is_null())
            bad(at + ".content", "each message needs 'content'");
        messages.push_back({role, text_content(msg["content"], i)});
    }
    r.prompt = chat_prompt(messages);
    r.stop.insert(r.stop.begin(), kChatTurnStop);
    return r;
}

std::string chat_prompt(const std::vector<Message>& messages) {
    std::string out;
    for (const Message& m : messages) {
        std::string role = m.role == "system" ? "System" : m.role == "user" ? "User" : "Assistant";
        out += role + ": " + m.content + "\n";
    }
    return out + "Assistant:";
}

} // namespace hc1serve
