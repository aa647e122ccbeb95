// SPDX-License-Identifier: MIT
// Finding cards, opening them, reading what they are.
#include "internal.hpp"

#include <hc/session.hpp>
#include <hc/version.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstddef>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace hc {

namespace {

// ModelCard as libhc 0.1.0 laid it out.  Programs built against that
// release run on this libhc.so.0 (tests/compat): they construct, copy and
// destroy ModelCards inline and step through Pool::models()'s vector with
// their own sizeof, so the struct's size and its old fields' offsets are
// ABI.  New fields may only fill padding: kv_format took the 4 bytes
// between vocab_bytes and n_params.
struct ModelCard010 {
    uint32_t version, features;
    std::string name, arch;
    uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads;
    uint32_t vocab_size, context_len, bos_id, eos_id;
    uint32_t weight_format, group_size;
    uint32_t n_contexts, max_queues, max_queue_entries;
    uint32_t vocab_bytes;
    uint64_t n_params, weight_bytes;
    std::array<uint8_t, 32> sha256;
    uint32_t msix_vectors, max_stop;
};
static_assert(sizeof(ModelCard) == sizeof(ModelCard010) &&
                  alignof(ModelCard) == alignof(ModelCard010),
              "ModelCard's size is libhc 0.1.0's ABI");
#define HC_SAME_OFFSET(f)                                                                          \
    static_assert(offsetof(ModelCard, f) == offsetof(ModelCard010, f),                             \
                  "ModelCard::" #f " moved from where libhc 0.1.0 had it")
HC_SAME_OFFSET(version);
HC_SAME_OFFSET(features);
HC_SAME_OFFSET(name);
HC_SAME_OFFSET(arch);
HC_SAME_OFFSET(dim);
HC_SAME_OFFSET(hidden_dim);
HC_SAME_OFFSET(n_layers);
HC_SAME_OFFSET(n_heads);
HC_SAME_OFFSET(n_kv_heads);
HC_SAME_OFFSET(vocab_size);
HC_SAME_OFFSET(context_len);
HC_SAME_OFFSET(bos_id);
HC_SAME_OFFSET(eos_id);
HC_SAME_OFFSET(weight_format);
HC_SAME_OFFSET(group_size);
HC_SAME_OFFSET(n_contexts);
HC_SAME_OFFSET(max_queues);
HC_SAME_OFFSET(max_queue_entries);
HC_SAME_OFFSET(vocab_bytes);
HC_SAME_OFFSET(n_params);
HC_SAME_OFFSET(weight_bytes);
HC_SAME_OFFSET(sha256);
HC_SAME_OFFSET(msix_vectors);
HC_SAME_OFFSET(max_stop);
#undef HC_SAME_OFFSET
static_assert(offsetof(ModelCard, kv_format) >= offsetof(ModelCard010, vocab_bytes) + 4 &&
                  offsetof(ModelCard, kv_format) + 4 <= offsetof(ModelCard010, n_params),
              "ModelCard::kv_format fills the padding after vocab_bytes");

constexpr const char* kDevDir = "/dev/hc";

std::string cstr(const char* s, size_t max) {
    return std::string(s, strnlen(s, max));
}

// Read a driver-filled buffer (IDENTIFY, STATS, READ_VOCAB slice).
uint32_t read_buffer(int fd, unsigned long request, void* buf, uint32_t len, uint32_t offset,
                     const std::string& what) {
    hc1_buffer b{};
    b.size = sizeof(b);
    b.len = len;
    b.addr = reinterpret_cast<uintptr_t>(buf);
    b.offset = offset;
    if (int r = detail::do_ioctl(fd, request, &b); r < 0)
        detail::throw_error(-r, what);
    return std::min(b.len, len);
}

ModelCard parse_model_card(const hc1_identity& c) {
    ModelCard m;
    m.version = c.version;
    m.features = c.features;
    m.name = cstr(c.name, sizeof(c.name));
    m.arch = cstr(c.arch, sizeof(c.arch));
    m.dim = c.dim;
    m.hidden_dim = c.hidden_dim;
    m.n_layers = c.n_layers;
    m.n_heads = c.n_heads;
    m.n_kv_heads = c.n_kv_heads;
    m.vocab_size = c.vocab_size;
    m.context_len = c.context_len;
    m.bos_id = c.bos_id;
    m.eos_id = c.eos_id;
    m.weight_format = c.weight_format;
    m.group_size = c.group_size;
    m.n_contexts = c.n_contexts;
    m.max_queues = c.max_queues;
    m.max_queue_entries = c.max_queue_entries;
    m.vocab_bytes = c.vocab_bytes;
    m.n_params = c.n_params;
    m.weight_bytes = c.weight_bytes;
    std::copy(std::begin(c.sha256), std::end(c.sha256), m.sha256.begin());
    m.msix_vectors = c.msix_vectors;
    m.max_stop = c.max_stop;
    // A driver from before the field does not fill it: its cards are f32.
    if (c.size >= offsetof(hc1_identity, kv_format) + sizeof(c.kv_format))
        m.kv_format = c.kv_format;
    return m;
}

} // namespace

std::string ModelCard::weight_format_name() const {
    switch (weight_format) {
    case kWeightsFp32:
        return "fp32";
    case kWeightsInt8:
        return "int8";
    case kWeightsUnknown:
        return "unknown";
    default:
        return "format " + std::to_string(weight_format);
    }
}

std::string ModelCard::kv_format_name() const {
    switch (kv_format) {
    case kKvF32:
        return "f32";
    case kKvF16:
        return "f16";
    case kKvInt8:
        return "int8";
    case kKvUnknown:
        return "unknown";
    default:
        return "format " + std::to_string(kv_format);
    }
}

std::string ModelCard::sha256_hex() const {
    static const char hex[] = "0123456789abcdef";
    std::string s;
    for (uint8_t b : sha256) {
        s += hex[b >> 4];
        s += hex[b & 15];
    }
    return s;
}

std::string device_path(unsigned index) {
    return std::string(kDevDir) + "/" + std::to_string(index);
}

std::vector<std::string> device_paths() {
    std::vector<std::pair<unsigned long, std::string>> found;
    DIR* d = ::opendir(kDevDir);
    if (!d)
        return {};
    while (dirent* e = ::readdir(d)) {
        std::string_view name = e->d_name;
        if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit))
            continue;
        found.emplace_back(std::stoul(std::string(name)), std::string(kDevDir) + "/" + e->d_name);
    }
    ::closedir(d);
    std::sort(found.begin(), found.end());
    std::vector<std::string> paths;
    for (auto& f : found)
        paths.push_back(std::move(f.second));
    return paths;
}

