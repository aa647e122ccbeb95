// SPDX-License-Identifier: GPL-2.0
/*
 * A mapping of a token ring made as the card goes away must not keep the
 * ring's freed pages.  Removal zaps every mapping of the rings it can find
 * and frees them; an mmap() that filled its page tables before its VMA was
 * linked into the file's mapping is one it cannot find.  Every mapping must
 * read, once the card is gone, the zero page (or SIGBUS), never the old
 * ring: that is memory the kernel has taken back.
 *
 * Per round: a generation fills the ring (its header is not zero), a
 * thread maps the ring again and again (keeping its last mappings) while
 * the driver is unbound; the mappings it kept must read zeros.  Then the
 * driver binds again.  The window is a few hundred instructions wide: it
 * opens on a kernel that preempts (the debug kernel) when removal waits
 * for the lock mmap() holds.
 *
 *   guest-hc1-mmap-race [ROUNDS]   (default 30; root)
 */
#include <pthread.h>
#include <sys/mman.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

#define KEEP 8

static uint32_t prompt[] = {1, 61, 62, 63};
static int fd;
static size_t ring_bytes;
static void* kept[KEEP];
static unsigned long maps;

static void* mapper(void* arg) {
    unsigned int i = 0;

    for (;;) {
        void* p = mmap(NULL, ring_bytes, PROT_READ, MAP_SHARED, fd, 0);

        if (p == MAP_FAILED) {
            if (errno == ENODEV)
                return NULL;
            FAIL("mmap: %s", strerror(errno));
        }
        if (kept[i % KEEP])
            munmap(kept[i % KEEP], ring_bytes);
        kept[i % KEEP] = p;
        i++;
        maps++;
    }
}

static void round_once(unsigned int r, const char* bdf) {
    struct hc1_generate g = hc1_gen_args(prompt, 4, 16);
    struct hc1_session s;
    pthread_t th;
    unsigned int i;
    size_t off;

    fd = hc1_open();
    s = hc1_create(fd);
    ring_bytes = s.ring_bytes;
    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    CHECK(hc1_wait_end(fd).produced == 16);
    memset(kept, 0, sizeof(kept));
    CHECK(!pthread_create(&th, NULL, mapper, NULL));
    usleep(1000 * (r % 7) + 5000);
    hc1_unbind(bdf);
    CHECK(!pthread_join(th, NULL));
    for (i = 0; i < KEEP; i++) {
        const volatile uint8_t* p = kept[i];

        if (!p)
            continue;
        for (off = 0; off < ring_bytes; off++)
            if (p[off])
                FAIL("round %u: a mapping made as the card went away reads the freed ring "
                     "(byte %zu is %#x)",
                     r, off, p[off]);
        munmap(kept[i], ring_bytes);
    }
    close(fd);
    hc1_bind(bdf);
}

TEST(mappings_made_during_unbind_read_zeros) {
    unsigned int rounds = hc1_test_arg(0, 30), r;
    char bdf[64];

    if (geteuid() != 0)
        skip("unbinding the driver needs root");
    fd = hc1_open();
    hc1_bdf(bdf, sizeof(bdf));
    close(fd);
    for (r = 0; r < rounds; r++)
        round_once(r, bdf);
    hc1_check_generates();
    printf("mmap race: %u rounds, %lu mappings, none kept freed memory\n", rounds, maps);
}

TEST_HARNESS_MAIN
