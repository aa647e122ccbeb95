// SPDX-License-Identifier: GPL-2.0
/*
 * Resets: HC1_IOCTL_RESET fails the generation in flight with -EIO and the
 * card comes back; sessions survive it and generate again.  With the
 * card's fault injection (HC1_CARD_F_FAULT_INJECT), a stalled engine is
 * detected by the driver's timeout, a fatal status by its watchdog, and
 * lost interrupts by its polling.
 */
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include "hc1_guest.h"

static uint32_t prompt[] = {1, 33, 44, 55};

static void start(int fd, uint32_t n) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, n);

    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
}

static void expect_live(void) {
    char state[32];
    double end = hc1_now() + 20;

    for (;;) {
        hc1_sysfs_str("state", state, sizeof(state));
        if (!strcmp(state, "live"))
            return;
        if (hc1_now() > end)
            FAIL("card state is %s", state);
        usleep(50000);
    }
}

static void generate_ok(int fd) {
    uint32_t tok[16];
    struct hc1_wait w;

    start(fd, 16);
    CHECK(hc1_read_all(fd, tok, 16) == 16);
    w = hc1_wait_end(fd);
    CHECK(w.status == 0);
}

static int uevent_open(void) {
    struct sockaddr_nl addr = {.nl_family = AF_NETLINK, .nl_groups = 1};
    int sock = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

    CHECK(sock >= 0);
    CHECK_OK(bind(sock, (struct sockaddr*)&addr, sizeof(addr)));
    return sock;
}

/* A reset announces itself: change@.../hc1/hc0 with HC1_EVENT=RESET. */
static void uevent_expect_reset(int sock) {
    char buf[4096];
    double end = hc1_now() + 10;

    for (;;) {
        struct pollfd p = {.fd = sock, .events = POLLIN};
        bool is_hc1 = false, is_reset = false, ok = false;
        ssize_t n;
        char* kv;

        if (hc1_now() > end)
            FAIL("no reset uevent");
        if (poll(&p, 1, 1000) != 1)
            continue;
        n = recv(sock, buf, sizeof(buf) - 1, 0);
        CHECK(n > 0);
        buf[n] = '\0';
        for (kv = buf; kv < buf + n; kv += strlen(kv) + 1) {
            is_hc1 |= !strncmp(kv, "change@", 7) && strstr(kv, "/hc1/hc0");
            is_reset |= !strcmp(kv, "HC1_EVENT=RESET");
            ok |= !strcmp(kv, "HC1_RESET=ok");
        }
        if (is_hc1 && is_reset) {
            CHECK(ok);
            return;
        }
    }
}

static void test_reset_ioctl(int fd, uint32_t slots) {
    long resets = hc1_sysfs_long("stats/resets");
    int sock = uevent_open();
    struct hc1_wait w;

    CHECK_ERR(ioctl(fd, HC1_IOCTL_RESET, 1), EINVAL);
    start(fd, slots);
    CHECK_OK(ioctl(fd, HC1_IOCTL_RESET, 0));
    uevent_expect_reset(sock);
    close(sock);
    expect_live();
    CHECK(hc1_sysfs_long("stats/resets") == resets + 1);
    w = hc1_wait_end(fd);
    CHECK(w.state == HC1_GENERATION_DONE);
    /* Finished before the reset hit it, or failed by it. */
    CHECK(w.status == -EIO || (w.status == 0 && w.produced == slots));
    printf("reset: generation status %d after %u tokens\n", w.status, w.produced);
    generate_ok(fd);
}

/* HC1_REG_TEST through the driver's debugfs file. */
static void set_fault(uint32_t bits) {
    FILE* f = fopen("/sys/kernel/debug/hc1/hc0/fault_inject", "w");

    CHECK(f);
    fprintf(f, "%u\n", bits);
    CHECK(fclose(f) == 0);
}

static void set_timeout_ms(unsigned int ms) {
    FILE* f = fopen("/sys/module/hc1/parameters/timeout_ms", "w");

    CHECK(f);
    fprintf(f, "%u\n", ms);
    CHECK(fclose(f) == 0);
}

