// SPDX-License-Identifier: MIT
// Three cards, as make test-guest's third boot gives them: two of one model
// (stories260K, /dev/hc/0 and 1) and one of another (hc1-kjv, /dev/hc/2),
// with fault injection.  Selectors find the card asked for; the pool
// spreads sessions over the two of a model and sends the other model to
// its card; one event loop streams on all three while card 0 is reset
// (into completions with wrong cids: the reset hangs "resetting" for the
// driver's timeout and leaves the card "failed", and meanwhile the pool
// must place on card 1 only), reset again (back to work), hit by a fatal
// error (the watchdog resets it) and then removed: the streams of cards 1 and 2 go on, every
// generation byte-identical to the same generation run alone.  Last, the card is rescanned and the
// pool takes it back.
//
// The removal is a sysfs remove of card 0's PCI function, or, with
// HC1_MULTICARD_QMP set (make test-guest), a surprise removal by the host:
// the test prints "HC1-HOTPLUG: streaming", tools/stress/hotplug-host.py
// makes card 0 (QEMU id hc1) vanish and device_dels it, the test prints
// "HC1-HOTPLUG: gone" once the driver let go, the host device_adds a new
// card in its slot, and the test prints "HC1-HOTPLUG: back".
//
// Not named guest-*: the single-card boot must not run it.
#include "guest.hpp"

#include <hc/event_loop.hpp>
#include <hc/pool.hpp>
#include <hc1/fault_inject.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <thread>
#include <unistd.h>

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

template <typename F> void expect_error(int code, F&& f, const std::string& what) {
    try {
        f();
    } catch (const hc::Error& e) {
        GUEST_CHECK(e.code() == code, what + ": got " + e.what());
        std::cout << "  " << what << ": " << e.what() << "\n";
        return;
    }
    guest::fail(what + ": no error");
}

// The three cards, or skip: this test needs the third boot's machine.
struct Cards {
    std::vector<hc::Card> card;
    std::string a, b; // the two models' names: cards 0 and 1 hold a, card 2 b
};

Cards open_three() {
    std::vector<std::string> paths = hc::device_paths();
    if (paths.size() != 3) {
        guest::skip("needs three cards (hc1-vm --card x3), found " + std::to_string(paths.size()));
    }
    Cards c;
    for (const std::string& p : paths)
        c.card.push_back(hc::Card::open(p));
    const hc::ModelCard &m0 = c.card[0].model(), &m1 = c.card[1].model(), &m2 = c.card[2].model();
    if (!guest::is_stories260k(c.card[0]) || m0.sha256 != m1.sha256 || m2.sha256 == m0.sha256) {
        guest::skip("needs stories260K on /dev/hc/0 and 1 and another model on 2, found " +
                    m0.name + ", " + m1.name + ", " + m2.name);
    }
    c.a = m0.name;
    c.b = m2.name;
    return c;
}

void test_selectors(const Cards& c) {
    std::cout << "selectors\n";
    GUEST_CHECK(hc::open_card("1").info().index == 1, "index");
    GUEST_CHECK(hc::open_card("/dev/hc/2").info().index == 2, "path");
    ::unlink("/tmp/hc-model-link");
    GUEST_CHECK(::symlink("/dev/hc/2", "/tmp/hc-model-link") == 0, "symlink");
    GUEST_CHECK(hc::open_card("/tmp/hc-model-link").path() == "/dev/hc/2",
                "a link is resolved at open, as by-model links would be");
    GUEST_CHECK(hc::open_card(c.b).info().index == 2, "model name");
    std::string sha_b = c.card[2].model().sha256_hex();
    GUEST_CHECK(hc::open_card(sha_b.substr(0, 8)).info().index == 2, "SHA-256 prefix");
    std::string upper = sha_b;
    for (char& ch : upper)
        ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    GUEST_CHECK(hc::open_card(upper).info().index == 2, "SHA-256 in capitals");
    uint32_t ia = hc::open_card(c.a).info().index;
    GUEST_CHECK(ia == 0 || ia == 1, "a model two cards hold: " + std::to_string(ia));
    expect_error(
        ENOENT, [] { hc::open_card("no-such-model"); }, "unknown model");
    expect_error(
        ENOENT, [] { hc::open_card("deadbeef"); }, "unknown SHA-256");
    expect_error(
        ENOENT, [] { hc::open_card("9"); }, "no card 9");
    expect_error(
        ENOENT, [] { hc::open_card("/dev/hc/no-such"); }, "no such path");
    expect_error(
        EINVAL, [] { hc::open_card(""); }, "empty selector");
}

