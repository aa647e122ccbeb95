// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile input through the raw UAPI: random and structure-aware ioctls,
 * io_uring commands, read/poll/mmap calls on /dev/hc/0, from several forked
 * workers that share (inherit) each other's sessions.  Arguments include
 * bad sizes and counts, NULL, unmapped, read-only, page-straddling and
 * kernel pointers, unknown flags, closed fds and fds of other files.
 *
 * Pass criteria: every call returns success or an errno the UAPI documents
 * (anything else is reported), no worker crashes or hangs, the kernel log
 * stays clean (hc1-run-tests and tools/stress/run.sh grep it), and the card
 * afterwards generates exactly the tokens it generated before the storm.
 *
 *   guest-hc1-uapi-fuzz [CALLS [WORKERS [SEED]]]   (default 4000 calls, 4 workers)
 *
 * Prints "fuzz: calls N errors-by-kind ... unexpected U" for the harness.
 */
#include <liburing.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

#define N_FDS 8
#define REF_TOKENS 24

static uint32_t ref_prompt[] = {1, 21, 22, 23};

/* Per-worker state. */
static uint64_t rng;
static struct hc1_info info;
static int fds[N_FDS];
static bool closed[N_FDS]; /* fds[i] is a stale, closed number */
static uint8_t* scratch;   /* 2 pages RW, then one PROT_NONE page */
static uint8_t* ro_page;   /* one read-only page */
static void* unmapped;     /* was mapped, now is not */
static struct io_uring uring;
static bool have_uring;
static unsigned int uring_inflight;
static unsigned long calls, unexpected, by_errno[160], uring_calls;
static int uring_err;

_Static_assert(sizeof(unsigned long) * 164 <= PIPE_BUF, "atomic report");

static uint64_t rnd(void) {
    /* xorshift64*: reproducible from the printed seed. */
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 2685821657736338717ull;
}

static uint32_t below(uint32_t n) {
    return n ? rnd() % n : 0;
}

static bool one_in(uint32_t n) {
    return below(n) == 0;
}

/* A 32-bit value biased to the edges where checks tend to be off by one. */
static uint32_t edgy(uint32_t limit) {
    switch (below(8)) {
    case 0:
        return 0;
    case 1:
        return limit;
    case 2:
        return limit + 1;
    case 3:
        return limit ? limit - 1 : 0;
    case 4:
        return UINT32_MAX - below(4);
    case 5:
        return 1u << below(32);
    default:
        return below(limit + 2);
    }
}

/* An argument pointer of a random kind; @len bytes of @good are valid. */
static uint64_t some_pointer(void* good, size_t len) {
    switch (below(16)) {
    case 0:
        return 0;
    case 1:
        return (uintptr_t)unmapped;
    case 2:
        return 0xffff888000000000ull + below(1 << 20) * 4096ull;
    case 3:
        return 0xffffffff81000000ull;
    case 4:
        return (uintptr_t)ro_page;
    case 5:
        /* Straddles into the PROT_NONE page. */
        return (uintptr_t)scratch + 2 * 4096 - (len > 1 ? len / 2 : 1);
    case 6:
        return rnd();
    case 7:
        return (uintptr_t)good + 1; /* misaligned but valid */
    default:
        return (uintptr_t)good;
    }
}

static int some_fd(void) {
    switch (below(12)) {
    case 0:
        return -1;
    case 1:
        return 1000 + below(8); /* never opened */
    case 2:
        return 0; /* stdin: another driver's file */
    default:
        return fds[below(N_FDS)];
    }
}

