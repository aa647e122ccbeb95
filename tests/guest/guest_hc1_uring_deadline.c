// SPDX-License-Identifier: GPL-2.0
/*
 * An io_uring GENERATE must not inherit the deadline of an earlier WAIT.
 * io_uring recycles its requests and 6.1 does not clear a command's pdu, so
 * a GENERATE that reuses the request of a WAIT which timed out finds that
 * WAIT's deadline in its pdu; the driver must not read it as its own.
 *
 * With completions held back 2 s (HC1_TEST_DELAY_CQE), per round: an ioctl
 * GENERATE runs; N_WAITS io_uring WAITs with a 1 ms timeout park on it and
 * expire (-ETIMEDOUT); once the generation ended, an io_uring GENERATE
 * must complete with its tokens (2 s later), not with -ETIMEDOUT at the
 * watchdog's next look while the card still generates, and the GENERATE
 * after it must not find the session busy.  (6.1 returns the requests of
 * commands completed from task work to a list it takes back into its
 * request cache only when it holds more than 32: hence that many WAITs.)
 *
 *   guest-hc1-uring-deadline [ROUNDS]   (default 3; needs fault injection)
 */
#include <liburing.h>

#include "hc1_guest.h"
#include "hc1_harness.h"
#include "hc1_uring.h"

#define N_TOKENS 16
#define N_WAITS 40

static uint32_t prompt[] = {1, 61, 62, 63};

static void cleanup(void) {
    hc1_set_fault(0);
}

/* Submit one uring_cmd and wait up to @secs for its result. */
static int uring_cmd(struct io_uring* ring, int fd, uint32_t op, const void* arg, uint32_t len,
                     double secs, double* took) {
    struct __kernel_timespec ts = {.tv_sec = (long long)secs};
    struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
    struct io_uring_cqe* cqe;
    double t0 = hc1_now();
    int res, r;

    CHECK(sqe);
    hc1_prep_uring_cmd(sqe, fd, op, arg, len);
    CHECK(io_uring_submit(ring) == 1);
    r = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
    if (r)
        FAIL("no completion of uring_cmd %u within %.0f s: %s", op, secs, strerror(-r));
    res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    *took = hc1_now() - t0;
    return res;
}

/* N_WAITS WAITs with a 1 ms timeout on the running generation all expire. */
static void expire_waits(struct io_uring* ring, int fd, unsigned int round) {
    static struct hc1_wait w[N_WAITS];
    struct __kernel_timespec ts = {.tv_sec = 10};
    struct io_uring_cqe* cqe;
    int i, r;

    for (i = 0; i < N_WAITS; i++) {
        struct io_uring_sqe* sqe = io_uring_get_sqe(ring);

        CHECK(sqe);
        w[i] = (struct hc1_wait){.size = sizeof(w[i]), .min_produced = UINT32_MAX, .timeout_ms = 1};
        hc1_prep_uring_cmd(sqe, fd, HC1_URING_CMD_WAIT, &w[i], sizeof(w[i]));
    }
    CHECK(io_uring_submit(ring) == N_WAITS);
    for (i = 0; i < N_WAITS; i++) {
        r = io_uring_wait_cqe_timeout(ring, &cqe, &ts);
        if (r)
            FAIL("round %u: WAIT %d of %d did not complete: %s", round, i, N_WAITS, strerror(-r));
        if (cqe->res != -ETIMEDOUT)
            FAIL("round %u: a 1 ms WAIT ended with %d, want -ETIMEDOUT", round, cqe->res);
        io_uring_cqe_seen(ring, cqe);
    }
}

TEST(generate_does_not_inherit_a_wait_deadline) {
    unsigned int rounds = hc1_test_arg(0, 3), r;
    struct io_uring ring;
    double took;
    int fd, res;

    fd = hc1_open();
    hc1_need_faults(fd);
    hc1_set_fault(0);
    atexit(cleanup);
    hc1_create(fd);
    CHECK(io_uring_queue_init(2 * N_WAITS, &ring, 0) == 0);
    hc1_set_fault(HC1_TEST_DELAY_CQE);

    for (r = 0; r < rounds; r++) {
        struct hc1_generate g = hc1_gen_args(prompt, 4, N_TOKENS);
        struct hc1_wait w;

        g.flags = HC1_GENERATE_IGNORE_EOS;
        CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
        expire_waits(&ring, fd, r);
        w = hc1_wait_end(fd);
        CHECK(w.status == 0 && w.produced == N_TOKENS);

        /* Likely the WAIT's recycled request, with its deadline. */
        res = uring_cmd(&ring, fd, HC1_URING_CMD_GENERATE, &g, sizeof(g), 20, &took);
        printf("round %u: io_uring GENERATE -> %d after %.2f s\n", r, res, took);
        if (res != N_TOKENS)
            FAIL("round %u: io_uring GENERATE ended with %d after %.2f s, want %d tokens (the "
                 "card holds completions 2 s)",
                 r, res, took, N_TOKENS);
        /* The generation is over: the session takes the next one. */
        CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
        w = hc1_wait_end(fd);
        CHECK(w.status == 0 && w.produced == N_TOKENS);
    }
    hc1_set_fault(0);
    io_uring_queue_exit(&ring);
    close(fd);
    hc1_wait_sysfs("sessions", 0, 10);
    printf("uring deadline: %u rounds, every GENERATE ran to its end\n", rounds);
}

TEST_HARNESS_MAIN
