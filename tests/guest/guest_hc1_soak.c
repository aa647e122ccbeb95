// SPDX-License-Identifier: GPL-2.0
/*
 * Soak: many sessions generate concurrently, over and over, with fixed
 * seeds and sampling on, and every output must equal the same request's
 * solo run (contexts are isolated, the sampler is seeded).  Half the
 * threads read with read(), half through io_uring GENERATE + WAIT.
 *
 *   guest-hc1-soak [SESSIONS [GENERATIONS [TOKENS]]]  (default 16 x 8 x 16)
 *
 * Prints "soak: sessions S generations G mismatches M failures F".  One
 * scenario, one case (hc1_harness.h).
 */
#include <pthread.h>

#include "hc1_guest.h"
#include "hc1_harness.h"
#include "hc1_uring.h"

#define MAX_TOKENS 256

struct job {
    unsigned int id, rounds, tokens;
    uint32_t prompt[4];
    uint32_t ref[MAX_TOKENS];
    uint32_t ref_n;
    unsigned long done, mismatches, failures;
};

static struct hc1_generate job_args(struct job* j) {
    struct hc1_generate g = hc1_gen_args(j->prompt, 4, j->tokens);

    g.flags = HC1_GENERATE_IGNORE_EOS;
    g.temperature_milli = 900;
    g.top_p_milli = 950;
    g.seed = 1000 + j->id;
    return g;
}

static uint32_t run_read(int fd, struct job* j, uint32_t* out) {
    struct hc1_generate g = job_args(j);
    struct hc1_wait w;
    uint32_t n;

    if (ioctl(fd, HC1_IOCTL_GENERATE, &g))
        return 0;
    n = hc1_read_all(fd, out, MAX_TOKENS);
    w = hc1_wait_end(fd);
    return w.status ? 0 : n;
}

/* io_uring: GENERATE completes with the token count; tokens via read(). */
static uint32_t run_uring(struct io_uring* ring, int fd, struct job* j, uint32_t* out) {
    struct hc1_generate g = job_args(j);
    struct io_uring_sqe* sqe = io_uring_get_sqe(ring);
    struct io_uring_cqe* cqe;
    int res;

    hc1_prep_uring_cmd(sqe, fd, HC1_URING_CMD_GENERATE, &g, sizeof(g));
    CHECK(io_uring_submit(ring) == 1);
    CHECK(io_uring_wait_cqe(ring, &cqe) == 0);
    res = cqe->res;
    io_uring_cqe_seen(ring, cqe);
    if (res < 0)
        return 0;
    return hc1_read_all(fd, out, MAX_TOKENS) == (uint32_t)res ? res : 0;
}

static void* soak(void* arg) {
    struct job* j = arg;
    int fd = hc1_open();
    struct io_uring ring;
    uint32_t out[MAX_TOKENS], n, r;

    hc1_create(fd);
    CHECK(io_uring_queue_init(4, &ring, 0) == 0);
    for (r = 0; r < j->rounds; r++) {
        n = (j->id + r) % 2 ? run_uring(&ring, fd, j, out) : run_read(fd, j, out);
        j->done++;
        if (!n)
            j->failures++;
        else if (n != j->ref_n || memcmp(out, j->ref, n * 4))
            j->mismatches++;
    }
    io_uring_queue_exit(&ring);
    close(fd);
    return NULL;
}

TEST(sessions_match_their_solo_runs) {
    unsigned int sessions = hc1_test_arg(0, 16);
    unsigned int rounds = hc1_test_arg(1, 8);
    unsigned int tokens = hc1_test_arg(2, 16);
    unsigned long done = 0, mismatches = 0, failures = 0;
    struct job* jobs = calloc(sessions, sizeof(*jobs));
    pthread_t* th = calloc(sessions, sizeof(*th));
    int fd = hc1_open();
    struct hc1_info info = hc1_get_info(fd);
    double t0;
    unsigned int i;

    CHECK(jobs && th);
    if (sessions > info.n_contexts)
        skip("more sessions asked than the card has contexts");
    if (tokens > MAX_TOKENS || tokens > (1u << info.ring_shift))
        FAIL("at most %u tokens", MAX_TOKENS);
    hc1_create(fd);
    for (i = 0; i < sessions; i++) {
        struct job* j = &jobs[i];

        j->id = i;
        j->rounds = rounds;
        j->tokens = tokens;
        j->prompt[0] = info.bos_id;
        j->prompt[1] = 3 + (i * 7) % (info.vocab_size - 3);
        j->prompt[2] = 3 + (i * 13 + 5) % (info.vocab_size - 3);
        j->prompt[3] = 3 + (i * 29 + 11) % (info.vocab_size - 3);
        /* The solo run, one at a time on one session. */
        j->ref_n = run_read(fd, j, j->ref);
        CHECK(j->ref_n == tokens);
    }
    close(fd);
    t0 = hc1_now();
    for (i = 0; i < sessions; i++)
        CHECK(pthread_create(&th[i], NULL, soak, &jobs[i]) == 0);
    for (i = 0; i < sessions; i++) {
        pthread_join(th[i], NULL);
        done += jobs[i].done;
        mismatches += jobs[i].mismatches;
        failures += jobs[i].failures;
    }
    printf("soak: sessions %u generations %lu tokens %lu mismatches %lu failures %lu in %.1f s\n",
           sessions, done, done * tokens, mismatches, failures, hc1_now() - t0);
    hc1_wait_sysfs("sessions", 0, 10);
    if (mismatches || failures || done != (unsigned long)sessions * rounds)
        FAIL("soak saw %lu mismatches and %lu failures", mismatches, failures);
}

TEST_HARNESS_MAIN
