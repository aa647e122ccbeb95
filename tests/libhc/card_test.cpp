// SPDX-License-Identifier: MIT
// Card API paths that need no card: missing nodes and non-HC1 nodes must
// give the right errno, never a crash.
#include <hc/hc.hpp>

#include <gtest/gtest.h>

#include <cerrno>

namespace {

int open_error(std::string_view path) {
    try {
        hc::Card::open(path);
    } catch (const hc::Error& e) {
        EXPECT_NE(std::string(e.what()).find(path.substr(0, 4)), std::string::npos) << e.what();
        return e.code();
    }
    return 0;
}

TEST(Card, MissingNodeIsEnoent) {
    EXPECT_EQ(open_error("/nonexistent/hc/0"), ENOENT);
}

TEST(Card, IndexShorthandNamesDevHc) {
    try {
        hc::Card::open(4095u);
        GTEST_SKIP() << "a card 4095 exists";
    } catch (const hc::Error& e) {
        EXPECT_EQ(e.code(), ENOENT);
        EXPECT_NE(std::string(e.what()).find("/dev/hc/4095"), std::string::npos) << e.what();
    }
}

TEST(Card, NonHc1NodeIsEnotty) {
    EXPECT_EQ(open_error("/dev/null"), ENOTTY);
}

TEST(Card, DevicePathsNeverThrow) {
    std::vector<std::string> paths;
    EXPECT_NO_THROW(paths = hc::device_paths());
    for (const auto& p : paths)
        EXPECT_EQ(p.rfind("/dev/hc/", 0), 0u) << p;
}

TEST(ModelCard, KvFormatNames) {
    hc::ModelCard m;
    EXPECT_EQ(m.kv_format, hc::kKvF32) << "a card that does not say is f32";
    EXPECT_EQ(m.kv_format_name(), "f32");
    m.kv_format = hc::kKvF16;
    EXPECT_EQ(m.kv_format_name(), "f16");
    m.kv_format = hc::kKvInt8;
    EXPECT_EQ(m.kv_format_name(), "int8");
    m.kv_format = hc::kKvUnknown;
    EXPECT_EQ(m.kv_format_name(), "unknown");
    m.kv_format = 3;
    EXPECT_EQ(m.kv_format_name(), "format 3");
}

TEST(ModelCard, WeightFormatNames) {
    hc::ModelCard m;
    EXPECT_EQ(m.weight_format_name(), "fp32");
    m.weight_format = hc::kWeightsInt8;
    EXPECT_EQ(m.weight_format_name(), "int8");
    m.weight_format = hc::kWeightsUnknown;
    EXPECT_EQ(m.weight_format_name(), "unknown");
    m.weight_format = 2;
    EXPECT_EQ(m.weight_format_name(), "format 2");
}

TEST(Finish, Names) {
    EXPECT_STREQ(hc::to_string(hc::Finish::Eos), "eos");
    EXPECT_STREQ(hc::to_string(hc::Finish::Cancelled), "cancelled");
    EXPECT_STREQ(hc::to_string(static_cast<hc::Finish>(99)), "none");
}

TEST(Error, CarriesErrnoAndMessage) {
    hc::Error e(EACCES, "open /dev/hc/0");
    EXPECT_EQ(e.code(), EACCES);
    EXPECT_STREQ(e.what(), "open /dev/hc/0: Permission denied");
}

} // namespace
