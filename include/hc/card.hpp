// SPDX-License-Identifier: MIT
/**
 * @file hc/card.hpp
 * @brief Finding and opening HC1 cards; what a card is (model card, driver
 *        info, counters).
 */
#pragma once

#if __cplusplus < 202002L
#error "libhc's C++ headers need C++20: compile with -std=c++20 (hc::hc in CMake sets it)"
#endif

#include <hc/error.hpp>
#include <hc/tokenizer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hc {

class Session;

/** Driver feature bits (DriverInfo::features); mirror HC1_DRV_F_* of the UAPI. */
enum DriverFeature : uint64_t {
    kDriverUringCmd = 1ull << 0,    ///< io_uring passthrough (needed by EventLoop)
    kDriverMmapRing = 1ull << 1,    ///< token rings can be mmap()ed (needed by Session)
    kDriverPoll = 1ull << 2,        ///< read()/poll() streaming
    kDriverWaitBatch = 1ull << 3,   ///< WAIT for a whole coalescing batch (fewer wake-ups)
    kDriverRingOffsets = 1ull << 4, ///< the driver says where the mapped ring keeps its fields
};

/** Card feature bits (DriverInfo::hw_features, ModelCard::features); mirror HC1_CARD_F_*. */
enum CardFeature : uint32_t {
    kCardCoalesce = 1u << 0,     ///< interrupt coalescing
    kCardPolledQueues = 1u << 1, ///< queues without interrupts
    kCardInt8 = 1u << 2,         ///< int8 weights available
    kCardFaultInject = 1u << 3,  ///< fault injection for tests (debugfs fault_inject)
};

/** Weight formats (ModelCard::weight_format); mirror HC1_WEIGHTS_* of the UAPI. */
enum WeightFormat : uint32_t {
    kWeightsFp32 = 0,             ///< exact
    kWeightsInt8 = 1,             ///< int8, group-wise scales (ModelCard::group_size)
    kWeightsUnknown = 0xffffffff, ///< the card's is newer than the driver
};

/** KV-cache formats (ModelCard::kv_format); mirror HC1_KV_* of the UAPI. */
enum KvFormat : uint32_t {
    kKvF32 = 0,              ///< exact (the default)
    kKvF16 = 1,              ///< IEEE half
    kKvInt8 = 2,             ///< int8, one scale per position and KV head
    kKvUnknown = 0xffffffff, ///< the card's is newer than the driver
};

/**
 * DriverInfo - what the driver reports about itself and the card
 * (HC1_IOCTL_INFO).
 */
struct DriverInfo {
    uint32_t uapi_version = 0; ///< HC1_UAPI_VERSION of the driver
    uint64_t features = 0;     ///< DriverFeature bits
    uint32_t hw_version = 0;   ///< card contract version, major << 16 | minor (informative)
    uint32_t hw_features = 0;  ///< CardFeature bits of the card
    uint32_t index = 0;        ///< N of /dev/hc/N
    uint32_t n_contexts = 0;   ///< sessions the card holds at once
    uint32_t context_len = 0;  ///< positions per session (prompt + output)
    uint32_t vocab_size = 0;   ///< tokens in the vocabulary
    uint32_t vocab_bytes = 0;  ///< size of the vocabulary blob
    uint32_t bos_id = 0;       ///< beginning-of-sequence token
    uint32_t eos_id = 0;       ///< end-of-sequence token
    uint32_t ring_shift = 0;   ///< a session's ring holds 2^ring_shift tokens
    uint32_t max_stop = 0;     ///< stop tokens per generation
};

/**
 * ModelCard - the identity of the model burned into the card
 * (HC1_IOCTL_IDENTIFY, struct hc1_identity).
 */
struct HC_API ModelCard {
    uint32_t version = 0;  ///< card contract version, major << 16 | minor (informative)
    uint32_t features = 0; ///< CardFeature bits
    std::string name;      ///< model name, e.g. "stories260K"
    std::string arch;      ///< architecture, e.g. "llama"
    uint32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0;
    uint32_t vocab_size = 0, context_len = 0, bos_id = 0, eos_id = 0;
    uint32_t weight_format = 0; ///< WeightFormat of the burned weights
    uint32_t group_size = 0;    ///< int8 quantisation group, 0 for fp32
    uint32_t n_contexts = 0, max_queues = 0, max_queue_entries = 0;
    uint32_t vocab_bytes = 0;
    /// KvFormat of the card's KV caches (a property it is built with, like
    /// its weight format); kKvF32 from a driver that does not report it.
    /// Placed where the struct had padding, so its size and every other
    /// field's offset are those of libhc 0.1.0 (programs built against it
    /// copy ModelCards, e.g. Pool::models()'s vector).
    uint32_t kv_format = kKvF32;
    uint64_t n_params = 0;            ///< parameters in the model
    uint64_t weight_bytes = 0;        ///< bytes of burned weights
    std::array<uint8_t, 32> sha256{}; ///< SHA-256 of the burned weights
    uint32_t msix_vectors = 0, max_stop = 0;

