// SPDX-License-Identifier: MIT
/**
 * @file hc/version.hpp
 * @brief libhc version and the driver UAPI it was written for.
 */
#pragma once

#define HC_VERSION_MAJOR 0
#define HC_VERSION_MINOR 1
#define HC_VERSION_PATCH 0

namespace hc {
/** "MAJOR.MINOR.PATCH" of the libhc in use (the shared library's, not the header's). */
const char* version();
/**
 * The driver UAPI version libhc needs.  libhc accepts this version and any
 * newer one (the UAPI only grows; features are probed by bits), and refuses
 * older ones with EPROTO.
 */
constexpr unsigned kMinUapiVersion = 1;
} // namespace hc
