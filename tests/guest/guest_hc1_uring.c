// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring passthrough (IORING_OP_URING_CMD): GENERATE completes when the
 * generation ends, WAIT when tokens arrive; bad payloads fail; commands
 * parked on a destroyed session complete with -ECANCELED.  One case per
 * behaviour (hc1_harness.h); the destroy case paces the card, so it needs
 * fault injection (make test-guest's second boot).
 */
#include "hc1_guest.h"
#include "hc1_harness.h"
#include "hc1_uring.h"

static uint32_t prompt[] = {1, 40, 50, 60};

static void clear_faults(void) {
    hc1_set_fault(0);
}

static void prep_cmd(struct io_uring_sqe* sqe, int fd, uint32_t op, const void* arg, uint32_t len,
                     uint64_t tag) {
    hc1_prep_uring_cmd(sqe, fd, op, arg, len);
    io_uring_sqe_set_data64(sqe, tag);
}

static struct io_uring_sqe* get_sqe(struct io_uring* ring) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(ring);

    CHECK(sqe);
    return sqe;
}

/* Submit one command and return its result. */
static int run_one(struct io_uring* ring, int fd, uint32_t op, const void* arg, uint32_t len) {
    struct io_uring_cqe* cqe;
    int res;

    prep_cmd(get_sqe(ring), fd, op, arg, len, 1);
    CHECK(io_uring_submit(ring) == 1);
    CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
    res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    return res;
}

/* A session on the card and an io_uring to drive it. */
FIXTURE(uring) {
    int fd;
    uint32_t slots;
    struct io_uring ring;
};
FIXTURE_SETUP(uring) {
    int ret;

    self->fd = hc1_open();
    self->slots = 1u << hc1_get_info(self->fd).ring_shift;
    ret = io_uring_queue_init(16, &self->ring, 0);
    if (ret == -ENOSYS || ret == -EPERM)
        skip("io_uring is not available in this kernel");
    CHECK(ret == 0);
    hc1_create(self->fd);
}
FIXTURE_TEARDOWN(uring) {
    io_uring_queue_exit(&self->ring);
    close(self->fd);
}

TEST_F(uring, bad_payloads_fail) {
    struct io_uring* ring = &self->ring;
    int fd = self->fd;
    struct hc1_generate g = hc1_gen_args(prompt, 4, 8);
    struct hc1_wait w = {.size = sizeof(w)};
    struct io_uring_cqe* cqe;
    struct hc1_uring_cmd cmd = {.addr = (uintptr_t)&w, .len = sizeof(w), .pad = 1};
    struct io_uring_sqe* sqe;

    CHECK(run_one(ring, fd, 0x77, &w, sizeof(w)) == -ENOTTY);
    CHECK(run_one(ring, fd, HC1_URING_CMD_WAIT, &w, sizeof(w) + 4) == -EINVAL);
    CHECK(run_one(ring, fd, HC1_URING_CMD_WAIT, NULL, sizeof(w)) == -EFAULT);
    g.flags = 8;
    CHECK(run_one(ring, fd, HC1_URING_CMD_GENERATE, &g, sizeof(g)) == -EINVAL);

    sqe = get_sqe(ring);
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
    sqe->cmd_op = HC1_URING_CMD_WAIT;
    memcpy(sqe->cmd, &cmd, sizeof(cmd));
    CHECK(io_uring_submit(ring) == 1);
    CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
    CHECK(cqe->res == -EINVAL);
    io_uring_cqe_seen(ring, cqe);
}

TEST_F(uring, generate_completes_at_the_end) {
    struct io_uring* ring = &self->ring;
    int fd = self->fd;
    struct hc1_generate g = hc1_gen_args(prompt, 4, 24);
    struct hc1_wait w = {.size = sizeof(w)};
    uint32_t tokens[64];
    int res;

    g.flags = HC1_GENERATE_IGNORE_EOS;
    res = run_one(ring, fd, HC1_URING_CMD_GENERATE, &g, sizeof(g));
    CHECK(res == 24);
    /* The stream is the same whichever way the generation started. */
    CHECK(hc1_read_all(fd, tokens, 64) == 24);

    /* WAIT on a finished generation completes at once. */
    w.min_produced = 0;
    res = run_one(ring, fd, HC1_URING_CMD_WAIT, &w, sizeof(w));
    CHECK(res == 24);
    CHECK(w.produced == 24 && w.state == HC1_GENERATION_DONE);
    CHECK(w.finish == HC1_END_LENGTH && w.status == 0);
}

