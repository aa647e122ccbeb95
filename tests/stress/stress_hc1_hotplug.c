// SPDX-License-Identifier: GPL-2.0
/*
 * Guest half of the surprise-removal test (tools/stress/hotplug.sh is the
 * host half): readers stream from the card -- blocked in read(), parked in
 * io_uring WAIT, polling a mapped ring, looping on HC1_IOCTL_WAIT -- while
 * the host makes the card vanish (QOM property vanished) and device_dels it.
 * Every reader must then get -ENODEV (after at most -EIO for the
 * generation in flight), a mapped ring must fault or be intact, and the
 * kernel must stay quiet.  Then it waits for the host's device_add and for
 * the new card to appear.
 *
 *   stress-hc1-hotplug [READERS]          (default 8)
 *
 * Console protocol: prints "HC1-HOTPLUG: streaming" once every reader has
 * tokens, "HC1-HOTPLUG: gone ..." once every reader saw -ENODEV, and
 * "HC1-HOTPLUG: back" once /dev/hc/0 answers again.
 */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "../guest/hc1_guest.h"
#include "../guest/hc1_uring.h"

static uint32_t prompt[] = {1, 51, 52, 53};

/* Reader kinds. */
enum { BLOCKING_READ, URING_WAIT, IOCTL_WAIT, MAPPED_RING, N_KINDS };

static const char* const kind_name[N_KINDS] = {
    "blocking read",
    "io_uring WAIT",
    "ioctl WAIT",
    "mapped ring",
};

static int start(int fd, uint32_t slots) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, slots);

    g.flags = HC1_GENERATE_IGNORE_EOS;
    return ioctl(fd, HC1_IOCTL_GENERATE, &g) ? -errno : 0;
}

static sigjmp_buf fault_jmp;

static void on_sigbus(int sig) {
    siglongjmp(fault_jmp, 1);
}

/*
 * Streams until the card is gone; exit status: 0 = saw -ENODEV,
 * 1 = something else went wrong.
 */
