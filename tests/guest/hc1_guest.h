/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the in-guest tests of hc1.ko: they talk to /dev/hc/N through
 * the raw UAPI (include/uapi/linux/hc1.h) only, no libhc.  Each program is
 * a set of cases of hc1_harness.h; FAIL() and CHECK() end the case that
 * calls them (exit 1), skip() skips it (exit 77).
 */
#ifndef HC1_GUEST_H
#define HC1_GUEST_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <hc1/fault_inject.h>
#include <linux/hc1.h>

#include "hc1_harness.h" /* skip() */

#define HC1_DEV "/dev/hc/0"
#define HC1_SYSFS "/sys/class/hc1/hc0"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "FAIL: %s:%d: ", __FILE__, __LINE__);                                      \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        exit(1);                                                                                   \
    } while (0)

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            FAIL("%s (errno %d: %s)", #cond, errno, strerror(errno));                              \
    } while (0)

/* An ioctl/syscall that must fail with @err. */
#define CHECK_ERR(call, err)                                                                       \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long _r = (long)(call);                                                                    \
        if (_r != -1 || errno != (err))                                                            \
            FAIL("%s: got %ld errno %d (%s), want errno %d (%s)", #call, _r, errno,                \
                 strerror(errno), (err), strerror(err));                                           \
    } while (0)

