// SPDX-License-Identifier: GPL-2.0
/*
 * Kill storm: processes mid-generation (blocked in read(), parked in
 * io_uring, polling a mapped ring, or between calls) are SIGKILLed at
 * random points, many at a time.  Afterwards the driver holds no session
 * and no session DMA buffer (sysfs sessions and dma_buffers are 0), every
 * context can be claimed again, and the card generates the tokens it did
 * before the storm.
 *
 *   guest-hc1-killstorm [PROCESSES [PARALLEL [SEED]]]  (default 100 x 8)
 *
 * Prints "killstorm: killed K ... sessions 0 dma_buffers 0".  One scenario,
 * one case (hc1_harness.h).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hc1_guest.h"
#include "hc1_harness.h"
#include "hc1_uring.h"

#define REF_TOKENS 24

static uint32_t prompt[] = {1, 41, 42, 43};

static void reference_run(uint32_t* out) {
    int fd = hc1_open();
    struct hc1_generate g = hc1_gen_args(prompt, 4, REF_TOKENS);

    hc1_create(fd);
    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    CHECK(hc1_read_all(fd, out, REF_TOKENS) == REF_TOKENS);
    CHECK(hc1_wait_end(fd).status == 0);
    close(fd);
}

/* Generates forever, one way or another, until killed. */
static void victim(unsigned int kind, uint32_t slots) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, slots);
    struct hc1_wait w = {.size = sizeof(w), .min_produced = UINT32_MAX};
    struct io_uring ring;
    struct io_uring_sqe* sqe;
    struct hc1_session s;
    uint32_t tok[64];
    int fd;

    g.flags = HC1_GENERATE_IGNORE_EOS;
    for (;;) {
        fd = open(HC1_DEV, O_RDWR);
        if (fd < 0)
            _exit(1);
        s = (struct hc1_session){.size = sizeof(s)};
        if (ioctl(fd, HC1_IOCTL_SESSION_CREATE, &s)) {
            /* Every context taken by other victims: retry. */
            close(fd);
            usleep(1000);
            continue;
        }
        switch (kind % 4) {
        case 0:
            ioctl(fd, HC1_IOCTL_GENERATE, &g);
            while (read(fd, tok, sizeof(tok)) > 0)
                ;
            break;
        case 1:
            if (io_uring_queue_init(4, &ring, 0))
                break;
            sqe = io_uring_get_sqe(&ring);
            hc1_prep_uring_cmd(sqe, fd, HC1_URING_CMD_GENERATE, &g, sizeof(g));
            sqe = io_uring_get_sqe(&ring);
            hc1_prep_uring_cmd(sqe, fd, HC1_URING_CMD_WAIT, &w, sizeof(w));
            io_uring_submit(&ring);
            io_uring_submit_and_wait(&ring, 2);
            io_uring_queue_exit(&ring);
            break;
        case 2: {
            void* h = mmap(NULL, s.ring_bytes, PROT_READ, MAP_SHARED, fd, 0);

            if (h == MAP_FAILED)
                break;
            ioctl(fd, HC1_IOCTL_GENERATE, &g);
            while (hc1_ring_load(h, s.offsets.state) != HC1_GENERATION_DONE)
                usleep(1000);
            break;
        }
        default:
            g.max_tokens = 4;
            ioctl(fd, HC1_IOCTL_GENERATE, &g);
            ioctl(fd, HC1_IOCTL_WAIT, &w);
            g.max_tokens = slots;
            break;
        }
        close(fd);
    }
}

TEST(storm_leaves_nothing_behind) {
    unsigned int total = hc1_test_arg(0, 100);
    unsigned int parallel = hc1_test_arg(1, 8);
    unsigned int seed = hc1_test_arg(2, (unsigned int)time(NULL));
    uint32_t before[REF_TOKENS], after[REF_TOKENS];
    pid_t* pids = calloc(parallel, sizeof(*pids));
    unsigned int started = 0, killed = 0, i;
    int fd = hc1_open(), status;
    struct hc1_info info = hc1_get_info(fd);
    uint32_t slots = 1u << info.ring_shift;
    double t0 = hc1_now();

    close(fd);
    CHECK(pids);
    srand(seed);
    reference_run(before);
    printf("killstorm: seed %u, %u processes, %u at a time\n", seed, total, parallel);
    while (killed < total) {
        for (i = 0; i < parallel; i++) {
            if (!pids[i] && started < total) {
                pids[i] = fork();
                CHECK(pids[i] >= 0);
                if (!pids[i])
                    victim(started, slots);
                started++;
            }
        }
        /* Kill one at a random point of its life: 0..40 ms in. */
        usleep(rand() % 40000);
        i = rand() % parallel;
        if (!pids[i])
            continue;
        CHECK_OK(kill(pids[i], SIGKILL));
        CHECK(waitpid(pids[i], &status, 0) == pids[i]);
        if (!WIFSIGNALED(status))
            FAIL("victim exited by itself: status %#x", status);
        pids[i] = 0;
        killed++;
    }
    /* Parked io_uring commands keep a file until their generation ends. */
    hc1_wait_sysfs("sessions", 0, 120);
    hc1_wait_sysfs("dma_buffers", 0, 10);
    reference_run(after);
    hc1_wait_sysfs("dma_buffers", 0, 10);
    printf("killstorm: killed %u in %.1f s; sessions %ld dma_buffers %ld\n", killed, hc1_now() - t0,
           hc1_sysfs_long("sessions"), hc1_sysfs_long("dma_buffers"));
    if (memcmp(before, after, sizeof(before)))
        FAIL("the card generates differently after the storm");
}

TEST_HARNESS_MAIN
