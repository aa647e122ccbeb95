// SPDX-License-Identifier: GPL-2.0
/*
 * Streaming: blocking read(), O_NONBLOCK read() driven by poll(), and the
 * read-only mmap() of the token ring all see the same tokens; the mapping
 * refuses writes and outlives the session.  One case per behaviour
 * (hc1_harness.h).
 */
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

static uint32_t prompt[] = {1, 400, 260, 300, 200};

/* Greedy, fixed length: the same tokens every time. */
static void start(int fd, uint32_t max_tokens) {
    struct hc1_generate g = hc1_gen_args(prompt, 5, max_tokens);

    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
}

/*
 * A file with a session in @fd, and in @n a generation's length that fits
 * its ring: what both fixtures start from.
 */
static struct hc1_session open_session(int* fd, uint32_t* n) {
    struct hc1_info info;

    *fd = hc1_open();
    info = hc1_get_info(*fd);
    if (info.vocab_size <= 400)
        skip("prompt needs a vocabulary of more than 400 tokens");
    *n = 48 < (1u << info.ring_shift) ? 48 : 1u << info.ring_shift;
    return hc1_create(*fd);
}

/* A session, and a generation's length that fits the ring. */
FIXTURE(stream) {
    int fd;
    struct hc1_session s;
    uint32_t n;
    uint32_t ref[512];
};
FIXTURE_SETUP(stream) {
    self->s = open_session(&self->fd, &self->n);
}
FIXTURE_TEARDOWN(stream) {
    close(self->fd);
}

/* The tokens every generation of the case must give, by blocking read(). */
static void reference(struct hc1_fixture_stream* self) {
    start(self->fd, self->n);
    CHECK(hc1_read_all(self->fd, self->ref, 512) == self->n);
}

static uint32_t read_polled(int fd, uint32_t* out, uint32_t cap) {
    int fl = fcntl(fd, F_GETFL);
    uint32_t n = 0;
    int wakeups = 0;

    CHECK_OK(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t r;

        CHECK(poll(&p, 1, 20000) == 1);
        CHECK(p.revents & POLLIN);
        CHECK(!(p.revents & (POLLERR | POLLHUP)));
        wakeups++;
        /* poll() said readable: read() must not say EAGAIN. */
        r = read(fd, out + n, (cap - n) * sizeof(uint32_t));
        CHECK(r >= 0);
        if (r == 0)
            break;
        n += r / 4;
    }
    CHECK_OK(fcntl(fd, F_SETFL, fl));
    printf("poll: %u tokens in %d wakeups\n", n, wakeups);
    return n;
}

static sigjmp_buf fault_jmp;

static void on_segv(int sig) {
    siglongjmp(fault_jmp, 1);
}

