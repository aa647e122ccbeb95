// SPDX-License-Identifier: MIT
// The C API: hc::Error becomes -errno plus a thread-local message.
#include <hc/hc.h>
#include <hc/hc.hpp>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>

struct hc_card {
    hc::Card card;
};

struct hc_session {
    hc::Session session;
};

struct hc_pool {
    hc::Pool pool;
};

static_assert(HC_FINISH_EOS == uint32_t(hc::Finish::Eos) &&
                  HC_FINISH_STOP == uint32_t(hc::Finish::Stop) &&
                  HC_FINISH_LENGTH == uint32_t(hc::Finish::Length) &&
                  HC_FINISH_CONTEXT == uint32_t(hc::Finish::Context) &&
                  HC_FINISH_CANCELLED == uint32_t(hc::Finish::Cancelled),
              "hc_result.finish is hc::Finish cast to an integer");

namespace {

thread_local std::string last_error;

// Run @f, turning every exception into -errno and a message.
template <typename F> int guard(F&& f) noexcept {
    try {
        last_error.clear();
        return f();
    } catch (const hc::Error& e) {
        last_error = e.what();
        return -e.code();
    } catch (const std::bad_alloc&) {
        last_error = "out of memory";
        return -ENOMEM;
    } catch (const std::exception& e) {
        last_error = e.what();
        return -EIO;
    } catch (...) {
        last_error = "unknown error";
        return -EIO;
    }
}

int invalid(const char* what) {
    throw hc::Error(EINVAL, what);
}

// Copy @s into a fixed C field, always NUL terminated (truncated if long).
template <size_t N> void copy_field(char (&field)[N], const std::string& s) {
    size_t k = std::min(N - 1, s.size());
    std::memcpy(field, s.data(), k);
    field[k] = '\0';
}

// Fields of a caller's struct beyond the size it declares are left at
// their defaults; a size smaller than the first version's is refused.
template <typename T> T sized_copy(const T* in, size_t min_size, const char* what) {
    T out{};
    if (!in)
        return out;
    if (in->size < min_size)
        invalid(what);
    std::memcpy(&out, in, std::min<size_t>(in->size, sizeof(T)));
    return out;
}

} // namespace

