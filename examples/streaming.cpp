// SPDX-License-Identifier: MIT
// streaming: print text as the card produces it (range-for over pieces that
// never split a UTF-8 character), with sampling options and a timeout.
//   example-streaming ["prompt"] [temperature]
#include <hc/hc.hpp>

#include <chrono>
#include <cstdlib>
#include <iostream>

int main(int argc, char** argv) try {
    std::string prompt = argc > 1 ? argv[1] : "Once upon a time";
    hc::Card card = hc::Card::open(0);
    hc::Session session = card.session();

    hc::GenerateOptions opts;
    opts.temperature = argc > 2 ? std::strtof(argv[2], nullptr) : 0.0f;
    opts.top_p = 0.9f;
    opts.seed = 42;
    opts.max_tokens = 200;
    opts.timeout = std::chrono::seconds(30);

    std::cout << prompt << std::flush;
    for (const std::string& piece : session.text(prompt, opts))
        std::cout << piece << std::flush;
    const hc::Result& r = session.result();
    std::cout << "\n[" << r.tokens << " tokens, ended by " << hc::to_string(r.finish) << "]\n";
} catch (const hc::Error& e) {
    std::cerr << "streaming: " << e.what() << "\n";
    return 1;
}
