// SPDX-License-Identifier: MIT
// hc1-engine export-gguf: a llama2.c checkpoint and its tokenizer as GGUF v3.
#include <cstdio>

#include "args.hpp"
#include "commands.hpp"
#include "gguf_writer.hpp"

namespace hc1e::cli {

int cmd_export_gguf(int argc, char** argv) {
    try {
        Args args(argc, argv, {"model", "tokenizer", "out", "type"}, {});
        if (!args.positional().empty())
            throw std::invalid_argument("unexpected argument " + args.positional()[0]);
        const std::string type = args.str("type", "f32");
        GgufType t;
        if (type == "f32")
            t = GgufType::F32;
        else if (type == "f16")
            t = GgufType::F16;
        else if (type == "q8_0")
            t = GgufType::Q8_0;
        else if (type == "q4_0")
            t = GgufType::Q4_0;
        else
            throw std::invalid_argument("--type must be f32, f16, q8_0 or q4_0");
        const SourceModel m = load_llama2c(args.required("model"), args.required("tokenizer"));
        const std::string out = args.required("out");
        write_gguf(m, t, out);
        std::printf("wrote %s (%s, %llu parameters)\n", out.c_str(), type.c_str(),
                    static_cast<unsigned long long>(m.n_params()));
        return 0;
    } catch (const std::exception& ex) {
        std::fprintf(stderr, "hc1-engine export-gguf: %s\n", ex.what());
        return 2;
    }
}

} // namespace hc1e::cli