extern "C" {

const char* hc_last_error(void) {
    return last_error.c_str();
}

const char* hc_version(void) {
    return hc::version();
}

int hc_card_count(void) {
    return guard([] { return static_cast<int>(hc::device_paths().size()); });
}

int hc_card_open(const char* selector, hc_card** out) {
    return guard([&] {
        if (!out)
            invalid("hc_card_open: out is NULL");
        *out = nullptr;
        hc::Card c = hc::open_card(selector ? std::string_view(selector) : "0");
        *out = new hc_card{std::move(c)};
        return 0;
    });
}

void hc_card_close(hc_card* card) {
    delete card;
}

int hc_card_model(const hc_card* card, struct hc_model_info* info) {
    return guard([&] {
        if (!card || !info)
            invalid("hc_card_model: NULL argument");
        // libhc 0.1's struct ended with n_params; its programs give that size.
        if (info->size < offsetof(hc_model_info, kv_format))
            invalid("hc_card_model: info->size is smaller than libhc 0.1's struct hc_model_info");
        const hc::ModelCard& m = card->card.model();
        hc_model_info o{};
        o.size = std::min<uint32_t>(info->size, sizeof(o));
        std::strncpy(o.name, m.name.c_str(), sizeof(o.name) - 1);
        std::strncpy(o.arch, m.arch.c_str(), sizeof(o.arch) - 1);
        std::strncpy(o.sha256_hex, m.sha256_hex().c_str(), sizeof(o.sha256_hex) - 1);
        o.dim = m.dim;
        o.hidden_dim = m.hidden_dim;
        o.n_layers = m.n_layers;
        o.n_heads = m.n_heads;
        o.n_kv_heads = m.n_kv_heads;
        o.vocab_size = m.vocab_size;
        o.context_len = m.context_len;
        o.bos_id = m.bos_id;
        o.eos_id = m.eos_id;
        o.weight_format = m.weight_format;
        o.n_contexts = m.n_contexts;
        o.n_params = m.n_params;
        o.kv_format = m.kv_format;
        std::memcpy(info, &o, o.size);
        return 0;
    });
}

int hc_tokenize(const hc_card* card, const char* text, int add_bos, uint32_t* tokens,
                size_t capacity) {
    return guard([&] {
        if (!card || !text || (!tokens && capacity))
            invalid("hc_tokenize: NULL argument");
        std::vector<uint32_t> t = card->card.tokenizer().encode(text, add_bos != 0);
        std::copy_n(t.begin(), std::min(capacity, t.size()), tokens);
        return static_cast<int>(t.size());
    });
}

int hc_detokenize(const hc_card* card, const uint32_t* tokens, size_t n, char* text,
                  size_t capacity) {
    return guard([&] {
        if (!card || (!tokens && n) || (!text && capacity))
            invalid("hc_detokenize: NULL argument");
        hc::Detokenizer d(card->card.tokenizer());
        std::string s;
        for (size_t i = 0; i < n; i++)
            s += d.push(tokens[i]);
        s += d.finish();
        if (capacity) {
            size_t k = std::min(capacity - 1, s.size());
            std::memcpy(text, s.data(), k);
            text[k] = '\0';
        }
        return static_cast<int>(s.size());
    });
}

int hc_session_open(hc_card* card, hc_session** out) {
    return guard([&] {
        if (!card || !out)
            invalid("hc_session_open: NULL argument");
        *out = nullptr;
        *out = new hc_session{card->card.session()};
        return 0;
    });
}

void hc_session_close(hc_session* session) {
    delete session;
}

int hc_generate(hc_session* session, const char* prompt, const struct hc_generate_params* params,
                hc_token_cb cb, void* user, struct hc_result* result) {
    return guard([&] {
        if (!session || !prompt)
            invalid("hc_generate: NULL argument");
        if (result && result->size < sizeof(hc_result))
            invalid("hc_generate: result->size is smaller than struct hc_result");
        hc_generate_params p = sized_copy(params, offsetof(hc_generate_params, timeout_ms) + 4,
                                          "hc_generate: params->size too small");
        if (p.n_stop > 4)
            invalid("hc_generate: n_stop > 4");
        hc::GenerateOptions o;
        o.max_tokens = p.max_tokens;
        o.temperature = p.temperature;
        o.top_p = p.top_p;
        o.top_k = p.top_k;
        o.seed = p.seed;
        o.stop_tokens.assign(p.stop, p.stop + p.n_stop);
        o.keep_context = p.flags & HC_GEN_KEEP_CONTEXT;
        o.ignore_eos = p.flags & HC_GEN_IGNORE_EOS;
        o.timeout = std::chrono::milliseconds(p.timeout_ms);
        hc::Session& s = session->session;
        std::vector<uint32_t> tokens = s.encode_prompt(prompt, o);
        hc::Detokenizer detok(s.tokenizer(),
                              tokens.empty() ? s.tokenizer().bos_id() : tokens.back());
        hc::Result r = s.generate(tokens, o, [&](uint32_t t) {
            std::string piece = detok.push(t);
            return !cb || cb(user, t, piece.data(), piece.size()) == 0;
        });
        if (std::string tail = detok.finish(); cb && !tail.empty())
            cb(user, UINT32_MAX, tail.data(), tail.size());
        if (result) {
            result->finish = static_cast<uint32_t>(r.finish);
            result->prompt_tokens = r.prompt_tokens;
            result->tokens = r.tokens;
        }
        return static_cast<int>(r.tokens);
    });
}

int hc_session_cancel(hc_session* session) {
    return guard([&] {
        if (!session)
            invalid("hc_session_cancel: NULL session");
        session->session.cancel();
        return 0;
    });
}

int hc_session_card_index(const hc_session* session) {
    return guard([&] {
        if (!session)
            invalid("hc_session_card_index: NULL session");
        return static_cast<int>(session->session.info().index);
    });
}

int hc_pool_open(hc_pool** out) {
    return guard([&] {
        if (!out)
            invalid("hc_pool_open: out is NULL");
        *out = nullptr;
        *out = new hc_pool{hc::Pool::open()};
        return 0;
    });
}

void hc_pool_close(hc_pool* pool) {
    delete pool;
}

int hc_pool_refresh(hc_pool* pool) {
    return guard([&] {
        if (!pool)
            invalid("hc_pool_refresh: NULL pool");
        pool->pool.refresh();
        return 0;
    });
}

int hc_pool_card_count(hc_pool* pool) {
    return guard([&] {
        if (!pool)
            invalid("hc_pool_card_count: NULL pool");
        return static_cast<int>(pool->pool.cards().size());
    });
}

int hc_pool_card_status(hc_pool* pool, unsigned i, struct hc_card_status* status) {
    return guard([&] {
        if (!pool || !status)
            invalid("hc_pool_card_status: NULL argument");
        if (status->size < sizeof(hc_card_status))
            invalid("hc_pool_card_status: status->size is smaller than struct hc_card_status");
        std::vector<hc::Pool::CardStatus> cards = pool->pool.cards();
        if (i >= cards.size())
            throw hc::Error(ERANGE, "hc_pool_card_status: card " + std::to_string(i) +
                                        " of a pool of " + std::to_string(cards.size()));
        const hc::Pool::CardStatus& c = cards[i];
        hc_card_status o{};
        o.size = sizeof(o);
        copy_field(o.path, c.path);
        copy_field(o.pci_address, c.pci_address);
        copy_field(o.model, c.model);
        copy_field(o.sha256_hex, c.sha256);
        copy_field(o.state, c.state);
        o.sessions = c.sessions;
        o.n_contexts = c.n_contexts;
        *status = o;
        return 0;
    });
}

int hc_pool_session_open(hc_pool* pool, const char* model, hc_session** out) {
    return guard([&] {
        if (!pool || !out)
            invalid("hc_pool_session_open: NULL argument");
        *out = nullptr;
        *out = new hc_session{pool->pool.session(model ? model : "")};
        return 0;
    });
}

int hc_pool_card_open(hc_pool* pool, const char* model, hc_card** out) {
    return guard([&] {
        if (!pool || !out)
            invalid("hc_pool_card_open: NULL argument");
        *out = nullptr;
        *out = new hc_card{pool->pool.card(model ? model : "")};
        return 0;
    });
}

} // extern "C"
