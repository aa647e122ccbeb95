// SPDX-License-Identifier: MIT
// A small --option parser: every option takes a value except the declared
// flags; anything else is positional.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace hc1e::cli {

class Args {
  public:
    // Throws std::invalid_argument naming the bad option.
    Args(int argc, char** argv, std::set<std::string> options, std::set<std::string> flags);

    bool has(const std::string& name) const { return values_.count(name) != 0; }
    std::string str(const std::string& name, const std::string& fallback = "") const;
    std::string required(const std::string& name) const;
    double num(const std::string& name, double fallback) const;
    uint64_t u64(const std::string& name, uint64_t fallback) const;
    const std::vector<std::string>& positional() const { return positional_; }

  private:
    std::map<std::string, std::string> values_;
    std::vector<std::string> positional_;
};

} // namespace hc1e::cli
