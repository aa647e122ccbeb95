// SPDX-License-Identifier: GPL-2.0
/*
 * Every hc1 ioctl and its error cases, through the raw UAPI: one case per
 * ioctl or behaviour (hc1_harness.h).
 */
#include <sys/mman.h>

#include "hc1_guest.h"
#include "hc1_harness.h"

static uint32_t prompt[] = {1, 20, 30, 40};

/* An open card, no session. */
FIXTURE(dev) {
    int fd;
};
FIXTURE_SETUP(dev) {
    self->fd = hc1_open();
}
FIXTURE_TEARDOWN(dev) {
    close(self->fd);
}

/* An open card with a session. */
FIXTURE(session) {
    int fd;
    struct hc1_session s;
};
FIXTURE_SETUP(session) {
    self->fd = hc1_open();
    self->s = hc1_create(self->fd);
}
FIXTURE_TEARDOWN(session) {
    close(self->fd);
}

/* A session, and the coalescing window put back whatever the case did. */
FIXTURE(batch) {
    int fd;
    long usecs;
};
FIXTURE_SETUP(batch) {
    self->fd = hc1_open();
    hc1_create(self->fd);
    self->usecs = hc1_sysfs_long("coalesce_usecs");
}
FIXTURE_TEARDOWN(batch) {
    hc1_sysfs_set("coalesce_usecs", self->usecs);
    close(self->fd);
}

TEST_F(dev, info) {
    int fd = self->fd;
    struct hc1_info info;
    uint8_t big[sizeof(info) + 64];
    char sysname[128];

    info = hc1_get_info(fd);
    CHECK(info.uapi_version == HC1_UAPI_VERSION);
    CHECK(info.features & HC1_DRV_F_URING_CMD);
    CHECK(info.features & HC1_DRV_F_MMAP_RING);
    CHECK(info.features & HC1_DRV_F_POLL);
    CHECK(info.features & HC1_DRV_F_WAIT_BATCH);
    CHECK(info.features & HC1_DRV_F_RING_OFFSETS);
    CHECK(info.hw_version != 0);
    CHECK(info.index == 0);
    CHECK(info.n_contexts > 0);
    CHECK(info.vocab_size > 0 && info.context_len > 0);
    CHECK(info.bos_id < info.vocab_size && info.eos_id < info.vocab_size);
    CHECK((1u << info.ring_shift) >= 16);
    CHECK(info.max_stop >= 1 && info.max_stop <= 4);
    CHECK(info.pad == 0);
    CHECK(info.size == sizeof(info));
    CHECK(hc1_sysfs_long("model/vocab_size") == info.vocab_size);
    CHECK(hc1_sysfs_long("model/context_len") == info.context_len);
    CHECK(hc1_sysfs_long("model/n_contexts") == info.n_contexts);
    CHECK(hc1_sysfs_long("ring_shift") == info.ring_shift);
    hc1_sysfs_str("state", sysname, sizeof(sysname));
    CHECK(!strcmp(sysname, "live"));

    /* Older (smaller) than version 1: malformed. */
    info.size = sizeof(info) - 4;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_INFO, &info), EINVAL);
    info.size = 0;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_INFO, &info), EINVAL);
    /* Newer with a zero tail: accepted, tail untouched. */
    memset(big, 0, sizeof(big));
    *(uint32_t*)big = sizeof(big);
    CHECK_OK(ioctl(fd, HC1_IOCTL_INFO, big));
    CHECK(*(uint32_t*)big == sizeof(big));
    for (size_t i = sizeof(info); i < sizeof(big); i++)
        CHECK(big[i] == 0);
    /* Newer with bytes the driver does not know: refused. */
    big[sizeof(big) - 1] = 1;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_INFO, big), E2BIG);
    info.size = 4097;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_INFO, &info), E2BIG);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_INFO, NULL), EFAULT);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_INFO, (void*)8), EFAULT);
}

/* HC1_KV_* of a KV-cache format's name (sysfs, hc1-vm --kv-format). */
static uint32_t kv_format_of(const char* name) {
    if (!strcmp(name, "f32"))
        return HC1_KV_F32;
    if (!strcmp(name, "f16"))
        return HC1_KV_F16;
    if (!strcmp(name, "int8"))
        return HC1_KV_INT8;
    FAIL("unknown KV-cache format '%s'", name);
}

