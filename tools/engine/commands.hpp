// SPDX-License-Identifier: MIT
#pragma once

namespace hc1e::cli {

// Each returns the process exit status; argv excludes the command name.
int cmd_run(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_export_gguf(int argc, char** argv);

} // namespace hc1e::cli