static void test_stall(int fd, uint32_t slots) {
    long timeouts = hc1_sysfs_long("stats/timeouts");
    double t0;
    struct hc1_wait w;

    set_fault(HC1_TEST_STALL_ENGINE);
    t0 = hc1_now();
    start(fd, slots);
    w = hc1_wait_end(fd);
    set_fault(0);
    CHECK(w.status == -EIO);
    CHECK(hc1_sysfs_long("stats/timeouts") > timeouts);
    printf("stall: failed with -EIO after %.1f s\n", hc1_now() - t0);
    expect_live();
    generate_ok(fd);
}

static void test_fatal(int fd, uint32_t slots) {
    long resets = hc1_sysfs_long("stats/resets");
    struct hc1_wait w;

    start(fd, slots);
    set_fault(HC1_TEST_FATAL);
    w = hc1_wait_end(fd);
    set_fault(0);
    CHECK(w.status == -EIO || (w.status == 0 && w.produced == slots));
    expect_live();
    CHECK(hc1_sysfs_long("stats/resets") > resets);
    generate_ok(fd);
}

/*
 * Completions that name the wrong command never complete anything: the
 * synchronous CREATE_CTX times out and resets the card, whose re-created
 * queues time out too while the fault lasts, leaving it failed.  A RESET
 * once the fault is gone brings it back.
 */
static void test_bad_cid(void) {
    int fd2 = hc1_open();
    struct hc1_session s = {.size = sizeof(s)};
    char state[32];
    double t0 = hc1_now();

    set_fault(HC1_TEST_BAD_CID);
    CHECK_ERR(ioctl(fd2, HC1_IOCTL_SESSION_CREATE, &s), EIO);
    /* The reset the timeout started re-creates queues into the fault. */
    do {
        usleep(50000);
        hc1_sysfs_str("state", state, sizeof(state));
    } while (!strcmp(state, "resetting"));
    set_fault(0);
    printf("bad cid: create failed after %.1f s, card %s\n", hc1_now() - t0, state);
    if (!strcmp(state, "failed")) {
        CHECK_ERR(ioctl(fd2, HC1_IOCTL_SESSION_CREATE, &s), EIO);
        CHECK_OK(ioctl(fd2, HC1_IOCTL_RESET, 0));
    }
    expect_live();
    hc1_create(fd2);
    generate_ok(fd2);
    close(fd2);
}

/* Completions held back 2 s by the card: slow, not lost. */
static void test_delayed_cqe(int fd) {
    long resets = hc1_sysfs_long("stats/resets");
    double t0 = hc1_now();

    set_timeout_ms(10000);
    set_fault(HC1_TEST_DELAY_CQE);
    generate_ok(fd);
    set_fault(0);
    CHECK(hc1_sysfs_long("stats/resets") == resets);
    printf("delayed completion: generation done in %.1f s\n", hc1_now() - t0);
    set_timeout_ms(2000);
}

static void test_dropped_irqs(int fd) {
    uint32_t tok[32];
    double t0 = hc1_now();

    set_fault(HC1_TEST_DROP_IRQ);
    start(fd, 32);
    CHECK(hc1_read_all(fd, tok, 32) == 32);
    set_fault(0);
    printf("dropped interrupts: 32 tokens in %.2f s by polling\n", hc1_now() - t0);
}

int main(void) {
    int fd = hc1_open();
    struct hc1_info info = hc1_get_info(fd);
    uint32_t slots = 1u << info.ring_shift;

    hc1_create(fd);
    test_reset_ioctl(fd, slots);
    if (!(info.hw_features & HC1_CARD_F_FAULT_INJECT)) {
        printf("card has no fault injection: stall/fatal/irq tests not run\n");
        close(fd);
        return 0;
    }
    set_timeout_ms(2000);
    test_dropped_irqs(fd);
    test_stall(fd, slots);
    test_fatal(fd, slots);
    test_delayed_cqe(fd);
    test_bad_cid();
    set_timeout_ms(10000);
    close(fd);
    hc1_wait_sysfs("sessions", 0, 5);
    printf("reset tests passed\n");
    return 0;
}
