// SPDX-License-Identifier: MIT
// Many generations on one io_uring: GENERATE and WAIT as uring_cmds, tokens
// read from the mapped rings.
#include "internal.hpp"

#include <hc/event_loop.hpp>

#include <cerrno>
#include <cstring>
#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <unordered_map>
#include <vector>

namespace hc {

namespace {

enum class Op : uint64_t { Generate = 0, Wait = 1 };

// Job ids start at 1, so tag 0 is free for the wake-up eventfd's read.
constexpr uint64_t kWakeTag = 0;

// The user data of a job's command: its id and which of its two commands.
uint64_t tag(EventLoop::Id id, Op op) {
    return (id << 1) | static_cast<uint64_t>(op);
}

// One generation in flight.  Its argument structs live here because the
// driver reads them when it issues the command, which io_uring may do after
// submit() returns.
struct Job {
    EventLoop::Id id = 0;
    // Shared with the Session, which may be destroyed while the kernel still
    // reads this job's arguments and the device writes its ring.
    std::shared_ptr<Session::State> session;
    EventLoop::Handlers handlers;
    std::vector<uint32_t> prompt;
    hc1_generate gen{};
    hc1_wait wait{};
    std::optional<detail::Clock::time_point> deadline;
    uint32_t consumed = 0;
    std::vector<uint32_t> batch;
    bool generate_done = false;
    bool wait_armed = false;
    bool needs_wait = false; // re-arm the WAIT once this batch is handled
    bool timed_out = false;
    int generate_res = 0;
    int wait_error = 0;
};

} // namespace

struct EventLoop::Impl {
    io_uring ring{};
    std::unordered_map<Id, std::unique_ptr<Job>> jobs;
    std::vector<Job*> to_rearm;
    Id next_id = 1;
    Counters counters;
    // wake(): another thread writes the eventfd; a read of it is always in
    // the ring, so the write completes that read and ends the wait.
    detail::Fd wake_fd;
    uint64_t wake_value = 0;
    bool wake_armed = false;

    void arm_wake() {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_read(sqe, wake_fd.get(), &wake_value, sizeof(wake_value), 0);
        io_uring_sqe_set_data64(sqe, kWakeTag);
        wake_armed = true;
    }

    io_uring_sqe* get_sqe() {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        if (!sqe) {
            // SQ full: push it to the kernel to make room.
            counters.enters++;
            io_uring_submit(&ring);
            sqe = io_uring_get_sqe(&ring);
        }
        if (!sqe)
            detail::throw_error(EBUSY, "event loop: submission queue full");
        return sqe;
    }

    // What a CQE's user data names: the wake-up read (@wake), or command
    // @op of @job (null if that job is already gone).  The one decoder of
    // tag() for handle() and ~EventLoop, which must agree on it.
    struct Tagged {
        bool wake = false;
        Job* job = nullptr;
        Op op = Op::Generate;
    };
    Tagged decode(uint64_t data) {
        Tagged t;
        if (data == kWakeTag) {
            t.wake = true;
            return t;
        }
        t.op = static_cast<Op>(data & 1);
        if (auto it = jobs.find(data >> 1); it != jobs.end())
            t.job = it->second.get();
        return t;
    }

    // Note that @op of @job completed; true once no command of the job is
    // left in the kernel.
    static bool retire(Job& job, Op op) {
        if (op == Op::Wait)
            job.wait_armed = false;
        else
            job.generate_done = true;
        return job.generate_done && !job.wait_armed;
    }

    void prep_cmd(Job& job, Op op, uint32_t cmd_op, const void* arg, uint32_t len) {
        io_uring_sqe* sqe = get_sqe();
        io_uring_prep_rw(IORING_OP_URING_CMD, sqe, job.session->fd.get(), nullptr, 0, 0);
        sqe->cmd_op = cmd_op;
        hc1_uring_cmd payload{};
        payload.addr = reinterpret_cast<uintptr_t>(arg);
        payload.len = len;
        std::memcpy(sqe->cmd, &payload, sizeof(payload));
        io_uring_sqe_set_data64(sqe, tag(job.id, op));
    }

    void arm_wait(Job& job) {
        job.wait = hc1_wait{};
        job.wait.size = sizeof(job.wait);
        job.wait.min_produced = job.consumed;
        job.wait.timeout_ms = detail::wait_timeout_ms(job.deadline);
        prep_cmd(job, Op::Wait, HC1_URING_CMD_WAIT, &job.wait, sizeof(job.wait));
        job.wait_armed = true;
        counters.waits++;
    }