bool driver_loaded() {
    struct stat st;
    return ::stat("/sys/module/hc1", &st) == 0;
}

namespace detail {

Fd open_device(const std::string& path, DriverInfo& info) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (fd.get() < 0)
        throw_error(errno, "open " + path);
    hc1_info in{};
    in.size = sizeof(in);
    if (int r = do_ioctl(fd.get(), HC1_IOCTL_INFO, &in); r < 0) {
        if (r == -ENOTTY || r == -EINVAL)
            throw_error(ENOTTY, path + " is not an HC1 device");
        throw_error(-r, "HC1_IOCTL_INFO on " + path);
    }
    if (in.uapi_version < kMinUapiVersion)
        throw_error(EPROTO, path + ": driver UAPI version " + std::to_string(in.uapi_version) +
                                " is older than libhc's minimum " +
                                std::to_string(kMinUapiVersion));
    info.uapi_version = in.uapi_version;
    info.features = in.features;
    info.hw_version = in.hw_version;
    info.hw_features = in.hw_features;
    info.index = in.index;
    info.n_contexts = in.n_contexts;
    info.context_len = in.context_len;
    info.vocab_size = in.vocab_size;
    info.vocab_bytes = in.vocab_bytes;
    info.bos_id = in.bos_id;
    info.eos_id = in.eos_id;
    info.ring_shift = in.ring_shift;
    info.max_stop = in.max_stop;
    return fd;
}

} // namespace detail

