// SPDX-License-Identifier: MIT
/**
 * @file chat_page.hpp
 * @brief The chat page served at GET /, built into the binary from
 *        chat.html so the server needs no file beside it.
 */
#pragma once

#include <string_view>

namespace hc1serve {

extern const std::string_view kChatPage;

} // namespace hc1serve
