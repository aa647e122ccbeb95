// SPDX-License-Identifier: MIT
// async: many sessions on every card, driven by one thread through one
// io_uring event loop; prints each story when it ends and the syscall cost.
//   example-async [sessions-per-card]
#include <hc/hc.hpp>

#include <cstdlib>
#include <iostream>
#include <map>

int main(int argc, char** argv) try {
    unsigned per_card = argc > 1 ? std::atoi(argv[1]) : 8;
    const char* prompts[] = {"Once upon a time", "The little dog", "One day, Tom", "The sun"};

    struct Story {
        hc::Session session;
        std::string text;
        std::optional<hc::Detokenizer> detok;
    };
    std::vector<hc::Card> cards;
    std::vector<std::unique_ptr<Story>> stories;
    for (const std::string& path : hc::device_paths()) {
        cards.push_back(hc::Card::open(path));
        for (unsigned i = 0; i < per_card && i < cards.back().info().n_contexts; i++)
            stories.push_back(std::make_unique<Story>(Story{cards.back().session(), {}, {}}));
    }
    if (stories.empty()) {
        std::cerr << "async: no card\n";
        return 1;
    }

    hc::EventLoop loop;
    for (size_t i = 0; i < stories.size(); i++) {
        Story& s = *stories[i];
        std::string prompt = prompts[i % 4];
        std::vector<uint32_t> tokens = s.session.tokenizer().encode(prompt);
        s.text = prompt;
        s.detok.emplace(s.session.tokenizer(), tokens.back());
        hc::GenerateOptions opts;
        opts.temperature = 0.8f;
        opts.seed = i;
        opts.max_tokens = 100;
        loop.submit(s.session, tokens, opts,
                    {[&s](std::span<const uint32_t> batch) {
                         for (uint32_t t : batch)
                             s.text += s.detok->push(t);
                     },
                     [&s, i](const hc::Result& r, const hc::Error* e) {
                         s.text += s.detok->finish();
                         std::cout << "--- story " << i << " (" << r.tokens << " tokens, "
                                   << hc::to_string(r.finish) << ")\n";
                         if (e)
                             std::cout << "error: " << e->what() << "\n";
                         std::cout << s.text << "\n";
                     }});
    }
    loop.run();
    auto c = loop.counters();
    std::cout << "\n"
              << stories.size() << " sessions on " << cards.size() << " card(s): " << c.tokens
              << " tokens, " << c.enters << " io_uring_enter calls ("
              << double(c.enters) / double(c.tokens ? c.tokens : 1) << " per token)\n";
} catch (const hc::Error& e) {
    std::cerr << "async: " << e.what() << "\n";
    return 1;
}