static int reader(int id, int kind, int ready_fd, uint32_t slots) {
    int fd = hc1_open(), err = 0, told = 0;
    struct hc1_session s = hc1_create(fd);
    const volatile void* h = NULL;
    struct io_uring ring;
    uint32_t tok[64];
    char c = 'r';
    long eio = 0;

    if (kind == MAPPED_RING) {
        h = mmap(NULL, s.ring_bytes, PROT_READ, MAP_SHARED, fd, 0);
        CHECK(h != MAP_FAILED);
        signal(SIGBUS, on_sigbus);
    }
    if (kind == URING_WAIT)
        CHECK(io_uring_queue_init(4, &ring, 0) == 0);
    for (;;) {
        err = start(fd, slots);
        if (err == -EBUSY)
            err = 0;
        if (err)
            break;
        if (!told) {
            /* First tokens flowing: tell the parent. */
            struct hc1_wait w = {.size = sizeof(w), .min_produced = 0, .timeout_ms = 30000};

            CHECK_OK(ioctl(fd, HC1_IOCTL_WAIT, &w));
            CHECK(write(ready_fd, &c, 1) == 1);
            told = 1;
        }
        switch (kind) {
        case BLOCKING_READ: {
            ssize_t r;

            while ((r = read(fd, tok, sizeof(tok))) > 0)
                ;
            err = r < 0 ? -errno : 0;
            break;
        }
        case URING_WAIT: {
            struct hc1_wait w = {.size = sizeof(w), .min_produced = UINT32_MAX};
            struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            struct io_uring_cqe* cqe;

            hc1_prep_uring_cmd(sqe, fd, HC1_URING_CMD_WAIT, &w, sizeof(w));
            CHECK(io_uring_submit(&ring) == 1);
            CHECK(io_uring_wait_cqe(&ring, &cqe) == 0);
            err = cqe->res < 0 ? cqe->res : w.status;
            io_uring_cqe_seen(&ring, cqe);
            break;
        }
        case IOCTL_WAIT: {
            struct hc1_wait w = {.size = sizeof(w), .min_produced = UINT32_MAX};

            err = ioctl(fd, HC1_IOCTL_WAIT, &w) ? -errno : w.status;
            break;
        }
        default: {
            struct hc1_wait w = {.size = sizeof(w)};

            /* A driver that raises SIGBUS on a vanished ring. */
            if (sigsetjmp(fault_jmp, 1))
                h = NULL;
            /*
             * Poll while the card runs the generation.  Once the card is
             * gone the mapping reads the zero page, an idle ring (never
             * DONE): the next call says why.
             */
            while (h && hc1_ring_load(h, s.offsets.state) == HC1_GENERATION_RUNNING)
                usleep(2000);
            err = ioctl(fd, HC1_IOCTL_WAIT, &w) ? -errno : w.status;
            break;
        }
        }
        if (err == -EIO)
            eio++;
        else if (err)
            break;
    }
    if (err != -ENODEV) {
        fprintf(stderr, "reader %d: ended with %d (%s), want -ENODEV\n", id, err, strerror(-err));
        return 1;
    }
    /* Everything else now fails the same way. */
    {
        struct hc1_info info = {.size = sizeof(info)};
        struct pollfd p = {.fd = fd, .events = POLLIN};

        if (start(fd, 4) != -ENODEV) {
            fprintf(stderr, "reader %d: GENERATE after removal did not give -ENODEV\n", id);
            return 1;
        }
        errno = 0;
        if (ioctl(fd, HC1_IOCTL_INFO, &info) == 0 || errno != ENODEV) {
            fprintf(stderr, "reader %d: INFO after removal: errno %d\n", id, errno);
            return 1;
        }
        if (poll(&p, 1, 1000) != 1 || !(p.revents & POLLHUP)) {
            fprintf(stderr, "reader %d: poll after removal: %#x\n", id, p.revents);
            return 1;
        }
    }
    printf("reader %d (%s): -ENODEV (after %ld -EIO)\n", id, kind_name[kind], eio);
    close(fd);
    return 0;
}

int main(int argc, char** argv) {
    int n = argc > 1 ? atoi(argv[1]) : 8, i, status, bad = 0, pipefd[2];
    int fd = hc1_open();
    struct hc1_info info = hc1_get_info(fd);
    uint32_t slots = 1u << info.ring_shift;
    double t0, end;
    char c;

    close(fd);
    CHECK_OK(pipe(pipefd));
    for (i = 0; i < n; i++) {
        pid_t pid = fork();

        CHECK(pid >= 0);
        if (!pid) {
            close(pipefd[0]);
            _exit(reader(i, i % N_KINDS, pipefd[1], slots));
        }
    }
    close(pipefd[1]);
    for (i = 0; i < n; i++)
        CHECK(read(pipefd[0], &c, 1) == 1);
    printf("HC1-HOTPLUG: streaming\n");
    fflush(stdout);
    t0 = hc1_now();
    for (i = 0; i < n; i++) {
        CHECK(wait(&status) > 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status))
            bad++;
    }
    printf("HC1-HOTPLUG: gone: %d readers, %d failed, all done %.1f s after streaming began\n", n,
           bad, hc1_now() - t0);
    fflush(stdout);
    if (bad)
        FAIL("%d readers did not end with -ENODEV", bad);
    /* The host device_adds a new card once the old one is deleted. */
    end = hc1_now() + 180;
    while ((fd = open(HC1_DEV, O_RDWR)) < 0) {
        if (hc1_now() > end)
            FAIL("no card came back: %s", strerror(errno));
        usleep(200000);
    }
    info = hc1_get_info(fd);
    close(fd);
    printf("HC1-HOTPLUG: back: %s, vocab %u\n", HC1_DEV, info.vocab_size);
    return 0;
}
