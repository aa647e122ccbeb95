// SPDX-License-Identifier: MIT
// Sessions and the blocking reader of a session's token ring.
#include "internal.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <sys/mman.h>

namespace hc {

const char* to_string(Finish finish) {
    switch (finish) {
    case Finish::Eos:
        return "eos";
    case Finish::Stop:
        return "stop";
    case Finish::Length:
        return "length";
    case Finish::Context:
        return "context";
    case Finish::Cancelled:
        return "cancelled";
    case Finish::None:
        break;
    }
    return "none";
}

namespace detail {

uint32_t wait_timeout_ms(const std::optional<Clock::time_point>& deadline) {
    if (!deadline)
        return 0;
    auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
    return static_cast<uint32_t>(std::clamp<long long>(left, 1, UINT32_MAX));
}

namespace {
uint32_t milli(float v, const char* what) {
    if (!(v >= 0.0f) || v > 1e6f)
        throw_error(EINVAL, std::string(what) + " must be >= 0");
    return static_cast<uint32_t>(std::lround(v * 1000.0f));
}
} // namespace

hc1_generate make_generate(std::span<const uint32_t> prompt, const GenerateOptions& opts,
                           const DriverInfo& info, uint32_t ring_capacity) {
    if (prompt.empty() && !opts.keep_context)
        throw_error(EINVAL, "generate: empty prompt (only a continued context may have none)");
    if (prompt.size() > info.context_len)
        throw_error(EINVAL, "generate: prompt of " + std::to_string(prompt.size()) +
                                " tokens exceeds the context of " +
                                std::to_string(info.context_len));
    if (opts.stop_tokens.size() > std::min<size_t>(info.max_stop, 4))
        throw_error(EINVAL,
                    "generate: more than " + std::to_string(info.max_stop) + " stop tokens");
    if (opts.max_tokens > ring_capacity)
        throw_error(EINVAL, "generate: max_tokens " + std::to_string(opts.max_tokens) +
                                " exceeds the ring's " + std::to_string(ring_capacity));
    for (uint32_t t : prompt)
        if (t >= info.vocab_size)
            throw_error(EINVAL, "generate: token " + std::to_string(t) + " outside the vocabulary");
    hc1_generate g{};
    g.size = sizeof(g);
    g.flags = (opts.keep_context ? HC1_GENERATE_CONTINUE : 0) |
              (opts.ignore_eos ? HC1_GENERATE_IGNORE_EOS : 0);
    g.prompt = reinterpret_cast<uintptr_t>(prompt.data());
    g.n_prompt = static_cast<uint32_t>(prompt.size());
    g.max_tokens = opts.max_tokens;
    g.temperature_milli = milli(opts.temperature, "temperature");
    if (g.temperature_milli > 0xffff)
        throw_error(EINVAL, "generate: temperature above 65.535");
    if (opts.top_k > std::min<uint32_t>(info.vocab_size, 0xffff))
        throw_error(EINVAL, "generate: top_k above the vocabulary size");
    g.top_p_milli = opts.top_p >= 1.0f ? 0 : milli(opts.top_p, "top_p");
    g.top_k = opts.top_k;
    g.seed = opts.seed;
    g.n_stop = static_cast<uint32_t>(opts.stop_tokens.size());
    // Unused slots stay 0: the driver rejects anything else there.
    std::copy(opts.stop_tokens.begin(), opts.stop_tokens.end(), g.stop);
    return g;
}

} // namespace detail

Session::State::~State() {
    if (map)
        ::munmap(map, map_len);
    // Closing the fd cancels a running generation and frees the context.
}

int Session::State::cancel_ioctl() {
    syscalls++;
    return detail::do_ioctl(fd.get(), HC1_IOCTL_CANCEL, nullptr);
}

Session::Impl::~Impl() {
    // A blocking generation ends with the file, which closes with the last
    // reference; a loop's job holds one, so stop its generation here.
    if (state && state->in_loop) {
        state->orphaned = true;
        state->cancel_ioctl();
    }
}

Session Card::session() const {
    auto s = std::make_shared<Session::State>();
    s->card = impl_;
    const std::string& path = impl_->path;
    DriverInfo info;
    s->fd = detail::open_device(path, info);
    if (!(info.features & kDriverMmapRing))
        detail::throw_error(EOPNOTSUPP, path + ": driver cannot map token rings");
    hc1_session hs{};
    hs.size = sizeof(hs);
    if (int r = detail::do_ioctl(s->fd.get(), HC1_IOCTL_SESSION_CREATE, &hs); r < 0)
        detail::throw_error(-r, "create a session on " + path);
    // A driver without the feature maps the layout the UAPI first had.
    hc1_ring_offsets off = hs.offsets;
    if (!(info.features & kDriverRingOffsets))
        off = hc1_ring_offsets{.produced = HC1_RING_V1_PRODUCED,
                               .state = HC1_RING_V1_STATE,
                               .finish = HC1_RING_V1_FINISH,
                               .n_prompt = HC1_RING_V1_N_PROMPT,
                               .slots = HC1_RING_V1_SLOTS,
                               .resv = {}};
    auto word_fits = [&](uint64_t at) { return at % 4 == 0 && at + 4 <= hs.ring_bytes; };
    if (hs.ring_shift >= 31 || !word_fits(off.produced) || !word_fits(off.state) ||
        !word_fits(off.finish) || !word_fits(off.n_prompt) || off.slots % 4 != 0 ||
        off.slots + (uint64_t{4} << hs.ring_shift) > hs.ring_bytes)
        detail::throw_error(EPROTO, path + ": driver reports a ring of 2^" +
                                        std::to_string(hs.ring_shift) + " slots at " +
                                        std::to_string(off.slots) + " in " +
                                        std::to_string(hs.ring_bytes) + " bytes");
    s->ctx = hs.ctx;
    s->ring_shift = hs.ring_shift;
    s->map_len = hs.ring_bytes;
    void* m = ::mmap(nullptr, s->map_len, PROT_READ, MAP_SHARED, s->fd.get(), 0);
    if (m == MAP_FAILED)
        detail::throw_error(errno, "map the token ring of " + path);
    s->map = m;
    auto word = [m](uint32_t at) {
        return reinterpret_cast<const uint32_t*>(static_cast<const char*>(m) + at);
    };
    s->produced = word(off.produced);
    s->finish = word(off.finish);
    s->n_prompt = word(off.n_prompt);
    s->slots = word(off.slots);
    return Session(std::make_unique<Session::Impl>(std::move(s)));
}

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

const Tokenizer& Session::tokenizer() const {
    return *impl_->state->card->tokenizer;
}
const DriverInfo& Session::info() const {
    return impl_->state->card->info;
}
uint32_t Session::context() const {
    return impl_->state->ctx;
}
uint32_t Session::ring_capacity() const {
    return impl_->state->capacity();
}
int Session::fd() const {
    return impl_->state->fd.get();
}
const Result& Session::result() const {
    return impl_->state->result;
}
uint64_t Session::syscalls() const {
    return impl_->state->syscalls;
}
bool Session::running() const {
    return impl_->state->running;
}

void Session::start(std::span<const uint32_t> prompt, const GenerateOptions& opts) {
    Session::State& s = *impl_->state;
    if (s.running || s.in_loop)
        detail::throw_error(EBUSY, "start: the session is generating");
    hc1_generate g = detail::make_generate(prompt, opts, info(), s.capacity());
    s.syscalls++;
    if (int r = detail::do_ioctl(s.fd.get(), HC1_IOCTL_GENERATE, &g); r < 0)
        detail::throw_error(-r, "generate on " + s.card->path);
    s.running = true;
    s.done = false;
    s.available = s.copied = 0;
    s.batch.clear();
    s.batch_pos = 0;
    s.result = Result{};
    s.deadline.reset();
    if (opts.timeout.count() > 0)
        s.deadline = detail::Clock::now() + opts.timeout;
}

void Session::cancel() {
    if (int r = impl_->state->cancel_ioctl(); r < 0 && r != -ENOENT)
        detail::throw_error(-r, "cancel on " + impl_->state->card->path);
}

std::optional<uint32_t> Session::next() {
    Session::State& s = *impl_->state;
    if (!s.running)
        return std::nullopt;
    for (;;) {
        if (s.batch_pos < s.batch.size())
            return s.batch[s.batch_pos++];
        if (s.done) {
            s.running = false;
            return std::nullopt;
        }
        hc1_wait w{};
        w.size = sizeof(w);
        w.min_produced = s.available;
        // The first token is waited for alone (time to first token); after
        // it, a whole batch as the card coalesces them, so the interrupts
        // other sessions' batches raise do not wake this reader.
        if (s.available > 0 && (s.card->info.features & kDriverWaitBatch))
            w.flags = HC1_WAIT_BATCH;
        w.timeout_ms = detail::wait_timeout_ms(s.deadline);
        // Tokens trickling in must not extend the deadline: check it here,
        // not only through the WAIT's own timeout.
        bool expired = s.deadline && detail::Clock::now() >= *s.deadline;
        if (!expired)
            s.syscalls++;
        int r = expired ? -ETIMEDOUT : detail::do_ioctl(s.fd.get(), HC1_IOCTL_WAIT, &w);
        if (r == -ETIMEDOUT) {
            // Stop the card's work before reporting, so the session is
            // reusable and the context not left generating.
            s.cancel_ioctl();
            hc1_wait drain{};
            drain.size = sizeof(drain);
            drain.min_produced = s.capacity();
            drain.timeout_ms = 5000;
            detail::do_ioctl(s.fd.get(), HC1_IOCTL_WAIT, &drain);
            s.running = false;
            s.result.finish = Finish::Cancelled;
            detail::throw_error(ETIMEDOUT, "generation on " + s.card->path);
        }
        if (r < 0) {
            s.running = false;
            detail::throw_error(-r, "wait for tokens on " + s.card->path);
        }
        if (w.status < 0) {
            s.running = false;
            detail::throw_error(-w.status, "generation on " + s.card->path);
        }
        // The driver just vouched for this generation, so the ring header
        // is its own (not the previous one's) and the mapping is live: take
        // everything the ring holds now, including tokens that arrived
        // since the WAIT returned.  Reading the ring only here keeps a
        // card that vanishes (its mapping is zapped) from faulting us later.
        uint32_t produced = std::min(w.produced, s.capacity());
        if (w.state == HC1_GENERATION_DONE) {
            s.done = true;
            s.result.finish = static_cast<Finish>(w.finish);
            s.result.tokens = w.produced;
            s.result.prompt_tokens = s.load_n_prompt();
        } else {
            produced = std::max(produced, std::min(s.load_produced(), s.capacity()));
        }
        if (produced > s.copied) {
            s.copy_tokens(s.copied, produced, s.batch);
            s.batch_pos = 0;
            s.copied = s.available = produced;
        }
    }
}

TokenStream Session::tokens(std::span<const uint32_t> prompt, const GenerateOptions& opts) {
    start(prompt, opts);
    return TokenStream(*this);
}

std::vector<uint32_t> Session::encode_prompt(std::string_view text,
                                             const GenerateOptions& opts) const {
    return tokenizer().encode(text, !opts.keep_context);
}

TextStream Session::text(std::string_view prompt, const GenerateOptions& opts) {
    std::vector<uint32_t> p = encode_prompt(prompt, opts);
    start(p, opts);
    return TextStream(*this, p.empty() ? tokenizer().bos_id() : p.back());
}

Result Session::generate(std::span<const uint32_t> prompt, const GenerateOptions& opts,
                         const std::function<bool(uint32_t)>& on_token) {
    start(prompt, opts);
    bool stopped = false;
    try {
        while (auto t = next()) {
            if (!stopped && !on_token(*t)) {
                stopped = true;
                cancel(); // read on to the end so the session is idle again
            }
        }
    } catch (...) {
        if (impl_->state->running) {
            // The callback threw: stop the card and drain quietly.
            impl_->state->cancel_ioctl();
            try {
                while (next()) {
                }
            } catch (...) {
            }
        }
        throw;
    }
    Result r = result();
    // The caller asked to stop; whether the card finished first is a race
    // the caller should not have to see.
    if (stopped)
        r.finish = Finish::Cancelled;
    return r;
}

Result Session::generate(std::string_view prompt, const GenerateOptions& opts,
                         const std::function<bool(std::string_view)>& on_text) {
    std::vector<uint32_t> p = encode_prompt(prompt, opts);
    Detokenizer detok(tokenizer(), p.empty() ? tokenizer().bos_id() : p.back());
    Result r = generate(p, opts, [&](uint32_t t) {
        std::string piece = detok.push(t);
        return piece.empty() || on_text(piece);
    });
    if (std::string tail = detok.finish(); !tail.empty())
        on_text(tail);
    return r;
}

std::string Session::complete(std::string_view prompt, const GenerateOptions& opts) {
    std::string out;
    generate(prompt, opts, [&](std::string_view piece) {
        out.append(piece);
        return true;
    });
    return out;
}

} // namespace hc
