// SPDX-License-Identifier: MIT
// The card is removed (sysfs remove: the driver's remove path runs with
// sessions open and generating) mid-stream: blocking readers and the event
// loop must end with an error or a finished generation, never hang; then
// the card is rescanned so later tests find it again.
// One scenario, one case (hc1_harness.h).
#include "guest.hpp"

#include <hc/event_loop.hpp>

#include <cerrno>
#include <chrono>
#include <thread>
#include <unistd.h>

namespace {

// The PCI function behind /dev/hc/0, from sysfs.
std::string pci_dir_of_card0() {
    for (const char* cls : {"/sys/class/hc1/hc0/device", "/sys/class/hc/hc0/device"}) {
        char buf[512];
        ssize_t n = ::readlink(cls, buf, sizeof(buf) - 1);
        if (n > 0) {
            buf[n] = '\0';
            std::string rel(buf);
            return "/sys/bus/pci/devices/" + rel.substr(rel.rfind('/') + 1);
        }
    }
    return "";
}

bool acceptable(int code) {
    return code == ENODEV || code == ECANCELED || code == EIO;
}

} // namespace

void remove_mid_stream(const std::string& pci);

TEST(removal_mid_stream_then_rescan) {
    std::string pci = pci_dir_of_card0();
    remove_mid_stream(pci);
    // Everything of the old card is closed now, so the rescanned card
    // can take its index again and later tests find /dev/hc/0.
    guest::write_file("/sys/bus/pci/rescan", "1");
    for (int i = 0; i < 100 && hc::device_paths().empty(); i++)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    GUEST_CHECK(!hc::device_paths().empty(), "card did not come back after rescan");
    std::cout << "rescanned: " << hc::device_paths().front() << "\n";
    hc::Card again = hc::Card::open(hc::device_paths().front());
    hc::Session fresh = again.session();
    hc::GenerateOptions few;
    few.max_tokens = 4;
    GUEST_CHECK(fresh.complete("Once upon a time", few).size() > 0, "rescanned card idle");
}

void remove_mid_stream(const std::string& pci) {
    hc::Card card = guest::open_card_or_skip();
    if (pci.empty() || ::access((pci + "/remove").c_str(), W_OK) != 0)
        guest::skip("cannot find the card's PCI function in sysfs");
    std::vector<uint32_t> prompt = card.tokenizer().encode("Once upon a time");
    hc::GenerateOptions endless;
    endless.ignore_eos = true;

    hc::Session blocking = card.session();
    hc::Session looped = card.session();
    endless.max_tokens = blocking.ring_capacity();
    blocking.start(prompt, endless);

    // The loop runs on its own thread, as an application's would, while
    // this thread reads the blocking session.
    int loop_error = 0;
    bool loop_done = false;
    std::thread looper([&] {
        hc::EventLoop loop;
        loop.submit(looped, prompt, endless, {nullptr, [&](const hc::Result&, const hc::Error* e) {
                                                  loop_done = true;
                                                  loop_error = e ? e->code() : 0;
                                              }});
        try {
            loop.run();
        } catch (const hc::Error& e) {
            loop_error = e.code();
        }
    });

    auto t0 = std::chrono::steady_clock::now();
    std::thread remover([&] { guest::write_file(pci + "/remove", "1"); });

    int blocking_error = 0;
    try {
        while (blocking.next()) {
        }
    } catch (const hc::Error& e) {
        blocking_error = e.code();
        std::cout << "blocking reader: " << e.what() << "\n";
    }
    looper.join();
    remover.join();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "removal handled in " << s << " s; blocking error " << blocking_error
              << ", loop error " << loop_error << "\n";
    GUEST_CHECK(blocking_error == 0 || acceptable(blocking_error),
                "blocking reader: errno " + std::to_string(blocking_error));
    GUEST_CHECK(loop_done, "event loop generation never ended");
    GUEST_CHECK(loop_error == 0 || acceptable(loop_error),
                "loop: errno " + std::to_string(loop_error));

    // Calls on a removed card fail cleanly.
    try {
        blocking.start(prompt, endless);
        guest::fail("start on a removed card succeeded");
    } catch (const hc::Error& e) {
        std::cout << "after removal: " << e.what() << "\n";
        GUEST_CHECK(acceptable(e.code()) || e.code() == ENOENT, e.what());
    }
}

TEST_HARNESS_MAIN
