// SPDX-License-Identifier: MIT
#include "server.hpp"

#include "api.hpp"
#include "chat_page.hpp"

#include <httplib.h>

#include <cerrno>
#include <sys/socket.h>
#include <unistd.h>

namespace hc1serve {

using namespace std::chrono_literals;

namespace {

void send_json(httplib::Response& res, int status, const Json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n",
                    "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
    if (e.status == 503)
        res.set_header("Retry-After", "1");
    send_json(res, e.status, e.body());
}

Json model_object(const hc::ModelCard& m) {
    return {{"id", m.name},
            {"object", "model"},
            {"created", 0},
            {"owned_by", "hc1"},
            {"sha256", m.sha256_hex()},
            {"context_length", m.context_len},
            {"vocab_size", m.vocab_size},
            {"weight_format", m.weight_format_name()},
            {"kv_format", m.kv_format_name()},
            {"n_params", m.n_params}};
}

} // namespace

Server::Server(const ServerOptions& options)
    : options_(options),
      scheduler_(Scheduler::Options{options.max_queue, options.request_timeout, options.keep_idle},
                 metrics_),
      http_(std::make_unique<httplib::Server>()) {
    size_t threads = options_.threads ? options_.threads : options_.max_queue + 64 + 16;
    // httplib takes ownership of the queue it is handed.
    http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http_->set_payload_max_length(options_.max_body);
    http_->set_read_timeout(options_.io_timeout);
    http_->set_write_timeout(options_.io_timeout);
    // Each SSE chunk goes out when written: with Nagle's algorithm a chunk
    // written after the headers could wait for the client's delayed ACK
    // (up to 40 ms on Linux).
    http_->set_tcp_nodelay(true);
    http_->set_keep_alive_max_count(kKeepAliveRequests);
    // Debian's cpp-httplib is a compiled library that listens with a
    // backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG is read when the library is
    // built, not by its users): a burst of clients, 256 streams opened at
    // once, overflowed it.  Its socket-options hook is the one place that
    // sees the listening socket, so note it there and listen() again on it
    // with a deeper queue (Linux updates a listening socket's backlog).
    http_->set_socket_options([this](socket_t sock) {
        httplib::default_socket_options(sock);
        listen_socket_ = sock;
    });
    routes();
}

Server::~Server() = default;

bool Server::listen() {
    if (!http_->bind_to_port(options_.host, options_.port))
        return false;
    // The hook may have seen sockets that failed to bind: make sure the
    // one noted is the one listening.
    int accepting = 0;
    socklen_t len = sizeof(accepting);
    errno = 0;
    if (getsockopt(listen_socket_, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) != 0 ||
        !accepting || ::listen(listen_socket_, kListenBacklog) != 0) {
        int err = errno ? errno : ENOTSOCK;
        ::close(listen_socket_); // not running yet: httplib's stop() would not
        errno = err;
        return false;
    }
    return http_->listen_after_bind();
}

void Server::stop() {
    http_->stop();
}

void Server::routes() {
    auto completion = [this](Endpoint endpoint, const char* name) {
        return [this, endpoint, name](const httplib::Request& req, httplib::Response& res) {
            int status = 200;
            try {
                Json body = parse_json_body(req.body);
                CompletionRequest cr =
                    endpoint == Endpoint::Completions ? parse_completion(body) : parse_chat(body);
                bool streaming = cr.stream;
                auto c = std::make_shared<Completion>(std::move(cr), scheduler_, metrics_,
                                                      options_.request_timeout);
                c->start();
                if (!streaming) {
                    send_json(res, 200, c->run_to_end());
                } else {
                    res.set_header("Cache-Control", "no-cache");
                    res.set_header("X-Accel-Buffering", "no");
                    res.set_chunked_content_provider(
                        "text/event-stream",
                        [c](size_t, httplib::DataSink& sink) {
                            bool ok = c->stream([&sink](const std::string& s) {
                                return sink.write(s.data(), s.size());
                            });
                            if (ok)
                                sink.done();
                            return ok;
                        },
                        [c](bool success) {
                            if (!success)
                                c->abandon();
                        });
                }
            } catch (const ApiError& e) {
                status = e.status;
                send_error(res, e);
            }
            metrics_.request(name, status);
        };
    };
    http_->Post("/v1/completions", completion(Endpoint::Completions, "/v1/completions"));
    http_->Post("/v1/chat/completions",
                completion(Endpoint::ChatCompletions, "/v1/chat/completions"));

    http_->Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
        Json data = Json::array();
        if (auto pool = scheduler_.pool())
            for (const hc::ModelCard& m : pool->models())
                data.push_back(model_object(m));
        send_json(res, 200, {{"object", "list"}, {"data", data}});
        metrics_.request("/v1/models", 200);
    });

    http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
        Json cards = Json::array();
        bool live = false;
        for (const CardGauge& g : scheduler_.gauges()) {
            live |= g.state == "live";
            cards.push_back({{"card", g.card},
                             {"model", g.model},
                             {"state", g.state},
                             {"sessions", g.sessions_active},
                             {"contexts", g.contexts}});
        }
        int status = live ? 200 : 503;
        send_json(res, status,
                  {{"status", live ? "ready" : "no live card"},
                   {"cards", cards},
                   {"queued", scheduler_.queued()}});
        metrics_.request("/health", status);
    });

    http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(metrics_.render(scheduler_.gauges(), scheduler_.queued()),
                        "text/plain; version=0.0.4; charset=utf-8");
    });

    http_->Get("/", [this](const httplib::Request&, httplib::Response& res) {
        res.set_content(std::string(kChatPage), "text/html; charset=utf-8");
        metrics_.request("/", 200);
    });

    // httplib's own refusals (no route, body too large, bad request line)
    // get an OpenAI error object too.
    http_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty())
            return;
        std::string what = res.status == 404   ? "no such endpoint"
                           : res.status == 413 ? "the request body is too large"
                                               : "bad request";
        send_json(res, res.status, ApiError(res.status, what).body());
    });
    http_->set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
            std::string what = "internal error";
            try {
                std::rethrow_exception(ep);
            } catch (const std::exception& e) {
                what = e.what();
            } catch (...) {
            }
            send_json(res, 500, ApiError(500, what).body());
        });
}

} // namespace hc1serve