static void record(long r, const char* what) {
    int e = errno;

    calls++;
    if (r >= 0)
        return;
    switch (e) {
    case EINVAL:
    case EFAULT:
    case E2BIG:
    case ENOTTY:
    case ENOENT:
    case EEXIST:
    case EBUSY:
    case EBADF:
    case ETIMEDOUT:
    case EAGAIN:
    case EPERM:
    case EACCES:
    case ECANCELED:
    case EINTR:
    case ENODEV:
    case EIO:
    case ENXIO:
    case EOVERFLOW:
    case ENOMEM:
    case EOPNOTSUPP:
    case ENODATA:
        break;
    default:
        if (unexpected++ < 10)
            fprintf(stderr, "unexpected errno %d (%s) from %s\n", e, strerror(e), what);
    }
    if (e > 0 && e < 160)
        by_errno[e]++;
}

static void reopen(int i) {
    int flags = O_RDWR | O_CLOEXEC | (one_in(2) ? O_NONBLOCK : 0);

    if (fds[i] >= 0 && !closed[i])
        close(fds[i]);
    closed[i] = false;
    fds[i] = open(HC1_DEV, flags);
    CHECK(fds[i] >= 0);
}

static uint32_t some_size(uint32_t real) {
    switch (below(10)) {
    case 0:
        return below(real);
    case 1:
        return real + 4 * (1 + below(8)); /* zero tail: accepted */
    case 2:
        return 4097 + below(1 << 20);
    case 3:
        return rnd();
    default:
        return real;
    }
}

static void fill_generate(struct hc1_generate* g, uint32_t* prompt) {
    uint32_t i, ctx = info.context_len, slots = 1u << info.ring_shift;

    memset(g, 0, sizeof(*g));
    g->size = sizeof(*g);
    g->flags = one_in(4) ? rnd() : below(4);
    g->n_prompt = one_in(3) ? edgy(ctx) : 1 + below(8);
    for (i = 0; i < ctx + 2 && i < 1024; i++)
        prompt[i] = one_in(16) ? edgy(info.vocab_size) : below(info.vocab_size);
    g->prompt = one_in(3) ? some_pointer(prompt, g->n_prompt * 4) : (uintptr_t)prompt;
    /* Mostly short generations: the guest runs under TCG. */
    g->max_tokens = one_in(4) ? edgy(slots) : 1 + below(8);
    g->temperature_milli = one_in(4) ? edgy(65535) : below(1500);
    g->top_p_milli = one_in(4) ? edgy(1000) : below(1001);
    g->top_k = one_in(4) ? edgy(info.vocab_size) : below(50);
    g->n_stop = one_in(4) ? edgy(info.max_stop) : below(info.max_stop + 1);
    g->seed = rnd();
    for (i = 0; i < 4; i++)
        g->stop[i] = i < g->n_stop ? below(info.vocab_size) : 0;
    if (one_in(8))
        g->stop[below(4)] = rnd();
}

static void fill_wait(struct hc1_wait* w) {
    memset(w, 0, sizeof(*w));
    w->size = sizeof(*w);
    w->min_produced = one_in(2) ? UINT32_MAX : edgy(64);
    /* Never 0 (forever): a fuzzer must not hang on a stalled session. */
    w->timeout_ms = 1 + below(30);
    if (one_in(10))
        w->flags = rnd();
}

/* Arguments are built in the scratch pages so that sizes past the struct
 * read into mapped (or deliberately unmapped) memory. */
