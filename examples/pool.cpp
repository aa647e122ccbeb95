// SPDX-License-Identifier: MIT
// pool: the host's cards as one.  Lists them, then asks each model they
// hold for a continuation of a prompt, on whichever of its cards is least
// loaded; a model can be named on the command line instead.
//   example-pool [MODEL PROMPT]
#include <hc/hc.hpp>

#include <iostream>

int main(int argc, char** argv) try {
    hc::Pool pool = hc::Pool::open();
    for (const hc::Pool::CardStatus& c : pool.cards())
        std::cout << c.path << "  " << c.pci_address << "  " << c.model << "  " << c.state << "  "
                  << c.sessions << "/" << c.n_contexts << " sessions\n";

    hc::GenerateOptions opts;
    opts.max_tokens = 48;
    if (argc > 2) {
        hc::Session s = pool.session(argv[1]);
        std::cout << "\n[" << argv[1] << " on /dev/hc/" << s.info().index << "] " << argv[2]
                  << s.complete(argv[2], opts) << "\n";
        return 0;
    }
    for (const hc::ModelCard& m : pool.models()) {
        hc::Session s = pool.session(m.sha256_hex()); // by weights: names may repeat
        std::cout << "\n[" << m.name << " on /dev/hc/" << s.info().index << "] Once upon a time"
                  << s.complete("Once upon a time", opts) << "\n";
    }
    return 0;
} catch (const hc::Error& e) {
    std::cerr << "pool: " << e.what() << "\n";
    return 1;
}
