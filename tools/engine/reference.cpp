// SPDX-License-Identifier: MIT
#include "reference.hpp"

#include <cmath>
#include <cstring>

namespace hc1e {

namespace {

void rmsnorm(float* o, const float* x, const float* weight, int size) {
    float ss = 0.0f;
    for (int j = 0; j < size; j++)
        ss += x[j] * x[j];
    ss /= size;
    ss += 1e-5f;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < size; j++)
        o[j] = weight[j] * (ss * x[j]);
}

void softmax(float* x, int size) {
    float max_val = x[0];
    for (int i = 1; i < size; i++)
        if (x[i] > max_val)
            max_val = x[i];
    float sum = 0.0f;
    for (int i = 0; i < size; i++) {
        x[i] = expf(x[i] - max_val);
        sum += x[i];
    }
    for (int i = 0; i < size; i++)
        x[i] /= sum;
}

void matmul(float* xout, const float* x, const float* w, int n, int d) {
    for (int i = 0; i < d; i++) {
        float val = 0.0f;
        for (int j = 0; j < n; j++)
            val += w[i * n + j] * x[j];
        xout[i] = val;
    }
}

} // namespace

ReferenceModel::ReferenceModel(const SourceModel& model) : m_(model) {
    const ModelConfig& c = m_.cfg;
    x_.resize(c.dim);
    xb_.resize(c.dim);
    xb2_.resize(c.dim);
    hb_.resize(c.hidden_dim);
    hb2_.resize(c.hidden_dim);
    q_.resize(c.dim);
    att_.resize(size_t(c.n_heads) * c.context_len);
    logits_.resize(c.vocab_size);
    key_cache_.resize(size_t(c.n_layers) * c.context_len * c.kv_dim());
    value_cache_.resize(size_t(c.n_layers) * c.context_len * c.kv_dim());
}

std::span<const float> ReferenceModel::forward(uint32_t token, uint32_t pos_u) {
    const ModelConfig& p = m_.cfg;
    float* x = x_.data();
    const int dim = int(p.dim), kv_dim = int(p.kv_dim()), kv_mul = int(p.n_heads / p.n_kv_heads);
    const int hidden_dim = int(p.hidden_dim), head_size = int(p.head_size()), pos = int(pos_u);
    const int seq_len = int(p.context_len);

    std::memcpy(x, m_.token_embedding.data() + size_t(token) * dim, dim * sizeof(float));

    for (int l = 0; l < int(p.n_layers); l++) {
        const LayerWeights& w = m_.layers[l];
        rmsnorm(xb_.data(), x, w.attn_norm.data(), dim);

        const size_t loff = size_t(l) * seq_len * kv_dim;
        float* k = key_cache_.data() + loff + size_t(pos) * kv_dim;
        float* v = value_cache_.data() + loff + size_t(pos) * kv_dim;
        matmul(q_.data(), xb_.data(), w.wq.data(), dim, dim);
        matmul(k, xb_.data(), w.wk.data(), dim, kv_dim);
        matmul(v, xb_.data(), w.wv.data(), dim, kv_dim);

        for (int i = 0; i < dim; i += 2) {
            int head_dim = i % head_size;
            float freq = 1.0f / powf(p.rope_theta, head_dim / (float)head_size);
            float val = pos * freq;
            float fcr = cosf(val);
            float fci = sinf(val);
            int rotn = i < kv_dim ? 2 : 1;
            for (int vi = 0; vi < rotn; vi++) {
                float* vec = vi == 0 ? q_.data() : k;
                float v0 = vec[i];
                float v1 = vec[i + 1];
                vec[i] = v0 * fcr - v1 * fci;
                vec[i + 1] = v0 * fci + v1 * fcr;
            }
        }

        for (int h = 0; h < int(p.n_heads); h++) {
            const float* q = q_.data() + h * head_size;
            float* att = att_.data() + size_t(h) * seq_len;
            for (int t = 0; t <= pos; t++) {
                const float* kt =
                    key_cache_.data() + loff + size_t(t) * kv_dim + (h / kv_mul) * head_size;
                float score = 0.0f;
                for (int i = 0; i < head_size; i++)
                    score += q[i] * kt[i];
                score /= sqrtf(head_size);
                att[t] = score;
            }
            softmax(att, pos + 1);
            float* xb = xb_.data() + h * head_size;
            std::memset(xb, 0, head_size * sizeof(float));
            for (int t = 0; t <= pos; t++) {
                const float* vt =
                    value_cache_.data() + loff + size_t(t) * kv_dim + (h / kv_mul) * head_size;
                float a = att[t];
                for (int i = 0; i < head_size; i++)
                    xb[i] += a * vt[i];
            }
        }

        matmul(xb2_.data(), xb_.data(), w.wo.data(), dim, dim);
        for (int i = 0; i < dim; i++)
            x[i] += xb2_[i];

        rmsnorm(xb_.data(), x, w.ffn_norm.data(), dim);
        matmul(hb_.data(), xb_.data(), w.w1.data(), dim, hidden_dim);
        matmul(hb2_.data(), xb_.data(), w.w3.data(), dim, hidden_dim);
        for (int i = 0; i < hidden_dim; i++) {
            float val = hb_[i];
            val *= (1.0f / (1.0f + expf(-val)));
            val *= hb2_[i];
            hb_[i] = val;
        }
        matmul(xb_.data(), hb_.data(), w.w2.data(), hidden_dim, dim);
        for (int i = 0; i < dim; i++)
            x[i] += xb_[i];
    }

    rmsnorm(x, x, m_.final_norm.data(), dim);
    const std::vector<float>& cls = m_.classifier.empty() ? m_.token_embedding : m_.classifier;
    matmul(logits_.data(), x, cls.data(), dim, int(p.vocab_size));
    return logits_;
}

std::vector<uint32_t> reference_greedy(const SourceModel& model, std::span<const uint32_t> prompt,
                                       uint32_t steps) {
    ReferenceModel ref(model);
    std::vector<uint32_t> out;
    if (prompt.empty())
        return out;
    uint32_t token = prompt[0];
    for (uint32_t pos = 0; pos < steps && pos < model.cfg.context_len; pos++) {
        auto logits = ref.forward(token, pos);
        uint32_t next;
        if (pos + 1 < prompt.size()) {
            next = prompt[pos + 1];
        } else {
            next = 0;
            for (uint32_t i = 1; i < logits.size(); i++)
                if (logits[i] > logits[next])
                    next = i;
            if (next == model.vocab.bos_id)
                break;
            out.push_back(next);
        }
        token = next;
    }
    return out;
}

} // namespace hc1e
