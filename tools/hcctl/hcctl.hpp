// SPDX-License-Identifier: MIT
// hcctl internals shared by its subcommands.
#pragma once

#include <hc/hc.hpp>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hcctl {

// Exit codes (docs/hcctl.md): scripts branch on them.
enum Exit : int {
    kOk = 0,
    kFailure = 1,    // any other error
    kUsage = 2,      // bad command line
    kNoCard = 3,     // driver loaded, no such card
    kNoDriver = 4,   // hc1.ko not loaded
    kPermission = 5, // no access to the device node (or reset without CAP_SYS_ADMIN)
    kVersion = 6,    // driver/card speak an incompatible interface
    kCardError = 7,  // the card failed or went away during the command
    kTimeout = 8,    // --timeout expired
};

// Command line after the subcommand name: options (--name value, --flag)
// and positional arguments.
struct Args {
    std::string device; // -c/--card or -d/--device: a card selector, empty = none named
    bool json = false;
    std::vector<std::string> positional;
    std::multimap<std::string, std::string> options;

    bool has(const std::string& name) const { return options.count(name) > 0; }
    std::optional<std::string> get(const std::string& name) const;
    std::vector<std::string> all(const std::string& name) const;
    // Numeric option or @def; throws UsageError on garbage.
    uint64_t get_uint(const std::string& name, uint64_t def) const;
    double get_double(const std::string& name, double def) const;
};

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Open the card named by --card (any hc::open_card() selector; default the
// first card); hc::Error on failure.
hc::Card open_card(const Args& args);
// The card named by --card, or every card; hc::Error if there is none.
std::vector<hc::Card> open_cards(const Args& args);

// Map an error to an exit code, printing it with a hint on stderr.
int report(const hc::Error& e, const std::string& device);

// --json documents.  Keys stay in the order they are set: scripts and the
// guest tests read the output as text (e.g. '"model":{"name":"...').
using json = nlohmann::ordered_json;

// A measured figure (seconds, ms, rates) for --json: rounded to 6
// significant digits, null if not finite (JSON has no NaN or infinity).
json figure(double v);
// @j as one line of compact JSON.  Bytes that are not UTF-8 (generated text
// may stop inside a character) become U+FFFD instead of failing the command.
std::string dump(const json& j);

int cmd_list(const Args& args);
int cmd_info(const Args& args);
int cmd_run(const Args& args);
int cmd_chat(const Args& args);
int cmd_bench(const Args& args);
int cmd_top(const Args& args);
int cmd_reset(const Args& args);

// Percentile (0..100) of @v (sorted copy); 0 for empty.
double percentile(std::vector<double> v, double p);

} // namespace hcctl
