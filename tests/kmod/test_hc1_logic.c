// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of hc1.ko's pure logic (kmod/hc1_logic.c, the module's own
 * source): ring and queue arithmetic, command encoding, completion decoding
 * and UAPI argument validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hc1_logic.h"

static struct hc1_limits test_limits(void) {
    struct hc1_limits lim = {
        .vocab_size = 512,
        .context_len = 512,
        .ring_shift = 9,
        .max_stop = HC1_MAX_STOP,
    };
    return lim;
}

static struct hc1_generate valid_generate(void) {
    struct hc1_generate g;

    memset(&g, 0, sizeof(g));
    g.size = sizeof(g);
    g.prompt = 0x1000;
    g.n_prompt = 5;
    g.max_tokens = 100;
    return g;
}

/* ------------------------------------------------------------ rings */

static void test_ring_shift_covers_context(void** state) {
    assert_int_equal(hc1_ring_shift_for(512, 16), 9);
    assert_int_equal(hc1_ring_shift_for(513, 16), 10);
    assert_int_equal(hc1_ring_shift_for(1, 16), HC1_RING_SHIFT_MIN);
    assert_int_equal(hc1_ring_shift_for(0, 16), HC1_RING_SHIFT_MIN);
    /* Capped by the driver's limit, and the limit by the card's. */
    assert_int_equal(hc1_ring_shift_for(1u << 20, 16), 16);
    assert_int_equal(hc1_ring_shift_for(1u << 30, 40), HC1_RING_SHIFT_MAX);
    assert_int_equal(hc1_ring_shift_for(4096, 2), HC1_RING_SHIFT_MIN);
}

static void test_ring_slot_wraps(void** state) {
    assert_int_equal(hc1_ring_slots(4), 16);
    assert_int_equal(hc1_ring_slot(0, 4), 0);
    assert_int_equal(hc1_ring_slot(15, 4), 15);
    assert_int_equal(hc1_ring_slot(16, 4), 0);
    assert_int_equal(hc1_ring_slot(0xffffffffu, 4), 15);
    assert_int_equal(HC1_RING_BYTES(4), 64 + 16 * 4);
}

static void test_clamp_produced(void** state) {
    assert_int_equal(hc1_clamp_produced(10, 100), 10);
    assert_int_equal(hc1_clamp_produced(100, 100), 100);
    assert_int_equal(hc1_clamp_produced(0xffffffffu, 100), 100);
}

/* ----------------------------------------------------------- queues */

static void test_queue_depth(void** state) {
    assert_int_equal(hc1_queue_depth(1023, 128), 128);
    assert_int_equal(hc1_queue_depth(63, 128), 64);
    assert_int_equal(hc1_queue_depth(1, 128), 2);
    /* A one-entry queue is always full. */
    assert_int_equal(hc1_queue_depth(0, 128), 0);
    /* Upper bits of CAP are not the queue size. */
    assert_int_equal(hc1_queue_depth(0xffff0000u | 31, 128), 32);
}

static void test_queue_count(void** state) {
    u32 cap = 4u << HC1_CAP_NQ_SHIFT | 1023;

    assert_int_equal(hc1_queue_count(cap, 0, 8, 8), 4);
    assert_int_equal(hc1_queue_count(cap, 2, 8, 8), 2);
    assert_int_equal(hc1_queue_count(cap, 0, 3, 8), 2);
    assert_int_equal(hc1_queue_count(cap, 0, 8, 1), 1);
    assert_int_equal(hc1_queue_count(cap, 0, 1, 8), 0);
    assert_int_equal(hc1_queue_count(cap, 0, 0, 8), 0);
    assert_int_equal(hc1_queue_count(1023, 0, 8, 8), 0);
}

static void test_sq_next_wraps(void** state) {
    assert_int_equal(hc1_sq_next(0, 4), 1);
    assert_int_equal(hc1_sq_next(3, 4), 0);
}