    /**
     * "fp32" or "int8"; "unknown" (kWeightsUnknown) for a card's format the
     * driver does not know, "format N" for one libhc does not know.
     */
    std::string weight_format_name() const;
    /**
     * "f32", "f16" or "int8"; "unknown" (kKvUnknown) for a card's format the
     * driver does not know, "format N" for one libhc does not know.
     */
    std::string kv_format_name() const;
    /** sha256 as 64 lower-case hex digits. */
    std::string sha256_hex() const;
};

/** Stats - card counters since its last reset (HC1_IOCTL_STATS, struct hc1_card_stats). */
struct Stats {
    uint32_t active_contexts = 0; ///< contexts (sessions) alive now
    uint32_t running = 0;         ///< generations in progress now
    uint64_t commands = 0;        ///< commands the card completed
    uint64_t errors = 0;          ///< of which failed
    uint64_t generations = 0;     ///< generations completed
    uint64_t cancelled = 0;       ///< generations ended by cancel
    uint64_t prompt_tokens = 0;   ///< prompt tokens consumed
    uint64_t tokens = 0;          ///< tokens generated and delivered
    uint64_t interrupts = 0;      ///< MSI-X messages sent
    uint64_t busy_ns = 0;         ///< time the engine spent computing
    uint64_t uptime_ns = 0;       ///< time since the card was enabled
    uint64_t reg_errors = 0;      ///< ignored bad register writes
};

/**
 * device_paths - the device nodes of every HC1 card the driver exposes
 *
 * Returns "/dev/hc/N" paths sorted by N; empty if the driver is not loaded or
 * no card is bound.  Never throws for a missing directory.
 */
HC_API std::vector<std::string> device_paths();

/** device_path - "/dev/hc/N" for card @p index. */
HC_API std::string device_path(unsigned index);

/** driver_loaded - whether hc1.ko is loaded (/sys/module/hc1 exists). */
HC_API bool driver_loaded();

/**
 * Card - an open HC1 card.
 *
 * Opening reads the driver info, the model card and the vocabulary, and
 * builds the tokenizer, so a Card knows everything to turn text into tokens
 * and back.  A Card holds one file descriptor for queries; each Session
 * opens its own (the driver ties a session to an open file).  Cards are
 * movable, not copyable; methods are safe to call from several threads
 * except reset().
 *
 * Errors (hc::Error::code()): ENOENT no such device node, EACCES no
 * permission (add the user to the device's group, see docs/hcctl.md),
 * ENOTTY the node is not an HC1 device, EPROTO the driver speaks an
 * incompatible UAPI or the vocabulary is malformed.
 */
class HC_API Card {
  public:
    /** Open card N (/dev/hc/N). */
    static Card open(unsigned index);
    /** Open the card at a device path, or "N" as a shorthand for /dev/hc/N. */
    static Card open(std::string_view path);

    Card(Card&&) noexcept;
    Card& operator=(Card&&) noexcept;
    ~Card();

    /** Device node this card was opened from. */
    const std::string& path() const;
    /** Driver and card limits (read at open). */
    const DriverInfo& info() const;
    /** The model card (read at open). */
    const ModelCard& model() const;
    /** The tokenizer built from the card's vocabulary. */
    const Tokenizer& tokenizer() const;
    /** Read the card's counters now. */
    Stats stats() const;
    /**
     * Reset the card: every running generation on it fails (ECANCELED or
     * EIO) and every session must be recreated.  Needs CAP_SYS_ADMIN (EPERM
     * otherwise).
     */
    void reset();
    /** Start a session on this card (claims one of info().n_contexts). */
    Session session() const;
    /** The driver's sysfs directory of this card, /sys/class/hc1/hcN. */
    std::string sysfs_dir() const;
    /**
     * A sysfs attribute of the card (e.g. "state": live, resetting, failed,
     * dead; "sessions"; "io_queues"; "stats/tokens"), without the trailing
     * newline; "" if the driver does not expose it.
     */
    std::string attribute(std::string_view name) const;
    /** PCI address of the card ("0000:01:00.0"), "" if sysfs does not say. */
    std::string pci_address() const;
    /** Query file descriptor (for poll or fdinfo); owned by the Card. */
    int fd() const;

  private:
    struct Impl;
    HC_LOCAL explicit Card(std::shared_ptr<Impl> impl);
    // Shared with every Session of the card: they need its info and tokenizer.
    std::shared_ptr<Impl> impl_;
    friend class Session;
    friend class Pool; // hands out the cards it holds open
};

} // namespace hc
