/* SPDX-License-Identifier: MIT */
/*
 * The HC1 inference engine: the model burned into the card.
 *
 * A C++20 library with this C interface so that the QEMU device (C) links
 * it.  It knows nothing of QEMU or PCI: it loads a model, "burns" it into the
 * card's weight format, and runs generations on its own threads, reporting
 * tokens through callbacks.  Tools and tests use it standalone.
 *
 * Threading: every function may be called from any thread.  Callbacks run on
 * engine threads; they must be quick and must not call back into the engine
 * except hc1_engine_cancel().
 */
#ifndef HC1_ENGINE_H
#define HC1_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hc1_engine hc1_engine;

enum hc1_engine_format {
	HC1_ENGINE_FP32 = 0,
	HC1_ENGINE_INT8 = 1,
};

/* The KV caches' element type; the values are include/hc1/hw.h's. */
enum hc1_engine_kv_format {
	HC1_ENGINE_KV_F32 = 0,	/* exact */
	HC1_ENGINE_KV_F16 = 1,	/* IEEE half, rounded to nearest even */
	HC1_ENGINE_KV_INT8 = 2,	/* int8, one fp32 scale per position and KV head */
};

/**
 * struct hc1_engine_config - how to build the engine
 * @model_path: llama2.c checkpoint or GGUF file
 * @tokenizer_path: tokenizer.bin for a llama2.c checkpoint; NULL for GGUF
 * @format: enum hc1_engine_format
 * @n_contexts: contexts (KV-cache slots), >= 1
 * @n_threads: engine threads, >= 1
 * @cpus: CPU list the engine threads run on ("1", "2-3,6"); NULL or ""
 *	leaves them to the scheduler
 * @kv_format: enum hc1_engine_kv_format (0, the zero-initialized
 *	config's, is the exact f32 cache)
 */
struct hc1_engine_config {
	const char *model_path;
	const char *tokenizer_path;
	int format;
	uint32_t n_contexts;
	uint32_t n_threads;
	const char *cpus;
	int kv_format;
};

/**
 * struct hc1_engine_info - what was burned
 * Fields mirror struct hc1_model_card of include/hc1/hw.h.
 */
struct hc1_engine_info {
	char name[64];
	char arch[16];
	uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads;
	uint32_t vocab_size, context_len, bos_id, eos_id;
	uint32_t format, group_size;
	uint64_t n_params, weight_bytes;
	uint8_t sha256[32];
	uint32_t max_token_len;
	uint32_t kv_format;		/* enum hc1_engine_kv_format */
	uint64_t kv_bytes;		/* one context's KV cache */
};

/**
 * hc1_engine_open() - load, convert and hash a model
 * @cfg: configuration
 * @err: buffer for a message naming the problem on failure
 * @errlen: size of @err
 *
 * Return: the engine, or NULL with @err filled in.
 */
hc1_engine *hc1_engine_open(const struct hc1_engine_config *cfg, char *err,
			    size_t errlen);

/** hc1_engine_close() - cancel everything, join threads, free */
void hc1_engine_close(hc1_engine *e);

/** hc1_engine_get_info() - the model card of the loaded model */
void hc1_engine_get_info(const hc1_engine *e, struct hc1_engine_info *info);

/**
 * hc1_engine_token() - vocabulary entry @id
 * @len: out: bytes of the piece (not NUL terminated)
 * @score: out: merge score
 * Return: the piece, or NULL if @id >= vocab_size.  Valid until close.
 */
const char *hc1_engine_token(const hc1_engine *e, uint32_t id, uint32_t *len,
			     float *score);

/**
 * struct hc1_engine_request - one generation
 * @prompt: prompt tokens (copied before hc1_engine_generate() returns)
 * @n_prompt: number of prompt tokens
 * @keep_cache: continue after the context's current position; the last
 *	token the previous generation sampled (reported, or the EOS/stop
 *	token that ended it) is fed first, then @prompt
 * @ignore_eos: EOS does not stop generation
 * @max_tokens: tokens to generate at most (>= 1)
 * @temperature: 0 = greedy
 * @top_p: 0 or >= 1 = off
 * @top_k: 0 = off
 * @seed: sampler seed (per context generator, reseeded by each request)
 * @stop: stop tokens; @n_stop of them (<= 8)
 *
 * A generation ends at EOS (unless @ignore_eos; EOS is not reported), at a
 * stop token (reported, as the card delivers it: include/hc1/hw.h), after
 * @max_tokens reported tokens, or when the context has no position left for
 * the next token.
 */