TEST_F(dev, identify) {
    int fd = self->fd;
    struct hc1_identity card, old;
    struct hc1_buffer b = {.size = sizeof(b)};
    char name[128], sha[80], hex[80];
    const char* booted = getenv("HC1_KV_FORMAT");
    uint8_t small[8];

    memset(&card, 0xaa, sizeof(card));
    b.addr = (uintptr_t)&card;
    b.len = sizeof(card);
    CHECK_OK(ioctl(fd, HC1_IOCTL_IDENTIFY, &b));
    CHECK(b.len == sizeof(card));
    CHECK(card.size == sizeof(card));
    CHECK(card.rsvd0 == 0 && card.rsvd1 == 0 && card.rsvd2 == 0);
    /* The format the card was built with (hc1-vm passes it on), as sysfs says it. */
    if (!booted)
        FAIL("HC1_KV_FORMAT is not set: boot with tools/vm/hc1-vm");
    CHECK(card.kv_format == kv_format_of(booted));
    hc1_sysfs_str("model/kv_format", name, sizeof(name));
    CHECK(card.kv_format == kv_format_of(name));
    /* A first-version caller's buffer: filled up to its end, no further. */
    memset(&old, 0xaa, sizeof(old));
    b.addr = (uintptr_t)&old;
    b.len = HC1_IDENTITY_SIZE_V1;
    CHECK_OK(ioctl(fd, HC1_IOCTL_IDENTIFY, &b));
    CHECK(b.len == HC1_IDENTITY_SIZE_V1);
    CHECK(!memcmp(&old, &card, HC1_IDENTITY_SIZE_V1));
    CHECK(old.kv_format == 0xaaaaaaaa);
    CHECK(memchr(card.name, 0, sizeof(card.name)));
    hc1_sysfs_str("model/name", name, sizeof(name));
    CHECK(!strcmp(name, card.name));
    hc1_sysfs_str("model/arch", name, sizeof(name));
    CHECK(!strcmp(name, card.arch));
    CHECK(hc1_sysfs_long("model/dim") == card.dim);
    CHECK(hc1_sysfs_long("model/n_layers") == card.n_layers);
    hc1_sysfs_str("model/sha256", sha, sizeof(sha));
    for (int i = 0; i < 32; i++)
        sprintf(hex + 2 * i, "%02x", card.sha256[i]);
    CHECK(!strcmp(sha, hex));

    /* Truncated to the caller's buffer. */
    memset(small, 0, sizeof(small));
    b.addr = (uintptr_t)small;
    b.len = sizeof(small);
    CHECK_OK(ioctl(fd, HC1_IOCTL_IDENTIFY, &b));
    CHECK(b.len == sizeof(small));
    CHECK(!memcmp(small, &card, sizeof(small)));
    b.len = 0;
    CHECK_OK(ioctl(fd, HC1_IOCTL_IDENTIFY, &b));
    CHECK(b.len == 0);

    b.len = sizeof(small);
    b.offset = 4;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_IDENTIFY, &b), EINVAL);
    b.offset = 0;
    b.pad = 1;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_IDENTIFY, &b), EINVAL);
    b.pad = 0;
    b.addr = 0;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_IDENTIFY, &b), EFAULT);
}

TEST_F(dev, vocab) {
    int fd = self->fd;
    struct hc1_info info = hc1_get_info(fd);
    struct hc1_buffer b = {.size = sizeof(b)};
    uint8_t *all = malloc(info.vocab_bytes), *parts;
    uint32_t off, chunk = 1000;

    parts = malloc(info.vocab_bytes);
    CHECK(all && parts);
    b.addr = (uintptr_t)all;
    b.len = info.vocab_bytes + 100;
    CHECK_OK(ioctl(fd, HC1_IOCTL_READ_VOCAB, &b));
    CHECK(b.len == info.vocab_bytes);
    /* Slices at offsets put back together give the same blob. */
    for (off = 0; off < info.vocab_bytes; off += chunk) {
        b.addr = (uintptr_t)(parts + off);
        b.len = chunk;
        b.offset = off;
        CHECK_OK(ioctl(fd, HC1_IOCTL_READ_VOCAB, &b));
        CHECK(b.len == (info.vocab_bytes - off < chunk ? info.vocab_bytes - off : chunk));
    }
    CHECK(!memcmp(all, parts, info.vocab_bytes));
    b.offset = info.vocab_bytes;
    b.len = 16;
    CHECK_OK(ioctl(fd, HC1_IOCTL_READ_VOCAB, &b));
    CHECK(b.len == 0);
    b.offset = info.vocab_bytes + 1;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_READ_VOCAB, &b), EINVAL);
    free(all);
    free(parts);
}

