// SPDX-License-Identifier: MIT
// hc1-engine: the card's engine on the command line.
//   run          generate text from a prompt
//   bench        decode/prefill/batched throughput against a scalar reference
//   export-gguf  write a llama2.c checkpoint as GGUF v3
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "commands.hpp"

namespace {

void usage(FILE* out) {
    std::fputs(
        "usage: hc1-engine run --model M [--tokenizer T] [--format fp32|int8]\n"
        "                      [--temperature F] [--top-p F] [--top-k N] [--seed N]\n"
        "                      [--steps N] [--threads N] PROMPT\n"
        "       hc1-engine bench --model M [--tokenizer T] [--json] [--threads N]\n"
        "                        [--contexts 1,2,4,...] [--positions N] [--kv-cache f32,f16,int8]\n"
        "                        [--decode-group N] [--group-steps N]\n"
        "                        [--cpus LIST]\n"
        "       hc1-engine export-gguf --model M --tokenizer T --out F.gguf\n"
        "                              [--type f32|f16|q8_0|q4_0]\n",
        out);
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const std::string_view cmd = argv[1];
    if (cmd == "-h" || cmd == "--help") {
        usage(stdout);
        return 0;
    }
    if (cmd == "run")
        return hc1e::cli::cmd_run(argc - 2, argv + 2);
    if (cmd == "bench")
        return hc1e::cli::cmd_bench(argc - 2, argv + 2);
    if (cmd == "export-gguf")
        return hc1e::cli::cmd_export_gguf(argc - 2, argv + 2);
    std::fprintf(stderr, "hc1-engine: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
