#include "qtest.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace hc1test {

namespace {

std::runtime_error sys_error(const std::string& what) {
    return std::runtime_error(what + ": " + std::strerror(errno));
}

std::string hex(uint64_t v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

int spawn(const std::string& qemu, const std::vector<std::string>& args,
          const std::string& err_path) {
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(qemu.c_str()));
    for (const auto& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    pid_t pid = fork();
    if (pid < 0)
        throw sys_error("fork");
    if (pid == 0) {
        int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDWR);
        if (err >= 0)
            dup2(err, 2);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        execv(qemu.c_str(), argv.data());
        _exit(127);
    }
    return pid;
}

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

Qtest::Qtest(const std::string& qemu, const std::vector<std::string>& args) {
    char tmpl[] = "/tmp/hc1-qtest-XXXXXX";
    if (!mkdtemp(tmpl))
        throw sys_error("mkdtemp");
    dir_ = tmpl;
    const std::string sock_path = dir_ + "/qtest.sock";

    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        throw sys_error("socket");
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", sock_path.c_str());
    if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0 || listen(lfd, 1) < 0) {
        close(lfd);
        throw sys_error("bind/listen " + sock_path);
    }

    std::vector<std::string> full = {"-accel",
                                     "qtest",
                                     "-qtest",
                                     "unix:" + sock_path,
                                     "-display",
                                     "none",
                                     "-nodefaults",
                                     "-serial",
                                     "none",
                                     "-monitor",
                                     "none",
                                     "-qmp",
                                     "unix:" + dir_ + "/qmp.sock,server=on,wait=off"};
    full.insert(full.end(), args.begin(), args.end());
    pid_ = spawn(qemu, full, dir_ + "/stderr");

    // QEMU connects once it has parsed its options and realized devices
    // (loading the model); give up if it exits first.
    for (int waited_ms = 0;; waited_ms += 50) {
        pollfd pfd{lfd, POLLIN, 0};
        if (poll(&pfd, 1, 50) > 0) {
            fd_ = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            break;
        }
        int status;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            close(lfd);
            throw std::runtime_error("QEMU exited before connecting: " + log());
        }
        if (waited_ms > 60000) {
            close(lfd);
            throw std::runtime_error("QEMU did not connect within 60 s: " + log());
        }
    }
    close(lfd);
    if (fd_ < 0)
        throw sys_error("accept");
}

Qtest::~Qtest() {
    if (fd_ >= 0)
        close(fd_);
    if (qmp_fd_ >= 0)
        close(qmp_fd_);
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        for (int i = 0; i < 250; i++) {
            int status;
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                break;
            }
            usleep(20000);
        }
        if (pid_ > 0) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
    }
    std::remove((dir_ + "/qtest.sock").c_str());
    std::remove((dir_ + "/stderr").c_str());
    std::remove((dir_ + "/qmp.sock").c_str());
    rmdir(dir_.c_str());
}

std::string Qtest::log() const {
    return slurp(dir_ + "/stderr");
}

std::string Qtest::command(std::string_view cmd) {
    std::string line(cmd);
    line += '\n';
    for (size_t off = 0; off < line.size();) {
        ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw sys_error("qtest write");
        off += n;
    }
    for (;;) {
        size_t nl = buffer_.find('\n');
        if (nl != std::string::npos) {
            std::string reply = buffer_.substr(0, nl);
            buffer_.erase(0, nl + 1);
            // Asynchronous IRQ notifications are not requested; skip any.
            if (reply.rfind("IRQ", 0) == 0)
                continue;
            if (reply.rfind("OK", 0) != 0)
                throw std::runtime_error("qtest: '" + std::string(cmd) + "' -> '" + reply + "'");
            return reply.size() > 3 ? reply.substr(3) : "";
        }
        char buf[65536];
        ssize_t n = ::read(fd_, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw std::runtime_error("qtest: QEMU went away: " + log());
        buffer_.append(buf, n);
    }
}

uint64_t Qtest::command_value(std::string_view cmd) {
    return std::stoull(command(cmd), nullptr, 0);
}

uint32_t Qtest::inl(uint16_t port) {
    return command_value("inl " + hex(port));
}

void Qtest::outl(uint16_t port, uint32_t val) {
    command("outl " + hex(port) + " " + hex(val));
}

uint16_t Qtest::inw(uint16_t port) {
    return command_value("inw " + hex(port));
}

void Qtest::outw(uint16_t port, uint16_t val) {
    command("outw " + hex(port) + " " + hex(val));
}

uint32_t Qtest::readl(uint64_t addr) {
    return command_value("readl " + hex(addr));
}

void Qtest::writel(uint64_t addr, uint32_t val) {
    command("writel " + hex(addr) + " " + hex(val));
}

std::vector<uint8_t> Qtest::read(uint64_t addr, size_t len) {
    std::vector<uint8_t> out(len);
    if (!len)
        return out;
    std::string reply = command("read " + hex(addr) + " " + hex(len));
    if (reply.size() != 2 + 2 * len)
        throw std::runtime_error("qtest: short read reply");
    for (size_t i = 0; i < len; i++)
        out[i] = std::stoul(reply.substr(2 + 2 * i, 2), nullptr, 16);
    return out;
}

void Qtest::write(uint64_t addr, std::span<const uint8_t> data) {
    if (data.empty())
        return;
    std::string cmd = "write " + hex(addr) + " " + hex(data.size()) + " 0x";
    static const char digits[] = "0123456789abcdef";
    for (uint8_t b : data) {
        cmd += digits[b >> 4];
        cmd += digits[b & 15];
    }
    command(cmd);
}

void Qtest::memset(uint64_t addr, size_t len, uint8_t val) {
    command("memset " + hex(addr) + " " + hex(len) + " " + hex(val));
}

void Qtest::clock_step(uint64_t ns) {
    command("clock_step " + std::to_string(ns));
}

std::string Qtest::qmp_line() {
    for (;;) {
        size_t nl = qmp_buffer_.find('\n');
        if (nl != std::string::npos) {
            std::string line = qmp_buffer_.substr(0, nl);
            qmp_buffer_.erase(0, nl + 1);
            return line;
        }
        char buf[4096];
        ssize_t n = ::read(qmp_fd_, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            throw std::runtime_error("QMP: QEMU went away: " + log());
        qmp_buffer_.append(buf, n);
    }
}

std::string Qtest::qmp(const std::string& json) {
    if (qmp_fd_ < 0) {
        qmp_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/qmp.sock", dir_.c_str());
        if (qmp_fd_ < 0 || connect(qmp_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)))
            throw sys_error("QMP connect");
        qmp_line(); // greeting
        qmp("{\"execute\": \"qmp_capabilities\"}");
    }
    std::string line = json + "\n";
    if (::write(qmp_fd_, line.data(), line.size()) != ssize_t(line.size()))
        throw sys_error("QMP write");
    for (;;) {
        std::string reply = qmp_line();
        if (reply.find("\"return\"") != std::string::npos ||
            reply.find("\"error\"") != std::string::npos)
            return reply;
        // Skip asynchronous events.
    }
}

int run_qemu(const std::string& qemu, const std::vector<std::string>& args, std::string& err) {
    char tmpl[] = "/tmp/hc1-qemu-err-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        throw sys_error("mkstemp");
    close(fd);
    pid_t pid = spawn(qemu, args, tmpl);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (waitpid(pid, &status, WNOHANG) != pid) {
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        usleep(20000);
    }
    err = slurp(tmpl);
    std::remove(tmpl);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

} // namespace hc1test
