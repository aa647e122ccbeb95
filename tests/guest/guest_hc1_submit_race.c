// SPDX-License-Identifier: GPL-2.0
/*
 * An io_uring GENERATE that waits for a queue slot must complete exactly
 * once when the card goes away meanwhile.  The driver parks the command on
 * the session before it submits the GENERATE; card removal fails every
 * parked command; a submission that then fails must not complete the
 * command a second time (io_uring would complete, free and reuse the
 * request twice).
 *
 * The card's queues hold 4 entries (3 commands in flight: hc1-vm
 * --device-opts ,queue-entries=4, make test-guest's fourth boot) and its
 * engine is stalled.  Per round: sessions run stalled generations until the
 * I/O queue is full; N_WAITS io_uring WAITs with a 1 ms timeout park on one
 * of them and expire, so that io_uring recycles their requests (as in
 * guest-hc1-uring-deadline); one more session's io_uring GENERATE waits
 * for a slot (io_uring issues it from a worker) for 1 s, four watchdog
 * passes; the driver is unbound; that GENERATE must complete once, with
 * -ENODEV.  Then the driver binds again.
 *
 * Two paths take a parked command off the session without the lock its
 * submitter holds: card removal, and (before it was fixed) the watchdog
 * expiring a GENERATE that inherited a WAIT's deadline.  The second makes
 * the double completion certain; the first races with the submitter's own
 * wake-up and, with one vCPU, has been seen to lose every time.
 *
 *   guest-hc1-submit-race [ROUNDS]   (default 4; needs fault injection and
 *                                     4-entry queues)
 */
#include <liburing.h>

#include "hc1_guest.h"
#include "hc1_harness.h"
#include "hc1_uring.h"

#define MAX_FILL 8
#define N_WAITS 40

static uint32_t prompt[] = {1, 61, 62, 63};

static void cleanup(void) {
    hc1_set_timeout_ms(10000);
    if (access("/sys/kernel/debug/hc1/hc0/fault_inject", W_OK) == 0)
        hc1_set_fault(0);
}

/* Depth of I/O queue 1, from debugfs. */
static unsigned int io_queue_depth(void) {
    FILE* f = fopen("/sys/kernel/debug/hc1/hc0/queues", "r");
    unsigned int qid, depth;
    char line[256];

    CHECK(f);
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "qid %u depth %u", &qid, &depth) == 2 && qid == 1) {
            fclose(f);
            return depth;
        }
    fclose(f);
    FAIL("no I/O queue in debugfs");
}

static const char* state_of(int fd) {
    static char state[32];
    char path[64], line[128];
    FILE* f;

    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    f = fopen(path, "r");
    CHECK(f);
    strcpy(state, "none");
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "hc1-state: %31s", state) == 1)
            break;
    fclose(f);
    return state;
}

/* N_WAITS WAITs with a 1 ms timeout on @fd's running generation expire. */
static void expire_waits(struct io_uring* ring, int fd, unsigned int round) {
    static struct hc1_wait w[N_WAITS];
    struct __kernel_timespec ts = {.tv_sec = 10};
    struct io_uring_cqe* cqe;
    int i;

    for (i = 0; i < N_WAITS; i++) {
        w[i] = (struct hc1_wait){.size = sizeof(w[i]), .min_produced = UINT32_MAX, .timeout_ms = 1};
        hc1_prep_uring_cmd(io_uring_get_sqe(ring), fd, HC1_URING_CMD_WAIT, &w[i], sizeof(w[i]));
    }
    CHECK(io_uring_submit(ring) == N_WAITS);
    for (i = 0; i < N_WAITS; i++) {
        if (io_uring_wait_cqe_timeout(ring, &cqe, &ts))
            FAIL("round %u: WAIT %d of %d did not complete", round, i, N_WAITS);
        if (cqe->res != -ETIMEDOUT)
            FAIL("round %u: a 1 ms WAIT ended with %d", round, cqe->res);
        io_uring_cqe_seen(ring, cqe);
    }
}

static void round_once(unsigned int r, unsigned int fill, const char* bdf) {
    struct __kernel_timespec ts = {.tv_sec = 3};
    struct hc1_generate g = hc1_gen_args(prompt, 4, 16);
    struct hc1_generate gd = hc1_gen_args(prompt, 4, 16);
    struct io_uring_cqe* cqe;
    struct io_uring ring;
    int fds[MAX_FILL], fd, res = 0, n = 0;
    unsigned int i;

    g.flags = gd.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK(io_uring_queue_init(2 * N_WAITS, &ring, 0) == 0);
    for (i = 0; i < fill; i++) {
        fds[i] = hc1_open();
        hc1_create(fds[i]);
    }
    fd = hc1_open();
    hc1_create(fd);
    hc1_set_fault(HC1_TEST_STALL_ENGINE);
    for (i = 0; i < fill; i++)
        CHECK_OK(ioctl(fds[i], HC1_IOCTL_GENERATE, &g));

    expire_waits(&ring, fds[0], r);

    hc1_prep_uring_cmd(io_uring_get_sqe(&ring), fd, HC1_URING_CMD_GENERATE, &gd, sizeof(gd));
    CHECK(io_uring_submit(&ring) == 1);
    usleep(1000000);
    if (strcmp(state_of(fd), "running"))
        FAIL("round %u: the GENERATE is not waiting for a slot (state %s)", r, state_of(fd));

    hc1_unbind(bdf);
    while (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == 0) {
        res = cqe->res;
        n++;
        io_uring_cqe_seen(&ring, cqe);
        ts.tv_sec = 2; /* a second completion would follow soon */
    }
    printf("round %u: GENERATE waiting for a slot at removal: %d completion(s), res %d\n", r, n,
           res);
    if (n != 1 || res != -ENODEV)
        FAIL("round %u: %d completions of one GENERATE (last %d), want 1 with -ENODEV (a "
             "request completed twice is freed and reused twice)",
             r, n, res);
    io_uring_queue_exit(&ring);
    for (i = 0; i < fill; i++)
        close(fds[i]);
    close(fd);
    hc1_bind(bdf);
    hc1_set_fault(0);
}

TEST(waiting_generate_completes_once_on_removal) {
    unsigned int rounds = hc1_test_arg(0, 4), r, depth;
    char bdf[64];
    int fd;

    fd = hc1_open();
    hc1_need_faults(fd);
    hc1_bdf(bdf, sizeof(bdf));
    close(fd);
    depth = io_queue_depth();
    if (depth - 1 > MAX_FILL)
        skip("I/O queues too deep to fill (hc1-vm --device-opts ,queue-entries=4)");
    atexit(cleanup);
    hc1_set_timeout_ms(60000);
    for (r = 0; r < rounds; r++)
        round_once(r, depth - 1, bdf);
    hc1_check_generates();
    printf("submit race: %u rounds, one completion each\n", rounds);
}

TEST_HARNESS_MAIN