static void test_cq_phase(void** state) {
    struct hc1_cqe cqe;
    u16 head = 0;
    u8 phase = 1;
    int i;

    memset(&cqe, 0, sizeof(cqe));
    /* A zeroed queue holds nothing for the first pass (phase 1). */
    assert_false(hc1_cqe_pending(&cqe, phase));
    cqe.status = htole16(HC1_CQE_PHASE | HC1_SC_CTX_BUSY << 1);
    assert_true(hc1_cqe_pending(&cqe, phase));
    assert_int_equal(hc1_cqe_status(&cqe), HC1_SC_CTX_BUSY);

    for (i = 0; i < 3; i++)
        hc1_cq_advance(&head, &phase, 4);
    assert_int_equal(head, 3);
    assert_int_equal(phase, 1);
    hc1_cq_advance(&head, &phase, 4);
    assert_int_equal(head, 0);
    assert_int_equal(phase, 0);
    /* Second pass: entries left from the first pass are old. */
    assert_false(hc1_cqe_pending(&cqe, phase));
    hc1_cq_advance(&head, &phase, 4);
    hc1_cq_advance(&head, &phase, 4);
    hc1_cq_advance(&head, &phase, 4);
    hc1_cq_advance(&head, &phase, 4);
    assert_int_equal(phase, 1);
}

static void test_status_to_errno(void** state) {
    assert_int_equal(hc1_status_to_errno(HC1_SC_SUCCESS), 0);
    assert_int_equal(hc1_status_to_errno(HC1_SC_INVALID_FIELD), -EINVAL);
    assert_int_equal(hc1_status_to_errno(HC1_SC_INVALID_TOKEN), -EINVAL);
    assert_int_equal(hc1_status_to_errno(HC1_SC_PROMPT_TOO_LONG), -EINVAL);
    assert_int_equal(hc1_status_to_errno(HC1_SC_RING_TOO_SMALL), -EINVAL);
    assert_int_equal(hc1_status_to_errno(HC1_SC_CTX_EXISTS), -EEXIST);
    assert_int_equal(hc1_status_to_errno(HC1_SC_CTX_BUSY), -EBUSY);
    assert_int_equal(hc1_status_to_errno(HC1_SC_DMA_ERROR), -EIO);
    assert_int_equal(hc1_status_to_errno(HC1_SC_INVALID_OPCODE), -EIO);
    assert_int_equal(hc1_status_to_errno(HC1_SC_INTERNAL), -EIO);
    assert_int_equal(hc1_status_to_errno(0x7fff), -EIO);
}

/* --------------------------------------------------------- encoding */

static void test_encode_generate(void** state) {
    struct hc1_generate g = valid_generate();
    union hc1_sqe sqe;

    memset(&sqe, 0xa5, sizeof(sqe));
    g.flags = HC1_GENERATE_CONTINUE | HC1_GENERATE_IGNORE_EOS;
    g.temperature_milli = 800;
    g.top_p_milli = 900;
    g.top_k = 40;
    g.seed = 0x1122334455667788ull;
    g.n_stop = 2;
    g.stop[0] = 13;
    g.stop[1] = 2;
    hc1_encode_generate(&sqe, &g, 7, 3, 0xabc000, 0xdef000, 9);

    assert_int_equal(sqe.bytes[0], HC1_OP_GENERATE);
    assert_int_equal(sqe.bytes[1], HC1_GEN_CONTINUE | HC1_GEN_IGNORE_EOS);
    assert_int_equal(sqe.bytes[2], 7);
    assert_int_equal(sqe.bytes[3], 0);
    assert_int_equal(le32toh(sqe.gen.c.ctx), 3);
    assert_int_equal(le64toh(sqe.gen.prompt_addr), 0xabc000);
    assert_int_equal(le64toh(sqe.gen.ring_addr), 0xdef000);
    assert_int_equal(le32toh(sqe.gen.n_prompt), 5);
    assert_int_equal(le32toh(sqe.gen.max_tokens), 100);
    assert_int_equal(le16toh(sqe.gen.temperature_milli), 800);
    assert_int_equal(le16toh(sqe.gen.top_p_milli), 900);
    assert_int_equal(le16toh(sqe.gen.top_k), 40);
    assert_int_equal(sqe.gen.ring_shift, 9);
    assert_int_equal(sqe.gen.rsvd, 0);
    assert_int_equal(le64toh(sqe.gen.seed), 0x1122334455667788ull);
    assert_int_equal(le32toh(sqe.gen.stop[0]), 13);
    assert_int_equal(le32toh(sqe.gen.stop[1]), 2);
    assert_int_equal(sqe.gen.stop[2], HC1_TOKEN_NONE);
    assert_int_equal(sqe.gen.stop[3], HC1_TOKEN_NONE);
}