TEST_F(stream, mmap_is_read_only_and_outlives_the_session) {
    int fd = self->fd;
    const struct hc1_session* s = &self->s;
    const uint32_t* tokens = self->ref;
    uint32_t n = self->n;
    const uint32_t* slots;
    void* ring;
    uint32_t i;

    reference(self);
    CHECK(mmap(NULL, s->ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED &&
          errno == EPERM);
    CHECK(mmap(NULL, s->ring_bytes + 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED &&
          errno == EINVAL);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 4096) == MAP_FAILED && errno == EINVAL);
    ring = mmap(NULL, s->ring_bytes, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(ring != MAP_FAILED);
    /* Read-only for good: it cannot be made writable later. */
    CHECK_ERR(mprotect(ring, s->ring_bytes, PROT_READ | PROT_WRITE), EACCES);

    slots = (const uint32_t*)((const char*)ring + s->offsets.slots);
    CHECK(hc1_ring_load(ring, s->offsets.state) == HC1_GENERATION_DONE);
    CHECK(hc1_ring_load(ring, s->offsets.produced) == n);
    CHECK(hc1_ring_load(ring, s->offsets.finish) == HC1_END_LENGTH);
    for (i = 0; i < n; i++)
        CHECK(slots[i] == tokens[i]);

    /* A write faults instead of corrupting the ring. */
    signal(SIGSEGV, on_segv);
    if (!sigsetjmp(fault_jmp, 1)) {
        *(volatile uint32_t*)slots = 7;
        FAIL("write to the read-only ring succeeded");
    }
    signal(SIGSEGV, SIG_DFL);

    /* The mapping outlives the session. */
    CHECK_OK(ioctl(fd, HC1_IOCTL_SESSION_DESTROY, 0));
    for (i = 0; i < n; i++)
        CHECK(slots[i] == tokens[i]);
    CHECK_OK(munmap(ring, s->ring_bytes));
}

/* Follow a running generation through the ring alone. */
TEST_F(stream, mmap_follows_a_running_generation) {
    int fd = self->fd;
    const struct hc1_session* s = &self->s;
    const uint32_t* tokens = self->ref;
    uint32_t n = self->n;
    const uint32_t* slots;
    uint32_t seen = 0, produced;
    void* ring;
    double end;

    reference(self);
    ring = mmap(NULL, s->ring_bytes, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(ring != MAP_FAILED);
    slots = (const uint32_t*)((const char*)ring + s->offsets.slots);
    start(fd, n);
    end = hc1_now() + 30;
    for (;;) {
        struct hc1_wait w = {.size = sizeof(w), .min_produced = seen};

        CHECK_OK(ioctl(fd, HC1_IOCTL_WAIT, &w));
        produced = hc1_ring_load(ring, s->offsets.produced);
        CHECK(produced <= n);
        for (; seen < produced; seen++)
            CHECK(slots[seen] == tokens[seen]);
        if (w.state == HC1_GENERATION_DONE && seen == w.produced)
            break;
        CHECK(hc1_now() < end);
    }
    CHECK(seen == n);
    CHECK_OK(munmap(ring, s->ring_bytes));
}

static void sysfs_set(const char* attr, long val, int want_errno) {
    char path[128];
    FILE* f;
    int ret;

    snprintf(path, sizeof(path), HC1_SYSFS "/%s", attr);
    f = fopen(path, "w");
    CHECK(f);
    fprintf(f, "%ld\n", val);
    errno = 0;
    ret = fclose(f);
    if (want_errno)
        CHECK(ret != 0 && errno == want_errno);
    else
        CHECK(ret == 0);
}

/* Interrupts one generation of @n tokens costs. */
static long interrupts_for(int fd, uint32_t n) {
    long before = hc1_sysfs_long("stats/interrupts");
    uint32_t tok[512];

    start(fd, n);
    /* Sleep in WAIT, not in read(): both are woken by the same events. */
    CHECK(hc1_wait_end(fd).produced == n);
    CHECK(hc1_read_all(fd, tok, n) == n);
    return hc1_sysfs_long("stats/interrupts") - before;
}

/* A session, and the card's coalescing put back whatever the case did. */
FIXTURE(coalesce) {
    int fd;
    uint32_t n;
    long tokens, usecs;
};
FIXTURE_SETUP(coalesce) {
    open_session(&self->fd, &self->n);
    self->tokens = hc1_sysfs_long("coalesce_tokens");
    self->usecs = hc1_sysfs_long("coalesce_usecs");
}
FIXTURE_TEARDOWN(coalesce) {
    hc1_sysfs_set("coalesce_tokens", self->tokens);
    hc1_sysfs_set("coalesce_usecs", self->usecs);
    close(self->fd);
}

/*
 * Coalescing is the card's, set through sysfs: with no token threshold and
 * no timer, a generation interrupts once, for its completion.
 */
TEST_F(coalesce, coalescing_is_the_cards) {
    int fd = self->fd;
    uint32_t n = self->n;
    long quiet, chatty;

    sysfs_set("coalesce_tokens", 65536, ERANGE);
    sysfs_set("coalesce_usecs", -1, EINVAL);
    sysfs_set("coalesce_tokens", 65535, 0);
    sysfs_set("coalesce_usecs", 0, 0);
    CHECK(hc1_sysfs_long("coalesce_tokens") == 65535);
    CHECK(hc1_sysfs_long("coalesce_usecs") == 0);
    quiet = interrupts_for(fd, n);
    sysfs_set("coalesce_tokens", 1, 0);
    chatty = interrupts_for(fd, n);
    printf("coalescing: %ld interrupt(s) with it off, %ld with one per token (%u tokens)\n", quiet,
           chatty, n);
    CHECK(quiet >= 1 && quiet <= 2);
    CHECK(hc1_sysfs_long("stats/ttft_us_last") > 0);
    CHECK(hc1_sysfs_long("stats/ttft_us_avg") > 0);
}

TEST_F(stream, read_before_a_generation_ends_at_once) {
    uint32_t tok;
    uint8_t byte;

    CHECK_ERR(read(self->fd, &byte, 1), EINVAL);
    /* No generation yet: end of stream at once. */
    CHECK(read(self->fd, &tok, 4) == 0);
}

TEST_F(stream, blocking_read_to_the_end) {
    uint32_t tok;

    reference(self);
    /* After the end, read() keeps returning 0. */
    CHECK(read(self->fd, &tok, 4) == 0);
    CHECK(read(self->fd, &tok, 4) == 0);
}

TEST_F(stream, polled_read_sees_the_same_tokens) {
    uint32_t b[512], i;

    reference(self);
    start(self->fd, self->n);
    CHECK(read_polled(self->fd, b, 512) == self->n);
    for (i = 0; i < self->n; i++)
        CHECK(self->ref[i] == b[i]);
}

TEST_F(stream, one_token_per_read) {
    uint32_t i, tok;

    reference(self);
    start(self->fd, self->n);
    for (i = 0; i < self->n; i++) {
        CHECK(read(self->fd, &tok, 4) == 4);
        CHECK(tok == self->ref[i]);
    }
    CHECK(read(self->fd, &tok, 4) == 0);
}

TEST_HARNESS_MAIN
