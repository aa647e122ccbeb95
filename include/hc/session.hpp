// SPDX-License-Identifier: MIT
/**
 * @file hc/session.hpp
 * @brief Sessions and blocking / callback generation.
 */
#pragma once

#if __cplusplus < 202002L
#error "libhc's C++ headers need C++20: compile with -std=c++20 (hc::hc in CMake sets it)"
#endif

#include <hc/card.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hc {

/** Why a generation ended (enum hc1_finish). */
enum class Finish : uint32_t {
    None = 0,      ///< not ended (or unknown)
    Eos = 1,       ///< the model produced end-of-sequence
    Stop = 2,      ///< a stop token was produced (it is delivered)
    Length = 3,    ///< max_tokens reached
    Context = 4,   ///< the session's context is full
    Cancelled = 5, ///< Session::cancel(), EventLoop::cancel() or a timeout
};

/** "eos", "stop", "length", "context", "cancelled" or "none". */
HC_API const char* to_string(Finish finish);

/** GenerateOptions - sampling and limits of one generation. */
struct GenerateOptions {
    /** Tokens to generate at most; 0 = as many as the session's ring holds. */
    uint32_t max_tokens = 0;
    /** Sampling temperature; 0 = greedy (argmax).  Resolution 0.001. */
    float temperature = 0.0f;
    /** Nucleus sampling threshold in (0, 1); 0 or >= 1 = off. */
    float top_p = 0.0f;
    /** Keep only the k most likely tokens; 0 = off. */
    uint32_t top_k = 0;
    /** Sampler seed: the same seed, options and prompt give the same tokens. */
    uint64_t seed = 0;
    /** Tokens that end the generation (delivered); at most DriverInfo::max_stop. */
    std::vector<uint32_t> stop_tokens;
    /** Do not stop at end-of-sequence. */
    bool ignore_eos = false;
    /** Keep the session's context (KV cache) and append: for chat turns. */
    bool keep_context = false;
    /** Fail with ETIMEDOUT (after cancelling) if the generation is not over by then; 0 = never. */
    std::chrono::milliseconds timeout{0};
};

/** Result - how a generation ended. */
struct Result {
    Finish finish = Finish::None;
    uint32_t prompt_tokens = 0; ///< prompt tokens the card consumed
    uint32_t tokens = 0;        ///< tokens generated
};

class TokenStream;
class TextStream;

/**
 * Session - one context (KV-cache slot) on a card and its token ring.
 *
 * A session runs one generation at a time.  Tokens are read from the ring
 * mapped into this process, so a blocking reader makes one syscall per batch
 * of tokens the card delivers (the driver coalesces), not one per token.
 *
 * Three ways to generate:
 *  - range-for over tokens(prompt, opts) (uint32_t) or text(prompt, opts)
 *    (std::string pieces that never split a UTF-8 character);
 *  - generate(prompt, opts, callback), the callback may return false to stop;
 *  - EventLoop::submit() for many sessions from one thread.
 *
 * cancel() may be called from any thread.  Destroying the session (or
 * move-assigning another over it) cancels what it runs and frees the
 * context, also while an EventLoop runs a generation on it (see
 * EventLoop).
 *
 * Errors: EBUSY (no free context on the card, or a generation is running),
 * EINVAL (bad option: too many stop tokens, prompt too long...), ETIMEDOUT,
 * EIO (the card failed, or was reset under the generation), ENODEV (the
 * card went away).  An EventLoop's on_done reports ECANCELED for a
 * generation whose session was destroyed or move-assigned over.
 */
class HC_API Session {
  public:
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;
    ~Session();

    /** The card's tokenizer. */
    const Tokenizer& tokenizer() const;
    /** The card's driver info. */
    const DriverInfo& info() const;
    /** Card context id backing this session. */
    uint32_t context() const;
    /** Tokens the ring holds (the max_tokens limit of one generation). */
    uint32_t ring_capacity() const;
    /** Session file descriptor (one per session; used by EventLoop). */
    int fd() const;

    /**
     * Start a generation and return at once; read its tokens with next().
     * Throws EBUSY if one is running.
     */
    void start(std::span<const uint32_t> prompt, const GenerateOptions& opts = {});
    /** Block for the next token; std::nullopt once the generation ended. */
    std::optional<uint32_t> next();
    /** How the last generation ended (valid once next() returned nullopt). */
    const Result& result() const;
    /**
     * ioctls this session has made (GENERATE, WAIT, CANCEL) since it was
     * created: divide by tokens for syscalls per token.  EventLoop
     * generations are counted by EventLoop::counters() instead.
     */
    uint64_t syscalls() const;
    /** Whether a generation started with start() is still being read. */
    bool running() const;
    /** Stop the running generation (no-op if none); safe from another thread. */
    void cancel();