static void test_encode_generate_defaults(void** state) {
    struct hc1_generate g = valid_generate();
    union hc1_sqe sqe;

    g.max_tokens = 0;
    hc1_encode_generate(&sqe, &g, 1, 0, 0, 0, 9);
    /* 0 means "as many as the ring holds". */
    assert_int_equal(le32toh(sqe.gen.max_tokens), 512);
    assert_int_equal(sqe.gen.c.flags, 0);
    assert_int_equal(hc1_effective_max_tokens(&g, 4), 16);
}

static void test_encode_create_ioq(void** state) {
    union hc1_sqe sqe;
    size_t i;

    memset(&sqe, 0xff, sizeof(sqe));
    hc1_encode_create_ioq(&sqe, 9, 2, 0x10000, 0x20000, 128, 2);
    assert_int_equal(sqe.c.opcode, HC1_OP_CREATE_IOQ);
    assert_int_equal(le16toh(sqe.c.cid), 9);
    assert_int_equal(le32toh(sqe.c.ctx), 2);
    assert_int_equal(le64toh(sqe.ioq.sq_addr), 0x10000);
    assert_int_equal(le64toh(sqe.ioq.cq_addr), 0x20000);
    assert_int_equal(le16toh(sqe.ioq.qsize), 127);
    assert_int_equal(le16toh(sqe.ioq.vector), 2);
    for (i = 0; i < sizeof(sqe.ioq.rsvd); i++)
        assert_int_equal(((u8*)sqe.ioq.rsvd)[i], 0);
}

static void test_encode_data_and_simple(void** state) {
    union hc1_sqe sqe;

    hc1_encode_data(&sqe, HC1_OP_READ_VOCAB, 4, 0x3000, 65536, 131072);
    assert_int_equal(sqe.c.opcode, HC1_OP_READ_VOCAB);
    assert_int_equal(le64toh(sqe.data.addr), 0x3000);
    assert_int_equal(le32toh(sqe.data.len), 65536);
    assert_int_equal(le32toh(sqe.data.offset), 131072);

    memset(&sqe, 0xff, sizeof(sqe));
    hc1_encode_simple(&sqe, HC1_OP_CANCEL, 5, 17);
    assert_int_equal(sqe.c.opcode, HC1_OP_CANCEL);
    assert_int_equal(sqe.c.flags, 0);
    assert_int_equal(le16toh(sqe.c.cid), 5);
    assert_int_equal(le32toh(sqe.c.ctx), 17);
    assert_int_equal(sqe.bytes[HC1_SQE_SIZE - 1], 0);
}

/* ------------------------------------------------------- validation */

static void test_check_usize(void** state) {
    assert_int_equal(hc1_check_usize(40, 40), 0);
    assert_int_equal(hc1_check_usize(48, 40), 0);
    assert_int_equal(hc1_check_usize(39, 40), -EINVAL);
    assert_int_equal(hc1_check_usize(0, 40), -EINVAL);
    assert_int_equal(hc1_check_usize(HC1_USIZE_MAX, 40), 0);
    assert_int_equal(hc1_check_usize(HC1_USIZE_MAX + 1, 40), -E2BIG);
    assert_int_equal(hc1_check_usize(0xffffffffu, 40), -E2BIG);
}