void test_placement(hc::Pool& pool, const Cards& c) {
    std::cout << "placement\n";
    std::vector<hc::Pool::CardStatus> st = pool.cards();
    GUEST_CHECK(st.size() == 3, "pool of " + std::to_string(st.size()));
    for (size_t i = 0; i < 3; i++) {
        GUEST_CHECK(st[i].path == "/dev/hc/" + std::to_string(i), st[i].path);
        GUEST_CHECK(st[i].state == "live", st[i].path + " " + st[i].state);
        GUEST_CHECK(st[i].sessions == 0, st[i].path + " has sessions already");
        GUEST_CHECK(!st[i].pci_address.empty(), "no PCI address");
        std::cout << "  " << st[i].path << " " << st[i].pci_address << " " << st[i].model << " "
                  << st[i].sha256.substr(0, 12) << " " << st[i].n_contexts << " contexts\n";
    }
    GUEST_CHECK(st[0].model == c.a && st[1].model == c.a && st[2].model == c.b, "models");
    GUEST_CHECK(pool.models().size() == 2, "two distinct models");

    // Four sessions of a: two on each of its cards, none on b's.
    std::vector<hc::Session> s;
    std::map<uint32_t, int> on;
    for (int i = 0; i < 4; i++) {
        s.push_back(pool.session(c.a));
        on[s.back().info().index]++;
    }
    GUEST_CHECK(on[0] == 2 && on[1] == 2 && on[2] == 0, "spread " + std::to_string(on[0]) + "/" +
                                                            std::to_string(on[1]) + "/" +
                                                            std::to_string(on[2]));
    GUEST_CHECK(pool.session(c.b).info().index == 2, "model b on its card");
    GUEST_CHECK(pool.session(c.card[2].model().sha256_hex().substr(0, 10)).info().index == 2,
                "model b by SHA-256");
    GUEST_CHECK(pool.card(c.b).info().index == 2, "card() of b");
    st = pool.cards();
    GUEST_CHECK(st[0].sessions == 2 && st[1].sessions == 2, "session counts in cards()");
    expect_error(
        ENOENT, [&] { pool.session("no-such-model"); }, "pool: unknown model");

    // Fill both cards of a: every context taken, then EBUSY.
    uint32_t room = c.card[0].info().n_contexts + c.card[1].info().n_contexts;
    while (true) {
        try {
            s.push_back(pool.session(c.a));
        } catch (const hc::Error& e) {
            GUEST_CHECK(e.code() == EBUSY, e.what());
            std::cout << "  full: " << e.what() << "\n";
            break;
        }
        GUEST_CHECK(s.back().info().index != 2, "model a placed on b's card");
    }
    st = pool.cards();
    GUEST_CHECK(st[0].sessions + st[1].sessions == room,
                std::to_string(st[0].sessions + st[1].sessions) + " sessions of " +
                    std::to_string(room));
    GUEST_CHECK(st[0].sessions == c.card[0].info().n_contexts &&
                    st[1].sessions == c.card[1].info().n_contexts,
                "both cards full");
    GUEST_CHECK(pool.session(c.b).info().index == 2, "b still has room");
}

hc::GenerateOptions stream_opts() {
    hc::GenerateOptions o;
    o.max_tokens = 192;
    o.ignore_eos = true; // the same length every time
    return o;
}

// Card @i's generation alone on the machine: what every stream must equal.
std::vector<uint32_t> solo(const hc::Card& card) {
    hc::Session s = card.session();
    std::vector<uint32_t> out;
    for (uint32_t t : s.tokens(card.tokenizer().encode(guest::kPrompt), stream_opts()))
        out.push_back(t);
    return out;
}

