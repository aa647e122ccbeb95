// SPDX-License-Identifier: GPL-2.0
/*
 * After the driver's shutdown (reboot, power off, kexec) the card stays
 * off: the watchdog, which resets a card it finds not ready, must not turn
 * it back on while the rest of the system goes down -- into memory a kexec'd
 * kernel may already use.
 *
 * The shutdown callback runs only as the machine goes down, too late to
 * look at anything, so a card with fault injection offers it in debugfs
 * (hc1/hcN/shutdown).  With a session open and a generation running, the
 * test shuts the card down, waits 1.5 s (six watchdog passes) and checks
 * that no reset happened and the card is not live; then it closes the
 * file, unbinds and binds the driver, and the card must generate again.
 *
 *   guest-hc1-shutdown     (needs fault injection)
 */
#include "hc1_guest.h"
#include "hc1_harness.h"

#define SHUTDOWN "/sys/kernel/debug/hc1/hc0/shutdown"

static uint32_t prompt[] = {1, 61, 62, 63};

TEST(watchdog_leaves_a_shut_down_card_off) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, 0);
    long resets, after;
    char bdf[64], state[32];
    int fd;

    fd = hc1_open();
    hc1_need_faults(fd);
    if (access(SHUTDOWN, W_OK))
        skip("no " SHUTDOWN " in this driver");
    hc1_bdf(bdf, sizeof(bdf));
    hc1_create(fd);
    g.max_tokens = 1u << hc1_get_info(fd).ring_shift;
    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));

    resets = hc1_sysfs_long("stats/resets");
    hc1_write_file(SHUTDOWN, "1\n");
    usleep(1500000);
    after = hc1_sysfs_long("stats/resets");
    hc1_sysfs_str("state", state, sizeof(state));
    printf("after shutdown: state %s, %ld resets\n", state, after - resets);
    if (after != resets || !strcmp(state, "live") || !strcmp(state, "resetting"))
        FAIL("the driver reset the card %ld times after shutdown (state %s)", after - resets,
             state);
    close(fd);

    hc1_unbind(bdf);
    hc1_bind(bdf);
    hc1_check_generates();
    printf("shutdown: the card stayed off; rebind works\n");
}

TEST_HARNESS_MAIN
