// SPDX-License-Identifier: MIT
/**
 * @file hc/hc.hpp
 * @brief libhc, the C++ SDK of the HC1 inference card: include this.
 *
 *     hc::Card card = hc::Card::open(0);
 *     hc::Session s = card.session();
 *     std::cout << "Once upon a time" << s.complete("Once upon a time");
 *
 * See docs/libhc.md.
 */
#pragma once

#if __cplusplus < 202002L
#error "libhc's C++ headers need C++20: compile with -std=c++20 (hc::hc in CMake sets it)"
#endif

#include <hc/card.hpp>
#include <hc/error.hpp>
#include <hc/event_loop.hpp>
#include <hc/pool.hpp>
#include <hc/session.hpp>
#include <hc/tokenizer.hpp>
#include <hc/version.hpp>