    // Hand tokens [consumed, upto) to the job's handler.
    void deliver(Job& job, uint32_t upto) {
        Session::State& s = *job.session;
        upto = std::min(upto, s.capacity());
        // Nobody is left to take the tokens of a destroyed Session's job.
        if (upto <= job.consumed || s.orphaned)
            return;
        // Copied out so the handler never works on the mapping itself (a
        // card that goes away zaps it).
        s.copy_tokens(job.consumed, upto, job.batch);
        std::span<const uint32_t> tokens(job.batch);
        job.consumed = upto;
        counters.tokens += tokens.size();
        if (job.handlers.on_tokens)
            job.handlers.on_tokens(tokens);
    }

    void cancel(Job& job) {
        counters.other_syscalls++;
        job.session->cancel_ioctl();
    }

    void handle(const io_uring_cqe& cqe) {
        counters.completions++;
        Tagged t = decode(io_uring_cqe_get_data64(&cqe));
        if (t.wake) {
            wake_armed = false;
            return;
        }
        if (!t.job)
            return;
        Job& job = *t.job;
        bool idle = retire(job, t.op);
        if (t.op == Op::Wait) {
            if (cqe.res >= 0 && job.session->orphaned) {
                // Its Session is gone.  The cancel that said so may have
                // reached the driver before the GENERATE did; this WAIT
                // saw the generation, so a cancel now stops it.
                if (!job.generate_done)
                    cancel(job);
                job.needs_wait = false;
            } else if (cqe.res >= 0) {
                // The driver answered for this generation: its header is live.
                deliver(job, std::max<uint32_t>(cqe.res, job.session->load_produced()));
                job.needs_wait = !job.generate_done;
            } else if (cqe.res == -ETIMEDOUT) {
                job.timed_out = true;
                cancel(job); // GENERATE then completes as cancelled
            } else {
                job.wait_error = -cqe.res;
            }
        } else {
            job.generate_res = cqe.res;
            job.needs_wait = false;
        }
        if (job.needs_wait)
            to_rearm.push_back(&job);
        if (idle)
            finish(job);
    }

    void finish(Job& job) {
        Session::State& s = *job.session;
        Result r;
        std::optional<Error> err;
        if (job.generate_res >= 0) {
            // The CQE follows the header's DONE: everything up to the count is in the ring.
            deliver(job, static_cast<uint32_t>(job.generate_res));
            r.tokens = static_cast<uint32_t>(job.generate_res);
            r.finish = static_cast<Finish>(s.load_finish());
            r.prompt_tokens = s.load_n_prompt();
        } else {
            r.finish = Finish::Cancelled;
            err.emplace(-job.generate_res, "generation on " + s.card->path);
        }
        if (s.orphaned) {
            r.finish = Finish::Cancelled;
            err.emplace(ECANCELED, "generation on " + s.card->path +
                                       ": its session was destroyed while it ran");
        } else if (job.timed_out) {
            r.finish = Finish::Cancelled;
            err.emplace(ETIMEDOUT, "generation on " + s.card->path);
        } else if (!err && job.wait_error) {
            err.emplace(job.wait_error, "wait for tokens on " + s.card->path);
        }
        s.in_loop = false;
        s.result = r;
        auto handlers = std::move(job.handlers);
        Id id = job.id;
        std::erase(to_rearm, &job);
        jobs.erase(id); // may drop the last reference to the session's state
        if (handlers.on_done)
            handlers.on_done(r, err ? &*err : nullptr);
    }