TEST_F(dev, stats) {
    int fd = self->fd;
    struct hc1_card_stats st;
    struct hc1_buffer b = {.size = sizeof(b)};

    memset(&st, 0xaa, sizeof(st));
    b.addr = (uintptr_t)&st;
    b.len = sizeof(st);
    CHECK_OK(ioctl(fd, HC1_IOCTL_STATS, &b));
    CHECK(b.len == sizeof(st));
    CHECK(st.size > 0 && st.size <= sizeof(st));
    CHECK(st.uptime_ns > 0);
    b.offset = 8;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_STATS, &b), EINVAL);
}

TEST_F(dev, no_session) {
    int fd = self->fd;
    struct hc1_generate g = hc1_gen_args(prompt, 4, 8);
    struct hc1_wait w = {.size = sizeof(w)};
    uint32_t tok;

    CHECK_ERR(ioctl(fd, HC1_IOCTL_GENERATE, &g), ENOENT);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_WAIT, &w), ENOENT);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_CANCEL, 0), ENOENT);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_SESSION_DESTROY, 0), ENOENT);
    CHECK_ERR(read(fd, &tok, sizeof(tok)), ENOENT);
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED);
    CHECK(errno == ENOENT);
}

TEST_F(dev, bad_ioctls) {
    int fd = self->fd;

    CHECK_ERR(ioctl(fd, _IO(HC1_IOCTL_BASE, 0x7f), 0), ENOTTY);
    CHECK_ERR(ioctl(fd, _IO('x', 0x00), 0), ENOTTY);
    /* Right number, wrong direction. */
    CHECK_ERR(ioctl(fd, _IO(HC1_IOCTL_BASE, 0x00), 0), ENOTTY);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_CANCEL, 1), EINVAL);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_SESSION_DESTROY, 1), EINVAL);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_RESET, 1), EINVAL);
}

TEST_F(dev, session_create) {
    int fd = self->fd;
    struct hc1_info info = hc1_get_info(fd);
    struct hc1_session s = {.size = sizeof(s)};
    long before = hc1_sysfs_long("sessions");

    s.flags = 1;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_SESSION_CREATE, &s), EINVAL);
    s.flags = 0;
    s.pad = 1;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_SESSION_CREATE, &s), EINVAL);
    s.pad = 0;
    s.size = 8;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_SESSION_CREATE, &s), EINVAL);
    s.size = sizeof(s);
    CHECK_OK(ioctl(fd, HC1_IOCTL_SESSION_CREATE, &s));
    CHECK(s.ctx < info.n_contexts);
    CHECK(s.ring_shift == info.ring_shift);
    CHECK(s.ring_bytes % 4096 == 0);
    CHECK(s.offsets.slots + (4ull << s.ring_shift) <= s.ring_bytes);
    CHECK(s.offsets.state != s.offsets.produced && s.offsets.finish != s.offsets.n_prompt);
    CHECK(hc1_sysfs_long("sessions") == before + 1);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_SESSION_CREATE, &s), EEXIST);
}

/*
 * A caller of hc1_session's first version (HC1_SESSION_SIZE_V1 bytes, no
 * offsets) is served, and nothing past its struct is written.
 */
TEST(session_create_v1) {
    int fd = hc1_open();
    union {
        struct hc1_session s;
        uint8_t bytes[sizeof(struct hc1_session) + 16];
    } u;
    size_t i;

    memset(&u, 0xaa, sizeof(u));
    memset(&u.s, 0, HC1_SESSION_SIZE_V1);
    u.s.size = HC1_SESSION_SIZE_V1;
    CHECK_OK(ioctl(fd, HC1_IOCTL_SESSION_CREATE, &u.s));
    CHECK(u.s.ring_bytes >= 4u << u.s.ring_shift);
    for (i = HC1_SESSION_SIZE_V1; i < sizeof(u); i++)
        CHECK(u.bytes[i] == 0xaa);
    close(fd);
    fd = hc1_open();
    u.s.size = HC1_SESSION_SIZE_V1 - 4;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_SESSION_CREATE, &u.s), EINVAL);
    close(fd);
}

