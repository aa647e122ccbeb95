// SPDX-License-Identifier: MIT
/**
 * @file hc/error.hpp
 * @brief The one error type of libhc.
 *
 * Every libhc function that can fail throws hc::Error.  It carries a POSIX
 * errno value, so callers can branch on the cause (ENOENT: no such card,
 * EACCES: permission, ENODEV: card gone, ETIMEDOUT, ECANCELED, EPROTO:
 * incompatible driver or card) and a message that names what failed.
 */
#pragma once

#if __cplusplus < 202002L
#error "libhc's C++ headers need C++20: compile with -std=c++20 (hc::hc in CMake sets it)"
#endif

#include <hc/export.h>

#include <stdexcept>
#include <string>

namespace hc {

/**
 * Error - the exception every libhc call throws.
 *
 * code() is a positive errno value (ENOENT, EACCES, ENODEV, EIO, ETIMEDOUT,
 * ECANCELED, EINVAL, EPROTO, ...).  what() is a one-line message naming the
 * operation and object, e.g. "open /dev/hc/0: Permission denied".
 */
class HC_API Error : public std::runtime_error {
  public:
    /** Build an error from an errno value and a message (the strerror text is appended). */
    Error(int code, const std::string& message);
    /** The errno value (positive). */
    int code() const noexcept { return code_; }

  private:
    int code_;
};

} // namespace hc
