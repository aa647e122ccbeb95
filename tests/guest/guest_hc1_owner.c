// SPDX-License-Identifier: GPL-2.0
/*
 * A process that used io_uring on a session and exited must not cancel the
 * generation another, live process runs on the same file (fork, or an fd
 * passed over a socket).  The driver cancels a generation whose io_uring
 * parker has exited (nobody could collect it), and must not take the
 * last io_uring user of a file for the owner of every later generation.
 *
 * The engine is stalled (HC1_TEST_STALL_ENGINE, timeout_ms raised so the
 * driver does not reset), so the generation runs until the test lets it
 * go.  A child that shares the file does an io_uring WAIT and exits:
 *   - before the parent starts its ioctl GENERATE (the watchdog looks),
 *   - while it runs (the exiting child's flush() looks).
 * Either way the generation must still run a second later, and end with
 * all its tokens once the engine goes on.  One case each (hc1_harness.h).
 *
 *   guest-hc1-owner     (needs fault injection)
 */
#include <liburing.h>
#include <sys/wait.h>

#include "hc1_guest.h"
#include "hc1_harness.h"
#include "hc1_uring.h"

#define N_TOKENS 16

static uint32_t prompt[] = {1, 61, 62, 63};

/* A session on a card with fault injection, put back after each case. */
FIXTURE(owner) {
    int fd;
    struct hc1_generate g;
};
FIXTURE_SETUP(owner) {
    self->fd = hc1_open();
    hc1_need_faults(self->fd);
    hc1_set_timeout_ms(60000);
    hc1_create(self->fd);
    self->g = hc1_gen_args(prompt, 4, N_TOKENS);
    self->g.flags = HC1_GENERATE_IGNORE_EOS;
}
FIXTURE_TEARDOWN(owner) {
    hc1_set_fault(0);
    hc1_set_timeout_ms(10000);
    close(self->fd);
    hc1_wait_sysfs("sessions", 0, 10);
}

/* Child: an io_uring WAIT on the shared file (the session is idle: it
 * completes at once), then exit when told. */
static pid_t spawn_uring_child(int fd, int* go) {
    int ready[2], wait_go[2];
    char c;
    pid_t pid;

    CHECK(pipe(ready) == 0 && pipe(wait_go) == 0);
    pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        struct hc1_wait w = {.size = sizeof(w), .timeout_ms = 1000};
        struct io_uring_cqe* cqe;
        struct io_uring ring;

        if (io_uring_queue_init(4, &ring, 0))
            _exit(2);
        hc1_prep_uring_cmd(io_uring_get_sqe(&ring), fd, HC1_URING_CMD_WAIT, &w, sizeof(w));
        if (io_uring_submit(&ring) != 1 || io_uring_wait_cqe(&ring, &cqe) || cqe->res < 0)
            _exit(3);
        io_uring_cqe_seen(&ring, cqe);
        io_uring_queue_exit(&ring);
        if (write(ready[1], "r", 1) != 1 || read(wait_go[0], &c, 1) != 1)
            _exit(4);
        _exit(0);
    }
    close(ready[1]);
    close(wait_go[0]);
    CHECK(read(ready[0], &c, 1) == 1);
    close(ready[0]);
    *go = wait_go[1];
    return pid;
}

static void reap_child(pid_t pid, int go) {
    int status;

    CHECK(write(go, "g", 1) == 1);
    close(go);
    CHECK(waitpid(pid, &status, 0) == pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        FAIL("child's io_uring WAIT failed (status %#x)", status);
}

static void check_still_running(int fd, const char* when) {
    struct hc1_wait w = {.size = sizeof(w), .min_produced = UINT32_MAX, .timeout_ms = 1};

    usleep(1000000); /* four watchdog passes */
    if (ioctl(fd, HC1_IOCTL_WAIT, &w) == 0 || errno != ETIMEDOUT ||
        w.state != HC1_GENERATION_RUNNING)
        FAIL("%s: the live process's generation ended (state %u, finish %u, status %d)", when,
             w.state, w.finish, w.status);
    hc1_set_fault(0);
    w = hc1_wait_end(fd);
    if (w.status || w.finish != HC1_END_LENGTH || w.produced != N_TOKENS)
        FAIL("%s: generation ended with status %d finish %u after %u tokens, want %u (length)",
             when, w.status, w.finish, w.produced, N_TOKENS);
    printf("%s: the generation ran on and ended with its %u tokens\n", when, w.produced);
}

/* The child parked nothing and is gone before the generation starts. */
TEST_F(owner, child_exited_before_the_generation) {
    int go;
    pid_t pid = spawn_uring_child(self->fd, &go);

    reap_child(pid, go);
    hc1_set_fault(HC1_TEST_STALL_ENGINE);
    CHECK_OK(ioctl(self->fd, HC1_IOCTL_GENERATE, &self->g));
    check_still_running(self->fd, "child exited before");
}

/* The child exits while the parent's generation runs. */
TEST_F(owner, child_exited_during_the_generation) {
    int go;
    pid_t pid = spawn_uring_child(self->fd, &go);

    hc1_set_fault(HC1_TEST_STALL_ENGINE);
    CHECK_OK(ioctl(self->fd, HC1_IOCTL_GENERATE, &self->g));
    reap_child(pid, go);
    check_still_running(self->fd, "child exited during");
}

TEST_HARNESS_MAIN
