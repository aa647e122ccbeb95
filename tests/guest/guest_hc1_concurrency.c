// SPDX-License-Identifier: GPL-2.0
/*
 * Many users at once: two processes and several threads, each with its own
 * session, generate concurrently and each gets exactly the tokens a lone
 * run of the same request gets (greedy decoding is deterministic, contexts
 * are isolated).  Threads sharing one session race on it safely.  One case
 * each (hc1_harness.h).
 */
#include <pthread.h>
#include <sys/wait.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

#define N_TOKENS 40

static uint32_t prompt[] = {1, 70, 80, 90};
static uint32_t reference[N_TOKENS];

static uint32_t run_once(int fd, uint32_t* out) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, N_TOKENS);

    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    return hc1_read_all(fd, out, N_TOKENS);
}

static void* worker(void* arg) {
    int rounds = (int)(intptr_t)arg, fd = hc1_open(), i;
    uint32_t out[N_TOKENS];

    hc1_create(fd);
    for (i = 0; i < rounds; i++) {
        CHECK(run_once(fd, out) == N_TOKENS);
        CHECK(!memcmp(out, reference, sizeof(out)));
    }
    close(fd);
    return NULL;
}

/* Threads hammering one shared session: exactly one GENERATE wins each
 * time; the others see -EBUSY; nothing breaks. */
static int shared_fd;

static void* shared_worker(void* arg) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, 8);
    int i, started = 0;

    for (i = 0; i < 20; i++) {
        if (ioctl(shared_fd, HC1_IOCTL_GENERATE, &g) == 0)
            started++;
        else
            CHECK(errno == EBUSY);
        hc1_wait_end(shared_fd);
    }
    return (void*)(intptr_t)started;
}

/* Two processes, then threads, all at once, each on a session of its own. */
TEST(processes_and_threads_get_the_reference) {
    int fd = hc1_open();
    struct hc1_info info = hc1_get_info(fd);
    int n_threads = info.n_contexts > 2 ? info.n_contexts - 2 : 1;
    pthread_t th[16];
    pid_t pid[2];
    int i, status;

    if (n_threads > 16)
        n_threads = 16;
    hc1_create(fd);
    CHECK(run_once(fd, reference) == N_TOKENS);
    close(fd);

    for (i = 0; i < 2; i++) {
        pid[i] = fork();
        CHECK(pid[i] >= 0);
        if (!pid[i]) {
            worker((void*)3);
            _exit(0);
        }
    }
    for (i = 0; i < n_threads; i++)
        CHECK(!pthread_create(&th[i], NULL, worker, (void*)2));
    for (i = 0; i < n_threads; i++)
        CHECK(!pthread_join(th[i], NULL));
    for (i = 0; i < 2; i++) {
        CHECK(waitpid(pid[i], &status, 0) == pid[i]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    hc1_wait_sysfs("sessions", 0, 5);
    printf("%d threads and 2 processes got the reference tokens\n", n_threads);
}

TEST(threads_share_one_session) {
    pthread_t th[4];
    long total = 0;
    void* ret;
    int i;

    shared_fd = hc1_open();
    hc1_create(shared_fd);
    for (i = 0; i < 4; i++)
        CHECK(!pthread_create(&th[i], NULL, shared_worker, NULL));
    for (i = 0; i < 4; i++) {
        CHECK(!pthread_join(th[i], &ret));
        total += (intptr_t)ret;
    }
    CHECK(total >= 20);
    close(shared_fd);
    hc1_wait_sysfs("sessions", 0, 5);
    printf("shared session: %ld generations from 4 threads\n", total);
}

TEST_HARNESS_MAIN
