/* SPDX-License-Identifier: MIT */
/* The C API end to end against the card: open, model info, tokenize,
 * generate with a streaming callback, cancel from the callback, errors.
 * One case each (tests/guest/hc1_harness.h). */
#include <hc/hc.h>

#include <errno.h>
#include <stddef.h>
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

struct text {
    char buf[4096];
    size_t len;
    unsigned calls, stop_after;
};

static int collect(void* user, uint32_t token, const char* s, size_t n) {
    struct text* t = user;
    (void)token;
    if (t->len + n < sizeof(t->buf)) {
        memcpy(t->buf + t->len, s, n);
        t->len += n;
        t->buf[t->len] = '\0';
    }
    return t->stop_after && ++t->calls >= t->stop_after;
}

/* Card 0 and its model, or skip the case. */
static hc_card* open_card(struct hc_model_info* info) {
    hc_card* card = NULL;

    if (hc_card_count() == 0)
        skip("no card");
    CHECK(hc_card_open(NULL, &card) == 0);
    CHECK(hc_card_model(card, info) == 0);
    return card;
}

/* Each model this test accepts, with its greedy continuation; else skip. */
static void known_answer(const struct hc_model_info* info, const char** prompt,
                         const char** answer) {
    static char why[128];

    *prompt = "Once upon a time";
    if (strcmp(info->name, "stories260K") == 0) {
        *answer = ", there was a little girl named Lily.";
    } else if (strcmp(info->name, "hc1-kjv") == 0) {
        *prompt = "And the LORD said";
        *answer = " unto Moses, Thus saith the LORD of hosts.";
    } else {
        snprintf(why, sizeof(why), "no known answer for model %s", info->name);
        skip(why);
    }
}

TEST(model_and_tokenizer) {
    struct hc_model_info info = {.size = sizeof(info)};
    hc_card* card = open_card(&info);
    printf("model %s, vocab %u, %u contexts\n", info.name, info.vocab_size, info.n_contexts);
    CHECK(info.size == sizeof(info));
    /* The KV-cache format the card was booted with (hc1-vm passes it on). */
    static const char* const kv_names[] = {"f32", "f16", "int8"};
    const char* booted = getenv("HC1_KV_FORMAT");
    CHECK(booted != NULL);
    CHECK(info.kv_format < 3 && strcmp(kv_names[info.kv_format], booted) == 0);
    /* libhc 0.1's struct ends before kv_format: filled up to its end only. */
    struct hc_model_info old;
    memset(&old, 0xaa, sizeof(old));
    old.size = offsetof(struct hc_model_info, kv_format);
    CHECK(hc_card_model(card, &old) == 0);
    CHECK(old.size == offsetof(struct hc_model_info, kv_format));
    CHECK(old.n_params == info.n_params && strcmp(old.name, info.name) == 0);
    CHECK(old.kv_format == 0xaaaaaaaa);
    old.size = offsetof(struct hc_model_info, n_params);
    CHECK(hc_card_model(card, &old) == -EINVAL);

    uint32_t tokens[64];
    int n = hc_tokenize(card, "Once upon a time", 1, tokens, 64);
    CHECK(n > 1 && tokens[0] == info.bos_id);
    char text[256];
    CHECK(hc_detokenize(card, tokens, (size_t)n, text, sizeof(text)) == 16);
    CHECK(strcmp(text, "Once upon a time") == 0);
    CHECK(hc_tokenize(card, "Once upon a time", 1, tokens, 1) == n); /* size query */
    hc_card_close(card);
}

TEST(generate_known_answer) {
    struct hc_model_info info = {.size = sizeof(info)};
    hc_card* card = open_card(&info);
    hc_session* s = NULL;
    const char *prompt, *answer;
    known_answer(&info, &prompt, &answer);

    CHECK(hc_session_open(card, &s) == 0);
    struct hc_generate_params p = {.size = sizeof(p), .max_tokens = 120};
    struct hc_result r = {.size = sizeof(r)};
    struct text t = {0};
    int got = hc_generate(s, prompt, &p, collect, &t, &r);
    CHECK(got > 0 && (uint32_t)got == r.tokens);
    printf("%s%s\n", prompt, t.buf);
    CHECK(strncmp(t.buf, answer, strlen(answer)) == 0);
    hc_session_close(s);
    hc_card_close(card);
}

TEST(cancel_from_the_callback) {
    struct hc_model_info info = {.size = sizeof(info)};
    hc_card* card = open_card(&info);
    hc_session* s = NULL;
    const char *prompt, *answer;
    known_answer(&info, &prompt, &answer);

    CHECK(hc_session_open(card, &s) == 0);
    /*
     * Room for the cancel to overtake the card: the reader's second batch
     * comes up to INTC.TOKENS (32) tokens after its first, and the guest
     * takes milliseconds to react while the card makes ~25 tokens per ms.
     */
    struct hc_generate_params p = {.size = sizeof(p), .flags = HC_GEN_IGNORE_EOS};
    struct hc_result r = {.size = sizeof(r)};
    struct text stop = {.stop_after = 2};
    p.max_tokens = info.context_len - 16; /* the prompt's few tokens fit */
    int got = hc_generate(s, prompt, &p, collect, &stop, &r);
    CHECK(got >= 2 && r.finish == HC_FINISH_CANCELLED);
    hc_session_close(s);
    hc_card_close(card);
}

TEST(bad_params_are_einval) {
    struct hc_model_info info = {.size = sizeof(info)};
    hc_card* card = open_card(&info);
    hc_session* s = NULL;

    CHECK(hc_session_open(card, &s) == 0);
    struct hc_generate_params p = {.size = sizeof(p), .flags = HC_GEN_IGNORE_EOS, .n_stop = 5};
    p.max_tokens = info.context_len - 16;
    CHECK(hc_generate(s, "x", &p, NULL, NULL, NULL) == -EINVAL);
    CHECK(strstr(hc_last_error(), "n_stop") != NULL);
    hc_session_close(s);
    hc_card_close(card);
}

TEST_HARNESS_MAIN