#define CHECK_OK(call)                                                                             \
    do {                                                                                           \
        errno = 0;                                                                                 \
        long _r = (long)(call);                                                                    \
        if (_r < 0)                                                                                \
            FAIL("%s: %ld errno %d (%s)", #call, _r, errno, strerror(errno));                      \
    } while (0)

static inline int hc1_open(void) {
    int fd = open(HC1_DEV, O_RDWR | O_CLOEXEC);

    if (fd < 0)
        FAIL("open %s: %s (is hc1.ko loaded and the card present?)", HC1_DEV, strerror(errno));
    return fd;
}

static inline struct hc1_info hc1_get_info(int fd) {
    struct hc1_info info = {.size = sizeof(info)};

    CHECK_OK(ioctl(fd, HC1_IOCTL_INFO, &info));
    return info;
}

static inline struct hc1_session hc1_create(int fd) {
    struct hc1_session s = {.size = sizeof(s)};

    CHECK_OK(ioctl(fd, HC1_IOCTL_SESSION_CREATE, &s));
    /* Where the mapped ring keeps its words: this driver says. */
    CHECK(s.offsets.slots + (4ull << s.ring_shift) <= s.ring_bytes);
    CHECK(s.offsets.produced + 4 <= s.ring_bytes && s.offsets.state + 4 <= s.ring_bytes);
    return s;
}

/* Word @off (a field of hc1_session.offsets) of a mapped ring, acquire. */
static inline uint32_t hc1_ring_load(const volatile void* ring, uint32_t off) {
    return __atomic_load_n((const uint32_t*)((const char*)ring + off), __ATOMIC_ACQUIRE);
}

static inline struct hc1_generate hc1_gen_args(const uint32_t* prompt, uint32_t n,
                                               uint32_t max_tokens) {
    struct hc1_generate g;

    memset(&g, 0, sizeof(g));
    g.size = sizeof(g);
    g.prompt = (uintptr_t)prompt;
    g.n_prompt = n;
    g.max_tokens = max_tokens;
    return g;
}

static inline struct hc1_wait hc1_wait_end(int fd) {
    struct hc1_wait w = {.size = sizeof(w), .min_produced = UINT32_MAX};

    CHECK_OK(ioctl(fd, HC1_IOCTL_WAIT, &w));
    return w;
}

/*
 * Read tokens with read() until the end of the generation (read() returns
 * 0); returns the count.  More than @cap tokens is a failure.
 */
static inline uint32_t hc1_read_all(int fd, uint32_t* out, uint32_t cap) {
    uint32_t n = 0, extra;

    for (;;) {
        ssize_t r = n < cap ? read(fd, out + n, (cap - n) * sizeof(uint32_t))
                            : read(fd, &extra, sizeof(extra));

        if (r < 0)
            FAIL("read: %s", strerror(errno));
        if (r == 0)
            return n;
        if (r % 4)
            FAIL("read returned %zd, not a multiple of 4", r);
        if (n == cap)
            FAIL("more than %u tokens", cap);
        n += r / 4;
    }
}

static inline long hc1_sysfs_long(const char* attr) {
    char path[256], buf[64];
    FILE* f;

    snprintf(path, sizeof(path), HC1_SYSFS "/%s", attr);
    f = fopen(path, "r");
    if (!f)
        FAIL("open %s: %s", path, strerror(errno));
    if (!fgets(buf, sizeof(buf), f))
        FAIL("read %s", path);
    fclose(f);
    return strtol(buf, NULL, 0);
}

/* Write @val to the file at @path (sysfs and the like). */
static inline void hc1_write_file(const char* path, const char* val) {
    FILE* f = fopen(path, "w");

    if (!f || fputs(val, f) < 0 || fclose(f))
        FAIL("write %s to %s: %s", val, path, strerror(errno));
}

/* Set the card's sysfs @attr to @val. */
static inline void hc1_sysfs_set(const char* attr, long val) {
    char path[256], buf[32];

    snprintf(path, sizeof(path), HC1_SYSFS "/%s", attr);
    snprintf(buf, sizeof(buf), "%ld\n", val);
    hc1_write_file(path, buf);
}

static inline void hc1_sysfs_str(const char* attr, char* buf, size_t len) {
    char path[256];
    FILE* f;

    snprintf(path, sizeof(path), HC1_SYSFS "/%s", attr);
    f = fopen(path, "r");
    if (!f)
        FAIL("open %s: %s", path, strerror(errno));
    if (!fgets(buf, len, f))
        FAIL("read %s", path);
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

static inline double hc1_now(void) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait until sysfs @attr reads @want, for up to @secs. */
static inline void hc1_wait_sysfs(const char* attr, long want, double secs) {
    double end = hc1_now() + secs;

    while (hc1_sysfs_long(attr) != want) {
        if (hc1_now() > end)
            FAIL("%s is %ld, want %ld after %.0f s", attr, hc1_sysfs_long(attr), want, secs);
        usleep(20000);
    }
}

/* ------------------------------------------------- fault injection */

/* Skip unless the card was started with fault-inject=on. */
static inline void hc1_need_faults(int fd) {
    if (!(hc1_get_info(fd).hw_features & HC1_CARD_F_FAULT_INJECT))
        skip("card has no fault injection (hc1-vm --device-opts ,fault-inject=on)");
}

/* HC1_REG_TEST of card 0 through the driver's debugfs file. */
static inline void hc1_set_fault(uint32_t v) {
    char buf[32];

    snprintf(buf, sizeof(buf), "%u\n", v);
    hc1_write_file("/sys/kernel/debug/hc1/hc0/fault_inject", buf);
}

/* The module's timeout_ms (every card's command and generation timeout). */
static inline void hc1_set_timeout_ms(unsigned int ms) {
    char buf[32];

    snprintf(buf, sizeof(buf), "%u\n", ms);
    hc1_write_file("/sys/module/hc1/parameters/timeout_ms", buf);
}

/* Wait until the card's state reads @want, for up to @secs; false if not. */
static inline bool hc1_wait_state(const char* want, double secs) {
    double end = hc1_now() + secs;
    char state[32];

    for (;;) {
        hc1_sysfs_str("state", state, sizeof(state));
        if (!strcmp(state, want))
            return true;
        if (hc1_now() > end)
            return false;
        usleep(20000);
    }
}

/* ----------------------------------------------------- driver binding */

/* The PCI address of card 0 ("0000:01:00.0"), while the driver has it. */
static inline void hc1_bdf(char* bdf, size_t len) {
    char link[512];
    const char* base;
    ssize_t n = readlink(HC1_SYSFS "/device", link, sizeof(link) - 1);

    if (n <= 0)
        FAIL("readlink %s/device: %s", HC1_SYSFS, strerror(errno));
    link[n] = '\0';
    base = strrchr(link, '/');
    base = base ? base + 1 : link;
    if (strlen(base) >= len)
        FAIL("PCI address %s too long", base);
    memcpy(bdf, base, strlen(base) + 1);
}

/* Bind hc1 to @bdf; returns 0 or the errno the driver's probe gave. */
static inline int hc1_try_bind(const char* bdf) {
    int fd = open("/sys/bus/pci/drivers/hc1/bind", O_WRONLY);
    int err = 0;

    CHECK(fd >= 0);
    if (write(fd, bdf, strlen(bdf)) < 0)
        err = errno;
    close(fd);
    return err;
}

/* Bind hc1 to @bdf and wait for /dev/hc/0. */
static inline void hc1_bind(const char* bdf) {
    double end = hc1_now() + 10;
    int err = hc1_try_bind(bdf);

    if (err)
        FAIL("bind %s: %s", bdf, strerror(err));
    while (access(HC1_DEV, F_OK) != 0) {
        if (hc1_now() > end)
            FAIL("%s did not come back after bind", HC1_DEV);
        usleep(20000);
    }
}

static inline void hc1_unbind(const char* bdf) {
    hc1_write_file("/sys/bus/pci/drivers/hc1/unbind", bdf);
}

/* A short generation on a new session of card 0 works. */
static inline void hc1_check_generates(void) {
    static const uint32_t p[] = {1, 21, 22, 23};
    int fd = hc1_open();
    struct hc1_generate g = hc1_gen_args(p, 4, 8);
    struct hc1_wait w;

    hc1_create(fd);
    g.flags = HC1_GENERATE_IGNORE_EOS;
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    w = hc1_wait_end(fd);
    if (w.status || w.produced != 8)
        FAIL("card generates no more: status %d, %u tokens", w.status, w.produced);
    close(fd);
}

/* ------------------------------------------------------- vocabulary */

struct hc1_vocab {
    uint32_t n;
    char** text;
    uint32_t* len;
    float* score;
    void* blob;
};

static inline struct hc1_vocab hc1_load_vocab(int fd) {
    struct hc1_info info = hc1_get_info(fd);
    struct hc1_buffer b = {.size = sizeof(b)};
    struct hc1_vocab_blob h;
    struct hc1_vocab v;
    uint8_t* p;
    uint32_t i, off;

    v.blob = malloc(info.vocab_bytes);
    CHECK(v.blob);
    b.addr = (uintptr_t)v.blob;
    b.len = info.vocab_bytes;
    CHECK_OK(ioctl(fd, HC1_IOCTL_READ_VOCAB, &b));
    CHECK(b.len == info.vocab_bytes);
    memcpy(&h, v.blob, sizeof(h));
    CHECK(h.magic == HC1_VOCAB_BLOB_MAGIC);
    CHECK(h.n_tokens == info.vocab_size);
    v.n = h.n_tokens;
    v.text = calloc(v.n, sizeof(*v.text));
    v.len = calloc(v.n, sizeof(*v.len));
    v.score = calloc(v.n, sizeof(*v.score));
    p = v.blob;
    off = sizeof(h);
    for (i = 0; i < v.n; i++) {
        memcpy(&v.score[i], p + off, 4);
        memcpy(&v.len[i], p + off + 4, 4);
        off += 8;
        CHECK(off + v.len[i] <= info.vocab_bytes);
        v.text[i] = strndup((char*)p + off, v.len[i]);
        off += v.len[i];
    }
    return v;
}

static inline int hc1_vocab_find(const struct hc1_vocab* v, const char* s, size_t len) {
    uint32_t i;

    for (i = 0; i < v->n; i++)
        if (v->len[i] == len && !memcmp(v->text[i], s, len))
            return i;
    return -1;
}

/*
 * llama2.c's encoder: BOS, a dummy-prefix space, one token per UTF-8 code
 * point (bytes + 3 as fallback), then merge the best-scoring pair until no
 * pair merges.
 */
static inline uint32_t hc1_encode(const struct hc1_vocab* v, const char* text, uint32_t bos,
                                  uint32_t* out) {
    uint32_t n = 0;
    char buf[512];
    size_t i = 0;
    int id;

    out[n++] = bos;
    if (*text) {
        id = hc1_vocab_find(v, " ", 1);
        CHECK(id >= 0);
        out[n++] = id;
    }
    while (text[i]) {
        size_t cl = 1;

        while ((text[i + cl] & 0xc0) == 0x80 && cl < 4)
            cl++;
        id = hc1_vocab_find(v, text + i, cl);
        if (id >= 0) {
            out[n++] = id;
        } else {
            size_t k;

            for (k = 0; k < cl; k++)
                out[n++] = (uint8_t)text[i + k] + 3;
        }
        i += cl;
    }
    for (;;) {
        float best = -1e10f;
        int best_id = -1, best_at = -1;
        uint32_t k;

        for (k = 0; k + 1 < n; k++) {
            size_t l1 = v->len[out[k]], l2 = v->len[out[k + 1]];

            if (l1 + l2 >= sizeof(buf))
                continue;
            memcpy(buf, v->text[out[k]], l1);
            memcpy(buf + l1, v->text[out[k + 1]], l2);
            id = hc1_vocab_find(v, buf, l1 + l2);
            if (id >= 0 && v->score[id] > best) {
                best = v->score[id];
                best_id = id;
                best_at = k;
            }
        }
        if (best_at < 0)
            break;
        out[best_at] = best_id;
        memmove(out + best_at + 1, out + best_at + 2, (n - best_at - 2) * sizeof(*out));
        n--;
    }
    return n;
}

/* llama2.c's decoder: "<0xNN>" is a raw byte; after BOS, drop a leading space. */
static inline void hc1_decode_append(const struct hc1_vocab* v, uint32_t prev, uint32_t tok,
                                     uint32_t bos, char* out, size_t cap) {
    const char* piece = v->text[tok];
    size_t len = strlen(out);
    unsigned int byte;
    char tmp[2];

    if (prev == bos && piece[0] == ' ')
        piece++;
    if (sscanf(piece, "<0x%02X>", &byte) == 1 && strlen(piece) == 6) {
        tmp[0] = (char)byte;
        tmp[1] = '\0';
        piece = tmp;
    }
    snprintf(out + len, cap - len, "%s", piece);
}

#endif /* HC1_GUEST_H */