static void test_check_generate_valid(void** state) {
    struct hc1_limits lim = test_limits();
    struct hc1_generate g = valid_generate();

    assert_int_equal(hc1_check_generate(&g, &lim), 0);
    g.max_tokens = 512;
    g.n_prompt = 512;
    g.temperature_milli = 65535;
    g.top_p_milli = 1000;
    g.top_k = 512;
    g.n_stop = 4;
    g.stop[0] = 0;
    g.stop[3] = 511;
    assert_int_equal(hc1_check_generate(&g, &lim), 0);
    g = valid_generate();
    g.n_prompt = 0;
    g.flags = HC1_GENERATE_CONTINUE;
    assert_int_equal(hc1_check_generate(&g, &lim), 0);
}

static void test_check_generate_rejects(void** state) {
    struct hc1_limits lim = test_limits();
    struct hc1_generate g;

#define EXPECT_EINVAL(mutation)                                                                    \
    do {                                                                                           \
        g = valid_generate();                                                                      \
        mutation;                                                                                  \
        assert_int_equal(hc1_check_generate(&g, &lim), -EINVAL);                                   \
    } while (0)

    EXPECT_EINVAL(g.flags = 1u << 2);
    EXPECT_EINVAL(g.flags = 0x80000000u);
    EXPECT_EINVAL(g.n_prompt = 0);
    EXPECT_EINVAL(g.n_prompt = 513);
    EXPECT_EINVAL(g.max_tokens = 513);
    EXPECT_EINVAL(g.temperature_milli = 65536);
    EXPECT_EINVAL(g.top_p_milli = 1001);
    EXPECT_EINVAL(g.top_k = 513);
    EXPECT_EINVAL(g.n_stop = 5);
    EXPECT_EINVAL((g.n_stop = 1, g.stop[0] = 512));
    /* Slots past n_stop must be zero: they are not silently ignored. */
    EXPECT_EINVAL((g.n_stop = 1, g.stop[1] = 3));
    EXPECT_EINVAL(g.stop[3] = 1);
#undef EXPECT_EINVAL

    /* A card taking fewer stop tokens lowers the limit. */
    g = valid_generate();
    lim.max_stop = 2;
    g.n_stop = 3;
    assert_int_equal(hc1_check_generate(&g, &lim), -EINVAL);
    g.n_stop = 2;
    assert_int_equal(hc1_check_generate(&g, &lim), 0);
}

static void test_check_prompt(void** state) {
    u32 ok[] = {1, 2, 511};
    u32 bad[] = {1, 512, 2};

    assert_int_equal(hc1_check_prompt(ok, 3, 512), 0);
    assert_int_equal(hc1_check_prompt(bad, 3, 512), -EINVAL);
    assert_int_equal(hc1_check_prompt(bad, 1, 512), 0);
    assert_int_equal(hc1_check_prompt(NULL, 0, 512), 0);
}

static void test_check_small_structs(void** state) {
    struct hc1_session s = {.size = sizeof(s)};
    struct hc1_wait w = {.size = sizeof(w)};
    struct hc1_buffer b = {.size = sizeof(b), .len = 16};
    struct hc1_uring_cmd u = {.addr = 1, .len = 40};

    assert_int_equal(hc1_check_session(&s), 0);
    s.ctx = 99; /* out fields are ignored on input */
    assert_int_equal(hc1_check_session(&s), 0);
    s.flags = 1;
    assert_int_equal(hc1_check_session(&s), -EINVAL);
    s.flags = 0;
    s.pad = 1;
    assert_int_equal(hc1_check_session(&s), -EINVAL);

    w.produced = 7;
    assert_int_equal(hc1_check_wait(&w), 0);
    w.flags = HC1_WAIT_BATCH;
    assert_int_equal(hc1_check_wait(&w), 0);
    w.flags = HC1_WAIT_BATCH << 1;
    assert_int_equal(hc1_check_wait(&w), -EINVAL);

    assert_int_equal(hc1_check_buffer(&b, false, 4096), 0);
    b.offset = 1;
    assert_int_equal(hc1_check_buffer(&b, false, 4096), -EINVAL);
    assert_int_equal(hc1_check_buffer(&b, true, 4096), 0);
    b.offset = 4096;
    assert_int_equal(hc1_check_buffer(&b, true, 4096), 0);
    b.offset = 4097;
    assert_int_equal(hc1_check_buffer(&b, true, 4096), -EINVAL);
    b.offset = 0;
    b.pad = 1;
    assert_int_equal(hc1_check_buffer(&b, true, 4096), -EINVAL);

    assert_int_equal(hc1_check_uring_cmd(&u), 0);
    u.pad = 1;
    assert_int_equal(hc1_check_uring_cmd(&u), -EINVAL);
}