// One session streaming generation after generation on the loop.
struct Stream {
    explicit Stream(hc::Session s) : session(std::move(s)) {}
    hc::Session session;
    std::vector<uint32_t> prompt, reference;
    std::vector<uint32_t> got;
    std::atomic<int> done{0}; // generations ended equal to the reference
    int failed = 0;           // ended with an error (victims only)
    int last_error = 0;
    bool victim = false;
    bool idle = false; // a victim waiting for its card to be live again
    std::string mismatch;
    // Generation intervals, to prove they overlapped the reset and removal.
    std::vector<std::pair<Clock::time_point, Clock::time_point>> spans;
    Clock::time_point started;
};

void submit(hc::EventLoop& loop, Stream& st, const std::atomic<bool>& stop) {
    st.got.clear();
    st.started = Clock::now();
    loop.submit(
        st.session, st.prompt, stream_opts(),
        {[&st](std::span<const uint32_t> t) { st.got.insert(st.got.end(), t.begin(), t.end()); },
         [&st, &loop, &stop](const hc::Result&, const hc::Error* e) {
             st.spans.emplace_back(st.started, Clock::now());
             if (e) {
                 st.failed++;
                 st.last_error = e->code();
                 if (!st.victim && st.mismatch.empty())
                     st.mismatch = std::string("error on a survivor: ") + e->what();
                 // A failed or gone card: retry when it is live (if ever),
                 // not in a tight loop of errors.
                 if (st.victim) {
                     st.idle = true;
                     return;
                 }
             } else if (st.got != st.reference) {
                 if (st.mismatch.empty())
                     st.mismatch = "generation " + std::to_string(st.done.load()) + " differs (" +
                                   std::to_string(st.got.size()) + " tokens)";
             } else {
                 st.done++;
             }
             if (!stop)
                 submit(loop, st, stop);
         }});
}

void wait_for(const std::function<bool()>& cond, std::chrono::seconds limit, const char* what) {
    auto end = Clock::now() + limit;
    while (!cond()) {
        GUEST_CHECK(Clock::now() < end, std::string("timed out waiting for ") + what);
        std::this_thread::sleep_for(10ms);
    }
}

bool overlaps(const Stream& st, Clock::time_point a, Clock::time_point b) {
    for (auto& [s, e] : st.spans)
        if (s <= b && e >= a)
            return true;
    return false;
}

bool surprise() {
    return std::getenv("HC1_MULTICARD_QMP") != nullptr;
}

// A line the host's hotplug-host.py waits for on the console.
void tell_host(const char* what) {
    std::cout << "HC1-HOTPLUG: " << what << std::endl;
}

std::string pci_dir(const hc::Card& card) {
    return "/sys/bus/pci/devices/" + card.pci_address();
}

