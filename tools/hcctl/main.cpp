// SPDX-License-Identifier: MIT
// hcctl: the command-line tool of the HC1 card.
#include "hcctl.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <grp.h>
#include <iostream>
#include <set>
#include <sys/stat.h>

namespace hcctl {

namespace {

const char kUsageText[] = R"(usage: hcctl [-c|--card CARD] COMMAND [OPTIONS]

CARD: an index (0), a device path (/dev/hc/0, /dev/hc/by-path/...), a model
  name (stories260K: the least-loaded live card holding it) or a weight
  SHA-256 (or a unique prefix of 8+ hex digits); -d/--device is the same.
  list, info, top and bench cover every card unless one is named; run,
  chat and reset use card 0 unless one is named.

commands:
  list                 every HC1 card on the PCI bus (also those without the driver)
  info                 model card, driver limits, queues and counters of each card
  run PROMPT           generate from PROMPT, streaming the text
      --max-tokens N --temperature F --top-k N --top-p F --seed N
      --stop TOKEN_ID|STRING (repeatable) --ignore-eos --no-bos-stop --timeout MS
      --stats (time to first token, tokens/s, count on stderr)
  chat                 interactive: each stdin line continues the conversation
      (run's sampling options; --max-tokens per reply, default 128)
  bench                N sessions x M tokens per card, every card on one event loop
      -n/--sessions N per card (default 4) -m/--tokens M (default 64) --prompt TEXT
      --model NAME (N sessions in all, placed by hc::Pool on the cards of NAME)
  top                  live counters of each card; --interval SEC (default 1), --count N
  reset                reset the card (needs CAP_SYS_ADMIN)
  version              versions of hcctl/libhc and of the driver
options for every command: --json (machine-readable output), -h/--help
hcctl --version prints hcctl's version (the stack's one version)

exit codes: 0 ok, 1 error, 2 usage, 3 no such card, 4 driver not loaded,
  5 permission denied, 6 version mismatch, 7 card failed or gone, 8 timeout
)";

// Options that take no value.
const std::set<std::string> kFlags = {"json",        "stats",     "ignore-eos",
                                      "no-bos-stop", "all-cards", "help"};

Args parse(int argc, char** argv, std::string& command) {
    Args a;
    for (int i = 1; i < argc; i++) {
        std::string arg = argv[i];
        auto value = [&](const std::string& name) -> std::string {
            if (i + 1 >= argc)
                throw UsageError("option " + name + " needs a value");
            return argv[++i];
        };
        if (arg == "-d" || arg == "--device" || arg == "-c" || arg == "--card") {
            a.device = value(arg);
        } else if (arg.rfind("--device=", 0) == 0) {
            a.device = arg.substr(9);
        } else if (arg.rfind("--card=", 0) == 0) {
            a.device = arg.substr(7);
        } else if (arg == "-h") {
            a.options.emplace("help", "");
        } else if (arg == "-n" || arg == "-m") {
            a.options.emplace(arg == "-n" ? "sessions" : "tokens", value(arg));
        } else if (arg.size() > 2 && arg.rfind("--", 0) == 0) {
            std::string name = arg.substr(2);
            if (auto eq = name.find('='); eq != std::string::npos) {
                a.options.emplace(name.substr(0, eq), name.substr(eq + 1));
            } else if (kFlags.count(name)) {
                a.options.emplace(name, "");
            } else {
                a.options.emplace(name, value(arg));
            }
        } else if (command.empty()) {
            command = arg;
        } else {
            a.positional.push_back(arg);
        }
    }
    a.json = a.has("json");
    return a;
}

int cmd_version(const Args& args) {
    std::string drv = "not loaded";
    unsigned uapi = 0;
    if (hc::driver_loaded()) {
        drv = "loaded";
        try {
            uapi = open_card(args).info().uapi_version;
        } catch (const hc::Error&) {
        }
    }
    if (args.json) {
        json j;
        j["hcctl"] = HC1_VERSION;
        j["libhc"] = hc::version();
        j["driver"] = drv;
        j["uapi_version"] = uapi;
        j["uapi_min"] = hc::kMinUapiVersion;
        std::cout << dump(j) << "\n";
    } else {
        std::cout << "hcctl " << HC1_VERSION << " (libhc " << hc::version()
                  << ", needs driver UAPI >= " << hc::kMinUapiVersion << ")\n"
                  << "driver: " << drv;
        if (uapi)
            std::cout << ", UAPI " << uapi;
        std::cout << "\n";
    }
    return kOk;
}

} // namespace

json figure(double v) {
    if (!std::isfinite(v))
        return nullptr;
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.6g", v);
    return std::strtod(buf, nullptr);
}

std::string dump(const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<std::string> Args::get(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end())
        return std::nullopt;
    return it->second;
}

std::vector<std::string> Args::all(const std::string& name) const {
    std::vector<std::string> v;
    auto [b, e] = options.equal_range(name);
    for (auto it = b; it != e; ++it)
        v.push_back(it->second);
    return v;
}