static void fuzz_ioctl(void) {
    static const unsigned long known[] = {
        HC1_IOCTL_INFO,     HC1_IOCTL_IDENTIFY,       HC1_IOCTL_READ_VOCAB,
        HC1_IOCTL_STATS,    HC1_IOCTL_SESSION_CREATE, HC1_IOCTL_SESSION_DESTROY,
        HC1_IOCTL_GENERATE, HC1_IOCTL_WAIT,           HC1_IOCTL_CANCEL,
    };
    uint8_t* arg = scratch + 4096 - below(2) * 64;
    uint32_t prompt[1024];
    unsigned long cmd;
    uint64_t ptr;
    long r;
    int fd = some_fd();

    memset(scratch, 0, 2 * 4096);
    cmd = known[below(sizeof(known) / sizeof(known[0]))];
    if (one_in(10))
        cmd = _IOC(below(4), HC1_IOCTL_BASE, below(48), below(1 << 14));
    else if (one_in(20))
        cmd = rnd();
    else if (one_in(10)) /* size bits are ignored by the driver */
        cmd = (cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
              ((unsigned long)below(1 << 14) << _IOC_SIZESHIFT);

    switch (_IOC_NR(cmd) | (_IOC_TYPE(cmd) == HC1_IOCTL_BASE ? 0 : 0x100)) {
    case 0x00: {
        struct hc1_info* i = (void*)arg;

        i->size = some_size(sizeof(*i));
        break;
    }
    case 0x01:
    case 0x02:
    case 0x03: {
        struct hc1_buffer* b = (void*)arg;

        b->size = some_size(sizeof(*b));
        b->len = edgy(one_in(2) ? info.vocab_bytes : 4096);
        b->addr = some_pointer(scratch, 4096);
        if (b->addr == (uintptr_t)scratch && b->len > 4096)
            b->len = 4096;
        b->offset = one_in(2) ? 0 : edgy(info.vocab_bytes);
        if (one_in(10))
            b->pad = rnd();
        break;
    }
    case 0x10: {
        struct hc1_session* s = (void*)arg;

        s->size = some_size(sizeof(*s));
        if (one_in(8))
            s->flags = rnd();
        if (one_in(8))
            s->pad = rnd();
        break;
    }
    case 0x12:
        fill_generate((void*)arg, prompt);
        ((struct hc1_generate*)arg)->size = some_size(sizeof(struct hc1_generate));
        break;
    case 0x13:
        fill_wait((void*)arg);
        ((struct hc1_wait*)arg)->size = some_size(sizeof(struct hc1_wait));
        break;
    default:
        break;
    }
    if (_IOC_SIZE(cmd) == 0 && _IOC_DIR(cmd) == _IOC_NONE)
        ptr = one_in(4) ? rnd() : 0; /* _IO takes 0 */
    else
        ptr = some_pointer(arg, 64);
    r = ioctl(fd, cmd, (unsigned long)ptr);
    record(r, "ioctl");
}

static void reap_uring(bool block) {
    struct io_uring_cqe* cqe;
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 50000000};

    while (uring_inflight) {
        int r =
            block ? io_uring_wait_cqe_timeout(&uring, &cqe, &ts) : io_uring_peek_cqe(&uring, &cqe);

        if (r < 0)
            return;
        errno = cqe->res < 0 ? -cqe->res : 0;
        record(cqe->res < 0 ? -1 : 0, "uring_cmd");
        calls--; /* counted at submission */
        io_uring_cqe_seen(&uring, cqe);
        uring_inflight--;
    }
}

static void fuzz_uring(void) {
    static struct hc1_generate g;
    static struct hc1_wait w;
    static uint32_t prompt[1024];
    struct hc1_uring_cmd cmd = {0};
    struct io_uring_sqe* sqe;
    int fd = fds[below(N_FDS)];

    if (!have_uring)
        return;
    if (uring_inflight >= 24)
        reap_uring(true);
    if (uring_inflight >= 24) {
        /* Parked behind long generations: end them. */
        int i;

        for (i = 0; i < N_FDS; i++)
            if (!closed[i])
                record(ioctl(fds[i], HC1_IOCTL_CANCEL, 0), "cancel");
        reap_uring(true);
        if (uring_inflight >= 24)
            return;
    }
    sqe = io_uring_get_sqe(&uring);
    if (!sqe)
        return;
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, one_in(10) ? some_fd() : fd, NULL, 0, 0);
    sqe->cmd_op = one_in(8) ? rnd() : 1 + below(2);
    if (sqe->cmd_op == HC1_URING_CMD_GENERATE) {
        fill_generate(&g, prompt);
        cmd.addr = (uintptr_t)&g;
        cmd.len = sizeof(g);
    } else {
        fill_wait(&w);
        cmd.addr = (uintptr_t)&w;
        cmd.len = sizeof(w);
    }
    if (one_in(6))
        cmd.addr = some_pointer(&g, cmd.len);
    if (one_in(6))
        cmd.len = rnd();
    if (one_in(10))
        cmd.pad = rnd();
    memcpy(sqe->cmd, &cmd, sizeof(cmd));
    if (io_uring_submit(&uring) == 1) {
        uring_inflight++;
        uring_calls++;
        calls++;
    }
    reap_uring(false);
}

