// SPDX-License-Identifier: MIT
#include "hcctl.hpp"

#include <cmath>
#include <cstdio>

namespace hcctl {

std::string Json::quote(std::string_view s) {
    std::string o = "\"";
    for (unsigned char c : s) {
        switch (c) {
        case '"':
            o += "\\\"";
            break;
        case '\\':
            o += "\\\\";
            break;
        case '\n':
            o += "\\n";
            break;
        case '\r':
            o += "\\r";
            break;
        case '\t':
            o += "\\t";
            break;
        default:
            if (c < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                o += buf;
            } else {
                o += static_cast<char>(c);
            }
        }
    }
    return o + "\"";
}

void Json::key(const char* k) {
    if (!first_.back())
        out_ += ",";
    first_.back() = false;
    if (k)
        out_ += quote(k) + ":";
}

Json& Json::begin_object(const char* k) {
    key(k);
    out_ += "{";
    first_.push_back(true);
    return *this;
}

Json& Json::end_object() {
    first_.pop_back();
    out_ += "}";
    return *this;
}

Json& Json::begin_array(const char* k) {
    key(k);
    out_ += "[";
    first_.push_back(true);
    return *this;
}

Json& Json::end_array() {
    first_.pop_back();
    out_ += "]";
    return *this;
}

Json& Json::field(const char* k, const std::string& v) {
    key(k);
    out_ += quote(v);
    return *this;
}

Json& Json::field(const char* k, double v) {
    key(k);
    if (!std::isfinite(v)) {
        out_ += "null";
        return *this;
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", v);
    out_ += buf;
    return *this;
}

Json& Json::field(const char* k, uint64_t v) {
    key(k);
    out_ += std::to_string(v);
    return *this;
}

Json& Json::field(const char* k, bool v) {
    key(k);
    out_ += v ? "true" : "false";
    return *this;
}

Json& Json::null_field(const char* k) {
    key(k);
    out_ += "null";
    return *this;
}

} // namespace hcctl