/* ---------------------------------------------------- card and vocab */

static struct hc1_model_card* valid_card(void) {
    struct hc1_model_card* c = calloc(1, HC1_IDENTIFY_SIZE);

    c->size = sizeof(*c);
    c->version = HC1_HW_VERSION;
    strcpy(c->name, "stories260K");
    strcpy(c->arch, "llama");
    c->vocab_size = 512;
    c->context_len = 512;
    c->n_contexts = 8;
    c->bos_id = 1;
    c->eos_id = 2;
    c->vocab_bytes = 4096;
    c->max_stop = 4;
    return c;
}

static void test_model_card(void** state) {
    struct hc1_model_card* c = valid_card();

    assert_int_equal(hc1_check_model_card(c), 0);

    /* Unterminated strings are cut, not run past. */
    memset(c->name, 'x', sizeof(c->name));
    memset(c->arch, 'y', sizeof(c->arch));
    assert_int_equal(hc1_check_model_card(c), 0);
    assert_int_equal(strlen(c->name), sizeof(c->name) - 1);
    assert_int_equal(strlen(c->arch), sizeof(c->arch) - 1);

    /* A card that fills in less gets the rest zeroed. */
    c->max_stop = 77;
    c->msix_vectors = 9;
    c->size = offsetof(struct hc1_model_card, msix_vectors);
    assert_int_equal(hc1_check_model_card(c), 0);
    assert_int_equal(c->msix_vectors, 0);
    assert_int_equal(c->max_stop, HC1_MAX_STOP);
    free(c);
}

static void test_model_card_rejects(void** state) {
    struct hc1_model_card* c;

#define EXPECT_EPROTO(mutation)                                                                    \
    do {                                                                                           \
        c = valid_card();                                                                          \
        mutation;                                                                                  \
        assert_int_equal(hc1_check_model_card(c), -EPROTO);                                        \
        free(c);                                                                                   \
    } while (0)

    EXPECT_EPROTO(c->size = 16);
    EXPECT_EPROTO(c->size = HC1_IDENTIFY_SIZE + 1);
    EXPECT_EPROTO(c->vocab_size = 0);
    EXPECT_EPROTO(c->vocab_size = 1u << 30);
    EXPECT_EPROTO(c->context_len = 0);
    EXPECT_EPROTO(c->n_contexts = 0);
    EXPECT_EPROTO(c->n_contexts = 1u << 20);
    EXPECT_EPROTO(c->bos_id = 512);
    EXPECT_EPROTO(c->eos_id = 0xffffffffu);
    EXPECT_EPROTO(c->vocab_bytes = 8);
    EXPECT_EPROTO(c->vocab_bytes = 1u << 30);
#undef EXPECT_EPROTO
}

/* Build a blob of @n entries "t0", "t1", ... */
static u8* make_vocab(u32 n, u32* len) {
    u8* blob = calloc(1, 16 + n * 16);
    struct hc1_vocab_header h = {
        .magic = HC1_VOCAB_MAGIC,
        .n_tokens = n,
        .max_token_len = 8,
    };
    u32 off = sizeof(h), i;

    memcpy(blob, &h, sizeof(h));
    for (i = 0; i < n; i++) {
        char text[16];
        u32 score = 0, tlen;

        tlen = snprintf(text, sizeof(text), "t%u", i);
        memcpy(blob + off, &score, 4);
        memcpy(blob + off + 4, &tlen, 4);
        memcpy(blob + off + 8, text, tlen);
        off += 8 + tlen;
    }
    *len = off;
    return blob;
}

