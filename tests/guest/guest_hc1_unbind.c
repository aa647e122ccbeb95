// SPDX-License-Identifier: GPL-2.0
/*
 * The card goes away under open files (driver unbind, the path PCI hot
 * removal takes): a reader blocked in read() gets -ENODEV, every later call
 * -ENODEV, poll() reports EPOLLERR | EPOLLHUP, a mapping of the ring faults
 * with SIGBUS instead of reading freed memory, and close() works.  Then
 * the driver binds again and the card works.
 */
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

static uint32_t prompt[] = {1, 21, 22, 23};
static int fd;
static sigjmp_buf bus_jmp;

static void on_sigbus(int sig) {
    siglongjmp(bus_jmp, 1);
}

static void* blocked_reader(void* arg) {
    uint32_t tok[4096];
    ssize_t r;

    do
        r = read(fd, tok, sizeof(tok));
    while (r > 0);
    return (void*)(intptr_t)(r < 0 ? errno : 0);
}

TEST(open_files_fail_cleanly_on_unbind) {
    struct hc1_info info;
    struct hc1_session s;
    struct hc1_generate g;
    struct hc1_wait w = {.size = sizeof(w)};
    char link[512], bdf[64];
    struct pollfd p;
    pthread_t th;
    void *ring, *ret;
    volatile uint32_t v;
    ssize_t n;
    double end;

    fd = hc1_open();
    info = hc1_get_info(fd);
    s = hc1_create(fd);
    n = readlink(HC1_SYSFS "/device", link, sizeof(link) - 1);
    CHECK(n > 0);
    link[n] = '\0';
    snprintf(bdf, sizeof(bdf), "%s", basename(link));

    ring = mmap(NULL, s.ring_bytes, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(ring != MAP_FAILED);
    g = hc1_gen_args(prompt, 4, 1u << info.ring_shift);
    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    CHECK(!pthread_create(&th, NULL, blocked_reader, NULL));
    usleep(50000);

    hc1_write_file("/sys/bus/pci/drivers/hc1/unbind", bdf);

    CHECK(!pthread_join(th, &ret));
    /* The reader either drained a finished generation or saw -ENODEV. */
    CHECK((intptr_t)ret == ENODEV || (intptr_t)ret == 0);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_WAIT, &w), ENODEV);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_GENERATE, &g), ENODEV);
    CHECK_ERR(read(fd, link, 4), ENODEV);
    CHECK(mmap(NULL, s.ring_bytes, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENODEV);
    p = (struct pollfd){.fd = fd, .events = POLLIN};
    CHECK(poll(&p, 1, 0) == 1);
    CHECK((p.revents & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP));
    CHECK(access(HC1_DEV, F_OK) != 0);

    /* The mapping stays valid: an idle, empty ring, not SIGBUS. */
    signal(SIGBUS, on_sigbus);
    if (sigsetjmp(bus_jmp, 1))
        FAIL("reading the ring after the card went away raised SIGBUS");
    v = hc1_ring_load(ring, s.offsets.produced);
    CHECK(v == 0 && hc1_ring_load(ring, s.offsets.state) == HC1_GENERATION_IDLE);
    signal(SIGBUS, SIG_DFL);
    CHECK_OK(munmap(ring, s.ring_bytes));
    CHECK_OK(close(fd));

    hc1_write_file("/sys/bus/pci/drivers/hc1/bind", bdf);
    end = hc1_now() + 10;
    while (access(HC1_DEV, F_OK) != 0) {
        if (hc1_now() > end)
            FAIL("%s did not come back after bind", HC1_DEV);
        usleep(20000);
    }
    fd = hc1_open();
    hc1_create(fd);
    g = hc1_gen_args(prompt, 4, 8);
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    w = hc1_wait_end(fd);
    CHECK(w.status == 0 && w.produced >= 1);
    close(fd);
    printf("unbind with open files and rebind passed\n");
}

TEST_HARNESS_MAIN
