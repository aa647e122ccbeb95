/* SPDX-License-Identifier: MIT */
/* The C API of the pool on make test-guest's third boot (stories260K on
 * /dev/hc/0 and 1, another model on 2): card status, placement by model
 * and by SHA-256, selectors of hc_card_open(), a generation through a
 * placed session, and the errors: one case each (tests/guest/hc1_harness.h). */
#include <hc/hc.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hc1_harness.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "FAIL %s:%d: %s (%s)\n", __FILE__, __LINE__, #c, hc_last_error());     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static const char kKnown[] = "Once upon a time, there was a little girl named Lily.";

struct text {
    char buf[2048];
    size_t len;
};

static int collect(void* user, uint32_t token, const char* s, size_t n) {
    struct text* t = user;
    (void)token;
    if (t->len + n < sizeof(t->buf)) {
        memcpy(t->buf + t->len, s, n);
        t->len += n;
        t->buf[t->len] = '\0';
    }
    return 0;
}

static void status(hc_pool* pool, unsigned i, struct hc_card_status* st) {
    memset(st, 0, sizeof(*st));
    st->size = sizeof(*st);
    CHECK(hc_pool_card_status(pool, i, st) == 0);
}

/* The pool of the three cards and their status, or skip the case. */
FIXTURE(pool) {
    hc_pool* pool;
    struct hc_card_status st[3];
};
FIXTURE_SETUP(pool) {
    static char why[64];
    int i;

    if (hc_card_count() != 3) {
        snprintf(why, sizeof(why), "needs three cards, found %d", hc_card_count());
        skip(why);
    }
    CHECK(hc_pool_open(&self->pool) == 0);
    CHECK(hc_pool_card_count(self->pool) == 3);
    for (i = 0; i < 3; i++)
        status(self->pool, i, &self->st[i]);
}
FIXTURE_TEARDOWN(pool) {
    hc_pool_close(self->pool);
}

TEST_F(pool, card_status) {
    const struct hc_card_status *st0 = &self->st[0], *st1 = &self->st[1], *st2 = &self->st[2];
    int i;

    for (i = 0; i < 3; i++) {
        const struct hc_card_status* st = &self->st[i];
        printf("%s %s %s %s %u/%u\n", st->path, st->pci_address, st->model, st->state, st->sessions,
               st->n_contexts);
        CHECK(!strcmp(st->state, "live"));
    }
    CHECK(!strcmp(st0->model, "stories260K") && !strcmp(st1->model, "stories260K"));
    CHECK(strcmp(st2->model, st0->model) != 0 && strcmp(st2->sha256_hex, st0->sha256_hex) != 0);
    CHECK(!strcmp(st0->sha256_hex, st1->sha256_hex) && strlen(st0->sha256_hex) == 64);
    CHECK(!strcmp(st0->path, "/dev/hc/0") && !strcmp(st2->path, "/dev/hc/2"));
}

/* Four sessions of stories260K: two per card, none on the other model's. */
TEST_F(pool, placement) {
    hc_session* s[4] = {NULL};
    hc_session* other = NULL;
    struct hc_card_status st0;
    int on[3] = {0, 0, 0};
    char prefix[9];
    int i, n;

    for (i = 0; i < 4; i++) {
        CHECK(hc_pool_session_open(self->pool, "stories260K", &s[i]) == 0);
        n = hc_session_card_index(s[i]);
        CHECK(n >= 0 && n <= 2);
        on[n]++;
    }
    printf("placed: %d %d %d\n", on[0], on[1], on[2]);
    CHECK(on[0] == 2 && on[1] == 2 && on[2] == 0);
    memcpy(prefix, self->st[2].sha256_hex, 8);
    prefix[8] = '\0';
    CHECK(hc_pool_session_open(self->pool, prefix, &other) == 0);
    CHECK(hc_session_card_index(other) == 2);
    status(self->pool, 0, &st0);
    CHECK(st0.sessions == 2);
    hc_session_close(other);
    for (i = 0; i < 4; i++)
        hc_session_close(s[i]);
}

/* A placed session generates with its card's vocabulary. */
TEST_F(pool, placed_session_generates) {
    struct hc_generate_params p = {.size = sizeof(p), .max_tokens = 40};
    struct text t = {.len = 0};
    hc_session* s = NULL;

    CHECK(hc_pool_session_open(self->pool, "stories260K", &s) == 0);
    CHECK(hc_generate(s, "Once upon a time", &p, collect, &t, NULL) == 40);
    printf("Once upon a time%s\n", t.buf);
    CHECK(!strncmp(kKnown + strlen("Once upon a time"), t.buf,
                   strlen(kKnown) - strlen("Once upon a time")));
    hc_session_close(s);
}

/* hc_card_open() takes every kind of selector. */
TEST_F(pool, selectors) {
    struct hc_model_info info = {.size = sizeof(info)};
    hc_card* card = NULL;

    CHECK(hc_card_open(self->st[2].model, &card) == 0);
    CHECK(hc_card_model(card, &info) == 0 && !strcmp(info.name, self->st[2].model));
    hc_card_close(card);
    CHECK(hc_pool_card_open(self->pool, NULL, &card) == 0);
    hc_card_close(card);
    CHECK(hc_card_open("/dev/hc/1", &card) == 0);
    hc_card_close(card);
    CHECK(hc_card_open(self->st[0].sha256_hex, &card) == 0);
    CHECK(hc_card_model(card, &info) == 0 && !strcmp(info.name, "stories260K"));
    hc_card_close(card);
}

TEST_F(pool, errors) {
    struct hc_card_status st0 = {.size = sizeof(st0)};
    hc_session* other = NULL;
    hc_card* card = NULL;

    CHECK(hc_card_open("no-such-model", &card) == -ENOENT && card == NULL);
    printf("no-such-model: %s\n", hc_last_error());
    CHECK(hc_card_open("", &card) == -EINVAL);
    CHECK(hc_pool_session_open(self->pool, "no-such-model", &other) == -ENOENT && other == NULL);
    CHECK(hc_pool_card_open(self->pool, "no-such-model", &card) == -ENOENT);
    CHECK(hc_pool_card_status(self->pool, 3, &st0) == -ERANGE);
    st0.size = 4;
    CHECK(hc_pool_card_status(self->pool, 0, &st0) == -EINVAL);
    CHECK(hc_pool_open(NULL) == -EINVAL);
    CHECK(hc_session_card_index(NULL) == -EINVAL);
    hc_pool_close(NULL);
}

TEST_HARNESS_MAIN
