// SPDX-License-Identifier: GPL-2.0
/*
 * Races: threads throw random operations at shared and private files
 * (create, generate, read, poll, wait, cancel, destroy, mmap, close, and
 * resets of the whole card) for a few seconds.  Every call must succeed or
 * fail with an errno the UAPI documents for the situation; afterwards no
 * session is left and the card still produces the same tokens.  The guest
 * runner fails the test on any kernel warning, slub report or oops.  One
 * scenario, one case (hc1_harness.h).
 */
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

#define N_THREADS 6
#define N_SHARED 3
#define SECONDS 4

static uint32_t prompt[] = {1, 100, 200, 300};
static int shared[N_SHARED];
static volatile bool stop;

static void expect(long r, const char* what, const int* ok, int n) {
    int i;

    if (r >= 0)
        return;
    for (i = 0; i < n; i++)
        if (errno == ok[i])
            return;
    FAIL("%s: unexpected errno %d (%s)", what, errno, strerror(errno));
}

#define EXPECT(call, ...)                                                                          \
    do {                                                                                           \
        static const int _ok[] = {__VA_ARGS__};                                                    \
        expect((long)(call), #call, _ok, sizeof(_ok) / sizeof(_ok[0]));                            \
    } while (0)

/* EIO: a reset failed the call; EINTR never happens here (no signals). */
static void one_op(int fd, unsigned int* seed) {
    struct hc1_session s = {.size = sizeof(s)};
    struct hc1_generate g = hc1_gen_args(prompt, 4, 1 + rand_r(seed) % 64);
    struct hc1_wait w = {.size = sizeof(w)};
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint32_t tok[32];
    void* m;

    switch (rand_r(seed) % 10) {
    case 0:
        EXPECT(ioctl(fd, HC1_IOCTL_SESSION_CREATE, &s), EEXIST, EBUSY, EIO);
        break;
    case 1:
    case 2:
        g.flags = rand_r(seed) % 2 ? HC1_GENERATE_IGNORE_EOS : 0;
        EXPECT(ioctl(fd, HC1_IOCTL_GENERATE, &g), ENOENT, EBUSY, EIO);
        break;
    case 3:
        w.min_produced = rand_r(seed) % 32;
        w.timeout_ms = 50;
        EXPECT(ioctl(fd, HC1_IOCTL_WAIT, &w), ENOENT, ETIMEDOUT, ECANCELED);
        break;
    case 4:
        EXPECT(ioctl(fd, HC1_IOCTL_CANCEL, 0), ENOENT, EIO);
        break;
    case 5:
        if (rand_r(seed) % 4 == 0)
            EXPECT(ioctl(fd, HC1_IOCTL_SESSION_DESTROY, 0), ENOENT);
        break;
    case 6:
        /* Non-blocking: a blocking read could outlive the test. */
        EXPECT(read(fd, tok, sizeof(tok)), ENOENT, EAGAIN, EIO);
        break;
    case 7:
        EXPECT(poll(&p, 1, 10), EINTR);
        break;
    case 8:
        m = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
        if (m == MAP_FAILED)
            CHECK(errno == ENOENT);
        else
            CHECK_OK(munmap(m, 4096));
        break;
    case 9:
        if (rand_r(seed) % 50 == 0)
            EXPECT(ioctl(fd, HC1_IOCTL_RESET, 0), EIO);
        break;
    }
}

static void* worker(void* arg) {
    unsigned int seed = (unsigned int)(uintptr_t)arg;
    int own = -1;
    long ops = 0;

    while (!stop) {
        int fd;

        if (rand_r(&seed) % 2) {
            fd = shared[rand_r(&seed) % N_SHARED];
        } else {
            if (own < 0 || rand_r(&seed) % 20 == 0) {
                if (own >= 0)
                    close(own);
                own = open(HC1_DEV, O_RDWR | O_NONBLOCK);
                CHECK(own >= 0);
            }
            fd = own;
        }
        one_op(fd, &seed);
        ops++;
    }
    if (own >= 0)
        close(own);
    return (void*)ops;
}

TEST(random_operations_leave_the_card_working) {
    pthread_t th[N_THREADS];
    uint32_t before[16], after[16];
    long total = 0;
    void* ret;
    int i, fd;

    fd = hc1_open();
    hc1_create(fd);
    {
        struct hc1_generate g = hc1_gen_args(prompt, 4, 16);

        g.flags = HC1_GENERATE_IGNORE_EOS;
        CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
        CHECK(hc1_read_all(fd, before, 16) == 16);
    }
    for (i = 0; i < N_SHARED; i++) {
        shared[i] = open(HC1_DEV, O_RDWR | O_NONBLOCK);
        CHECK(shared[i] >= 0);
    }
    for (i = 0; i < N_THREADS; i++)
        CHECK(!pthread_create(&th[i], NULL, worker, (void*)(uintptr_t)(i + 1)));
    sleep(SECONDS);
    stop = true;
    for (i = 0; i < N_THREADS; i++) {
        CHECK(!pthread_join(th[i], &ret));
        total += (long)ret;
    }
    for (i = 0; i < N_SHARED; i++)
        close(shared[i]);

    /* The long-lived session survives the resets and still agrees. */
    {
        struct hc1_generate g = hc1_gen_args(prompt, 4, 16);
        char state[32];
        double end = hc1_now() + 20;

        do {
            hc1_sysfs_str("state", state, sizeof(state));
            usleep(20000);
        } while (strcmp(state, "live") && hc1_now() < end);
        CHECK(!strcmp(state, "live"));
        g.flags = HC1_GENERATE_IGNORE_EOS;
        CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
        CHECK(hc1_read_all(fd, after, 16) == 16);
        CHECK(!memcmp(before, after, sizeof(before)));
    }
    close(fd);
    hc1_wait_sysfs("sessions", 0, 30);
    printf("stress: %ld operations from %d threads, %ld resets\n", total, N_THREADS,
           hc1_sysfs_long("stats/resets"));
}

TEST_HARNESS_MAIN
