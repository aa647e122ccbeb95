// SPDX-License-Identifier: GPL-2.0
/*
 * Resets: HC1_IOCTL_RESET announces itself and the card comes back;
 * sessions survive it and generate again, and the generation it hits
 * fails with -EIO.  With the card's fault injection
 * (HC1_CARD_F_FAULT_INJECT), a stalled engine is detected by the driver's
 * timeout, a fatal status by its watchdog, and lost interrupts by its
 * polling.  One case per behaviour (hc1_harness.h).
 */
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

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

/* An open card with a session. */
FIXTURE(session) {
    int fd;
};
FIXTURE_SETUP(session) {
    self->fd = hc1_open();
    hc1_create(self->fd);
}
FIXTURE_TEARDOWN(session) {
    close(self->fd);
}

/*
 * The same on a card with fault injection, a 2 s command timeout so that a
 * stall is found quickly, and no fault left behind whatever the case did.
 */
FIXTURE(faults) {
    int fd;
    uint32_t slots;
};
FIXTURE_SETUP(faults) {
    self->fd = hc1_open();
    hc1_need_faults(self->fd);
    self->slots = 1u << hc1_get_info(self->fd).ring_shift;
    hc1_set_fault(0);
    hc1_set_timeout_ms(2000);
    hc1_create(self->fd);
}
FIXTURE_TEARDOWN(faults) {
    hc1_set_fault(0);
    hc1_set_timeout_ms(10000);
    close(self->fd);
}

/* A reset announces itself, counts, and leaves the session working. */
TEST_F(session, reset_ioctl) {
    long resets = hc1_sysfs_long("stats/resets");
    int sock = uevent_open();

    CHECK_ERR(ioctl(self->fd, HC1_IOCTL_RESET, 1), EINVAL);
    CHECK_OK(ioctl(self->fd, HC1_IOCTL_RESET, 0));
    uevent_expect_reset(sock);
    close(sock);
    expect_live();
    CHECK(hc1_sysfs_long("stats/resets") == resets + 1);
    generate_ok(self->fd);
}

/*
 * The generation a reset hits fails with -EIO, exactly: the engine is held
 * so that the generation is surely running when the reset comes.
 */
TEST_F(faults, reset_fails_generation_with_eio) {
    struct hc1_wait w;

    /*
     * GENERATE has returned: the generation is the card's, and with the
     * engine held it cannot end before the reset (the command timeout is
     * 2 s away).
     */
    hc1_set_fault(HC1_TEST_STALL_ENGINE);
    start(self->fd, self->slots);
    CHECK_OK(ioctl(self->fd, HC1_IOCTL_RESET, 0));
    w = hc1_wait_end(self->fd);
    hc1_set_fault(0);
    CHECK(w.state == HC1_GENERATION_DONE);
    if (w.status != -EIO)
        FAIL("generation ended with status %d after a reset, want -EIO", w.status);
    CHECK(w.produced < self->slots);
    expect_live();
    generate_ok(self->fd);
}

TEST_F(faults, stall_times_out_with_eio) {
    int fd = self->fd;
    uint32_t slots = self->slots;
    long timeouts = hc1_sysfs_long("stats/timeouts");
    double t0;
    struct hc1_wait w;

    hc1_set_fault(HC1_TEST_STALL_ENGINE);
    t0 = hc1_now();
    start(fd, slots);
    w = hc1_wait_end(fd);
    hc1_set_fault(0);
    CHECK(w.status == -EIO);
    CHECK(hc1_sysfs_long("stats/timeouts") > timeouts);
    printf("stall: failed with -EIO after %.1f s\n", hc1_now() - t0);
    expect_live();
    generate_ok(fd);
}

TEST_F(faults, fatal_status_resets_the_card) {
    int fd = self->fd;
    uint32_t slots = self->slots;
    long resets = hc1_sysfs_long("stats/resets");
    struct hc1_wait w;

    start(fd, slots);
    hc1_set_fault(HC1_TEST_FATAL);
    w = hc1_wait_end(fd);
    hc1_set_fault(0);
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
TEST_F(faults, bad_cid_fails_the_card_until_reset) {
    int fd2 = hc1_open();
    struct hc1_session s = {.size = sizeof(s)};
    char state[32];
    double t0 = hc1_now();

    hc1_set_fault(HC1_TEST_BAD_CID);
    CHECK_ERR(ioctl(fd2, HC1_IOCTL_SESSION_CREATE, &s), EIO);
    /* The reset the timeout started re-creates queues into the fault. */
    do {
        usleep(50000);
        hc1_sysfs_str("state", state, sizeof(state));
    } while (!strcmp(state, "resetting"));
    hc1_set_fault(0);
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
TEST_F(faults, delayed_completion_is_slow_not_lost) {
    int fd = self->fd;
    long resets = hc1_sysfs_long("stats/resets");
    double t0 = hc1_now();

    hc1_set_timeout_ms(10000);
    hc1_set_fault(HC1_TEST_DELAY_CQE);
    generate_ok(fd);
    hc1_set_fault(0);
    CHECK(hc1_sysfs_long("stats/resets") == resets);
    printf("delayed completion: generation done in %.1f s\n", hc1_now() - t0);
    hc1_set_timeout_ms(2000);
}

TEST_F(faults, dropped_interrupts_are_polled) {
    int fd = self->fd;
    uint32_t tok[32];
    double t0 = hc1_now();

    hc1_set_fault(HC1_TEST_DROP_IRQ);
    start(fd, 32);
    CHECK(hc1_read_all(fd, tok, 32) == 32);
    hc1_set_fault(0);
    printf("dropped interrupts: 32 tokens in %.2f s by polling\n", hc1_now() - t0);
}

TEST_HARNESS_MAIN
