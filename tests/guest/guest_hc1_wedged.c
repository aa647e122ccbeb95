// SPDX-License-Identifier: GPL-2.0
/*
 * A card that does not stop must lose bus mastering before the driver
 * gives up on it: when disabling the controller times out with CSTS.RDY
 * still set, the reset fails every command and closing the session frees
 * the prompt and the token ring, which a card still running its generation
 * would go on writing -- into pages the kernel hands out again.
 *
 * The engine is stalled with a generation running, and the card ignores
 * CC.EN 1->0 (HC1_TEST_STUCK_EN: a wedged card).  HC1_IOCTL_RESET must fail
 * (-EIO) and leave the function's Bus Master Enable clear (PCI_COMMAND in
 * sysfs config); the session closes; the faults are cleared (the engine
 * would now write the freed ring, if it could reach memory); the next
 * RESET must bring the card back and it must generate.
 *
 *   guest-hc1-wedged     (needs fault injection and root)
 */
#include "hc1_guest.h"
#include "hc1_harness.h"

#define PCI_COMMAND_MASTER 0x4

static uint32_t prompt[] = {1, 61, 62, 63};
static char bdf[64];

static void cleanup(void) {
    hc1_set_fault(0);
}

static unsigned int pci_command(void) {
    char path[256];
    unsigned char cfg[6];
    int fd;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
    fd = open(path, O_RDONLY);
    CHECK(fd >= 0);
    CHECK(pread(fd, cfg, sizeof(cfg), 0) == (ssize_t)sizeof(cfg));
    close(fd);
    return cfg[4] | cfg[5] << 8;
}

TEST(wedged_card_loses_bus_mastering) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, 0);
    double t0;
    int fd, ctl;

    fd = hc1_open();
    hc1_need_faults(fd);
    if (geteuid() != 0)
        skip("HC1_IOCTL_RESET needs root");
    hc1_bdf(bdf, sizeof(bdf));
    atexit(cleanup);
    CHECK(pci_command() & PCI_COMMAND_MASTER);
    hc1_create(fd);
    g.max_tokens = 1u << hc1_get_info(fd).ring_shift;
    g.flags = HC1_GENERATE_IGNORE_EOS;
    hc1_set_fault(HC1_TEST_STALL_ENGINE);
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    hc1_set_fault(HC1_TEST_STALL_ENGINE | HC1_TEST_STUCK_EN);

    ctl = hc1_open();
    t0 = hc1_now();
    CHECK_ERR(ioctl(ctl, HC1_IOCTL_RESET, 0), EIO);
    printf("reset of a wedged card: -EIO after %.1f s, PCI_COMMAND %#x\n", hc1_now() - t0,
           pci_command());
    if (pci_command() & PCI_COMMAND_MASTER)
        FAIL("the card's disable timed out and it is still a bus master: it may write the "
             "buffers the driver frees");
    close(fd); /* the session's ring and prompt are freed */
    hc1_set_fault(0);
    usleep(300000);

    CHECK_OK(ioctl(ctl, HC1_IOCTL_RESET, 0));
    close(ctl);
    CHECK(pci_command() & PCI_COMMAND_MASTER);
    hc1_check_generates();
    hc1_wait_sysfs("sessions", 0, 10);
    printf("wedged card: off the bus until a reset brought it back\n");
}

TEST_HARNESS_MAIN
