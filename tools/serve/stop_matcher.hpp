// SPDX-License-Identifier: MIT
/**
 * @file stop_matcher.hpp
 * @brief OpenAI "stop" strings, matched on decoded text across token
 *        boundaries.
 */
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hc1serve {

/**
 * StopMatcher - cut generated text at the first stop string.
 *
 * Text arrives in pieces that may split a stop string anywhere.  push()
 * returns what can be sent to the client now: everything except a tail
 * that could still become a stop string.  Once a stop string is complete,
 * stopped() is true, the text before it has been returned and the stop
 * string itself never is (OpenAI leaves it out).  finish() returns the tail
 * held back when the generation ends without a stop.
 */
class StopMatcher {
  public:
    explicit StopMatcher(std::vector<std::string> stops);

    /** Add @p piece; return the text that is now safe to send. */
    std::string push(std::string_view piece);
    /** The generation ended: return what was held back (nothing after a stop). */
    std::string finish();
    /** Whether a stop string was found. */
    bool stopped() const { return stopped_; }

  private:
    // Longest suffix of held_ that is a proper prefix of a stop string.
    size_t pending_prefix() const;

    std::vector<std::string> stops_;
    std::string held_;
    bool stopped_ = false;
};

} // namespace hc1serve