void test_streams(hc::Pool& pool, Cards& c) {
    std::cout << "streams\n";
    std::string fault = "/sys/kernel/debug/hc1/hc0/fault_inject";
    GUEST_CHECK(::access(fault.c_str(), W_OK) == 0,
                "no " + fault + ": boot with hc1-vm --device-opts ,fault-inject=on");
    std::vector<uint32_t> ref_a = solo(c.card[0]), ref_b = solo(c.card[2]);
    GUEST_CHECK(solo(c.card[1]) == ref_a, "the two cards of a differ alone");
    std::vector<uint32_t> prompt = c.card[0].tokenizer().encode(guest::kPrompt);
    hc::Detokenizer d(c.card[0].tokenizer(), prompt.back());
    std::string text = guest::kPrompt;
    for (uint32_t t : ref_a)
        text += d.push(t);
    GUEST_CHECK(text.rfind(guest::kKnownAnswer, 0) == 0, "known answer: " + text);

    // Victims on card 0, survivors on cards 1 and 2, one loop for all.
    std::vector<std::unique_ptr<Stream>> streams;
    auto add = [&](int card, bool victim, const std::vector<uint32_t>& ref) {
        auto st = std::make_unique<Stream>(c.card[card].session());
        st->prompt = c.card[card].tokenizer().encode(guest::kPrompt);
        st->reference = ref;
        st->victim = victim;
        streams.push_back(std::move(st));
    };
    add(0, true, ref_a);
    add(1, false, ref_a);
    add(1, false, ref_a);
    add(2, false, ref_b);
    add(2, false, ref_b);

    std::atomic<bool> stop{false};
    std::string loop_error;
    std::thread looper([&] {
        try {
            hc::EventLoop loop;
            for (auto& st : streams)
                submit(loop, *st, stop);
            auto victim_idle = [&] {
                return std::any_of(streams.begin(), streams.end(),
                                   [](auto& st) { return st->idle; });
            };
            while (loop.pending() || (!stop && victim_idle())) {
                loop.run_once(50ms);
                for (auto& st : streams) {
                    if (st->idle && !stop && c.card[0].attribute("state") == "live") {
                        st->idle = false;
                        submit(loop, *st, stop);
                    }
                }
            }
        } catch (const hc::Error& e) {
            loop_error = e.what();
        }
    });
    auto all_done_at_least = [&](int n) {
        for (auto& st : streams)
            if (!st->victim && st->done < n)
                return false;
        return true;
    };
    auto survivors_done = [&] {
        std::vector<int> v;
        for (auto& st : streams)
            v.push_back(st->victim ? -1 : st->done.load());
        return v;
    };
    wait_for([&] { return all_done_at_least(2) && streams[0]->done >= 2; }, 60s,
             "every stream to run");

    // Reset card 0 into completions that name the wrong command: its
    // re-created queues time out (after timeout_ms), so it stays resetting
    // long enough to place sessions meanwhile, then it is failed.
    auto place_on_1 = [&](const char* when) {
        for (int i = 0; i < 3; i++) {
            hc::Session s = pool.session(c.a);
            GUEST_CHECK(s.info().index == 1, "placed on card " + std::to_string(s.info().index) +
                                                 " while card 0 is " + when);
        }
    };
    guest::write_file("/sys/module/hc1/parameters/timeout_ms", "2000");
    guest::write_file(fault, std::to_string(HC1_TEST_BAD_CID));
    auto before = survivors_done();
    auto reset_t0 = Clock::now();
    int reset_error = 0;
    std::thread resetter([&] {
        try {
            c.card[0].reset();
        } catch (const hc::Error& e) {
            reset_error = e.code();
        }
    });
    wait_for([&] { return c.card[0].attribute("state") == "resetting"; }, 10s, "card 0 resetting");
    std::vector<hc::Pool::CardStatus> st = pool.cards();
    GUEST_CHECK(st[0].state == "resetting", "cards() says " + st[0].state);
    place_on_1("resetting");
    bool still_resetting = c.card[0].attribute("state") == "resetting";
    resetter.join();
    GUEST_CHECK(still_resetting, "card 0 was back before the placements were checked");
    GUEST_CHECK(reset_error == EIO, "reset into bad cids: errno " + std::to_string(reset_error));
    st = pool.cards();
    GUEST_CHECK(st[0].state == "failed", "cards() says " + st[0].state);
    place_on_1("failed");
    guest::write_file(fault, "0");
    c.card[0].reset();
    auto reset_t1 = Clock::now();
    guest::write_file("/sys/module/hc1/parameters/timeout_ms", "10000");
    GUEST_CHECK(c.card[0].attribute("state") == "live", "card 0 after the second reset");
    std::cout << "  reset took " << std::chrono::duration<double>(reset_t1 - reset_t0).count()
              << " s\n";
    // The victim's own stream carries on after its reset.
    int victim_done = streams[0]->done;
    wait_for([&] { return streams[0]->done > victim_done; }, 30s, "card 0 to stream again");

    // A fatal error of card 0 (CSTS.CFS): its watchdog resets it, alone.
    std::string resets = c.card[0].attribute("stats/resets");
    auto before_fatal = survivors_done();
    auto fatal_t0 = Clock::now();
    guest::write_file(fault, std::to_string(HC1_TEST_FATAL));
    wait_for([&] { return c.card[0].attribute("stats/resets") != resets; }, 10s,
             "the watchdog to reset card 0 after its fatal error");
    wait_for([&] { return c.card[0].attribute("state") == "live"; }, 10s, "card 0 back");
    auto fatal_t1 = Clock::now();
    victim_done = streams[0]->done;
    wait_for([&] { return streams[0]->done > victim_done; }, 30s,
             "card 0 to stream again after its fatal error");
    std::cout << "  fatal error handled in "
              << std::chrono::duration<double>(fatal_t1 - fatal_t0).count() << " s\n";

    // Remove card 0 from the PCI bus under its running stream.
    auto remove_t0 = Clock::now();
    if (surprise()) {
        tell_host("streaming");
        wait_for([&] { return c.card[0].attribute("state").empty(); }, 120s,
                 "card 0 to go (vanished, device_del)");
    } else {
        guest::write_file(pci_dir(c.card[0]) + "/remove", "1");
    }
    auto remove_t1 = Clock::now();
    int after_remove = 0;
    for (auto& s : streams)
        after_remove = std::max(after_remove, s->victim ? 0 : s->done.load());
    wait_for([&] { return all_done_at_least(after_remove + 2); }, 60s,
             "survivors after the removal");
    GUEST_CHECK(c.card[0].attribute("state").empty(), "card 0 still in sysfs");
    st = pool.cards();
    GUEST_CHECK(st[0].state == "gone", "cards() says " + st[0].state);
    for (int i = 0; i < 3; i++)
        GUEST_CHECK(pool.session(c.a).info().index == 1, "placed on a removed card");
    pool.refresh();
    GUEST_CHECK(pool.cards().size() == 2, "refresh kept the removed card");

    stop = true;
    looper.join();
    GUEST_CHECK(loop_error.empty(), "event loop: " + loop_error);
    for (size_t i = 0; i < streams.size(); i++) {
        Stream& s = *streams[i];
        std::cout << "  stream " << i << (s.victim ? " (card 0)" : "") << ": " << s.done
                  << " identical generations, " << s.failed << " failed"
                  << (s.failed ? " (last errno " + std::to_string(s.last_error) + ")" : "") << "\n";
        GUEST_CHECK(s.mismatch.empty(), "stream " + std::to_string(i) + ": " + s.mismatch);
        if (s.victim) {
            GUEST_CHECK(s.idle && (s.last_error == ENODEV || s.last_error == EIO ||
                                   s.last_error == ECANCELED),
                        "card 0's stream did not end in an error");
            continue;
        }
        GUEST_CHECK(s.failed == 0, "a survivor failed");
        GUEST_CHECK(s.done > before[i], "no generation during the reset");
        GUEST_CHECK(s.done > before_fatal[i], "no generation since the fatal error");
        GUEST_CHECK(overlaps(s, fatal_t0, fatal_t1), "stream idle during the fatal error");
        GUEST_CHECK(overlaps(s, reset_t0, reset_t1), "stream idle during the reset");
        GUEST_CHECK(overlaps(s, remove_t0, remove_t1), "stream idle during the removal");
    }
    // Drop everything of the removed card, so a rescan may reuse index 0.
    streams.clear();
    c.card.erase(c.card.begin());
}