Card::Card(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
Card::Card(Card&&) noexcept = default;
Card& Card::operator=(Card&&) noexcept = default;
Card::~Card() = default;

Card Card::open(unsigned index) {
    return open(device_path(index));
}

Card Card::open(std::string_view path_or_index) {
    std::string path(path_or_index);
    if (!path.empty() && std::all_of(path.begin(), path.end(), ::isdigit))
        path = device_path(static_cast<unsigned>(std::stoul(path)));

    auto impl = std::make_shared<Impl>();
    impl->path = path;
    impl->fd = detail::open_device(path, impl->info);
    int fd = impl->fd.get();

    // What an older driver does not fill in stays zero.
    hc1_identity id{};
    read_buffer(fd, HC1_IOCTL_IDENTIFY, &id, sizeof(id), 0, "identify " + path);
    if (id.size < offsetof(hc1_identity, n_params))
        detail::throw_error(EPROTO, path + ": model card of " + std::to_string(id.size) +
                                        " bytes is too short");
    impl->model = parse_model_card(id);

    // The vocabulary may be larger than the driver copies at once: read on
    // from where the last slice ended until the blob is complete.
    uint32_t total = impl->info.vocab_bytes;
    if (total < sizeof(hc1_vocab_blob) || total > (64u << 20))
        detail::throw_error(EPROTO,
                            path + ": implausible vocabulary size " + std::to_string(total));
    std::vector<std::byte> blob(total);
    uint32_t have = 0;
    while (have < total) {
        uint32_t got = read_buffer(fd, HC1_IOCTL_READ_VOCAB, blob.data() + have, total - have, have,
                                   "read vocabulary of " + path);
        if (got == 0)
            detail::throw_error(EPROTO, path + ": vocabulary ends after " + std::to_string(have) +
                                            " of " + std::to_string(total) + " bytes");
        have += got;
    }
    impl->tokenizer.emplace(Tokenizer::from_blob(blob, impl->info.bos_id, impl->info.eos_id));
    return Card(std::move(impl));
}

const std::string& Card::path() const {
    return impl_->path;
}
const DriverInfo& Card::info() const {
    return impl_->info;
}
const ModelCard& Card::model() const {
    return impl_->model;
}
const Tokenizer& Card::tokenizer() const {
    return *impl_->tokenizer;
}
int Card::fd() const {
    return impl_->fd.get();
}

Stats Card::stats() const {
    hc1_card_stats raw{};
    read_buffer(impl_->fd.get(), HC1_IOCTL_STATS, &raw, sizeof(raw), 0, "stats of " + impl_->path);
    Stats s;
    s.active_contexts = raw.active_contexts;
    s.running = raw.running;
    s.commands = raw.commands;
    s.errors = raw.errors;
    s.generations = raw.generations;
    s.cancelled = raw.cancelled;
    s.prompt_tokens = raw.prompt_tokens;
    s.tokens = raw.tokens;
    s.interrupts = raw.interrupts;
    s.busy_ns = raw.busy_ns;
    s.uptime_ns = raw.uptime_ns;
    s.reg_errors = raw.reg_errors;
    return s;
}

std::string Card::sysfs_dir() const {
    return "/sys/class/hc1/hc" + std::to_string(impl_->info.index);
}

std::string Card::attribute(std::string_view name) const {
    std::ifstream f(sysfs_dir() + "/" + std::string(name));
    std::string value;
    if (!f || !std::getline(f, value))
        return "";
    return value;
}

std::string Card::pci_address() const {
    char target[PATH_MAX];
    ssize_t n = ::readlink((sysfs_dir() + "/device").c_str(), target, sizeof(target) - 1);
    if (n <= 0)
        return "";
    std::string_view t(target, static_cast<size_t>(n));
    return std::string(t.substr(t.rfind('/') + 1));
}

void Card::reset() {
    if (int r = detail::do_ioctl(impl_->fd.get(), HC1_IOCTL_RESET, nullptr); r < 0)
        detail::throw_error(-r, "reset " + impl_->path);
}

} // namespace hc
