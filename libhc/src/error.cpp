// SPDX-License-Identifier: MIT
#include "internal.hpp"

#include <hc/version.hpp>

#include <cerrno>
#include <cstring>
#include <sys/ioctl.h>

namespace hc {

Error::Error(int code, const std::string& message)
    : std::runtime_error(message + ": " + std::strerror(code)), code_(code) {}

const char* version() {
    return HC_VERSION_STRING;
}

namespace detail {

void throw_error(int code, const std::string& message) {
    throw Error(code, message);
}

int do_ioctl(int fd, unsigned long request, void* arg) {
    for (;;) {
        if (::ioctl(fd, request, arg) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

} // namespace detail
} // namespace hc
