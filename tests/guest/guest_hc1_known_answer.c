// SPDX-License-Identifier: GPL-2.0
/*
 * Known answer through the raw UAPI: stories260K, greedy, BOS + "Once upon
 * a time" must continue exactly as llama2.c's reference run does (the text
 * of tests/engine/known_answer_test.cpp).  The prompt is tokenized and the
 * output detokenized with the vocabulary the card itself hands out
 * (HC1_IOCTL_READ_VOCAB).
 */
#include "hc1_guest.h"
#include "hc1_harness.h"

static const char prompt_text[] = "Once upon a time";
static const char reference[] =
    "Once upon a time, there was a little girl named Lily. She loved to "
    "play outside in the park. One day, she saw a big, red ball. She "
    "wanted to play with it, but it was too high.\nLily's mom said, ";

TEST(once_upon_a_time) {
    int fd = hc1_open();
    struct hc1_info info = hc1_get_info(fd);
    struct hc1_vocab v = hc1_load_vocab(fd);
    uint32_t prompt[64], tokens[512], n_prompt, n, i, prev;
    char name[128], fmt[32], text[8192];
    struct hc1_generate g;
    struct hc1_wait w;
    size_t overlap;

    hc1_sysfs_str("model/name", name, sizeof(name));
    hc1_sysfs_str("model/weight_format", fmt, sizeof(fmt));
    if (info.vocab_size != 512 || !strstr(name, "stories260K"))
        skip("the card does not hold stories260K");
    if (strcmp(fmt, "fp32"))
        skip("the reference answer is defined for fp32 weights");

    n_prompt = hc1_encode(&v, prompt_text, info.bos_id, prompt);
    printf("prompt tokens:");
    for (i = 0; i < n_prompt; i++)
        printf(" %u", prompt[i]);
    printf("\n");

    hc1_create(fd);
    g = hc1_gen_args(prompt, n_prompt, 120);
    CHECK_OK(ioctl(fd, HC1_IOCTL_GENERATE, &g));
    n = hc1_read_all(fd, tokens, 512);
    w = hc1_wait_end(fd);
    CHECK(w.status == 0);
    CHECK(w.produced == n);

    text[0] = '\0';
    prev = info.bos_id;
    for (i = 1; i < n_prompt; i++) {
        hc1_decode_append(&v, prev, prompt[i], info.bos_id, text, sizeof(text));
        prev = prompt[i];
    }
    for (i = 0; i < n; i++) {
        hc1_decode_append(&v, prev, tokens[i], info.bos_id, text, sizeof(text));
        prev = tokens[i];
    }
    printf("%u tokens, finish %u:\n%s\n", n, w.finish, text);

    overlap = strlen(text) < strlen(reference) ? strlen(text) : strlen(reference);
    if (overlap < 150)
        FAIL("only %zu characters to compare", overlap);
    if (strncmp(text, reference, overlap))
        FAIL("output differs from the reference:\n%s", reference);
    printf("matches the reference over %zu characters\n", overlap);
    close(fd);
}

TEST_HARNESS_MAIN
