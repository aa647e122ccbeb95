// SPDX-License-Identifier: MIT
#include "args.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace hc1e::cli {

Args::Args(int argc, char** argv, std::set<std::string> options, std::set<std::string> flags) {
    for (int i = 0; i < argc; i++) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0 || a == "--") {
            positional_.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        if (auto eq = name.find('='); eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
        } else if (flags.count(name)) {
            value = "1";
        } else if (options.count(name)) {
            if (i + 1 >= argc)
                throw std::invalid_argument("--" + name + " needs a value");
            value = argv[++i];
        }
        if (!options.count(name) && !flags.count(name))
            throw std::invalid_argument("unknown option --" + name);
        values_[name] = value;
    }
}

std::string Args::str(const std::string& name, const std::string& fallback) const {
    auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
}

std::string Args::required(const std::string& name) const {
    if (!has(name))
        throw std::invalid_argument("--" + name + " is required");
    return str(name);
}

double Args::num(const std::string& name, double fallback) const {
    if (!has(name))
        return fallback;
    const std::string s = str(name);
    char* end = nullptr;
    errno = 0;
    double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end || errno || !std::isfinite(v))
        throw std::invalid_argument("--" + name + ": '" + s + "' is not a number");
    return v;
}

uint64_t Args::u64(const std::string& name, uint64_t fallback) const {
    if (!has(name))
        return fallback;
    const std::string s = str(name);
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (s.empty() || s[0] == '-' || *end || errno)
        throw std::invalid_argument("--" + name + ": '" + s + "' is not a non-negative integer");
    return v;
}

} // namespace hc1e::cli
