// SPDX-License-Identifier: MIT
// Every card of the host as one: selectors (index, path, model, SHA-256)
// and placement of sessions on the least-loaded live card of a model.
#include "internal.hpp"

#include <hc/pool.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <set>
#include <sys/stat.h>

namespace hc {

namespace {

// The shortest SHA-256 prefix a selector may give: shorter ones would
// match too much by chance and read like model names or indices.
constexpr size_t kMinShaPrefix = 8;

bool all_digits(std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool is_sha_prefix(std::string_view s) {
    return s.size() >= kMinShaPrefix && s.size() <= 64 &&
           std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The driver's word for a card whose sysfs directory is gone is "gone":
// the binding was removed while this process still holds the node open.
std::string card_state(const Card& card) {
    std::string s = card.attribute("state");
    return s.empty() ? "gone" : s;
}

uint32_t card_sessions(const Card& card) {
    std::string s = card.attribute("sessions");
    return all_digits(s) ? static_cast<uint32_t>(std::stoul(s)) : 0;
}

} // namespace

struct HC_LOCAL Pool::Impl {
    struct Entry {
        Card card;
        dev_t rdev; // which device the open node is, whatever its name now
        std::string sha;
    };

    mutable std::mutex mu; // protects everything below
    std::vector<Entry> cards;
    // Why a node could not be opened at the last scan ("" if all opened):
    // a model that no open card holds may sit on one of those.
    std::optional<Error> open_failure;

    void scan();
    void drop_gone();
    std::vector<Entry*> holding(std::string_view model);
    std::vector<Entry*> live_by_load(std::string_view model);
    [[noreturn]] void no_card(std::string_view model, const char* what) const;
};

namespace {

dev_t rdev_of_fd(int fd) {
    struct stat st {};
    return ::fstat(fd, &st) == 0 ? st.st_rdev : 0;
}

std::string describe(std::string_view model) {
    return model.empty() ? std::string("any model") : "model '" + std::string(model) + "'";
}

} // namespace

// Open every node not yet open.  A node that fails to open (permission,
// a card going away right now) is left out; the first such failure is
// remembered to explain an empty result.
void Pool::Impl::scan() {
    open_failure.reset();
    for (const std::string& path : device_paths()) {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
            continue;
        bool known = std::any_of(cards.begin(), cards.end(),
                                 [&](const Entry& e) { return e.rdev == st.st_rdev; });
        if (known)
            continue;
        try {
            Card c = Card::open(path);
            dev_t rdev = rdev_of_fd(c.fd());
            std::string sha = c.model().sha256_hex();
            cards.push_back(Entry{std::move(c), rdev, std::move(sha)});
        } catch (const Error& e) {
            if (!open_failure)
                open_failure = e;
        }
    }
    std::sort(cards.begin(), cards.end(), [](const Entry& a, const Entry& b) {
        return a.card.info().index < b.card.info().index;
    });
}

void Pool::Impl::drop_gone() {
    std::erase_if(cards, [](const Entry& e) {
        std::string s = card_state(e.card);
        return s == "gone" || s == "dead";
    });
}

// Cards holding @model: by name first, else by SHA-256 (or a prefix of it
// that names one set of weights).  Empty: every card.
std::vector<Pool::Impl::Entry*> Pool::Impl::holding(std::string_view model) {
    std::vector<Entry*> out;
    for (Entry& e : cards)
        if (model.empty() || e.card.model().name == model)
            out.push_back(&e);
    if (!out.empty() || model.empty() || !is_sha_prefix(model))
        return out;
    std::string prefix = lower(model);
    std::set<std::string> shas;
    for (Entry& e : cards) {
        if (e.sha.compare(0, prefix.size(), prefix) == 0) {
            out.push_back(&e);
            shas.insert(e.sha);
        }
    }
    if (shas.size() > 1)
        detail::throw_error(EINVAL, "SHA-256 prefix '" + std::string(model) + "' matches " +
                                        std::to_string(shas.size()) + " different models");
    return out;
}

// Live cards holding @model, least loaded first: fewest sessions for their
// contexts (compared without division), then lowest index.  Full cards
// stay in the list, last: another process may close a session meanwhile.
std::vector<Pool::Impl::Entry*> Pool::Impl::live_by_load(std::string_view model) {
    struct Cand {
        Entry* e;
        uint64_t sessions, contexts;
    };
    std::vector<Cand> cands;
    for (Entry* e : holding(model)) {
        if (card_state(e->card) != "live")
            continue;
        cands.push_back({e, card_sessions(e->card), e->card.info().n_contexts});
    }
    std::stable_sort(cands.begin(), cands.end(), [](const Cand& a, const Cand& b) {
        bool a_full = a.sessions >= a.contexts, b_full = b.sessions >= b.contexts;
        if (a_full != b_full)
            return b_full;
        return a.sessions * b.contexts < b.sessions * a.contexts;
    });
    std::vector<Entry*> out;
    for (const Cand& c : cands)
        out.push_back(c.e);
    return out;
}

void Pool::Impl::no_card(std::string_view model, const char* what) const {
    std::string msg = std::string(what) + ": no live card holds " + describe(model);
    if (open_failure)
        detail::throw_error(open_failure->code(),
                            msg + " (a card could not be opened: " + open_failure->what() + ")");
    detail::throw_error(ENOENT, msg);
}

Pool::Pool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pool::Pool(Pool&&) noexcept = default;
Pool& Pool::operator=(Pool&&) noexcept = default;
Pool::~Pool() = default;

Pool Pool::open() {
    auto impl = std::make_unique<Impl>();
    impl->scan();
    if (impl->cards.empty()) {
        if (impl->open_failure)
            throw *impl->open_failure;
        detail::throw_error(ENOENT, driver_loaded() ? "open the card pool: no HC1 card"
                                                    : "open the card pool: hc1.ko is not loaded");
    }
    return Pool(std::move(impl));
}

std::vector<Pool::CardStatus> Pool::cards() const {
    std::lock_guard lock(impl_->mu);
    std::vector<CardStatus> out;
    for (const Impl::Entry& e : impl_->cards) {
        CardStatus s;
        s.path = e.card.path();
        s.pci_address = e.card.pci_address();
        s.model = e.card.model().name;
        s.sha256 = e.sha;
        s.state = card_state(e.card);
        s.sessions = card_sessions(e.card);
        s.n_contexts = e.card.info().n_contexts;
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<ModelCard> Pool::models() const {
    std::lock_guard lock(impl_->mu);
    std::vector<ModelCard> out;
    std::set<std::string> seen;
    for (const Impl::Entry& e : impl_->cards)
        if (seen.insert(e.sha).second)
            out.push_back(e.card.model());
    return out;
}

Session Pool::session(std::string_view model) {
    std::lock_guard lock(impl_->mu);
    bool busy = false;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            impl_->drop_gone();
            impl_->scan();
        }
        for (Impl::Entry* e : impl_->live_by_load(model)) {
            try {
                return e->card.session();
            } catch (const Error& err) {
                // EBUSY: full (another process was quicker); the others: the
                // card is resetting or went away since its state was read.
                if (err.code() == EBUSY)
                    busy = true;
                else if (err.code() != ENODEV && err.code() != EIO && err.code() != ECANCELED &&
                         err.code() != ENOENT)
                    throw;
            }
        }
    }
    if (busy)
        detail::throw_error(EBUSY, "place a session: every context of the live cards holding " +
                                       describe(model) + " is taken");
    impl_->no_card(model, "place a session");
}

Card Pool::card(std::string_view model) {
    std::lock_guard lock(impl_->mu);
    std::vector<Impl::Entry*> live = impl_->live_by_load(model);
    if (live.empty()) {
        impl_->drop_gone();
        impl_->scan();
        live = impl_->live_by_load(model);
    }
    if (live.empty())
        impl_->no_card(model, "choose a card");
    return Card(live.front()->card.impl_);
}

void Pool::refresh() {
    std::lock_guard lock(impl_->mu);
    impl_->drop_gone();
    impl_->scan();
}

Card open_card(std::string_view selector) {
    if (selector.empty())
        detail::throw_error(EINVAL, "open a card: empty selector");
    if (all_digits(selector))
        return Card::open(selector);
    if (selector.find('/') != std::string_view::npos) {
        // A by-path or by-model link is resolved now: sessions open the
        // card by its path later, and the link may point elsewhere by then.
        std::string path(selector);
        char real[PATH_MAX];
        if (::realpath(path.c_str(), real) == nullptr)
            detail::throw_error(errno, "open " + path);
        return Card::open(std::string_view(real));
    }
    Pool pool = Pool::open();
    return pool.card(selector);
}

} // namespace hc
