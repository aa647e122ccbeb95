// SPDX-License-Identifier: GPL-2.0
/*
 * The module cannot be removed while a file is open, can be once the last
 * user is gone, and loads again cleanly (/lib/hc1/hc1.ko, as the VM
 * harness installs it).
 */
#include <sys/syscall.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

#define HC1_KO "/lib/hc1/hc1.ko"

TEST(refused_while_open_then_reloads) {
    int fd, ko;
    double end;

    ko = open(HC1_KO, O_RDONLY | O_CLOEXEC);
    if (ko < 0)
        skip(HC1_KO " is not installed: cannot reload after rmmod");

    fd = hc1_open();
    hc1_create(fd);
    CHECK_ERR(syscall(SYS_delete_module, "hc1", O_NONBLOCK), EWOULDBLOCK);
    close(fd);

    CHECK_OK(syscall(SYS_delete_module, "hc1", O_NONBLOCK));
    CHECK(access(HC1_DEV, F_OK) != 0);
    CHECK(access("/sys/class/hc1", F_OK) != 0);

    CHECK_OK(syscall(SYS_finit_module, ko, "", 0));
    close(ko);
    end = hc1_now() + 10;
    while (access(HC1_DEV, F_OK) != 0) {
        if (hc1_now() > end)
            FAIL("%s did not appear after insmod", HC1_DEV);
        usleep(20000);
    }
    fd = hc1_open();
    hc1_create(fd);
    close(fd);
    printf("rmmod after last user and reload passed\n");
}

TEST_HARNESS_MAIN