uint64_t Args::get_uint(const std::string& name, uint64_t def) const {
    auto v = get(name);
    if (!v)
        return def;
    char* end = nullptr;
    errno = 0;
    unsigned long long n = std::strtoull(v->c_str(), &end, 0);
    if (v->empty() || *end || errno || (*v)[0] == '-')
        throw UsageError("--" + name + ": not a non-negative integer: " + *v);
    return n;
}

double Args::get_double(const std::string& name, double def) const {
    auto v = get(name);
    if (!v)
        return def;
    char* end = nullptr;
    double d = std::strtod(v->c_str(), &end);
    if (v->empty() || *end || !(d >= 0))
        throw UsageError("--" + name + ": not a non-negative number: " + *v);
    return d;
}

hc::Card open_card(const Args& args) {
    if (args.device.empty()) {
        // No device named: card 0, with a precise reason if there is none.
        if (hc::device_paths().empty()) {
            if (!hc::driver_loaded())
                throw hc::Error(ENXIO, "hc1 driver not loaded");
            throw hc::Error(ENOENT, "no HC1 card (no /dev/hc/N)");
        }
        return hc::Card::open(hc::device_paths().front());
    }
    return hc::open_card(args.device);
}

std::vector<hc::Card> open_cards(const Args& args) {
    std::vector<hc::Card> cards;
    if (!args.device.empty()) {
        cards.push_back(open_card(args));
        return cards;
    }
    for (const std::string& path : hc::device_paths())
        cards.push_back(hc::Card::open(path));
    if (cards.empty())
        cards.push_back(open_card(args)); // throws with the reason
    return cards;
}

int report(const hc::Error& e, const std::string& device) {
    std::cerr << "hcctl: " << e.what() << "\n";
    switch (e.code()) {
    case ENXIO:
        std::cerr << "hint: load the driver: sudo modprobe hc1\n";
        return kNoDriver;
    case ENOENT:
        if (!hc::driver_loaded()) {
            std::cerr << "hint: load the driver: sudo modprobe hc1\n";
            return kNoDriver;
        }
        std::cerr << "hint: 'hcctl list' shows the cards present\n";
        return kNoCard;
    case EACCES:
    case EPERM: {
        std::string path = device.empty() ? "/dev/hc/0" : device;
        struct stat st;
        std::string group;
        if (::stat(path.c_str(), &st) == 0)
            if (struct group* g = ::getgrgid(st.st_gid))
                group = g->gr_name;
        if (e.code() == EACCES)
            std::cerr << "hint: " << path << " is owned by group '" << (group.empty() ? "?" : group)
                      << "': add yourself (sudo usermod -aG " << (group.empty() ? "GROUP" : group)
                      << " $USER) or install the udev rule kmod/99-hc1.rules\n";
        else
            std::cerr << "hint: this needs CAP_SYS_ADMIN (run as root)\n";
        return kPermission;
    }
    case ENOTTY:
        return kNoCard; // the node exists but is no HC1 card
    case EPROTO:
        std::cerr << "hint: hcctl/libhc " << hc::version()
                  << " and the driver or card disagree on the interface; 'hcctl version'\n";
        return kVersion;
    case ENODEV:
    case EIO:
    case ECANCELED:
        return kCardError;
    case ETIMEDOUT:
        return kTimeout;
    default:
        return kFailure;
    }
}

} // namespace hcctl

int main(int argc, char** argv) {
    using namespace hcctl;
    std::string command;
    Args args;
    // --version anywhere: the one version of the stack (VERSION), and
    // libhc's too should the loaded library be another one.
    for (int i = 1; i < argc; i++)
        if (std::strcmp(argv[i], "--version") == 0) {
            std::cout << "hcctl " << HC1_VERSION;
            if (std::strcmp(hc::version(), HC1_VERSION) != 0)
                std::cout << " (libhc " << hc::version() << ")";
            std::cout << "\n";
            return kOk;
        }
    try {
        args = parse(argc, argv, command);
    } catch (const UsageError& e) {
        std::cerr << "hcctl: " << e.what() << "\n" << kUsageText;
        return kUsage;
    }
    if (command.empty() || command == "help" || (args.has("help") && command.empty())) {
        std::cout << kUsageText;
        return command.empty() && !args.has("help") ? kUsage : kOk;
    }
    if (args.has("help")) {
        std::cout << kUsageText;
        return kOk;
    }
    static const std::map<std::string, int (*)(const Args&)> commands = {
        {"list", cmd_list},   {"info", cmd_info}, {"run", cmd_run},     {"chat", cmd_chat},
        {"bench", cmd_bench}, {"top", cmd_top},   {"reset", cmd_reset}, {"version", cmd_version},
    };
    auto it = commands.find(command);
    if (it == commands.end()) {
        std::cerr << "hcctl: unknown command '" << command << "'\n" << kUsageText;
        return kUsage;
    }
    try {
        return it->second(args);
    } catch (const UsageError& e) {
        std::cerr << "hcctl " << command << ": " << e.what() << "\n";
        return kUsage;
    } catch (const hc::Error& e) {
        return report(e, args.device);
    } catch (const std::exception& e) {
        std::cerr << "hcctl: " << e.what() << "\n";
        return kFailure;
    }
}