static void test_vocab(void** state) {
    u32 len, bad_len;
    u8* blob = make_vocab(20, &len);

    assert_int_equal(hc1_check_vocab(blob, len, 20), 0);
    /* Count mismatch with the model card. */
    assert_int_equal(hc1_check_vocab(blob, len, 21), -EPROTO);
    assert_int_equal(hc1_check_vocab(blob, len, 19), -EPROTO);
    /* Truncated anywhere. */
    for (bad_len = 0; bad_len < len; bad_len++)
        assert_int_equal(hc1_check_vocab(blob, bad_len, 20), -EPROTO);
    /* An entry longer than max_token_len. */
    ((struct hc1_vocab_header*)blob)->max_token_len = 2;
    assert_int_equal(hc1_check_vocab(blob, len, 20), -EPROTO);
    ((struct hc1_vocab_header*)blob)->max_token_len = 8;
    /* A length that would run past the end. */
    memset(blob + 16 + 4, 0xff, 4);
    assert_int_equal(hc1_check_vocab(blob, len, 20), -EPROTO);
    /* Bad magic. */
    blob[0] ^= 1;
    assert_int_equal(hc1_check_vocab(blob, len, 20), -EPROTO);
    free(blob);
}

static void test_names(void** state) {
    assert_string_equal(hc1_weight_format_name(HC1_WFMT_FP32), "fp32");
    assert_string_equal(hc1_weight_format_name(HC1_WFMT_INT8), "int8");
    assert_string_equal(hc1_weight_format_name(9), "unknown");
    assert_string_equal(hc1_kv_format_name(HC1_KVFMT_F32), "f32");
    assert_string_equal(hc1_kv_format_name(HC1_KVFMT_F16), "f16");
    assert_string_equal(hc1_kv_format_name(HC1_KVFMT_INT8), "int8");
    assert_string_equal(hc1_kv_format_name(3), "unknown");
    assert_string_equal(hc1_finish_name(HC1_FINISH_EOS), "eos");
    assert_string_equal(hc1_finish_name(HC1_FINISH_CANCELLED), "cancelled");
    assert_string_equal(hc1_finish_name(200), "unknown");
}

/* A batched WAIT waits for one coalescing batch past min_produced. */
static void test_wait_batch_target(void** state) {
    const uint32_t usecs = 16000u << HC1_INTC_USECS_SHIFT;

    assert_int_equal(hc1_wait_batch_target(5, 32 | usecs), 36);
    assert_int_equal(hc1_wait_batch_target(0, 32), 31);
    assert_int_equal(hc1_wait_batch_target(5, 1 | usecs), 5);
    assert_int_equal(hc1_wait_batch_target(5, 0), 5);
    assert_int_equal(hc1_wait_batch_target(UINT32_MAX - 3, 32), UINT32_MAX);
    assert_int_equal(hc1_wait_batch_target(UINT32_MAX - 31, 32), UINT32_MAX);
    assert_int_equal(hc1_wait_batch_target(UINT32_MAX - 32, 32), UINT32_MAX - 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_shift_covers_context),
        cmocka_unit_test(test_ring_slot_wraps),
        cmocka_unit_test(test_clamp_produced),
        cmocka_unit_test(test_queue_depth),
        cmocka_unit_test(test_queue_count),
        cmocka_unit_test(test_sq_next_wraps),
        cmocka_unit_test(test_cq_phase),
        cmocka_unit_test(test_status_to_errno),
        cmocka_unit_test(test_encode_generate),
        cmocka_unit_test(test_encode_generate_defaults),
        cmocka_unit_test(test_encode_create_ioq),
        cmocka_unit_test(test_encode_data_and_simple),
        cmocka_unit_test(test_check_usize),
        cmocka_unit_test(test_check_generate_valid),
        cmocka_unit_test(test_check_generate_rejects),
        cmocka_unit_test(test_check_prompt),
        cmocka_unit_test(test_check_small_structs),
        cmocka_unit_test(test_model_card),
        cmocka_unit_test(test_model_card_rejects),
        cmocka_unit_test(test_vocab),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_wait_batch_target),
    };

    return cmocka_run_group_tests_name("hc1_logic", tests, NULL, NULL);
}
