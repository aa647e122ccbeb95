// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile input: random ioctl numbers, sizes, directions and argument bytes,
 * and random io_uring command payloads, thrown at /dev/hc/0.  Any error is
 * fine; a crash, hang, kernel warning or leaked session is not.  The seed
 * is printed so a failure can be replayed (HC1_FUZZ_SEED).
 */
#include <liburing.h>
#include <sys/mman.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

#define SECONDS 3

static unsigned int seed;

static uint32_t rnd(void) {
    return (uint32_t)rand_r(&seed) << 16 ^ (uint32_t)rand_r(&seed);
}

/* A buffer that looks enough like an argument to get past the size check. */
static void fill_arg(uint8_t* buf, size_t len, const uint32_t* prompt) {
    size_t i;

    for (i = 0; i < len; i++)
        buf[i] = rnd() % 4 ? 0 : (uint8_t)rnd();
    switch (rnd() % 4) {
    case 0:
        *(uint32_t*)buf = 32 + 8 * (rnd() % 4);
        break;
    case 1:
        *(uint32_t*)buf = rnd() % 8192;
        break;
    default:
        *(uint32_t*)buf = rnd() % 2 ? sizeof(struct hc1_generate) : sizeof(struct hc1_info);
        break;
    }
    /* Sometimes point the generate fields at a real prompt. */
    if (rnd() % 3 == 0) {
        struct hc1_generate* g = (struct hc1_generate*)buf;

        g->prompt = (uintptr_t)prompt;
        g->n_prompt = rnd() % 8;
    }
}

static void* rnd_ptr(uint8_t* buf) {
    switch (rnd() % 8) {
    case 0:
        return NULL;
    case 1:
        return (void*)(uintptr_t)(rnd() % 4096);
    case 2:
        return (void*)(uintptr_t)0xffff800000000000ull;
    default:
        return buf;
    }
}

static void fuzz_ioctl(int fd, uint8_t* buf, const uint32_t* prompt) {
    unsigned int dir = rnd() % 4, nr = rnd() % 0x30, size = rnd() % 128;
    unsigned long cmd;

    /* RESET is for the stress test; keep this one about parsing. */
    if (nr == 0x20)
        nr = 0x21;
    cmd = _IOC(dir, rnd() % 16 ? HC1_IOCTL_BASE : rnd() % 256, nr, size);
    fill_arg(buf, 8192, prompt);
    ioctl(fd, cmd, rnd() % 8 ? (unsigned long)rnd_ptr(buf) : rnd());
}

static void fuzz_uring(struct io_uring* ring, int fd, uint8_t* buf, const uint32_t* prompt) {
    struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
    struct io_uring_cqe* cqe;
    struct hc1_uring_cmd cmd;

    CHECK(sqe);
    fill_arg(buf, 8192, prompt);
    cmd.addr = (uintptr_t)rnd_ptr(buf);
    cmd.len = rnd() % 3 ? *(uint32_t*)buf : rnd();
    cmd.pad = rnd() % 8 ? 0 : rnd();
    io_uring_prep_rw(IORING_OP_URING_CMD, sqe, fd, NULL, 0, 0);
    sqe->cmd_op = rnd() % 4 ? 1 + rnd() % 2 : rnd();
    memcpy(sqe->cmd, &cmd, sizeof(cmd));
    CHECK(io_uring_submit(ring) == 1);
    /* A parked WAIT/GENERATE ends with the generation or the session. */
    if (io_uring_peek_cqe(ring, &cqe) == 0)
        io_uring_cqe_seen(ring, cqe);
}

TEST(random_ioctls_and_uring_cmds) {
    const char* env = getenv("HC1_FUZZ_SEED");
    uint32_t prompt[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    uint8_t* buf = calloc(1, 8192);
    struct io_uring ring;
    struct io_uring_cqe* cqe;
    long calls = 0;
    double end;
    int fd;

    seed = env ? strtoul(env, NULL, 0) : (unsigned int)time(NULL);
    printf("fuzz seed %u\n", seed);
    CHECK(buf);
    CHECK(io_uring_queue_init(64, &ring, 0) == 0);
    fd = hc1_open();
    end = hc1_now() + SECONDS;
    while (hc1_now() < end) {
        if (rnd() % 64 == 0) {
            /* Drain what completed, then start over on a fresh file. */
            while (io_uring_peek_cqe(&ring, &cqe) == 0)
                io_uring_cqe_seen(&ring, cqe);
            close(fd);
            fd = hc1_open();
        }
        if (rnd() % 4)
            fuzz_ioctl(fd, buf, prompt);
        else if (io_uring_sq_space_left(&ring) > 0)
            fuzz_uring(&ring, fd, buf, prompt);
        calls++;
    }
    close(fd);
    /* Parked commands hold their files until their generations end. */
    io_uring_queue_exit(&ring);
    hc1_wait_sysfs("sessions", 0, 30);
    fd = hc1_open();
    hc1_create(fd);
    {
        struct hc1_generate g = hc1_gen_args(prompt, 4, 8);
        struct hc1_wait w;

        CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
        w = hc1_wait_end(fd);
        CHECK(w.status == 0 && w.produced >= 1);
    }
    close(fd);
    printf("fuzz: %ld calls, card still generates\n", calls);
}

TEST_HARNESS_MAIN
