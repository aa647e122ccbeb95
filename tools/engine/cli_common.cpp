// SPDX-License-Identifier: MIT
#include "cli_common.hpp"

namespace hc1e::cli {

hc1_engine_callbacks Collector::callbacks() {
    hc1_engine_callbacks cb{};
    cb.opaque = this;
    cb.token = [](void* opaque, uint32_t, uint32_t token) {
        auto* c = static_cast<Collector*>(opaque);
        {
            std::lock_guard lk(c->mu);
            c->tokens.push_back(token);
        }
        if (c->on_token)
            c->on_token(*c, token);
    };
    cb.done = [](void* opaque, uint32_t, int finish, uint32_t n_prompt, uint32_t n_generated) {
        auto* c = static_cast<Collector*>(opaque);
        std::lock_guard lk(c->mu);
        c->done = true;
        c->finish = finish;
        c->n_prompt = n_prompt;
        c->n_generated = n_generated;
        c->cv.notify_all();
    };
    return cb;
}

void Collector::wait() {
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return done; });
}

void Collector::reset() {
    std::lock_guard lk(mu);
    tokens.clear();
    done = false;
    finish = 0;
    n_prompt = n_generated = 0;
}

Tokenizer tokenizer_of(const hc1_engine* e) {
    hc1_engine_info info;
    hc1_engine_get_info(e, &info);
    Vocab v;
    v.bos_id = info.bos_id;
    v.eos_id = info.eos_id;
    v.max_token_len = info.max_token_len;
    for (uint32_t i = 0; i < info.vocab_size; i++) {
        uint32_t len = 0;
        float score = 0;
        const char* p = hc1_engine_token(e, i, &len, &score);
        v.pieces.emplace_back(p, len);
        v.scores.push_back(score);
    }
    return Tokenizer(std::move(v));
}

} // namespace hc1e::cli
