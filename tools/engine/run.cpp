// SPDX-License-Identifier: MIT
// hc1-engine run: llama2.c's `run` semantics over the engine's C API.
// --steps counts positions including the prompt's, BOS ends the text (the
// TinyStories models delimit stories with it) and so does EOS.
#include <chrono>
#include <cstdio>
#include <memory>

#include "args.hpp"
#include "cli_common.hpp"
#include "commands.hpp"

namespace hc1e::cli {

namespace {

struct EngineCloser {
    void operator()(hc1_engine* e) const { hc1_engine_close(e); }
};

struct Printer {
    const Tokenizer* tok;
    uint32_t prev;
    uint32_t stop; // reported, like llama2.c's BOS it ends the text unprinted
};

} // namespace

int cmd_run(int argc, char** argv) {
    try {
        Args args(argc, argv,
                  {"model", "tokenizer", "format", "temperature", "top-p", "top-k", "seed", "steps",
                   "threads"},
                  {});
        if (args.positional().size() != 1)
            throw std::invalid_argument("run takes exactly one PROMPT argument");
        const std::string model = args.required("model");
        const std::string tokenizer = args.str("tokenizer");
        const std::string format = args.str("format", "fp32");
        if (format != "fp32" && format != "int8")
            throw std::invalid_argument("--format must be fp32 or int8");

        hc1_engine_config cfg{};
        cfg.model_path = model.c_str();
        cfg.tokenizer_path = tokenizer.empty() ? nullptr : tokenizer.c_str();
        cfg.format = format == "int8" ? HC1_ENGINE_INT8 : HC1_ENGINE_FP32;
        cfg.n_contexts = 1;
        cfg.n_threads = static_cast<uint32_t>(args.u64("threads", 1));
        char err[512];
        std::unique_ptr<hc1_engine, EngineCloser> engine(hc1_engine_open(&cfg, err, sizeof err));
        if (!engine) {
            std::fprintf(stderr, "hc1-engine: %s\n", err);
            return 1;
        }
        hc1_engine_info info;
        hc1_engine_get_info(engine.get(), &info);
        const Tokenizer tok = tokenizer_of(engine.get());
        const std::vector<uint32_t> prompt = tok.encode(args.positional()[0], true, false);

        const uint64_t steps = args.u64("steps", 256);
        const uint64_t positions = std::min<uint64_t>(steps, info.context_len);
        if (positions < prompt.size())
            throw std::invalid_argument("--steps " + std::to_string(steps) +
                                        " leaves no room after the " +
                                        std::to_string(prompt.size()) + "-token prompt");
        hc1_engine_request req{};
        req.prompt = prompt.data();
        req.n_prompt = static_cast<uint32_t>(prompt.size());
        req.max_tokens = static_cast<uint32_t>(positions - prompt.size() + 1);
        req.temperature = static_cast<float>(args.num("temperature", 0.0));
        req.top_p = static_cast<float>(args.num("top-p", 0.0));
        req.top_k = static_cast<uint32_t>(args.u64("top-k", 0));
        req.seed = args.u64("seed", 0);
        req.stop[0] = info.bos_id;
        req.n_stop = 1;

        // The prompt is echoed as llama2.c does: every token after BOS.
        Printer printer{&tok, info.bos_id, info.bos_id};
        for (size_t i = 1; i < prompt.size(); i++) {
            std::string_view piece = tok.decode(printer.prev, prompt[i]);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            printer.prev = prompt[i];
        }
        std::fflush(stdout);

        Collector col;
        col.user = &printer;
        col.on_token = [](Collector& c, uint32_t token) {
            auto* p = static_cast<Printer*>(c.user);
            if (token == p->stop)
                return;
            std::string_view piece = p->tok->decode(p->prev, token);
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
            p->prev = token;
        };
        if (int r = hc1_engine_ctx_create(engine.get(), 0); r < 0)
            throw std::runtime_error("ctx_create failed: " + std::to_string(r));
        const auto t0 = std::chrono::steady_clock::now();
        const hc1_engine_callbacks cb = col.callbacks();
        if (int r = hc1_engine_generate(engine.get(), 0, &req, &cb); r < 0)
            throw std::runtime_error("generate failed: " + std::to_string(r));
        col.wait();
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("\n");
        std::fprintf(stderr, "%u prompt + %u generated tokens, finish %d, %.1f tok/s\n",
                     col.n_prompt, col.n_generated, col.finish,
                     (col.n_prompt + col.n_generated) / secs);
        return 0;
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "hc1-engine run: %s\n", ex.what());
        return 2;
    }
}

} // namespace hc1e::cli