struct hc1_engine_request {
	const uint32_t *prompt;
	uint32_t n_prompt;
	int keep_cache;
	int ignore_eos;
	uint32_t max_tokens;
	float temperature;
	float top_p;
	uint32_t top_k;
	uint64_t seed;
	uint32_t stop[8];
	uint32_t n_stop;
};

/* Finish reasons, equal to enum hc1_finish of include/hc1/hw.h. */
enum hc1_engine_finish {
	HC1_ENGINE_FINISH_EOS = 1,
	HC1_ENGINE_FINISH_STOP = 2,
	HC1_ENGINE_FINISH_LENGTH = 3,
	HC1_ENGINE_FINISH_CONTEXT = 4,
	HC1_ENGINE_FINISH_CANCELLED = 5,
};

/**
 * struct hc1_engine_callbacks - where a generation reports
 * @token: one generated token (called in order, on an engine thread)
 * @done: the generation ended; @n_prompt prompt tokens were consumed and
 *	@n_generated tokens reported.  Called exactly once, last.
 * @opaque: passed to both
 */
struct hc1_engine_callbacks {
	void (*token)(void *opaque, uint32_t ctx, uint32_t token);
	void (*done)(void *opaque, uint32_t ctx, int finish, uint32_t n_prompt,
		     uint32_t n_generated);
	void *opaque;
};

/* Errors returned (negative) by the functions below. */
enum hc1_engine_error {
	HC1_ENGINE_OK = 0,
	HC1_ENGINE_EINVAL = 1,		/* bad request field */
	HC1_ENGINE_ECTX = 2,		/* ctx out of range or not created */
	HC1_ENGINE_EEXIST = 3,		/* context already created */
	HC1_ENGINE_EBUSY = 4,		/* context is generating */
	HC1_ENGINE_ETOOLONG = 5,	/* prompt does not fit the context */
	HC1_ENGINE_ETOKEN = 6,		/* token id >= vocab_size */
	HC1_ENGINE_ENOMEM = 7,		/* no memory for the context's KV cache */
};

int hc1_engine_ctx_create(hc1_engine *e, uint32_t ctx);
/* Cancels and waits for a running generation first. */
int hc1_engine_ctx_destroy(hc1_engine *e, uint32_t ctx);

/**
 * hc1_engine_generate() - start a generation on @ctx, asynchronously
 * Return: 0, the callbacks will run; or -HC1_ENGINE_E*, they will not.
 */
int hc1_engine_generate(hc1_engine *e, uint32_t ctx,
			const struct hc1_engine_request *req,
			const struct hc1_engine_callbacks *cb);

/**
 * hc1_engine_cancel() - end @ctx's generation soon (done reports CANCELLED)
 * Return: 0 (also when @ctx is idle), or -HC1_ENGINE_ECTX.
 */
int hc1_engine_cancel(hc1_engine *e, uint32_t ctx);

/**
 * hc1_engine_reset() - cancel every generation, wait until their done
 * callbacks returned, destroy every context
 */
void hc1_engine_reset(hc1_engine *e);

/** hc1_engine_set_stall() - test hook: generations make no progress while set */
void hc1_engine_set_stall(hc1_engine *e, int stall);

/**
 * hc1_engine_set_step_time() - test hook: every decode or prefill step takes
 * at least @us microseconds (0: as fast as it can), so that a slow guest can
 * act while a generation streams; cancel, reset and stall act at once
 */
void hc1_engine_set_step_time(hc1_engine *e, uint32_t us);

/** hc1_engine_busy_ns() - nanoseconds spent computing since open */
uint64_t hc1_engine_busy_ns(const hc1_engine *e);

#ifdef __cplusplus
}
#endif

#endif /* HC1_ENGINE_H */
