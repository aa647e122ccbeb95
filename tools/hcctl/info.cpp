// SPDX-License-Identifier: MIT
// hcctl info, top and reset: what a card is and what it is doing.
#include "hcctl.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace hcctl {

namespace {

std::string version_str(uint32_t v) {
    return std::to_string(v >> 16) + "." + std::to_string(v & 0xffff);
}

std::string feature_names(uint64_t bits,
                          const std::vector<std::pair<uint64_t, const char*>>& names) {
    std::string s;
    for (auto [bit, name] : names)
        if (bits & bit)
            s += (s.empty() ? "" : ",") + std::string(name);
    return s.empty() ? "-" : s;
}

const std::vector<std::pair<uint64_t, const char*>> kHwFeatures = {
    {hc::kCardCoalesce, "coalesce"},
    {hc::kCardPolledQueues, "polled-queues"},
    {hc::kCardInt8, "int8"},
    {hc::kCardFaultInject, "fault-inject"}};
const std::vector<std::pair<uint64_t, const char*>> kDrvFeatures = {
    {hc::kDriverUringCmd, "uring_cmd"},
    {hc::kDriverMmapRing, "mmap"},
    {hc::kDriverPoll, "poll"},
    {hc::kDriverWaitBatch, "wait_batch"},
    {hc::kDriverRingOffsets, "ring_offsets"}};

json stats_json(const hc::Stats& s) {
    json j;
    j["active_contexts"] = s.active_contexts;
    j["running"] = s.running;
    j["commands"] = s.commands;
    j["errors"] = s.errors;
    j["generations"] = s.generations;
    j["cancelled"] = s.cancelled;
    j["prompt_tokens"] = s.prompt_tokens;
    j["tokens"] = s.tokens;
    j["interrupts"] = s.interrupts;
    j["busy_ns"] = s.busy_ns;
    j["uptime_ns"] = s.uptime_ns;
    j["reg_errors"] = s.reg_errors;
    return j;
}

void print_info(const hc::Card& card, bool as_json) {
    const hc::ModelCard& m = card.model();
    const hc::DriverInfo& d = card.info();
    hc::Stats s = card.stats();
    if (as_json) {
        json model;
        model["name"] = m.name;
        model["arch"] = m.arch;
        model["dim"] = m.dim;
        model["hidden_dim"] = m.hidden_dim;
        model["n_layers"] = m.n_layers;
        model["n_heads"] = m.n_heads;
        model["n_kv_heads"] = m.n_kv_heads;
        model["vocab_size"] = m.vocab_size;
        model["context_len"] = m.context_len;
        model["bos_id"] = m.bos_id;
        model["eos_id"] = m.eos_id;
        model["weight_format"] = m.weight_format_name();
        model["group_size"] = m.group_size;
        model["kv_format"] = m.kv_format_name();
        model["n_params"] = m.n_params;
        model["weight_bytes"] = m.weight_bytes;
        model["sha256"] = m.sha256_hex();
        json hw;
        hw["hw_version"] = version_str(m.version);
        hw["features"] = feature_names(m.features, kHwFeatures);
        hw["n_contexts"] = m.n_contexts;
        hw["max_queues"] = m.max_queues;
        hw["max_queue_entries"] = m.max_queue_entries;
        hw["msix_vectors"] = m.msix_vectors;
        hw["max_stop"] = m.max_stop;
        json driver;
        driver["uapi_version"] = d.uapi_version;
        driver["features"] = feature_names(d.features, kDrvFeatures);
        driver["index"] = d.index;
        driver["ring_tokens"] = uint64_t{1} << d.ring_shift;
        driver["pci_address"] = card.pci_address();
        driver["state"] = card.attribute("state");
        driver["io_queues"] = card.attribute("io_queues");
        driver["sessions"] = card.attribute("sessions");
        json j;
        j["device"] = card.path();
        j["model"] = std::move(model);
        j["card"] = std::move(hw);
        j["driver"] = std::move(driver);
        j["counters"] = stats_json(s);
        std::cout << dump(j) << "\n";
        return;
    }
    std::printf("%s\n", card.path().c_str());
    std::printf("  model         %s (%s), %llu parameters, %s weights, %s KV cache\n",
                m.name.c_str(), m.arch.c_str(), static_cast<unsigned long long>(m.n_params),
                m.weight_format_name().c_str(), m.kv_format_name().c_str());
    std::printf("  shape         dim %u, hidden %u, %u layers, %u heads, %u kv heads\n", m.dim,
                m.hidden_dim, m.n_layers, m.n_heads, m.n_kv_heads);
    std::printf("  vocabulary    %u tokens (bos %u, eos %u), context %u\n", m.vocab_size, m.bos_id,
                m.eos_id, m.context_len);
    std::printf("  weights       %llu bytes, sha256 %s\n",
                static_cast<unsigned long long>(m.weight_bytes), m.sha256_hex().c_str());
    std::printf("  card          contract %s, features %s\n", version_str(m.version).c_str(),
                feature_names(m.features, kHwFeatures).c_str());
    std::printf("  queues        %u I/O queues x %u entries, %u MSI-X vectors\n", m.max_queues,
                m.max_queue_entries, m.msix_vectors);
    std::printf("  sessions      %u contexts, ring of %llu tokens, %u stop tokens\n", m.n_contexts,
                1ull << d.ring_shift, d.max_stop);
    std::printf("  driver        UAPI %u, features %s\n", d.uapi_version,
                feature_names(d.features, kDrvFeatures).c_str());
    auto or_dash = [](std::string v) { return v.empty() ? std::string("-") : v; };
    std::printf("  state         %s at PCI %s, %s I/O queues in use, %s sessions open\n",
                or_dash(card.attribute("state")).c_str(), or_dash(card.pci_address()).c_str(),
                or_dash(card.attribute("io_queues")).c_str(),
                or_dash(card.attribute("sessions")).c_str());
    std::printf(
        "  counters      %u active, %u running, %llu generations (%llu cancelled),\n"
        "                %llu prompt + %llu generated tokens, %llu commands (%llu errors),\n"
        "                %llu interrupts, busy %.3f s of %.3f s up\n",
        s.active_contexts, s.running, (unsigned long long)s.generations,
        (unsigned long long)s.cancelled, (unsigned long long)s.prompt_tokens,
        (unsigned long long)s.tokens, (unsigned long long)s.commands, (unsigned long long)s.errors,
        (unsigned long long)s.interrupts, s.busy_ns / 1e9, s.uptime_ns / 1e9);
}

// One card's line of top: rates since @prev over @dt seconds.
void top_line(const hc::Card& card, const hc::Stats& s, const hc::Stats& prev, double dt,
              bool as_json) {
    auto rate = [&](uint64_t now, uint64_t before) {
        return now >= before ? (now - before) / dt : 0.0; // counters restart at a reset
    };
    double busy = s.busy_ns >= prev.busy_ns ? (s.busy_ns - prev.busy_ns) / (dt * 1e9) * 100 : 0;
    if (as_json) {
        json j;
        j["device"] = card.path();
        j["model"] = card.model().name;
        j["uptime_s"] = figure(s.uptime_ns / 1e9);
        j["active_contexts"] = s.active_contexts;
        j["running"] = s.running;
        j["tokens_per_s"] = figure(rate(s.tokens, prev.tokens));
        j["generations_per_s"] = figure(rate(s.generations, prev.generations));
        j["prompt_tokens_per_s"] = figure(rate(s.prompt_tokens, prev.prompt_tokens));
        j["interrupts_per_s"] = figure(rate(s.interrupts, prev.interrupts));
        j["busy_percent"] = figure(busy);
        j["errors"] = s.errors;
        std::cout << dump(j) << std::endl;
    } else {
        std::printf("%4u %-14.14s %8.1f %6u %7u %10.1f %9.1f %10.1f %9.1f %6.1f %7llu\n",
                    card.info().index, card.model().name.c_str(), s.uptime_ns / 1e9,
                    s.active_contexts, s.running, rate(s.tokens, prev.tokens),
                    rate(s.generations, prev.generations),
                    rate(s.prompt_tokens, prev.prompt_tokens), rate(s.interrupts, prev.interrupts),
                    busy, (unsigned long long)s.errors);
    }
}

} // namespace

