// SPDX-License-Identifier: GPL-2.0
/*
 * A process killed mid-generation leaves nothing behind: its sessions go
 * away, every context of the card can be claimed again, and the card keeps
 * working.  Covered: a victim blocked in read(), one with io_uring commands
 * parked, and one holding a mapping of its ring: one case each
 * (hc1_harness.h).
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "hc1_guest.h"
#include "hc1_harness.h"
#include "hc1_uring.h"

static uint32_t prompt[] = {1, 11, 12, 13};

enum victim_kind { BLOCKED_READ, PARKED_URING, MAPPED_RING };

/*
 * The parked WAIT's argument, at the same address in the victim and, after
 * fork, in this process.  Once the victim is dead its WAIT completes from
 * io_uring's fallback worker, a kernel thread with no mm of its own that
 * runs on the last one it borrowed: this process's, when this process is
 * what ran before it.  A driver that copied the WAIT's result out there
 * would write this process's copy (it did: the case crashed about once in
 * six runs, its stack overwritten).  A page of its own, written here after
 * the fork, so that this copy is private and writable, as the stack was.
 */
static struct hc1_wait parked_wait __attribute__((aligned(4096)));
#define PARKED_CANARY 0xa5

static void start_long(int fd, uint32_t slots) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, slots);

    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
}

