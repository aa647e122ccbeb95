// SPDX-License-Identifier: MIT
// GGUF: the exporter's files load back into the same model.
#include <cmath>

#include "gguf_writer.hpp"
#include "hc1e/burn.hpp"
#include "hc1e/gguf.hpp"
#include "hc1e/tokenizer.hpp"
#include "synthetic.hpp"
#include "test_util.hpp"

namespace hc1e::test {
namespace {

std::vector<const std::vector<float>*> tensors(const SourceModel& m) {
    std::vector<const std::vector<float>*> out{&m.token_embedding, &m.final_norm, &m.classifier};
    for (const auto& l : m.layers)
        for (auto f : {&LayerWeights::attn_norm, &LayerWeights::wq, &LayerWeights::wk,
                       &LayerWeights::wv, &LayerWeights::wo, &LayerWeights::ffn_norm,
                       &LayerWeights::w1, &LayerWeights::w2, &LayerWeights::w3})
            out.push_back(&(l.*f));
    return out;
}

// Largest |a - b| relative to the largest |a| of the tensor.
double max_relative_error(const SourceModel& a, const SourceModel& b) {
    const auto ta = tensors(a), tb = tensors(b);
    double worst = 0;
    for (size_t t = 0; t < ta.size(); t++) {
        EXPECT_EQ(ta[t]->size(), tb[t]->size());
        double amax = 0, err = 0;
        for (size_t i = 0; i < ta[t]->size(); i++) {
            amax = std::max(amax, std::fabs(double((*ta[t])[i])));
            err = std::max(err, std::fabs(double((*ta[t])[i]) - double((*tb[t])[i])));
        }
        if (amax > 0)
            worst = std::max(worst, err / amax);
    }
    return worst;
}

TEST(Gguf, HalfConversion) {
    for (float f :
         {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953f})
        EXPECT_EQ(gguf::half_to_float(gguf::float_to_half(f)), f) << f;
    EXPECT_TRUE(std::isinf(gguf::half_to_float(gguf::float_to_half(1e6f))));
    EXPECT_TRUE(std::isnan(gguf::half_to_float(gguf::float_to_half(NAN))));
    EXPECT_EQ(gguf::float_to_half(1.0f), 0x3c00);
    EXPECT_EQ(gguf::float_to_half(1.0f + 1.0f / 4096), 0x3c00); // ties to even
}

TEST(Gguf, F32ExportBurnsToTheSameWeights) {
    for (bool tied : {true, false}) {
        const SourceModel m = synthetic_model(tied);
        TempFile f("roundtrip.gguf");
        write_gguf(m, GgufType::F32, f.path());
        const SourceModel back = load_gguf(f.path());
        EXPECT_EQ(back.cfg.dim, m.cfg.dim);
        EXPECT_EQ(back.cfg.n_kv_heads, m.cfg.n_kv_heads);
        EXPECT_EQ(back.classifier.empty(), tied);
        EXPECT_EQ(back.vocab.pieces, m.vocab.pieces);
        EXPECT_EQ(back.vocab.scores, m.vocab.scores);
        EXPECT_EQ(max_relative_error(m, back), 0.0);
        for (auto fmt : {WeightFormat::Fp32, WeightFormat::Int8})
            EXPECT_EQ(BurnedModel::burn(m, fmt, 32).sha256(),
                      BurnedModel::burn(back, fmt, 32).sha256());
    }
}

TEST(Gguf, QuantizedExportsStayClose) {
    const SourceModel m = synthetic_model(false, 64); // hidden 64: w2 rows are whole blocks
    const struct {
        GgufType type;
        double bound;
    } cases[] = {{GgufType::F16, 1e-3}, {GgufType::Q8_0, 1.0 / 127}, {GgufType::Q4_0, 1.0 / 7}};
    for (const auto& c : cases) {
        TempFile f("quant.gguf");
        write_gguf(m, c.type, f.path());
        const SourceModel back = load_gguf(f.path());
        const double err = max_relative_error(m, back);
        EXPECT_GT(err, 0.0);
        EXPECT_LE(err, c.bound) << int(c.type);
    }
}

// The exported stories260K gives the checkpoint's tokens, through the C API.
TEST(Gguf, Stories260KExportGivesTheCheckpointsTokens) {
    HC1E_REQUIRE_MODEL("stories260K.bin");
    const SourceModel m = load_llama2c(model_file("stories260K.bin"), model_file("tok512.bin"));
    TempFile f("stories.gguf");
    write_gguf(m, GgufType::F32, f.path());
    Tokenizer tok(m.vocab);
    const std::vector<uint32_t> prompt = tok.encode("Once upon a time", true, false);
    for (int format : {HC1_ENGINE_FP32, HC1_ENGINE_INT8}) {
        auto from_bin = open_stories(format);
        auto from_gguf = open_engine(f.path(), "", format);
        ASSERT_TRUE(from_gguf);
        hc1_engine_info a, b;
        hc1_engine_get_info(from_bin.get(), &a);
        hc1_engine_get_info(from_gguf.get(), &b);
        EXPECT_EQ(std::memcmp(a.sha256, b.sha256, 32), 0);
        EXPECT_EQ(b.vocab_size, 512u);
        EXPECT_EQ(b.bos_id, 1u);
        EXPECT_EQ(b.eos_id, 2u);
        Generation g1, g2;
        run(from_bin.get(), 0, greedy_request(prompt, 196), g1);
        run(from_gguf.get(), 0, greedy_request(prompt, 196), g2);
        EXPECT_EQ(g1.tokens, g2.tokens);
        EXPECT_GT(g1.tokens.size(), 100u);
    }
    // Q8_0 is lossy: report how close it stays.
    TempFile q("stories-q8.gguf");
    write_gguf(m, GgufType::Q8_0, q.path());
    auto exact = open_stories(HC1_ENGINE_FP32);
    auto q8 = open_engine(q.path(), "", HC1_ENGINE_FP32);
    ASSERT_TRUE(q8);
    Generation g1, g2;
    run(exact.get(), 0, greedy_request(prompt, 196), g1);
    run(q8.get(), 0, greedy_request(prompt, 196), g2);
    size_t prefix = 0;
    while (prefix < std::min(g1.tokens.size(), g2.tokens.size()) &&
           g1.tokens[prefix] == g2.tokens[prefix])
        prefix++;
    std::printf("Q8_0 GGUF: first %zu of %zu greedy tokens identical to the checkpoint\n", prefix,
                g1.tokens.size());
    EXPECT_GE(prefix, 10u);
}

} // namespace
} // namespace hc1e::test