void test_readd(hc::Pool& pool, const Cards& c) {
    std::cout << "re-add\n";
    if (surprise())
        tell_host("gone");
    else
        guest::write_file("/sys/bus/pci/rescan", "1");
    wait_for([] { return hc::device_paths().size() == 3; }, 60s, "the card back");
    if (surprise())
        tell_host("back");
    pool.refresh();
    std::vector<hc::Pool::CardStatus> st = pool.cards();
    GUEST_CHECK(st.size() == 3, "pool did not pick up the card");
    for (auto& s : st)
        std::cout << "  " << s.path << " " << s.model << " " << s.state << "\n";
    std::map<uint32_t, int> on;
    std::vector<hc::Session> s;
    for (int i = 0; i < 4; i++) {
        s.push_back(pool.session(c.a));
        on[s.back().info().index]++;
    }
    GUEST_CHECK(on.size() == 2 && on.count(2) == 0 && on.begin()->second == 2 &&
                    on.rbegin()->second == 2,
                "not spread over the re-added card");
    hc::GenerateOptions o = stream_opts();
    std::string text = s.front().complete(guest::kPrompt, o);
    GUEST_CHECK((guest::kPrompt + text).rfind(guest::kKnownAnswer, 0) == 0, text);
}

} // namespace

TEST(selectors) {
    test_selectors(open_three());
}

TEST(placement) {
    Cards c = open_three();
    hc::Pool pool = hc::Pool::open();
    test_placement(pool, c);
}

// The removal at its end is what the re-add undoes: one case.
TEST(streams_survive_reset_fault_and_removal_then_readd) {
    Cards c = open_three();
    hc::Pool pool = hc::Pool::open();
    test_streams(pool, c);
    test_readd(pool, c);
}

TEST_HARNESS_MAIN
