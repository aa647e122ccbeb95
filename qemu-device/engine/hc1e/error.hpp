// SPDX-License-Identifier: MIT
// The engine's one error style: loaders and converters throw hc1e::Error with
// a message naming the problem; the C API turns it into the caller's err
// buffer.  Nothing in the generation path throws.
#pragma once

#include <stdexcept>
#include <string>

namespace hc1e {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& what) : std::runtime_error(what) {}
};

} // namespace hc1e
