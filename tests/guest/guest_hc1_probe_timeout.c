// SPDX-License-Identifier: GPL-2.0
/*
 * A command that times out during probe must fail the probe cleanly: no
 * reset may run on a card whose probe is failing, since the probe's error
 * path frees the registers' mapping, the queues and the card structure
 * under it (on the debug kernel: KASAN use-after-free; on others a write
 * to an unmapped BAR or a reset walking queues not allocated yet).
 *
 * The card holds every completion 2 s (HC1_TEST_DELAY_CQE, which survives
 * unbind) and timeout_ms is 500, so the probe's first admin command
 * (IDENTIFY) times out; and its CSTS.RDY follows an enable 300 ms late
 * (HC1_TEST_SLOW_READY), so a reset that re-enables it sleeps while the
 * failing probe frees what the reset works on.  Binding must fail with a
 * clean kernel log; then, with the driver unbound, the test clears the
 * faults through the BAR (sysfs resource0) and binding must succeed and the
 * card generate.
 *
 *   guest-hc1-probe-timeout [ROUNDS]   (default 2; needs fault injection)
 */
#include <sys/mman.h>

#include "hc1_guest.h"
#include "hc1_harness.h"
/* Plays the bus master with no driver bound: the card's own registers. */
#include <hc1/hw.h>

static char bdf[64];

static void cleanup(void) {
    hc1_set_timeout_ms(10000);
}

/* HC1_REG_TEST through the BAR, for when no driver is bound. */
static void set_fault_unbound(uint32_t v) {
    char path[256];
    volatile uint32_t* bar;
    int fd;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
    fd = open(path, O_RDWR | O_SYNC);
    CHECK(fd >= 0);
    bar = mmap(NULL, HC1_BAR0_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(bar != MAP_FAILED);
    bar[HC1_REG_TEST / 4] = v;
    if (bar[HC1_REG_TEST / 4] != v) {
        /* Memory decoding went off with the driver: turn it on for this. */
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/enable", bdf);
        hc1_write_file(path, "1");
        bar[HC1_REG_TEST / 4] = v;
        CHECK(bar[HC1_REG_TEST / 4] == v);
        hc1_write_file(path, "0");
    }
    munmap((void*)bar, HC1_BAR0_SIZE);
    close(fd);
}

TEST(timed_out_probe_fails_cleanly) {
    unsigned int rounds = hc1_test_arg(0, 2), r;
    int fd, err;

    fd = hc1_open();
    hc1_need_faults(fd);
    hc1_bdf(bdf, sizeof(bdf));
    close(fd);
    hc1_wait_sysfs("sessions", 0, 10);
    atexit(cleanup);

    for (r = 0; r < rounds; r++) {
        hc1_set_timeout_ms(500);
        hc1_set_fault(HC1_TEST_DELAY_CQE | HC1_TEST_SLOW_READY);
        hc1_unbind(bdf);
        err = hc1_try_bind(bdf);
        printf("round %u: bind with completions held 2 s, slow ready, timeout_ms 500: %s\n", r,
               err ? strerror(err) : "bound");
        if (!err)
            FAIL("probe succeeded though its commands time out");
        /* Anything the failed probe left running would run now. */
        usleep(1000000);
        CHECK(access(HC1_DEV, F_OK) != 0);
        set_fault_unbound(0);
        hc1_set_timeout_ms(10000);
        hc1_bind(bdf);
        hc1_check_generates();
    }
    printf("probe timeout: %u rounds, every probe failed cleanly and the next one worked\n",
           rounds);
}

TEST_HARNESS_MAIN
