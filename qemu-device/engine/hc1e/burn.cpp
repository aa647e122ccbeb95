// SPDX-License-Identifier: MIT
#include "burn.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "error.hpp"

namespace hc1e {

namespace {

constexpr size_t kAlign = 64;

size_t align_up(size_t n, size_t a) {
    return (n + a - 1) / a * a;
}

// Two passes over the same plan: the first only measures, the second writes.
class ImageWriter {
  public:
    explicit ImageWriter(std::byte* base) : base_(base) {}

    size_t size() const { return off_; }

    std::byte* reserve(size_t bytes) {
        off_ = align_up(off_, kAlign);
        std::byte* p = base_ ? base_ + off_ : nullptr;
        off_ += bytes;
        return p;
    }

    const float* vector(const std::vector<float>& v, size_t n) {
        if (v.size() != n)
            throw Error("burn: a norm vector has " + std::to_string(v.size()) + " values, not " +
                        std::to_string(n));
        auto* p = reserve(v.size() * 4);
        if (p)
            std::memcpy(p, v.data(), v.size() * 4);
        return reinterpret_cast<const float*>(p);
    }

    Matrix matrix(const std::vector<float>& w, uint32_t rows, uint32_t cols, WeightFormat fmt,
                  uint32_t group) {
        if (w.size() != size_t(rows) * cols)
            throw Error("burn: a " + std::to_string(rows) + "x" + std::to_string(cols) +
                        " matrix has " + std::to_string(w.size()) + " values");
        Matrix m;
        m.rows = rows;
        m.cols = cols;
        if (fmt == WeightFormat::Fp32) {
            m.cols_padded = cols;
            m.f32 = vector(w, w.size());
            return m;
        }
        m.group = group;
        m.cols_padded = static_cast<uint32_t>(align_up(cols, group));
        const size_t groups = m.cols_padded / group;
        auto* q = reinterpret_cast<int8_t*>(reserve(size_t(rows) * m.cols_padded));
        auto* s = reinterpret_cast<float*>(reserve(size_t(rows) * groups * 4));
        m.q = q;
        m.scales = s;
        if (!base_)
            return m;
        for (size_t r = 0; r < rows; r++) {
            const float* src = w.data() + r * cols;
            for (size_t g = 0; g < groups; g++) {
                const size_t begin = g * group, end = std::min<size_t>(begin + group, cols);
                float wmax = 0.0f;
                for (size_t j = begin; j < end; j++)
                    wmax = std::max(wmax, std::fabs(src[j]));
                const float scale = wmax / 127.0f;
                s[r * groups + g] = scale;
                for (size_t j = begin; j < end; j++)
                    q[r * m.cols_padded + j] =
                        scale > 0.0f ? static_cast<int8_t>(std::round(src[j] / scale)) : 0;
            }
        }
        return m;
    }

  private:
    std::byte* base_;
    size_t off_ = sizeof(ImageHeader);
};

} // namespace

void Matrix::row(uint32_t r, float* out) const {
    if (f32) {
        std::memcpy(out, f32 + size_t(r) * cols, size_t(cols) * 4);
        return;
    }
    const int8_t* qr = q + size_t(r) * cols_padded;
    const float* sr = scales + size_t(r) * groups_per_row();
    for (uint32_t j = 0; j < cols; j++)
        out[j] = static_cast<float>(qr[j]) * sr[j / group];
}

void BurnedModel::FreeDeleter::operator()(std::byte* p) const {
    std::free(p);
}

BurnedModel BurnedModel::burn(const SourceModel& src, WeightFormat format, uint32_t group_size) {
    if (format != WeightFormat::Fp32 && format != WeightFormat::Int8)
        throw Error("burn: unknown weight format " + std::to_string(uint32_t(format)));
    if (format == WeightFormat::Int8 && group_size != 32 && group_size != 64)
        throw Error("burn: int8 group size must be 32 or 64, not " + std::to_string(group_size));
    const ModelConfig& c = src.cfg;
    c.validate("burn");
    if (src.vocab.size() != c.vocab_size)
        throw Error("burn: vocabulary has " + std::to_string(src.vocab.size()) +
                    " tokens, the model " + std::to_string(c.vocab_size));

    BurnedModel m;
    m.cfg_ = c;
    m.format_ = format;
    m.group_ = format == WeightFormat::Int8 ? group_size : 0;
    m.tied_ = src.classifier.empty();
    m.n_params_ = src.n_params();

    auto plan = [&](ImageWriter& w) {
        const uint32_t dim = c.dim, hid = c.hidden_dim, kv = c.kv_dim();
        m.embedding_ = w.matrix(src.token_embedding, c.vocab_size, dim, format, m.group_);
        if (src.layers.size() != c.n_layers)
            throw Error("burn: " + std::to_string(src.layers.size()) + " layers, config says " +
                        std::to_string(c.n_layers));
        m.layers_.assign(c.n_layers, {});
        for (uint32_t l = 0; l < c.n_layers; l++) {
            const LayerWeights& s = src.layers[l];
            BurnedLayer& d = m.layers_[l];
            d.attn_norm = w.vector(s.attn_norm, dim);
            d.wq = w.matrix(s.wq, dim, dim, format, m.group_);
            d.wk = w.matrix(s.wk, kv, dim, format, m.group_);
            d.wv = w.matrix(s.wv, kv, dim, format, m.group_);
            d.wo = w.matrix(s.wo, dim, dim, format, m.group_);
            d.ffn_norm = w.vector(s.ffn_norm, dim);
            d.w1 = w.matrix(s.w1, hid, dim, format, m.group_);
            d.w2 = w.matrix(s.w2, dim, hid, format, m.group_);
            d.w3 = w.matrix(s.w3, hid, dim, format, m.group_);
        }
        m.final_norm_ = w.vector(src.final_norm, c.dim);
        if (!m.tied_)
            m.classifier_ = w.matrix(src.classifier, c.vocab_size, dim, format, m.group_);
    };

    ImageWriter measure(nullptr);
    plan(measure);
    m.image_size_ = align_up(measure.size(), kAlign);
    auto* base = static_cast<std::byte*>(std::aligned_alloc(kAlign, m.image_size_));
    if (!base)
        throw Error("burn: cannot allocate " + std::to_string(m.image_size_) + " bytes");
    m.image_.reset(base);
    std::memset(base, 0, m.image_size_);

    ImageHeader h{};
    h.magic = kImageMagic;
    h.version = kImageVersion;
    h.format = static_cast<uint32_t>(format);
    h.group_size = m.group_;
    h.dim = c.dim;
    h.hidden_dim = c.hidden_dim;
    h.n_layers = c.n_layers;
    h.n_heads = c.n_heads;
    h.n_kv_heads = c.n_kv_heads;
    h.vocab_size = c.vocab_size;
    h.context_len = c.context_len;
    h.norm_eps = c.norm_eps;
    h.rope_theta = c.rope_theta;
    h.tied_classifier = m.tied_;
    std::memcpy(base, &h, sizeof(h));

    ImageWriter write(base);
    plan(write);
    m.sha256_ = Sha256::hash(m.image());
    return m;
}

} // namespace hc1e