TEST_F(session, generate_errors) {
    int fd = self->fd;
    struct hc1_info info = hc1_get_info(fd);
    uint32_t bad_prompt[] = {1, info.vocab_size};
    uint32_t* long_prompt;
    struct hc1_generate g;

#define EXPECT_GEN(err, mutation)                                                                  \
    do {                                                                                           \
        g = hc1_gen_args(prompt, 4, 8);                                                            \
        mutation;                                                                                  \
        CHECK_ERR(ioctl(fd, HC1_IOCTL_GENERATE, &g), err);                                         \
    } while (0)

    EXPECT_GEN(EINVAL, g.flags = 4);
    EXPECT_GEN(EINVAL, g.n_prompt = 0);
    EXPECT_GEN(EINVAL, g.n_prompt = info.context_len + 1);
    EXPECT_GEN(EINVAL, g.max_tokens = (1u << info.ring_shift) + 1);
    EXPECT_GEN(EINVAL, g.temperature_milli = 65536);
    EXPECT_GEN(EINVAL, g.top_p_milli = 1001);
    EXPECT_GEN(EINVAL, g.top_k = info.vocab_size + 1);
    EXPECT_GEN(EINVAL, g.n_stop = info.max_stop + 1);
    EXPECT_GEN(EINVAL, (g.n_stop = 1, g.stop[0] = info.vocab_size));
    EXPECT_GEN(EINVAL, g.stop[2] = 5);
    EXPECT_GEN(EINVAL, (g.prompt = (uintptr_t)bad_prompt, g.n_prompt = 2));
    EXPECT_GEN(EINVAL, g.size = sizeof(g) - 8);
    EXPECT_GEN(EFAULT, g.prompt = 0);
    EXPECT_GEN(EFAULT, g.prompt = 16);
#undef EXPECT_GEN

    long_prompt = calloc(info.context_len, sizeof(uint32_t));
    g = hc1_gen_args(long_prompt, info.context_len, 1);
    /* A full-context prompt is valid input; the card decides the rest. */
    if (ioctl(fd, HC1_IOCTL_GENERATE, &g) == 0)
        hc1_wait_end(fd);
    free(long_prompt);
}

TEST_F(session, generate_wait_cancel) {
    int fd = self->fd;
    struct hc1_info info = hc1_get_info(fd);
    uint32_t slots = 1u << info.ring_shift;
    struct hc1_generate g = hc1_gen_args(prompt, 4, 16);
    struct hc1_wait w = {.size = sizeof(w)};
    long gens = hc1_sysfs_long("stats/generations");
    long toks = hc1_sysfs_long("stats/tokens");
    int ret;

    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    w = hc1_wait_end(fd);
    CHECK(w.state == HC1_GENERATION_DONE);
    CHECK(w.status == 0);
    CHECK(w.produced >= 1 && w.produced <= 16);
    CHECK(w.finish == HC1_END_LENGTH || w.finish == HC1_END_EOS);
    CHECK(w.finish != HC1_END_LENGTH || w.produced == 16);
    CHECK(hc1_sysfs_long("stats/generations") == gens + 1);
    CHECK(hc1_sysfs_long("stats/tokens") == toks + w.produced);

    /* WAIT on a finished generation returns at once. */
    w.min_produced = 0;
    w.timeout_ms = 1;
    CHECK_OK(ioctl(fd, HC1_IOCTL_WAIT, &w));
    w.flags = ~HC1_WAIT_BATCH;
    CHECK_ERR(ioctl(fd, HC1_IOCTL_WAIT, &w), EINVAL);
    w.flags = HC1_WAIT_BATCH;
    CHECK_OK(ioctl(fd, HC1_IOCTL_WAIT, &w));
    CHECK(w.flags == HC1_WAIT_BATCH);
    CHECK(w.state == HC1_GENERATION_DONE);

    /* A long generation: busy while it runs, cancellable. */
    g = hc1_gen_args(prompt, 4, slots);
    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    CHECK_ERR(ioctl(fd, HC1_IOCTL_GENERATE, &g), EBUSY);
    memset(&w, 0, sizeof(w));
    w.size = sizeof(w);
    w.min_produced = 0;
    ret = ioctl(fd, HC1_IOCTL_WAIT, &w);
    CHECK(ret == 0);
    CHECK(w.produced >= 1);
    CHECK_OK(ioctl(fd, HC1_IOCTL_CANCEL, 0));
    w = hc1_wait_end(fd);
    CHECK(w.state == HC1_GENERATION_DONE);
    CHECK(w.status == 0);
    /*
     * A cancel that comes late finds the generation ended: at its length,
     * or at the context first when the prompt and the ring overfill it.
     */
    if (w.finish == HC1_END_CANCELLED)
        CHECK(w.produced < slots);
    else if (w.finish == HC1_END_CONTEXT)
        CHECK(w.produced + 4 >= info.context_len && w.produced <= slots);
    else
        CHECK(w.finish == HC1_END_LENGTH && w.produced == slots);
    printf("cancel: %u of %u tokens, finish %u\n", w.produced, slots, w.finish);
    /* Nothing runs: cancel is a no-op. */
    CHECK_OK(ioctl(fd, HC1_IOCTL_CANCEL, 0));

    /* Continue the same context. */
    g = hc1_gen_args(NULL, 0, 4);
    g.flags = HC1_GENERATE_CONTINUE;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    w = hc1_wait_end(fd);
    CHECK(w.status == 0);
}