static void fuzz_file_op(void) {
    int fd = some_fd();
    long r = 0;
    void* m;

    switch (below(6)) {
    case 0: {
        uint32_t len = one_in(3) ? edgy(4096) : 4 * (1 + below(16));
        uint64_t p = some_pointer(scratch, len > 8192 ? 8192 : len);
        int flags = fcntl(fd, F_GETFL);

        /* A blocking read of a running generation is fine; of a
         * stalled one it is not, so read without blocking. */
        if (flags >= 0)
            fcntl(fd, F_SETFL, flags | O_NONBLOCK);
        r = read(fd, (void*)(uintptr_t)p, len);
        record(r, "read");
        if (flags >= 0)
            fcntl(fd, F_SETFL, flags);
        return;
    }
    case 1: {
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLOUT};

        r = poll(&p, 1, below(3));
        record(r, "poll");
        return;
    }
    case 2: {
        size_t len = one_in(2) ? 4096 * (1 + below(4)) : rnd() % (1 << 20);
        int prot = one_in(4) ? PROT_READ | PROT_WRITE : PROT_READ;
        off_t off = one_in(4) ? (off_t)below(4) * 4096 : 0;

        m = mmap(NULL, len, prot, one_in(8) ? MAP_PRIVATE : MAP_SHARED, fd, off);
        record(m == MAP_FAILED ? -1 : 0, "mmap");
        if (m != MAP_FAILED) {
            /* Touch the header: a valid ring is readable. */
            volatile uint32_t v = *(volatile uint32_t*)m;
            (void)v;
            munmap(m, len);
        }
        return;
    }
    case 3: {
        int i = below(N_FDS);

        /* Now and then keep using a closed fd's number. */
        if (one_in(3) && !closed[i]) {
            close(fds[i]);
            closed[i] = true;
        } else {
            reopen(i);
        }
        calls++;
        return;
    }
    case 4: {
        /* Create a session on a fresh fd (most fuzzed calls need one). */
        struct hc1_session s = {.size = sizeof(s)};

        r = ioctl(fds[below(N_FDS)], HC1_IOCTL_SESSION_CREATE, &s);
        record(r, "create");
        return;
    }
    default:
        r = ioctl(fd, HC1_IOCTL_CANCEL, 0);
        record(r, "cancel");
        return;
    }
}

struct report {
    unsigned long calls, unexpected, uring_calls, by_errno[160];
    int uring_err;
};

static void worker(unsigned int id, unsigned long n, uint64_t seed, int out) {
    struct report rep;
    unsigned long i;
    int k;

    rng = seed * 0x9e3779b97f4a7c15ull + id + 1;
    scratch = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(scratch != MAP_FAILED);
    CHECK_OK(mprotect(scratch + 2 * 4096, 4096, PROT_NONE));
    ro_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unmapped = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(ro_page != MAP_FAILED && unmapped != MAP_FAILED);
    munmap(unmapped, 4096);
    /* Keep half the inherited fds (other processes' sessions). */
    for (k = 0; k < N_FDS; k++)
        if (k >= N_FDS / 2 || id == 0)
            reopen(k);
    uring_err = io_uring_queue_init(32, &uring, 0);
    have_uring = uring_err == 0;

    for (i = 0; i < n; i++) {
        unsigned int what = below(10);

        if (what < 6)
            fuzz_ioctl();
        else if (what < 8)
            fuzz_uring();
        else
            fuzz_file_op();
    }
    reap_uring(true);
    rep.calls = calls;
    rep.uring_calls = uring_calls;
    rep.uring_err = uring_err;
    rep.unexpected = unexpected;
    memcpy(rep.by_errno, by_errno, sizeof(by_errno));
    /* One write of at most PIPE_BUF bytes: workers' reports never mix. */
    CHECK(write(out, &rep, sizeof(rep)) == sizeof(rep));
    /* Exit with sessions open and commands parked: the kernel cleans up. */
    _exit(0);
}

