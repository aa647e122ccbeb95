/* SPDX-License-Identifier: MIT */
/* The C API's error paths without a card (CMocka). */
#include <hc/hc.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void missing_card_is_enoent(void** state) {
    (void)state;
    hc_card* card = (hc_card*)0x1;
    assert_int_equal(hc_card_open("/nonexistent/hc/0", &card), -ENOENT);
    assert_null(card);
    assert_non_null(strstr(hc_last_error(), "/nonexistent/hc/0"));
    assert_int_equal(hc_card_open("4095", &card), -ENOENT);
    assert_non_null(strstr(hc_last_error(), "/dev/hc/4095"));
}

static void non_hc1_node_is_enotty(void** state) {
    (void)state;
    hc_card* card = NULL;
    assert_int_equal(hc_card_open("/dev/null", &card), -ENOTTY);
    assert_null(card);
    assert_non_null(strstr(hc_last_error(), "not an HC1 device"));
}

static void null_arguments_are_einval(void** state) {
    (void)state;
    hc_session* s = NULL;
    struct hc_model_info info = {.size = sizeof(info)};
    uint32_t tokens[4];
    char text[8];
    assert_int_equal(hc_card_open(NULL, NULL), -EINVAL);
    assert_int_equal(hc_card_model(NULL, &info), -EINVAL);
    assert_int_equal(hc_tokenize(NULL, "x", 1, tokens, 4), -EINVAL);
    assert_int_equal(hc_detokenize(NULL, tokens, 1, text, sizeof(text)), -EINVAL);
    assert_int_equal(hc_session_open(NULL, &s), -EINVAL);
    assert_int_equal(hc_generate(NULL, "x", NULL, NULL, NULL, NULL), -EINVAL);
    assert_int_equal(hc_session_cancel(NULL), -EINVAL);
    assert_true(strlen(hc_last_error()) > 0);
}

static void success_clears_last_error(void** state) {
    (void)state;
    hc_card* card = NULL;
    assert_int_equal(hc_card_open("/nonexistent", &card), -ENOENT);
    assert_true(hc_card_count() >= 0);
    assert_string_equal(hc_last_error(), "");
}

static void selectors_that_name_no_card(void** state) {
    (void)state;
    hc_card* card = (hc_card*)0x1;
    assert_int_equal(hc_card_open("", &card), -EINVAL);
    assert_null(card);
    assert_non_null(strstr(hc_last_error(), "empty selector"));
    if (hc_card_count() > 0)
        return; /* the guest tests cover selection among cards */
    assert_int_equal(hc_card_open("stories260K", &card), -ENOENT);
    assert_null(card);
}

static void pool_without_cards(void** state) {
    (void)state;
    hc_pool* pool = (hc_pool*)0x1;
    if (hc_card_count() > 0)
        skip();
    assert_int_equal(hc_pool_open(&pool), -ENOENT);
    assert_null(pool);
}

static void pool_null_arguments_are_einval(void** state) {
    (void)state;
    hc_session* s = NULL;
    hc_card* card = NULL;
    struct hc_card_status st = {.size = sizeof(st)};
    assert_int_equal(hc_pool_open(NULL), -EINVAL);
    assert_int_equal(hc_pool_refresh(NULL), -EINVAL);
    assert_int_equal(hc_pool_card_count(NULL), -EINVAL);
    assert_int_equal(hc_pool_card_status(NULL, 0, &st), -EINVAL);
    assert_int_equal(hc_pool_session_open(NULL, "x", &s), -EINVAL);
    assert_int_equal(hc_pool_card_open(NULL, "x", &card), -EINVAL);
    assert_int_equal(hc_session_card_index(NULL), -EINVAL);
    hc_pool_close(NULL);
}

static void close_accepts_null(void** state) {
    (void)state;
    hc_card_close(NULL);
    hc_session_close(NULL);
    assert_non_null(hc_version());
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(missing_card_is_enoent),
        cmocka_unit_test(non_hc1_node_is_enotty),
        cmocka_unit_test(null_arguments_are_einval),
        cmocka_unit_test(success_clears_last_error),
        cmocka_unit_test(close_accepts_null),
        cmocka_unit_test(selectors_that_name_no_card),
        cmocka_unit_test(pool_without_cards),
        cmocka_unit_test(pool_null_arguments_are_einval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