int cmd_info(const Args& args) {
    std::vector<hc::Card> cards = open_cards(args);
    for (size_t i = 0; i < cards.size(); i++) {
        if (i && !args.json)
            std::printf("\n");
        print_info(cards[i], args.json);
    }
    return kOk;
}

int cmd_top(const Args& args) {
    std::vector<hc::Card> cards = open_cards(args);
    double interval = args.get_double("interval", 1.0);
    if (interval <= 0)
        throw UsageError("--interval must be > 0");
    uint64_t count = args.get_uint("count", 0); // 0 = until interrupted
    bool tty = ::isatty(STDOUT_FILENO);
    std::vector<hc::Stats> prev;
    for (const hc::Card& c : cards)
        prev.push_back(c.stats());
    auto t_prev = std::chrono::steady_clock::now();
    if (!args.json)
        std::printf("%4s %-14s %8s %6s %7s %10s %9s %10s %9s %6s %7s\n", "card", "model", "time",
                    "active", "running", "tokens/s", "gens/s", "prompt/s", "irq/s", "busy%",
                    "errors");
    for (uint64_t i = 0; count == 0 || i < count; i++) {
        std::this_thread::sleep_for(std::chrono::duration<double>(interval));
        auto t = std::chrono::steady_clock::now();
        double dt = std::chrono::duration<double>(t - t_prev).count();
        // A card that fails or goes away is reported once and left out;
        // the others go on.
        for (size_t k = 0; k < cards.size();) {
            try {
                hc::Stats s = cards[k].stats();
                top_line(cards[k], s, prev[k], dt, args.json);
                prev[k] = s;
                k++;
            } catch (const hc::Error& e) {
                std::cerr << "hcctl top: " << e.what() << "\n";
                cards.erase(cards.begin() + static_cast<long>(k));
                prev.erase(prev.begin() + static_cast<long>(k));
            }
        }
        if (cards.empty())
            return kCardError;
        if (tty)
            std::fflush(stdout);
        t_prev = t;
    }
    return kOk;
}

int cmd_reset(const Args& args) {
    hc::Card card = open_card(args);
    std::string path = card.path();
    card.reset();
    // Report what the card says after the reset, not what we asked for.
    hc::Card again = hc::Card::open(path);
    hc::Stats s = again.stats();
    if (args.json) {
        json j;
        j["device"] = path;
        j["reset"] = true;
        j["active_contexts"] = s.active_contexts;
        j["uptime_s"] = figure(s.uptime_ns / 1e9);
        std::cout << dump(j) << "\n";
    } else {
        std::printf("%s: reset, card ready (%u contexts active, up %.3f s)\n", path.c_str(),
                    s.active_contexts, s.uptime_ns / 1e9);
    }
    return kOk;
}

} // namespace hcctl
