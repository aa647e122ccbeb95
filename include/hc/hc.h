/* SPDX-License-Identifier: MIT */
/**
 * @file hc/hc.h
 * @brief C API of libhc, for C programs and FFI callers.
 *
 * Conventions: every function that can fail returns 0 (or a count) on
 * success and a negative errno value on failure (-ENOENT no card, -EACCES
 * permission, -ENODEV card gone, -ETIMEDOUT, -EINVAL bad argument, -EPROTO
 * incompatible driver, ...); hc_last_error() then describes the failure of
 * the calling thread's last call.  Handles are opaque; each *_open has a
 * matching *_close that accepts NULL.  A card may be used from several
 * threads; a session from one thread at a time, except hc_session_cancel().
 *
 * Structures passed in start with their own size (set it to sizeof), so
 * newer libhc versions can grow them at the end.
 */
#ifndef HC_HC_H
#define HC_HC_H

#include <stddef.h>
#include <stdint.h>

#include <hc/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An open card. */
typedef struct hc_card hc_card;
/** A session (context + token ring) on a card. */
typedef struct hc_session hc_session;

/**
 * hc_last_error - message of the calling thread's last failure
 *
 * Valid until the thread's next libhc call; "" if the last call succeeded.
 */
HC_API const char* hc_last_error(void);

/** hc_version - "MAJOR.MINOR.PATCH" of libhc. */
HC_API const char* hc_version(void);

/**
 * hc_card_count - number of HC1 device nodes (/dev/hc/N)
 *
 * Returns 0 when the driver is not loaded; never fails.
 */
HC_API int hc_card_count(void);

/**
 * hc_card_open - open a card
 * @selector: which card, tried in this order: an index ("2"), a device path
 *	("/dev/hc/2", "/dev/hc/by-path/pci-0000:01:00.0",
 *	"/dev/hc/by-model/stories260K"), a model name ("stories260K"), or the
 *	SHA-256 of the burned weights (64 hex digits, or a prefix of at least 8
 *	that names one model).  A model several cards hold opens the
 *	least-loaded live one (see hc_pool_session_open()).  NULL means card 0.
 * @out: receives the handle
 *
 * Reads the model card and vocabulary.  Returns 0 or -errno (-ENOENT: no
 * such card, or no live card holds the model; -EINVAL: empty selector or
 * ambiguous SHA-256 prefix; -EACCES: permission; -ENOTTY: not an HC1
 * device).
 */
HC_API int hc_card_open(const char* selector, hc_card** out);

/** hc_card_close - close a card (sessions keep working until closed). NULL is ignored. */
HC_API void hc_card_close(hc_card* card);

/**
 * struct hc_model_info - the model card, flattened (see hc::ModelCard).
 *
 * Grows at the end: libhc fills as much of it as both it and the caller
 * know, and says how much in @size.
 */
struct hc_model_info {
    uint32_t size; /**< in: sizeof(struct hc_model_info); out: bytes filled */
    char name[64];
    char arch[16];
    char sha256_hex[65];
    uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads;
    uint32_t vocab_size, context_len, bos_id, eos_id;
    uint32_t weight_format; /**< 0 fp32, 1 int8, UINT32_MAX one the driver does not know */
    uint32_t n_contexts;
    uint64_t n_params;
    /** KV-cache format: 0 f32 (exact), 1 f16, 2 int8, UINT32_MAX one the driver does not know
     *  (hc::KvFormat); libhc 0.2 */
    uint32_t kv_format;
};

/**
 * hc_card_model - copy the model card into @info
 *
 * info->size set by the caller: at least libhc 0.1's struct (up to
 * @n_params), else -EINVAL.
 */
HC_API int hc_card_model(const hc_card* card, struct hc_model_info* info);

/**
 * hc_tokenize - encode text with the card's tokenizer
 * @add_bos: put BOS first
 * @tokens: output array of @capacity entries (may be NULL with @capacity 0)
 *
 * Returns the number of tokens the text needs (which may exceed @capacity:
 * call again with a larger array), or -errno.
 */
HC_API int hc_tokenize(const hc_card* card, const char* text, int add_bos, uint32_t* tokens,
                       size_t capacity);

/**
 * hc_detokenize - decode tokens to UTF-8 text
 * @text: output of @capacity bytes, NUL terminated if @capacity > 0
 *
 * Returns the length of the whole text (excluding the NUL; may exceed
 * @capacity - 1: the output is then truncated), or -errno.
 */
HC_API int hc_detokenize(const hc_card* card, const uint32_t* tokens, size_t n, char* text,
                         size_t capacity);

/** hc_session_open - start a session on @card (-EBUSY if every context is taken). */
HC_API int hc_session_open(hc_card* card, hc_session** out);

/** hc_session_close - end a session, cancelling its generation. NULL is ignored. */
HC_API void hc_session_close(hc_session* session);

/** Flags of struct hc_generate_params. */
#define HC_GEN_KEEP_CONTEXT (1u << 0) /**< continue the session's context (chat) */
#define HC_GEN_IGNORE_EOS (1u << 1)   /**< do not stop at end-of-sequence */