    /** Start and iterate over the generated tokens (blocking). */
    TokenStream tokens(std::span<const uint32_t> prompt, const GenerateOptions& opts = {});
    /** Encode @p prompt, start, and iterate over the generated text pieces (blocking). */
    TextStream text(std::string_view prompt, const GenerateOptions& opts = {});
    /**
     * Encode @p prompt (BOS first, or none if opts.keep_context) and call
     * @p on_text with each piece of generated text; stop early if it returns
     * false.  A generation stopped that way reports Finish::Cancelled, even
     * if the card had already finished it when the cancel reached it.
     */
    Result generate(std::string_view prompt, const GenerateOptions& opts,
                    const std::function<bool(std::string_view text)>& on_text);
    /** Token form: @p on_token gets each generated token. */
    Result generate(std::span<const uint32_t> prompt, const GenerateOptions& opts,
                    const std::function<bool(uint32_t token)>& on_token);
    /** Generate and return the whole text: prompt in, continuation out. */
    std::string complete(std::string_view prompt, const GenerateOptions& opts = {});

    /** Prompt tokens for @p text: BOS + text unless continuing a context. */
    std::vector<uint32_t> encode_prompt(std::string_view text, const GenerateOptions& opts) const;

    struct Impl;
    struct State;

  private:
    HC_LOCAL explicit Session(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    friend class Card;
    friend class EventLoop;
};

/**
 * TokenStream - input range over a running generation's tokens.
 *
 *     for (uint32_t t : session.tokens(prompt)) ...
 *
 * Iteration blocks in Session::next(); errors throw hc::Error from operator++.
 * Leaving the loop early does not stop the generation: call cancel().
 */
class TokenStream {
  public:
    class iterator {
      public:
        using iterator_category = std::input_iterator_tag;
        using value_type = uint32_t;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(Session* s) : s_(s) { ++*this; }
        uint32_t operator*() const { return cur_; }
        iterator& operator++() {
            auto t = s_->next();
            if (t)
                cur_ = *t;
            else
                s_ = nullptr;
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(std::default_sentinel_t) const { return s_ == nullptr; }

      private:
        Session* s_ = nullptr;
        uint32_t cur_ = 0;
    };
    /** Iterate over @p s's running generation (started by Session::tokens()). */
    explicit TokenStream(Session& s) : s_(&s) {}
    /** Blocks for the first token. */
    iterator begin() { return iterator(s_); }
    /** Reached when the generation has ended. */
    std::default_sentinel_t end() { return {}; }

  private:
    Session* s_;
};

/**
 * TextStream - input range over the text of a running generation: each
 * element is a std::string holding whole UTF-8 characters (pieces whose
 * bytes are still incomplete are held back and merged into the next one).
 */
class TextStream {
  public:
    class iterator {
      public:
        using iterator_category = std::input_iterator_tag;
        using value_type = std::string;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(TextStream* ts) : ts_(ts) { ++*this; }
        const std::string& operator*() const { return cur_; }
        iterator& operator++() {
            if (!ts_->advance(cur_))
                ts_ = nullptr;
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(std::default_sentinel_t) const { return ts_ == nullptr; }

      private:
        TextStream* ts_ = nullptr;
        std::string cur_;
    };
    /** Iterate over @p s's running generation, decoding as if after token @p prev. */
    TextStream(Session& s, uint32_t prev) : s_(&s), detok_(s.tokenizer(), prev) {}
    /** Blocks for the first piece of text. */
    iterator begin() { return iterator(this); }
    /** Reached when the generation has ended and all text was flushed. */
    std::default_sentinel_t end() { return {}; }

  private:
    // Next non-empty piece into @p out; false at the end.
    bool advance(std::string& out) {
        while (!done_) {
            auto t = s_->next();
            out = t ? detok_.push(*t) : (done_ = true, detok_.finish());
            if (!out.empty())
                return true;
        }
        return false;
    }
    Session* s_;
    Detokenizer detok_;
    bool done_ = false;
};

} // namespace hc