/*
 * HC1_WAIT_BATCH returns with a whole coalescing batch (or the end), not
 * on any interrupt.  The batch window is switched off so the rule is exact
 * whatever the host's load; a window only ends a batch wait early.
 */
TEST_F(batch, wait_batch) {
    int fd = self->fd;
    struct hc1_info info = hc1_get_info(fd);
    uint32_t slots = 1u << info.ring_shift;
    uint32_t want = info.context_len - 4 < slots ? info.context_len - 4 : slots;
    struct hc1_generate g = hc1_gen_args(prompt, 4, want);
    long batch = hc1_sysfs_long("coalesce_tokens");
    struct hc1_wait w = {.size = sizeof(w)};
    unsigned int batches = 0;

    if (batch < 2)
        FAIL("coalesce_tokens is %ld: the card's default batch is 32", batch);
    hc1_sysfs_set("coalesce_usecs", 0);
    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    CHECK_OK(ioctl(fd, HC1_IOCTL_WAIT, &w));
    while (w.state != HC1_GENERATION_DONE) {
        uint32_t before = w.produced;

        w.min_produced = before;
        w.flags = HC1_WAIT_BATCH;
        CHECK_OK(ioctl(fd, HC1_IOCTL_WAIT, &w));
        CHECK(w.flags == HC1_WAIT_BATCH);
        if (w.state != HC1_GENERATION_DONE)
            CHECK(w.produced >= before + batch);
        batches++;
    }
    CHECK(w.produced == want);
    CHECK(batches <= want / batch + 1);
    printf("batched wait: %u tokens in %u waits of >= %ld\n", w.produced, batches, batch);
}

/* fdinfo tells which context a file holds; debugfs shows the queues. */
TEST_F(session, fdinfo_debugfs) {
    int fd = self->fd;
    uint32_t ctx = self->s.ctx;
    char path[64], line[256], want[64];
    bool found = false;
    FILE* f;

    snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
    snprintf(want, sizeof(want), "hc1-context:\t%u\n", ctx);
    f = fopen(path, "r");
    CHECK(f);
    while (fgets(line, sizeof(line), f))
        found |= !strcmp(line, want);
    fclose(f);
    if (!found)
        FAIL("%s has no '%s'", path, want);

    f = fopen("/sys/kernel/debug/hc1/hc0/queues", "r");
    if (!f) {
        printf("debugfs not mounted: queue state not checked\n");
        return;
    }
    CHECK(fgets(line, sizeof(line), f));
    CHECK(!strncmp(line, "qid 0 depth ", 12));
    fclose(f);
}

TEST_F(session, destroy) {
    int fd = self->fd;
    struct hc1_generate g = hc1_gen_args(prompt, 4, 4);
    long before = hc1_sysfs_long("sessions");

    CHECK_OK(ioctl(fd, HC1_IOCTL_SESSION_DESTROY, 0));
    CHECK(hc1_sysfs_long("sessions") == before - 1);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_GENERATE, &g), ENOENT);
    CHECK_ERR(ioctl(fd, HC1_IOCTL_SESSION_DESTROY, 0), ENOENT);
    hc1_create(fd);
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    /* Destroying a running session cancels it. */
    CHECK_OK(ioctl(fd, HC1_IOCTL_SESSION_DESTROY, 0));
    CHECK(hc1_sysfs_long("sessions") == before - 1);
}

TEST(context_limit) {
    int probe = hc1_open();
    struct hc1_info info = hc1_get_info(probe);
    int* fds = calloc(info.n_contexts + 1, sizeof(int));
    struct hc1_session s = {.size = sizeof(s)};
    uint32_t i;

    close(probe);
    for (i = 0; i < info.n_contexts; i++) {
        fds[i] = hc1_open();
        hc1_create(fds[i]);
    }
    fds[i] = hc1_open();
    CHECK_ERR(ioctl(fds[i], HC1_IOCTL_SESSION_CREATE, &s), EBUSY);
    close(fds[0]);
    CHECK_OK(ioctl(fds[i], HC1_IOCTL_SESSION_CREATE, &s));
    for (i = 1; i <= info.n_contexts; i++)
        close(fds[i]);
    free(fds);
    hc1_wait_sysfs("sessions", 0, 5);
}

TEST_HARNESS_MAIN
