// SPDX-License-Identifier: GPL-2.0
/*
 * Every fault the card can inject (HC1_REG_TEST), in turn, for a number of
 * rounds: the driver must notice each one, recover, and serve the next
 * request exactly.
 *
 *   dropped interrupts   tokens still arrive (the watchdog polls);
 *                        the generation succeeds with the solo tokens
 *   delayed completions  the completion comes 2 s late; success
 *   wrong cid            the driver resets the card; -EIO; then success
 *   stalled engine       the driver's timeout resets the card; -EIO
 *   fatal status         the watchdog resets the card; -EIO (or done)
 *
 *   guest-hc1-faults [ROUNDS]    (default 1; skips without fault injection)
 *
 * Prints "faults: injected N detected D recovered R failures F".
 */
#include <sys/mman.h>

#include "hc1_guest.h"

#define N_TOKENS 32

static uint32_t prompt[] = {1, 61, 62, 63};
static uint32_t reference[N_TOKENS];
static void* ring;
static struct hc1_ring_offsets ring_off;
static unsigned int injected, detected, recovered, failures;

/* HC1_REG_TEST through the driver's debugfs file. */
static void set_test(uint32_t v) {
    FILE* f = fopen("/sys/kernel/debug/hc1/hc0/fault_inject", "w");

    CHECK(f);
    fprintf(f, "%u\n", v);
    CHECK(fclose(f) == 0);
}

static void start(int fd, uint32_t n) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, n);

    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
}

static void set_timeout_ms(unsigned int ms) {
    FILE* f = fopen("/sys/module/hc1/parameters/timeout_ms", "w");

    CHECK(f);
    fprintf(f, "%u\n", ms);
    CHECK(fclose(f) == 0);
}

static bool wait_live(void) {
    char state[32];
    double end = hc1_now() + 30;

    for (;;) {
        hc1_sysfs_str("state", state, sizeof(state));
        if (!strcmp(state, "live"))
            return true;
        if (hc1_now() > end) {
            fprintf(stderr, "card state stays %s\n", state);
            return false;
        }
        usleep(20000);
    }
}

/* The next request after a fault gets exactly the solo tokens. */
static void check_recovered(int fd, const char* what) {
    uint32_t tok[N_TOKENS];
    struct hc1_wait w;

    if (!wait_live()) {
        failures++;
        return;
    }
    start(fd, N_TOKENS);
    w = hc1_wait_end(fd);
    if (w.status || hc1_read_all(fd, tok, N_TOKENS) != N_TOKENS ||
        memcmp(tok, reference, sizeof(tok))) {
        fprintf(stderr, "%s: the next generation failed (status %d)\n", what, w.status);
        failures++;
        return;
    }
    recovered++;
}

static void expect(bool ok, const char* what, const struct hc1_wait* w) {
    if (!ok) {
        fprintf(stderr, "%s: unexpected end: status %d produced %u finish %u\n", what, w->status,
                w->produced, w->finish);
        failures++;
    }
}

static void wait_ring_done(void) {
    double end = hc1_now() + 60;

    while (hc1_ring_load(ring, ring_off.state) != HC1_GENERATION_DONE && hc1_now() < end)
        usleep(2000);
}

static void fault_round(int fd, uint32_t slots) {
    long resets, timeouts;
    uint32_t tok[N_TOKENS];
    struct hc1_wait w;

    /* Dropped interrupts: the watchdog's polling delivers everything. */
    injected++;
    set_test(HC1_TEST_DROP_IRQ);
    start(fd, N_TOKENS);
    w = hc1_wait_end(fd);
    set_test(0);
    expect(w.status == 0 && hc1_read_all(fd, tok, N_TOKENS) == N_TOKENS &&
               !memcmp(tok, reference, sizeof(tok)),
           "dropped irq", &w);
    detected++; /* nothing to reset: delivered by polling */
    check_recovered(fd, "dropped irq");

    /* Delayed completions: late but correct. */
    injected++;
    set_test(HC1_TEST_DELAY_CQE);
    start(fd, N_TOKENS);
    w = hc1_wait_end(fd);
    set_test(0);
    expect(w.status == 0 && hc1_read_all(fd, tok, N_TOKENS) == N_TOKENS &&
               !memcmp(tok, reference, sizeof(tok)),
           "delayed cqe", &w);
    detected++;
    check_recovered(fd, "delayed cqe");

    /*
     * Wrong cid: hold the completion (DELAY) so that the bad cid is
     * baked in, then release it with injection off, so that the
     * driver's reset is not itself hit by the fault.
     */
    injected++;
    resets = hc1_sysfs_long("stats/resets");
    set_test(HC1_TEST_BAD_CID | HC1_TEST_DELAY_CQE);
    start(fd, 8);
    wait_ring_done();
    set_test(0);
    w = hc1_wait_end(fd);
    expect(w.status == -EIO, "wrong cid", &w);
    if (wait_live() && hc1_sysfs_long("stats/resets") > resets)
        detected++;
    check_recovered(fd, "wrong cid");

    /* Stalled engine: the driver's timeout resets the card. */
    injected++;
    timeouts = hc1_sysfs_long("stats/timeouts");
    set_test(HC1_TEST_STALL_ENGINE);
    start(fd, slots);
    w = hc1_wait_end(fd);
    set_test(0);
    expect(w.status == -EIO, "stall", &w);
    if (hc1_sysfs_long("stats/timeouts") > timeouts)
        detected++;
    check_recovered(fd, "stall");

    /* Fatal status: the watchdog resets the card. */
    injected++;
    resets = hc1_sysfs_long("stats/resets");
    start(fd, slots);
    set_test(HC1_TEST_FATAL);
    w = hc1_wait_end(fd);
    expect(w.status == -EIO || (w.status == 0 && w.produced == slots), "fatal", &w);
    if (wait_live() && hc1_sysfs_long("stats/resets") > resets)
        detected++;
    check_recovered(fd, "fatal");
}

int main(int argc, char** argv) {
    unsigned int rounds = argc > 1 ? strtoul(argv[1], NULL, 0) : 1, r;
    int fd = hc1_open();
    struct hc1_info info = hc1_get_info(fd);
    struct hc1_session s;
    uint32_t slots = 1u << info.ring_shift;

    if (!(info.hw_features & HC1_CARD_F_FAULT_INJECT))
        skip("card has no fault injection (hc1-vm --device-opts ,fault-inject=on)");
    set_test(0); /* whatever an earlier, failed test left behind */
    s = hc1_create(fd);
    ring_off = s.offsets;
    ring = mmap(NULL, s.ring_bytes, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(ring != MAP_FAILED);
    start(fd, N_TOKENS);
    CHECK(hc1_wait_end(fd).status == 0);
    CHECK(hc1_read_all(fd, reference, N_TOKENS) == N_TOKENS);
    set_timeout_ms(2000);
    for (r = 0; r < rounds; r++)
        fault_round(fd, slots);
    set_timeout_ms(10000);
    printf("faults: rounds %u injected %u detected %u recovered %u failures %u; driver resets %ld "
           "timeouts %ld\n",
           rounds, injected, detected, recovered, failures, hc1_sysfs_long("stats/resets"),
           hc1_sysfs_long("stats/timeouts"));
    munmap(ring, s.ring_bytes);
    close(fd);
    hc1_wait_sysfs("sessions", 0, 10);
    if (failures || detected != injected)
        FAIL("%u failures, %u of %u faults detected", failures, detected, injected);
    return 0;
}
