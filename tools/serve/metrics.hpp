// SPDX-License-Identifier: MIT
/**
 * @file metrics.hpp
 * @brief hc1-serve's Prometheus metrics and their text exposition.
 *
 * Debian packages no Prometheus client library for C++ (prometheus-cpp is
 * not in bookworm), so the few families here are written in the text
 * format (version 0.0.4) directly; the tests check the output with
 * promtool, Prometheus's own linter.
 */
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace hc1serve {

/** Histogram - cumulative buckets as Prometheus wants them. */
class Histogram {
  public:
    explicit Histogram(std::vector<double> bounds);
    void observe(double value, uint64_t times = 1);
    void render(std::string& out, const std::string& name, const std::string& labels) const;

  private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_; // per bucket, not cumulative; last is +Inf
    double sum_ = 0;
    uint64_t count_ = 0;
};

/** What the scheduler reports of one card when metrics are scraped. */
struct CardGauge {
    std::string card;  ///< index, "0"
    std::string model; ///< model name
    std::string state; ///< driver state
    uint32_t sessions_active = 0;
    uint32_t contexts = 0;
};

/**
 * Metrics - every counter of the server; thread-safe.  Per-card series are
 * labelled card="N" (the /dev/hc/N index) and model.
 */
class Metrics {
  public:
    void request(const std::string& endpoint, int status);
    void prompt_tokens(const std::string& card, const std::string& model, uint64_t n);
    void generated_tokens(const std::string& card, const std::string& model, uint64_t n);
    void time_to_first_token(const std::string& card, const std::string& model, double seconds);
    /** A batch of @p tokens that arrived @p seconds after the previous one. */
    void inter_token(const std::string& card, const std::string& model, double seconds,
                     uint64_t tokens);
    void cancelled(const std::string& reason);
    void rejected(const std::string& reason);

    /** The exposition, with the gauges sampled now. */
    std::string render(const std::vector<CardGauge>& cards, uint64_t queued) const;

  private:
    using CardKey = std::pair<std::string, std::string>; // card, model
    struct PerCard {
        uint64_t prompt_tokens = 0, generated_tokens = 0;
        Histogram ttft{{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
        Histogram itl{{0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                       0.01, 0.025, 0.05, 0.1, 0.25, 1}};
    };
    PerCard& card(const std::string& card, const std::string& model);

    mutable std::mutex lock_; // guards everything below
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    std::map<CardKey, PerCard> cards_;
    std::map<std::string, uint64_t> cancelled_, rejected_;
};

} // namespace hc1serve
