/* SPDX-License-Identifier: MIT */
/**
 * @file hc/export.h
 * @brief HC_API: what libhc.so exports.
 *
 * libhc is compiled with hidden visibility: only declarations marked HC_API
 * (the public API, C and C++) are exported, and libhc/libhc.map gives them
 * their symbol version.  Everything else, hc::detail included, stays inside
 * the library and may change in any release.
 */
#ifndef HC_EXPORT_H
#define HC_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define HC_API __attribute__((visibility("default")))
/* A member of an HC_API class that only libhc itself calls. */
#define HC_LOCAL __attribute__((visibility("hidden")))
#else
#define HC_API
#define HC_LOCAL
#endif

#endif /* HC_EXPORT_H */
