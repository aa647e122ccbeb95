// SPDX-License-Identifier: MIT
// hello: one line of libhc generates text from a prompt.
//   example-hello ["prompt"]
#include <hc/hc.hpp>

#include <iostream>

int main(int argc, char** argv) try {
    std::string prompt = argc > 1 ? argv[1] : "Once upon a time";
    std::cout << prompt + hc::Card::open(0).session().complete(prompt) << "\n";
} catch (const hc::Error& e) {
    std::cerr << "hello: " << e.what() << "\n";
    return 1;
}