    // Handle every completion already posted; no syscall.
    unsigned reap() {
        unsigned n = 0;
        io_uring_cqe* cqe;
        while (io_uring_peek_cqe(&ring, &cqe) == 0) {
            io_uring_cqe copy = *cqe;
            io_uring_cqe_seen(&ring, cqe);
            handle(copy);
            n++;
        }
        for (Job* job : to_rearm) {
            if (job->generate_done || job->wait_armed)
                continue;
            if (job->deadline && !job->timed_out && detail::Clock::now() >= *job->deadline) {
                // Past its deadline: stop it; the GENERATE completion ends the job.
                job->timed_out = true;
                cancel(*job);
                continue;
            }
            arm_wait(*job);
        }
        to_rearm.clear();
        if (!wake_armed)
            arm_wake();
        return n;
    }
};

EventLoop::EventLoop(unsigned entries) : impl_(std::make_unique<Impl>()) {
    if (int r = io_uring_queue_init(entries, &impl_->ring, 0); r < 0)
        detail::throw_error(-r, "io_uring_queue_init");
    impl_->wake_fd = detail::Fd(eventfd(0, EFD_CLOEXEC));
    if (impl_->wake_fd.get() < 0) {
        int err = errno;
        io_uring_queue_exit(&impl_->ring);
        detail::throw_error(err, "eventfd");
    }
    impl_->arm_wake();
}

// The kernel reads a GENERATE's arguments from its job and writes a WAIT's
// result into it, and the armed eventfd read writes wake_value: nothing may
// be freed while a command is in flight.  So push what is only queued in the
// SQ, cancel every generation and reap every command, however long the card
// takes: a hung card is reset by the driver (timeout_ms), which fails them.
// The cancel is repeated each second for a GENERATE that io_uring issued
// after it.  Only a ring that cannot be waited on any more leaks the jobs
// instead of freeing them.
EventLoop::~EventLoop() {
    Impl& l = *impl_;
    io_uring_submit(&l.ring);
    if (l.wake_armed)
        wake();
    auto cancel_all = [&] {
        for (auto& [id, job] : l.jobs)
            if (!job->generate_done)
                job->session->cancel_ioctl();
    };
    cancel_all();
    while (!l.jobs.empty() || l.wake_armed) {
        io_uring_cqe* cqe;
        __kernel_timespec ts{.tv_sec = 1, .tv_nsec = 0};
        int r = io_uring_wait_cqe_timeout(&l.ring, &cqe, &ts);
        if (r == -ETIME) {
            io_uring_submit(&l.ring);
            cancel_all();
            continue;
        }
        if (r == -EINTR || r == -EAGAIN || r == -EBUSY)
            continue;
        if (r < 0) {
            for (auto& [id, job] : l.jobs)
                (void)job.release();
            impl_.release();
            return;
        }
        Impl::Tagged t = l.decode(io_uring_cqe_get_data64(cqe));
        io_uring_cqe_seen(&l.ring, cqe);
        if (t.wake) {
            l.wake_armed = false;
            continue;
        }
        if (t.job && Impl::retire(*t.job, t.op)) {
            t.job->session->in_loop = false;
            l.jobs.erase(t.job->id);
        }
    }
    io_uring_queue_exit(&l.ring);
}

EventLoop::Id EventLoop::submit(Session& session, std::span<const uint32_t> prompt,
                                const GenerateOptions& opts, Handlers handlers) {
    Session::State& s = *session.impl_->state;
    if (s.running || s.in_loop)
        detail::throw_error(EBUSY, "submit: the session is generating");
    if (!(s.card->info.features & kDriverUringCmd))
        detail::throw_error(EOPNOTSUPP,
                            "submit: driver of " + s.card->path + " has no io_uring passthrough");
    auto job = std::make_unique<Job>();
    job->id = impl_->next_id++;
    job->session = session.impl_->state;
    job->handlers = std::move(handlers);
    job->prompt.assign(prompt.begin(), prompt.end());
    job->gen = detail::make_generate(job->prompt, opts, s.card->info, s.capacity());
    if (opts.timeout.count() > 0)
        job->deadline = detail::Clock::now() + opts.timeout;
    // GENERATE and its first WAIT go in order in one submission: the driver
    // issues the GENERATE first, so the WAIT sees the new generation.
    impl_->prep_cmd(*job, Op::Generate, HC1_URING_CMD_GENERATE, &job->gen, sizeof(job->gen));
    impl_->arm_wait(*job);
    s.in_loop = true;
    s.result = Result{};
    Id id = job->id;
    impl_->jobs.emplace(id, std::move(job));
    return id;
}

void EventLoop::cancel(Id id) {
    auto it = impl_->jobs.find(id);
    if (it != impl_->jobs.end() && !it->second->generate_done)
        impl_->cancel(*it->second);
}

size_t EventLoop::pending() const {
    return impl_->jobs.size();
}

bool EventLoop::run_once(std::chrono::milliseconds timeout) {
    Impl& l = *impl_;
    if (l.reap() > 0)
        return true; // re-armed WAITs go to the kernel with the next wait
    l.counters.enters++;
    int r;
    io_uring_cqe* cqe;
    if (timeout.count() < 0) {
        r = io_uring_submit_and_wait(&l.ring, 1);
    } else {
        __kernel_timespec ts{};
        ts.tv_sec = timeout.count() / 1000;
        ts.tv_nsec = (timeout.count() % 1000) * 1000000;
        r = io_uring_submit_and_wait_timeout(&l.ring, &cqe, 1, &ts, nullptr);
    }
    if (r < 0 && r != -ETIME && r != -EINTR)
        detail::throw_error(-r, "io_uring_enter");
    return l.reap() > 0;
}

void EventLoop::wake() {
    uint64_t one = 1;
    // Blocking eventfd (io_uring would fail a read of a non-blocking one
    // with EAGAIN rather than wait); a write blocks only at a counter of
    // 2^64 - 2, which unread wake-ups never reach.
    [[maybe_unused]] ssize_t r = ::write(impl_->wake_fd.get(), &one, sizeof(one));
}

void EventLoop::run() {
    while (!impl_->jobs.empty())
        run_once();
}

EventLoop::Counters EventLoop::counters() const {
    return impl_->counters;
}

} // namespace hc
