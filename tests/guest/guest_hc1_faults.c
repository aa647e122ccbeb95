// SPDX-License-Identifier: GPL-2.0
/*
 * Every fault the card can inject (HC1_REG_TEST), one case each, for a
 * number of rounds: the driver must notice each one, recover, and serve the
 * next request exactly.
 *
 *   dropped interrupts   tokens still arrive (the watchdog polls);
 *                        the generation succeeds with the solo tokens
 *   delayed completions  the completion comes 2 s late; success
 *   wrong cid            the driver resets the card; -EIO; then success
 *   stalled engine       the driver's timeout resets the card; -EIO
 *   fatal status         the watchdog resets the card; -EIO (or done)
 *
 *   guest-hc1-faults [-t CASE]... [ROUNDS]   (default 1; skips without
 *                                            fault injection)
 *
 * Each case prints "faults: CASE: rounds N injected N detected D recovered
 * R failures F" and fails unless every fault it injected was detected and
 * recovered from.
 */
#include <sys/mman.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

#define N_TOKENS 32

static uint32_t prompt[] = {1, 61, 62, 63};

/*
 * A session with its ring mapped, the tokens of a clean run, a 2 s command
 * timeout so that a stall is found quickly, and the tally of the case.
 */
FIXTURE(faults) {
    int fd;
    struct hc1_session s;
    void* ring;
    uint32_t slots;
    uint32_t reference[N_TOKENS];
    unsigned int rounds, injected, detected, recovered, failures;
};

static void start(int fd, uint32_t n) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, n);

    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
}

FIXTURE_SETUP(faults) {
    self->fd = hc1_open();
    hc1_need_faults(self->fd);
    self->slots = 1u << hc1_get_info(self->fd).ring_shift;
    self->rounds = hc1_test_arg(0, 1);
    hc1_set_fault(0); /* whatever an earlier, failed test left behind */
    self->s = hc1_create(self->fd);
    self->ring = mmap(NULL, self->s.ring_bytes, PROT_READ, MAP_SHARED, self->fd, 0);
    CHECK(self->ring != MAP_FAILED);
    start(self->fd, N_TOKENS);
    CHECK(hc1_wait_end(self->fd).status == 0);
    CHECK(hc1_read_all(self->fd, self->reference, N_TOKENS) == N_TOKENS);
    hc1_set_timeout_ms(2000);
}

FIXTURE_TEARDOWN(faults) {
    hc1_set_fault(0);
    hc1_set_timeout_ms(10000);
    if (self->fd >= 0) {
        munmap(self->ring, self->s.ring_bytes);
        close(self->fd);
    }
}

static bool wait_live(void) {
    char state[32];

    if (hc1_wait_state("live", 30))
        return true;
    hc1_sysfs_str("state", state, sizeof(state));
    fprintf(stderr, "card state stays %s\n", state);
    return false;
}

/* The next request after a fault gets exactly the solo tokens. */
static void check_recovered(struct hc1_fixture_faults* self, const char* what) {
    uint32_t tok[N_TOKENS];
    struct hc1_wait w;

    if (!wait_live()) {
        self->failures++;
        return;
    }
    start(self->fd, N_TOKENS);
    w = hc1_wait_end(self->fd);
    if (w.status || hc1_read_all(self->fd, tok, N_TOKENS) != N_TOKENS ||
        memcmp(tok, self->reference, sizeof(tok))) {
        fprintf(stderr, "%s: the next generation failed (status %d)\n", what, w.status);
        self->failures++;
        return;
    }
    self->recovered++;
}

static void expect(struct hc1_fixture_faults* self, bool ok, const char* what,
                   const struct hc1_wait* w) {
    if (!ok) {
        fprintf(stderr, "%s: unexpected end: status %d produced %u finish %u\n", what, w->status,
                w->produced, w->finish);
        self->failures++;
    }
}

/* A generation of N_TOKENS ended with exactly the solo tokens. */
static bool exact(struct hc1_fixture_faults* self, const struct hc1_wait* w) {
    uint32_t tok[N_TOKENS];

    return w->status == 0 && hc1_read_all(self->fd, tok, N_TOKENS) == N_TOKENS &&
           !memcmp(tok, self->reference, sizeof(tok));
}

static void wait_ring_done(struct hc1_fixture_faults* self) {
    double end = hc1_now() + 60;

    while (hc1_ring_load(self->ring, self->s.offsets.state) != HC1_GENERATION_DONE &&
           hc1_now() < end)
        usleep(2000);
}

