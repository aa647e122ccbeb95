// Drives the hc1 device the way a driver would, from outside QEMU: PCI
// enumeration through 0xcf8/0xcfc, BAR and MSI-X programming, queues in
// guest RAM, doorbells and completion polling.
#pragma once

#include "qtest.h"

#include <hc1/hw.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace hc1test {

// Guest physical memory layout used by the tests (the machine has 256 MiB).
inline constexpr uint64_t kAdminSq = 0x00100000;
inline constexpr uint64_t kAdminCq = 0x00101000;
inline constexpr uint64_t kIoqBase = 0x00110000; // + qid * kIoqStride
inline constexpr uint64_t kIoqStride = 0x10000;  // SQ, then CQ at +0x8000
inline constexpr uint64_t kData = 0x00200000;    // 256 KiB scratch
inline constexpr uint64_t kPrompts = 0x00300000; // + ctx * 0x1000
inline constexpr uint64_t kRings = 0x00400000;   // + ctx * kRingStride
inline constexpr uint64_t kRingStride = 0x20000;
inline constexpr uint64_t kMsiArea = 0x00f00000; // vector v writes here + 4v
inline constexpr uint64_t kBar0 = 0xe0000000;
inline constexpr uint64_t kMsixBar = 0xe0100000;
inline constexpr uint64_t kOutsideRam = 0x4000000000ull; // 256 GiB: nothing

struct CardOptions {
    uint32_t contexts = 8;
    uint32_t queues = 4;
    uint32_t queue_entries = 64;
    uint32_t threads = 1;
    bool fault_inject = true;
    bool default_model = false;         // give no model: the card burns in its default
    std::string extra;                  // appended to -device
    std::vector<std::string> qemu_args; // more QEMU options (-trace, -D)
};

struct Generation {
    hc1_cqe cqe{};
    std::vector<uint32_t> tokens; // from the ring
    hc1_ring_header header{};
};

class Card {
  public:
    Card(const std::string& qemu, const std::string& model_dir, const CardOptions& opt = {});

    Qtest& qt() { return *qt_; }

    // PCI config space of the card.
    uint32_t cfg_read32(uint8_t off);
    void cfg_write32(uint8_t off, uint32_t val);
    uint16_t cfg_read16(uint8_t off);
    void cfg_write16(uint8_t off, uint16_t val);
    uint8_t devfn() const { return devfn_; }
    // After a system reset: program BARs, bus mastering and MSI-X again.
    void reattach();

    uint32_t reg(uint32_t off) { return qt_->readl(kBar0 + off); }
    void set_reg(uint32_t off, uint32_t val) { qt_->writel(kBar0 + off, val); }

    // Program the admin queue and set CC.EN; returns CSTS.
    uint32_t enable(uint32_t entries = 16);
    void disable();

    // Queue handling.
    void submit(uint16_t qid, const hc1_sqe& sqe);
    void ring_sq(uint16_t qid, uint32_t tail);
    std::optional<hc1_cqe> poll_cqe(uint16_t qid,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(30));
    hc1_cqe admin(const hc1_sqe& sqe);
    hc1_cqe io(uint16_t qid, const hc1_sqe& sqe);
    static uint16_t status(const hc1_cqe& c) { return c.status >> HC1_CQE_STATUS_SHIFT; }

    // Commands.
    hc1_cqe identify(hc1_model_card& card, uint64_t addr = kData);
    std::vector<uint8_t> read_vocab(uint32_t total);
    hc1_cqe create_ioq(uint16_t qid, uint32_t entries = 32, uint16_t vector = 0xffff,
                       uint8_t flags = 0);
    hc1_cqe delete_ioq(uint16_t qid);
    hc1_cqe get_stats(hc1_stats& st);
    hc1_cqe create_ctx(uint16_t qid, uint32_t ctx);
    hc1_cqe destroy_ctx(uint16_t qid, uint32_t ctx);
    hc1_cqe cancel(uint16_t qid, uint32_t ctx);

    hc1_sqe generate_sqe(uint32_t ctx, const std::vector<uint32_t>& prompt, uint32_t max_tokens,
                         uint8_t ring_shift = 9);
    // Submit a GENERATE (prompt written to guest RAM first), no waiting.
    void start_generate(uint16_t qid, const hc1_sqe& sqe, const std::vector<uint32_t>& prompt);
    // Read back the ring of @ctx for a generation that completed with @cqe.
    Generation collect(uint32_t ctx, const hc1_cqe& cqe, uint8_t ring_shift = 9);
    Generation generate(uint16_t qid, uint32_t ctx, const std::vector<uint32_t>& prompt,
                        uint32_t max_tokens);

    hc1_ring_header ring_header(uint32_t ctx);
    uint32_t msi_data(uint16_t vector) { return qt_->readl(kMsiArea + 4 * vector); }
    void clear_msi(uint16_t vector) { qt_->writel(kMsiArea + 4 * vector, 0); }
    uint16_t nvectors() const { return nvectors_; }

  private:
    struct Queue {
        uint64_t sq = 0, cq = 0;
        uint32_t sq_entries = 0, cq_entries = 0;
        uint32_t sq_tail = 0, cq_head = 0;
        uint16_t phase = 1;
    };

    uint32_t cfg_addr(uint8_t off) const;
    void find_device();
    void setup_msix();

    std::unique_ptr<Qtest> qt_;
    uint8_t devfn_ = 0;
    uint16_t nvectors_ = 0;
    uint16_t next_cid_ = 1;
    std::vector<Queue> queues_;
};

} // namespace hc1test
