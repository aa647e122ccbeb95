/* SPDX-License-Identifier: MIT */
/*
 * The engine's C interface from C, as the QEMU device uses it: the header
 * compiles as C11 and a generation runs end to end.  Exit 77 = skip.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hc1_engine.h"

struct state {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned int tokens;
    int done;
    int finish;
};

static void on_token(void* opaque, uint32_t ctx, uint32_t token) {
    struct state* s = opaque;

    (void)ctx;
    (void)token;
    pthread_mutex_lock(&s->lock);
    s->tokens++;
    pthread_mutex_unlock(&s->lock);
}

static void on_done(void* opaque, uint32_t ctx, int finish, uint32_t n_prompt,
                    uint32_t n_generated) {
    struct state* s = opaque;

    (void)ctx;
    (void)n_prompt;
    (void)n_generated;
    pthread_mutex_lock(&s->lock);
    s->done = 1;
    s->finish = finish;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int main(void) {
    char model[512], tok[512], err[256];
    struct hc1_engine_config cfg = {0};
    struct hc1_engine_request req = {0};
    struct hc1_engine_callbacks cb = {0};
    struct hc1_engine_info info;
    struct state s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
    uint32_t prompt[1] = {1};
    hc1_engine* e;
    FILE* f;

    snprintf(model, sizeof(model), "%s/stories260K.bin", HC1_MODEL_DIR);
    snprintf(tok, sizeof(tok), "%s/tok512.bin", HC1_MODEL_DIR);
    f = fopen(model, "rb");
    if (!f) {
        printf("FAIL: %s is missing from the repository\n", model);
        return 1;
    }
    fclose(f);

    cfg.model_path = model;
    cfg.tokenizer_path = tok;
    cfg.format = HC1_ENGINE_INT8;
    cfg.n_contexts = 2;
    cfg.n_threads = 1;
    e = hc1_engine_open(&cfg, err, sizeof(err));
    if (!e) {
        fprintf(stderr, "open: %s\n", err);
        return 1;
    }
    hc1_engine_get_info(e, &info);
    if (info.vocab_size != 512 || strcmp(info.arch, "llama") != 0)
        return 1;

    req.prompt = prompt;
    req.n_prompt = 1;
    req.max_tokens = 16;
    req.ignore_eos = 1;
    cb.token = on_token;
    cb.done = on_done;
    cb.opaque = &s;
    if (hc1_engine_ctx_create(e, 1) != 0 || hc1_engine_generate(e, 1, &req, &cb) != 0)
        return 1;
    pthread_mutex_lock(&s.lock);
    while (!s.done)
        pthread_cond_wait(&s.cond, &s.lock);
    pthread_mutex_unlock(&s.lock);
    hc1_engine_close(e);
    if (s.finish != HC1_ENGINE_FINISH_LENGTH || s.tokens != 16) {
        fprintf(stderr, "finish %d tokens %u\n", s.finish, s.tokens);
        return 1;
    }
    printf("C API: 16 tokens, finish LENGTH\n");
    return 0;
}