/*
 * The case's tally; it fails unless every fault was detected and recovered
 * from, and the session goes away with its file.
 */
static void report(struct hc1_fixture_faults* self, const char* what) {
    printf("faults: %s: rounds %u injected %u detected %u recovered %u failures %u; driver "
           "resets %ld timeouts %ld\n",
           what, self->rounds, self->injected, self->detected, self->recovered, self->failures,
           hc1_sysfs_long("stats/resets"), hc1_sysfs_long("stats/timeouts"));
    munmap(self->ring, self->s.ring_bytes);
    close(self->fd);
    self->fd = -1;
    hc1_wait_sysfs("sessions", 0, 10);
    if (self->failures || self->detected != self->injected)
        FAIL("%s: %u failures, %u of %u faults detected", what, self->failures, self->detected,
             self->injected);
}

/*
 * A fault that slows delivery but loses nothing: every round's generation
 * is exact, with no reset needed (detected = delivered).
 */
static void delivered_anyway(struct hc1_fixture_faults* self, uint32_t fault, const char* what) {
    struct hc1_wait w;
    unsigned int r;

    for (r = 0; r < self->rounds; r++) {
        self->injected++;
        hc1_set_fault(fault);
        start(self->fd, N_TOKENS);
        w = hc1_wait_end(self->fd);
        hc1_set_fault(0);
        expect(self, exact(self, &w), what, &w);
        self->detected++;
        check_recovered(self, what);
    }
}

/* Dropped interrupts: the watchdog's polling delivers everything. */
TEST_F(faults, dropped_irq) {
    delivered_anyway(self, HC1_TEST_DROP_IRQ, "dropped irq");
    report(self, "dropped_irq");
}

/* Delayed completions: late but correct. */
TEST_F(faults, delayed_cqe) {
    delivered_anyway(self, HC1_TEST_DELAY_CQE, "delayed cqe");
    report(self, "delayed_cqe");
}

/*
 * Wrong cid: hold the completion (DELAY) so that the bad cid is baked in,
 * then release it with injection off, so that the driver's reset is not
 * itself hit by the fault.
 */
TEST_F(faults, wrong_cid) {
    struct hc1_wait w;
    unsigned int r;
    long resets;

    for (r = 0; r < self->rounds; r++) {
        self->injected++;
        resets = hc1_sysfs_long("stats/resets");
        hc1_set_fault(HC1_TEST_BAD_CID | HC1_TEST_DELAY_CQE);
        start(self->fd, 8);
        wait_ring_done(self);
        hc1_set_fault(0);
        w = hc1_wait_end(self->fd);
        expect(self, w.status == -EIO, "wrong cid", &w);
        if (wait_live() && hc1_sysfs_long("stats/resets") > resets)
            self->detected++;
        check_recovered(self, "wrong cid");
    }
    report(self, "wrong_cid");
}

/* Stalled engine: the driver's timeout resets the card. */
TEST_F(faults, stalled_engine) {
    struct hc1_wait w;
    unsigned int r;
    long timeouts;

    for (r = 0; r < self->rounds; r++) {
        self->injected++;
        timeouts = hc1_sysfs_long("stats/timeouts");
        hc1_set_fault(HC1_TEST_STALL_ENGINE);
        start(self->fd, self->slots);
        w = hc1_wait_end(self->fd);
        hc1_set_fault(0);
        expect(self, w.status == -EIO, "stall", &w);
        if (hc1_sysfs_long("stats/timeouts") > timeouts)
            self->detected++;
        check_recovered(self, "stall");
    }
    report(self, "stalled_engine");
}

/* Fatal status: the watchdog resets the card. */
TEST_F(faults, fatal_status) {
    struct hc1_wait w;
    unsigned int r;
    long resets;

    for (r = 0; r < self->rounds; r++) {
        self->injected++;
        resets = hc1_sysfs_long("stats/resets");
        start(self->fd, self->slots);
        hc1_set_fault(HC1_TEST_FATAL);
        w = hc1_wait_end(self->fd);
        expect(self, w.status == -EIO || (w.status == 0 && w.produced == self->slots), "fatal", &w);
        if (wait_live() && hc1_sysfs_long("stats/resets") > resets)
            self->detected++;
        check_recovered(self, "fatal");
    }
    report(self, "fatal_status");
}

TEST_HARNESS_MAIN
