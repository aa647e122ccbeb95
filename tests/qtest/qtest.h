// A client of QEMU's qtest protocol (docs/devel/qtest.rst): QEMU runs with
// -accel qtest, no guest code executes, and this process plays the CPU:
// port I/O, memory reads and writes, and virtual clock steps.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hc1test {

class Qtest {
  public:
    // Starts @qemu with @args plus the qtest plumbing; throws on failure.
    Qtest(const std::string& qemu, const std::vector<std::string>& args);
    ~Qtest();
    Qtest(const Qtest&) = delete;
    Qtest& operator=(const Qtest&) = delete;

    uint32_t inl(uint16_t port);
    void outl(uint16_t port, uint32_t val);
    uint16_t inw(uint16_t port);
    void outw(uint16_t port, uint16_t val);
    uint32_t readl(uint64_t addr);
    void writel(uint64_t addr, uint32_t val);
    std::vector<uint8_t> read(uint64_t addr, size_t len);
    void write(uint64_t addr, std::span<const uint8_t> data);
    void memset(uint64_t addr, size_t len, uint8_t val);
    void clock_step(uint64_t ns);

    template <typename T> T read_obj(uint64_t addr) {
        T obj{};
        auto bytes = read(addr, sizeof(T));
        std::memcpy(&obj, bytes.data(), sizeof(T));
        return obj;
    }
    template <typename T> void write_obj(uint64_t addr, const T& obj) {
        write(addr, {reinterpret_cast<const uint8_t*>(&obj), sizeof(T)});
    }

    // One QMP command (JSON object text); returns QEMU's reply line, which
    // holds "return" or "error".
    std::string qmp(const std::string& json);

    // QEMU's stderr so far (for diagnostics).
    std::string log() const;

  private:
    std::string command(std::string_view cmd);
    uint64_t command_value(std::string_view cmd);

    std::string qmp_line();

    int fd_ = -1;
    int qmp_fd_ = -1;
    std::string qmp_buffer_;
    int pid_ = -1;
    std::string dir_;
    std::string buffer_;
};

// Runs @qemu with @args to completion (no qtest); returns exit status and
// fills @err with its stderr.
int run_qemu(const std::string& qemu, const std::vector<std::string>& args, std::string& err);

} // namespace hc1test