/* GENERATE and a chain of WAITs in flight together. */
TEST_F(uring, wait_completes_as_tokens_arrive) {
    struct io_uring* ring = &self->ring;
    int fd = self->fd;
    uint32_t max = self->slots < 128 ? self->slots : 128;
    struct hc1_generate g = hc1_gen_args(prompt, 4, max);
    struct hc1_wait w = {.size = sizeof(w)};
    struct io_uring_cqe* cqe;
    bool gen_done = false, wait_done = false;
    uint32_t last = 0, waits = 0;

    g.flags = HC1_GENERATE_IGNORE_EOS;
    prep_cmd(get_sqe(ring), fd, HC1_URING_CMD_GENERATE, &g, sizeof(g), 1);
    CHECK(io_uring_submit(ring) == 1);
    w.min_produced = 0;
    prep_cmd(get_sqe(ring), fd, HC1_URING_CMD_WAIT, &w, sizeof(w), 2);
    CHECK(io_uring_submit(ring) == 1);

    while (!gen_done || !wait_done) {
        CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
        if (cqe->user_data == 1) {
            CHECK(cqe->res == (int)max);
            gen_done = true;
        } else {
            CHECK(cqe->res >= 0);
            CHECK((uint32_t)cqe->res >= last);
            CHECK((uint32_t)cqe->res == w.produced);
            last = cqe->res;
            waits++;
            if (w.state == HC1_GENERATION_DONE) {
                wait_done = true;
            } else {
                CHECK(w.produced > w.min_produced);
                w.min_produced = w.produced;
                prep_cmd(get_sqe(ring), fd, HC1_URING_CMD_WAIT, &w, sizeof(w), 2);
                CHECK(io_uring_submit(ring) == 1);
            }
        }
        io_uring_cqe_seen(ring, cqe);
    }
    CHECK(last == max);
    printf("wait chain: %u completions for %u tokens\n", waits, max);
}

TEST_F(uring, destroy_cancels_parked_commands) {
    struct io_uring* ring = &self->ring;
    int fd = self->fd;
    uint32_t max = self->slots;
    struct hc1_generate g = hc1_gen_args(prompt, 4, max);
    struct hc1_wait w = {.size = sizeof(w), .min_produced = UINT32_MAX};
    struct io_uring_cqe* cqe;
    int i, seen = 0;

    /* Paced (5 s for the ring): the destroy lands mid-generation. */
    hc1_need_faults(fd);
    atexit(clear_faults);
    hc1_set_fault(HC1_TEST_SLOW_ENGINE);
    g.flags = HC1_GENERATE_IGNORE_EOS;
    prep_cmd(get_sqe(ring), fd, HC1_URING_CMD_GENERATE, &g, sizeof(g), 1);
    prep_cmd(get_sqe(ring), fd, HC1_URING_CMD_WAIT, &w, sizeof(w), 2);
    CHECK(io_uring_submit(ring) == 2);
    CHECK_OK(ioctl(fd, HC1_IOCTL_SESSION_DESTROY, 0));
    for (i = 0; i < 2; i++) {
        CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
        /*
         * The generation is cancelled; its WAIT either with it or, woken
         * by the generation's end first, with what was produced.
         */
        if (cqe->user_data == 1)
            CHECK(cqe->res == -ECANCELED);
        else
            CHECK(cqe->res == -ECANCELED || (cqe->res >= 0 && cqe->res < (int)max));
        seen |= 1 << cqe->user_data;
        io_uring_cqe_seen(ring, cqe);
    }
    CHECK(seen == 6);
}

/* WAIT with a timeout on a generation that cannot satisfy it in time. */
TEST_F(uring, wait_on_an_ended_generation_returns) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, 4);
    struct hc1_wait w = {.size = sizeof(w), .min_produced = UINT32_MAX, .timeout_ms = 1};
    int res;

    CHECK_OK(ioctl(self->fd, HC1_IOCTL_GENERATE, &g));
    hc1_wait_end(self->fd);
    /* Nothing runs: a WAIT is satisfied whatever its timeout. */
    res = run_one(&self->ring, self->fd, HC1_URING_CMD_WAIT, &w, sizeof(w));
    CHECK(res >= 0);
    CHECK(w.state != HC1_GENERATION_RUNNING);
}

TEST_HARNESS_MAIN