/** struct hc_generate_params - sampling and limits; zero = defaults (greedy, ring-sized). */
struct hc_generate_params {
    uint32_t size;  /**< sizeof(struct hc_generate_params) */
    uint32_t flags; /**< HC_GEN_* */
    uint32_t max_tokens;
    float temperature;
    float top_p;
    uint32_t top_k;
    uint64_t seed;
    uint32_t n_stop;
    uint32_t stop[4];
    uint32_t timeout_ms; /**< 0 = none; -ETIMEDOUT after it */
};

/** Finish reasons (struct hc_result.finish), as hc::Finish. */
enum hc_finish {
    HC_FINISH_NONE = 0,
    HC_FINISH_EOS = 1,
    HC_FINISH_STOP = 2,
    HC_FINISH_LENGTH = 3,
    HC_FINISH_CONTEXT = 4,
    HC_FINISH_CANCELLED = 5,
};

/** struct hc_result - how a generation ended. */
struct hc_result {
    uint32_t size;   /**< sizeof(struct hc_result) */
    uint32_t finish; /**< enum hc_finish */
    uint32_t prompt_tokens;
    uint32_t tokens;
};

/**
 * hc_token_cb - called for each generated token
 * @token: the token, or UINT32_MAX for a last call flushing held-back bytes
 * @text, @len: the newly complete UTF-8 text (may be empty, not NUL terminated)
 *
 * Return 0 to continue, non-zero to stop the generation.
 */
typedef int (*hc_token_cb)(void* user, uint32_t token, const char* text, size_t len);

/**
 * hc_generate - encode @prompt, generate, stream through @cb (may be NULL)
 * @params: NULL for defaults
 * @result: NULL, or filled with how it ended
 *
 * Blocks until the generation ends.  Returns the number of tokens generated
 * or -errno.
 */
HC_API int hc_generate(hc_session* session, const char* prompt,
                       const struct hc_generate_params* params, hc_token_cb cb, void* user,
                       struct hc_result* result);

/** hc_session_cancel - stop the session's generation; callable from any thread. */
HC_API int hc_session_cancel(hc_session* session);

/**
 * hc_session_card_index - N of the /dev/hc/N the session runs on
 *
 * Says where a pool placed it.  Returns N or -EINVAL for NULL.
 */
HC_API int hc_session_card_index(const hc_session* session);

/**
 * hc_pool - every card of the host, used as one (hc::Pool).
 *
 * A pool keeps every card open and places each new session on the
 * least-loaded live card holding the requested model: live means the
 * driver's state is "live" (not resetting, failed or removed), least loaded
 * the fewest sessions (of all processes) for its contexts.  A pool may be
 * used from several threads.  Sessions and cards taken from it outlive it.
 */
typedef struct hc_pool hc_pool;

/**
 * hc_pool_open - open every card the driver exposes
 *
 * Returns 0 or -errno (-ENOENT: no card or driver not loaded; the error of
 * opening a card when none could be opened, e.g. -EACCES).
 */
HC_API int hc_pool_open(hc_pool** out);

/** hc_pool_close - close the pool's cards (its sessions keep working). NULL is ignored. */
HC_API void hc_pool_close(hc_pool* pool);

/**
 * hc_pool_refresh - forget cards that are gone, open those added since
 *
 * session() does this by itself when no live card has room.  Returns 0 or
 * -errno.
 */
HC_API int hc_pool_refresh(hc_pool* pool);

/** struct hc_card_status - one card of a pool, as hc_pool_card_status() reports it. */
struct hc_card_status {
    uint32_t size;        /**< in: sizeof(struct hc_card_status) */
    char path[64];        /**< "/dev/hc/N" */
    char pci_address[32]; /**< "0000:01:00.0", "" if unknown */
    char model[64];       /**< model name */
    char sha256_hex[65];  /**< SHA-256 of the burned weights */
    char state[16];       /**< live, resetting, failed, dead, gone */
    uint32_t sessions;    /**< sessions open on the card now (all processes) */
    uint32_t n_contexts;  /**< sessions the card holds at once */
};

/**
 * hc_pool_card_count - cards the pool holds, in /dev/hc/N order
 *
 * Returns the count or -errno.
 */
HC_API int hc_pool_card_count(hc_pool* pool);

/**
 * hc_pool_card_status - the state of card @i (0 <= i < hc_pool_card_count())
 *
 * Reads the state and session count from sysfs now.  Returns 0, -EINVAL
 * (NULL, size too small) or -ERANGE (@i out of range).
 */
HC_API int hc_pool_card_status(hc_pool* pool, unsigned i, struct hc_card_status* status);

/**
 * hc_pool_session_open - a session on the least-loaded live card of a model
 * @model: model name or weight SHA-256 (or prefix) as for hc_card_open();
 *	NULL or "" for any model
 *
 * Cards resetting or gone are skipped.  Returns 0 or -errno (-ENOENT: no
 * live card holds the model; -EBUSY: every context of those is taken;
 * -EINVAL: ambiguous SHA-256 prefix).  hc_session_card_index() says which
 * card it is on.
 */
HC_API int hc_pool_session_open(hc_pool* pool, const char* model, hc_session** out);

/**
 * hc_pool_card_open - the card hc_pool_session_open() would choose for @model
 *
 * For its model card and tokenizer (hc_card_model(), hc_tokenize()).
 * Returns 0 or -errno as hc_pool_session_open(), without -EBUSY.
 */
HC_API int hc_pool_card_open(hc_pool* pool, const char* model, hc_card** out);

#ifdef __cplusplus
}
#endif

#endif /* HC_HC_H */
