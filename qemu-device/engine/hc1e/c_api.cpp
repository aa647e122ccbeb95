// SPDX-License-Identifier: MIT
// The C interface of hc1_engine.h over hc1e::Engine.  No exception crosses
// it: open reports through err, the rest return error codes.
#include <cstdio>
#include <cstring>
#include <exception>

#include "engine.hpp"
#include "hc1_engine.h"

struct hc1_engine {
    std::unique_ptr<hc1e::Engine> engine;
};

namespace {

void set_error(char* err, size_t errlen, const char* msg) {
    if (err && errlen > 0)
        std::snprintf(err, errlen, "%s", msg);
}

void copy_name(char* dst, size_t size, const std::string& src) {
    std::memset(dst, 0, size);
    std::memcpy(dst, src.data(), std::min(src.size(), size - 1));
}

} // namespace

static_assert(HC1_ENGINE_KV_F32 == int(hc1e::KvFormat::Fp32) &&
              HC1_ENGINE_KV_F16 == int(hc1e::KvFormat::Fp16) &&
              HC1_ENGINE_KV_INT8 == int(hc1e::KvFormat::Int8));

extern "C" {

hc1_engine* hc1_engine_open(const struct hc1_engine_config* cfg, char* err, size_t errlen) {
    if (!cfg || !cfg->model_path) {
        set_error(err, errlen, "no model path given");
        return nullptr;
    }
    if (cfg->format != HC1_ENGINE_FP32 && cfg->format != HC1_ENGINE_INT8) {
        set_error(err, errlen, "unknown weight format");
        return nullptr;
    }
    if (cfg->kv_format != HC1_ENGINE_KV_F32 && cfg->kv_format != HC1_ENGINE_KV_F16 &&
        cfg->kv_format != HC1_ENGINE_KV_INT8) {
        set_error(err, errlen, "unknown KV-cache format");
        return nullptr;
    }
    hc1e::EngineOptions opts;
    opts.model_path = cfg->model_path;
    opts.tokenizer_path = cfg->tokenizer_path ? cfg->tokenizer_path : "";
    opts.format =
        cfg->format == HC1_ENGINE_INT8 ? hc1e::WeightFormat::Int8 : hc1e::WeightFormat::Fp32;
    opts.n_contexts = cfg->n_contexts;
    opts.n_threads = cfg->n_threads;
    opts.kv_format = static_cast<hc1e::KvFormat>(cfg->kv_format);
    try {
        opts.cpus = hc1e::parse_cpu_list(cfg->cpus ? cfg->cpus : "");
        auto handle = std::make_unique<hc1_engine>();
        handle->engine = hc1e::Engine::open(opts);
        return handle.release();
    } catch (const std::bad_alloc&) {
        set_error(err, errlen, "out of memory loading the model");
    } catch (const std::exception& ex) {
        set_error(err, errlen, ex.what());
    }
    return nullptr;
}

void hc1_engine_close(hc1_engine* e) {
    delete e;
}

void hc1_engine_get_info(const hc1_engine* e, struct hc1_engine_info* info) {
    const hc1e::Engine& en = *e->engine;
    const hc1e::BurnedModel& m = en.model();
    const hc1e::ModelConfig& c = m.config();
    std::memset(info, 0, sizeof(*info));
    copy_name(info->name, sizeof(info->name), en.name());
    copy_name(info->arch, sizeof(info->arch), "llama");
    info->dim = c.dim;
    info->hidden_dim = c.hidden_dim;
    info->n_layers = c.n_layers;
    info->n_heads = c.n_heads;
    info->n_kv_heads = c.n_kv_heads;
    info->vocab_size = c.vocab_size;
    info->context_len = c.context_len;
    info->bos_id = en.vocab().bos_id;
    info->eos_id = en.vocab().eos_id;
    info->format = static_cast<uint32_t>(m.format());
    info->group_size = m.group_size();
    info->n_params = m.n_params();
    info->weight_bytes = m.image().size();
    std::memcpy(info->sha256, m.sha256().data(), 32);
    info->max_token_len = en.vocab().max_token_len;
    info->kv_format = static_cast<uint32_t>(en.kv_format());
    info->kv_bytes = hc1e::KvCache::bytes(c, en.kv_format());
}

const char* hc1_engine_token(const hc1_engine* e, uint32_t id, uint32_t* len, float* score) {
    const hc1e::Vocab& v = e->engine->vocab();
    if (id >= v.size())
        return nullptr;
    if (len)
        *len = static_cast<uint32_t>(v.pieces[id].size());
    if (score)
        *score = v.scores[id];
    return v.pieces[id].data();
}

int hc1_engine_ctx_create(hc1_engine* e, uint32_t ctx) {
    return e->engine->ctx_create(ctx);
}

int hc1_engine_ctx_destroy(hc1_engine* e, uint32_t ctx) {
    return e->engine->ctx_destroy(ctx);
}

int hc1_engine_generate(hc1_engine* e, uint32_t ctx, const struct hc1_engine_request* req,
                        const struct hc1_engine_callbacks* cb) {
    if (!req || !cb)
        return -HC1_ENGINE_EINVAL;
    return e->engine->generate(ctx, *req, *cb);
}

int hc1_engine_cancel(hc1_engine* e, uint32_t ctx) {
    return e->engine->cancel(ctx);
}

void hc1_engine_reset(hc1_engine* e) {
    e->engine->reset();
}

void hc1_engine_set_stall(hc1_engine* e, int stall) {
    e->engine->set_stall(stall != 0);
}

void hc1_engine_set_step_time(hc1_engine* e, uint32_t us) {
    e->engine->set_step_time(std::chrono::microseconds(us));
}

uint64_t hc1_engine_busy_ns(const hc1_engine* e) {
    return e->engine->busy_ns();
}

} // extern "C"
