// SPDX-License-Identifier: MIT
// hc1-serve's logic that needs no card: request validation and the
// metrics' exposition.
#include "metrics.hpp"
#include "openai.hpp"

#include <gtest/gtest.h>

namespace {

using hc1serve::ApiError;
using hc1serve::Json;

int status_of(const Json& body, bool chat = false) {
    try {
        chat ? hc1serve::parse_chat(body) : hc1serve::parse_completion(body);
    } catch (const ApiError& e) {
        return e.status;
    }
    return 200;
}

std::string param_of(const Json& body, bool chat = false) {
    try {
        chat ? hc1serve::parse_chat(body) : hc1serve::parse_completion(body);
    } catch (const ApiError& e) {
        return e.param;
    }
    return "";
}

// Found by tests/serve/fuzz.py: nlohmann-json refuses 1e999 with
// out_of_range, not parse_error, and it had escaped as a 500.
TEST(Parse, BodiesThatAreNotJsonAre400) {
    for (std::string_view text : {"", "{", "{\"max_tokens\": 1e999}", "[-1e999]", "{\"a\": NaN}",
                                  "{\"a\": \"\xff\"}", "{} trailing"}) {
        try {
            hc1serve::parse_json_body(text);
            ADD_FAILURE() << "accepted " << text;
        } catch (const ApiError& e) {
            EXPECT_EQ(e.status, 400) << text;
            EXPECT_EQ(e.code, "invalid_json") << text;
        }
    }
    EXPECT_EQ(hc1serve::parse_json_body(R"({"a": 1e308})")["a"], 1e308);
}

TEST(Parse, AcceptsTheFieldsItHonours) {
    auto r = hc1serve::parse_completion(Json::parse(
        R"({"model":"m","prompt":"hi","max_tokens":5,"temperature":0.5,"top_p":0.9,"top_k":40,
            "seed":7,"stop":["a","b"],"stream":true,"stream_options":{"include_usage":true},
            "n":1,"logprobs":null,"user":"u","presence_penalty":0})"));
    EXPECT_EQ(std::get<std::string>(r.prompt), "hi");
    EXPECT_EQ(*r.max_tokens, 5u);
    EXPECT_EQ(r.top_k, 40u);
    EXPECT_EQ(*r.seed, 7u);
    EXPECT_EQ(r.stop.size(), 2u);
    EXPECT_TRUE(r.include_usage);
}

TEST(Parse, NamesWhatItCannotHonour) {
    EXPECT_EQ(param_of(Json::parse(R"({"model":"m","prompt":"hi","n":2})")), "n");
    EXPECT_EQ(param_of(Json::parse(R"({"model":"m","prompt":"hi","logprobs":2})")), "logprobs");
    EXPECT_EQ(param_of(Json::parse(R"({"model":"m","prompt":"hi","echo":true})")), "echo");
    EXPECT_EQ(param_of(Json::parse(R"({"model":"m","prompt":"hi","frobnicate":1})")), "frobnicate");
    EXPECT_EQ(param_of(Json::parse(R"({"model":"m","prompt":["a","b"]})")), "prompt");
    EXPECT_EQ(param_of(Json::parse(R"({"model":"m","messages":[{"role":"user","content":"x"}],
                                       "tools":[{"type":"function"}]})"),
                       true),
              "tools");
    EXPECT_EQ(
        param_of(Json::parse(R"({"model":"m","messages":[{"role":"tool","content":"x"}]})"), true),
        "messages[0].role");
}

TEST(Parse, RejectsBadValuesWith400) {
    for (const char* body :
         {R"([])", R"({"prompt":"hi"})", R"({"model":"m"})", R"({"model":"m","prompt":""})",
          R"({"model":"m","prompt":"x","max_tokens":0})",
          R"({"model":"m","prompt":"x","temperature":3})",
          R"({"model":"m","prompt":"x","top_p":0})",
          R"({"model":"m","prompt":"x","stop":["a","b","c","d","e"]})",
          R"({"model":"m","prompt":"x","stop":[""]})",
          R"({"model":"m","prompt":"x","stream":"yes"})",
          R"({"model":"m","prompt":"x","stream_options":{"include_usage":true}})",
          R"({"model":"m","prompt":[-1]})"})
        EXPECT_EQ(status_of(Json::parse(body)), 400) << body;
}

TEST(Chat, TemplateIsPlainTurnsEndingInTheAssistantsTurn) {
    auto r = hc1serve::parse_chat(Json::parse(
        R"({"model":"m","messages":[{"role":"system","content":"Be brief."},
            {"role":"user","content":[{"type":"text","text":"Hi"}]}]})"));
    EXPECT_EQ(std::get<std::string>(r.prompt), "System: Be brief.\nUser: Hi\nAssistant:");
    EXPECT_EQ(r.stop.front(), hc1serve::kChatTurnStop);
}

TEST(Metrics, HistogramBucketsAreCumulative) {
    hc1serve::Metrics m;
    m.time_to_first_token("0", "m", 0.003);
    m.time_to_first_token("0", "m", 20);
    std::string out = m.render({{"0", "m", "live", 1, 64}}, 2);
    EXPECT_NE(
        out.find(
            R"(hc1_serve_time_to_first_token_seconds_bucket{card="0",model="m",le="0.005"} 1)"),
        std::string::npos);
    EXPECT_NE(
        out.find(R"(hc1_serve_time_to_first_token_seconds_bucket{card="0",model="m",le="+Inf"} 2)"),
        std::string::npos);
    EXPECT_NE(out.find("hc1_serve_requests_queued 2\n"), std::string::npos);
    EXPECT_NE(out.find(R"(hc1_serve_card_live{card="0",model="m"} 1)"), std::string::npos);
}

} // namespace
