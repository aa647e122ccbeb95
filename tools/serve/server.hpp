// SPDX-License-Identifier: MIT
/**
 * @file server.hpp
 * @brief hc1-serve's HTTP side: the OpenAI routes, /health, /metrics and
 *        the chat page, on cpp-httplib.
 */
#pragma once

#include "metrics.hpp"
#include "scheduler.hpp"

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace httplib {
class Server;
}

namespace hc1serve {

/** ServerOptions - the command line's limits (hc1-serve(8), docs/serve.md). */
struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 8080;
    size_t max_body = 1 << 20; ///< request body bytes
    size_t threads = 0;        ///< HTTP worker threads; 0 = contexts + queue + 16
    size_t max_queue = 256;    ///< requests waiting for a context
    std::chrono::seconds request_timeout{300};
    std::chrono::seconds io_timeout{30};       ///< reading a request, writing a response
    std::chrono::milliseconds keep_idle{2000}; ///< an ended generation's session kept open
};

/** Server - routes bound to a scheduler; listen() blocks until stop(). */
class Server {
  public:
    explicit Server(const ServerOptions& options);
    ~Server();
    /** Bind and serve; false (with errno set) if the address cannot be bound. */
    bool listen();
    /** Stop listen() from any thread (a signal handler's thread included). */
    void stop();

    /** Connections the kernel queues before accept(): a burst of 256 streams fits. */
    static constexpr int kListenBacklog = 1024;
    /**
     * Requests one kept-alive connection serves before the server closes
     * it, as nginx's keepalive_requests: cpp-httplib's default of 5 made
     * every streaming client reconnect after its fifth request.
     */
    static constexpr size_t kKeepAliveRequests = 1000;

  private:
    void routes();

    ServerOptions options_;
    int listen_socket_ = -1; ///< the bound socket, seen by httplib's socket-options hook
    Metrics metrics_;
    Scheduler scheduler_;
    std::unique_ptr<httplib::Server> http_;
};

} // namespace hc1serve