static void reference_run(uint32_t* out) {
    int fd = hc1_open();
    struct hc1_generate g = hc1_gen_args(ref_prompt, 4, REF_TOKENS);
    struct hc1_wait w;

    hc1_create(fd);
    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    CHECK(hc1_read_all(fd, out, REF_TOKENS) == REF_TOKENS);
    w = hc1_wait_end(fd);
    CHECK(w.status == 0);
    close(fd);
}

TEST(hostile_calls_get_documented_errnos) {
    unsigned long n = hc1_test_arg(0, 4000);
    unsigned int workers = hc1_test_arg(1, 4), w;
    uint64_t seed = hc1_test_arg(2, (uint64_t)time(NULL));
    unsigned long total = 0, bad = 0, errs[160] = {0}, uring_total = 0;
    uint32_t before[REF_TOKENS], after[REF_TOKENS];
    double t0 = hc1_now();
    int pipefd[2], status, k, fd;
    bool failed = false;

    signal(SIGPIPE, SIG_IGN);
    fd = hc1_open();
    info = hc1_get_info(fd);
    close(fd);
    reference_run(before);
    printf("fuzz: seed %llu, %lu calls over %u workers\n", (unsigned long long)seed, n, workers);

    /* Inherited by every worker: sessions shared across processes. */
    for (k = 0; k < N_FDS; k++) {
        fds[k] = -1;
        reopen(k);
        if (k % 2)
            hc1_create(fds[k]);
    }
    CHECK_OK(pipe(pipefd));
    for (w = 0; w < workers; w++) {
        pid_t pid = fork();

        CHECK(pid >= 0);
        if (!pid) {
            close(pipefd[0]);
            worker(w, n / workers, seed, pipefd[1]);
        }
    }
    close(pipefd[1]);
    for (k = 0; k < N_FDS; k++)
        close(fds[k]);
    for (w = 0; w < workers; w++) {
        struct report rep;

        if (read(pipefd[0], &rep, sizeof(rep)) != sizeof(rep)) {
            fprintf(stderr, "a worker sent no report\n");
            failed = true;
            break;
        }
        total += rep.calls;
        uring_total += rep.uring_calls;
        if (rep.uring_err)
            fprintf(stderr, "io_uring unavailable: %s\n", strerror(-rep.uring_err));
        bad += rep.unexpected;
        for (k = 0; k < 160; k++)
            errs[k] += rep.by_errno[k];
    }
    for (w = 0; w < workers; w++) {
        CHECK(wait(&status) > 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status)) {
            fprintf(stderr, "worker died: status %#x\n", status);
            failed = true;
        }
    }
    hc1_wait_sysfs("sessions", 0, 60);
    reference_run(after);
    printf("fuzz: calls %lu (io_uring %lu) in %.1f s, unexpected %lu, errno:", total, uring_total,
           hc1_now() - t0, bad);
    for (k = 0; k < 160; k++)
        if (errs[k])
            printf(" %s=%lu", strerrorname_np(k) ? strerrorname_np(k) : "?", errs[k]);
    printf("\n");
    if (memcmp(before, after, sizeof(before)))
        FAIL("the card generates differently after the fuzzing");
    if (failed || bad)
        FAIL("%lu unexpected results, workers failed: %d", bad, failed);
    printf("fuzz: card still generates the reference tokens\n");
}

TEST_HARNESS_MAIN