static void victim(enum victim_kind kind, int ready_fd, uint32_t slots) {
    int fd = hc1_open();
    struct hc1_session s = hc1_create(fd);
    struct hc1_generate g = hc1_gen_args(prompt, 4, slots);
    struct io_uring ring;
    struct io_uring_sqe* sqe;
    uint32_t tok[4];
    char c = 'r';

    switch (kind) {
    case BLOCKED_READ:
        start_long(fd, slots);
        CHECK(write(ready_fd, &c, 1) == 1);
        for (;;)
            CHECK(read(fd, tok, sizeof(tok)) >= 0);
        break;
    case PARKED_URING:
        CHECK(io_uring_queue_init(4, &ring, 0) == 0);
        g.flags = HC1_GENERATE_IGNORE_EOS;
        sqe = io_uring_get_sqe(&ring);
        hc1_prep_uring_cmd(sqe, fd, HC1_URING_CMD_GENERATE, &g, sizeof(g));
        sqe = io_uring_get_sqe(&ring);
        parked_wait = (struct hc1_wait){.size = sizeof(parked_wait), .min_produced = UINT32_MAX};
        hc1_prep_uring_cmd(sqe, fd, HC1_URING_CMD_WAIT, &parked_wait, sizeof(parked_wait));
        CHECK(io_uring_submit(&ring) == 2);
        CHECK(write(ready_fd, &c, 1) == 1);
        pause();
        break;
    case MAPPED_RING:
        CHECK(mmap(NULL, s.ring_bytes, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED);
        start_long(fd, slots);
        CHECK(write(ready_fd, &c, 1) == 1);
        pause();
        break;
    }
    _exit(0);
}

/*
 * Other sessions generating at the same time: the card decodes them in one
 * batch, so the victim's generation lasts long enough to be cut short.
 */
static int load_fds[48];

static void load_start(uint32_t slots, int n) {
    int i;

    for (i = 0; i < n; i++) {
        load_fds[i] = hc1_open();
        hc1_create(load_fds[i]);
        start_long(load_fds[i], slots);
    }
}

static void load_stop(int n) {
    int i;

    for (i = 0; i < n; i++)
        close(load_fds[i]);
}

/* How many load generations have not ended yet. */
static int load_running(int n) {
    int i, running = 0;

    for (i = 0; i < n; i++) {
        struct hc1_wait w = {.size = sizeof(w), .min_produced = UINT32_MAX, .timeout_ms = 1};

        if (ioctl(load_fds[i], HC1_IOCTL_WAIT, &w) < 0) {
            CHECK(errno == ETIMEDOUT);
            running++;
        }
    }
    return running;
}

static void kill_one(enum victim_kind kind, uint32_t slots, long n_sessions) {
    int pipefd[2], status;
    double t0;
    pid_t pid;
    char c;

    CHECK_OK(pipe(pipefd));
    pid = fork();
    CHECK(pid >= 0);
    if (!pid) {
        close(pipefd[0]);
        victim(kind, pipefd[1], slots);
    }
    close(pipefd[1]);
    memset(&parked_wait, PARKED_CANARY, sizeof(parked_wait));
    CHECK(read(pipefd[0], &c, 1) == 1);
    close(pipefd[0]);
    usleep(20000);
    CHECK_OK(kill(pid, SIGKILL));
    t0 = hc1_now();
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /*
     * Parked io_uring commands hold the file until the generation ends;
     * the driver's watchdog cancels it once the process is gone.  Spin
     * meanwhile, not sleep: the fallback worker that completes them then
     * most likely runs on this process's mm.
     */
    while (hc1_sysfs_long("sessions") != n_sessions)
        if (hc1_now() > t0 + 30)
            FAIL("sessions is %ld, want %ld 30 s after SIGKILL", hc1_sysfs_long("sessions"),
                 n_sessions);
    printf("victim %d: session gone %.2f s after SIGKILL\n", kind, hc1_now() - t0);
    for (size_t i = 0; i < sizeof(parked_wait); i++)
        if (((const unsigned char*)&parked_wait)[i] != PARKED_CANARY)
            FAIL("byte %zu of this process's copy of the dead victim's WAIT argument changed: "
                 "the driver copied the WAIT's result out through another process's mm",
                 i);
}

/* Every context can be claimed again, and the card still generates. */
static void check_clean(const struct hc1_info* info) {
    int* fds = calloc(info->n_contexts, sizeof(int));
    uint32_t i, tok[8];

    for (i = 0; i < info->n_contexts; i++) {
        fds[i] = hc1_open();
        hc1_create(fds[i]);
    }
    {
        struct hc1_generate g = hc1_gen_args(prompt, 4, 8);

        g.flags = HC1_GENERATE_IGNORE_EOS;
        CHECK_OK(ioctl(fds[0], HC1_IOCTL_GENERATE, &g));
        CHECK(hc1_read_all(fds[0], tok, 8) == 8);
    }
    for (i = 0; i < info->n_contexts; i++)
        close(fds[i]);
    free(fds);
    hc1_wait_sysfs("sessions", 0, 5);
}

static struct hc1_info card_info(void) {
    int fd = hc1_open();
    struct hc1_info info = hc1_get_info(fd);

    close(fd);
    return info;
}

TEST(killed_in_read) {
    struct hc1_info info = card_info();

    kill_one(BLOCKED_READ, 1u << info.ring_shift, 0);
    check_clean(&info);
}

TEST(killed_holding_a_mapping) {
    struct hc1_info info = card_info();

    kill_one(MAPPED_RING, 1u << info.ring_shift, 0);
    check_clean(&info);
}

/*
 * With io_uring commands parked, the file stays open after the kill: the
 * watchdog sees the process gone and cancels the generation.  The watchdog
 * looks every 250 ms, and the victim's generation is only as long as the
 * context, so it may end on its own first: then the cancel counter rightly
 * stays put.  The loads decide which it was: they started before the
 * victim, are as long, and advance in the same batches, so one still
 * running when the victim's session is gone proves the victim was cut
 * short and must have been counted.
 */
TEST(killed_with_uring_commands_parked) {
    struct hc1_info info = card_info();
    uint32_t slots = 1u << info.ring_shift;
    int n_load = info.n_contexts > 49 ? 48 : info.n_contexts - 1;
    int attempt;

    for (attempt = 1; attempt <= 5; attempt++) {
        long cancelled, delta;
        int running;

        load_start(slots, n_load);
        cancelled = hc1_sysfs_long("stats/cancelled");
        kill_one(PARKED_URING, slots, n_load);
        running = load_running(n_load);
        delta = hc1_sysfs_long("stats/cancelled") - cancelled;
        load_stop(n_load);
        check_clean(&info);
        printf("attempt %d: cancelled +%ld, %d loads still running\n", attempt, delta, running);
        CHECK(delta == 1 || (delta == 0 && running == 0));
        if (delta == 1)
            break;
    }
    CHECK(attempt <= 5);
}

TEST_HARNESS_MAIN
