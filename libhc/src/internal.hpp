// SPDX-License-Identifier: MIT
// libhc internals shared by its translation units: the Card and Session
// state, and thin syscall wrappers.  Not installed.
#pragma once

#include <hc/card.hpp>
#include <hc/session.hpp>

#include <linux/hc1.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

// The public headers name the contract's values in C++ terms so that they
// need no kernel header; pin every such mirror to the one definition.
static_assert(hc::kDriverUringCmd == HC1_DRV_F_URING_CMD);
static_assert(hc::kDriverMmapRing == HC1_DRV_F_MMAP_RING);
static_assert(hc::kDriverPoll == HC1_DRV_F_POLL);
static_assert(hc::kDriverWaitBatch == HC1_DRV_F_WAIT_BATCH);
static_assert(hc::kDriverRingOffsets == HC1_DRV_F_RING_OFFSETS);
static_assert(hc::kCardCoalesce == HC1_CARD_F_COALESCE);
static_assert(hc::kCardPolledQueues == HC1_CARD_F_POLLED_QUEUES);
static_assert(hc::kCardInt8 == HC1_CARD_F_INT8);
static_assert(hc::kCardFaultInject == HC1_CARD_F_FAULT_INJECT);
static_assert(hc::kWeightsFp32 == HC1_WEIGHTS_FP32);
static_assert(hc::kWeightsInt8 == HC1_WEIGHTS_INT8);
static_assert(hc::kWeightsUnknown == HC1_WEIGHTS_UNKNOWN);
static_assert(hc::kKvF32 == HC1_KV_F32);
static_assert(hc::kKvF16 == HC1_KV_F16);
static_assert(hc::kKvInt8 == HC1_KV_INT8);
static_assert(hc::kKvUnknown == HC1_KV_UNKNOWN);
static_assert(uint32_t(hc::Finish::None) == HC1_END_NONE);
static_assert(uint32_t(hc::Finish::Eos) == HC1_END_EOS);
static_assert(uint32_t(hc::Finish::Stop) == HC1_END_STOP);
static_assert(uint32_t(hc::Finish::Length) == HC1_END_LENGTH);
static_assert(uint32_t(hc::Finish::Context) == HC1_END_CONTEXT);
static_assert(uint32_t(hc::Finish::Cancelled) == HC1_END_CANCELLED);

namespace hc::detail {

[[noreturn]] void throw_error(int code, const std::string& message);

// ioctl() that retries EINTR; 0 or -errno.
int do_ioctl(int fd, unsigned long request, void* arg);

// An owned file descriptor.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.release()) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = o.release();
        }
        return *this;
    }
    ~Fd() { reset(); }
    int get() const { return fd_; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }
    void reset() {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

  private:
    int fd_ = -1;
};

// Open @path as an HC1 node and read its driver info; throws.
Fd open_device(const std::string& path, DriverInfo& info);

using Clock = std::chrono::steady_clock;

// Milliseconds left until @deadline for a WAIT (at least 1, 0 = no deadline).
uint32_t wait_timeout_ms(const std::optional<Clock::time_point>& deadline);

// Fill a struct hc1_generate from options; throws EINVAL for bad ones.
hc1_generate make_generate(std::span<const uint32_t> prompt, const GenerateOptions& opts,
                           const DriverInfo& info, uint32_t ring_capacity);

} // namespace hc::detail

namespace hc {

struct HC_LOCAL Card::Impl {
    std::string path;
    detail::Fd fd;
    DriverInfo info;
    ModelCard model;
    std::optional<Tokenizer> tokenizer;
};

// A session's file, context and mapped ring.  Shared by the Session that made
// it and by an EventLoop job running on it: the kernel may still be writing
// a job's arguments and reading its ring when the Session goes, so the job
// keeps the file and the mapping alive until its last command completed.
struct HC_LOCAL Session::State {
    std::shared_ptr<const Card::Impl> card;
    detail::Fd fd;
    uint32_t ctx = 0;
    uint32_t ring_shift = 0;
    size_t map_len = 0;
    void* map = nullptr;
    // The ring's words, where the driver's hc1_ring_offsets put them.
    const uint32_t* produced = nullptr;
    const uint32_t* finish = nullptr;
    const uint32_t* n_prompt = nullptr;
    const uint32_t* slots = nullptr;

    // The generation being read by next() (blocking form).
    bool running = false;   // started and not yet read to the end
    bool in_loop = false;   // owned by an EventLoop
    bool done = false;      // the card said the generation is over
    uint32_t available = 0; // tokens known to be in the ring
    uint32_t copied = 0;    // of which copied into batch
    // Tokens are copied out of the ring right after the driver vouched for
    // the session, so the caller never touches the mapping while it works
    // on them: a card that goes away zaps the mapping.
    std::vector<uint32_t> batch;
    size_t batch_pos = 0;
    std::optional<detail::Clock::time_point> deadline;
    Result result;

    // The Session is gone while an EventLoop job still runs on it: the job
    // was cancelled, and hands no tokens to its handler any more.
    std::atomic<bool> orphaned{false};

    ~State();
    uint32_t capacity() const { return 1u << ring_shift; }
    uint32_t mask() const { return capacity() - 1; }
    uint32_t token_at(uint32_t i) const {
        return __atomic_load_n(&slots[i & mask()], __ATOMIC_RELAXED);
    }
    // Copy ring slots [from, to) to @out (replacing its contents).
    void copy_tokens(uint32_t from, uint32_t to, std::vector<uint32_t>& out) const {
        out.resize(to - from);
        for (uint32_t i = from; i < to; i++)
            out[i - from] = token_at(i);
    }
    uint32_t load_produced() const { return __atomic_load_n(produced, __ATOMIC_ACQUIRE); }
    uint32_t load_finish() const { return __atomic_load_n(finish, __ATOMIC_RELAXED); }
    uint32_t load_n_prompt() const { return __atomic_load_n(n_prompt, __ATOMIC_RELAXED); }
    int cancel_ioctl();
    // ioctls made for this session (GENERATE, WAIT, CANCEL); atomic because
    // cancel() may come from another thread.
    std::atomic<uint64_t> syscalls{0};
};

// What a Session object owns: its reference to the state.
struct HC_LOCAL Session::Impl {
    std::shared_ptr<Session::State> state;
    explicit Impl(std::shared_ptr<Session::State> s) : state(std::move(s)) {}
    // Destroying or move-assigning over a Session with an EventLoop job in
    // flight cancels the job; the loop's reference keeps the state alive
    // until the kernel is done with it.
    ~Impl();
};

} // namespace hc
