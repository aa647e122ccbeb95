// SPDX-License-Identifier: MIT
// hc1-serve: the host's HC1 cards behind an OpenAI-compatible HTTP API.
#include "server.hpp"

#include <hc/version.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <getopt.h>
#include <pthread.h>
#include <string>
#include <thread>

namespace {

void usage(FILE* out) {
    std::fputs(
        "usage: hc1-serve [options]\n"
        "Serve every HC1 card of this host over an OpenAI-compatible HTTP API:\n"
        "POST /v1/completions, POST /v1/chat/completions, GET /v1/models,\n"
        "GET /health, GET /metrics (Prometheus) and a chat page at /.\n"
        "\n"
        "  --listen HOST:PORT     address to bind (default 127.0.0.1:8080; 0.0.0.0 for\n"
        "                         every interface: there is no authentication)\n"
        "  --max-queue N          requests that may wait for a free context (default 256);\n"
        "                         one more gets 503 with Retry-After\n"
        "  --max-body BYTES       largest request body (default 1048576)\n"
        "  --request-timeout SEC  longest a request may wait and generate (default 300)\n"
        "  --io-timeout SEC       longest a read of a request or a write may stall (default 30)\n"
        "  --keep-idle MS         keep an ended generation's session (its card context) open\n"
        "                         this long for the next request (default 2000; 0: close it)\n"
        "  --threads N            HTTP worker threads, one per open stream (default\n"
        "                         max-queue + 80)\n"
        "  --version              print the version\n"
        "  --help                 this text\n"
        "\n"
        "The server needs read-write access to /dev/hc/* (the hc1 group) and no other\n"
        "privilege; it waits for cards if none is present. See hc1-serve(8), docs/serve.md.\n",
        out);
}

[[noreturn]] void fail(const std::string& msg) {
    std::fprintf(stderr, "hc1-serve: %s\n", msg.c_str());
    std::exit(2);
}

unsigned long number(const char* arg, const char* opt, unsigned long lo, unsigned long hi) {
    char* end = nullptr;
    errno = 0;
    unsigned long v = std::strtoul(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi || arg[0] == '-')
        fail(std::string("--") + opt + ": expected a number from " + std::to_string(lo) + " to " +
             std::to_string(hi) + ", got '" + arg + "'");
    return v;
}

} // namespace

int main(int argc, char** argv) {
    hc1serve::ServerOptions opts;
    static const option longopts[] = {
        {"listen", required_argument, nullptr, 'l'},
        {"max-queue", required_argument, nullptr, 'q'},
        {"max-body", required_argument, nullptr, 'b'},
        {"request-timeout", required_argument, nullptr, 't'},
        {"io-timeout", required_argument, nullptr, 'i'},
        {"threads", required_argument, nullptr, 'j'},
        {"keep-idle", required_argument, nullptr, 'k'},
        {"version", no_argument, nullptr, 'V'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    for (int c; (c = getopt_long(argc, argv, "h", longopts, nullptr)) != -1;) {
        switch (c) {
        case 'l': {
            std::string a = optarg;
            size_t colon = a.rfind(':');
            if (colon == std::string::npos || colon == 0)
                fail("--listen: expected HOST:PORT, got '" + a + "'");
            opts.host = a.substr(0, colon);
            opts.port = static_cast<int>(number(a.c_str() + colon + 1, "listen", 1, 65535));
            break;
        }
        case 'q':
            opts.max_queue = number(optarg, "max-queue", 0, 1 << 20);
            break;
        case 'b':
            opts.max_body = number(optarg, "max-body", 1024, 1ul << 30);
            break;
        case 't':
            opts.request_timeout =
                std::chrono::seconds(number(optarg, "request-timeout", 1, 86400));
            break;
        case 'i':
            opts.io_timeout = std::chrono::seconds(number(optarg, "io-timeout", 1, 3600));
            break;
        case 'k':
            opts.keep_idle = std::chrono::milliseconds(number(optarg, "keep-idle", 0, 3600000));
            break;
        case 'j':
            opts.threads = number(optarg, "threads", 2, 65536);
            break;
        case 'V':
            std::printf("hc1-serve %s\n", hc::version());
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc)
        fail(std::string("unexpected argument '") + argv[optind] + "'");

    // A client that closes mid-write is an EPIPE to handle, not a signal.
    std::signal(SIGPIPE, SIG_IGN);
    // SIGINT and SIGTERM are taken by one thread, which stops the server;
    // every other thread (created after this) has them blocked.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    hc1serve::Server server(opts);
    std::thread signals([&server, stop_signals] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        std::fprintf(stderr, "hc1-serve: %s, stopping\n", strsignal(sig));
        server.stop();
    });
    std::fprintf(stderr, "hc1-serve: listening on http://%s:%d\n", opts.host.c_str(), opts.port);
    bool ok = server.listen();
    int err = errno;
    if (!ok) {
        std::fprintf(stderr, "hc1-serve: cannot listen on %s:%d: %s\n", opts.host.c_str(),
                     opts.port, std::strerror(err));
        std::_Exit(1);
    }
    signals.join();
    return 0;
}
