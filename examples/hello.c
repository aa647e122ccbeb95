/* SPDX-License-Identifier: MIT */
/* hello.c: the C API, streaming text through a callback.
 *   example-hello-c ["prompt"] */
#include <hc/hc.h>

#include <stdio.h>

static int print_piece(void* user, uint32_t token, const char* text, size_t len) {
    (void)user;
    (void)token;
    fwrite(text, 1, len, stdout);
    fflush(stdout);
    return 0; /* non-zero would stop the generation */
}

int main(int argc, char** argv) {
    const char* prompt = argc > 1 ? argv[1] : "Once upon a time";
    hc_card* card = NULL;
    hc_session* session = NULL;
    struct hc_generate_params params = {.size = sizeof(params), .max_tokens = 200};
    struct hc_result result = {.size = sizeof(result)};

    if (hc_card_open(NULL, &card) < 0 || hc_session_open(card, &session) < 0) {
        fprintf(stderr, "hello-c: %s\n", hc_last_error());
        hc_card_close(card);
        return 1;
    }
    fputs(prompt, stdout);
    int rc = hc_generate(session, prompt, &params, print_piece, NULL, &result);
    if (rc < 0)
        fprintf(stderr, "\nhello-c: %s\n", hc_last_error());
    else
        printf("\n[%u tokens]\n", result.tokens);
    hc_session_close(session);
    hc_card_close(card);
    return rc < 0;
}
